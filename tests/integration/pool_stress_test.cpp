// 32 threads hammering one pool with acquires, cached statements and transactions: run under
// ThreadSanitizer (the tsan preset) it proves the absence of races; everywhere it checks for
// deadlocks (the case must finish) and that the counters add up.
#include "pgkit/pool.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::test::make_pool;
using pgkit::test::test_pool_options;

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("pool: 32 threads hammering acquire, release and transactions stay consistent") {
        pgkit::test::scratch_schema schema;
        {
            auto conn = schema.connect();
            REQUIRE(
                conn.execute_script("CREATE TABLE tally (id int PRIMARY KEY, n int NOT NULL);"
                                    "INSERT INTO tally VALUES (1, 0)"));
        }
        auto options = test_pool_options(schema, 8);
        options.acquire_timeout = 30s;
        options.leak_detection_threshold = 10s;  // exercise the maintainer's bookkeeping too
        options.statement_cache_size = 4;
        auto pool = make_pool(options);

        constexpr int threads = 32;
        constexpr int rounds = 40;
        std::atomic<std::uint64_t> leases{0};
        std::atomic<std::uint64_t> increments{0};
        std::atomic<std::uint64_t> failures{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                for (int i = 0; i < rounds; ++i) {
                    switch ((t + i) % 3) {
                        case 0: {
                            auto leased = pool->acquire();
                            if (!leased) {
                                ++failures;
                                break;
                            }
                            ++leases;
                            if (!leased->execute_cached("SELECT $1::int4", i)) {
                                ++failures;
                            }
                            break;
                        }
                        case 1: {
                            auto leased = pool->acquire();
                            if (!leased) {
                                ++failures;
                                break;
                            }
                            ++leases;
                            auto moved = std::move(*leased);  // leases move between scopes
                            if (!moved->execute_script("BEGIN; SELECT 1")) {
                                ++failures;
                            }
                            // returned inside a transaction: the pool rolls back
                            break;
                        }
                        default: {
                            auto done = pool->with_transaction([](pgkit::transaction& tx) {
                                return tx
                                    .execute_cached("UPDATE tally SET n = n + 1 WHERE id = $1", 1)
                                    .map([](auto&&) {});
                            });
                            ++leases;
                            if (done) {
                                ++increments;
                            } else {
                                ++failures;
                            }
                        }
                    }
                    (void)pool->metrics();  // readers race with writers too
                }
            });
        }
        for (auto& worker : workers) {
            worker.join();
        }
        CHECK(failures.load() == 0);
        auto m = pool->metrics();
        CHECK(m.acquired == leases.load());
        CHECK(m.in_use == 0);
        CHECK(m.waiting == 0);
        CHECK(m.size <= 8);
        CHECK(m.size == m.idle);
        CHECK(m.created == m.size + m.closed);
        CHECK(m.acquire_wait_count == m.acquired);
        CHECK(m.acquire_timeouts == 0);
        CHECK(m.leaks_reported == 0);
        auto leased = pool->acquire();
        REQUIRE(leased);
        auto n = (*leased)
                     ->execute("SELECT n FROM tally WHERE id = 1")
                     .and_then(&pgkit::query_result::scalar<std::int32_t>);
        REQUIRE(n);
        CHECK(static_cast<std::uint64_t>(*n) == increments.load());
        leased->release();
        CHECK(pool->close(5s));
    }
}
