// Backfill benchmark: one UPDATE of every row vs a hand-written batched loop vs pgkit's
// run_backfill, on the same table, each with a concurrent single-row update workload. Measures wall
// time, the longest single transaction (lock hold) and the writers' p99 latency.
//
//   PGKIT_BENCH_DATABASE_URL=postgresql://... PGKIT_BENCH_BACKFILL_ROWS=1000000
//   pgkit_bench_backfill [--benchmark_out=]output.json      (rows default to 1000000)
#include "pgkit/backfill.hpp"
#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

[[noreturn]] void die(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    std::exit(1);
}

template <class T>
T check(pgkit::result<T> r) {
    if (!r) {
        die(r.error());
    }
    return std::move(*r);
}

struct measurement {
    double seconds = 0;
    double longest_tx_ms = 0;
    double writer_p99_ms = 0;
    std::size_t writer_updates = 0;
};

/// Runs `method` while a writer thread updates random single rows; returns its figures.
measurement measure(const pgkit::connection_options& target,
                    std::int64_t rows,
                    const std::function<double()>& method) {
    {
        auto conn = check(pgkit::connection::open(target));
        check(conn.execute_script("UPDATE bench_backfill SET counter = 0"));
        check(conn.execute_script("VACUUM ANALYZE bench_backfill"));
        (void)conn.execute_script("DROP TABLE IF EXISTS pgkit_backfill_runs");
    }
    // Four application writers, each updating random single rows on a connection of its own.
    constexpr int writers = 4;
    std::atomic<bool> stop{false};
    std::vector<std::vector<double>> per_writer(writers);
    std::vector<std::thread> threads;
    for (int w = 0; w < writers; ++w) {
        threads.emplace_back([&, w] {
            auto conn = check(pgkit::connection::open(target));
            std::mt19937_64 random{static_cast<std::uint64_t>(w) + 7};
            // Open loop: one update every 5 ms on a fixed schedule, latency measured from the
            // scheduled time, so a writer stuck behind a lock counts every update it could not
            // start (no coordinated omission).
            const auto first = steady::now();
            for (std::int64_t n = 0; !stop.load(); ++n) {
                const auto scheduled = first + n * 5ms;
                std::this_thread::sleep_until(scheduled);
                const auto id =
                    static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(rows)) + 1;
                check(conn.execute("UPDATE bench_backfill SET payload = payload + 1 WHERE id = $1",
                                   id));
                per_writer[static_cast<std::size_t>(w)].push_back(
                    duration<double, std::milli>(steady::now() - scheduled).count());
            }
        });
    }
    std::this_thread::sleep_for(200ms);  // the writer's baseline before the backfill starts
    measurement m;
    const auto started = steady::now();
    m.longest_tx_ms = method();
    m.seconds = duration<double>(steady::now() - started).count();
    stop = true;
    std::vector<double> latencies;
    for (int w = 0; w < writers; ++w) {
        threads[static_cast<std::size_t>(w)].join();
        const auto& mine = per_writer[static_cast<std::size_t>(w)];
        latencies.insert(latencies.end(), mine.begin(), mine.end());
    }
    std::sort(latencies.begin(), latencies.end());
    m.writer_updates = latencies.size();
    if (!latencies.empty()) {
        m.writer_p99_ms = latencies[std::min(latencies.size() - 1, latencies.size() * 99 / 100)];
    }
    auto conn = check(pgkit::connection::open(target));
    const auto wrong = check(conn.execute("SELECT count(*) FROM bench_backfill WHERE counter <> 1")
                                 .and_then(&pgkit::query_result::scalar<std::int64_t>));
    if (wrong != 0) {
        std::fprintf(stderr, "error: %lld rows not processed exactly once\n",
                     static_cast<long long>(wrong));
        std::exit(1);
    }
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    const char* url = std::getenv("PGKIT_BENCH_DATABASE_URL");
    if (url == nullptr) {
        std::fprintf(stderr, "set PGKIT_BENCH_DATABASE_URL\n");
        return 2;
    }
    const char* rows_env = std::getenv("PGKIT_BENCH_BACKFILL_ROWS");
    const std::int64_t rows = rows_env != nullptr ? std::atoll(rows_env) : 1'000'000;
    const auto target = check(pgkit::connection_options::parse(url));
    {
        auto conn = check(pgkit::connection::open(target));
        check(conn.execute_script(fmt::format(
            "DROP TABLE IF EXISTS bench_backfill;"
            "CREATE TABLE bench_backfill (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0, "
            "payload int NOT NULL DEFAULT 0);"
            "INSERT INTO bench_backfill (id) SELECT g FROM generate_series(1, {}) g",
            rows)));
    }
    constexpr milliseconds target_duration{100};
    constexpr std::int64_t hand_batch = 5'000;

    const measurement single = measure(target, rows, [&] {
        auto conn = check(pgkit::connection::open(target));
        const auto started = steady::now();
        check(conn.execute_script("UPDATE bench_backfill SET counter = counter + 1"));
        return duration<double, std::milli>(steady::now() - started).count();
    });

    const auto hand_batched = [&] {
        // The usual hand-written loop: fixed-size id ranges, one autocommit UPDATE each, the
        // cursor kept in a local variable (no resume, no lock on the name, no adaptation).
        auto conn = check(pgkit::connection::open(target));
        double longest = 0;
        std::int64_t last = 0;
        while (true) {
            const auto started = steady::now();
            auto upper = check(
                conn.execute("SELECT id FROM bench_backfill WHERE id > $1 ORDER BY id OFFSET $2 "
                             "LIMIT 1",
                             last, hand_batch - 1)
                    .and_then([](const pgkit::query_result& r) {
                        return r.empty() ? pgkit::result<std::optional<std::int64_t>>{}
                                         : r[0].get<std::optional<std::int64_t>>(0);
                    }));
            const std::int64_t up_to = upper.value_or(std::numeric_limits<std::int64_t>::max());
            auto done = check(conn.execute(
                "UPDATE bench_backfill SET counter = counter + 1 WHERE id > $1 AND id <= $2", last,
                up_to));
            longest =
                std::max(longest, duration<double, std::milli>(steady::now() - started).count());
            if (!upper) {
                break;
            }
            last = *upper;
            (void)done;
        }
        return longest;
    };

    pgkit::pool_options pool_options;
    pool_options.connection = target;
    pool_options.max_size = 2;
    auto pool = check(pgkit::pool::create(pool_options));
    pgkit::backfill_report report;
    const auto pgkit_backfill = [&] {
        pgkit::backfill_options options;
        options.min_batch_size = 500;
        options.max_batch_size = 100'000;
        options.initial_batch_size = 1'000;
        options.target_batch_duration = target_duration;
        report = check(pgkit::run_backfill(*pool,
                                           {.name = "bench",
                                            .table = "bench_backfill",
                                            .key = {"id"},
                                            .set = "counter = counter + 1"},
                                           options));
        return static_cast<double>(report.longest_batch.count());
    };
    // Alternating rounds, so table growth and checkpoints do not favour one side; the best wall
    // time, the longest transaction and the worst p99 of the rounds are kept.
    measurement hand;
    measurement backfill;
    const auto merge = [](measurement& into, const measurement& m, bool first) {
        into.seconds = first ? m.seconds : std::min(into.seconds, m.seconds);
        into.longest_tx_ms = std::max(into.longest_tx_ms, m.longest_tx_ms);
        into.writer_p99_ms = std::max(into.writer_p99_ms, m.writer_p99_ms);
        into.writer_updates += m.writer_updates;
    };
    for (int round = 0; round < 2; ++round) {
        merge(hand, measure(target, rows, hand_batched), round == 0);
        merge(backfill, measure(target, rows, pgkit_backfill), round == 0);
    }

    const auto line = [](const char* name, const measurement& m) {
        std::printf("%-14s %8.2f s  longest tx %9.1f ms  writer p99 %9.2f ms (%zu updates)\n", name,
                    m.seconds, m.longest_tx_ms, m.writer_p99_ms, m.writer_updates);
    };
    std::printf("rows: %lld, target batch %lld ms, hand batch %lld rows, pgkit batches %llu\n",
                static_cast<long long>(rows), static_cast<long long>(target_duration.count()),
                static_cast<long long>(hand_batch),
                static_cast<unsigned long long>(report.batches));
    line("one UPDATE", single);
    line("hand batched", hand);
    line("pgkit backfill", backfill);

    // Google Benchmark's JSON shape (one iteration entry per method, figures as counters), so
    // scripts/bench and scripts/lib/bench_summary.py can read it like the other suites.
    const auto entry = [](const char* name, const measurement& m) {
        return fmt::format(
            "    {{\"name\": \"{}\", \"run_type\": \"iteration\", \"iterations\": 1, "
            "\"real_time\": {:.3f}, \"time_unit\": \"ms\", \"longest_tx_ms\": {:.3f}, "
            "\"writer_p99_ms\": {:.3f}, \"writer_updates\": {}}}",
            name, m.seconds * 1000, m.longest_tx_ms, m.writer_p99_ms, m.writer_updates);
    };
    const std::string json = fmt::format(
        "{{\n  \"context\": {{\"rows\": {}, \"target_batch_ms\": {}, \"hand_batch_rows\": {}, "
        "\"backfill_batches\": {}}},\n"
        "  \"benchmarks\": [\n{},\n{},\n{}\n  ],\n"
        "  \"summary\": {{\"backfill.over_hand_batched\": {:.4f}, "
        "\"backfill.max_batch_over_target\": {:.4f}, "
        "\"backfill.writer_p99_single_update_over_backfill\": {:.4f}}}\n}}\n",
        rows, target_duration.count(), hand_batch, report.batches,
        entry("backfill_one_update", single), entry("backfill_hand_batched", hand),
        entry("backfill_pgkit", backfill), backfill.seconds / hand.seconds,
        backfill.longest_tx_ms / static_cast<double>(target_duration.count()),
        single.writer_p99_ms / std::max(backfill.writer_p99_ms, 1e-3));
    std::fputs(json.c_str(), stdout);
    // Output: --benchmark_out=PATH (as scripts/bench passes it) or a plain PATH; other
    // --benchmark_* flags are accepted and ignored.
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const std::string flag = "--benchmark_out=";
        if (arg.rfind(flag, 0) == 0) {
            std::ofstream{arg.substr(flag.size())} << json;
        } else if (arg.rfind("--", 0) != 0) {
            std::ofstream{arg} << json;
        }
    }
    return 0;
}
