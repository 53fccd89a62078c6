#pragma once

// SQL string literals (private): where a value must be written into the SQL text because the
// statement cannot take parameters (set_config in a session's init script, COPY (query) TO
// STDOUT), and the $n parameters of a query replaced by such literals. pgkit sessions use
// client_encoding UTF8, in which no byte of a multibyte character is a quote or a backslash.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"

#include "sql/lexer.hpp"

#include <string>
#include <string_view>

namespace pgkit::detail::sql {

/// `E'...'` with quotes and backslashes doubled (the value must not contain NUL: text
/// parameters never do). The server reads it back as exactly `value`, whatever
/// standard_conforming_strings is.
[[nodiscard]] std::string escape_literal(std::string_view value);

/// `sql` with every parameter token $n written as parameter n's value: escape_literal, or NULL.
/// A literal has no type of its own: like a parameter sent without one, the server gives it the
/// type its context asks for (the column it is compared with; an explicit cast: $1::int8).
/// invalid_argument when the text does not lex, uses $n outside 1..params.size(), or leaves a
/// parameter unused; the parameters' encoding error.
[[nodiscard]] result<std::string> inline_parameters(std::string_view sql,
                                                    const parameters& params,
                                                    lexer_options options = {});

}  // namespace pgkit::detail::sql
