#pragma once

// Where a backfill's bookkeeping lives: pgkit_backfill_runs in one schema, and next to it
// pgkit_backfill_leases, the lease rows of runners in lease mode (see runner_lock.hpp). Every
// backfill call resolves the schema once, at its start, and names both tables schema-qualified in
// every statement after that, so nothing a call does depends on search_path again.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"

#include <string>
#include <string_view>

namespace pgkit::detail {

/// The runs table of one schema, as one call resolved it.
struct runs_table {
    std::string schema;     ///< the schema's name (runs_schema, else current_schema())
    std::string qualified;  ///< `"schema".pgkit_backfill_runs`, quoted
    bool exists = false;    ///< whether the table existed when it was resolved
    std::string leases;     ///< `"schema".pgkit_backfill_leases`, quoted
    /// Whether the leases table existed when it was resolved. A lease runner may create it at
    /// any moment after that: code that must not miss a lease asks the server again.
    bool leases_exist = false;
};

/// Resolves `runs_schema` on `conn`; empty means the session's current_schema() (the first
/// schema of search_path that exists). Writes nothing. invalid_argument when the name cannot be
/// quoted, when no such schema exists, or when search_path names no existing schema.
[[nodiscard]] result<runs_table> locate_runs_table(connection& conn, std::string_view runs_schema);

/// Creates the table when it does not exist yet (CREATE TABLE IF NOT EXISTS; a creator racing
/// this one is tolerated).
[[nodiscard]] result<void> create_runs_table(connection& conn, const runs_table& table);

/// Creates the leases table when it does not exist yet, like create_runs_table.
[[nodiscard]] result<void> create_leases_table(connection& conn, const runs_table& table);

/// Whether the leases table exists now (to_regclass; one round trip).
[[nodiscard]] result<bool> leases_table_exists(connection& conn, const runs_table& table);

}  // namespace pgkit::detail
