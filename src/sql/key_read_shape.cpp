#include "sql/key_read_shape.hpp"

#include "ascii_text.hpp"

#include <optional>

namespace pgkit::detail::sql {
namespace {

/// Reads the significant tokens of one text, front to back, with one token of lookahead.
class reader {
  public:
    reader(std::string_view sql, lexer_options options) noexcept
        : tokens_(sql, options), next_(tokens_.next_significant()) {}

    /// Takes the next token when it is the keyword `word` (an unquoted identifier).
    bool keyword(std::string_view word) noexcept {
        return take(is(token_kind::identifier) && iequals(text(), word));
    }
    /// Takes the next token when it is the punctuation or operator `symbol`.
    bool symbol(std::string_view symbol) noexcept {
        return take((is(token_kind::punctuation) || is(token_kind::op)) && text() == symbol);
    }
    /// Takes the next token when it is a name: an identifier other than a keyword of the shape,
    /// or a quoted identifier that is not U&"..." (whose name is whatever its escapes spell).
    bool name() noexcept {
        return take((is(token_kind::identifier) && !is_shape_keyword(text())) ||
                    (is(token_kind::quoted_identifier) && text().front() == '"'));
    }
    /// Takes the next token when it is a parameter ($n).
    bool parameter() noexcept { return take(is(token_kind::parameter)); }
    /// True at the end of the text, which lexed cleanly.
    [[nodiscard]] bool at_clean_end() const noexcept {
        return !next_ && tokens_.failure() == lex_failure::none;
    }

  private:
    [[nodiscard]] bool is(token_kind kind) const noexcept { return next_ && next_->kind == kind; }
    /// Precondition: a next token.
    [[nodiscard]] std::string_view text() const noexcept { return next_->text(tokens_.source()); }
    /// Moves past the next token when `matches`; returns `matches`.
    bool take(bool matches) noexcept {
        if (matches) {
            next_ = tokens_.next_significant();
        }
        return matches;
    }
    static bool is_shape_keyword(std::string_view word) noexcept {
        for (std::string_view keyword :
             {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IS", "NULL", "ANY", "ONLY"}) {
            if (iequals(word, keyword)) {
                return true;
            }
        }
        return false;
    }

    lexer tokens_;
    std::optional<token> next_;
};

/// column = $n | column = ANY ($n) | column IS [NOT] NULL
bool condition(reader& in) noexcept {
    if (!in.name()) {
        return false;
    }
    if (in.symbol("=")) {
        return in.parameter() ||
               (in.keyword("ANY") && in.symbol("(") && in.parameter() && in.symbol(")"));
    }
    if (in.keyword("IS")) {
        (void)in.keyword("NOT");
        return in.keyword("NULL");
    }
    return false;
}

}  // namespace

bool has_key_read_shape(std::string_view sql, lexer_options options) noexcept {
    reader in{sql, options};
    if (!in.keyword("SELECT")) {
        return false;
    }
    if (!in.symbol("*")) {
        do {
            if (!in.name()) {
                return false;
            }
        } while (in.symbol(","));
    }
    if (!in.keyword("FROM") || !in.name()) {
        return false;
    }
    if (in.symbol(".") && !in.name()) {
        return false;
    }
    if (!in.keyword("WHERE")) {
        return false;
    }
    do {
        if (!condition(in)) {
            return false;
        }
    } while (in.keyword("AND"));
    (void)in.symbol(";");
    return in.at_clean_end();
}

}  // namespace pgkit::detail::sql
