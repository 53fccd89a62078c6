// Schema migrations on a live table: adding a NOT NULL column whose value is computed from other
// columns (total = price * quantity) to a 1M-row table while four writers update random single
// rows, two ways, and the lock-queue scenario:
//
// - naive: one migration run by migrate_up: ADD COLUMN, an UPDATE of every row with the
//   expression, SET NOT NULL (a column DEFAULT cannot reference other columns, so the values
//   need an UPDATE), then the trigger that computes the column on later writes. It is one
//   transaction that holds ACCESS EXCLUSIVE on the table from the ADD COLUMN to its COMMIT: every
//   writer waits for the whole UPDATE.
// - planned: a pgkit plan run by run_plan: the expand adds the column nullable, a CHECK (total IS
//   NOT NULL) NOT VALID and the trigger (so new writes fill it, as the new code does in the phone
//   example); the backfill step fills the old rows with run_backfill's default pacing; VALIDATE;
//   the gates; the contract (SET NOT NULL, which finds the validated CHECK and skips its scan, and
//   DROP CONSTRAINT).
// - lock queue: a long transaction holds ACCESS SHARE on the table; a migration's ALTER TABLE
//   queues behind it under the runner's short lock_timeout (250 ms), gives up and retries with
//   back-off until the transaction ends. The writers, whose statements queue behind the ALTER,
//   are measured: the longest any of them was blocked, over the lock_timeout.
//
//   PGKIT_BENCH_DATABASE_URL=postgresql://... PGKIT_BENCH_ROWS=1000000
//   pgkit_bench_migrate [--benchmark_repetitions=N] [--benchmark_out=]output.json
//
// Each scenario runs 3 times by default (--benchmark_repetitions=N) on a freshly reset table, the
// naive and planned routes in alternating order; the summary uses the medians. The writers'
// figures cover the scenario's call (migrate_up, run_plan), from its start to its end: their p99
// from the scheduled times (a blocked writer's backlog counts), and the longest a single
// statement took from sending it to its answer (how long a writer was blocked: the "longest
// wait" and "longest block" keys).
#include "pgkit/backfill.hpp"
#include "pgkit/connection.hpp"
#include "pgkit/migration_plan.hpp"
#include "pgkit/migrations.hpp"
#include "pgkit/pool.hpp"

#include "bench_support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using pgkit::bench::check;
using pgkit::bench::median;
using std::chrono::duration;
using std::chrono::milliseconds;

