// The migration linter and the dry run against a real server: every rule with a case it flags
// and a case it does not, decided by the live catalog (a table with rows, an empty one, one a
// migration creates, a default's volatility, a validated CHECK (c IS NOT NULL)); the
// acknowledgement comments and the lines findings name; plan_migrate_up's pending list, resume
// point, statement modes and lock timeouts, and the history checks it shares with migrate_up.
// The rules that depend on a server version other than the test server's are in
// tests/unit/migration_lint_test.cpp.
#include "pgkit/migration_lint.hpp"

#include "pgkit/migrations.hpp"
#include "pgkit/pool.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::lint_finding;
using pgkit::migrate_options;
using pgkit::migration;
using pgkit::test::make_pool;
using pgkit::test::scratch_schema;
using pgkit::test::test_pool_options;

migration make(std::int64_t version, std::string up) {
    migration m;
    m.version = version;
    m.name = fmt::format("step_{}", version);
    m.up = std::move(up);
    m.source = fmt::format("{:04}_step_{}.sql", version, version);
    return m;
}

/// A schema with a table that has rows (live), an empty one (empty_t), an enum, a referenced
/// table, and the pool the linter reads the catalog with.
class catalog {
  public:
    catalog() : conn_(schema_.connect()), pool_(make_pool(test_pool_options(schema_))) {
        run("CREATE TABLE other (id bigint PRIMARY KEY); INSERT INTO other VALUES (1);"
            "CREATE TYPE mood AS ENUM ('sad', 'happy');"
            "CREATE TABLE live (id bigint PRIMARY KEY, a int, b varchar(20), n numeric(10,2), "
            "  e text, f int, m mood);"
            "INSERT INTO live SELECT g, g, 'x', 1, 'e', g, 'sad' FROM generate_series(1, 100) g;"
            "CREATE INDEX live_a_idx ON live (a);"
            "CREATE UNIQUE INDEX live_id_key ON live (id);"
            "ALTER TABLE live ADD CONSTRAINT f_nn CHECK (f IS NOT NULL);"
            "ALTER TABLE live ADD CONSTRAINT a_pos CHECK (a > 0) NOT VALID;"
            "CREATE TABLE empty_t (id bigint PRIMARY KEY, a int, b varchar(20));");
    }

    void run(const std::string& sql) {
        auto r = conn_.execute_script(sql);
        REQUIRE_MESSAGE(r, r.error().to_string());
    }

    migrate_options options() const {
        migrate_options o;
        o.history_schema = schema_.name();
        return o;
    }

    std::vector<lint_finding> lint(const std::vector<migration>& all) {
        auto found = pgkit::lint_migrations(*pool_, all, options());
        REQUIRE_MESSAGE(found, found.error().to_string());
        return *found;
    }

    /// The rules the UP section (as one migration) breaks, unacknowledged.
    std::vector<std::string> rules(const std::string& up) {
        std::vector<std::string> out;
        for (const lint_finding& f : lint({make(1, up)})) {
            if (!f.acknowledged) {
                out.push_back(f.rule);
            }
        }
        return out;
    }

    bool flags(const std::string& up, const std::string& rule) {
        const auto found = rules(up);
        return std::find(found.begin(), found.end(), rule) != found.end();
    }

    pgkit::pool& pool() { return *pool_; }
    pgkit::connection& conn() { return conn_; }

  private:
    scratch_schema schema_;
    pgkit::connection conn_;
    std::shared_ptr<pgkit::pool> pool_;
};

}  // namespace

