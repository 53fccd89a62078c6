// libFuzzer target: the migration file parser (src/migrate/source.cpp) and the statement
// splitter under it (src/migrate/statements.hpp). The input is a migration file's text. Oracles:
//   - parsing is deterministic, and never fails other than with migration_source_invalid whose
//     message starts with the file's name, and, when it gives a line, a line the text has;
//   - a parsed migration has the file name's version and name, an UP section with at least one
//     statement, and UP, DOWN and VERIFY texts that are pieces of the input;
//   - every statement of a section is non-empty, a piece of the section, on a line the section
//     has, and splitting with any server version gives the same statements;
//   - check_migrations accepts what parse_migration accepted (its Requires aside: alone, the
//     versions they name do not exist); the checksum is 64 hex digits;
//   - the lint recognizer (src/migrate/lint_recognizer.hpp) reads every statement of every
//     section, and any piece of the input as a statement, without failing; what it names (a
//     table, an index) is a piece of the statement; the rules judge it with any facts and any
//     server version without failing, and every rule they name exists; acknowledgement comments
//     are on lines the section has.
#include "pgkit/migrations.hpp"

#include "fuzz_check.hpp"
#include "migrate/lint_recognizer.hpp"
#include "migrate/lint_rules.hpp"
#include "migrate/statements.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view file_name = "0042_fuzz.sql";

std::size_t lines_in(std::string_view text) {
    return 1 + static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

/// The recognizer and the rules on one statement, as the linter would use them.
void check_lint(std::string_view statement) {
    namespace dm = pgkit::detail::migrate;
    const dm::recognized_statement st = dm::recognize_statement(statement);
    PGKIT_FUZZ_CHECK(statement.find(st.table) != std::string_view::npos,
                     pgkit::fuzz::printable(statement));
    PGKIT_FUZZ_CHECK(statement.find(st.index) != std::string_view::npos,
                     pgkit::fuzz::printable(statement));
    for (const int version : {100000, 120000, 140002, 170000}) {
        for (const bool rows : {false, true}) {
            dm::statement_facts facts;
            facts.table.exists = true;
            facts.table.has_rows = rows;
            facts.actions.resize(st.actions.size());
            dm::lint_context context;
            context.server_version = version;
            for (const dm::rule_hit& hit : dm::check_statement(st, facts, context)) {
                PGKIT_FUZZ_CHECK(dm::find_lint_rule(hit.rule) != nullptr, std::string{hit.rule});
                PGKIT_FUZZ_CHECK(rows || hit.rule == "drop-column-or-table" ||
                                     hit.rule == "rename" || hit.rule == "lock-timeout-override" ||
                                     hit.rule.find("concurrent") != std::string_view::npos ||
                                     hit.rule == "validate-in-same-transaction",
                                 std::string{hit.rule});
            }
            dm::note_statement(st, facts, context);
        }
    }
}

void check_section(std::string_view section) {
    for (const auto& allow : pgkit::detail::migrate::find_allow_comments(section)) {
        PGKIT_FUZZ_CHECK(allow.line >= 1 && allow.line <= lines_in(section),
                         pgkit::fuzz::printable(section));
    }
    auto split = pgkit::detail::migrate::split_section(section, 0);
    auto old = pgkit::detail::migrate::split_section(section, 110000);
    PGKIT_FUZZ_CHECK(split.has_value() == old.has_value(), pgkit::fuzz::printable(section));
    if (!split) {
        PGKIT_FUZZ_CHECK(split.error().line >= 1 && split.error().line <= lines_in(section),
                         pgkit::fuzz::printable(section));
        return;
    }
    PGKIT_FUZZ_CHECK(split->size() == old->size(), pgkit::fuzz::printable(section));
    for (std::size_t i = 0; i < split->size(); ++i) {
        const auto& st = (*split)[i];
        PGKIT_FUZZ_CHECK(!st.text.empty(), pgkit::fuzz::printable(section));
        PGKIT_FUZZ_CHECK(section.find(st.text) != std::string_view::npos,
                         pgkit::fuzz::printable(section));
        PGKIT_FUZZ_CHECK(st.line >= 1 && st.line <= lines_in(section),
                         pgkit::fuzz::printable(section));
        PGKIT_FUZZ_CHECK(st.text == (*old)[i].text, pgkit::fuzz::printable(section));
        check_lint(st.text);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    check_lint(text);
    auto parsed = pgkit::parse_migration(file_name, text);
    auto again = pgkit::parse_migration(file_name, text);
    PGKIT_FUZZ_CHECK(parsed.has_value() == again.has_value(), pgkit::fuzz::printable(text));
    if (!parsed) {
        const auto& e = parsed.error();
        PGKIT_FUZZ_CHECK(e == again.error(), pgkit::fuzz::printable(text));
        PGKIT_FUZZ_CHECK(e.code() == pgkit::errc::migration_source_invalid, e.to_string());
        const std::string& message = e.message();
        PGKIT_FUZZ_CHECK(message.rfind(std::string{file_name}, 0) == 0, message);
        if (message.size() > file_name.size() && message[file_name.size()] == ':' &&
            message.size() > file_name.size() + 1 && message[file_name.size() + 1] != ' ') {
            const std::size_t line = std::stoul(message.substr(file_name.size() + 1));
            PGKIT_FUZZ_CHECK(line >= 1 && line <= lines_in(text), message);
        }
        check_section(text);
        return 0;
    }
    const pgkit::migration& m = *parsed;
    PGKIT_FUZZ_CHECK(m.version == 42 && m.name == "fuzz", pgkit::fuzz::printable(text));
    for (const std::string& section : {m.up, m.down, m.verify}) {
        PGKIT_FUZZ_CHECK(text.find(section) != std::string_view::npos,
                         pgkit::fuzz::printable(text));
        check_section(section);
    }
    auto up = pgkit::detail::migrate::split_section(m.up, 0);
    PGKIT_FUZZ_CHECK(up && !up->empty(), pgkit::fuzz::printable(text));
    // Alone, a migration's Requires name versions that do not exist: checked without them.
    pgkit::migration alone = m;
    alone.requires_versions.clear();
    auto checked = pgkit::check_migrations({alone});
    PGKIT_FUZZ_CHECK(checked.has_value(), checked.error().to_string());
    const std::string sum = pgkit::migration_checksum(m);
    PGKIT_FUZZ_CHECK(sum.size() == 64 && sum == pgkit::migration_checksum(*again), sum);
    return 0;
}
