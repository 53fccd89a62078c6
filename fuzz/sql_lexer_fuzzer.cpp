// libFuzzer target: the SQL lexer (src/sql/lexer.hpp) and what is built on it. The input is SQL
// text, lexed with standard_conforming_strings on and off. Oracles:
//   - tokens tile the text: each begins where the previous ended, none is empty, and the last
//     ends at the end of the text unless failure() is set, in which case failure_offset() is
//     where the tiling stopped; every token has the shape its kind promises;
//   - lexing is deterministic, and next_significant() gives the non-blank tokens of next();
//   - renumber_parameters succeeds exactly when every parameter is within 1..count (and the
//     text lexes); its output lexes to the same kinds, the same text for every token but the
//     parameters, and every parameter number shifted by the offset; on failure `out` is
//     unchanged;
//   - may_leave_session_state is deterministic, keeps its verdict when a blank or an empty
//     comment is inserted between two tokens, and is compositional: for a text `a` that lexes
//     cleanly and does not end in a -- comment, the verdict on `a;b` is verdict(a) || verdict(b);
//   - kind_of_statement (what the session check sends a statement with) is deterministic, keeps
//     its answer when a blank or an empty comment is inserted between two tokens, and calls
//     `a;b` other (two statements) whenever b has a token that is not blank;
//   - has_key_read_shape (which statements need only the key-read proof) is deterministic, keeps
//     its answer when a blank or an empty comment is inserted between two tokens, gives the same
//     answer under both string modes, and never accepts `a;b` when b has a token that is not
//     blank. A text it accepts lexes cleanly into names, parameters, `=`, `*` and ( ) , . ;
//     alone, is one query (kind_of_statement) and leaves no session state; read_key_read_shape's
//     cut point leaves only blanks and one `;` after it and splits no token, its last parameter
//     is the highest $n, and a condition appended at the cut keeps the text a key read.
#include "fuzz_check.hpp"
#include "sql/key_read_shape.hpp"
#include "sql/lexer.hpp"
#include "sql/renumber.hpp"
#include "sql/session_effects.hpp"
#include "sql/statement_kind.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using pgkit::detail::sql::has_key_read_shape;
using pgkit::detail::sql::kind_of_statement;
using pgkit::detail::sql::lex_failure;
using pgkit::detail::sql::lexer;
using pgkit::detail::sql::lexer_options;
using pgkit::detail::sql::may_leave_session_state;
using pgkit::detail::sql::parameter_number;
using pgkit::detail::sql::read_key_read_shape;
using pgkit::detail::sql::renumber_parameters;
using pgkit::detail::sql::statement_kind;
using pgkit::detail::sql::token;
using pgkit::detail::sql::token_kind;
using pgkit::fuzz::printable;

struct lexed {
    std::vector<token> tokens;
    lex_failure failure = lex_failure::none;
    std::size_t failure_offset = 0;
};

lexed lex_all(std::string_view sql, lexer_options options) {
    lexer tokens{sql, options};
    lexed out;
    while (auto t = tokens.next()) {
        out.tokens.push_back(*t);
    }
    PGKIT_FUZZ_CHECK(!tokens.next(), "a token after the end of the stream");
    out.failure = tokens.failure();
    out.failure_offset = tokens.failure_offset();
    return out;
}

std::string context(std::string_view sql, lexer_options options) {
    return "sql " + printable(sql) + ", standard_conforming_strings " +
           (options.standard_conforming_strings ? "on" : "off");
}

