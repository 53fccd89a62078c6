// A batched backfill: fills a new column on a 200k-row table in short transactions, with the
// terminal progress bar, shows that a second run has nothing left to do, and reads the run's
// recorded state.
//
//   pgkit_example_backfill postgresql://user@localhost/db
#include <pgkit/pgkit.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

namespace {

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    auto target = argc > 1 ? pgkit::connection_options::parse(argv[1])
                           : pgkit::connection_options::from_environment();
    if (!target) {
        return fail(target.error());
    }
    // Two connections: one holds the run's runner lock, the other runs the batches.
    auto pool = pgkit::pool::create({.connection = *target, .max_size = 2});
    if (!pool) {
        return fail(pool.error());
    }
    {
        auto conn = (*pool)->acquire();
        if (!conn) {
            return fail(conn.error());
        }
        auto setup = (*conn)->execute_script(
            "DROP TABLE IF EXISTS example_orders;"
            "CREATE TABLE example_orders (id bigint PRIMARY KEY, cents bigint NOT NULL);"
            "INSERT INTO example_orders SELECT g, g * 7 % 10000 FROM generate_series(1, 200000) g;"
            "ALTER TABLE example_orders ADD COLUMN euros numeric(12, 2);"
            "ANALYZE example_orders");
        if (!setup) {
            return fail(setup.error());
        }
    }

    // One spec names the run for every call below (its name, and runs_schema: where the runs
    // table lives; empty means the first schema of search_path).
    const pgkit::backfill_spec spec{.name = "example_orders_euros",
                                    .table = "example_orders",
                                    .key = {"id"},
                                    .set = "euros = cents / $1::numeric",
                                    .predicate = "euros IS NULL",
                                    .parameters = {"100"}};
    pgkit::backfill_options options{.min_batch_size = 500,
                                    .max_batch_size = 20'000,
                                    .initial_batch_size = 2'000,
                                    .target_batch_duration = 100ms,
                                    .lock_timeout = 1s,
                                    .statement_timeout = 10s};

    // Forget an earlier run of this example, so this one starts from the first key.
    if (auto forgot = pgkit::reset_backfill(**pool, spec); !forgot) {
        return fail(forgot.error());  // already_running: another copy of this example is running
    }

    auto plan = pgkit::plan_backfill(**pool, spec, options);
    if (!plan) {
        return fail(plan.error());
    }
    std::printf("dry run: %llu rows in about %llu batches\n",
                static_cast<unsigned long long>(plan->rows),
                static_cast<unsigned long long>(plan->batches));

    pgkit::progress_bar bar{{.line_interval = 1s}};
    options.on_progress = bar.callback();
    auto report = pgkit::run_backfill(**pool, spec, options);
    bar.finish();
    if (!report) {
        return fail(report.error());
    }
    std::printf("%s: %llu rows in %llu batches, %lld ms, longest batch %lld ms\n",
                std::string{pgkit::to_string(report->status)}.c_str(),
                static_cast<unsigned long long>(report->rows_done),
                static_cast<unsigned long long>(report->batches),
                static_cast<long long>(report->elapsed.count()),
                static_cast<long long>(report->longest_batch.count()));
    if (report->status != pgkit::backfill_status::done) {
        return 1;
    }
    auto again = pgkit::run_backfill(**pool, spec, options);
    if (!again) {
        return fail(again.error());
    }
    std::printf("second run: %llu rows to do\n",
                static_cast<unsigned long long>(again->rows_this_run));

    // What the runs table recorded, as any process can read it.
    auto state = pgkit::inspect_backfill(**pool, spec);
    if (!state) {
        return fail(state.error());
    }
    std::printf("recorded: %s, %llu rows in %llu batches, %lld ms inside batches, %s\n",
                std::string{pgkit::to_string(state->status)}.c_str(),
                static_cast<unsigned long long>(state->rows_done),
                static_cast<unsigned long long>(state->batches),
                static_cast<long long>(state->busy.count()),
                state->runner_pid ? "a runner holds it" : "no runner holds it");
    return again->rows_this_run == 0 && state->status == pgkit::backfill_status::done ? 0 : 1;
}
