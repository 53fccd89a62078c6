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

#include <cstddef>
#include <optional>
#include <string_view>

namespace pgkit::detail::sql {

/// Where a key read's text can take one more condition.
struct key_read_shape {
    /// One past the last condition's last token: what follows is only a `;`, whitespace or
    /// comments, so `AND ...` appended here joins the WHERE clause.
    std::size_t conditions_end = 0;
    /// The highest $n the text uses (0 when none): an appended condition's parameters come
    /// after it.
    int last_parameter = 0;
};

/// The highest $n a key read may use: one whose text takes an appended condition with two
/// parameters of its own (PostgreSQL numbers parameters up to 65535).
inline constexpr int key_read_max_parameter = 65533;

/// The shape of `sql` when it has the key-read shape above (its parameters numbered up to
/// key_read_max_parameter), else nullopt. One pass over the text, no allocation.
[[nodiscard]] std::optional<key_read_shape> read_key_read_shape(
    std::string_view sql, lexer_options options = {}) noexcept;

/// True when `sql` has the key-read shape above: read_key_read_shape(sql) has a value.
[[nodiscard]] bool has_key_read_shape(std::string_view sql, lexer_options options = {}) noexcept;

}  // namespace pgkit::detail::sql
