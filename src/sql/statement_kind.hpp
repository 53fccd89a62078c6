#pragma once

// What kind of statement a text is, for sending it in one round trip with statements pgkit puts
// ahead of it (private). A pipeline segment runs as one implicit transaction, so only a single
// statement that may run inside a transaction block can join one: a query or DML statement, or
// the BEGIN that opens a transaction block (which then takes the statements before it in). Read
// with the one SQL lexer (sql/lexer.hpp).

#include "sql/lexer.hpp"

#include <cstdint>
#include <string_view>

namespace pgkit::detail::sql {

enum class statement_kind : std::uint8_t {
    query,  ///< one SELECT, INSERT, UPDATE, DELETE, MERGE, WITH, VALUES or TABLE statement, or
            ///< no statement at all (blank text: an empty query)
    begin,  ///< one BEGIN or START TRANSACTION
    other,  ///< anything else: several statements, utility commands (COPY, VACUUM, SET, ...),
            ///< text that does not lex
};

/// The kind of `sql`. One pass over the text, no allocation.
[[nodiscard]] statement_kind kind_of_statement(std::string_view sql,
                                               lexer_options options = {}) noexcept;

}  // namespace pgkit::detail::sql
