// The backfill runner behind PgBouncer in transaction mode (scripts/pgbouncer): with the pool
// flagged pooler_mode::transaction, run_backfill takes the lease mode by itself, and runners
// racing on one run through the pooler still leave exactly one running.
// PGKIT_TEST_PGBOUNCER_URL_FILE names PgBouncer's URL, PGKIT_TEST_URL_FILE the server behind it
// (see topology_smoke_test.cpp).
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "integration/topology_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

using pgkit::test::bouncer_url;
using pgkit::test::run;
using pgkit::test::scratch_role;

std::int64_t count(pgkit::connection& conn, std::string_view sql) {
    auto n = conn.execute(sql).and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(n, sql, ": ", n ? std::string{} : n.error().to_string());
    return *n;
}

}  // namespace

TEST_SUITE("topology") {
    TEST_CASE("topology: PgBouncer: backfill runners racing through it leave exactly one running") {
        const scratch_role role{pgkit::test::unique_name("backfill")};
        auto options = pgkit::connection_options::parse(bouncer_url());
        REQUIRE(options);
        options->user = role.name();
        options->application_name = "pgkit-topology-backfill";
        options->pooler = pgkit::pooler_mode::transaction;
        auto setup = pgkit::connection::open(*options);
        REQUIRE_MESSAGE(setup, (setup ? std::string{} : setup.error().to_string()));
        constexpr std::int64_t rows = 3000;
        run(*setup, fmt::format("CREATE TABLE items (id bigint PRIMARY KEY, counter int NOT NULL "
                                "DEFAULT 0); INSERT INTO items (id) SELECT g FROM "
                                "generate_series(1, {}) g; ANALYZE items",
                                rows));

        constexpr int runners = 3;
        std::vector<std::shared_ptr<pgkit::pool>> pools;
        for (int i = 0; i < runners; ++i) {
            pgkit::pool_options pool_options;
            pool_options.connection = *options;
            pool_options.max_size = 2;
            auto pool = pgkit::pool::create(pool_options);
            REQUIRE_MESSAGE(pool, (pool ? std::string{} : pool.error().to_string()));
            pools.push_back(std::move(*pool));
        }
        const pgkit::backfill_spec spec{.name = "through_pgbouncer",
                                        .table = "items",
                                        .key = {"id"},
                                        .set = "counter = counter + 1"};
        pgkit::backfill_options run_options;  // runner_lock automatic: the lease mode here
        run_options.min_batch_size = 100;
        run_options.max_batch_size = 100;
        run_options.initial_batch_size = 100;
        run_options.pause_between_batches = 10ms;  // 30 batches: the run outlasts the start
        std::int64_t leases_seen = -1;
        run_options.on_progress = [&](const pgkit::backfill_progress& p) {
            if (p.batches == 1) {
                auto observer = pgkit::connection::open(*options);
                REQUIRE(observer);
                leases_seen = count(*observer,
                                    "SELECT count(*) FROM pgkit_backfill_leases WHERE name = "
                                    "'through_pgbouncer' AND expires_at > clock_timestamp()");
            }
        };

        std::latch start{runners};
        std::vector<pgkit::result<pgkit::backfill_report>> reports(
            runners, pgkit::make_error(pgkit::errc::internal, "not run"));
        std::vector<std::thread> threads;
        for (int i = 0; i < runners; ++i) {
            threads.emplace_back([&, i] {
                start.arrive_and_wait();
                const auto at = static_cast<std::size_t>(i);
                reports[at] = pgkit::run_backfill(*pools[at], spec, run_options);
            });
        }
        for (auto& t : threads) {
            t.join();
        }
        int ran = 0;
        for (const auto& report : reports) {
            if (report) {
                CHECK(report->status == pgkit::backfill_status::done);
                CHECK(report->rows_this_run == static_cast<std::uint64_t>(rows));
                ++ran;
            } else {
                CHECK(report.error().code() == pgkit::errc::already_running);
                CHECK(report.error().message().find("holds its lease until") != std::string::npos);
            }
        }
        CHECK(ran == 1);
        CHECK(leases_seen == 1);
        CHECK(count(*setup, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        CHECK(count(*setup, "SELECT count(*) FROM pgkit_backfill_leases") == 0);

        // inspect and reset work through the pooler too.
        auto state = pgkit::inspect_backfill(*pools[0], spec);
        REQUIRE_MESSAGE(state, (state ? std::string{} : state.error().to_string()));
        CHECK(state->status == pgkit::backfill_status::done);
        CHECK(state->rows_done == static_cast<std::uint64_t>(rows));
        CHECK_FALSE(state->lease_live);
        auto forgot = pgkit::reset_backfill(*pools[0], spec);
        REQUIRE_MESSAGE(forgot, (forgot ? std::string{} : forgot.error().to_string()));
        CHECK(*forgot);
    }
}
