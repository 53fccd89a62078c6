// The pool over time: leak detection, idle retirement, min_idle, lifetimes, max_uses, closing
// and draining, leases outliving their pool, and metrics.
#include "pgkit/pool.hpp"
#include "pgkit/pool_metrics.hpp"
#include "pgkit/round_trips.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <source_location>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::test::eventually;
using pgkit::test::make_pool;
using pgkit::test::test_pool_options;

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("pool: leak detection reports a lease held too long and where it was acquired") {
        pgkit::test::scratch_schema schema;
        pgkit::test::event_recorder events;
        auto options = test_pool_options(schema, 2);
        options.leak_detection_threshold = 100ms;
        options.on_event = events.hook();
        auto pool = make_pool(options);
        const auto line = std::source_location::current().line() + 1;
        auto leased = pool->acquire();
        REQUIRE(leased);
        {
            auto quick = pool->acquire();  // returned well within the threshold
            REQUIRE(quick);
        }
        REQUIRE(
            eventually([&] { return !events.of(pgkit::pool_event_type::leak_suspected).empty(); }));
        const auto leaks = events.of(pgkit::pool_event_type::leak_suspected);
        REQUIRE(leaks.size() == 1);
        REQUIRE(leaks[0].location);
        CHECK(std::string{leaks[0].location->file_name()}.ends_with("pool_lifecycle_test.cpp"));
        CHECK(leaks[0].location->line() == line);
        CHECK(leaks[0].duration >= 100ms);
        INFO(leaks[0].line);
        CHECK(leaks[0].line.find("pool_lifecycle_test.cpp:" + std::to_string(line)) !=
              std::string::npos);
        CHECK(pool->metrics().leaks_reported == 1);
        leased->release();
        CHECK(events.of(pgkit::pool_event_type::leaked_lease_returned).size() == 1);
    }

    TEST_CASE("pool: idle connections beyond min_idle retire after idle_timeout") {
        pgkit::test::scratch_schema schema;
        auto observer = pgkit::test::connect_to_server();
        auto options = test_pool_options(schema, 3);
        options.min_idle = 1;
        options.idle_timeout = 200ms;
        auto pool = make_pool(options);
        {
            auto a = pool->acquire();
            auto b = pool->acquire();
            auto c = pool->acquire();
            REQUIRE(a);
            REQUIRE(b);
            REQUIRE(c);
        }
        CHECK(pool->metrics().idle == 3);
        REQUIRE(eventually([&] { return pool->metrics().size == 1; }));
        auto m = pool->metrics();
        CHECK(m.closed_for(pgkit::close_reason::idle_timeout) == 2);
        CHECK(m.idle == 1);
        REQUIRE(
            eventually([&] { return pgkit::test::sessions_named(observer, options.name) == 1; }));
    }

    TEST_CASE("pool: the maintainer keeps min_idle connections ready and refills them") {
        pgkit::test::scratch_schema schema;
        auto observer = pgkit::test::connect_to_server();
        auto options = test_pool_options(schema, 4);
        options.min_idle = 2;
        auto pool = make_pool(options);
        REQUIRE(eventually([&] { return pool->metrics().idle == 2; }));
        CHECK(pool->metrics().acquired == 0);
        auto a = pool->acquire();
        auto b = pool->acquire();
        REQUIRE(a);
        REQUIRE(b);
        REQUIRE(eventually([&] { return pool->metrics().idle == 2; }));
        CHECK(pool->metrics().size == 4);
        CHECK(pgkit::test::sessions_named(observer, options.name) == 4);
    }

    TEST_CASE("pool: connections retire at max_lifetime, idle or returned, and after max_uses") {
        pgkit::test::scratch_schema schema;
        SUBCASE("lifetime") {
            auto options = test_pool_options(schema, 2);
            options.max_lifetime = 300ms;
            options.max_lifetime_jitter = 0.1;
            auto pool = make_pool(options);
            int idle_pid = 0;
            {
                auto leased = pool->acquire();
                REQUIRE(leased);
                idle_pid = (*leased)->backend_pid();
            }
            // Idle: the maintainer retires it.
            REQUIRE(eventually([&] {
                return pool->metrics().closed_for(pgkit::close_reason::max_lifetime) == 1;
            }));
            CHECK(pool->metrics().size == 0);
            // In use past its lifetime: retired when returned.
            {
                auto leased = pool->acquire();
                REQUIRE(leased);
                CHECK((*leased)->backend_pid() != idle_pid);
                REQUIRE(eventually([&] {
                    return std::chrono::steady_clock::now() - leased->acquired_at() > 400ms;
                }));
            }
            CHECK(pool->metrics().closed_for(pgkit::close_reason::max_lifetime) == 2);
        }
        SUBCASE("uses") {
            auto options = test_pool_options(schema, 1);
            options.max_uses = 2;
            auto pool = make_pool(options);
            int pids[3] = {};
            for (int& pid : pids) {
                auto leased = pool->acquire();
                REQUIRE(leased);
                pid = (*leased)->backend_pid();
            }
            CHECK(pids[0] == pids[1]);
            CHECK(pids[2] != pids[1]);
            CHECK(pool->metrics().closed_for(pgkit::close_reason::max_uses) == 1);
        }
    }

    TEST_CASE("pool: close drains: acquires fail with pool_closed, leases in use finish") {
        pgkit::test::scratch_schema schema;
        auto observer = pgkit::test::connect_to_server();
        pgkit::test::event_recorder events;
        auto options = test_pool_options(schema, 2);
        options.on_event = events.hook();
        auto pool = make_pool(options);
        auto busy = pool->acquire();
        auto idle = pool->acquire();
        REQUIRE(busy);
        REQUIRE(idle);
        idle->release();
        // Hold the other slot so a third caller waits.
        auto second = pool->acquire();
        REQUIRE(second);
        auto waiting = std::async(std::launch::async, [&] { return pool->acquire(); });
        REQUIRE(eventually([&] { return pool->metrics().waiting == 1; }));
        second->release();  // goes to the waiter
        auto served = waiting.get();
        REQUIRE(served);
        auto queued = std::async(std::launch::async, [&] { return pool->acquire(); });
        REQUIRE(eventually([&] { return pool->metrics().waiting == 1; }));

        auto closing = std::async(std::launch::async, [&] { return pool->close(5s); });
        auto rejected = queued.get();
        REQUIRE_FALSE(rejected);
        CHECK(rejected.error().code() == errc::pool_closed);
        REQUIRE(eventually([&] { return pool->is_closed(); }));
        auto late = pool->acquire();
        REQUIRE_FALSE(late);
        CHECK(late.error().code() == errc::pool_closed);
        // Leases in use still work until they are returned.
        CHECK((*busy)->execute("SELECT 1"));
        CHECK(closing.wait_for(0ms) == std::future_status::timeout);
        busy->release();
        served->release();
        CHECK(closing.get());
        CHECK(pool->metrics().size == 0);
        CHECK(events.of(pgkit::pool_event_type::pool_closed).size() == 1);
        REQUIRE(
            eventually([&] { return pgkit::test::sessions_named(observer, options.name) == 0; }));
        // A deadline that passes with a lease still out reports false.
        auto other = make_pool(test_pool_options(schema, 1));
        auto kept = other->acquire();
        REQUIRE(kept);
        CHECK_FALSE(other->close(50ms));
    }

    TEST_CASE("pool: a lease may outlive its pool") {
        pgkit::test::scratch_schema schema;
        auto observer = pgkit::test::connect_to_server();
        auto options = test_pool_options(schema, 2);
        auto pool = make_pool(options);
        auto leased = pool->acquire();
        REQUIRE(leased);
        pool.reset();  // closes the pool and stops its threads
        CHECK((*leased)->execute("SELECT 1"));
        leased->release();  // closed, not pooled
        REQUIRE(
            eventually([&] { return pgkit::test::sessions_named(observer, options.name) == 0; }));
    }

    TEST_CASE("pool: metrics count what happened and render for Prometheus") {
        pgkit::test::scratch_schema schema;
        auto options = test_pool_options(schema, 2);
        options.acquire_timeout = 100ms;
        auto pool = make_pool(options);
        {
            auto a = pool->acquire();
            auto b = pool->acquire();
            REQUIRE(a);
            REQUIRE(b);
            CHECK_FALSE(pool->acquire());
            auto m = pool->metrics();
            CHECK(m.size == 2);
            CHECK(m.in_use == 2);
            CHECK(m.idle == 0);
            CHECK(m.acquire_timeouts == 1);
        }
        auto m = pool->metrics();
        CHECK(m.pool_name == options.name);
        CHECK(m.max_size == 2);
        CHECK(m.acquired == 2);
        CHECK(m.created == 2);
        CHECK(m.idle == 2);
        CHECK(m.acquire_wait_count == 2);
        CHECK(m.acquire_wait_max >= m.acquire_wait_p99);
        CHECK(m.acquire_wait_p99 >= m.acquire_wait_p50);
        const std::string text = pgkit::to_prometheus(m);
        CHECK(text.find("pgkit_pool_connections{pool=\"" + options.name + "\",state=\"idle\"} 2") !=
              std::string::npos);
        CHECK(text.find("pgkit_pool_acquire_timeouts_total{pool=\"" + options.name + "\"} 1") !=
              std::string::npos);
    }

    TEST_CASE("pool: a connection handed straight to a waiter counts as just used, not idle") {
        pgkit::test::scratch_schema schema;
        auto options = test_pool_options(schema, 1);
        options.validation_after_idle = 200ms;
        auto pool = make_pool(options);
        auto held = pool->acquire();
        REQUIRE(held);
        // Older than validation_after_idle, but in use all along.
        std::this_thread::sleep_for(300ms);
        auto waiter = std::async(std::launch::async, [&] {
            pgkit::round_trip_budget budget{0};
            auto leased = pool->acquire();
            return std::pair{leased.has_value(), budget.used()};
        });
        REQUIRE(eventually([&] { return pool->metrics().waiting == 1; }));
        held->release();
        const auto [leased, round_trips] = waiter.get();
        CHECK(leased);
        CHECK(round_trips == 0);  // no validation query on a connection that was never idle
    }
}
