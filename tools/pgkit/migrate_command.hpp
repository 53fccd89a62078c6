#pragma once

// What the `pgkit migrate` subcommands share (migrate_command.cpp, migrate_lint_command.cpp):
// their options, and the migrations loaded and a pool opened from them.

#include "pgkit/migrations.hpp"

#include "database_command.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::cli {

struct migrate_args {
    database_args db;
    std::string dir;
    std::string history_schema;
    std::int64_t lock_timeout_ms = 2000;
    bool require_down = false;
    bool allow_out_of_order = false;
};

/// Adds --url, --json, --dir (required), --history-schema, --lock-timeout, --require-down and
/// --allow-out-of-order to `cmd`.
void add_migrate_options(CLI::App& cmd, migrate_args& args);

struct prepared_migrate {
    std::vector<migration> migrations;
    migrate_options options;
    std::shared_ptr<pool> database;
};

/// Loads --dir (before connecting: a malformed file is reported first), then opens the pool.
[[nodiscard]] result<prepared_migrate> prepare_migrate(const migrate_args& args,
                                                       std::string_view command);

}  // namespace pgkit::cli
