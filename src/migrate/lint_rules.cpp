#include "migrate/lint_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace pgkit::detail::migrate {
namespace {

const std::vector<lint_rule_info> rules{
    {"lock-timeout-override",
     "the migration sets lock_timeout itself: 0 (wait forever) or above 5 s lets its ACCESS "
     "EXCLUSIVE request queue every other query on the table behind it for that long, and SET "
     "without LOCAL outlives the migration on a pooled connection",
     "leave lock_timeout to pgkit (migrate_options::lock_timeout, long_lock_timeout), or SET "
     "LOCAL lock_timeout to at most 5 s",
     "all versions: a waiting lock request blocks every later request on the table"},
    {"index-not-concurrent",
     "CREATE INDEX / DROP INDEX / REINDEX without CONCURRENTLY blocks writes to the table for "
     "the whole build",
     "CREATE INDEX CONCURRENTLY / DROP INDEX CONCURRENTLY / REINDEX ... CONCURRENTLY (pgkit runs "
     "them alone, outside a transaction)",
     "CREATE/DROP INDEX CONCURRENTLY: all supported versions; REINDEX CONCURRENTLY: 12"},
    {"concurrent-index-unnamed",
     "a CREATE INDEX CONCURRENTLY without a name: when it fails it leaves an invalid index that "
     "pgkit cannot find by name to drop before the retry",
     "name the index (CREATE INDEX CONCURRENTLY name ON ...)",
     "all versions: a failed concurrent build leaves an INVALID index behind"},
    {"reindex-concurrently-unsupported", "REINDEX CONCURRENTLY does not exist on this server",
     "build a new index CONCURRENTLY, then drop the old one CONCURRENTLY",
     "REINDEX CONCURRENTLY: 12"},
    {"concurrent-index-14-bug",
     "CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY on 14.0 to 14.3 can build a corrupt index",
     "upgrade to 14.4 or later first (then REINDEX the indexes built on 14.0-14.3)",
     "14.0-14.3: concurrent builds can miss rows (fixed in 14.4)"},
    {"volatile-default",
     "ADD COLUMN with a volatile default (or a generated or identity column, or any default "
     "before 11) rewrites the whole table under ACCESS EXCLUSIVE",
     "add the column without a default (or with a constant one), set the default, backfill in "
     "batches (pgkit backfill)",
     "11: a constant or STABLE default is stored once (metadata only); a volatile one always "
     "rewrites"},
    {"not-null-without-default",
     "ADD COLUMN ... NOT NULL without a default fails on a table with rows",
     "add the column nullable, backfill, add CHECK (c IS NOT NULL) NOT VALID, VALIDATE it, then "
     "SET NOT NULL",
     "all versions"},
    {"set-not-null-scan", "SET NOT NULL scans the whole table under ACCESS EXCLUSIVE",
     "add CHECK (c IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT it in a later migration, then SET "
     "NOT NULL (the scan is skipped)",
     "12: SET NOT NULL skips the scan when a validated CHECK (c IS NOT NULL) exists; 18: ADD "
     "CONSTRAINT ... NOT NULL ... NOT VALID"},
    {"constraint-not-valid",
     "ADD FOREIGN KEY / CHECK without NOT VALID scans the table while blocking writes (a foreign "
     "key blocks writes to both tables)",
     "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later migration (it takes SHARE "
     "UPDATE EXCLUSIVE: reads and writes go on)",
     "NOT VALID: foreign keys 9.1, CHECK 9.2"},
    {"validate-in-same-transaction",
     "VALIDATE CONSTRAINT in the same transaction as the NOT VALID ADD keeps the ADD's lock for "
     "the whole scan",
     "VALIDATE CONSTRAINT in a later migration",
     "9.1 / 9.2: VALIDATE alone takes SHARE UPDATE EXCLUSIVE"},
    {"column-type-rewrite",
     "ALTER COLUMN TYPE rewrites the table (and its indexes) under ACCESS EXCLUSIVE",
     "add a new column, backfill it in batches, switch the code, drop the old column",
     "no rewrite only for: varchar(n) to a longer varchar, varchar or text; numeric precision up "
     "at the same scale; timestamp to timestamptz when the session time zone is UTC (12)"},
    {"unique-without-index", "ADD UNIQUE / PRIMARY KEY builds its index under ACCESS EXCLUSIVE",
     "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE / PRIMARY KEY USING INDEX",
     "all versions (USING INDEX: 9.1)"},
    {"rename",
     "renaming a table, column or enum value breaks the code that is deployed and still uses the "
     "old name",
     "expand/contract: add the new name (a new column kept in sync, or a view), move the code, "
     "drop the old name later",
     "all versions"},
    {"drop-column-or-table",
     "dropping a column or table breaks the code that is deployed and still reads it",
     "stop reading it in a deploy first, then drop it in a later migration (contract)",
     "all versions"},
    {"enum-value-used-in-transaction",
     "an enum value added by ALTER TYPE ... ADD VALUE cannot be used before its transaction "
     "commits",
     "use the new value in a later migration",
     "12: ADD VALUE runs in a transaction block, but the value is unusable until commit; before "
     "12 pgkit runs it alone"},
    {"unbatched-dml-with-ddl",
     "UPDATE / DELETE without batches in the same transaction as DDL holds the DDL's lock for "
     "the whole scan",
     "backfill in batches after the DDL commits (pgkit backfill, or a LIMIT per batch in a "
     "migration of its own)",
     "all versions: locks are held until commit"},
    {"allow-without-reason",
     "a -- pgkit:allow comment without a reason (or without a rule) acknowledges nothing",
     "-- pgkit:allow <rule> <reason>", "-"},
    {"allow-unknown-rule", "a -- pgkit:allow comment names a rule that does not exist",
     "use a rule id from docs/migrations.md", "-"},
};

std::string lower_no_space(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        }
    }
    return out;
}

