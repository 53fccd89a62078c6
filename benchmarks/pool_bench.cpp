// The pool's costs and benefits, against a real server:
// - pool_acquire_release[_latency]: the hand-out and return path alone (no statement), on a pool
//   of 8, uncontended and with 2, 8 and 32 threads competing (32 threads: 24 always waiting);
//   the _latency variant reports per-operation p50/p99 in ns (mean over threads).
// - connect_per_request_point_select vs pooled_point_select: what pooling saves per request.
// - pooled_point_select_8_connections: throughput with 8 threads on 8 connections, as items/s,
//   to compare with `pgbench -S -M prepared -c 8 -j 2` on the same server (scripts/bench). The
//   point select is a key read (statement_cache.hpp), so with the default
//   reset_policy::when_dirty every lease after the first carries the key-read proof; the
//   _full_check variant adds `LIMIT 1`, which is not of the key-read shape, so its leases carry
//   the full session check (docs/pool.md); the _when_sql_dirty variant runs with neither and the
//   _reset_always variant resets every connection on return instead: what the proof and the
//   check cost and save.
// Each reports the counter round_trips: the round trips per acquire + release, per request or per
// point select, counted by connection::round_trips() (the pool's connections, read through
// leases before and after the timed loop; a new connection's own).
#include "pgkit/pool.hpp"

#include "bench_support.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

constexpr std::int64_t table_rows = 10'000;
constexpr const char* point_select = "SELECT id, name, score FROM bench_items WHERE id = $1";
/// The same row, by a text that is not a key read.
constexpr const char* point_select_limit =
    "SELECT id, name, score FROM bench_items WHERE id = $1 LIMIT 1";

std::shared_ptr<pgkit::pool> make_pool(
    std::size_t size,
    const char* name,
    pgkit::reset_policy reset = pgkit::reset_policy::when_dirty) {
    auto options = pgkit::connection_options::parse(pgkit::bench::database_url());
    if (!options) {
        std::fprintf(stderr, "bad URL: %s\n", options.error().to_string().c_str());
        std::exit(2);
    }
    pgkit::pool_options pool_options{.connection = *options,
                                     .name = name,
                                     .max_size = size,
                                     .min_idle = size,
                                     .acquire_timeout = 60s,
                                     .reset = reset};
    auto created = pgkit::pool::create(std::move(pool_options));
    if (!created) {
        std::fprintf(stderr, "pool: %s\n", created.error().to_string().c_str());
        std::exit(2);
    }
    return std::move(*created);
}

/// One pool of 8 shared by every acquire/release run (created on first use).
pgkit::pool& acquire_pool() {
    static const auto pool = make_pool(8, "bench-acquire");
    return *pool;
}

/// One pool of 8 for the point selects, per reset policy.
pgkit::pool& select_pool(pgkit::reset_policy reset = pgkit::reset_policy::when_dirty) {
    static const auto checked = [] {
        pgkit::bench::ensure_items_table(table_rows);
        return make_pool(8, "bench-select");
    }();
    static const auto unchecked = [] {
        pgkit::bench::ensure_items_table(table_rows);
        return make_pool(8, "bench-select-unchecked", pgkit::reset_policy::when_sql_dirty);
    }();
    static const auto always = [] {
        pgkit::bench::ensure_items_table(table_rows);
        return make_pool(8, "bench-select-always", pgkit::reset_policy::always);
    }();
    switch (reset) {
        case pgkit::reset_policy::when_sql_dirty:
            return *unchecked;
        case pgkit::reset_policy::always:
            return *always;
        default:
            return *checked;
    }
}

/// Counts the round trips of a run on the connections of `pool` (a pool of 8) its threads use, in
/// thread 0, before the timed loop (construction) and after it (report()), when no thread holds a
/// lease: Google Benchmark's threads wait for each other at both ends of the loop.
class run_round_trips {
  public:
    run_round_trips(pgkit::pool& pool, benchmark::State& state)
        : state_(state), count_(pool, connections_read(state)) {}
    void report() {
        if (state_.thread_index() == 0) {
            pgkit::bench::report_round_trips(state_, count_.since_start());
        }
    }

  private:
    /// As many as the run's threads use; none in the other threads (a reading of none is free).
    static std::size_t connections_read(const benchmark::State& state) {
        return state.thread_index() == 0
                   ? std::min<std::size_t>(static_cast<std::size_t>(state.threads()), 8)
                   : 0;
    }
    benchmark::State& state_;
    pgkit::bench::pool_round_trips count_;
};

bool run_point_select(pgkit::lease& leased,
                      std::int64_t id,
                      benchmark::State& state,
                      const char* sql = point_select) {
    auto rows = leased.execute_cached(sql, id);
    if (!rows) {
        state.SkipWithError(rows.error().to_string().c_str());
        return false;
    }
    auto fields = (*rows)[0].as<std::int64_t, std::string, std::int32_t>();
    if (!fields) {
        state.SkipWithError(fields.error().to_string().c_str());
        return false;
    }
    benchmark::DoNotOptimize(fields);
    return true;
}

