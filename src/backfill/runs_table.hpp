#pragma once

// Where a backfill's bookkeeping lives: pgkit_backfill_runs in one schema, and next to it
// pgkit_backfill_leases, the lease rows of runners in lease mode (see runner_lock.hpp). Every
// backfill call resolves the schema once, at its start, and names both tables schema-qualified in
// every statement after that, so nothing a call does depends on search_path again.

#include "pgkit/backfill.hpp"
#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace pgkit::detail {

/// The runs table of one schema, as one call resolved it. runner_lock also serves schema
/// migrations (src/migrate/), which fill this in for their history table: `lock_space` and
/// `noun` then keep their locks and messages apart from backfills'.
struct runs_table {
    std::string schema;     ///< the schema's name (runs_schema, else current_schema())
    std::string qualified;  ///< `"schema".pgkit_backfill_runs`, quoted
    bool exists = false;    ///< whether the table existed when it was resolved
    std::string leases;     ///< `"schema".pgkit_backfill_leases`, quoted
    /// Whether the leases table existed when it was resolved. A lease runner may create it at
    /// any moment after that: code that must not miss a lease asks the server again.
    bool leases_exist = false;
    /// The first key of runner_lock's two-key advisory lock (backfill_lock_space for backfills).
    std::int32_t lock_space = backfill_lock_space;
    /// What holds the lock, for messages ("backfill").
    std::string noun = "backfill";
};

/// Resolves `runs_schema` on `conn`; empty means the session's current_schema() (the first
/// schema of search_path that exists). Writes nothing. invalid_argument when the name cannot be
/// quoted, when no such schema exists, or when search_path names no existing schema.
[[nodiscard]] result<runs_table> locate_runs_table(connection& conn, std::string_view runs_schema);

/// The names behind a runs_table: the table, its leases table (both unqualified, plain
/// lowercase names), the option that names their schema (for messages), the lock space.
struct lock_home_names {
    std::string_view table;
    std::string_view leases;
    std::string_view schema_option;
    std::int32_t lock_space = backfill_lock_space;
    std::string_view noun;
};

/// locate_runs_table for another pair of tables (the migrations' history table): the same
/// resolution of `schema_name`, the same errors.
[[nodiscard]] result<runs_table> locate_lock_home(connection& conn,
                                                  std::string_view schema_name,
                                                  const lock_home_names& names);

/// CREATE TABLE IF NOT EXISTS `qualified` `columns`, tolerating a creator racing this one.
[[nodiscard]] result<void> create_table_if_missing(connection& conn,
                                                   std::string_view qualified,
                                                   std::string_view columns);

/// Creates the table when it does not exist yet (CREATE TABLE IF NOT EXISTS; a creator racing
/// this one is tolerated).
[[nodiscard]] result<void> create_runs_table(connection& conn, const runs_table& table);

/// Creates the leases table when it does not exist yet, like create_runs_table.
[[nodiscard]] result<void> create_leases_table(connection& conn, const runs_table& table);

/// Whether the leases table exists now (to_regclass; one round trip).
[[nodiscard]] result<bool> leases_table_exists(connection& conn, const runs_table& table);

}  // namespace pgkit::detail
