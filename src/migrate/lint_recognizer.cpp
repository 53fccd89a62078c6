#include "migrate/lint_recognizer.hpp"

#include "ascii_text.hpp"
#include "sql/lexer.hpp"

#include <algorithm>
#include <cctype>

namespace pgkit::detail::migrate {
namespace {

using sql::lexer;
using sql::token;
using sql::token_kind;

std::string lower(std::string_view text) {
    std::string out{text};
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

/// The significant tokens of one statement and a cursor over them.
class reader {
  public:
    explicit reader(std::string_view text) : text_(text) {
        lexer tokens{text};
        while (auto t = tokens.next_significant()) {
            tokens_.push_back(*t);
        }
    }

    [[nodiscard]] std::size_t size() const noexcept { return tokens_.size(); }
    [[nodiscard]] std::size_t pos() const noexcept { return pos_; }
    void seek(std::size_t at) noexcept { pos_ = at; }
    [[nodiscard]] bool done() const noexcept { return pos_ >= tokens_.size(); }
    [[nodiscard]] const token* at(std::size_t i) const noexcept {
        return i < tokens_.size() ? &tokens_[i] : nullptr;
    }
    [[nodiscard]] std::string_view text_of(std::size_t i) const noexcept {
        return i < tokens_.size() ? tokens_[i].text(text_) : std::string_view{};
    }
    /// Token `i` is the keyword `word`.
    [[nodiscard]] bool word_at(std::size_t i, std::string_view word) const noexcept {
        const token* t = at(i);
        return t != nullptr && t->kind == token_kind::identifier && iequals(t->text(text_), word);
    }
    [[nodiscard]] bool punct_at(std::size_t i, std::string_view p) const noexcept {
        const token* t = at(i);
        return t != nullptr && (t->kind == token_kind::punctuation || t->kind == token_kind::op) &&
               t->text(text_) == p;
    }
    [[nodiscard]] bool peek(std::string_view word) const noexcept { return word_at(pos_, word); }
    /// Consumes `word` when it is next.
    bool accept(std::string_view word) noexcept {
        if (peek(word)) {
            ++pos_;
            return true;
        }
        return false;
    }
    /// Consumes the words when they are all next.
    bool accept_all(std::initializer_list<std::string_view> words) noexcept {
        std::size_t i = pos_;
        for (std::string_view w : words) {
            if (!word_at(i, w)) {
                return false;
            }
            ++i;
        }
        pos_ = i;
        return true;
    }
    [[nodiscard]] bool is_name(std::size_t i) const noexcept {
        const token* t = at(i);
        return t != nullptr &&
               (t->kind == token_kind::identifier || t->kind == token_kind::quoted_identifier);
    }
    /// A possibly qualified name at the cursor, as written; empty when none.
    std::string qualified_name() {
        if (!is_name(pos_)) {
            return {};
        }
        const std::size_t first = pos_;
        std::size_t last = pos_;
        while (punct_at(last + 1, ".") && is_name(last + 2)) {
            last += 2;
        }
        pos_ = last + 1;
        return std::string{
            text_.substr(tokens_[first].begin, tokens_[last].end - tokens_[first].begin)};
    }
    /// One name at the cursor, as the catalog has it; empty when none.
    std::string simple_name() {
        if (!is_name(pos_)) {
            return {};
        }
        return catalog_name(text_of(pos_++));
    }
    /// The index after the top-level group that ends at a ',' (or the end), from `from`.
    [[nodiscard]] std::size_t action_end(std::size_t from) const noexcept {
        int depth = 0;
        for (std::size_t i = from; i < tokens_.size(); ++i) {
            if (punct_at(i, "(") || punct_at(i, "[")) {
                ++depth;
            } else if (punct_at(i, ")") || punct_at(i, "]")) {
                --depth;
            } else if (depth == 0 && punct_at(i, ",")) {
                return i;
            }
        }
        return tokens_.size();
    }
    [[nodiscard]] std::string_view source() const noexcept { return text_; }
    [[nodiscard]] const std::vector<token>& tokens() const noexcept { return tokens_; }

  private:
    std::string_view text_;
    std::vector<token> tokens_;
    std::size_t pos_ = 0;
};

/// The value of a plain '...' literal (doubled quotes undone); nullopt for E'', B'', ...
std::optional<std::string> plain_string(std::string_view token_text) {
    if (token_text.size() < 2 || token_text.front() != '\'' || token_text.back() != '\'') {
        return std::nullopt;
    }
    std::string out;
    const std::string_view body = token_text.substr(1, token_text.size() - 2);
    for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\'' && i + 1 < body.size() && body[i + 1] == '\'') {
            ++i;
        } else if (body[i] == '\'') {
            return std::nullopt;  // a literal continued across lines: not read
        }
        out.push_back(body[i]);
    }
    return out;
}

/// A lock_timeout value in milliseconds: a number (ms) or a string with a unit.
std::optional<std::int64_t> timeout_ms(std::string_view value, bool quoted) {
    std::size_t i = 0;
    std::int64_t number = 0;
    while (i < value.size() && is_digit(value[i])) {
        if (number > 1'000'000'000'000) {
            return std::nullopt;
        }
        number = number * 10 + (value[i] - '0');
        ++i;
    }
    if (i == 0) {
        return std::nullopt;
    }
    while (i < value.size() && value[i] == ' ') {
        ++i;
    }
    const std::string unit = lower(value.substr(i));
    if (unit.empty() || unit == "ms") {
        return number;
    }
    if (!quoted) {
        return std::nullopt;
    }
    if (unit == "s") {
        return number * 1000;
    }
    if (unit == "min") {
        return number * 60'000;
    }
    if (unit == "h") {
        return number * 3'600'000;
    }
    if (unit == "d") {
        return number * 86'400'000;
    }
    return std::nullopt;
}

void read_set(reader& r, recognized_statement& out) {
    // SET [SESSION | LOCAL] lock_timeout { TO | = } value
    r.seek(1);
    if (r.accept("LOCAL")) {
        out.set_local = true;
    } else {
        (void)r.accept("SESSION");
    }
    if (!r.accept("lock_timeout")) {
        return;
    }
    if (!r.accept("TO") && !r.punct_at(r.pos(), "=")) {
        return;
    }
    if (r.punct_at(r.pos(), "=")) {
        r.seek(r.pos() + 1);
    }
    out.kind = statement_kind::set_lock_timeout;
    const token* v = r.at(r.pos());
    if (v == nullptr || r.pos() + 1 != r.size()) {
        return;
    }
    if (v->kind == token_kind::number) {
        out.lock_timeout_ms = timeout_ms(r.text_of(r.pos()), false);
    } else if (v->kind == token_kind::string) {
        if (auto s = plain_string(r.text_of(r.pos()))) {
            out.lock_timeout_ms = timeout_ms(*s, true);
        }
    }
}

bool is_constraint_word(const reader& r, std::size_t i) {
    for (std::string_view w : {"DEFAULT", "NOT", "NULL", "CONSTRAINT", "CHECK", "UNIQUE", "PRIMARY",
                               "REFERENCES", "GENERATED", "COLLATE"}) {
        if (r.word_at(i, w)) {
            return true;
        }
    }
    return false;
}

std::string text_between(const reader& r, std::size_t from, std::size_t to) {
    if (from >= to) {
        return {};
    }
    const auto& t = r.tokens();
    return std::string{r.source().substr(t[from].begin, t[to - 1].end - t[from].begin)};
}

/// ADD [COLUMN] [IF NOT EXISTS] name type [constraints]: the cursor after ADD [COLUMN].
void read_add_column(reader& r, std::size_t end, alter_action& a) {
    (void)r.accept_all({"IF", "NOT", "EXISTS"});
    a.column = r.simple_name();
    if (a.column.empty()) {
        return;
    }
    a.kind = action_kind::add_column;
    const std::size_t type_begin = r.pos();
    std::size_t i = type_begin;
    int depth = 0;
    while (i < end && (depth > 0 || !is_constraint_word(r, i))) {
        depth += r.punct_at(i, "(") ? 1 : r.punct_at(i, ")") ? -1 : 0;
        ++i;
    }
    a.type = text_between(r, type_begin, i);
    const std::string type = lower(a.type);
    if (type == "serial" || type == "bigserial" || type == "smallserial" || type == "serial4" ||
        type == "serial8" || type == "serial2") {
        a.has_default = true;
        a.default_functions.emplace_back("nextval");
    }
    depth = 0;
    bool in_default = false;
    for (; i < end; ++i) {
        if (depth == 0 && is_constraint_word(r, i)) {
            in_default = false;
            if (r.word_at(i, "DEFAULT")) {
                a.has_default = true;
                in_default = true;
                a.default_is_null =
                    r.word_at(i + 1, "NULL") && (i + 2 >= end || is_constraint_word(r, i + 2));
                continue;
            }
            if (r.word_at(i, "NOT") && r.word_at(i + 1, "NULL")) {
                a.not_null = true;
                ++i;
                continue;
            }
            if (r.word_at(i, "GENERATED")) {
                a.generated = true;
            }
        }
        depth += r.punct_at(i, "(") ? 1 : r.punct_at(i, ")") ? -1 : 0;
        if (in_default && r.is_name(i) && r.punct_at(i + 1, "(")) {
            a.default_functions.push_back(catalog_name(r.text_of(i)));
        }
    }
}

/// ADD [CONSTRAINT name] CHECK | FOREIGN KEY | UNIQUE | PRIMARY KEY ...: the cursor after ADD.
void read_add_constraint(reader& r, std::size_t end, alter_action& a) {
    if (r.accept("CONSTRAINT")) {
        a.constraint = r.simple_name();
    }
    if (r.accept("CHECK")) {
        a.kind = action_kind::add_check;
        // CHECK ( name IS NOT NULL )
        const std::size_t i = r.pos();
        if (r.punct_at(i, "(") && r.is_name(i + 1) && r.word_at(i + 2, "IS") &&
            r.word_at(i + 3, "NOT") && r.word_at(i + 4, "NULL") && r.punct_at(i + 5, ")")) {
            a.not_null_check_column = catalog_name(r.text_of(i + 1));
        }
    } else if (r.accept_all({"FOREIGN", "KEY"})) {
        a.kind = action_kind::add_foreign_key;
    } else if (r.accept("UNIQUE") || r.accept_all({"PRIMARY", "KEY"})) {
        a.kind = action_kind::add_unique;
        a.using_index = r.accept_all({"USING", "INDEX"});
    } else {
        return;
    }
    for (std::size_t i = r.pos(); i < end; ++i) {
        if (r.word_at(i, "NOT") && r.word_at(i + 1, "VALID") && i + 2 == end) {
            a.not_valid = true;
        }
    }
}

alter_action read_action(reader& r, std::size_t end) {
    alter_action a;
    if (r.accept("ADD")) {
        if (r.peek("CONSTRAINT") || r.peek("CHECK") || r.peek("FOREIGN") || r.peek("UNIQUE") ||
            r.peek("PRIMARY") || r.peek("EXCLUDE")) {
            read_add_constraint(r, end, a);
        } else {
            (void)r.accept("COLUMN");
            read_add_column(r, end, a);
        }
    } else if (r.accept("ALTER")) {
        (void)r.accept("COLUMN");
        a.column = r.simple_name();
        if (r.accept_all({"SET", "NOT", "NULL"}) && r.pos() == end) {
            a.kind = action_kind::set_not_null;
        } else if (r.accept_all({"SET", "DATA", "TYPE"}) || r.accept("TYPE")) {
            a.kind = action_kind::set_type;
            const std::size_t begin = r.pos();
            std::size_t i = begin;
            while (i < end && !r.word_at(i, "COLLATE") && !r.word_at(i, "USING")) {
                ++i;
            }
            a.type = text_between(r, begin, i);
            for (; i < end; ++i) {
                a.using_clause = a.using_clause || r.word_at(i, "USING");
            }
        }
    } else if (r.accept_all({"VALIDATE", "CONSTRAINT"})) {
        a.constraint = r.simple_name();
        a.kind = action_kind::validate_constraint;
    } else if (r.accept("DROP")) {
        if (r.accept("CONSTRAINT")) {
            return a;
        }
        (void)r.accept("COLUMN");
        (void)r.accept_all({"IF", "EXISTS"});
        a.column = r.simple_name();
        if (!a.column.empty()) {
            a.kind = action_kind::drop_column;
        }
    } else if (r.accept("RENAME")) {
        if (r.accept("TO")) {
            a.kind = action_kind::rename_table;
        } else if (!r.peek("CONSTRAINT")) {
            (void)r.accept("COLUMN");
            a.column = r.simple_name();
            if (!a.column.empty() && r.accept("TO")) {
                a.kind = action_kind::rename_column;
            }
        }
    }
    return a;
}

void read_alter_table(reader& r, recognized_statement& out) {
    r.seek(2);
    (void)r.accept_all({"IF", "EXISTS"});
    (void)r.accept("ONLY");
    out.table = r.qualified_name();
    if (out.table.empty()) {
        return;
    }
    if (r.punct_at(r.pos(), "*")) {
        r.seek(r.pos() + 1);
    }
    out.kind = statement_kind::alter_table;
    while (!r.done()) {
        const std::size_t end = r.action_end(r.pos());
        out.actions.push_back(read_action(r, end));
        r.seek(end + 1);
    }
}

void read_create(reader& r, recognized_statement& out) {
    r.seek(1);
    if (r.accept("UNIQUE")) {
        out.unique = true;
    }
    if (r.accept("INDEX")) {
        out.concurrently = r.accept("CONCURRENTLY");
        (void)r.accept_all({"IF", "NOT", "EXISTS"});
        if (!r.peek("ON")) {
            out.index = r.qualified_name();
        }
        if (!r.accept("ON")) {
            return;
        }
        (void)r.accept("ONLY");
        out.table = r.qualified_name();
        if (!out.table.empty()) {
            out.kind = statement_kind::create_index;
        }
        return;
    }
    if (out.unique) {
        return;
    }
    for (std::string_view w : {"GLOBAL", "LOCAL"}) {
        (void)r.accept(w);
    }
    for (std::string_view w : {"TEMPORARY", "TEMP", "UNLOGGED"}) {
        (void)r.accept(w);
    }
    if (r.accept("TABLE")) {
        (void)r.accept_all({"IF", "NOT", "EXISTS"});
        out.table = r.qualified_name();
        if (!out.table.empty()) {
            out.kind = statement_kind::create_table;
        }
    }
}

void read_drop(reader& r, recognized_statement& out) {
    r.seek(1);
    if (r.accept("INDEX")) {
        out.concurrently = r.accept("CONCURRENTLY");
        (void)r.accept_all({"IF", "EXISTS"});
        out.index = r.qualified_name();
        if (!out.index.empty()) {
            out.kind = statement_kind::drop_index;
        }
    } else if (r.accept("TABLE")) {
        (void)r.accept_all({"IF", "EXISTS"});
        out.table = r.qualified_name();
        if (!out.table.empty()) {
            out.kind = statement_kind::drop_table;
        }
    }
}

void read_reindex(reader& r, recognized_statement& out) {
    r.seek(1);
    if (r.punct_at(1, "(")) {
        std::size_t i = 1;
        while (i < r.size() && !r.punct_at(i, ")")) {
            out.concurrently = out.concurrently || r.word_at(i, "CONCURRENTLY");
            ++i;
        }
        r.seek(i + 1);
    }
    const bool index = r.accept("INDEX");
    if (!index && !r.accept("TABLE")) {
        return;
    }
    out.concurrently = r.accept("CONCURRENTLY") || out.concurrently;
    std::string name = r.qualified_name();
    if (name.empty()) {
        return;
    }
    (index ? out.index : out.table) = std::move(name);
    out.kind = statement_kind::reindex;
}

void read_alter_type(reader& r, recognized_statement& out) {
    r.seek(2);
    out.table = r.qualified_name();  // the type
    if (out.table.empty()) {
        return;
    }
    if (r.accept_all({"ADD", "VALUE"})) {
        (void)r.accept_all({"IF", "NOT", "EXISTS"});
        const token* v = r.at(r.pos());
        if (v != nullptr && v->kind == token_kind::string) {
            if (auto s = plain_string(r.text_of(r.pos()))) {
                out.enum_value = *s;
                out.kind = statement_kind::enum_add_value;
            }
        }
    } else if (r.accept_all({"RENAME", "VALUE"})) {
        out.kind = statement_kind::enum_rename_value;
    }
}

void read_dml(reader& r, recognized_statement& out, bool update) {
    r.seek(1);
    if (!update && !r.accept("FROM")) {
        return;
    }
    (void)r.accept("ONLY");
    out.table = r.qualified_name();
    if (out.table.empty()) {
        return;
    }
    out.kind = update ? statement_kind::update : statement_kind::delete_rows;
    for (std::size_t i = r.pos(); i < r.size(); ++i) {
        out.limited = out.limited || r.word_at(i, "LIMIT") || r.word_at(i, "FETCH");
    }
}

}  // namespace

