#pragma once

// Which SQL can leave state behind in a session after its transaction ends: the classifier
// behind connection::session_state_may_be_dirty() and the pool's reset_policy::when_dirty.

#include <string_view>

namespace pgkit::detail {

/// True when `sql` (one statement or a script of several) contains a statement that may leave
/// session state behind: SET (not SET LOCAL / SET TRANSACTION / SET CONSTRAINTS), LISTEN,
/// PREPARE, DECLARE, DO, LOAD, CREATE ... TEMP/TEMPORARY/pg_temp and SELECT ... INTO TEMP, or a
/// call of set_config or a session-level advisory lock function. Quotes, dollar quotes and
/// comments are skipped. Conservative: false positives only cost a reset round trip. Cheap: one
/// pass over the text, no allocation.
[[nodiscard]] bool may_leave_session_state(std::string_view sql) noexcept;

/// True for statement names the statement cache owns ("pgkit_..."); preparing those does not
/// make a session dirty, and the pool's reset keeps them.
[[nodiscard]] bool is_cache_statement_name(std::string_view name) noexcept;

}  // namespace pgkit::detail
