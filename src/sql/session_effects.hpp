#pragma once

// Which SQL can leave state behind in a session after its transaction ends (private): the
// analysis behind connection::session_state_may_be_dirty() and the pool's
// reset_policy::when_dirty. It reads statements with the one SQL lexer (sql/lexer.hpp), so
// quoting, comments and dollar quotes cannot hide a statement from it.
//
// The rule is an allowlist: a statement is clean only when its kind is known to leave nothing
// behind (queries and DML, transaction control, DDL on non-temporary objects, SET LOCAL, ...)
// and it names none of the built-in functions that change session state (set_config unless its
// third argument is the literal true, the session-level advisory locks, setseed, dblink_connect;
// quoted or schema-qualified names count). Everything else is dirty: SET, RESET, LISTEN, PREPARE,
// DECLARE ... WITH HOLD, DO, CALL, LOAD, CREATE TEMP (without ON COMMIT DROP), SELECT INTO TEMP,
// anything naming pg_temp, EXPLAIN ANALYZE of any of these, names written as U&"...", text that
// does not lex, and any statement kind it does not know. False positives only cost a reset.
//
// What no text analysis can see is state changed inside a function or trigger body; the
// connection adds the server's ParameterStatus reports (see pq_session) and docs/pool.md says
// what remains.

#include "sql/lexer.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace pgkit::detail::sql {

/// What a statement leaves behind in its session.
enum class session_effect : std::uint8_t {
    setting,             ///< SET, RESET, SET SESSION CHARACTERISTICS, set_config(..., not true)
    listen,              ///< LISTEN
    prepared_statement,  ///< PREPARE (not PREPARE TRANSACTION)
    held_cursor,         ///< DECLARE ... WITH HOLD
    temporary_table,     ///< CREATE TEMP (without ON COMMIT DROP), SELECT INTO TEMP, pg_temp
    advisory_lock,       ///< pg_advisory_lock and the other session-level lock functions
    random_seed,         ///< setseed()
    remote_connection,   ///< dblink_connect
    loaded_library,      ///< LOAD
    unknown,             ///< DO, CALL, an unknown kind, U&"..." names, text that does not lex
};

/// "LISTEN", "a session-level advisory lock", ...: for error messages.
[[nodiscard]] std::string_view to_string(session_effect effect) noexcept;

/// The first effect of the statements in `sql` (one statement or a script), or nullopt when
/// none leaves anything behind. One pass over the text, no allocation.
[[nodiscard]] std::optional<session_effect> first_session_effect(
    std::string_view sql, lexer_options options = {}) noexcept;

/// The same, ignoring session_effect::unknown: what the text certainly does.
[[nodiscard]] std::optional<session_effect> first_definite_session_effect(
    std::string_view sql, lexer_options options = {}) noexcept;

/// True when `sql` (one statement or a script of several) contains a statement that may leave
/// session state behind: first_session_effect(sql) has a value.
[[nodiscard]] bool may_leave_session_state(std::string_view sql,
                                           lexer_options options = {}) noexcept;

/// Statement names pgkit's prepared-statement cache owns ("pgkit_..."): preparing one does not
/// make a session dirty, and the pool's reset keeps them.
[[nodiscard]] bool is_cache_statement_name(std::string_view name) noexcept;

}  // namespace pgkit::detail::sql
