#pragma once

// The migrations' history table (private): pgkit_migrations in the schema the caller chose, one
// row per applied (or partly applied) migration, and next to it pgkit_migration_leases for
// runners in lease mode. The table and its runner lock reuse the backfill's machinery
// (backfill/runs_table.hpp, backfill/runner_lock.hpp) with their own names and lock space.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/migrations.hpp"

#include "backfill/runs_table.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail::migrate {

/// The name the runner lock is taken under (with the history table's schema).
inline constexpr std::string_view history_table_name = "pgkit_migrations";

struct history_row {
    std::int64_t version = 0;
    std::string name;
    std::string checksum;
    std::string state;  ///< "applied", "partial" or "reverting"
    std::int32_t next_statement = 0;
    std::chrono::system_clock::time_point applied_at;
    std::optional<std::int64_t> duration_ms;
    std::string applied_by;
};

/// Resolves `schema` (empty: current_schema()); writes nothing. invalid_argument naming
/// history_schema when it cannot be used.
[[nodiscard]] result<runs_table> locate_history(connection& conn, std::string_view schema);

/// Creates the history table when it does not exist yet.
[[nodiscard]] result<void> create_history(connection& conn, const runs_table& table);

/// Every row, by version; none when the table does not exist.
[[nodiscard]] result<std::vector<history_row>> read_history(connection& conn,
                                                            const runs_table& table);

/// A row for `m` in `state` (the statements done: 0), its applied_at now.
[[nodiscard]] result<void> insert_row(connection& conn,
                                      const runs_table& table,
                                      const migration& m,
                                      std::string_view state,
                                      std::optional<std::int64_t> duration_ms);

/// Sets a row's state and the statement to resume at, and clears its error.
[[nodiscard]] result<void> set_progress(connection& conn,
                                        const runs_table& table,
                                        std::int64_t version,
                                        std::string_view state,
                                        std::int32_t next_statement);

/// Marks a row applied, with its duration and applied_at now.
[[nodiscard]] result<void> mark_applied(connection& conn,
                                        const runs_table& table,
                                        std::int64_t version,
                                        std::int64_t duration_ms);

/// Records why a partial migration stopped (best effort: errors are ignored by callers).
[[nodiscard]] result<void> record_error(connection& conn,
                                        const runs_table& table,
                                        std::int64_t version,
                                        std::string_view message);

/// DELETE the row of `version`.
[[nodiscard]] result<void> delete_row(connection& conn,
                                      const runs_table& table,
                                      std::int64_t version);

/// Accepts a migration's current source: its checksum and name.
[[nodiscard]] result<std::uint64_t> repair_row(connection& conn,
                                               const runs_table& table,
                                               const migration& m);

}  // namespace pgkit::detail::migrate
