#include "sql/session_effects.hpp"

#include "ascii_text.hpp"

#include <array>
#include <initializer_list>

namespace pgkit::detail::sql {
namespace {

/// Built-in functions whose effect outlives the transaction that calls them, and what it is.
struct state_function {
    std::string_view name;
    session_effect effect;
};
constexpr std::array<state_function, 7> session_state_functions{{
    {"pg_advisory_lock", session_effect::advisory_lock},
    {"pg_advisory_lock_shared", session_effect::advisory_lock},
    {"pg_try_advisory_lock", session_effect::advisory_lock},
    {"pg_try_advisory_lock_shared", session_effect::advisory_lock},
    {"setseed", session_effect::random_seed},
    {"dblink_connect", session_effect::remote_connection},
    {"dblink_connect_u", session_effect::remote_connection},
}};

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

/// Follows one set_config(name, value, is_local) call: it is transaction-local only when its
/// third argument is the literal true.
class set_config_call {
  public:
    /// Feeds the next significant token after the name; false once the call is read.
    bool add(const token& t, std::string_view sql) noexcept {
        const std::string_view text = t.text(sql);
        if (depth_ == 0) {
            if (t.kind == token_kind::punctuation && text == "(") {
                depth_ = 1;
                return true;
            }
            return false;  // not a call (a column of that name): nothing to decide
        }
        if (t.kind == token_kind::punctuation && (text == "(" || text == "[")) {
            ++depth_;
            third_tokens_ += commas_ == 2 ? 1 : 0;
            return true;
        }
        if (t.kind == token_kind::punctuation && (text == ")" || text == "]")) {
            if (--depth_ == 0) {
                local_ = commas_ == 2 && third_tokens_ == 1 && third_is_true_;
                return false;
            }
            return true;
        }
        if (depth_ == 1 && t.kind == token_kind::punctuation && text == ",") {
            ++commas_;
            return true;
        }
        if (depth_ == 1 && commas_ == 2) {
            ++third_tokens_;
            third_is_true_ = t.kind == token_kind::identifier && iequals(text, "true");
        }
        return true;
    }
    [[nodiscard]] bool started() const noexcept { return depth_ > 0; }
    [[nodiscard]] bool local() const noexcept { return local_; }

