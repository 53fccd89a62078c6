// Backfill benchmark: one UPDATE of every row vs a hand-written batched loop vs pgkit's
// run_backfill, on the same table, each with a concurrent single-row update workload. Measures wall
// time, the longest single transaction (lock hold) and the writers' p99 latency, each method
// repeated (3 times by default) on a freshly reset table; the summary uses the medians.
//
//   PGKIT_BENCH_DATABASE_URL=postgresql://... PGKIT_BENCH_BACKFILL_ROWS=1000000
//   pgkit_bench_backfill [--benchmark_repetitions=N] [--benchmark_out=]output.json
//   (rows default to 1000000; PGKIT_BENCH_BACKFILL_TRACE=1 prints every pgkit batch to stderr)
// Each method's entries also carry round_trips: the round trips of one run, counted by
// connection::round_trips() on the connections it used (the writers' are not counted).
#include "pgkit/backfill.hpp"
#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"

#include "bench_support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using pgkit::bench::check;
using pgkit::bench::median;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

struct measurement {
    double seconds = 0;
    double longest_tx_ms = 0;
    double writer_p99_ms = 0;
    std::size_t writer_updates = 0;
    double round_trips = 0;
};

/// What one run of a method reports: its longest transaction and its round trips.
struct method_outcome {
    double longest_tx_ms = 0;
    std::uint64_t round_trips = 0;
};

