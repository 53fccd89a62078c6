// Migrations in a process of its own, for the kill -9 tests. Two modes:
//   pgkit_migration_worker URL SCHEMA DIRECTORY       applies the migrations of a directory;
//   pgkit_migration_worker URL SCHEMA --plan PAUSE_MS runs the phone plan (support/phone_plan.hpp)
//                                                     with small batches, PAUSE_MS apart.
// The history table and the migrations' tables live in SCHEMA (its search_path). Exits 0 when
// everything was applied, 1 on any error.
#include "pgkit/migration_plan.hpp"
#include "pgkit/migrations.hpp"
#include "pgkit/pool.hpp"

#include "support/phone_plan.hpp"
#include "support/worker_pool.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

int run_phone_plan(pgkit::pool& pool, const char* schema, const char* pause_ms) {
    pgkit::plan_options options;
    options.migrate.history_schema = schema;
    options.backfill.min_batch_size = 50;
    options.backfill.initial_batch_size = 50;
    options.backfill.max_batch_size = 100;
    options.backfill.pause_between_batches = std::chrono::milliseconds{std::atoi(pause_ms)};
    auto report = pgkit::run_plan(pool, pgkit::test::phone_plan(), options);
    if (!report) {
        std::fprintf(stderr, "%s\n", report.error().to_string().c_str());
        return 1;
    }
    std::printf("reached %s\n", std::string{pgkit::to_string(report->reached)}.c_str());
    return report->reached == pgkit::plan_step::done ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const bool plan = argc == 5 && std::string{argv[3]} == "--plan";
    if (argc != 4 && !plan) {
        std::fprintf(stderr, "usage: %s URL SCHEMA DIRECTORY | URL SCHEMA --plan PAUSE_MS\n",
                     argv[0]);
        return 2;
    }
    auto pool = pgkit::test::worker_pool(argv[1], argv[2], "pgkit-migration-worker");
    if (!pool) {
        return 1;
    }
    if (plan) {
        return run_phone_plan(*pool, argv[2], argv[4]);
    }
    auto migrations = pgkit::load_migrations(argv[3]);
    if (!migrations) {
        std::fprintf(stderr, "%s\n", migrations.error().to_string().c_str());
        return 1;
    }
    pgkit::migrate_options run;
    run.history_schema = argv[2];
    auto applied = pgkit::migrate_up(*pool, *migrations, run);
    if (!applied) {
        std::fprintf(stderr, "%s\n", applied.error().to_string().c_str());
        return 1;
    }
    std::printf("applied %zu\n", applied->applied.size());
    return 0;
}