bool same_tokens(const lexed& a, const lexed& b) {
    if (a.tokens.size() != b.tokens.size() || a.failure != b.failure ||
        (a.failure != lex_failure::none && a.failure_offset != b.failure_offset)) {
        return false;
    }
    for (std::size_t i = 0; i < a.tokens.size(); ++i) {
        const auto& x = a.tokens[i];
        const auto& y = b.tokens[i];
        if (x.kind != y.kind || x.begin != y.begin || x.end != y.end) {
            return false;
        }
    }
    return true;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool all_digits(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

/// What a token of each kind must look like.
void check_shape(std::string_view sql, const token& t, lexer_options options) {
    const std::string_view text = t.text(sql);
    const auto where = [&] {
        return context(sql, options) + ", token " + printable(text) + " at " +
               std::to_string(t.begin);
    };
    switch (t.kind) {
        case token_kind::whitespace:
            for (const char c : text) {
                PGKIT_FUZZ_CHECK(is_space(c), where());
            }
            break;
        case token_kind::line_comment:
            PGKIT_FUZZ_CHECK(text.starts_with("--"), where());
            PGKIT_FUZZ_CHECK(text.find_first_of("\r\n") == std::string_view::npos, where());
            break;
        case token_kind::block_comment:
            PGKIT_FUZZ_CHECK(text.size() >= 4 && text.starts_with("/*") && text.ends_with("*/"),
                             where());
            break;
        case token_kind::quoted_identifier:
            PGKIT_FUZZ_CHECK(text.size() >= 2 && text.back() == '"', where());
            break;
        case token_kind::string:
            PGKIT_FUZZ_CHECK(text.size() >= 2 && text.back() == '\'', where());
            break;
        case token_kind::dollar_string: {
            const auto tag_end = text.find('$', 1);
            PGKIT_FUZZ_CHECK(text.front() == '$' && tag_end != std::string_view::npos, where());
            const auto tag = text.substr(0, tag_end + 1);
            PGKIT_FUZZ_CHECK(text.size() >= 2 * tag.size() && text.ends_with(tag), where());
            break;
        }
        case token_kind::parameter:
            PGKIT_FUZZ_CHECK(text.front() == '$' && all_digits(text.substr(1)), where());
            break;
        case token_kind::number:
            PGKIT_FUZZ_CHECK(text.find_first_of("0123456789") != std::string_view::npos, where());
            break;
        case token_kind::identifier:
        case token_kind::op:
        case token_kind::punctuation:
            break;
    }
}

void check_tiling(std::string_view sql, lexer_options options, const lexed& lx) {
    std::size_t at = 0;
    for (const auto& t : lx.tokens) {
        PGKIT_FUZZ_CHECK(t.begin == at, context(sql, options) + ": token at " +
                                            std::to_string(t.begin) + ", expected " +
                                            std::to_string(at));
        PGKIT_FUZZ_CHECK(t.end > t.begin && t.end <= sql.size(), context(sql, options));
        check_shape(sql, t, options);
        at = t.end;
    }
    if (lx.failure == lex_failure::none) {
        PGKIT_FUZZ_CHECK(at == sql.size(), context(sql, options) + ": tokens end at " +
                                               std::to_string(at) + " without a failure");
    } else {
        PGKIT_FUZZ_CHECK(at < sql.size() && lx.failure_offset == at,
                         context(sql, options) + ": failure at " +
                             std::to_string(lx.failure_offset) + ", tokens end at " +
                             std::to_string(at));
    }

    lexer significant{sql, options};
    std::size_t next_blank = 0;
    while (auto t = significant.next_significant()) {
        while (next_blank < lx.tokens.size() && lx.tokens[next_blank].is_blank()) {
            ++next_blank;
        }
        PGKIT_FUZZ_CHECK(next_blank < lx.tokens.size() && lx.tokens[next_blank].begin == t->begin &&
                             lx.tokens[next_blank].end == t->end,
                         context(sql, options) + ": next_significant disagrees with next");
        ++next_blank;
    }
    while (next_blank < lx.tokens.size() && lx.tokens[next_blank].is_blank()) {
        ++next_blank;
    }
    PGKIT_FUZZ_CHECK(next_blank == lx.tokens.size() && significant.failure() == lx.failure,
                     context(sql, options) + ": next_significant stopped early");
}

void check_renumbering(std::string_view sql,
                       lexer_options options,
                       const lexed& lx,
                       pgkit::fuzz::choices& choose) {
    // Parameter numbers, nullopt for one beyond 32 bits.
    std::vector<std::optional<std::uint32_t>> numbers;
    std::uint32_t highest = 0;
    bool any_unusable = false;
    for (const auto& t : lx.tokens) {
        if (t.kind == token_kind::parameter) {
            const auto n = parameter_number(t.text(sql));
            numbers.push_back(n);
            if (!n || *n == 0) {
                any_unusable = true;
            } else if (*n > highest) {
                highest = *n;
            }
        }
    }
    // Offsets up to 2^31 and counts up to 2^32 - 1 keep every shifted number within 2^32 + 2^31.
    constexpr std::size_t offsets[] = {0, 1, 2, 9, 10, 99, 65535, 1U << 31U};
    const std::size_t offset = offsets[choose.below(std::size(offsets))];
    const std::size_t count = highest;

    const std::string prefix = "SELECT $1 WHERE ";
    std::string out = prefix;
    auto done = renumber_parameters(sql, offset, count, out, options);
    const bool expected = lx.failure == lex_failure::none && !any_unusable;
    PGKIT_FUZZ_CHECK(done.has_value() == expected,
                     context(sql, options) + ": renumber_parameters " +
                         (done ? "succeeded" : "failed: " + done.error().message()));
    if (!done) {
        PGKIT_FUZZ_CHECK(done.error().code() == pgkit::errc::invalid_argument,
                         context(sql, options));
        PGKIT_FUZZ_CHECK(out == prefix, context(sql, options) + ": out changed on failure");
    } else {
        PGKIT_FUZZ_CHECK(out.starts_with(prefix), context(sql, options));
        std::string_view renumbered = std::string_view{out}.substr(prefix.size());
        // A fragment ending in a -- comment gets a newline, so that text after it is not
        // commented out; the newline is a blank, not a token.
        if (!lx.tokens.empty() && lx.tokens.back().kind == token_kind::line_comment) {
            PGKIT_FUZZ_CHECK(renumbered.ends_with('\n'),
                             context(sql, options) + ": no newline after a final -- comment");
            renumbered.remove_suffix(1);
        }
        const lexed again = lex_all(renumbered, options);
        const auto where = [&] {
            return context(sql, options) + ", offset " + std::to_string(offset) + ": output " +
                   printable(renumbered);
        };
        PGKIT_FUZZ_CHECK(
            again.failure == lex_failure::none && again.tokens.size() == lx.tokens.size(), where());
        std::size_t parameter = 0;
        for (std::size_t i = 0; i < lx.tokens.size(); ++i) {
            const auto& before = lx.tokens[i];
            const auto& after = again.tokens[i];
            PGKIT_FUZZ_CHECK(before.kind == after.kind, where());
            if (before.kind != token_kind::parameter) {
                PGKIT_FUZZ_CHECK(before.text(sql) == after.text(renumbered), where());
                continue;
            }
            const std::string expected_text =
                "$" + std::to_string(static_cast<std::uint64_t>(*numbers[parameter++]) + offset);
            PGKIT_FUZZ_CHECK(after.text(renumbered) == expected_text,
                             where() + ": expected " + expected_text);
        }
    }

    // One fewer parameter than the highest in use must be refused, leaving `out` alone.
    if (highest > 0) {
        std::string refused = prefix;
        auto short_count = renumber_parameters(sql, offset, highest - 1, refused, options);
        PGKIT_FUZZ_CHECK(!short_count && refused == prefix,
                         context(sql, options) + ": a parameter beyond count was accepted");
    }
}

/// Up to 8 offsets where a blank or an empty comment can go between two tokens (or before the
/// first, or after the last) without merging or splitting any.
std::vector<std::size_t> token_boundaries(std::string_view sql,
                                          const lexed& lx,
                                          pgkit::fuzz::choices& choose) {
    const std::size_t boundaries = lx.tokens.size() + 1;
    const std::size_t tries = boundaries < 8 ? boundaries : 8;
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < tries; ++i) {
        const std::size_t k = boundaries <= 8 ? i : choose.below(boundaries);
        offsets.push_back(k < lx.tokens.size()              ? lx.tokens[k].begin
                          : lx.failure == lex_failure::none ? sql.size()
                                                            : lx.failure_offset);
    }
    return offsets;
}

/// Checks that `verdict_of` gives the same answer when a blank or an empty comment goes in at any
/// of token_boundaries().
template <class Verdict>
void check_blank_insensitive(std::string_view sql,
                             lexer_options options,
                             const lexed& lx,
                             pgkit::fuzz::choices& choose,
                             std::string_view what,
                             Verdict verdict_of) {
    const auto verdict = verdict_of(sql);
    PGKIT_FUZZ_CHECK(verdict == verdict_of(sql),
                     context(sql, options) + ": " + std::string{what} + " is not deterministic");
    for (const std::size_t at : token_boundaries(sql, lx, choose)) {
        for (const std::string_view filler : {std::string_view{" "}, std::string_view{"/**/"}}) {
            std::string changed{sql.substr(0, at)};
            changed += filler;
            changed += sql.substr(at);
            PGKIT_FUZZ_CHECK(verdict_of(changed) == verdict,
                             context(sql, options) + ": " + std::string{what} + " changes when " +
                                 printable(filler) + " is inserted at " + std::to_string(at));
        }
    }
}

/// The text split at a random token boundary into `a` and `b`, such that `a;b` is the two texts
/// as two statement lists (nullopt when `a` does not lex or ends in a -- comment, which would
/// swallow the ';').
struct split_text {
    std::string_view a;
    std::string_view b;
    std::string joined;  ///< a;b
};
std::optional<split_text> split_at_token(std::string_view sql,
                                         lexer_options options,
                                         const lexed& lx,
                                         pgkit::fuzz::choices& choose) {
    if (lx.tokens.empty()) {
        return std::nullopt;
    }
    const std::size_t split = lx.tokens[choose.below(lx.tokens.size())].begin;
    split_text out{sql.substr(0, split), sql.substr(split), {}};
    const lexed a_tokens = lex_all(out.a, options);
    if (a_tokens.failure != lex_failure::none ||
        (!a_tokens.tokens.empty() && a_tokens.tokens.back().kind == token_kind::line_comment)) {
        return std::nullopt;
    }
    out.joined = std::string{out.a} + ';' + std::string{out.b};
    return out;
}

/// split_at_token() when its `b` holds a token that is not blank, so that `a;b` is two statements.
std::optional<split_text> split_into_two_statements(std::string_view sql,
                                                    lexer_options options,
                                                    const lexed& lx,
                                                    pgkit::fuzz::choices& choose) {
    auto split = split_at_token(sql, options, lx, choose);
    if (!split) {
        return std::nullopt;
    }
    for (const token& t : lex_all(split->b, options).tokens) {
        if (!t.is_blank()) {
            return split;
        }
    }
    return std::nullopt;
}

void check_session_effects(std::string_view sql,
                           lexer_options options,
                           const lexed& lx,
                           pgkit::fuzz::choices& choose) {
    check_blank_insensitive(
        sql, options, lx, choose, "the session-state verdict",
        [&](std::string_view text) { return may_leave_session_state(text, options); });
    // Compositional over ';'.
    const auto split = split_at_token(sql, options, lx, choose);
    if (!split) {
        return;
    }
    const bool expected =
        may_leave_session_state(split->a, options) || may_leave_session_state(split->b, options);
    PGKIT_FUZZ_CHECK(may_leave_session_state(split->joined, options) == expected,
                     context(split->joined, options) +
                         ": verdict on a;b differs from a || b with a = " + printable(split->a) +
                         ", b = " + printable(split->b));
}

void check_statement_kind(std::string_view sql,
                          lexer_options options,
                          const lexed& lx,
                          pgkit::fuzz::choices& choose) {
    check_blank_insensitive(
        sql, options, lx, choose, "the statement kind",
        [&](std::string_view text) { return kind_of_statement(text, options); });
    // Two statements are never one that could join a pipeline.
    if (const auto split = split_into_two_statements(sql, options, lx, choose)) {
        PGKIT_FUZZ_CHECK(kind_of_statement(split->joined, options) == statement_kind::other,
                         context(split->joined, options) + ": two statements are not 'other'");
    }
}

/// For an accepted key read: its shape's cut point leaves only blanks and one `;` after it, its
/// last parameter is the highest $n, and a condition appended at the cut joins the WHERE clause
/// (the text stays a key read with the same last parameter), as the session check's proof does.
void check_key_read_cut(std::string_view sql, lexer_options options, const lexed& lx) {
    const auto shape = read_key_read_shape(sql, options);
    PGKIT_FUZZ_CHECK(shape.has_value(), context(sql, options) + ": accepted without a shape");
    PGKIT_FUZZ_CHECK(shape->conditions_end <= sql.size(),
                     context(sql, options) + ": a cut past the end");
    std::uint32_t highest = 0;
    int semicolons = 0;
    for (const token& t : lx.tokens) {
        if (t.kind == token_kind::parameter) {
            highest = std::max(highest, parameter_number(t.text(sql)).value_or(0));
        }
        if (t.begin >= shape->conditions_end && !t.is_blank()) {
            semicolons += t.text(sql) == ";" ? 1 : 2;
            PGKIT_FUZZ_CHECK(semicolons == 1,
                             context(sql, options) + ": the cut leaves " + printable(t.text(sql)));
        }
        PGKIT_FUZZ_CHECK(t.begin >= shape->conditions_end || t.end <= shape->conditions_end,
                         context(sql, options) + ": the cut splits a token");
    }
    PGKIT_FUZZ_CHECK(static_cast<std::uint32_t>(shape->last_parameter) == highest,
                     context(sql, options) + ": the last parameter is not the highest $n");
    const std::string appended =
        std::string{sql.substr(0, shape->conditions_end)} + " AND pgkit_appended IS NULL";
    const auto longer = read_key_read_shape(appended, options);
    PGKIT_FUZZ_CHECK(longer && longer->last_parameter == shape->last_parameter &&
                         longer->conditions_end == appended.size(),
                     context(appended, options) + ": a condition appended at the cut");
}

void check_key_read_shape(std::string_view sql,
                          lexer_options options,
                          const lexed& lx,
                          pgkit::fuzz::choices& choose) {
    check_blank_insensitive(
        sql, options, lx, choose, "the key-read verdict",
        [&](std::string_view text) { return has_key_read_shape(text, options); });
    const bool accepted = has_key_read_shape(sql, options);
    const lexer_options other{.standard_conforming_strings = !options.standard_conforming_strings};
    PGKIT_FUZZ_CHECK(accepted == has_key_read_shape(sql, other),
                     context(sql, options) + ": the key-read verdict depends on the string mode");
    if (accepted) {
        PGKIT_FUZZ_CHECK(lx.failure == lex_failure::none,
                         context(sql, options) + ": a key read that does not lex");
        for (const token& t : lx.tokens) {
            const std::string_view text = t.text(sql);
            const bool allowed =
                t.is_blank() || t.kind == token_kind::identifier ||
                (t.kind == token_kind::quoted_identifier && text.front() == '"') ||
                t.kind == token_kind::parameter ||
                (t.kind == token_kind::op && (text == "=" || text == "*")) ||
                (t.kind == token_kind::punctuation &&
                 (text == "(" || text == ")" || text == "," || text == "." || text == ";"));
            PGKIT_FUZZ_CHECK(
                allowed, context(sql, options) + ": a key read holds the token " + printable(text));
        }
        PGKIT_FUZZ_CHECK(kind_of_statement(sql, options) == statement_kind::query,
                         context(sql, options) + ": a key read that is not one query");
        PGKIT_FUZZ_CHECK(!may_leave_session_state(sql, options),
                         context(sql, options) + ": a key read that may leave session state");
        check_key_read_cut(sql, options, lx);
    }
    if (const auto split = split_into_two_statements(sql, options, lx, choose)) {
        PGKIT_FUZZ_CHECK(!has_key_read_shape(split->joined, options),
                         context(split->joined, options) + ": two statements taken for a key read");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view sql{reinterpret_cast<const char*>(data), size};
    for (const bool conforming : {true, false}) {
        const lexer_options options{.standard_conforming_strings = conforming};
        pgkit::fuzz::choices choose{sql};
        const lexed lx = lex_all(sql, options);
        PGKIT_FUZZ_CHECK(same_tokens(lx, lex_all(sql, options)),
                         context(sql, options) + ": lexing twice gave different tokens");
        check_tiling(sql, options, lx);
        check_renumbering(sql, options, lx, choose);
        check_session_effects(sql, options, lx, choose);
        check_statement_kind(sql, options, lx, choose);
        check_key_read_shape(sql, options, lx, choose);
    }
    return 0;
}