  private:
    std::size_t depth_ = 0;
    std::size_t commas_ = 0;
    std::size_t third_tokens_ = 0;
    bool third_is_true_ = false;
    bool local_ = false;
};

/// What one statement has shown so far.
class statement_scan {
  public:
    void add(const token& t, std::string_view sql) noexcept {
        if (set_config_) {
            const bool started = set_config_->started();
            if (set_config_->add(t, sql)) {
                return;
            }
            if (started && !set_config_->local()) {
                note(session_effect::setting);
            }
            const bool consumed = started;
            set_config_.reset();
            if (consumed) {
                return;  // the call's closing parenthesis
            }
        }
        if (t.kind == token_kind::quoted_identifier) {
            const std::string_view text = t.text(sql);
            if (text.front() != '"') {
                note(session_effect::unknown);  // U&"..." can spell any name: not decoded here
            } else if (names(t, sql, "pg_temp")) {
                note(session_effect::temporary_table);
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
            note(session_effect::temporary_table);
        }
        const bool temp = is_any_of(word, {"TEMP", "TEMPORARY"});
        if (temp && previous_was_into_) {
            note(session_effect::temporary_table);  // SELECT ... INTO TEMP t
        }
        temp_ = temp_ || temp;
        hold_ = hold_ || iequals(word, "HOLD");
        if (iequals(word, "COMMIT") && previous_was_on_) {
            on_commit_ = true;
        } else if (on_commit_ && iequals(word, "DROP")) {
            on_commit_drop_ = true;
        }
        on_commit_ = on_commit_ && iequals(word, "COMMIT");
        previous_was_on_ = iequals(word, "ON");
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

    /// The first effect found, or nullopt for a statement that leaves nothing behind; with
    /// `definite_only`, the first that is not session_effect::unknown.
    [[nodiscard]] std::optional<session_effect> effect(bool definite_only) noexcept {
        auto found = effect();
        if (definite_only && found == session_effect::unknown) {
            return definite_;
        }
        return found;
    }

  private:
    [[nodiscard]] std::optional<session_effect> effect() noexcept {
        if (set_config_ && set_config_->started()) {
            note(session_effect::setting);  // a call that never closed: the text is cut short
        }
        if (effect_) {
            return effect_;
        }
        if (words_ == 0) {
            if (in_explain_prefix_) {
                return session_effect::unknown;  // "EXPLAIN" alone does not parse; be safe
            }
            return std::nullopt;
        }
        if (iequals(first_, "CREATE")) {
            if (temp_) {
                return on_commit_drop_ ? std::nullopt
                                       : std::optional{session_effect::temporary_table};
            }
            return std::nullopt;
        }
        if (iequals(first_, "DECLARE")) {
            // WITH HOLD outlives the transaction; other cursors close with it.
            return hold_ ? std::optional{session_effect::held_cursor} : std::nullopt;
        }
        if (iequals(first_, "PREPARE")) {
            return iequals(second_, "TRANSACTION")
                       ? std::nullopt
                       : std::optional{session_effect::prepared_statement};
        }
        if (iequals(first_, "SET")) {
            return is_any_of(second_, {"LOCAL", "TRANSACTION", "CONSTRAINTS"})
                       ? std::nullopt
                       : std::optional{session_effect::setting};
        }
        if (iequals(first_, "RESET")) {
            return session_effect::setting;
        }
        if (iequals(first_, "LISTEN")) {
            return session_effect::listen;
        }
        if (iequals(first_, "LOAD")) {
            return session_effect::loaded_library;
        }
        if (is_any_of(first_, clean_kinds)) {
            return std::nullopt;
        }
        return session_effect::unknown;  // DO, CALL, and kinds this analysis does not know
    }

    void note(session_effect effect) noexcept {
        if (!effect_) {
            effect_ = effect;
        }
        if (!definite_ && effect != session_effect::unknown) {
            definite_ = effect;
        }
    }

    void note_function_name(const token& t, std::string_view sql) noexcept {
        if (names(t, sql, "set_config")) {
            set_config_.emplace();
            return;
        }
        for (const auto& function : session_state_functions) {
            if (names(t, sql, function.name)) {
                note(function.effect);
                return;
            }
        }
    }

    void note_punctuation(std::string_view text) noexcept {
        previous_was_into_ = false;
        previous_was_on_ = false;
        on_commit_ = false;
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
    std::optional<set_config_call> set_config_;
    std::optional<session_effect> effect_;
    std::optional<session_effect> definite_;
    bool in_explain_prefix_ = false;
    bool previous_was_into_ = false;
    bool previous_was_on_ = false;
    bool on_commit_ = false;
    bool on_commit_drop_ = false;
    bool temp_ = false;
    bool hold_ = false;
};

}  // namespace

std::string_view to_string(session_effect effect) noexcept {
    switch (effect) {
        case session_effect::setting:
            return "a session setting (SET, RESET or set_config(..., false))";
        case session_effect::listen:
            return "LISTEN";
        case session_effect::prepared_statement:
            return "a named prepared statement (PREPARE)";
        case session_effect::held_cursor:
            return "a cursor WITH HOLD";
        case session_effect::temporary_table:
            return "a temporary table that outlives its transaction";
        case session_effect::advisory_lock:
            return "a session-level advisory lock";
        case session_effect::random_seed:
            return "setseed()";
        case session_effect::remote_connection:
            return "a dblink connection";
        case session_effect::loaded_library:
            return "LOAD";
        case session_effect::unknown:
            return "a statement whose effect on the session is unknown";
    }
    return "a session effect";
}

namespace {

std::optional<session_effect> scan(std::string_view sql,
                                   lexer_options options,
                                   bool definite_only) noexcept {
    lexer tokens{sql, options};
    statement_scan statement;
    while (auto t = tokens.next_significant()) {
        if (t->kind == token_kind::punctuation && t->text(sql) == ";") {
            if (auto effect = statement.effect(definite_only)) {
                return effect;
            }
            statement = {};
            continue;
        }
        statement.add(*t, sql);
    }
    if (auto effect = statement.effect(definite_only)) {
        return effect;
    }
    if (!definite_only && tokens.failure() != lex_failure::none) {
        return session_effect::unknown;  // text the server will not parse the same way
    }
    return std::nullopt;
}

}  // namespace

std::optional<session_effect> first_session_effect(std::string_view sql,
                                                   lexer_options options) noexcept {
    return scan(sql, options, false);
}

std::optional<session_effect> first_definite_session_effect(std::string_view sql,
                                                            lexer_options options) noexcept {
    return scan(sql, options, true);
}

bool may_leave_session_state(std::string_view sql, lexer_options options) noexcept {
    return first_session_effect(sql, options).has_value();
}

bool is_cache_statement_name(std::string_view name) noexcept {
    return name.starts_with("pgkit_");
}

}  // namespace pgkit::detail::sql