namespace {

constexpr const char* meta_schema = "bench_migrate_meta";
constexpr milliseconds lock_timeout{250};
constexpr milliseconds long_transaction{1500};
constexpr const char* writer_sql = "UPDATE bench_migrate SET quantity = quantity + 1 WHERE id = $1";

// The trigger that computes total on every later write (the new code's job in a real deployment).
constexpr const char* trigger_sql =
    "CREATE FUNCTION bench_migrate_total() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.total := NEW.price::int8 * NEW.quantity; RETURN NEW; END $$;\n"
    "CREATE TRIGGER bench_migrate_total BEFORE INSERT OR UPDATE OF price, quantity ON "
    "bench_migrate FOR EACH ROW EXECUTE FUNCTION bench_migrate_total()";

pgkit::migration naive_migration() {
    pgkit::migration m;
    m.version = 1;
    m.name = "bench_migrate_total_naive";
    m.source = "naive (one migration)";
    m.up =
        std::string{
            "ALTER TABLE bench_migrate ADD COLUMN total int8;\n"
            "UPDATE bench_migrate SET total = price::int8 * quantity;\n"
            "ALTER TABLE bench_migrate ALTER COLUMN total SET NOT NULL;\n"} +
        trigger_sql;
    return m;
}

pgkit::migration_plan planned_route() {
    pgkit::migration_plan plan;
    plan.name = "bench_migrate_total";
    plan.expand.version = 1;
    plan.expand.name = "bench_migrate_total_expand";
    plan.expand.source = "planned (expand)";
    plan.expand.up =
        std::string{
            "ALTER TABLE bench_migrate ADD COLUMN total int8;\n"
            "ALTER TABLE bench_migrate ADD CONSTRAINT bench_migrate_total_not_null "
            "CHECK (total IS NOT NULL) NOT VALID;\n"} +
        trigger_sql;
    plan.backfill.name = "bench_migrate_total";
    plan.backfill.runs_schema = meta_schema;
    plan.backfill.table = "bench_migrate";
    plan.backfill.key = {"id"};
    plan.backfill.set = "total = price::int8 * quantity";
    plan.backfill.predicate = "total IS NULL";
    plan.validate_checks = {"bench_migrate_total_not_null"};
    plan.no_nulls = {"total"};
    plan.contract.version = 2;
    plan.contract.name = "bench_migrate_total_contract";
    plan.contract.source = "planned (contract)";
    plan.contract.up =
        "ALTER TABLE bench_migrate ALTER COLUMN total SET NOT NULL;\n"
        "ALTER TABLE bench_migrate DROP CONSTRAINT bench_migrate_total_not_null";
    return plan;
}

pgkit::migrate_options migrate_options() {
    pgkit::migrate_options options;
    options.history_schema = meta_schema;
    options.lock_timeout = lock_timeout;
    options.retry = {.max_attempts = 40, .initial_backoff = 100ms, .max_backoff = 400ms};
    return options;
}

struct measurement {
    double seconds = 0;
    double writer_p99_ms = 0;
    double writer_longest_ms = 0;
    double writer_longest_statement_ms = 0;
    std::size_t writer_updates = 0;
    // The planned route's backfill.
    double backfill_batches = 0;
    double contended_batches = 0;
    double longest_batch_ms = 0;
};

/// Puts the table back as before any route: no total column, no trigger, no history.
void reset(const pgkit::connection_options& target) {
    auto conn = check(pgkit::connection::open(target));
    check(conn.execute_script(
        fmt::format("DROP TRIGGER IF EXISTS bench_migrate_total ON bench_migrate;"
                    "DROP FUNCTION IF EXISTS bench_migrate_total();"
                    "ALTER TABLE bench_migrate DROP COLUMN IF EXISTS total;"
                    "ALTER TABLE bench_migrate DROP COLUMN IF EXISTS note;"
                    "DROP SCHEMA IF EXISTS {0} CASCADE; CREATE SCHEMA {0};",
                    meta_schema)));
    check(conn.execute_script("VACUUM ANALYZE bench_migrate"));
}

/// Runs `route` under the writers (after their 200 ms baseline) and returns its figures; the
/// table must end with total right on every row.
measurement measure(const pgkit::connection_options& target,
                    std::int64_t rows,
                    const std::function<void(measurement&)>& route,
                    bool adds_total) {
    reset(target);
    pgkit::bench::writer_load writers{target, writer_sql, rows};
    std::this_thread::sleep_for(200ms);
    measurement m;
    const auto started = steady::now();
    route(m);
    m.seconds = duration<double>(steady::now() - started).count();
    const auto load = writers.stop();
    m.writer_p99_ms = load.p99_ms;
    m.writer_longest_ms = load.longest_ms;
    m.writer_longest_statement_ms = load.longest_statement_ms;
    m.writer_updates = load.updates;
    if (adds_total) {
        auto conn = check(pgkit::connection::open(target));
        const auto wrong =
            check(conn.execute("SELECT count(*) FROM bench_migrate WHERE total IS DISTINCT FROM "
                               "price::int8 * quantity")
                      .and_then(&pgkit::query_result::scalar<std::int64_t>));
        const auto not_null =
            check(conn.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = "
                               "'bench_migrate'::regclass AND attname = 'total'")
                      .and_then(&pgkit::query_result::scalar<bool>));
        if (wrong != 0 || !not_null) {
            std::fprintf(stderr, "error: %lld rows with a wrong total (NOT NULL: %d)\n",
                         static_cast<long long>(wrong), not_null ? 1 : 0);
            std::exit(1);
        }
    }
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    const auto target = check(pgkit::connection_options::parse(pgkit::bench::database_url()));
    const std::int64_t rows = pgkit::bench::dataset_rows();
    {
        auto conn = check(pgkit::connection::open(target));
        check(conn.execute_script(fmt::format(
            "DROP TABLE IF EXISTS bench_migrate;"
            "CREATE TABLE bench_migrate (id bigint PRIMARY KEY, price int NOT NULL, quantity int "
            "NOT NULL);"
            "INSERT INTO bench_migrate SELECT g, 1 + g % 997, 1 + g % 13 FROM "
            "generate_series(1, {}) g",
            rows)));
    }
    const int repetitions = pgkit::bench::repetitions_flag(argc, argv, 3);
    pgkit::pool_options pool_options;
    pool_options.connection = target;
    pool_options.max_size = 4;
    auto pool = check(pgkit::pool::create(pool_options));

