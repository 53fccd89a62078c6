#pragma once

// Which statements are key reads (private): the text half of the session check's key-read rule
// (driver/session_check.hpp, "Key reads"). A key read runs nothing a user wrote when its table is
// inert; the connection learns and proves the table, this file only reads the text, with the one
// SQL lexer (sql/lexer.hpp), so quoting and comments cannot make another statement look like one.
//
// The shape, and nothing else:
//
//   SELECT column [, column ...] | *
//   FROM name [. name]
//   WHERE condition [AND condition ...] [;]
//
//   condition:  column = $n  |  column = ANY ($n)  |  column IS [NOT] NULL
//
// where a column is one name, unqualified (a qualified t.f may call a function f(t) when t has no
// column f), and a name is an identifier or a "quoted identifier" (not U&"..."). No function
// call, cast, operator but `=`, literal, subquery, alias, join, ONLY, ORDER BY, LIMIT or locking
// clause. What the shape does not settle, the connection does: the result's columns must all
// come from the one table (a keyword such as current_user in the column list, or a view in FROM,
// reports another source), and the table must be inert (no user-defined type, `=` operator,
// index function, rule, policy or child).

#include "sql/lexer.hpp"

#include <string_view>

namespace pgkit::detail::sql {

/// True when `sql` has the key-read shape above. One pass over the text, no allocation.
[[nodiscard]] bool has_key_read_shape(std::string_view sql, lexer_options options = {}) noexcept;

}  // namespace pgkit::detail::sql
