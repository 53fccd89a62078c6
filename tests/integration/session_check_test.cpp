// The session check on one connection (connection::check_session_first): what it clears, how it
// travels with each kind of statement, and what happens when a part of it fails.
#include "pgkit/connection.hpp"

#include "support/scalar_query.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using pgkit::test::scalar;

/// The pool's kind of check: nothing to restore, a full reset that leaves a mark.
std::shared_ptr<const pgkit::session_check_sql> check_sql(std::string restore = {},
                                                          std::string full_reset = {}) {
    if (full_reset.empty()) {
        full_reset =
            "CLOSE ALL; UNLISTEN *; RESET ALL; DISCARD TEMP; DEALLOCATE ALL; SET "
            "application_name = 'full_reset_ran'";
    }
    return std::make_shared<const pgkit::session_check_sql>(
        pgkit::session_check_sql{std::move(restore), std::move(full_reset), {}});
}

/// Leaves a setting the check's RESET ALL clears, and arms the check.
void leave_setting_and_arm(pgkit::connection& conn,
                           std::shared_ptr<const pgkit::session_check_sql> sql = check_sql()) {
    REQUIRE(conn.execute("SELECT set_config('work_mem', '7MB', false)"));
    conn.check_session_first(std::move(sql));
    REQUIRE(conn.session_check_pending());
}

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE("session check: armed only after a statement ran, consumed by the next one") {
        auto conn = pgkit::test::connect_to_server();
        conn.check_session_first(check_sql());
        CHECK_FALSE(conn.session_check_pending());  // nothing ran since the session opened
        leave_setting_and_arm(conn);
        conn.check_session_first(check_sql());  // armed already; nothing ran since
        CHECK(conn.session_check_pending());
        CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
        CHECK_FALSE(conn.session_check_pending());
        CHECK(scalar<std::string>(conn, "SHOW application_name") != "full_reset_ran");
    }

    TEST_CASE("session check: travels with every kind of statement and returns its result") {
        pgkit::test::scratch_schema schema;
        for (const std::string kind :
             {"params", "prepared", "utility", "prepare", "begin", "script", "copy"}) {
            CAPTURE(kind);
            auto conn = pgkit::test::connect_to_server();
            REQUIRE(conn.prepare("pgkit_test_checked_insert", "SELECT $1::int + 1"));
            REQUIRE(
                conn.prepare("pgkit_test_checked_show", "SHOW work_mem"));  // sent after the check
            REQUIRE(
                conn.execute_script(fmt::format("CREATE TABLE IF NOT EXISTS {0}.copied (x int); "
                                                "CREATE SEQUENCE IF NOT EXISTS {0}.counter; "
                                                "SELECT nextval('{0}.counter')",
                                                schema.name())));
            leave_setting_and_arm(conn);
            const auto before = conn.round_trips();
            // The check costs no round trip of its own, except ahead of what must go alone.
            std::uint64_t expected_round_trips = 1;
            if (kind == "params") {
                auto value = conn.execute("SELECT $1::int * 2", 21);
                REQUIRE(value);
                CHECK(value->scalar<int>().value() == 42);
            } else if (kind == "prepared") {
                auto value = conn.execute_prepared("pgkit_test_checked_insert", 41);
                REQUIRE(value);
                CHECK(value->scalar<int>().value() == 42);
            } else if (kind == "utility") {
                auto value = conn.execute_prepared("pgkit_test_checked_show");
                expected_round_trips = 2;
                REQUIRE(value);
                CHECK(value->scalar<std::string>().value() != "7MB");
            } else if (kind == "prepare") {
                REQUIRE(conn.prepare("pgkit_test_checked_late", "SELECT 7"));
                expected_round_trips = 2;  // and the execution
                CHECK(conn.execute_prepared("pgkit_test_checked_late")
                          .and_then(&pgkit::query_result::scalar<int>)
                          .value() == 7);
            } else if (kind == "begin") {
                REQUIRE(conn.execute_script("BEGIN ISOLATION LEVEL SERIALIZABLE"));
                CHECK(conn.round_trips() - before == 1);
                CHECK(scalar<std::string>(conn, "SHOW transaction_isolation") == "serializable");
                REQUIRE(conn.execute_script("COMMIT"));
                expected_round_trips = 3;
            } else if (kind == "script") {
                auto last = conn.execute_script("SELECT 1; SELECT 2");
                expected_round_trips = 2;
                REQUIRE(last);
                CHECK(last->scalar<int>().value() == 2);
            } else {
                const std::vector<std::string> columns{"x"};
                auto writer = conn.copy_in(schema.name(), "copied", columns);
                REQUIRE(writer);
                REQUIRE(writer->write_row(5));
                CHECK(writer->finish().value() == 1);
                expected_round_trips = 3;  // the check alone, COPY's start and its end
            }
            CHECK(conn.round_trips() - before == expected_round_trips);
            CHECK_FALSE(conn.session_check_pending());
            CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
            auto last = conn.execute("SELECT lastval()");  // DISCARD SEQUENCES ran
            REQUIRE_FALSE(last);
            CHECK(last.error().sqlstate() == "55000");
            CHECK(scalar<std::string>(conn, "SHOW application_name") != "full_reset_ran");
        }
    }

    TEST_CASE(
        "session check: clears held cursors, and a LISTEN or a temporary table calls for a reset") {
        for (const std::string state :
             {"CREATE TEMP TABLE left_behind (x int)", "LISTEN left_behind",
              "DECLARE left_behind CURSOR WITH HOLD FOR SELECT 1",
              // The session's temporary schema exists, empty: nothing to reset.
              "CREATE TEMP TABLE dropped (x int); DROP TABLE dropped"}) {
            // The check, then for LISTEN and a temporary table the full reset and the statement
            // again.
            const bool full_reset =
                state.starts_with("LISTEN") || state == "CREATE TEMP TABLE left_behind (x int)";
            for (const bool begin : {false, true}) {
                CAPTURE(state);
                CAPTURE(begin);
                auto conn = pgkit::test::connect_to_server();
                REQUIRE(conn.execute_script(state));
                leave_setting_and_arm(conn);
                const auto before = conn.round_trips();
                if (begin) {
                    REQUIRE(conn.execute_script("BEGIN"));
                    CHECK(conn.status() == pgkit::transaction_status::in_transaction);
                    REQUIRE(conn.execute_script("COMMIT"));
                } else {
                    CHECK(scalar<int>(conn, "SELECT 3") == 3);
                }
                CHECK(conn.round_trips() - before ==
                      (full_reset ? 3U : 1U) + (begin ? 1U : 0U));  // (and the COMMIT)
                CHECK((scalar<std::string>(conn, "SHOW application_name") == "full_reset_ran") ==
                      full_reset);
                CHECK(scalar<std::int64_t>(conn,
                                           "SELECT count(*) FROM pg_class WHERE relname = "
                                           "'left_behind' AND relpersistence = 't'") == 0);
                CHECK(scalar<std::int64_t>(conn, "SELECT count(*) FROM pg_listening_channels()") ==
                      0);
                CHECK(scalar<std::int64_t>(
                          conn, "SELECT count(*) FROM pg_cursors WHERE is_holdable") == 0);
                CHECK_FALSE(conn.is_poisoned());
            }
        }
    }

    TEST_CASE("session check: failed resets call for the full reset before the statement runs") {
        auto conn = pgkit::test::connect_to_server();
        leave_setting_and_arm(conn, check_sql("SELECT 1/0"));
        CHECK(scalar<int>(conn, "SELECT 4") == 4);
        CHECK(scalar<std::string>(conn, "SHOW application_name") == "full_reset_ran");
        CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
    }

    TEST_CASE("session check: a deallocated guard is prepared again") {
        auto conn = pgkit::test::connect_to_server();
        leave_setting_and_arm(conn);
        CHECK(scalar<int>(conn, "SELECT 1") == 1);  // prepares the guard
        REQUIRE(conn.execute_script("DEALLOCATE ALL"));
        leave_setting_and_arm(conn);
        CHECK(scalar<int>(conn, "SELECT 2") == 2);  // guard missing: full reset, sent again
        CHECK(scalar<std::string>(conn, "SHOW application_name") == "full_reset_ran");
        REQUIRE(conn.execute_script("SET application_name = 'after'"));
        leave_setting_and_arm(conn);
        CHECK(scalar<int>(conn, "SELECT 3") == 3);  // prepared again: no full reset
        CHECK(scalar<std::string>(conn, "SHOW application_name") != "full_reset_ran");
    }

    TEST_CASE("session check: the statement's own failure and a failed BEGIN") {
        auto conn = pgkit::test::connect_to_server();
        SUBCASE("a failing statement reports its error and takes the resets with it") {
            leave_setting_and_arm(conn);
            auto failed = conn.execute("SELECT 1/0");
            REQUIRE_FALSE(failed);
            CHECK(failed.error().sqlstate() == "22012");
            CHECK(conn.session_check_pending());  // armed again for the next statement
            CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
            CHECK_FALSE(conn.session_check_pending());
        }
        SUBCASE("a transaction whose BEGIN carried the check and that rolls back arms it again") {
            leave_setting_and_arm(conn);
            REQUIRE(conn.execute_script("BEGIN"));
            CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
            REQUIRE(conn.execute_script("ROLLBACK"));
            CHECK(conn.session_check_pending());
            CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
            CHECK_FALSE(conn.session_check_pending());
        }
        SUBCASE("a failed COMMIT is a rollback too") {
            leave_setting_and_arm(conn);
            REQUIRE(conn.execute_script("BEGIN"));
            REQUIRE_FALSE(conn.execute("SELECT 1/0"));
            auto ended = conn.execute_script("COMMIT");  // reported as ROLLBACK
            REQUIRE(ended);
            CHECK(conn.session_check_pending());
            CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
        }
        SUBCASE("a transaction that commits keeps the resets") {
            leave_setting_and_arm(conn);
            REQUIRE(conn.execute_script("BEGIN"));
            REQUIRE(conn.execute_script("COMMIT"));
            CHECK_FALSE(conn.session_check_pending());
            CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
        }
        SUBCASE("a BEGIN that fails leaves the check armed for the next statement") {
            leave_setting_and_arm(conn);
            auto failed = conn.execute_script("BEGIN ISOLATION LEVEL NONSENSE");
            REQUIRE_FALSE(failed);
            CHECK(failed.error().sqlstate() == "42601");
            CHECK(conn.session_check_pending());
            CHECK(scalar<std::string>(conn, "SHOW work_mem") != "7MB");
            CHECK_FALSE(conn.session_check_pending());
        }
        CHECK_FALSE(conn.is_poisoned());
        CHECK(conn.status() == pgkit::transaction_status::idle);
    }

    TEST_CASE("session check: a full reset that fails poisons the connection") {
        auto conn = pgkit::test::connect_to_server();
        leave_setting_and_arm(conn, check_sql("SELECT 1/0", "SELECT 1/0"));
        auto failed = conn.execute("SELECT 5");
        REQUIRE_FALSE(failed);
        CHECK(failed.error().sqlstate() == "22012");
        CHECK(conn.is_poisoned());
    }

    TEST_CASE("session check: an error at the sync point is the server's own, not a broken pipe") {
        // A deferred constraint is checked when the pipeline's implicit transaction commits, at
        // its sync point: the server's error arrives there, where a FATAL at a shutdown does too.
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE TABLE parents (id int PRIMARY KEY);"
            "CREATE TABLE children (parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED)"));
        leave_setting_and_arm(conn);
        auto failed = conn.execute("INSERT INTO children VALUES ($1)", 7);
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == pgkit::errc::foreign_key_violation);
        CHECK(failed.error().sqlstate() == "23503");
        CHECK(failed.error().constraint_name() == "children_parent_fkey");
        CHECK(conn.is_poisoned());  // the pipeline's state after it is not known
        auto fresh = schema.connect();
        CHECK(scalar<std::int64_t>(fresh, "SELECT count(*) FROM children") == 0);
    }

    TEST_CASE("session check: a session that ended meanwhile is connection_lost, not a hang") {
        auto conn = pgkit::test::connect_to_server();
        auto admin = pgkit::test::connect_directly();
        leave_setting_and_arm(conn);
        // The two-argument form waits (up to 10 s) until the backend has exited.
        auto ended = admin.execute("SELECT pg_terminate_backend($1, 10000)", conn.backend_pid())
                         .and_then(&pgkit::query_result::scalar<bool>);
        REQUIRE(ended);
        REQUIRE(*ended);
        auto failed = conn.execute("SELECT 6");
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == pgkit::errc::connection_lost);
        CHECK(conn.is_poisoned());
    }
}