void pool_acquire_release(benchmark::State& state) {
    auto& pool = acquire_pool();
    run_round_trips round_trips{pool, state};
    for (auto _ : state) {
        auto leased = pool.acquire();
        if (!leased) {
            state.SkipWithError(leased.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(leased->get());
    }
    round_trips.report();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(pool_acquire_release)->UseRealTime();
BENCHMARK(pool_acquire_release)->UseRealTime()->Threads(1)->Threads(2)->Threads(8)->Threads(32);

void pool_acquire_release_latency(benchmark::State& state) {
    auto& pool = acquire_pool();
    std::vector<std::int64_t> samples;
    samples.reserve(1 << 16);
    run_round_trips round_trips{pool, state};
    for (auto _ : state) {
        const auto start = std::chrono::steady_clock::now();
        {
            auto leased = pool.acquire();
            if (!leased) {
                state.SkipWithError(leased.error().to_string().c_str());
                return;
            }
            benchmark::DoNotOptimize(leased->get());
        }
        samples.push_back((std::chrono::steady_clock::now() - start).count());
    }
    round_trips.report();
    if (samples.empty()) {
        return;
    }
    std::sort(samples.begin(), samples.end());
    auto at = [&samples](double q) {
        return static_cast<double>(
            samples[static_cast<std::size_t>(q * static_cast<double>(samples.size() - 1))]);
    };
    // Per-thread percentiles, averaged over the threads of a run.
    state.counters["p50_ns"] = benchmark::Counter(at(0.5), benchmark::Counter::kAvgThreads);
    state.counters["p99_ns"] = benchmark::Counter(at(0.99), benchmark::Counter::kAvgThreads);
}
BENCHMARK(pool_acquire_release_latency)->UseRealTime();
BENCHMARK(pool_acquire_release_latency)->UseRealTime()->Threads(2)->Threads(8)->Threads(32);

void connect_per_request_point_select(benchmark::State& state) {
    pgkit::bench::ensure_items_table(table_rows);
    auto options = pgkit::connection_options::parse(pgkit::bench::database_url());
    if (!options) {
        state.SkipWithError(options.error().to_string().c_str());
        return;
    }
    std::int64_t id = 0;
    std::uint64_t round_trips = 0;  // each connection's own, from its opening
    for (auto _ : state) {
        id = id % table_rows + 1;
        auto conn = pgkit::connection::open(*options);
        if (!conn) {
            state.SkipWithError(conn.error().to_string().c_str());
            return;
        }
        auto rows = conn->execute(point_select, id);
        if (!rows) {
            state.SkipWithError(rows.error().to_string().c_str());
            return;
        }
        auto fields = (*rows)[0].as<std::int64_t, std::string, std::int32_t>();
        benchmark::DoNotOptimize(fields);
        round_trips += conn->round_trips();
    }
    pgkit::bench::report_round_trips(state, round_trips);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(connect_per_request_point_select)->UseRealTime();

void pooled_point_select(benchmark::State& state) {
    auto& pool = select_pool();
    std::int64_t id = 0;
    run_round_trips round_trips{pool, state};
    for (auto _ : state) {
        id = id % table_rows + 1;
        auto leased = pool.acquire();
        if (!leased) {
            state.SkipWithError(leased.error().to_string().c_str());
            return;
        }
        if (!run_point_select(*leased, id, state)) {
            return;
        }
    }
    round_trips.report();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(pooled_point_select)->UseRealTime();

void point_selects_on_8_connections(benchmark::State& state,
                                    pgkit::reset_policy reset,
                                    const char* sql = point_select) {
    auto& pool = select_pool(reset);
    std::int64_t id = state.thread_index() * 997;
    run_round_trips round_trips{pool, state};
    for (auto _ : state) {
        id = id % table_rows + 1;
        auto leased = pool.acquire();
        if (!leased) {
            state.SkipWithError(leased.error().to_string().c_str());
            return;
        }
        if (!run_point_select(*leased, id, state, sql)) {
            return;
        }
    }
    round_trips.report();
    state.SetItemsProcessed(state.iterations());  // summed over threads: transactions per second
}

void pooled_point_select_8_connections(benchmark::State& state) {
    point_selects_on_8_connections(state, pgkit::reset_policy::when_dirty);
}
BENCHMARK(pooled_point_select_8_connections)->UseRealTime()->Threads(8);

void pooled_point_select_8_connections_full_check(benchmark::State& state) {
    point_selects_on_8_connections(state, pgkit::reset_policy::when_dirty, point_select_limit);
}
BENCHMARK(pooled_point_select_8_connections_full_check)->UseRealTime()->Threads(8);

void pooled_point_select_8_connections_when_sql_dirty(benchmark::State& state) {
    point_selects_on_8_connections(state, pgkit::reset_policy::when_sql_dirty);
}
BENCHMARK(pooled_point_select_8_connections_when_sql_dirty)->UseRealTime()->Threads(8);

void pooled_point_select_8_connections_reset_always(benchmark::State& state) {
    point_selects_on_8_connections(state, pgkit::reset_policy::always);
}
BENCHMARK(pooled_point_select_8_connections_reset_always)->UseRealTime()->Threads(8);

}  // namespace

BENCHMARK_MAIN();
