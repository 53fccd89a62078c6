#include "pool/session_state.hpp"

#include "ascii_text.hpp"

#include <array>
#include <cstddef>

namespace pgkit::detail {
namespace {

bool is_word_start(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

bool is_word_char(char c) noexcept {
    return is_word_start(c) || (c >= '0' && c <= '9') || c == '$';
}

bool is_any_of(std::string_view word, std::initializer_list<std::string_view> uppers) noexcept {
    for (std::string_view candidate : uppers) {
        if (iequals(word, candidate)) {
            return true;
        }
    }
    return false;
}

/// Per-statement state while scanning.
struct statement_scan {
    std::string_view first;
    std::string_view second;
    std::size_t words = 0;
    bool mentions_temp = false;
    bool dirty = false;

    void add_word(std::string_view word) noexcept {
        if (words == 0) {
            first = word;
        } else if (words == 1) {
            second = word;
        }
        ++words;
        if (is_any_of(word, {"TEMP", "TEMPORARY", "PG_TEMP"})) {
            mentions_temp = true;
        }
        if (is_any_of(word, {"SET_CONFIG", "PG_ADVISORY_LOCK", "PG_ADVISORY_LOCK_SHARED",
                             "PG_TRY_ADVISORY_LOCK", "PG_TRY_ADVISORY_LOCK_SHARED"})) {
            dirty = true;
        }
    }

    [[nodiscard]] bool leaves_state() const noexcept {
        if (dirty) {
            return true;
        }
        if (words == 0) {
            return false;
        }
        if (iequals(first, "SET")) {
            return !is_any_of(second, {"LOCAL", "TRANSACTION", "CONSTRAINTS"});
        }
        if (is_any_of(first, {"LISTEN", "PREPARE", "DECLARE", "DO", "LOAD"})) {
            return true;
        }
        return mentions_temp && is_any_of(first, {"CREATE", "SELECT", "WITH"});
    }
};

/// Skips a dollar-quoted string starting at `i` (which is at the opening '$'); returns the
/// index after it, or npos when `i` does not start a dollar quote.
std::size_t skip_dollar_quote(std::string_view sql, std::size_t i) noexcept {
    std::size_t j = i + 1;
    while (j < sql.size() && sql[j] != '$') {
        if (!is_word_char(sql[j]) || sql[j] == '$') {
            return std::string_view::npos;
        }
        ++j;
    }
    if (j >= sql.size()) {
        return std::string_view::npos;
    }
    const std::string_view tag = sql.substr(i, j - i + 1);  // "$tag$"
    const std::size_t close = sql.find(tag, j + 1);
    return close == std::string_view::npos ? sql.size() : close + tag.size();
}

}  // namespace

bool may_leave_session_state(std::string_view sql) noexcept {
    statement_scan statement;
    std::size_t i = 0;
    const std::size_t n = sql.size();
    while (i < n) {
        const char c = sql[i];
        if (c == ';') {
            if (statement.leaves_state()) {
                return true;
            }
            statement = {};
            ++i;
        } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            const std::size_t eol = sql.find('\n', i);
            i = eol == std::string_view::npos ? n : eol + 1;
        } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            int depth = 1;  // block comments nest in PostgreSQL
            i += 2;
            while (i < n && depth > 0) {
                if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
                    ++depth;
                    i += 2;
                } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
                    --depth;
                    i += 2;
                } else {
                    ++i;
                }
            }
        } else if (c == '\'') {
            // E'...' strings treat backslash as an escape; others only double the quote.
            const bool escapes = i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                                 (i < 2 || !is_word_char(sql[i - 2]));
            ++i;
            while (i < n) {
                if (escapes && sql[i] == '\\') {
                    i += 2;
                } else if (sql[i] == '\'') {
                    if (i + 1 < n && sql[i + 1] == '\'') {
                        i += 2;
                    } else {
                        ++i;
                        break;
                    }
                } else {
                    ++i;
                }
            }
        } else if (c == '"') {
            const std::size_t close = sql.find('"', i + 1);
            i = close == std::string_view::npos ? n : close + 1;
            statement.words += statement.words == 0 ? 0 : 1;  // a quoted name is not a keyword
        } else if (c == '$' && (i == 0 || !is_word_char(sql[i - 1])) && i + 1 < n &&
                   !(sql[i + 1] >= '0' && sql[i + 1] <= '9')) {
            const std::size_t end = skip_dollar_quote(sql, i);
            i = end == std::string_view::npos ? i + 1 : end;
        } else if (is_word_start(c)) {
            std::size_t j = i + 1;
            while (j < n && is_word_char(sql[j])) {
                ++j;
            }
            statement.add_word(sql.substr(i, j - i));
            i = j;
        } else {
            ++i;
        }
    }
    return statement.leaves_state();
}

bool is_cache_statement_name(std::string_view name) noexcept {
    return name.starts_with("pgkit_");
}

}  // namespace pgkit::detail
