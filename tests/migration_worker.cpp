// Migrations in a process of its own, for the kill -9 test: applies the migrations of a
// directory. Usage: pgkit_migration_worker URL SCHEMA DIRECTORY. The history table and the
// migrations' tables live in SCHEMA (its search_path). Exits 0 when everything was applied, 1 on
// any error.
#include "pgkit/migrations.hpp"
#include "pgkit/pool.hpp"

#include "support/worker_pool.hpp"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s URL SCHEMA DIRECTORY\n", argv[0]);
        return 2;
    }
    auto pool = pgkit::test::worker_pool(argv[1], argv[2], "pgkit-migration-worker");
    if (!pool) {
        return 1;
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