    const auto naive = [&](measurement&) {
        const std::vector<pgkit::migration> all{naive_migration()};
        (void)check(pgkit::migrate_up(*pool, all, migrate_options()));
    };
    const auto planned = [&](measurement& m) {
        pgkit::plan_options options;
        options.migrate = migrate_options();  // run_backfill keeps its defaults
        const auto report = check(pgkit::run_plan(*pool, planned_route(), options));
        if (report.reached != pgkit::plan_step::done || !report.backfill) {
            std::fprintf(stderr, "error: the plan stopped at %s\n",
                         std::string{pgkit::to_string(report.reached)}.c_str());
            std::exit(1);
        }
        m.backfill_batches = static_cast<double>(report.backfill->batches_this_run);
        m.contended_batches = static_cast<double>(report.backfill->contended_batches);
        m.longest_batch_ms = static_cast<double>(report.backfill->longest_batch.count());
    };
    const auto lock_queue = [&](measurement&) {
        // The long transaction (a report, pg_dump): ACCESS SHARE on the table for 1.5 s.
        auto holder = check(pgkit::connection::open(target));
        check(holder.execute_script("BEGIN; SELECT count(*) FROM bench_migrate WHERE id = 1"));
        std::thread ends{[&] {
            std::this_thread::sleep_for(long_transaction);
            check(holder.execute_script("COMMIT"));
        }};
        pgkit::migration note;
        note.version = 1;
        note.name = "bench_migrate_note";
        note.source = "lock queue";
        note.up = "ALTER TABLE bench_migrate ADD COLUMN note text";
        const std::vector<pgkit::migration> all{note};
        auto applied = pgkit::migrate_up(*pool, all, migrate_options());
        ends.join();
        (void)check(std::move(applied));
    };

    struct scenario {
        const char* name;
        const char* label;
        std::function<void(measurement&)> run;
        bool adds_total;
        std::vector<measurement> runs{};
    };
    std::vector<scenario> scenarios;
    scenarios.push_back({"migrate_naive", "naive", naive, true});
    scenarios.push_back({"migrate_planned", "planned", planned, true});
    scenarios.push_back({"migrate_lock_queue", "lock queue", lock_queue, false});
    for (int rep = 0; rep < repetitions; ++rep) {
        // naive, planned, lock queue; then planned, naive, lock queue; ...
        for (std::size_t k = 0; k < scenarios.size(); ++k) {
            const std::size_t pick = k == 2 ? 2 : (rep % 2 == 0 ? k : 1 - k);
            scenario& s = scenarios[pick];
            std::fprintf(stderr, "repetition %d: %s\n", rep + 1, s.label);
            s.runs.push_back(measure(target, rows, s.run, s.adds_total));
        }
    }
    const auto field = [](const scenario& s, double measurement::*f) {
        std::vector<double> out;
        for (const measurement& x : s.runs) {
            out.push_back(x.*f);
        }
        return out;
    };
    const auto median_of = [&](const scenario& s) {
        measurement out;
        for (double measurement::*f :
             {&measurement::seconds, &measurement::writer_p99_ms, &measurement::writer_longest_ms,
              &measurement::writer_longest_statement_ms, &measurement::backfill_batches,
              &measurement::contended_batches, &measurement::longest_batch_ms}) {
            out.*f = median(field(s, f));
        }
        std::vector<double> updates;
        for (const measurement& x : s.runs) {
            updates.push_back(static_cast<double>(x.writer_updates));
        }
        out.writer_updates = static_cast<std::size_t>(median(updates));
        return out;
    };