std::string catalog_name(std::string_view token_text) {
    if (token_text.size() >= 2 && token_text.front() == '"' && token_text.back() == '"') {
        std::string out;
        const std::string_view body = token_text.substr(1, token_text.size() - 2);
        for (std::size_t i = 0; i < body.size(); ++i) {
            out.push_back(body[i]);
            if (body[i] == '"' && i + 1 < body.size() && body[i + 1] == '"') {
                ++i;
            }
        }
        return out;
    }
    return lower(token_text);
}

std::string relation_name(std::string_view qualified) {
    reader r{qualified};
    std::string last;
    for (std::size_t i = 0; i < r.size(); ++i) {
        if (r.is_name(i)) {
            last = catalog_name(r.text_of(i));
        }
    }
    return last;
}

recognized_statement recognize_statement(std::string_view statement) {
    recognized_statement out;
    reader r{statement};
    for (std::size_t i = 0; i < r.size(); ++i) {
        if (r.at(i)->kind == token_kind::string) {
            if (auto s = plain_string(r.text_of(i))) {
                out.string_literals.push_back(std::move(*s));
            }
        }
    }
    if (r.word_at(0, "SET")) {
        read_set(r, out);
    } else if (r.word_at(0, "CREATE")) {
        read_create(r, out);
    } else if (r.word_at(0, "DROP")) {
        read_drop(r, out);
    } else if (r.word_at(0, "REINDEX")) {
        read_reindex(r, out);
    } else if (r.word_at(0, "ALTER") && r.word_at(1, "TABLE")) {
        read_alter_table(r, out);
    } else if (r.word_at(0, "ALTER") && r.word_at(1, "TYPE")) {
        read_alter_type(r, out);
    } else if (r.word_at(0, "UPDATE")) {
        read_dml(r, out, true);
    } else if (r.word_at(0, "DELETE")) {
        read_dml(r, out, false);
    }
    return out;
}

