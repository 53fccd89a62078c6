#pragma once

// pgkit's one SQL lexer (private). It follows PostgreSQL's scanner (src/backend/parser/scan.l)
// closely enough to know where every token begins and ends: nested /* */ comments, -- comments,
// '...' strings (with or without standard_conforming_strings, continued across a newline as
// 'a'\n'b' in the same mode), E'...' strings with backslash escapes, B'', X'', N'' and U&''
// strings, dollar quotes with tags, "..." and U&"..." quoted
// identifiers, identifiers that contain '$' (col$1), and $n parameters only as a token of their
// own. Everything that reads SQL text in pgkit goes through it: raw filter renumbering, the
// session-state analysis behind reset_policy::when_dirty, and statement splitting.
//
// It does not allocate and never fails midway: an unterminated string, quoted identifier, dollar
// quote or comment ends the token stream with lexer::failure() set.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pgkit::detail::sql {

enum class token_kind : std::uint8_t {
    whitespace,
    line_comment,       ///< -- ... up to the end of the line
    block_comment,      ///< /* ... */, nested
    identifier,         ///< an unquoted word: a keyword or a name (case-insensitive)
    quoted_identifier,  ///< "..." or U&"..."
    string,             ///< '...', E'...', B'...', X'...', N'...', U&'...'
    dollar_string,      ///< $tag$ ... $tag$
    parameter,          ///< $1, $2, ...
    number,
    op,           ///< an operator: + - * / < > = ~ ! @ # % ^ & | ` ? and their runs, ::, :=, =>
    punctuation,  ///< ( ) [ ] , ; : .
};

enum class lex_failure : std::uint8_t {
    none,
    unterminated_string,
    unterminated_quoted_identifier,
    unterminated_dollar_string,
    unterminated_comment,
};

/// A short English description ("unterminated quoted string").
[[nodiscard]] std::string_view to_string(lex_failure failure) noexcept;

struct token {
    token_kind kind = token_kind::whitespace;
    std::size_t begin = 0;  ///< offset of the first byte in the text
    std::size_t end = 0;    ///< one past the last byte

    [[nodiscard]] std::string_view text(std::string_view sql) const noexcept {
        return sql.substr(begin, end - begin);
    }
    /// Whitespace or a comment: nothing the server parses.
    [[nodiscard]] bool is_blank() const noexcept {
        return kind == token_kind::whitespace || kind == token_kind::line_comment ||
               kind == token_kind::block_comment;
    }
};

struct lexer_options {
    /// The server setting of the same name (on by default since PostgreSQL 9.1): when off,
    /// backslash escapes in plain '...' strings too.
    bool standard_conforming_strings = true;
};

/// Splits SQL text into tokens, front to back.
class lexer {
  public:
    explicit lexer(std::string_view sql, lexer_options options = {}) noexcept
        : sql_(sql), options_(options) {}

    /// The next token, or nullopt at the end of the text or after a failure.
    [[nodiscard]] std::optional<token> next() noexcept;
    /// The next token that is not whitespace or a comment.
    [[nodiscard]] std::optional<token> next_significant() noexcept;

    /// Why the token stream ended early; lex_failure::none after a clean end.
    [[nodiscard]] lex_failure failure() const noexcept { return failure_; }
    /// Where the failing token began (meaningful when failure() is set).
    [[nodiscard]] std::size_t failure_offset() const noexcept { return failure_at_; }
    [[nodiscard]] std::string_view source() const noexcept { return sql_; }

  private:
    [[nodiscard]] std::optional<token> fail(lex_failure why, std::size_t at) noexcept;
    [[nodiscard]] std::size_t scan_quoted(std::size_t from, char quote, bool escapes) noexcept;
    [[nodiscard]] std::optional<std::size_t> dollar_tag_end(std::size_t from) const noexcept;
    /// Where the quote of a string literal's continuation is, when one follows `from`.
    [[nodiscard]] std::optional<std::size_t> continuation_quote(std::size_t from) const noexcept;

    std::string_view sql_;
    lexer_options options_;
    std::size_t pos_ = 0;
    lex_failure failure_ = lex_failure::none;
    std::size_t failure_at_ = 0;
};

/// The number of a parameter token ($12 -> 12); nullopt when it does not fit in 32 bits.
[[nodiscard]] std::optional<std::uint32_t> parameter_number(std::string_view token_text) noexcept;

/// True when an identifier or quoted identifier token names `word` (ASCII, compared
/// case-insensitively for both: a quoted "SET_CONFIG" is treated like set_config, which errs on
/// the side of noticing).
[[nodiscard]] bool names(const token& t, std::string_view sql, std::string_view word) noexcept;

}  // namespace pgkit::detail::sql
