#include "sql/session_effects.hpp"

#include "ascii_text.hpp"

#include <array>
#include <initializer_list>

namespace pgkit::detail::sql {
namespace {

/// Built-in functions whose effect outlives the transaction that calls them.
constexpr std::array<std::string_view, 8> session_state_functions{
    "set_config",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "setseed",
    "dblink_connect",
    "dblink_connect_u",
};

/// Statement kinds (first keyword) that leave nothing behind once their transaction ends,
/// unless one of the per-statement checks below says otherwise.
constexpr std::array<std::string_view, 42> clean_kinds{
    "SELECT",    "INSERT",     "UPDATE",  "DELETE",   "MERGE",      "VALUES",   "TABLE",
    "WITH",      "BEGIN",      "START",   "COMMIT",   "END",        "ROLLBACK", "ABORT",
    "SAVEPOINT", "RELEASE",    "SHOW",    "COPY",     "ALTER",      "DROP",     "TRUNCATE",
    "LOCK",      "ANALYZE",    "ANALYSE", "VACUUM",   "CLUSTER",    "REINDEX",  "REFRESH",
    "COMMENT",   "GRANT",      "REVOKE",  "SECURITY", "NOTIFY",     "FETCH",    "MOVE",
    "CLOSE",     "CHECKPOINT", "IMPORT",  "REASSIGN", "DEALLOCATE", "UNLISTEN", "DISCARD",
};

bool is_any_of(std::string_view word, std::initializer_list<std::string_view> candidates) noexcept {
    for (std::string_view candidate : candidates) {
        if (iequals(word, candidate)) {
            return true;
        }
    }
    return false;
}

template <std::size_t N>
bool is_any_of(std::string_view word, const std::array<std::string_view, N>& candidates) noexcept {
    for (std::string_view candidate : candidates) {
        if (iequals(word, candidate)) {
            return true;
        }
    }
    return false;
}

/// What one statement has shown so far.
class statement_scan {
  public:
    void add(const token& t, std::string_view sql) noexcept {
        if (t.kind == token_kind::quoted_identifier) {
            const std::string_view text = t.text(sql);
            if (text.front() != '"') {
                dirty_ = true;  // U&"..." can spell any name: pgkit does not decode it
            } else if (names(t, sql, "pg_temp")) {
                dirty_ = true;
            } else {
                note_function_name(t, sql);
            }
            previous_was_into_ = false;
            return;
        }
        if (t.kind == token_kind::punctuation) {
            note_punctuation(t.text(sql));
            return;
        }
        if (t.kind != token_kind::identifier) {
            previous_was_into_ = false;
            return;
        }
        const std::string_view word = t.text(sql);
        note_function_name(t, sql);
        if (iequals(word, "pg_temp")) {
            dirty_ = true;
        }
        const bool temp = is_any_of(word, {"TEMP", "TEMPORARY"});
        if (temp && previous_was_into_) {
            dirty_ = true;  // SELECT ... INTO TEMP t
        }
        temp_ = temp_ || temp;
        hold_ = hold_ || iequals(word, "HOLD");
        previous_was_into_ = iequals(word, "INTO");
        if (explain_options_depth_ > 0) {
            return;
        }
        if (in_explain_prefix_) {
            if (is_any_of(word, {"ANALYZE", "ANALYSE", "VERBOSE"})) {
                return;
            }
            in_explain_prefix_ = false;
        }
        if (words_ == 0 && iequals(word, "EXPLAIN")) {
            in_explain_prefix_ = true;  // the statement explained decides: EXPLAIN ANALYZE runs it
            return;
        }
        if (words_ == 0) {
            first_ = word;
        } else if (words_ == 1) {
            second_ = word;
        }
        ++words_;
    }

    [[nodiscard]] bool leaves_state() const noexcept {
        if (dirty_) {
            return true;
        }
        if (words_ == 0) {
            return in_explain_prefix_;  // "EXPLAIN" alone does not parse; be safe anyway
        }
        if (iequals(first_, "CREATE")) {
            return temp_;
        }
        if (iequals(first_, "DECLARE")) {
            return hold_;  // WITH HOLD outlives the transaction; other cursors close with it
        }
        if (iequals(first_, "PREPARE")) {
            return !iequals(second_, "TRANSACTION");
        }
        if (iequals(first_, "SET")) {
            return !is_any_of(second_, {"LOCAL", "TRANSACTION", "CONSTRAINTS"});
        }
        return !is_any_of(first_, clean_kinds);
    }

  private:
    void note_function_name(const token& t, std::string_view sql) noexcept {
        for (std::string_view name : session_state_functions) {
            if (names(t, sql, name)) {
                dirty_ = true;
                return;
            }
        }
    }

    void note_punctuation(std::string_view text) noexcept {
        previous_was_into_ = false;
        if (!in_explain_prefix_) {
            return;
        }
        if (text == "(") {
            ++explain_options_depth_;
        } else if (text == ")" && explain_options_depth_ > 0) {
            --explain_options_depth_;
        }
    }

    std::string_view first_;
    std::string_view second_;
    std::size_t words_ = 0;
    std::size_t explain_options_depth_ = 0;
    bool in_explain_prefix_ = false;
    bool previous_was_into_ = false;
    bool temp_ = false;
    bool hold_ = false;
    bool dirty_ = false;
};

}  // namespace

bool may_leave_session_state(std::string_view sql, lexer_options options) noexcept {
    lexer tokens{sql, options};
    statement_scan statement;
    while (auto t = tokens.next_significant()) {
        if (t->kind == token_kind::punctuation && t->text(sql) == ";") {
            if (statement.leaves_state()) {
                return true;
            }
            statement = {};
            continue;
        }
        statement.add(*t, sql);
    }
    if (tokens.failure() != lex_failure::none) {
        return true;  // text the server will not parse the same way: assume the worst
    }
    return statement.leaves_state();
}

bool is_cache_statement_name(std::string_view name) noexcept {
    return name.starts_with("pgkit_");
}

}  // namespace pgkit::detail::sql