std::vector<allow_comment> find_allow_comments(std::string_view section) {
    constexpr std::string_view marker = "pgkit:allow";
    std::vector<allow_comment> out;
    lexer tokens{section};
    std::size_t line = 1;
    std::size_t counted = 0;
    while (auto t = tokens.next()) {
        if (t->kind != token_kind::line_comment) {
            continue;
        }
        std::string_view body = t->text(section).substr(2);
        const auto first = body.find_first_not_of(" \t");
        if (first == std::string_view::npos || body.substr(first, marker.size()) != marker) {
            continue;
        }
        body.remove_prefix(first + marker.size());
        if (!body.empty() && body.front() != ' ' && body.front() != '\t') {
            continue;  // pgkit:allowed, ...: not the marker
        }
        line += static_cast<std::size_t>(
            std::count(section.begin() + static_cast<std::ptrdiff_t>(counted),
                       section.begin() + static_cast<std::ptrdiff_t>(t->begin), '\n'));
        counted = t->begin;
        allow_comment allow;
        allow.line = line;
        const auto trim = [](std::string_view s) {
            const auto b = s.find_first_not_of(" \t\r");
            if (b == std::string_view::npos) {
                return std::string_view{};
            }
            const auto e = s.find_last_not_of(" \t\r");
            return s.substr(b, e - b + 1);
        };
        body = trim(body);
        const auto space = body.find_first_of(" \t");
        allow.rule = std::string{body.substr(0, space)};
        if (space != std::string_view::npos) {
            allow.reason = std::string{trim(body.substr(space))};
        }
        out.push_back(std::move(allow));
    }
    return out;
}

}  // namespace pgkit::detail::migrate