/// A type name as format_type writes it, for the few types type_change_without_rewrite knows.
std::string canonical_type(std::string_view text) {
    std::string t = lower_no_space(text);
    for (auto [alias, name] :
         {std::pair<std::string_view, std::string_view>{"varchar", "charactervarying"},
          {"decimal", "numeric"}}) {
        if (t.rfind(alias, 0) == 0) {
            t = std::string{name} + t.substr(alias.size());
        }
    }
    if (t.rfind("pg_catalog.", 0) == 0) {
        t = t.substr(11);
    }
    return t;
}

/// "name(a,b)" -> base "name", mods {a, b}; false when a modifier is not a number.
bool split_type(const std::string& t, std::string& base, std::vector<long>& mods) {
    const auto open = t.find('(');
    base = t.substr(0, open);
    mods.clear();
    if (open == std::string::npos) {
        return true;
    }
    if (t.back() != ')') {
        return false;
    }
    std::string inner = t.substr(open + 1, t.size() - open - 2);
    std::size_t at = 0;
    while (at <= inner.size()) {
        const auto comma = inner.find(',', at);
        const std::string part =
            inner.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        if (part.empty() || part.size() > 9 ||
            !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return false;
        }
        mods.push_back(std::stol(part));
        if (comma == std::string::npos) {
            break;
        }
        at = comma + 1;
    }
    return true;
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

rule_hit hit(std::string_view id, std::string_view subject) {
    const lint_rule_info* rule = find_lint_rule(id);
    return rule_hit{rule->id,
                    fmt::format("{}: {}; instead: {}", subject, rule->what, rule->alternative),
                    rule->version_fact};
}

bool concurrent_14_bug(int version) {
    return version >= 140000 && version < 140004;
}

void check_action(const recognized_statement& st,
                  const alter_action& a,
                  const action_facts& f,
                  const table_facts& table,
                  const lint_context& context,
                  std::vector<rule_hit>& out) {
    const std::string subject = fmt::format("table {}", st.table);
    const std::string column = fmt::format("column {} of table {}", a.column, st.table);
    switch (a.kind) {
        case action_kind::add_column:
            if (table.live()) {
                const bool rewrites =
                    a.generated ||
                    (a.has_default && !a.default_is_null &&
                     (context.server_version < 110000 || f.default_volatile.value_or(false)));
                if (rewrites) {
                    out.push_back(hit("volatile-default", column));
                }
                if (a.not_null && !a.has_default && !a.generated) {
                    out.push_back(hit("not-null-without-default", column));
                }
            }
            break;
        case action_kind::set_not_null: {
            const bool in_run =
                std::find(context.validated_not_null.begin(), context.validated_not_null.end(),
                          std::pair{relation_name(st.table), a.column}) !=
                context.validated_not_null.end();
            const bool skips_scan =
                context.server_version >= 120000 && (f.validated_not_null_check || in_run);
            if (table.live() && !skips_scan) {
                out.push_back(hit("set-not-null-scan", column));
            }
            break;
        }
        case action_kind::add_check:
        case action_kind::add_foreign_key:
            if (table.live() && !a.not_valid) {
                out.push_back(hit("constraint-not-valid", subject));
            }
            break;
        case action_kind::validate_constraint:
            if (context.transactional &&
                std::any_of(context.not_valid.begin(), context.not_valid.end(),
                            [&](const not_valid_check& c) {
                                return c.version == context.version && c.name == a.constraint &&
                                       c.table == relation_name(st.table);
                            })) {
                out.push_back(
                    hit("validate-in-same-transaction",
                        fmt::format("constraint {} of table {}", a.constraint, st.table)));
            }
            break;
        case action_kind::set_type:
            if (table.live() && !f.column_type.empty() &&
                (a.using_clause || !type_change_without_rewrite(f.column_type, a.type))) {
                out.push_back(hit("column-type-rewrite",
                                  fmt::format("{} ({} to {})", column, f.column_type, a.type)));
            }
            break;
        case action_kind::add_unique:
            if (table.live() && !a.using_index) {
                out.push_back(hit("unique-without-index", subject));
            }
            break;
        case action_kind::drop_column:
            if (table.existing()) {
                out.push_back(hit("drop-column-or-table", column));
            }
            break;
        case action_kind::rename_column:
            if (table.existing()) {
                out.push_back(hit("rename", column));
            }
            break;
        case action_kind::rename_table:
            if (table.existing()) {
                out.push_back(hit("rename", subject));
            }
            break;
        case action_kind::other:
            break;
    }
}

}  // namespace