TEST_SUITE("migration lint") {
    TEST_CASE("migration lint: lock-timeout-override") {
        catalog db;
        CHECK(db.flags("SET lock_timeout = 0", "lock-timeout-override"));
        CHECK(db.flags("SET LOCAL lock_timeout = '30s'", "lock-timeout-override"));
        CHECK(db.flags("SET lock_timeout = '1s'", "lock-timeout-override"));  // leaks: not LOCAL
        CHECK(db.rules("SET LOCAL lock_timeout = '1s'").empty());
        CHECK(db.rules("SET LOCAL statement_timeout = 0").empty());
    }

    TEST_CASE("migration lint: index-not-concurrent") {
        catalog db;
        CHECK(db.rules("CREATE INDEX i ON live (b)") ==
              std::vector<std::string>{"index-not-concurrent"});
        CHECK(db.flags("DROP INDEX live_a_idx", "index-not-concurrent"));
        CHECK(db.flags("REINDEX TABLE live", "index-not-concurrent"));
        CHECK(db.rules("CREATE INDEX i ON empty_t (a)").empty());
        CHECK(db.rules("CREATE TABLE fresh (a int); CREATE INDEX i ON fresh (a)").empty());
        CHECK(db.rules("CREATE INDEX CONCURRENTLY i ON live (b)").empty());
        CHECK(db.rules("DROP INDEX CONCURRENTLY live_a_idx").empty());
        CHECK(db.rules("REINDEX TABLE CONCURRENTLY live").empty());
        CHECK(db.rules("CREATE INDEX i ON not_there_yet (a)").empty());
    }

    TEST_CASE("migration lint: concurrent-index-unnamed") {
        catalog db;
        CHECK(db.flags("CREATE INDEX CONCURRENTLY ON live (b)", "concurrent-index-unnamed"));
        CHECK(db.rules("CREATE INDEX CONCURRENTLY live_b_idx ON live (b)").empty());
    }

    TEST_CASE("migration lint: volatile-default") {
        catalog db;
        CHECK(
            db.flags("ALTER TABLE live ADD COLUMN r float8 DEFAULT random()", "volatile-default"));
        CHECK(db.flags("ALTER TABLE live ADD COLUMN u uuid DEFAULT gen_random_uuid()",
                       "volatile-default"));
        CHECK(db.flags("ALTER TABLE live ADD COLUMN t timestamptz DEFAULT clock_timestamp()",
                       "volatile-default"));
        CHECK(db.flags("ALTER TABLE live ADD COLUMN s bigserial", "volatile-default"));
        CHECK(db.flags("ALTER TABLE live ADD COLUMN s bigint GENERATED ALWAYS AS IDENTITY",
                       "volatile-default"));
        CHECK(db.flags("ALTER TABLE live ADD COLUMN s int GENERATED ALWAYS AS (a * 2) STORED",
                       "volatile-default"));
        CHECK(db.rules("ALTER TABLE live ADD COLUMN z int DEFAULT NULL").empty());
        CHECK(db.rules("ALTER TABLE live ADD COLUMN t timestamptz DEFAULT now()").empty());
        CHECK(db.rules("ALTER TABLE live ADD COLUMN z int DEFAULT 0").empty());
        CHECK(db.rules("ALTER TABLE live ADD COLUMN z text DEFAULT lower('X')").empty());
        CHECK(db.rules("ALTER TABLE empty_t ADD COLUMN r float8 DEFAULT random()").empty());
    }

    TEST_CASE("migration lint: not-null-without-default") {
        catalog db;
        CHECK(db.flags("ALTER TABLE live ADD COLUMN z int NOT NULL", "not-null-without-default"));
        CHECK(db.rules("ALTER TABLE live ADD COLUMN z int NOT NULL DEFAULT 0").empty());
        CHECK(db.rules("ALTER TABLE empty_t ADD COLUMN z int NOT NULL").empty());
    }

    TEST_CASE("migration lint: set-not-null-scan") {
        catalog db;
        CHECK(db.rules("ALTER TABLE live ALTER COLUMN a SET NOT NULL") ==
              std::vector<std::string>{"set-not-null-scan"});
        // A validated CHECK (f IS NOT NULL) exists: the server skips the scan (12 and later).
        CHECK(db.rules("ALTER TABLE live ALTER COLUMN f SET NOT NULL").empty());
        CHECK(db.rules("ALTER TABLE empty_t ALTER COLUMN a SET NOT NULL").empty());
        // A NOT VALID check does not count until validated.
        db.run("ALTER TABLE live ADD CONSTRAINT b_nn CHECK (b IS NOT NULL) NOT VALID");
        CHECK(db.flags("ALTER TABLE live ALTER COLUMN b SET NOT NULL", "set-not-null-scan"));
        // Validated by an earlier pending migration of the same run: no scan.
        const auto later = db.lint({make(1, "ALTER TABLE live VALIDATE CONSTRAINT b_nn"),
                                    make(2, "ALTER TABLE live ALTER COLUMN b SET NOT NULL")});
        CHECK(later.empty());
    }

    TEST_CASE("migration lint: constraint-not-valid") {
        catalog db;
        CHECK(db.flags("ALTER TABLE live ADD CONSTRAINT c CHECK (a > 1)", "constraint-not-valid"));
        CHECK(db.flags("ALTER TABLE live ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES other (id)",
                       "constraint-not-valid"));
        CHECK(db.rules("ALTER TABLE live ADD CONSTRAINT c CHECK (a > 1) NOT VALID").empty());
        CHECK(db.rules("ALTER TABLE live ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES other (id) "
                       "NOT VALID")
                  .empty());
        CHECK(db.rules("ALTER TABLE empty_t ADD CONSTRAINT c CHECK (a > 1)").empty());
    }

    TEST_CASE("migration lint: validate-in-same-transaction") {
        catalog db;
        CHECK(db.rules("ALTER TABLE live ADD CONSTRAINT c CHECK (a > 1) NOT VALID;"
                       "ALTER TABLE live VALIDATE CONSTRAINT c") ==
              std::vector<std::string>{"validate-in-same-transaction"});
        CHECK(db.rules("ALTER TABLE live VALIDATE CONSTRAINT a_pos").empty());
        // Two migrations: two transactions.
        CHECK(db.lint({make(1, "ALTER TABLE live ADD CONSTRAINT c CHECK (a > 1) NOT VALID"),
                       make(2, "ALTER TABLE live VALIDATE CONSTRAINT c")})
                  .empty());
        // A migration with a concurrent build runs each statement in a transaction of its own.
        CHECK(db.rules("ALTER TABLE live ADD CONSTRAINT c CHECK (a > 1) NOT VALID;"
                       "CREATE INDEX CONCURRENTLY live_b_idx ON live (b);"
                       "ALTER TABLE live VALIDATE CONSTRAINT c")
                  .empty());
    }

    TEST_CASE("migration lint: column-type-rewrite") {
        catalog db;
        CHECK(db.flags("ALTER TABLE live ALTER COLUMN a TYPE bigint", "column-type-rewrite"));
        CHECK(db.flags("ALTER TABLE live ALTER COLUMN b TYPE varchar(10)", "column-type-rewrite"));
        CHECK(db.flags("ALTER TABLE live ALTER COLUMN b TYPE text USING b || ''",
                       "column-type-rewrite"));
        CHECK(db.rules("ALTER TABLE live ALTER COLUMN b TYPE varchar(50)").empty());
        CHECK(db.rules("ALTER TABLE live ALTER COLUMN b SET DATA TYPE text").empty());
        CHECK(db.rules("ALTER TABLE live ALTER COLUMN n TYPE numeric(12,2)").empty());
        CHECK(db.rules("ALTER TABLE empty_t ALTER COLUMN a TYPE bigint").empty());
    }

    TEST_CASE("migration lint: unique-without-index") {
        catalog db;
        CHECK(db.flags("ALTER TABLE live ADD CONSTRAINT u UNIQUE (a)", "unique-without-index"));
        CHECK(
            db.flags("ALTER TABLE empty_t DROP CONSTRAINT empty_t_pkey, ADD PRIMARY KEY (id);"
                     "ALTER TABLE live ADD UNIQUE (b)",
                     "unique-without-index"));
        CHECK(db.rules("ALTER TABLE live ADD CONSTRAINT u UNIQUE USING INDEX live_id_key").empty());
        CHECK(db.rules("ALTER TABLE empty_t ADD CONSTRAINT u UNIQUE (a)").empty());
    }

    TEST_CASE("migration lint: rename") {
        catalog db;
        CHECK(db.flags("ALTER TABLE live RENAME COLUMN a TO a2", "rename"));
        CHECK(db.flags("ALTER TABLE live RENAME TO live2", "rename"));
        CHECK(db.flags("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", "rename"));
        CHECK(
            db.rules("CREATE TABLE fresh (a int); ALTER TABLE fresh RENAME COLUMN a TO b").empty());
        CHECK(db.rules("ALTER TABLE live RENAME CONSTRAINT a_pos TO a_positive").empty());
    }

    TEST_CASE("migration lint: drop-column-or-table") {
        catalog db;
        CHECK(db.flags("ALTER TABLE live DROP COLUMN e", "drop-column-or-table"));
        CHECK(db.flags("DROP TABLE empty_t", "drop-column-or-table"));
        CHECK(db.rules("CREATE TABLE fresh (a int); DROP TABLE fresh").empty());
        CHECK(db.rules("DROP TABLE IF EXISTS never_created").empty());
        CHECK(db.rules("ALTER TABLE live DROP CONSTRAINT a_pos").empty());
    }

    TEST_CASE("migration lint: enum-value-used-in-transaction") {
        catalog db;
        CHECK(db.flags("ALTER TYPE mood ADD VALUE 'calm'; UPDATE live SET m = 'calm' WHERE id = 1",
                       "enum-value-used-in-transaction"));
        CHECK(db.lint({make(1, "ALTER TYPE mood ADD VALUE 'calm'"),
                       make(2, "UPDATE live SET m = 'calm' WHERE id = 1")})
                  .empty());
    }

    TEST_CASE("migration lint: unbatched-dml-with-ddl") {
        catalog db;
        CHECK(db.flags("ALTER TABLE live ADD COLUMN c int; UPDATE live SET c = a",
                       "unbatched-dml-with-ddl"));
        CHECK(db.flags("DELETE FROM live WHERE a > 50; CREATE INDEX i ON empty_t (a)",
                       "unbatched-dml-with-ddl"));
        CHECK(db.rules("UPDATE live SET f = a").empty());
        CHECK(db.rules("ALTER TABLE live ADD COLUMN c int; UPDATE live SET c = a WHERE id IN "
                       "(SELECT id FROM live WHERE c IS NULL LIMIT 1000)")
                  .empty());
        CHECK(db.rules("ALTER TABLE empty_t ADD COLUMN c int; UPDATE empty_t SET c = a").empty());
    }

    TEST_CASE("migration lint: version-dependent rules on this server") {
        catalog db;
        const int version = db.conn().server_version();
        const bool bug14 = version >= 140000 && version < 140004;
        CHECK(db.flags("CREATE INDEX CONCURRENTLY i ON live (b)", "concurrent-index-14-bug") ==
              bug14);
        CHECK(db.flags("REINDEX TABLE CONCURRENTLY live", "reindex-concurrently-unsupported") ==
              (version < 120000));
        CHECK(db.flags("ALTER TABLE live ADD COLUMN z int DEFAULT 0", "volatile-default") ==
              (version < 110000));
    }

    TEST_CASE("migration lint: acknowledgements and the lines findings name") {
        catalog db;
        auto parsed = pgkit::parse_migration("0007_ack.sql",
                                             "-- Risk: high\n"
                                             "-- ========== UP ==========\n"
                                             "-- pgkit:allow rename nothing reads a since v3\n"
                                             "ALTER TABLE live RENAME COLUMN a TO a2;\n"
                                             "-- pgkit:allow drop-column-or-table\n"
                                             "ALTER TABLE live DROP COLUMN e;\n"
                                             "-- pgkit:allow no-such-rule because\n"
                                             "ALTER TABLE live DROP COLUMN b;\n");
        REQUIRE_MESSAGE(parsed, parsed.error().to_string());
        CHECK(parsed->up_line == 2);
        const auto found = db.lint({*parsed});
        REQUIRE(found.size() == 5);
        const auto at = [&](std::string_view rule, std::size_t line) {
            return std::find_if(found.begin(), found.end(), [&](const lint_finding& f) {
                return f.rule == rule && f.line == line;
            });
        };
        auto renamed = at("rename", 4);
        REQUIRE(renamed != found.end());
        CHECK(renamed->acknowledged);
        CHECK(renamed->reason == "nothing reads a since v3");
        CHECK(renamed->version == 7);
        CHECK(renamed->source == "0007_ack.sql");
        CHECK(renamed->section == "UP");
        CHECK(renamed->statement == "ALTER TABLE live RENAME COLUMN a TO a2");
        CHECK(renamed->message.find("expand/contract") != std::string::npos);
        CHECK(!renamed->version_fact.empty());
        // No reason: a finding of its own, and the statement's finding stands.
        REQUIRE(at("allow-without-reason", 5) != found.end());
        REQUIRE(at("drop-column-or-table", 6) != found.end());
        CHECK_FALSE(at("drop-column-or-table", 6)->acknowledged);
        REQUIRE(at("allow-unknown-rule", 7) != found.end());
        REQUIRE(at("drop-column-or-table", 8) != found.end());
        CHECK_FALSE(at("drop-column-or-table", 8)->acknowledged);
    }

    TEST_CASE("migration lint: the dry run lists what migrate_up would run") {
        catalog db;
        const std::vector<migration> all{
            make(1, "CREATE TABLE t1 (a int)"),
            make(2,
                 "ALTER TABLE live ADD CONSTRAINT c CHECK (a > 1) NOT VALID;\n"
                 "ALTER TABLE live VALIDATE CONSTRAINT c"),
            make(3,
                 "ALTER TABLE live ADD COLUMN g int;\n"
                 "CREATE INDEX CONCURRENTLY live_g_idx ON live (g)")};
        auto options = db.options();
        options.lock_timeout = 1500ms;
        options.long_lock_timeout = 60s;
        auto plan = pgkit::plan_migrate_up(db.pool(), all, options);
        REQUIRE_MESSAGE(plan, plan.error().to_string());
        REQUIRE(plan->size() == 3);
        CHECK((*plan)[0].version == 1);
        CHECK((*plan)[0].transactional);
        CHECK_FALSE((*plan)[0].resume_at.has_value());
        const auto& two = (*plan)[1];
        REQUIRE(two.statements.size() == 2);
        CHECK(two.statements[0].in_transaction);
        CHECK(two.statements[0].lock_timeout == 1500ms);
        CHECK(two.statements[1].lock_timeout == 60s);  // VALIDATE waits: the long timeout
        CHECK(two.statements[1].line == 2);
        REQUIRE(two.findings.size() == 1);
        CHECK(two.findings[0].rule == "validate-in-same-transaction");
        const auto& three = (*plan)[2];
        CHECK_FALSE(three.transactional);
        REQUIRE(three.statements.size() == 2);
        CHECK(three.statements[0].in_transaction);
        CHECK_FALSE(three.statements[1].in_transaction);
        // Alone, in autocommit: the long timeout as a session setting, or behind a pooler in
        // transaction mode none (the role's lock_timeout applies).
        CHECK(three.statements[1].lock_timeout ==
              (pgkit::test::behind_transaction_pooler() ? 0ms : 60s));
        // Nothing written: no history table, nothing applied.
        auto history = db.conn()
                           .execute(fmt::format("SELECT to_regclass('{}.pgkit_migrations') IS NULL "
                                                "AND to_regclass('t1') IS NULL",
                                                options.history_schema))
                           .and_then(&pgkit::query_result::scalar<bool>);
        REQUIRE_MESSAGE(history, history.error().to_string());
        CHECK(*history);
        // Up to a version.
        auto to2 = pgkit::plan_migrate_up(db.pool(), all, options, 2);
        REQUIRE_MESSAGE(to2, to2.error().to_string());
        CHECK(to2->size() == 2);
        // After migrate_up, nothing is pending.
        auto applied = pgkit::migrate_up(db.pool(), all, options, 1);
        REQUIRE_MESSAGE(applied, applied.error().to_string());
        auto rest = pgkit::plan_migrate_up(db.pool(), all, options);
        REQUIRE_MESSAGE(rest, rest.error().to_string());
        REQUIRE(rest->size() == 2);
        CHECK(rest->front().version == 2);
    }

    TEST_CASE("migration lint: the dry run resumes a partial migration where migrate_up would") {
        catalog db;
        const std::vector<migration> first{
            make(1,
                 "CREATE INDEX CONCURRENTLY live_b_idx ON live (b);\n"
                 "SELECT 1 / 0;\n"
                 "ALTER TABLE live ADD COLUMN z int NOT NULL")};
        auto failed = pgkit::migrate_up(db.pool(), first, db.options());
        REQUIRE_FALSE(failed);
        auto plan = pgkit::plan_migrate_up(db.pool(), first, db.options());
        REQUIRE_MESSAGE(plan, plan.error().to_string());
        REQUIRE(plan->size() == 1);
        const auto& m = plan->front();
        REQUIRE(m.resume_at.has_value());
        CHECK(*m.resume_at == 1);
        REQUIRE(m.statements.size() == 2);
        CHECK(m.statements[0].text == "SELECT 1 / 0");
        CHECK(m.statements[0].line == 2);
        REQUIRE(m.findings.size() == 1);
        CHECK(m.findings[0].rule == "not-null-without-default");
        CHECK(m.findings[0].line == 3);
    }

    TEST_CASE("migration lint: the dry run refuses what migrate_up refuses") {
        catalog db;
        std::vector<migration> all{make(1, "CREATE TABLE t1 (a int)"), make(3, "SELECT 1")};
        auto applied = pgkit::migrate_up(db.pool(), all, db.options());
        REQUIRE_MESSAGE(applied, applied.error().to_string());
        // An applied migration that changed since.
        all[0].up = "CREATE TABLE t1 (a bigint)";
        auto changed = pgkit::plan_migrate_up(db.pool(), all, db.options());
        REQUIRE_FALSE(changed);
        CHECK(changed.error().code() == errc::checksum_mismatch);
        auto linted = pgkit::lint_migrations(db.pool(), all, db.options());
        REQUIRE_FALSE(linted);
        CHECK(linted.error().code() == errc::checksum_mismatch);
        // A pending version lower than an applied one.
        all[0].up = "CREATE TABLE t1 (a int)";
        all.insert(all.begin() + 1, make(2, "SELECT 2"));
        auto out_of_order = pgkit::plan_migrate_up(db.pool(), all, db.options());
        REQUIRE_FALSE(out_of_order);
        CHECK(out_of_order.error().code() == errc::migration_refused);
        // Bad options, as migrate_up.
        auto options = db.options();
        options.lock_timeout = 0ms;
        auto bad = pgkit::plan_migrate_up(db.pool(), all, options);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code() == errc::invalid_argument);
    }
}
