#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace pgkit::bench {
namespace {

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "benchmark set-up failed: %s\n", message.c_str());
    std::exit(2);
}

}  // namespace

const std::string& database_url() {
    static const std::string url = [] {
        const char* value = std::getenv("PGKIT_BENCH_DATABASE_URL");
        if (value == nullptr || *value == 0) {
            die("PGKIT_BENCH_DATABASE_URL is not set (scripts/bench sets it)");
        }
        return std::string{value};
    }();
    return url;
}

std::int64_t dataset_rows() {
    static const std::int64_t rows = [] {
        const char* value = std::getenv("PGKIT_BENCH_ROWS");
        if (value == nullptr || *value == 0) {
            return std::int64_t{1'000'000};
        }
        char* end = nullptr;
        const long long parsed = std::strtoll(value, &end, 10);
        if (*end != 0 || parsed < 200'000) {
            die(fmt::format("PGKIT_BENCH_ROWS must be a number of rows, at least 200000 (is '{}')",
                            value));
        }
        return static_cast<std::int64_t>(parsed);
    }();
    return rows;
}

connection connect() {
    auto conn = connection::open(database_url());
    if (!conn) {
        die(conn.error().to_string());
    }
    return std::move(*conn);
}

void ensure_items_table(std::int64_t rows) {
    static std::once_flag once;
    std::call_once(once, [rows] {
        auto conn = connect();
        auto made = conn.execute_script(fmt::format(
            "DROP TABLE IF EXISTS bench_items;"
            "CREATE TABLE bench_items (id bigint PRIMARY KEY, name text NOT NULL, score int4);"
            "INSERT INTO bench_items SELECT g, 'item ' || g, g % 1000 "
            "FROM generate_series(1, {}) g;"
            "ANALYZE bench_items;",
            rows));
        if (!made) {
            die(made.error().to_string());
        }
    });
}

void report_round_trips(benchmark::State& state, std::uint64_t round_trips) {
    state.counters["round_trips"] =
        benchmark::Counter(static_cast<double>(round_trips), benchmark::Counter::kAvgIterations);
}

}  // namespace pgkit::bench
