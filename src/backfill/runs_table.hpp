#pragma once

// Where a backfill's bookkeeping lives: pgkit_backfill_runs in one schema. Every backfill call
// resolves it once, at its start, and names it schema-qualified in every statement after that,
// so nothing a call does depends on search_path again.

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
};

/// Resolves `runs_schema` on `conn`; empty means the session's current_schema() (the first
/// schema of search_path that exists). Writes nothing. invalid_argument when the name cannot be
/// quoted, when no such schema exists, or when search_path names no existing schema.
[[nodiscard]] result<runs_table> locate_runs_table(connection& conn, std::string_view runs_schema);

/// Creates the table when it does not exist yet (CREATE TABLE IF NOT EXISTS; a creator racing
/// this one is tolerated).
[[nodiscard]] result<void> create_runs_table(connection& conn, const runs_table& table);

}  // namespace pgkit::detail
