#include "sql/statement_kind.hpp"

#include "ascii_text.hpp"

#include <array>

namespace pgkit::detail::sql {
namespace {

constexpr std::array<std::string_view, 8> query_keywords{"SELECT", "INSERT", "UPDATE", "DELETE",
                                                         "MERGE",  "WITH",   "VALUES", "TABLE"};

bool is_query_keyword(std::string_view word) noexcept {
    for (std::string_view keyword : query_keywords) {
        if (iequals(word, keyword)) {
            return true;
        }
    }
    return false;
}

}  // namespace

statement_kind kind_of_statement(std::string_view sql, lexer_options options) noexcept {
    lexer tokens{sql, options};
    auto first = tokens.next_significant();
    if (!first) {
        // No statement at all (an empty query, such as a pool's liveness probe).
        return tokens.failure() == lex_failure::none ? statement_kind::query
                                                     : statement_kind::other;
    }
    if (first->kind != token_kind::identifier) {
        return statement_kind::other;
    }
    const std::string_view word = first->text(sql);
    statement_kind kind = statement_kind::other;
    if (is_query_keyword(word)) {
        kind = statement_kind::query;
    } else if (iequals(word, "BEGIN") || iequals(word, "START")) {
        kind = statement_kind::begin;
    } else {
        return statement_kind::other;
    }
    // One statement: nothing significant after a top-level semicolon.
    bool ended = false;
    while (auto t = tokens.next_significant()) {
        if (ended) {
            return statement_kind::other;
        }
        ended = t->kind == token_kind::punctuation && t->text(sql) == ";";
    }
    if (tokens.failure() != lex_failure::none) {
        return statement_kind::other;
    }
    return kind;
}

}  // namespace pgkit::detail::sql
