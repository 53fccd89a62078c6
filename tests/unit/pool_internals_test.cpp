// The pool's pure parts: the acquire-wait histogram, event text and the Prometheus exposition.
// No server needed.
#include "pgkit/pool_events.hpp"
#include "pgkit/pool_metrics.hpp"

#include "pool/wait_histogram.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_SUITE("pool") {
    TEST_CASE("pool: histogram buckets cover every value within 1/16") {
        using h = pgkit::detail::wait_histogram;
        for (std::uint64_t v : {0ULL, 1ULL, 15ULL, 16ULL, 17ULL, 31ULL, 32ULL, 1000ULL, 123456ULL,
                                (1ULL << 40) + 12345ULL, ~0ULL}) {
            const auto bucket = h::bucket_of(v);
            REQUIRE(bucket < h::bucket_count);
            CHECK(h::upper_bound(bucket) >= v);
            if (bucket > 0) {
                CHECK(h::upper_bound(bucket - 1) < v);
            }
            CHECK(static_cast<double>(h::upper_bound(bucket) - v) <=
                  static_cast<double>(v) / 16.0 + 1.0);
        }
    }

    TEST_CASE("pool: histogram percentiles and max from recorded waits") {
        auto histogram = std::make_unique<pgkit::detail::wait_histogram>();
        CHECK(histogram->percentile(0.5) == 0);
        for (std::uint64_t v = 1; v <= 1000; ++v) {
            histogram->record(v);
        }
        CHECK(histogram->count() == 1000);
        CHECK(histogram->sum() == 500500);
        CHECK(histogram->max() == 1000);
        const auto p50 = histogram->percentile(0.5);
        CHECK(p50 >= 500);
        CHECK(p50 <= 500 + 500 / 16 + 1);
        const auto p99 = histogram->percentile(0.99);
        CHECK(p99 >= 990);
        CHECK(p99 <= 1000);
        CHECK(histogram->percentile(1.0) == 1000);
    }

    TEST_CASE("pool: histogram records from many threads without losing counts") {
        auto histogram = std::make_unique<pgkit::detail::wait_histogram>();
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t) {
            threads.emplace_back([&histogram, t] {
                for (int i = 0; i < 10'000; ++i) {
                    histogram->record(static_cast<std::uint64_t>(i + t));
                }
            });
        }
        for (auto& thread : threads) {
            thread.join();
        }
        CHECK(histogram->count() == 40'000);
        CHECK(histogram->max() == 10'002);
    }

    TEST_CASE("pool: events read as one log line naming where a leaked lease was acquired") {
        const auto here = std::source_location::current();
        pgkit::pool_event event;
        event.type = pgkit::pool_event_type::leak_suspected;
        event.pool_name = "app";
        event.target = "postgresql://u:***@db/app";
        event.backend_pid = 4242;
        event.duration = 5012ms;
        event.location = here;
        const std::string line = pgkit::to_string(event);
        INFO(line);
        CHECK(line.starts_with("pool 'app' leak_suspected pid=4242: lease held 5012 ms"));
        CHECK(line.find("pool_internals_test.cpp:" + std::to_string(here.line())) !=
              std::string::npos);
        CHECK(line.ends_with("[postgresql://u:***@db/app]"));
        CHECK(pgkit::to_string(pgkit::close_reason::idle_timeout) == "idle_timeout");
        for (std::size_t i = 0; i < pgkit::close_reason_count; ++i) {
            CHECK(pgkit::to_string(static_cast<pgkit::close_reason>(i)) != "unknown");
        }
    }

    TEST_CASE("pool: metrics render in the Prometheus text format") {
        pgkit::pool_metrics m;
        m.pool_name = "a\"b";
        m.max_size = 8;
        m.idle = 3;
        m.in_use = 2;
        m.size = 5;
        m.acquired = 17;
        m.closed_by_reason[static_cast<std::size_t>(pgkit::close_reason::broken)] = 4;
        m.acquire_wait_count = 17;
        m.acquire_wait_p99 = 1500us;
        const std::string text = pgkit::to_prometheus(m, "myapp_db");
        INFO(text);
        CHECK(text.find("# TYPE myapp_db_connections gauge\n") != std::string::npos);
        CHECK(text.find("myapp_db_connections{pool=\"a\\\"b\",state=\"idle\"} 3\n") !=
              std::string::npos);
        CHECK(text.find("myapp_db_max_size{pool=\"a\\\"b\"} 8\n") != std::string::npos);
        CHECK(text.find("# TYPE myapp_db_acquired_total counter\n") != std::string::npos);
        CHECK(
            text.find("myapp_db_connections_closed_total{pool=\"a\\\"b\",reason=\"broken\"} 4\n") !=
            std::string::npos);
        CHECK(text.find(
                  "myapp_db_acquire_wait_seconds{pool=\"a\\\"b\",quantile=\"0.99\"} 0.0015\n") !=
              std::string::npos);
        CHECK(text.find("myapp_db_acquire_wait_seconds_count{pool=\"a\\\"b\"} 17\n") !=
              std::string::npos);
        CHECK(pgkit::to_prometheus(m).find("pgkit_pool_waiting{") != std::string::npos);
    }
}
