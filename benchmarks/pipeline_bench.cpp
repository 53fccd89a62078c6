// Pipelines (pipeline.hpp): what sending statements together saves, side by side in one run.
//
// - sequential_100_point_selects / pipelined_100_point_selects: 100 independent point selects on
//   pgbench_accounts (one lease, through its statement cache), one at a time against one
//   pipeline. Summary key pipeline.sequential_over_pipelined.
// - pgkit_pipeline_100_selects_extended / pgbench_pipeline_100_selects_extended: time per batch
//   of 100 point selects in one pipeline, unprepared (the extended protocol, as pgbench -M
//   extended sends them), one client each: pgkit's pipeline against pgbench running the same
//   statements between \startpipeline and \endpipeline, run by this program so that the
//   interleaving mixes them. Summary key pipeline.pgkit_over_pgbench_pipeline.
// - transaction_3_statements / transaction_3_statements_begin_alone: pool::with_transaction of
//   three updates, with BEGIN travelling with the first statement (as pgkit does) and sent alone
//   first (as it did before). Summary key transaction.round_trips_saved, from the counted round
//   trips.
//
// Needs pgbench's tables (scripts/bench runs pgbench -i first). PGKIT_BENCH_PGBENCH names the
// pgbench program (default: from PATH); PGKIT_BENCH_PGBENCH_SECONDS how long each pgbench run
// lasts (default 5).

#include "pgkit/pipeline.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/round_trips.hpp"

#include "bench_support.hpp"
#include "pgbench_output.hpp"
#include "support/run_command.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace {

constexpr int batch = 100;
constexpr const char* point_select = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

std::optional<std::string> environment(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::optional<std::string>{value} : std::nullopt;
}

/// pgbench's accounts: 100 000 per branch.
std::int64_t accounts() {
    static const std::int64_t count = [] {
        auto conn = pgkit::bench::connect();
        auto branches = conn.execute("SELECT count(*) FROM pgbench_branches")
                            .and_then(&pgkit::query_result::scalar<std::int64_t>);
        if (!branches || *branches == 0) {
            std::fprintf(stderr, "pipeline bench: pgbench's tables are missing (pgbench -i)\n");
            std::exit(2);
        }
        return *branches * 100'000;
    }();
    return count;
}

std::shared_ptr<pgkit::pool> shared_pool() {
    static const auto pool = [] {
        pgkit::pool_options options;
        options.connection = *pgkit::connection_options::parse(pgkit::bench::database_url());
        options.max_size = 1;
        return *pgkit::pool::create(std::move(options));
    }();
    return pool;
}

void sequential_100_point_selects(benchmark::State& state) {
    auto lease = shared_pool()->acquire();
    std::mt19937_64 random{42};
    std::uniform_int_distribution<std::int32_t> aid{1, static_cast<std::int32_t>(accounts())};
    const auto before = (*lease)->round_trips();
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i) {
            auto row = lease->execute_cached(point_select, aid(random));
            if (!row) {
                state.SkipWithError(row.error().to_string().c_str());
                return;
            }
            benchmark::DoNotOptimize(row->size());
        }
    }
    pgkit::bench::report_round_trips(state, (*lease)->round_trips() - before);
}
BENCHMARK(sequential_100_point_selects)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// One pipeline of 100 point selects; `cached`: through the statement cache (prepared once),
/// else unnamed statements in the extended protocol.
void run_pipelined(benchmark::State& state, bool cached) {
    auto lease = shared_pool()->acquire();
    std::mt19937_64 random{42};
    std::uniform_int_distribution<std::int32_t> aid{1, static_cast<std::int32_t>(accounts())};
    const auto before = (*lease)->round_trips();
    for (auto _ : state) {
        auto p = lease->start_pipeline();
        for (int i = 0; i < batch; ++i) {
            auto added = cached ? p->add_cached(point_select, aid(random))
                                : p->add(point_select, aid(random));
            if (!added) {
                state.SkipWithError(added.error().to_string().c_str());
                return;
            }
        }
        for (int i = 0; i < batch; ++i) {
            auto row = p->next();
            if (!row) {
                state.SkipWithError(row.error().to_string().c_str());
                return;
            }
            benchmark::DoNotOptimize(row->size());
        }
        if (auto done = p->finish(); !done) {
            state.SkipWithError(done.error().to_string().c_str());
            return;
        }
    }
    pgkit::bench::report_round_trips(state, (*lease)->round_trips() - before);
}

