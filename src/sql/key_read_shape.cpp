#include "sql/key_read_shape.hpp"

#include "ascii_text.hpp"

#include <algorithm>
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
    /// Takes the next token when it is a parameter ($n) numbered up to key_read_max_parameter.
    bool parameter() noexcept {
        if (!is(token_kind::parameter)) {
            return false;
        }
        const auto number = parameter_number(text());
        if (!number || *number == 0 || *number > key_read_max_parameter) {
            return false;
        }
        last_parameter_ = std::max(last_parameter_, static_cast<int>(*number));
        return take(true);
    }
    /// True at the end of the text, which lexed cleanly.
    [[nodiscard]] bool at_clean_end() const noexcept {
        return !next_ && tokens_.failure() == lex_failure::none;
    }
    /// One past the last token taken.
    [[nodiscard]] std::size_t taken_end() const noexcept { return taken_end_; }
    /// The highest parameter number taken (0 when none).
    [[nodiscard]] int last_parameter() const noexcept { return last_parameter_; }

  private:
    [[nodiscard]] bool is(token_kind kind) const noexcept { return next_ && next_->kind == kind; }
    /// Precondition: a next token.
    [[nodiscard]] std::string_view text() const noexcept { return next_->text(tokens_.source()); }
    /// Moves past the next token when `matches`; returns `matches`.
    bool take(bool matches) noexcept {
        if (matches) {
            taken_end_ = next_->end;
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
    std::size_t taken_end_ = 0;
    int last_parameter_ = 0;
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

std::optional<key_read_shape> read_key_read_shape(std::string_view sql,
                                                  lexer_options options) noexcept {
    reader in{sql, options};
    if (!in.keyword("SELECT")) {
        return std::nullopt;
    }
    if (!in.symbol("*")) {
        do {
            if (!in.name()) {
                return std::nullopt;
            }
        } while (in.symbol(","));
    }
    if (!in.keyword("FROM") || !in.name()) {
        return std::nullopt;
    }
    if (in.symbol(".") && !in.name()) {
        return std::nullopt;
    }
    if (!in.keyword("WHERE")) {
        return std::nullopt;
    }
    do {
        if (!condition(in)) {
            return std::nullopt;
        }
    } while (in.keyword("AND"));
    const key_read_shape shape{in.taken_end(), in.last_parameter()};
    (void)in.symbol(";");
    if (!in.at_clean_end()) {
        return std::nullopt;
    }
    return shape;
}

bool has_key_read_shape(std::string_view sql, lexer_options options) noexcept {
    return read_key_read_shape(sql, options).has_value();
}

}  // namespace pgkit::detail::sql
