#include "migrate/statements.hpp"

#include "ascii_text.hpp"
#include "sql/lexer.hpp"

#include <algorithm>
#include <optional>

namespace pgkit::detail::migrate {
namespace {

using sql::lexer;
using sql::token;
using sql::token_kind;

bool is_word(const token& t, std::string_view text, std::string_view word) noexcept {
    return t.kind == token_kind::identifier && iequals(t.text(text), word);
}

std::size_t line_at(std::string_view text, std::size_t offset) noexcept {
    return 1 + static_cast<std::size_t>(std::count(
                   text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

/// The significant tokens of one statement, with its text.
struct raw_statement {
    std::vector<token> tokens;
    std::size_t begin = 0;
    std::size_t end = 0;
};

bool is_transaction_control(const raw_statement& s, std::string_view text) {
    const token& first = s.tokens.front();
    for (std::string_view word :
         {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE"}) {
        if (is_word(first, text, word)) {
            return true;
        }
    }
    return s.tokens.size() >= 2 && is_word(first, text, "PREPARE") &&
           is_word(s.tokens[1], text, "TRANSACTION");
}

bool has_word(const raw_statement& s, std::string_view text, std::string_view word) {
    return std::any_of(s.tokens.begin(), s.tokens.end(),
                       [&](const token& t) { return is_word(t, text, word); });
}

/// The name of CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name ON ..., as written.
std::string concurrent_index_name(const raw_statement& s, std::string_view text) {
    std::size_t i = 0;
    while (i < s.tokens.size() && !is_word(s.tokens[i], text, "CONCURRENTLY")) {
        ++i;
    }
    ++i;
    if (i + 2 < s.tokens.size() && is_word(s.tokens[i], text, "IF") &&
        is_word(s.tokens[i + 1], text, "NOT") && is_word(s.tokens[i + 2], text, "EXISTS")) {
        i += 3;
    }
    if (i >= s.tokens.size() || is_word(s.tokens[i], text, "ON")) {
        return {};  // no name: the server picks one
    }
    const std::size_t first = i;
    std::size_t last = i;
    while (last + 2 < s.tokens.size() && s.tokens[last + 1].text(text) == "." &&
           s.tokens[last + 2].kind != token_kind::punctuation) {
        last += 2;
    }
    const auto is_name = [](const token& t) {
        return t.kind == token_kind::identifier || t.kind == token_kind::quoted_identifier;
    };
    if (!is_name(s.tokens[first]) || !is_name(s.tokens[last])) {
        return {};
    }
    return std::string{
        text.substr(s.tokens[first].begin, s.tokens[last].end - s.tokens[first].begin)};
}

void classify(section_statement& out,
              const raw_statement& s,
              std::string_view text,
              int server_version) {
    const auto word = [&](std::size_t i, std::string_view w) {
        return i < s.tokens.size() && is_word(s.tokens[i], text, w);
    };
    const bool concurrently = has_word(s, text, "CONCURRENTLY");
    if (word(0, "CREATE") && concurrently &&
        (word(1, "INDEX") || (word(1, "UNIQUE") && word(2, "INDEX")))) {
        out.kind = statement_class::non_transactional;
        out.long_timeout = true;
        out.concurrent_index = concurrent_index_name(s, text);
        return;
    }
    if (concurrently && (word(0, "REINDEX") || (word(0, "DROP") && word(1, "INDEX")) ||
                         (word(0, "ALTER") && word(1, "TABLE") && has_word(s, text, "DETACH")))) {
        out.kind = statement_class::non_transactional;
        out.long_timeout = true;
        return;
    }
    if (word(0, "VACUUM") || (word(0, "ALTER") && word(1, "SYSTEM")) ||
        ((word(0, "CREATE") || word(0, "DROP")) &&
         (word(1, "DATABASE") || word(1, "TABLESPACE")))) {
        out.kind = statement_class::non_transactional;
        return;
    }
    if (word(0, "ALTER") && word(1, "TYPE") && has_word(s, text, "ADD") &&
        has_word(s, text, "VALUE") && server_version != 0 && server_version < 120000) {
        out.kind = statement_class::non_transactional;
        return;
    }
    if (word(0, "ALTER") && has_word(s, text, "VALIDATE") && has_word(s, text, "CONSTRAINT")) {
        out.kind = statement_class::long_wait;
        out.long_timeout = true;
    }
}

}  // namespace

tl::expected<std::vector<section_statement>, section_error> split_section(std::string_view sql,
                                                                          int server_version) {
    std::vector<raw_statement> raw;
    raw_statement current;
    // Inside BEGIN ATOMIC ... END (a SQL-standard function body) semicolons do not end the
    // statement; CASE ... END nests inside it.
    int atomic_depth = 0;
    int case_depth = 0;
    lexer tokens{sql};
    while (auto t = tokens.next_significant()) {
        const bool semicolon = t->kind == token_kind::punctuation && t->text(sql) == ";";
        if (semicolon && atomic_depth == 0) {
            if (!current.tokens.empty()) {
                raw.push_back(std::move(current));
            }
            current = raw_statement{};
            continue;
        }
        if (atomic_depth > 0) {
            if (is_word(*t, sql, "CASE")) {
                ++case_depth;
            } else if (is_word(*t, sql, "END")) {
                if (case_depth > 0) {
                    --case_depth;
                } else {
                    --atomic_depth;
                }
            }
        }
        if (is_word(*t, sql, "ATOMIC") && !current.tokens.empty() &&
            is_word(current.tokens.back(), sql, "BEGIN")) {
            ++atomic_depth;
        }
        if (current.tokens.empty()) {
            current.begin = t->begin;
        }
        current.end = t->end;
        current.tokens.push_back(*t);
    }
    if (tokens.failure() != sql::lex_failure::none) {
        return tl::unexpected(section_error{line_at(sql, tokens.failure_offset()),
                                            std::string{sql::to_string(tokens.failure())}});
    }
    if (!current.tokens.empty()) {
        raw.push_back(std::move(current));
    }

    // The template's BEGIN; ... COMMIT; around the whole section.
    if (raw.size() >= 2 &&
        (is_word(raw.front().tokens.front(), sql, "BEGIN") ||
         is_word(raw.front().tokens.front(), sql, "START")) &&
        (is_word(raw.back().tokens.front(), sql, "COMMIT") ||
         is_word(raw.back().tokens.front(), sql, "END")) &&
        raw.back().tokens.size() <= 2) {
        raw.erase(raw.end() - 1);
        raw.erase(raw.begin());
    }

    std::vector<section_statement> out;
    out.reserve(raw.size());
    for (const raw_statement& s : raw) {
        if (is_transaction_control(s, sql)) {
            return tl::unexpected(section_error{
                line_at(sql, s.begin),
                "transaction control (" + std::string{s.tokens.front().text(sql)} +
                    ") inside a section: the runner opens and ends the transactions itself (only "
                    "one BEGIN first and one COMMIT last, around the whole section, are "
                    "accepted and dropped)"});
        }
        section_statement statement;
        statement.text = std::string{sql.substr(s.begin, s.end - s.begin)};
        statement.line = line_at(sql, s.begin);
        classify(statement, s, sql, server_version);
        out.push_back(std::move(statement));
    }
    return out;
}

}  // namespace pgkit::detail::migrate
