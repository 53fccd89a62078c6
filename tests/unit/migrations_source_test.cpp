// Migration sources: the file format, the checks across migrations, and how a section is split
// into statements and classified (which statements cannot run in a transaction). No server.
#include "pgkit/migrations.hpp"

#include "migrate/statements.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using pgkit::errc;
using pgkit::migration;
using pgkit::parse_migration;
using pgkit::detail::migrate::split_section;
using pgkit::detail::migrate::statement_class;

namespace {

constexpr std::string_view template_file = R"(-- Migration: 0002_add_phone.sql
-- Author: someone
-- Risk: Medium
-- Rollback: see DOWN section
-- Requires: 0001_create_users
-- ========== UP ==========
BEGIN;
ALTER TABLE users ADD COLUMN phone varchar(20);
COMMENT ON COLUMN users.phone IS 'a; semicolon -- and a dash';
COMMIT;
-- ========== DOWN ==========
ALTER TABLE users DROP COLUMN phone;
-- ========== VERIFY ==========
SELECT count(*) = 0 FROM users WHERE phone = 'x';
)";

migration make(std::int64_t version, std::string name, std::string up, std::string source) {
    migration m;
    m.version = version;
    m.name = std::move(name);
    m.up = std::move(up);
    m.source = std::move(source);
    return m;
}

/// The error of parsing `text` as `name`; fails the test when it parses.
pgkit::error parse_error(std::string_view text, std::string_view name = "0001_x.sql") {
    auto parsed = parse_migration(name, text);
    REQUIRE_FALSE(parsed);
    return parsed.error();
}

}  // namespace

TEST_CASE("migrations: the seed template parses into version and name and sections and headers") {
    auto m = parse_migration("db/0002_add_phone.sql", template_file);
    REQUIRE_MESSAGE(m, m.error().to_string());
    CHECK(m->version == 2);
    CHECK(m->name == "add_phone");
    CHECK(m->source == "db/0002_add_phone.sql");
    CHECK(m->risk == "medium");
    CHECK(m->requires_versions == std::vector<std::int64_t>{1});
    CHECK(m->up.find("ADD COLUMN phone") != std::string::npos);
    CHECK(m->down.find("DROP COLUMN phone") != std::string::npos);
    CHECK(m->verify.find("count(*)") != std::string::npos);
    // BEGIN and COMMIT around the section are dropped: the runner opens the transaction.
    auto up = split_section(m->up);
    REQUIRE(up);
    REQUIRE(up->size() == 2);
    CHECK((*up)[0].text == "ALTER TABLE users ADD COLUMN phone varchar(20)");
    CHECK((*up)[1].text == "COMMENT ON COLUMN users.phone IS 'a; semicolon -- and a dash'");
    CHECK((*up)[1].line == 4);  // of the section, which starts on the marker's line
}

TEST_CASE("migrations: a DOWN section of comments only counts as absent") {
    auto m = parse_migration("0003_x.sql",
                             "-- ===== UP =====\nSELECT 1;\n-- ===== DOWN =====\n-- BEGIN;\n"
                             "-- DROP TABLE t;\n-- COMMIT;\n");
    REQUIRE_MESSAGE(m, m.error().to_string());
    CHECK(m->down.empty());
    auto required =
        parse_migration("0003_x.sql", "-- ===== UP =====\nSELECT 1;\n-- ===== DOWN =====\n-- x\n",
                        {.require_down = true});
    REQUIRE_FALSE(required);
    CHECK(required.error().code() == errc::migration_source_invalid);
    CHECK(required.error().message().find("0003_x.sql") != std::string::npos);
    CHECK(required.error().message().find("DOWN") != std::string::npos);
}

