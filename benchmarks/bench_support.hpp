#pragma once

// Shared set-up for benchmarks: the server URL, a seeded table, and counting round trips.

#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
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
/// the first cost is counted for the second's too. Header-only: backfill_bench.cpp, which links no
/// bench_support.cpp, uses it too.
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

/// Reports `round_trips`, made in the timed loop, as the counter `round_trips`: an average per
/// iteration (the counter is summed over threads, then divided by every thread's iterations).
void report_round_trips(benchmark::State& state, std::uint64_t round_trips);

}  // namespace pgkit::bench
