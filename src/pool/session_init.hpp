#pragma once

// How a pool's session_options become connection options (startup packet) or SQL (SET
// statements), and the statement that resets a dirty session.

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool_options.hpp"

#include "sql/literal.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace pgkit::detail {

struct session_plan {
    /// What the pool opens connections with: the caller's options plus the pool's
    /// connect_timeout, application_name and (startup_options mode) `-c` settings.
    connection_options connect;
    /// set_statements mode: one `SELECT set_config(...), ...` statement; else empty.
    std::string init_sql;
    /// Run on return to reset a dirty session (includes init_sql in set_statements mode).
    std::string reset_sql;
    /// What the session check runs besides its own statements: init_sql and reset_sql.
    std::shared_ptr<const session_check_sql> check_sql;
    /// The same with the reset's statements the check does not run: armed after a dirty lease,
    /// so that the reset travels with the next statement.
    std::shared_ptr<const session_check_sql> reset_check_sql;
};

/// Builds the plan; invalid_argument for a malformed setting name or value.
[[nodiscard]] result<session_plan> plan_session(const pool_options& options);

/// The statement a reset runs: plan.reset_sql, then a fresh seed for random().
[[nodiscard]] std::string reset_statement(const session_plan& plan);

using sql::escape_literal;

/// A GUC name: an identifier, or two joined by a dot (custom settings), at most 63 bytes each.
[[nodiscard]] bool is_valid_setting_name(std::string_view name) noexcept;

}  // namespace pgkit::detail
