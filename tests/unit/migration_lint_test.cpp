// The migration linter without a server: the statement recognizer on statement text, the
// acknowledgement comments, the type-change table, and the rules whose verdict depends on the
// server's version (fed with facts, as the catalog would give them).
#include "migrate/lint_recognizer.hpp"
#include "migrate/lint_rules.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace pgkit::detail::migrate;

std::vector<std::string> rules_of(std::string_view sql,
                                  int version,
                                  bool live = true,
                                  action_facts facts = {}) {
    const recognized_statement st = recognize_statement(sql);
    statement_facts f;
    f.table.exists = true;
    f.table.has_rows = live;
    f.actions.assign(st.actions.size(), facts);
    lint_context context;
    context.server_version = version;
    std::vector<std::string> out;
    for (const rule_hit& h : check_statement(st, f, context)) {
        out.emplace_back(h.rule);
    }
    return out;
}

bool has(const std::vector<std::string>& rules, std::string_view id) {
    return std::find(rules.begin(), rules.end(), id) != rules.end();
}

}  // namespace

TEST_CASE("migration lint recognizer: ALTER TABLE actions") {
    auto st = recognize_statement(
        "ALTER TABLE IF EXISTS ONLY app.\"Users\" ADD COLUMN IF NOT EXISTS phone varchar(20) "
        "DEFAULT lower(md5(random()::text)) NOT NULL, ALTER COLUMN email SET NOT NULL, "
        "ADD CONSTRAINT c1 CHECK (\"Phone\" IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT c0, "
        "ALTER email TYPE text USING email::text, ADD PRIMARY KEY USING INDEX i, "
        "ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES t (id), DROP COLUMN old, "
        "RENAME COLUMN a TO b");
    REQUIRE(st.kind == statement_kind::alter_table);
    CHECK(st.table == "app.\"Users\"");
    REQUIRE(st.actions.size() == 9);
    CHECK(st.actions[0].kind == action_kind::add_column);
    CHECK(st.actions[0].column == "phone");
    CHECK(st.actions[0].type == "varchar(20)");
    CHECK(st.actions[0].has_default);
    CHECK(st.actions[0].not_null);
    CHECK(st.actions[0].default_functions == std::vector<std::string>{"lower", "md5", "random"});
    CHECK(st.actions[1].kind == action_kind::set_not_null);
    CHECK(st.actions[1].column == "email");
    CHECK(st.actions[2].kind == action_kind::add_check);
    CHECK(st.actions[2].not_valid);
    CHECK(st.actions[2].constraint == "c1");
    CHECK(st.actions[2].not_null_check_column == "Phone");
    CHECK(st.actions[3].kind == action_kind::validate_constraint);
    CHECK(st.actions[3].constraint == "c0");
    CHECK(st.actions[4].kind == action_kind::set_type);
    CHECK(st.actions[4].type == "text");
    CHECK(st.actions[4].using_clause);
    CHECK(st.actions[5].kind == action_kind::add_unique);
    CHECK(st.actions[5].using_index);
    CHECK(st.actions[6].kind == action_kind::add_foreign_key);
    CHECK_FALSE(st.actions[6].not_valid);
    CHECK(st.actions[7].kind == action_kind::drop_column);
    CHECK(st.actions[8].kind == action_kind::rename_column);
}

TEST_CASE("migration lint recognizer: other statements") {
    auto index =
        recognize_statement("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON ONLY t (a)");
    CHECK(index.kind == statement_kind::create_index);
    CHECK(index.concurrently);
    CHECK(index.unique);
    CHECK(index.index == "i");
    CHECK(index.table == "t");
    auto unnamed = recognize_statement("create index on s.t (a)");
    CHECK(unnamed.kind == statement_kind::create_index);
    CHECK(unnamed.index.empty());
    CHECK(unnamed.table == "s.t");
    CHECK(recognize_statement("DROP INDEX CONCURRENTLY IF EXISTS i").concurrently);
    auto reindex = recognize_statement("REINDEX (VERBOSE) TABLE CONCURRENTLY t");
    CHECK(reindex.kind == statement_kind::reindex);
    CHECK(reindex.concurrently);
    CHECK(reindex.table == "t");
    auto set = recognize_statement("SET LOCAL lock_timeout = '10s'");
    CHECK(set.kind == statement_kind::set_lock_timeout);
    CHECK(set.set_local);
    CHECK(set.lock_timeout_ms == 10000);
    CHECK(recognize_statement("SET lock_timeout TO 0").lock_timeout_ms == 0);
    CHECK_FALSE(recognize_statement("SET lock_timeout TO DEFAULT").lock_timeout_ms.has_value());
    auto value =
        recognize_statement("ALTER TYPE mood ADD VALUE IF NOT EXISTS 'it''s' BEFORE 'sad'");
    CHECK(value.kind == statement_kind::enum_add_value);
    CHECK(value.enum_value == "it's");
    CHECK(recognize_statement("ALTER TYPE mood RENAME VALUE 'a' TO 'b'").kind ==
          statement_kind::enum_rename_value);
    auto update = recognize_statement(
        "UPDATE t SET a = 1 WHERE id IN (SELECT id FROM t WHERE a IS NULL LIMIT 1000)");
    CHECK(update.kind == statement_kind::update);
    CHECK(update.limited);
    CHECK(recognize_statement("DELETE FROM ONLY t").kind == statement_kind::delete_rows);
    CHECK(recognize_statement("CREATE UNLOGGED TABLE IF NOT EXISTS t (a int)").kind ==
          statement_kind::create_table);
    CHECK(recognize_statement("DROP TABLE IF EXISTS t, u").table == "t");
}