const std::vector<lint_rule_info>& lint_rules() {
    return rules;
}

const lint_rule_info* find_lint_rule(std::string_view id) {
    auto it = std::find_if(rules.begin(), rules.end(),
                           [&](const lint_rule_info& r) { return r.id == id; });
    return it == rules.end() ? nullptr : &*it;
}

void lint_context::begin_migration(std::int64_t migration_version,
                                   bool one_transaction,
                                   bool with_ddl) {
    version = migration_version;
    transactional = one_transaction;
    has_ddl = with_ddl;
    enum_values.clear();
}

bool is_ddl(const recognized_statement& st) noexcept {
    switch (st.kind) {
        case statement_kind::alter_table:
        case statement_kind::create_index:
        case statement_kind::drop_index:
        case statement_kind::reindex:
        case statement_kind::drop_table:
            return true;
        default:
            return false;
    }
}

bool type_change_without_rewrite(std::string_view from, std::string_view to) {
    const std::string old_type = canonical_type(from);
    const std::string new_type = canonical_type(to);
    if (old_type == new_type) {
        return true;
    }
    std::string old_base;
    std::string new_base;
    std::vector<long> old_mods;
    std::vector<long> new_mods;
    if (!split_type(old_type, old_base, old_mods) || !split_type(new_type, new_base, new_mods)) {
        return false;
    }
    if (old_base == "charactervarying" || old_base == "text") {
        if (new_base == "text" || (new_base == "charactervarying" && new_mods.empty())) {
            return true;
        }
        return old_base == "charactervarying" && new_base == "charactervarying" &&
               old_mods.size() == 1 && new_mods.size() == 1 && new_mods[0] >= old_mods[0];
    }
    if (old_base == "numeric" && new_base == "numeric") {
        if (new_mods.empty()) {
            return true;
        }
        const long old_scale = old_mods.size() == 2 ? old_mods[1] : 0;
        const long new_scale = new_mods.size() == 2 ? new_mods[1] : 0;
        return !old_mods.empty() && new_mods[0] >= old_mods[0] && new_scale == old_scale;
    }
    return false;
}

