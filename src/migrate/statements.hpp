#pragma once

// Statement splitting and classification for migrations (private), read with pgkit's one SQL
// lexer (sql/lexer.hpp): where each statement of a section begins and ends, and whether it may
// run inside the migration's transaction. The runner sends each statement alone (never several
// in one simple-query message, which PostgreSQL would run as one implicit transaction).

#include <tl/expected.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail::migrate {

enum class statement_class : std::uint8_t {
    transactional,      ///< runs inside the migration's transaction, under the short lock_timeout
    long_wait,          ///< inside the transaction, under the long lock_timeout (VALIDATE)
    non_transactional,  ///< cannot run in a transaction block: sent alone, in autocommit, under
                        ///< the long lock_timeout (CONCURRENTLY builds) or the short one
};

struct section_statement {
    std::string text;      ///< the statement, without the ';' and the blanks around it
    std::size_t line = 0;  ///< 1-based line of its first token within the section text
    statement_class kind = statement_class::transactional;
    bool long_timeout = false;  ///< waits for older transactions: give it the long lock_timeout
    /// CREATE INDEX CONCURRENTLY with a name: the name as written (quoted or qualified as in
    /// the text), so an invalid index a failed build left can be found and dropped.
    std::string concurrent_index;
};

struct section_error {
    std::size_t line = 0;  ///< 1-based, within the section text
    std::string reason;
};

/// The statements of one section, in order. A BEGIN first and a COMMIT last (the seed
/// template's wrapping) are dropped; any other transaction control is an error, as is text that
/// does not lex. `server_version` (e.g. 150004; 0 when unknown, taken as current) decides
/// whether ALTER TYPE ... ADD VALUE may run in a transaction (12 and later).
[[nodiscard]] tl::expected<std::vector<section_statement>, section_error> split_section(
    std::string_view sql, int server_version = 0);

}  // namespace pgkit::detail::migrate