TEST_CASE("migration lint recognizer: what it cannot read is not recognised") {
    for (std::string_view sql :
         {"", "SELECT 1", "ALTER TABLE", "ALTER TABLE t", "CREATE INDEX", "CREATE INDEX i ON",
          "DROP INDEX", "SET lock_timeout", "SET statement_timeout = 0", "UPDATE", "DELETE t",
          "ALTER TYPE t ADD VALUE", "WITH x AS (SELECT 1) UPDATE t SET a = 1", "REINDEX DATABASE d",
          "ALTER TABLE 'x' ADD COLUMN a int"}) {
        CAPTURE(sql);
        auto st = recognize_statement(sql);
        const bool unread = st.kind == statement_kind::other ||
                            (st.kind == statement_kind::alter_table &&
                             std::all_of(st.actions.begin(), st.actions.end(), [](const auto& a) {
                                 return a.kind == action_kind::other;
                             }));
        CHECK(unread);
        statement_facts facts;
        facts.table.exists = true;
        facts.table.has_rows = true;
        CHECK(check_statement(st, facts, lint_context{}).empty());
    }
}

TEST_CASE("migration lint recognizer: names as the catalog has them") {
    CHECK(catalog_name("Users") == "users");
    CHECK(catalog_name("\"Us\"\"ers\"") == "Us\"ers");
    CHECK(relation_name("app.\"Users\"") == "Users");
    CHECK(relation_name("t") == "t");
}

TEST_CASE("migration lint recognizer: acknowledgement comments") {
    const auto allows = find_allow_comments(
        "-- pgkit:allow rename the old name is unused since v3\n"
        "ALTER TABLE t RENAME a TO b;\n"
        "  --pgkit:allow set-not-null-scan\n"
        "SELECT '-- pgkit:allow not-a-comment x';\n"
        "-- pgkit:allowed nothing\n"
        "-- pgkit:allow\n");
    REQUIRE(allows.size() == 3);
    CHECK(allows[0].line == 1);
    CHECK(allows[0].rule == "rename");
    CHECK(allows[0].reason == "the old name is unused since v3");
    CHECK(allows[1].line == 3);
    CHECK(allows[1].rule == "set-not-null-scan");
    CHECK(allows[1].reason.empty());
    CHECK(allows[2].line == 6);
    CHECK(allows[2].rule.empty());
}

TEST_CASE("migration lint rules: type changes that need no rewrite") {
    CHECK(type_change_without_rewrite("character varying(20)", "varchar(50)"));
    CHECK(type_change_without_rewrite("character varying(20)", "VARCHAR (20)"));
    CHECK(type_change_without_rewrite("character varying(20)", "text"));
    CHECK(type_change_without_rewrite("character varying(20)", "varchar"));
    CHECK(type_change_without_rewrite("text", "character varying"));
    CHECK(type_change_without_rewrite("numeric(10,2)", "numeric(12,2)"));
    CHECK(type_change_without_rewrite("numeric(10,2)", "numeric"));
    CHECK_FALSE(type_change_without_rewrite("character varying(20)", "varchar(10)"));
    CHECK_FALSE(type_change_without_rewrite("text", "varchar(10)"));
    CHECK_FALSE(type_change_without_rewrite("integer", "bigint"));
    CHECK_FALSE(type_change_without_rewrite("numeric(10,2)", "numeric(12,3)"));
    CHECK_FALSE(type_change_without_rewrite("numeric(10,2)", "numeric(12,"));
}

