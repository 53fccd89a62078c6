#pragma once

// Shifting the $n parameters of a SQL fragment (private): how a raw filter's local $1..$n become
// the $k of the statement it is embedded in. Reads the text with the one SQL lexer, so only real
// parameter tokens move; $n inside strings, dollar quotes, comments and names such as col$1 stay.

#include "pgkit/error.hpp"

#include "sql/lexer.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace pgkit::detail::sql {

/// Appends `fragment` to `out` with every parameter $n (1 <= n <= count) written as
/// $(n + offset), and a newline when it ends in a -- comment (so that text appended after it is
/// not commented out). invalid_argument, and `out` unchanged, when the fragment does not lex (an
/// unterminated string, quoted name, dollar quote or comment) or uses a parameter outside
/// 1..count.
[[nodiscard]] result<void> renumber_parameters(std::string_view fragment,
                                               std::size_t offset,
                                               std::size_t count,
                                               std::string& out,
                                               lexer_options options = {});

}  // namespace pgkit::detail::sql
