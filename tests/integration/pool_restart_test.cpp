// A server restart in the middle of a multi-threaded load. Runs against a cluster of its own
// (scripts/pg-server in a temporary directory), never the shared test server, which other cases
// use in parallel.
#include "pgkit/pool.hpp"

#include "integration/pool_test_support.hpp"
#include "support/own_server.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::test::eventually;
using pgkit::test::own_server;

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("pool: recovers by itself from a server restart under load, within max_size") {
        own_server server;
        auto connect_options = pgkit::connection_options::parse(server.url());
        REQUIRE(connect_options);
        const std::string name = pgkit::test::unique_app_name();
        pgkit::pool_options options;
        options.connection = *connect_options;
        options.connection.application_name = name;
        options.name = name;
        options.max_size = 4;
        options.acquire_timeout = 2s;
        options.connect_timeout = 1s;
        auto pool = pgkit::test::make_pool(options);

        std::atomic<bool> stop{false};
        std::atomic<std::uint64_t> successes{0};
        std::mutex errors_mutex;
        std::map<errc, int> errors;
        std::vector<std::thread> workers;
        for (int t = 0; t < 8; ++t) {
            workers.emplace_back([&, t] {
                for (int i = 0; !stop.load(); ++i) {
                    pgkit::result<void> outcome;
                    if ((t + i) % 2 == 0) {
                        outcome = pool->acquire().and_then([](pgkit::lease leased) {
                            return leased->execute("SELECT 1").map([](auto&&) {});
                        });
                    } else {
                        outcome = pool->with_transaction(
                            [](pgkit::transaction& tx) {
                                return tx.execute_cached("SELECT $1::int4", 1).map([](auto&&) {});
                            },
                            {.retry = {.max_attempts = 1}});
                    }
                    if (outcome) {
                        ++successes;
                    } else {
                        std::lock_guard guard{errors_mutex};
                        ++errors[outcome.error().code()];
                        // Pace retries while the server is away (load shaping, not syncing).
                        std::this_thread::sleep_for(2ms);
                    }
                }
            });
        }
        std::atomic<std::int64_t> most_seen{0};
        std::atomic<std::uint64_t> samples{0};
        std::thread observer{[&] {
            std::optional<pgkit::connection> conn;
            while (!stop.load()) {
                if (!conn) {
                    auto opened = pgkit::connection::open(server.url());
                    if (!opened) {
                        std::this_thread::sleep_for(5ms);
                        continue;
                    }
                    conn = std::move(*opened);
                }
                auto count =
                    conn->execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                            name)
                        .and_then(&pgkit::query_result::scalar<std::int64_t>);
                if (!count) {
                    conn.reset();
                    continue;
                }
                ++samples;
                std::int64_t seen = most_seen.load();
                while (*count > seen && !most_seen.compare_exchange_weak(seen, *count)) {
                }
            }
        }};

        const bool warmed_up = eventually([&] { return successes.load() >= 200; }, 15s);
        const std::uint64_t before = successes.load();
        bool restarted = false;
        if (warmed_up) {
            server.restart();
            restarted = true;
        }
        const std::uint64_t at_restart = successes.load();
        const bool recovered =
            restarted && eventually([&] { return successes.load() >= at_restart + 200; }, 20s);
        stop = true;
        for (auto& worker : workers) {
            worker.join();
        }
        observer.join();

        REQUIRE(warmed_up);
        CHECK(before >= 200);
        CHECK(recovered);
        CHECK(samples.load() > 0);
        CHECK(most_seen.load() <= 4);
        std::string error_summary;
        for (const auto& [code, count] : errors) {
            error_summary += fmt::format("{}={} ", pgkit::to_string(code), count);
            // commit_unknown: a transaction's COMMIT was in flight when the server went down.
            CHECK((code == errc::connection_lost || code == errc::connection_failed ||
                   code == errc::pool_timeout || code == errc::commit_unknown));
        }
        MESSAGE("errors during the restart: " << error_summary);
        auto m = pool->metrics();
        CHECK(m.closed > 0);  // the pool noticed the dead sessions and let them go
        CHECK(m.size <= 4);
        auto leased = pool->acquire();
        REQUIRE(leased);
        CHECK((*leased)->execute("SELECT 1"));
    }
}