std::vector<rule_hit> check_statement(const recognized_statement& st,
                                      const statement_facts& facts,
                                      const lint_context& context) {
    std::vector<rule_hit> out;
    const int version = context.server_version;
    const table_facts& table = facts.table;
    switch (st.kind) {
        case statement_kind::set_lock_timeout: {
            const bool unsafe_value =
                st.lock_timeout_ms && (*st.lock_timeout_ms == 0 || *st.lock_timeout_ms > 5000);
            if (!st.set_local || unsafe_value) {
                out.push_back(hit(
                    "lock-timeout-override",
                    fmt::format("SET{} lock_timeout{}", st.set_local ? " LOCAL" : "",
                                st.lock_timeout_ms ? fmt::format(" = {} ms", *st.lock_timeout_ms)
                                                   : std::string{})));
            }
            break;
        }
        case statement_kind::create_index:
            if (!st.concurrently && table.live()) {
                out.push_back(hit("index-not-concurrent", fmt::format("table {}", st.table)));
            }
            if (st.concurrently && st.index.empty()) {
                out.push_back(hit("concurrent-index-unnamed", fmt::format("table {}", st.table)));
            }
            if (st.concurrently && concurrent_14_bug(version)) {
                out.push_back(hit("concurrent-index-14-bug", fmt::format("table {}", st.table)));
            }
            break;
        case statement_kind::drop_index:
            if (!st.concurrently && table.live()) {
                out.push_back(hit("index-not-concurrent", fmt::format("index {}", st.index)));
            }
            break;
        case statement_kind::reindex: {
            const std::string subject = st.index.empty() ? fmt::format("table {}", st.table)
                                                         : fmt::format("index {}", st.index);
            if (!st.concurrently && table.live()) {
                out.push_back(hit("index-not-concurrent", subject));
            }
            if (st.concurrently && version != 0 && version < 120000) {
                out.push_back(hit("reindex-concurrently-unsupported", subject));
            }
            if (st.concurrently && concurrent_14_bug(version)) {
                out.push_back(hit("concurrent-index-14-bug", subject));
            }
            break;
        }
        case statement_kind::alter_table:
            for (std::size_t i = 0; i < st.actions.size(); ++i) {
                check_action(st, st.actions[i],
                             i < facts.actions.size() ? facts.actions[i] : action_facts{}, table,
                             context, out);
            }
            break;
        case statement_kind::drop_table:
            if (table.existing()) {
                out.push_back(hit("drop-column-or-table", fmt::format("table {}", st.table)));
            }
            break;
        case statement_kind::enum_rename_value:
            out.push_back(hit("rename", fmt::format("a value of type {}", st.table)));
            break;
        case statement_kind::update:
        case statement_kind::delete_rows:
            if (context.transactional && context.has_ddl && !st.limited && table.live()) {
                out.push_back(hit("unbatched-dml-with-ddl", fmt::format("table {}", st.table)));
            }
            break;
        case statement_kind::enum_add_value:
        case statement_kind::create_table:
        case statement_kind::other:
            break;
    }
    if (context.transactional && !context.enum_values.empty() &&
        st.kind != statement_kind::enum_add_value) {
        for (const std::string& literal : st.string_literals) {
            if (contains(context.enum_values, literal)) {
                out.push_back(
                    hit("enum-value-used-in-transaction", fmt::format("enum value '{}'", literal)));
                break;
            }
        }
    }
    return out;
}

void note_statement(const recognized_statement& st,
                    const statement_facts& facts,
                    lint_context& context) {
    if (st.kind == statement_kind::create_table) {
        context.created_tables.push_back(relation_name(st.table));
    }
    if (st.kind == statement_kind::enum_add_value) {
        context.enum_values.push_back(st.enum_value);
    }
    if (st.kind != statement_kind::alter_table) {
        return;
    }
    const std::string table = relation_name(st.table);
    for (std::size_t i = 0; i < st.actions.size(); ++i) {
        const alter_action& a = st.actions[i];
        if ((a.kind == action_kind::add_check || a.kind == action_kind::add_foreign_key) &&
            a.not_valid) {
            context.not_valid.push_back(
                not_valid_check{context.version, a.constraint, table, a.not_null_check_column});
        } else if (a.kind == action_kind::add_check && !a.not_null_check_column.empty()) {
            context.validated_not_null.emplace_back(table, a.not_null_check_column);
        } else if (a.kind == action_kind::validate_constraint) {
            for (const not_valid_check& c : context.not_valid) {
                if (c.name == a.constraint && c.table == table && !c.column.empty()) {
                    context.validated_not_null.emplace_back(table, c.column);
                }
            }
            if (i < facts.actions.size() && !facts.actions[i].validates_not_null_column.empty()) {
                context.validated_not_null.emplace_back(table,
                                                        facts.actions[i].validates_not_null_column);
            }
        }
    }
}

}  // namespace pgkit::detail::migrate