TEST_CASE("migrations: malformed files give errors that name the file and the line") {
    struct bad_case {
        std::string_view text;
        std::string_view where;  // "file:line" expected at the start of the message
        std::string_view says;
    };
    const std::vector<bad_case> cases{
        {"-- ===== UP =====\nSELECT 1;\n-- ===== SIDEWAYS =====\nSELECT 2;\n", "0001_x.sql:3",
         "unknown section"},
        {"-- ===== UP =====\nSELECT 1;\n-- ===== UP =====\nSELECT 2;\n", "0001_x.sql:3",
         "second UP"},
        {"-- header\nSELECT 1;\n-- ===== UP =====\nSELECT 2;\n", "0001_x.sql:2",
         "before the first section"},
        {"-- ===== UP =====\nSELECT 1;\nSELECT 'open\n", "0001_x.sql:3", "unterminated"},
        {"-- Risk: extreme\n-- ===== UP =====\nSELECT 1;\n", "0001_x.sql:1", "Risk"},
        {"-- Requires: soon\n-- ===== UP =====\nSELECT 1;\n", "0001_x.sql:1", "Requires"},
        {"-- ===== UP =====\nSELECT 1;\nCOMMIT;\nSELECT 2;\n", "0001_x.sql:3",
         "transaction control"},
        {"-- ===== UP =====\n-- nothing\n", "0001_x.sql:1", "no statement"},
        {"-- ===== DOWN =====\nSELECT 1;\n", "0001_x.sql", "no UP section"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto e = parse_error(c.text);
        CHECK(e.code() == errc::migration_source_invalid);
        CHECK(e.message().rfind(std::string{c.where}, 0) == 0);
        CHECK(e.message().find(std::string{c.says}) != std::string::npos);
    }
    for (std::string_view name : {"x.sql", "0001.sql", "0001_x.txt", "000_x.sql", "a1_x.sql",
                                  "1234567890123456789_x.sql"}) {
        CAPTURE(name);
        const auto e = parse_error("-- ===== UP =====\nSELECT 1;\n", name);
        CHECK(e.code() == errc::migration_source_invalid);
        CHECK(e.message().find(std::string{name}) != std::string::npos);
    }
}

TEST_CASE("migrations: check_migrations refuses duplicate versions and bad Requires") {
    const migration a = make(1, "a", "SELECT 1", "one.sql");
    const migration b = make(1, "b", "SELECT 2", "two.sql");
    auto dup = pgkit::check_migrations({a, b});
    REQUIRE_FALSE(dup);
    CHECK(dup.error().code() == errc::migration_source_invalid);
    CHECK(dup.error().message().find("two.sql") != std::string::npos);
    CHECK(dup.error().message().find("one.sql") != std::string::npos);

    migration c = make(2, "c", "SELECT 3", "three.sql");
    c.requires_versions = {5};
    auto missing = pgkit::check_migrations({a, c});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message().find("three.sql") != std::string::npos);

    migration d = make(3, "d", "SELECT 'x", "");
    auto unterminated = pgkit::check_migrations({d});
    REQUIRE_FALSE(unterminated);
    CHECK(unterminated.error().message().find("migration 3 (d)") != std::string::npos);
    CHECK(unterminated.error().message().find("UP section") != std::string::npos);

    c.requires_versions = {1};
    auto sorted = pgkit::check_migrations({c, a, make(5, "e", "SELECT 5", "")});
    REQUIRE_MESSAGE(sorted, sorted.error().to_string());
    CHECK((*sorted)[0].version == 1);
    CHECK((*sorted)[2].version == 5);
}

TEST_CASE("migrations: statements that cannot run in a transaction are recognised by the lexer") {
    auto split = split_section(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_a ON t (a);\n"
        "create unique index concurrently \"Idx B\" on t (b);\n"
        "DROP INDEX CONCURRENTLY idx_a;\n"
        "REINDEX INDEX CONCURRENTLY idx_c;\n"
        "VACUUM (ANALYZE) t;\n"
        "ALTER TABLE t VALIDATE CONSTRAINT c_check;\n"
        "ALTER TYPE mood ADD VALUE 'meh';\n"
        "SELECT 'CREATE INDEX CONCURRENTLY x ON t (a); VACUUM';\n"
        "CREATE INDEX CONCURRENTLY ON t (c);\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 "
        "END; SELECT 2; END;\n"
        "/* ; */ UPDATE t SET a = $x$;$x$",
        110000);
    REQUIRE(split);
    REQUIRE(split->size() == 11);
    const auto& s = *split;
    CHECK(s[0].kind == statement_class::non_transactional);
    CHECK(s[0].long_timeout);
    CHECK(s[0].concurrent_index == "idx_a");
    CHECK(s[1].kind == statement_class::non_transactional);
    CHECK(s[1].concurrent_index == "\"Idx B\"");
    CHECK(s[2].kind == statement_class::non_transactional);
    CHECK(s[3].kind == statement_class::non_transactional);
    CHECK(s[4].kind == statement_class::non_transactional);
    CHECK_FALSE(s[4].long_timeout);
    CHECK(s[5].kind == statement_class::long_wait);
    CHECK(s[5].long_timeout);
    CHECK(s[6].kind == statement_class::non_transactional);  // before PostgreSQL 12
    CHECK(s[7].kind == statement_class::transactional);
    CHECK(s[8].concurrent_index.empty());
    CHECK(s[9].kind == statement_class::transactional);
    CHECK(s[9].text.find("SELECT 2; END") != std::string::npos);
    CHECK(s[10].text == "UPDATE t SET a = $x$;$x$");
    CHECK(s[10].line == 11);

    auto modern = split_section("ALTER TYPE mood ADD VALUE 'meh'", 150000);
    REQUIRE(modern);
    CHECK((*modern)[0].kind == statement_class::transactional);
}