    for (const scenario& s : scenarios) {
        for (std::size_t rep = 0; rep < s.runs.size(); ++rep) {
            const measurement& x = s.runs[rep];
            std::printf(
                "%-10s #%zu %8.2f s  writer p99 %9.2f ms  longest %9.1f ms  longest statement "
                "%9.1f ms (%zu updates)  "
                "batches %.0f (%.0f contended, longest %.0f ms)\n",
                s.label, rep + 1, x.seconds, x.writer_p99_ms, x.writer_longest_ms,
                x.writer_longest_statement_ms, x.writer_updates, x.backfill_batches,
                x.contended_batches, x.longest_batch_ms);
        }
    }

    // Google Benchmark's JSON shape, as the backfill suite writes it, figures as counters.
    const auto counters = [](const measurement& m) {
        return pgkit::bench::json_benchmark::run{
            m.seconds * 1000,
            fmt::format("\"writer_p99_ms\": {:.3f}, \"writer_longest_ms\": {:.3f}, "
                        "\"writer_longest_statement_ms\": {:.3f}, "
                        "\"writer_updates\": {}, \"backfill_batches\": {:.0f}, "
                        "\"contended_batches\": {:.0f}, \"longest_batch_ms\": {:.0f}",
                        m.writer_p99_ms, m.writer_longest_ms, m.writer_longest_statement_ms,
                        m.writer_updates, m.backfill_batches, m.contended_batches,
                        m.longest_batch_ms)};
    };
    std::vector<pgkit::bench::json_benchmark> listed_scenarios;
    for (const scenario& s : scenarios) {
        pgkit::bench::json_benchmark b{s.name, {}, counters(median_of(s))};
        for (const measurement& x : s.runs) {
            b.repetitions.push_back(counters(x));
        }
        listed_scenarios.push_back(std::move(b));
    }
    const std::string listed = pgkit::bench::json_benchmarks(listed_scenarios);
    const measurement naive_m = median_of(scenarios[0]);
    const measurement planned_m = median_of(scenarios[1]);
    const measurement queue_m = median_of(scenarios[2]);
    const auto worst = [&](const scenario& s) {
        const auto v = field(s, &measurement::writer_longest_statement_ms);
        return *std::max_element(v.begin(), v.end());
    };
    const std::string json = fmt::format(
        "{{\n  \"context\": {{\"rows\": {}, \"writers\": 4, \"writer_period_ms\": 5, "
        "\"lock_timeout_ms\": {}, \"long_transaction_ms\": {}, "
        "\"planned_longest_writer_wait_ms_worst\": {:.3f}, "
        "\"lock_queue_longest_block_ms_worst\": {:.3f}, \"repetitions\": {}}},\n"
        "  \"benchmarks\": [\n{}  ],\n"
        "  \"summary\": {{\"migrate.naive_writer_p99_over_planned\": {:.4f}, "
        "\"migrate.planned_longest_writer_wait_ms\": {:.3f}, "
        "\"migrate.lock_queue_block_over_lock_timeout\": {:.4f}}}\n}}\n",
        rows, lock_timeout.count(), long_transaction.count(), worst(scenarios[1]),
        worst(scenarios[2]), repetitions, listed,
        naive_m.writer_p99_ms / std::max(planned_m.writer_p99_ms, 1e-3),
        planned_m.writer_longest_statement_ms,
        queue_m.writer_longest_statement_ms / static_cast<double>(lock_timeout.count()));
    std::fputs(json.c_str(), stdout);
    pgkit::bench::write_json_flag(argc, argv, json);
    return 0;
}
