#pragma once

// Shared set-up for benchmarks: the server URL, a seeded table, and counting round trips.

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"
#include "pgkit/pool.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace benchmark {
class State;
}

namespace pgkit::bench {

/// PGKIT_BENCH_DATABASE_URL (scripts/bench sets it); aborts with a message when unset.
[[nodiscard]] const std::string& database_url();

/// The size of the large tables (repository, pagination, guidance; backfill reads the same
/// variable): PGKIT_BENCH_ROWS (scripts/bench --rows), default 1 000 000, at least 200 000 (the
/// pagination depths go to 100k rows and beyond); aborts with a message otherwise.
[[nodiscard]] std::int64_t dataset_rows();

/// Prints `e` and exits with status 1 (the programs that write their own JSON: backfill,
/// migrate).
[[noreturn]] void fail(const error& e);

/// The value of `r`, or fail(r.error()).
template <class T>
T check(result<T> r) {
    if (!r) {
        fail(r.error());
    }
    return std::move(*r);
}
inline void check(const result<void>& r) {
    if (!r) {
        fail(r.error());
    }
}

/// For the programs that write their own JSON in Google Benchmark's shape (backfill, migrate):
/// --benchmark_repetitions=N (as scripts/bench passes it), else `fallback`; at least 1.
[[nodiscard]] int repetitions_flag(int argc, char** argv, int fallback);

/// Writes `json` to --benchmark_out=PATH (as scripts/bench passes it) or to a plain PATH
/// argument; other --benchmark_* flags are accepted and ignored.
void write_json_flag(int argc, char** argv, const std::string& json);

/// One benchmark of a program that writes its own JSON: its name, and for each repetition and
/// for the median over them, the wall time in ms and the counters as JSON members
/// (`"writer_p99_ms": 1.500, ...`).
struct json_benchmark {
    struct run {
        double real_time_ms = 0;
        std::string counters{};
    };
    std::string name{};
    std::vector<run> repetitions{};
    run median{};
};

/// The "benchmarks" array's entries in Google Benchmark's shape, one a line: an iteration entry
/// per benchmark and repetition, then a median aggregate per benchmark (what
/// scripts/lib/bench_summary.py reads: `<name>/real_time_median`).
[[nodiscard]] std::string json_benchmarks(const std::vector<json_benchmark>& benchmarks);

/// The median (the mean of the middle two for an even count; 0 for none).
[[nodiscard]] double median(std::vector<double> values);

/// A connection to the benchmark server; aborts when it cannot connect.
[[nodiscard]] connection connect();

/// Creates (once per process) `bench_items(id bigint primary key, name text, score int4)` with
/// `rows` rows, and ANALYZEs it.
void ensure_items_table(std::int64_t rows);

/// Counts the round trips of hand-written libpq and libpqxx code: each call that sends something
/// and waits for the server's answer (PQexec, PQexecParams, PQexecPrepared, PQprepare, a
/// PQputCopyEnd and the PQgetResult calls that end the COPY, libpqxx exec ...) runs through it:
///
///     PGresult* res = trips([&] { return PQexecPrepared(conn, "get", 1, values, 0, 0, 0); });
///
/// pgkit code needs none: connection::round_trips() counts for it.
class round_trip_count {
  public:
    /// Runs `waits_for_server` (one round trip) and counts it; returns what it returns.
    template <class Call>
    decltype(auto) operator()(Call&& waits_for_server) {
        ++total_;
        return std::forward<Call>(waits_for_server)();
    }
    /// Round trips counted so far.
    [[nodiscard]] std::uint64_t total() const noexcept { return total_; }

  private:
    std::uint64_t total_ = 0;
};

/// Counts the round trips a benchmark makes through `pool`, by connection::round_trips() on the
/// connections it uses: construct it before the timed loop and call since_start() after it, each
/// time with no lease held. A reading leases `connections` connections at once and sums their
/// counts: pass the most leases the benchmark holds at the same time. The pool hands out the most
/// recently returned connections first, so those are the ones the benchmark used (a larger count
/// would also lease idle ones, and count the empty query that checks a connection idle for longer
/// than validation_after_idle). A reading's leases run nothing, but under reset_policy::always
/// their return resets the session: the starting reading is taken twice, and what the return of
/// the first cost is counted for the second's too. Header-only.
class pool_round_trips {
  public:
    pool_round_trips(pgkit::pool& pool, std::size_t connections)
        : pool_(pool), connections_(connections) {
        const std::uint64_t first = read();
        const std::uint64_t second = read();
        start_ = second + (second - first);
    }
    /// Round trips since construction (0 if a connection was replaced meanwhile and the sum
    /// went down).
    [[nodiscard]] std::uint64_t since_start() {
        const std::uint64_t now = read();
        return now > start_ ? now - start_ : 0;
    }

  private:
    std::uint64_t read() {
        std::vector<pgkit::lease> leases;
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < connections_; ++i) {
            auto leased = pool_.acquire();
            if (!leased) {
                break;  // the benchmark itself reports why the pool fails
            }
            total += (*leased)->round_trips();
            leases.push_back(std::move(*leased));
        }
        return total;
    }
    pgkit::pool& pool_;
    std::size_t connections_;
    std::uint64_t start_ = 0;
};

/// Application writers for the suites that change a table under load (backfill, migrate): `count`
/// threads, each on a connection of its own, each running `update_sql` with $1 a random id in
/// [1, rows] on a fixed schedule (one statement every `period`). Open loop: a latency runs from
/// the statement's scheduled time, so a writer stuck behind a lock counts every statement it
/// could not start (no coordinated omission). Starts in the constructor; stop() ends the writers
/// and returns their figures. A failed statement aborts the benchmark with its error.
class writer_load {
  public:
    struct figures {
        double p99_ms = 0;      ///< of the latencies from the scheduled times
        double longest_ms = 0;  ///< the longest latency from a scheduled time
        /// The longest a statement itself took, from sending it to its answer: how long a writer
        /// was blocked, without the wait for its turn behind its own backlog.
        double longest_statement_ms = 0;
        std::size_t updates = 0;
    };

    writer_load(const connection_options& target,
                std::string update_sql,
                std::int64_t rows,
                int count = 4,
                std::chrono::milliseconds period = std::chrono::milliseconds{5});
    writer_load(const writer_load&) = delete;
    writer_load& operator=(const writer_load&) = delete;
    ~writer_load();

    /// Stops the writers (each finishes its statement) and returns the figures of everything
    /// they ran since the constructor.
    figures stop();

  private:
    std::atomic<bool> stop_{false};
    std::vector<std::vector<double>> latencies_;
    std::vector<double> longest_statement_;
    std::vector<std::thread> threads_;
};

/// Reports `round_trips`, made in the timed loop, as the counter `round_trips`: an average per
/// iteration (the counter is summed over threads, then divided by every thread's iterations).
void report_round_trips(benchmark::State& state, std::uint64_t round_trips);

}  // namespace pgkit::bench
