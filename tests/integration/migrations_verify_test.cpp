// verify_migrations (the applied migrations' VERIFY sections, run again and reported one by one)
// and migrate_options::on_progress (what the pgkit tool prints while migrations run).
#include "pgkit/migrations.hpp"
#include "pgkit/pool.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using pgkit::migration;
using pgkit::migration_progress;
using pgkit::test::make_pool;
using pgkit::test::scratch_schema;
using pgkit::test::test_pool_options;

migration numbered(std::int64_t version, std::string up, std::string verify, std::string down) {
    migration m;
    m.version = version;
    m.name = fmt::format("check_{}", version);
    m.up = std::move(up);
    m.verify = std::move(verify);
    m.down = std::move(down);
    m.source = fmt::format("{:04}_check_{}.sql", version, version);
    return m;
}

}  // namespace

TEST_SUITE("migrations") {
    TEST_CASE("migrations: verify_migrations reports each applied migration's VERIFY") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        pgkit::migrate_options options;
        options.history_schema = schema.name();
        std::vector<migration> all{
            numbered(1, "CREATE TABLE t (id int PRIMARY KEY, v int)",
                     "SELECT count(*) = 0 FROM t WHERE v IS NULL", "DROP TABLE t"),
            numbered(2, "INSERT INTO t VALUES (1, 1)", "", "DELETE FROM t"),
            numbered(3, "CREATE TABLE u (id int)", "SELECT true", "DROP TABLE u"),
            numbered(4, "CREATE TABLE w (id int)", "SELECT true", "DROP TABLE w")};

        std::vector<std::string> events;
        options.on_progress = [&](const migration_progress& p) {
            const char* what = p.what == migration_progress::step::started    ? "started"
                               : p.what == migration_progress::step::finished ? "finished"
                                                                              : "failed";
            events.push_back(fmt::format("{} {} {}", p.up ? "up" : "down", p.version, what));
            CHECK(p.source == fmt::format("{:04}_check_{}.sql", p.version, p.version));
        };
        auto up = pgkit::migrate_up(*pool, all, options, 3);
        REQUIRE_MESSAGE(up, up.error().to_string());
        CHECK(events == std::vector<std::string>{"up 1 started", "up 1 finished", "up 2 started",
                                                 "up 2 finished", "up 3 started", "up 3 finished"});
        options.on_progress = {};

        auto all_pass = pgkit::verify_migrations(*pool, all, options);
        REQUIRE_MESSAGE(all_pass, all_pass.error().to_string());
        REQUIRE(all_pass->size() == 3);  // the applied ones: 4 is pending
        for (const auto& v : *all_pass) {
            CHECK_MESSAGE(v.passed, v.message);
        }
        CHECK((*all_pass)[1].message == "no VERIFY section");

        // The data breaks migration 1's check; VERIFY runs read-only and changes nothing.
        auto broke = conn.execute_script("UPDATE t SET v = NULL");
        REQUIRE_MESSAGE(broke, broke.error().to_string());
        all[2].verify = "SELECT 1/0";  // also changes 3's checksum
        auto some_fail = pgkit::verify_migrations(*pool, all, options);
        REQUIRE_MESSAGE(some_fail, some_fail.error().to_string());
        REQUIRE(some_fail->size() == 3);
        CHECK_FALSE((*some_fail)[0].passed);
        CHECK((*some_fail)[0].message.find("VERIFY statement 1") != std::string::npos);
        CHECK((*some_fail)[0].source == "0001_check_1.sql");
        CHECK((*some_fail)[1].passed);
        CHECK_FALSE((*some_fail)[2].passed);
        CHECK((*some_fail)[2].message.find("checksum") != std::string::npos);

        // A VERIFY that errors is a failed check, and the next one still runs.
        all[2].verify = "SELECT true";
        all[0].verify = "SELECT no_such_column FROM t";
        REQUIRE(pgkit::repair_migration(*pool, all, 1, options));
        auto errored = pgkit::verify_migrations(*pool, all, options);
        REQUIRE_MESSAGE(errored, errored.error().to_string());
        CHECK_FALSE((*errored)[0].passed);
        CHECK((*errored)[0].message.find("no_such_column") != std::string::npos);
        CHECK((*errored)[1].passed);
        CHECK((*errored)[2].passed);

        // Down reports its steps too, and a failing one as failed.
        auto dropped = conn.execute_script("DROP TABLE u");  // 3's DOWN fails now
        REQUIRE_MESSAGE(dropped, dropped.error().to_string());
        events.clear();
        options.on_progress = [&](const migration_progress& p) {
            events.push_back(
                fmt::format("{} {} {}", p.up ? "up" : "down", p.version,
                            p.what == migration_progress::step::failed ? "failed" : "other"));
        };
        auto down = pgkit::migrate_down(*pool, all, 1, options);
        REQUIRE_FALSE(down);
        CHECK(events == std::vector<std::string>{"down 3 other", "down 3 failed"});
    }
}