void pipelined_100_point_selects(benchmark::State& state) {
    run_pipelined(state, true);
}
BENCHMARK(pipelined_100_point_selects)->UseRealTime()->Unit(benchmark::kMicrosecond);

void pgkit_pipeline_100_selects_extended(benchmark::State& state) {
    run_pipelined(state, false);
}
BENCHMARK(pgkit_pipeline_100_selects_extended)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// A pgbench script: 100 random aids, then the 100 selects between \startpipeline and
/// \endpipeline.
std::string pgbench_script() {
    std::string script;
    for (int i = 0; i < batch; ++i) {
        script += fmt::format("\\set aid{} random(1, {})\n", i, accounts());
    }
    script += "\\startpipeline\n";
    for (int i = 0; i < batch; ++i) {
        script += fmt::format("SELECT abalance FROM pgbench_accounts WHERE aid = :aid{};\n", i);
    }
    script += "\\endpipeline\n";
    return script;
}

void pgbench_pipeline_100_selects_extended(benchmark::State& state) {
    const auto pgbench = environment("PGKIT_BENCH_PGBENCH").value_or("pgbench");
    const int seconds = std::stoi(environment("PGKIT_BENCH_PGBENCH_SECONDS").value_or("5"));
    char path[] = "/tmp/pgkit-pgbench-pipeline.XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) {
        state.SkipWithError("cannot create pgbench's script file");
        return;
    }
    ::close(fd);
    std::ofstream{path} << pgbench_script();
    for (auto _ : state) {
        const auto run = pgkit::test::run_command(
            {pgbench, "-n", "-M", "extended", "-c", "1", "-j", "1", "-T", std::to_string(seconds),
             "-f", path, pgkit::bench::database_url()},
            std::chrono::seconds{seconds + 60});
        const auto tps = pgkit::bench::pgbench_tps(run.output);
        if (run.status != 0 || !tps || *tps <= 0) {
            std::remove(path);
            state.SkipWithError(("pgbench failed: " + run.output).c_str());
            return;
        }
        state.SetIterationTime(1.0 / *tps);  // one iteration: one batch, as pgbench timed it
    }
    std::remove(path);
}
BENCHMARK(pgbench_pipeline_100_selects_extended)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

/// with_transaction of three updates; `begin_alone`: BEGIN sent by itself first, as pgkit did
/// before it let BEGIN travel with the first statement.
void run_transaction(benchmark::State& state, bool begin_alone) {
    auto pool = shared_pool();
    std::mt19937_64 random{7};
    std::uniform_int_distribution<std::int32_t> aid{1, static_cast<std::int32_t>(accounts())};
    const auto before = pgkit::thread_round_trips();
    for (auto _ : state) {
        auto done = pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
            if (begin_alone) {
                tx.conn().drop_pending_begin();
                if (auto begun = tx.execute_script("BEGIN"); !begun) {
                    return tl::unexpected(begun.error());
                }
            }
            for (int i = 0; i < 3; ++i) {
                auto updated = tx.execute_cached(
                    "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = $1",
                    aid(random));
                if (!updated) {
                    return tl::unexpected(updated.error());
                }
            }
            return {};
        });
        if (!done) {
            state.SkipWithError(done.error().to_string().c_str());
            return;
        }
    }
    pgkit::bench::report_round_trips(state, pgkit::thread_round_trips() - before);
}

void transaction_3_statements(benchmark::State& state) {
    run_transaction(state, false);
}
BENCHMARK(transaction_3_statements)->UseRealTime()->Unit(benchmark::kMicrosecond);

void transaction_3_statements_begin_alone(benchmark::State& state) {
    run_transaction(state, true);
}
BENCHMARK(transaction_3_statements_begin_alone)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
