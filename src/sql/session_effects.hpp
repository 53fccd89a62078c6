#pragma once

// Which SQL can leave state behind in a session after its transaction ends (private): the
// analysis behind connection::session_state_may_be_dirty() and the pool's
// reset_policy::when_dirty. It reads statements with the one SQL lexer (sql/lexer.hpp), so
// quoting, comments and dollar quotes cannot hide a statement from it.
//
// The rule is an allowlist: a statement is clean only when its kind is known to leave nothing
// behind (queries and DML, transaction control, DDL on non-temporary objects, SET LOCAL, ...)
// and it names none of the built-in functions that change session state (set_config, the
// session-level advisory locks, setseed, dblink_connect; quoted or schema-qualified names
// count). Everything else is dirty: SET, RESET, LISTEN, PREPARE, DECLARE ... WITH HOLD, DO, CALL,
// LOAD, CREATE TEMP, SELECT INTO TEMP, anything naming pg_temp, EXPLAIN ANALYZE of any of these,
// names written as U&"...", text that does not lex, and any statement kind it does not know.
// False positives only cost a reset.
//
// What no text analysis can see is state changed inside a function or trigger body; the
// connection adds the server's ParameterStatus reports (see pq_session) and docs/pool.md says
// what remains.

#include "sql/lexer.hpp"

#include <string_view>

namespace pgkit::detail::sql {

/// True when `sql` (one statement or a script of several) contains a statement that may leave
/// session state behind. One pass over the text, no allocation.
[[nodiscard]] bool may_leave_session_state(std::string_view sql,
                                           lexer_options options = {}) noexcept;

/// Statement names pgkit's prepared-statement cache owns ("pgkit_..."): preparing one does not
/// make a session dirty, and the pool's reset keeps them.
[[nodiscard]] bool is_cache_statement_name(std::string_view name) noexcept;

}  // namespace pgkit::detail::sql