TEST_CASE("migration lint rules: verdicts that depend on the server version") {
    // ADD COLUMN with a constant default: metadata only since 11.
    CHECK(has(rules_of("ALTER TABLE t ADD COLUMN a int DEFAULT 0", 100000), "volatile-default"));
    CHECK(rules_of("ALTER TABLE t ADD COLUMN a int DEFAULT 0", 110000).empty());
    CHECK(rules_of("ALTER TABLE t ADD COLUMN a int DEFAULT NULL", 100000).empty());
    CHECK(rules_of("ALTER TABLE t ADD COLUMN a int", 100000).empty());
    // SET NOT NULL with a validated CHECK (a IS NOT NULL): no scan since 12.
    action_facts checked;
    checked.validated_not_null_check = true;
    CHECK(has(rules_of("ALTER TABLE t ALTER a SET NOT NULL", 110000, true, checked),
              "set-not-null-scan"));
    CHECK(rules_of("ALTER TABLE t ALTER a SET NOT NULL", 120000, true, checked).empty());
    CHECK(has(rules_of("ALTER TABLE t ALTER a SET NOT NULL", 150000), "set-not-null-scan"));
    // REINDEX CONCURRENTLY: 12.
    CHECK(
        has(rules_of("REINDEX INDEX CONCURRENTLY i", 110000), "reindex-concurrently-unsupported"));
    CHECK(rules_of("REINDEX INDEX CONCURRENTLY i", 120000).empty());
    // Concurrent builds on 14.0-14.3.
    CHECK(has(rules_of("CREATE INDEX CONCURRENTLY i ON t (a)", 140003), "concurrent-index-14-bug"));
    CHECK(has(rules_of("REINDEX TABLE CONCURRENTLY t", 140000), "concurrent-index-14-bug"));
    CHECK(rules_of("CREATE INDEX CONCURRENTLY i ON t (a)", 140004).empty());
    CHECK(rules_of("CREATE INDEX CONCURRENTLY i ON t (a)", 130010).empty());
}

TEST_CASE("migration lint rules: a run remembers what earlier statements did") {
    lint_context context;
    context.server_version = 150000;
    statement_facts live;
    live.table.exists = true;
    live.table.has_rows = true;
    const auto judge = [&](std::string_view sql) {
        const recognized_statement st = recognize_statement(sql);
        statement_facts f = live;
        f.table.new_in_run = std::find(context.created_tables.begin(), context.created_tables.end(),
                                       relation_name(st.table)) != context.created_tables.end();
        f.actions.resize(st.actions.size());
        std::vector<std::string> out;
        for (const rule_hit& h : check_statement(st, f, context)) {
            out.emplace_back(h.rule);
        }
        note_statement(st, f, context);
        return out;
    };
    context.begin_migration(1, true, true);
    CHECK(judge("CREATE TABLE fresh (a int)").empty());
    CHECK(judge("CREATE INDEX i ON fresh (a)").empty());
    CHECK(judge("ALTER TABLE t ADD CONSTRAINT c CHECK (a IS NOT NULL) NOT VALID").empty());
    CHECK(judge("ALTER TABLE t VALIDATE CONSTRAINT c") ==
          std::vector<std::string>{"validate-in-same-transaction"});
    context.begin_migration(2, true, true);
    CHECK(judge("ALTER TABLE t ALTER COLUMN a SET NOT NULL").empty());
    CHECK(judge("ALTER TABLE t ALTER COLUMN b SET NOT NULL") ==
          std::vector<std::string>{"set-not-null-scan"});
    context.begin_migration(3, true, false);
    CHECK(judge("ALTER TYPE mood ADD VALUE 'calm'").empty());
    CHECK(judge("INSERT INTO t (m) VALUES ('calm')") ==
          std::vector<std::string>{"enum-value-used-in-transaction"});
    context.begin_migration(4, false, false);
    CHECK(judge("ALTER TYPE mood ADD VALUE 'glad'").empty());
    CHECK(judge("INSERT INTO t (m) VALUES ('glad')").empty());
}

TEST_CASE("migration lint rules: every rule has an id, a message, an alternative and a fact") {
    for (const lint_rule_info& rule : lint_rules()) {
        CAPTURE(rule.id);
        CHECK(!rule.id.empty());
        CHECK(rule.id.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
              std::string_view::npos);
        CHECK(!rule.what.empty());
        CHECK(!rule.alternative.empty());
        CHECK(!rule.version_fact.empty());
        CHECK(find_lint_rule(rule.id) == &rule);
    }
    CHECK(lint_rules().size() >= 10);
    CHECK(find_lint_rule("no-such-rule") == nullptr);
}