/// Runs `method` while a writer thread updates random single rows; returns its figures.
measurement measure(const pgkit::connection_options& target,
                    std::int64_t rows,
                    const std::function<method_outcome()>& method) {
    {
        auto conn = check(pgkit::connection::open(target));
        check(conn.execute_script("UPDATE bench_backfill SET counter = 0"));
        check(conn.execute_script("VACUUM ANALYZE bench_backfill"));
        (void)conn.execute_script("DROP TABLE IF EXISTS pgkit_backfill_runs");
    }
    // Four application writers, each updating random single rows on a connection of its own.
    pgkit::bench::writer_load writers{
        target, "UPDATE bench_backfill SET payload = payload + 1 WHERE id = $1", rows};
    std::this_thread::sleep_for(200ms);  // the writers' baseline before the backfill starts
    measurement m;
    const auto started = steady::now();
    const method_outcome outcome = method();
    m.longest_tx_ms = outcome.longest_tx_ms;
    m.round_trips = static_cast<double>(outcome.round_trips);
    m.seconds = duration<double>(steady::now() - started).count();
    const auto load = writers.stop();
    m.writer_updates = load.updates;
    m.writer_p99_ms = load.p99_ms;
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
    // Else scripts/bench --rows (PGKIT_BENCH_ROWS), else 1M.
    const char* dataset_env = std::getenv("PGKIT_BENCH_ROWS");
    const std::int64_t rows = rows_env != nullptr      ? std::atoll(rows_env)
                              : dataset_env != nullptr ? std::atoll(dataset_env)
                                                       : 1'000'000;
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

    const auto single_update = [&] {
        auto conn = check(pgkit::connection::open(target));
        const auto started = steady::now();
        check(conn.execute_script("UPDATE bench_backfill SET counter = counter + 1"));
        return method_outcome{duration<double, std::milli>(steady::now() - started).count(),
                              conn.round_trips()};
    };

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
        return method_outcome{longest, conn.round_trips()};
    };

    // Repetitions: --benchmark_repetitions=N (as scripts/bench passes it), 3 by default.
    const int repetitions = pgkit::bench::repetitions_flag(argc, argv, 3);
    // PGKIT_BENCH_BACKFILL_TRACE=1 prints every pgkit batch (size, duration) to stderr.
    const char* trace_env = std::getenv("PGKIT_BENCH_BACKFILL_TRACE");
    const bool trace = trace_env != nullptr && std::string{trace_env} == "1";

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
        std::uint64_t done = 0;
        if (trace) {
            // The batch's rows (every row is in the work: no predicate), its time, the next size.
            options.on_progress = [&](const pgkit::backfill_progress& p) {
                std::fprintf(stderr, "  batch %4llu  %6llu rows  %7lld ms  blocked %u  next %6zu\n",
                             static_cast<unsigned long long>(p.batches),
                             static_cast<unsigned long long>(p.rows_done - done),
                             static_cast<long long>(p.last_batch_duration.count()),
                             p.blocked_sessions, p.batch_size);
                done = p.rows_done;
            };
        }
        // run_backfill holds two leases at once: one keeps the run's lock, one runs the batches.
        pgkit::bench::pool_round_trips round_trips{*pool, 2};
        report = check(pgkit::run_backfill(*pool,
                                           {.name = "bench",
                                            .table = "bench_backfill",
                                            .key = {"id"},
                                            .set = "counter = counter + 1"},
                                           options));
        if (trace) {
            std::fprintf(stderr,
                         "  pgkit: %llu batches (%llu contended), %llu retries, %llu guard "
                         "timeouts, longest %lld ms\n",
                         static_cast<unsigned long long>(report.batches_this_run),
                         static_cast<unsigned long long>(report.contended_batches),
                         static_cast<unsigned long long>(report.retries),
                         static_cast<unsigned long long>(report.guard_timeouts),
                         static_cast<long long>(report.longest_batch.count()));
        }
        return method_outcome{static_cast<double>(report.longest_batch.count()),
                              round_trips.since_start()};
    };
    // Each method runs `repetitions` times on a freshly reset table (measure() resets it). The
    // order alternates (one UPDATE, hand, pgkit; then pgkit, hand, one UPDATE; ...), so that table
    // growth, checkpoints and autovacuum favour no method, and the two batched loops, whose wall
    // times are compared, always run back to back (the machine's load drifts). The summary uses
    // the medians of the repetitions.
    struct method {
        const char* name;
        const char* label;
        std::function<method_outcome()> run;
        std::vector<measurement> runs{};
    };
    std::vector<method> methods;
    methods.push_back({"backfill_one_update", "one UPDATE", single_update});
    methods.push_back({"backfill_hand_batched", "hand batched", hand_batched});
    methods.push_back({"backfill_pgkit", "pgkit backfill", pgkit_backfill});
    std::vector<std::uint64_t> pgkit_batches;
    std::vector<double> pgkit_contended;
    for (int rep = 0; rep < repetitions; ++rep) {
        for (std::size_t k = 0; k < methods.size(); ++k) {
            method& m = methods[rep % 2 == 0 ? k : methods.size() - 1 - k];
            if (trace) {
                std::fprintf(stderr, "repetition %d: %s\n", rep + 1, m.label);
            }
            m.runs.push_back(measure(target, rows, m.run));
            if (&m == &methods.back()) {
                pgkit_batches.push_back(report.batches_this_run);
                pgkit_contended.push_back(static_cast<double>(report.contended_batches));
            }
        }
    }
    const auto field = [](const method& m, double measurement::*f) {
        std::vector<double> out;
        for (const measurement& x : m.runs) {
            out.push_back(x.*f);
        }
        return out;
    };
    // The median of every figure, each taken on its own (as Google Benchmark's aggregates are).
    const auto median_of = [&](const method& m) {
        measurement out;
        out.seconds = median(field(m, &measurement::seconds));
        out.longest_tx_ms = median(field(m, &measurement::longest_tx_ms));
        out.writer_p99_ms = median(field(m, &measurement::writer_p99_ms));
        out.round_trips = median(field(m, &measurement::round_trips));
        std::vector<double> updates;
        for (const measurement& x : m.runs) {
            updates.push_back(static_cast<double>(x.writer_updates));
        }
        out.writer_updates = static_cast<std::size_t>(median(updates));
        return out;
    };
    const auto worst_tx = [](const method& m) {
        double worst = 0;
        for (const measurement& x : m.runs) {
            worst = std::max(worst, x.longest_tx_ms);
        }
        return worst;
    };

    std::vector<double> batches_d(pgkit_batches.begin(), pgkit_batches.end());
    std::printf(
        "rows: %lld, target batch %lld ms, hand batch %lld rows, %d repetitions, pgkit batches "
        "(median) %.0f\n",
        static_cast<long long>(rows), static_cast<long long>(target_duration.count()),
        static_cast<long long>(hand_batch), repetitions, median(batches_d));
    for (const method& m : methods) {
        for (std::size_t rep = 0; rep < m.runs.size(); ++rep) {
            const measurement& x = m.runs[rep];
            std::printf(
                "%-14s #%zu %8.2f s  longest tx %9.1f ms  writer p99 %9.2f ms (%zu updates)  "
                "%.0f round trips\n",
                m.label, rep + 1, x.seconds, x.longest_tx_ms, x.writer_p99_ms, x.writer_updates,
                x.round_trips);
        }
        const measurement med = median_of(m);
        std::printf(
            "%-14s med %7.2f s  longest tx %9.1f ms  writer p99 %9.2f ms (%zu updates)  %.0f round "
            "trips\n",
            m.label, med.seconds, med.longest_tx_ms, med.writer_p99_ms, med.writer_updates,
            med.round_trips);
    }

    // Google Benchmark's JSON shape, figures as counters.
    const auto counters = [](const measurement& m) {
        return pgkit::bench::json_benchmark::run{
            m.seconds * 1000,
            fmt::format("\"longest_tx_ms\": {:.3f}, \"writer_p99_ms\": {:.3f}, "
                        "\"writer_updates\": {}, \"round_trips\": {:.1f}",
                        m.longest_tx_ms, m.writer_p99_ms, m.writer_updates, m.round_trips)};
    };
    std::vector<pgkit::bench::json_benchmark> listed_methods;
    for (const method& m : methods) {
        pgkit::bench::json_benchmark b{m.name, {}, counters(median_of(m))};
        for (const measurement& x : m.runs) {
            b.repetitions.push_back(counters(x));
        }
        listed_methods.push_back(std::move(b));
    }
    const std::string listed = pgkit::bench::json_benchmarks(listed_methods);
    const measurement single = median_of(methods[0]);
    const measurement hand = median_of(methods[1]);
    const measurement backfill = median_of(methods[2]);
    const std::string json = fmt::format(
        "{{\n  \"context\": {{\"rows\": {}, \"target_batch_ms\": {}, \"hand_batch_rows\": {}, "
        "\"backfill_batches\": {:.0f}, \"backfill_contended_batches\": {:.0f}, "
        "\"contended_batch_ms\": {}, \"repetitions\": {}}},\n"
        "  \"benchmarks\": [\n{}  ],\n"
        "  \"summary\": {{\"backfill.over_hand_batched\": {:.4f}, "
        "\"backfill.max_batch_over_target\": {:.4f}, "
        "\"backfill.max_batch_over_target_worst\": {:.4f}, "
        "\"backfill.writer_p99_single_update_over_backfill\": {:.4f}, "
        "\"backfill.writer_p99_over_hand_batched\": {:.4f}}}\n}}\n",
        rows, target_duration.count(), hand_batch, median(batches_d), median(pgkit_contended),
        pgkit::backfill_options{}.contended_batch_duration.count(), repetitions, listed,
        backfill.seconds / hand.seconds,
        backfill.longest_tx_ms / static_cast<double>(target_duration.count()),
        worst_tx(methods[2]) / static_cast<double>(target_duration.count()),
        single.writer_p99_ms / std::max(backfill.writer_p99_ms, 1e-3),
        backfill.writer_p99_ms / std::max(hand.writer_p99_ms, 1e-3));
    std::fputs(json.c_str(), stdout);
    pgkit::bench::write_json_flag(argc, argv, json);
    return 0;
}
