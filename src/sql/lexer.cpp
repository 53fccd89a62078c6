#include "sql/lexer.hpp"

#include "ascii_text.hpp"

namespace pgkit::detail::sql {
namespace {

[[nodiscard]] constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

[[nodiscard]] constexpr bool is_ident_start(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

[[nodiscard]] constexpr bool is_ident_cont(char c) noexcept {
    return is_ident_start(c) || is_digit(c) || c == '$';
}

/// A dollar-quote tag character (identifiers' characters without '$').
[[nodiscard]] constexpr bool is_tag_cont(char c) noexcept {
    return is_ident_start(c) || is_digit(c);
}

[[nodiscard]] constexpr bool is_op_char(char c) noexcept {
    switch (c) {
        case '~':
        case '!':
        case '@':
        case '#':
        case '^':
        case '&':
        case '|':
        case '`':
        case '?':
        case '+':
        case '-':
        case '*':
        case '/':
        case '%':
        case '<':
        case '>':
        case '=':
            return true;
        default:
            return false;
    }
}

[[nodiscard]] constexpr char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

std::string_view to_string(lex_failure failure) noexcept {
    switch (failure) {
        case lex_failure::none:
            return "no failure";
        case lex_failure::unterminated_string:
            return "unterminated quoted string";
        case lex_failure::unterminated_quoted_identifier:
            return "unterminated quoted identifier";
        case lex_failure::unterminated_dollar_string:
            return "unterminated dollar-quoted string";
        case lex_failure::unterminated_comment:
            return "unterminated /* comment";
    }
    return "unknown failure";
}

std::optional<token> lexer::fail(lex_failure why, std::size_t at) noexcept {
    failure_ = why;
    failure_at_ = at;
    pos_ = sql_.size();
    return std::nullopt;
}

std::size_t lexer::scan_quoted(std::size_t from, char quote, bool escapes) noexcept {
    // `from` is just past the opening quote. Returns the offset just past the closing quote, or
    // npos when the text ends first. A doubled quote stands for one quote.
    std::size_t i = from;
    const std::size_t n = sql_.size();
    while (i < n) {
        const char c = sql_[i];
        if (escapes && c == '\\') {
            i += 2;  // the escaped character, whatever it is (a quote included)
            continue;
        }
        if (c == quote) {
            if (i + 1 < n && sql_[i + 1] == quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        ++i;
    }
    return std::string_view::npos;
}

std::optional<std::size_t> lexer::continuation_quote(std::size_t from) const noexcept {
    // scan.l's quotecontinue: horizontal blanks, a newline, then any blanks or -- comments (each
    // ended by a newline), then a quote.
    const std::size_t n = sql_.size();
    std::size_t i = from;
    while (i < n && (sql_[i] == ' ' || sql_[i] == '\t' || sql_[i] == '\f')) {
        ++i;
    }
    if (i >= n || (sql_[i] != '\n' && sql_[i] != '\r')) {
        return std::nullopt;
    }
    ++i;
    for (;;) {
        while (i < n && is_space(sql_[i])) {
            ++i;
        }
        if (i + 1 < n && sql_[i] == '-' && sql_[i + 1] == '-') {
            while (i < n && sql_[i] != '\n' && sql_[i] != '\r') {
                ++i;
            }
            if (i >= n) {
                return std::nullopt;
            }
            continue;
        }
        break;
    }
    if (i < n && sql_[i] == '\'') {
        return i;
    }
    return std::nullopt;
}

std::optional<std::size_t> lexer::dollar_tag_end(std::size_t from) const noexcept {
    // `from` is at a '$' not followed by a digit. A tag is `$$` or `$name$` with name an
    // identifier without '$'. Returns the offset just past the opening delimiter.
    std::size_t i = from + 1;
    const std::size_t n = sql_.size();
    if (i < n && is_ident_start(sql_[i])) {
        ++i;
        while (i < n && is_tag_cont(sql_[i])) {
            ++i;
        }
    }
    if (i < n && sql_[i] == '$') {
        return i + 1;
    }
    return std::nullopt;
}

std::optional<token> lexer::next() noexcept {
    const std::size_t n = sql_.size();
    if (pos_ >= n) {
        return std::nullopt;
    }
    const std::size_t start = pos_;
    const char c = sql_[start];
    const char c1 = start + 1 < n ? sql_[start + 1] : '\0';
    auto emit = [&](token_kind kind, std::size_t end) {
        pos_ = end;
        return std::optional<token>{token{kind, start, end}};
    };
    auto string_from = [&](std::size_t quote_at, bool escapes) -> std::optional<token> {
        // A literal goes on in another '...' after blanks that hold a newline ('a'\n'b' is
        // 'ab'), in the same mode: after E'...' the continuation has backslash escapes too.
        for (;;) {
            const std::size_t end = scan_quoted(quote_at + 1, '\'', escapes);
            if (end == std::string_view::npos) {
                return fail(lex_failure::unterminated_string, start);
            }
            const auto next_quote = continuation_quote(end);
            if (!next_quote) {
                return emit(token_kind::string, end);
            }
            quote_at = *next_quote;
        }
    };

    if (is_space(c)) {
        std::size_t i = start + 1;
        while (i < n && is_space(sql_[i])) {
            ++i;
        }
        return emit(token_kind::whitespace, i);
    }
    if (c == '-' && c1 == '-') {
        std::size_t i = start + 2;
        while (i < n && sql_[i] != '\n' && sql_[i] != '\r') {
            ++i;
        }
        return emit(token_kind::line_comment, i);
    }
    if (c == '/' && c1 == '*') {
        std::size_t depth = 1;
        std::size_t i = start + 2;
        while (i < n) {
            if (sql_[i] == '/' && i + 1 < n && sql_[i + 1] == '*') {
                ++depth;
                i += 2;
            } else if (sql_[i] == '*' && i + 1 < n && sql_[i + 1] == '/') {
                i += 2;
                if (--depth == 0) {
                    return emit(token_kind::block_comment, i);
                }
            } else {
                ++i;
            }
        }
        return fail(lex_failure::unterminated_comment, start);
    }
    if (c == '\'') {
        return string_from(start, !options_.standard_conforming_strings);
    }
    if (c1 == '\'') {
        switch (lower(c)) {
            case 'e':
                return string_from(start + 1, true);
            case 'b':
            case 'x':
            case 'n':
                return string_from(start + 1, !options_.standard_conforming_strings);
            default:
                break;
        }
    }
    if ((c == 'u' || c == 'U') && c1 == '&' && start + 2 < n &&
        (sql_[start + 2] == '\'' || sql_[start + 2] == '"')) {
        if (sql_[start + 2] == '\'') {
            return string_from(start + 2, false);
        }
        const std::size_t end = scan_quoted(start + 3, '"', false);
        if (end == std::string_view::npos) {
            return fail(lex_failure::unterminated_quoted_identifier, start);
        }
        return emit(token_kind::quoted_identifier, end);
    }
    if (c == '"') {
        const std::size_t end = scan_quoted(start + 1, '"', false);
        if (end == std::string_view::npos) {
            return fail(lex_failure::unterminated_quoted_identifier, start);
        }
        return emit(token_kind::quoted_identifier, end);
    }
    if (c == '$') {
        if (is_digit(c1)) {
            std::size_t i = start + 1;
            while (i < n && is_digit(sql_[i])) {
                ++i;
            }
            return emit(token_kind::parameter, i);
        }
        if (auto body = dollar_tag_end(start)) {
            const std::string_view delimiter = sql_.substr(start, *body - start);
            const std::size_t close = sql_.find(delimiter, *body);
            if (close == std::string_view::npos) {
                return fail(lex_failure::unterminated_dollar_string, start);
            }
            return emit(token_kind::dollar_string, close + delimiter.size());
        }
        return emit(token_kind::op, start + 1);  // a lone '$': the server rejects it
    }
    if (is_ident_start(c)) {
        std::size_t i = start + 1;
        while (i < n && is_ident_cont(sql_[i])) {
            ++i;
        }
        return emit(token_kind::identifier, i);
    }
    if (is_digit(c) || (c == '.' && is_digit(c1))) {
        std::size_t i = start;
        while (i < n && is_digit(sql_[i])) {
            ++i;
        }
        // "1..2" is 1 followed by "..": a decimal point must not be followed by another.
        if (i < n && sql_[i] == '.' && !(i + 1 < n && sql_[i + 1] == '.')) {
            ++i;
            while (i < n && is_digit(sql_[i])) {
                ++i;
            }
        }
        if (i < n && (sql_[i] == 'e' || sql_[i] == 'E')) {
            std::size_t j = i + 1;
            if (j < n && (sql_[j] == '+' || sql_[j] == '-')) {
                ++j;
            }
            if (j < n && is_digit(sql_[j])) {
                while (j < n && is_digit(sql_[j])) {
                    ++j;
                }
                i = j;
            }
        }
        return emit(token_kind::number, i);
    }
    if (c == ':') {
        if (c1 == ':' || c1 == '=') {
            return emit(token_kind::op, start + 2);
        }
        return emit(token_kind::punctuation, start + 1);
    }
    switch (c) {
        case '(':
        case ')':
        case '[':
        case ']':
        case ',':
        case ';':
        case '.':
            return emit(token_kind::punctuation, start + 1);
        default:
            break;
    }
    if (is_op_char(c)) {
        // A run of operator characters, ending before anything that starts a comment.
        std::size_t i = start + 1;
        while (i < n && is_op_char(sql_[i])) {
            const char here = sql_[i];
            const char after = i + 1 < n ? sql_[i + 1] : '\0';
            if ((here == '-' && after == '-') || (here == '/' && after == '*')) {
                break;
            }
            ++i;
        }
        return emit(token_kind::op, i);
    }
    return emit(token_kind::op, start + 1);  // any other byte: one token the server rejects
}

std::optional<token> lexer::next_significant() noexcept {
    for (;;) {
        auto t = next();
        if (!t || !t->is_blank()) {
            return t;
        }
    }
}

std::optional<std::uint32_t> parameter_number(std::string_view token_text) noexcept {
    if (token_text.size() < 2 || token_text.front() != '$') {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    for (const char c : token_text.substr(1)) {
        if (!is_digit(c)) {
            return std::nullopt;
        }
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
        if (value > 0xFFFF'FFFFULL) {
            return std::nullopt;
        }
    }
    return static_cast<std::uint32_t>(value);
}

bool names(const token& t, std::string_view sql, std::string_view word) noexcept {
    std::string_view text = t.text(sql);
    if (t.kind == token_kind::quoted_identifier) {
        if (text.size() < 2 || text.front() != '"') {
            return false;  // U&"..." names are never the ASCII words pgkit looks for
        }
        text = text.substr(1, text.size() - 2);
        if (text.find('"') != std::string_view::npos) {
            return false;  // a doubled quote: not a plain word
        }
    } else if (t.kind != token_kind::identifier) {
        return false;
    }
    return iequals(text, word);
}

}  // namespace pgkit::detail::sql
