#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>

namespace pgkit::bench {
namespace {

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "benchmark set-up failed: %s\n", message.c_str());
    std::exit(2);
}

}  // namespace

void fail(const error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    std::exit(1);
}

int repetitions_flag(int argc, char** argv, int fallback) {
    const std::string flag = "--benchmark_repetitions=";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind(flag, 0) == 0) {
            return std::max(1, std::atoi(arg.c_str() + flag.size()));
        }
    }
    return std::max(1, fallback);
}

void write_json_flag(int argc, char** argv, const std::string& json) {
    const std::string flag = "--benchmark_out=";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.rfind(flag, 0) == 0) {
            std::ofstream{arg.substr(flag.size())} << json;
        } else if (arg.rfind("--", 0) != 0) {
            std::ofstream{arg} << json;
        }
    }
}

std::string json_benchmarks(const std::vector<json_benchmark>& benchmarks) {
    std::vector<std::string> entries;
    const auto entry = [](const std::string& name, const json_benchmark::run& r,
                          const std::string& kind) {
        return fmt::format(
            "    {{\"name\": \"{0}/real_time{1}\", \"run_name\": \"{0}/real_time\", {2}, "
            "\"iterations\": 1, \"real_time\": {3:.3f}, \"time_unit\": \"ms\", {4}}}",
            name, kind.rfind("\"run_type\": \"aggregate\"", 0) == 0 ? "_median" : "", kind,
            r.real_time_ms, r.counters);
    };
    for (const json_benchmark& b : benchmarks) {
        for (std::size_t rep = 0; rep < b.repetitions.size(); ++rep) {
            entries.push_back(
                entry(b.name, b.repetitions[rep],
                      fmt::format("\"run_type\": \"iteration\", \"repetition_index\": {}", rep)));
        }
    }
    for (const json_benchmark& b : benchmarks) {
        entries.push_back(entry(b.name, b.median,
                                fmt::format("\"run_type\": \"aggregate\", \"aggregate_name\": "
                                            "\"median\", \"repetitions\": {}",
                                            b.repetitions.size())));
    }
    std::string listed;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        listed += entries[i] + (i + 1 < entries.size() ? ",\n" : "\n");
    }
    return listed;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const std::size_t n = values.size();
    if (n == 0) {
        return 0;
    }
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

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

writer_load::writer_load(const connection_options& target,
                         std::string update_sql,
                         std::int64_t rows,
                         int count,
                         std::chrono::milliseconds period)
    : latencies_(static_cast<std::size_t>(count)), longest_statement_(latencies_.size(), 0.0) {
    using steady = std::chrono::steady_clock;
    for (int w = 0; w < count; ++w) {
        threads_.emplace_back([this, target, update_sql, rows, period, w] {
            auto conn = connection::open(target);
            if (!conn) {
                die(conn.error().to_string());
            }
            std::mt19937_64 random{static_cast<std::uint64_t>(w) + 7};
            auto& mine = latencies_[static_cast<std::size_t>(w)];
            const auto first = steady::now();
            for (std::int64_t n = 0; !stop_.load(); ++n) {
                const auto scheduled = first + n * period;
                std::this_thread::sleep_until(scheduled);
                const auto id =
                    static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(rows)) + 1;
                const auto sent = steady::now();
                if (auto done = conn->execute(update_sql, id); !done) {
                    die("writer: " + done.error().to_string());
                }
                const auto answered = steady::now();
                mine.push_back(
                    std::chrono::duration<double, std::milli>(answered - scheduled).count());
                double& longest = longest_statement_[static_cast<std::size_t>(w)];
                longest = std::max(
                    longest, std::chrono::duration<double, std::milli>(answered - sent).count());
            }
        });
    }
}

writer_load::~writer_load() {
    (void)stop();
}

writer_load::figures writer_load::stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
    std::vector<double> all;
    for (const auto& mine : latencies_) {
        all.insert(all.end(), mine.begin(), mine.end());
    }
    std::sort(all.begin(), all.end());
    figures out;
    out.updates = all.size();
    if (!all.empty()) {
        out.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
        out.longest_ms = all.back();
    }
    for (double longest : longest_statement_) {
        out.longest_statement_ms = std::max(out.longest_statement_ms, longest);
    }
    return out;
}

void report_round_trips(benchmark::State& state, std::uint64_t round_trips) {
    state.counters["round_trips"] =
        benchmark::Counter(static_cast<double>(round_trips), benchmark::Counter::kAvgIterations);
}

}  // namespace pgkit::bench
