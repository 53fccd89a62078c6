// Every error code pgkit derives from the server is produced here by a real server error.
#include "pgkit/connection.hpp"

#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

namespace {

using pgkit::errc;

/// Polls (never sleeps blindly) until `pid` is waiting on a lock or running `fragment`.
void wait_until_backend(pgkit::connection& observer, int pid, std::string_view condition) {
    const auto sql =
        fmt::format("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND {}", condition);
    for (int attempt = 0; attempt < 100'000; ++attempt) {
        auto seen = observer.execute(sql, std::int32_t{pid})
                        .and_then(&pgkit::query_result::scalar<std::int64_t>);
        REQUIRE(seen);
        if (*seen == 1) {
            return;
        }
        std::this_thread::yield();
    }
    FAIL("backend never reached: " << condition);
}

template <class T>
pgkit::error expect_error(const pgkit::result<T>& outcome, errc code) {
    REQUIRE_FALSE(outcome.has_value());
    INFO(outcome.error().to_string());
    CHECK(outcome.error().code() == code);
    return outcome.error();
}

}  // namespace

TEST_SUITE("errors") {
    TEST_CASE("errors: a unique violation carries its SQLSTATE, table and constraint") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(
            conn.execute_script("CREATE TABLE accounts (email text CONSTRAINT "
                                "accounts_email_key UNIQUE)"));
        REQUIRE(conn.execute("INSERT INTO accounts VALUES ($1)", "a@example.com"));
        auto e = expect_error(conn.execute("INSERT INTO accounts VALUES ($1)", "a@example.com"),
                              errc::unique_violation);
        CHECK(e.sqlstate() == "23505");
        CHECK(e.constraint_name() == "accounts_email_key");
        CHECK(e.table_name() == "accounts");
        CHECK(e.schema_name() == schema.name());
        CHECK(e.detail().find("already exists") != std::string::npos);
        CHECK_FALSE(e.is_retryable());
        CHECK_FALSE(e.poisons_connection());
        CHECK(conn.execute("SELECT 1"));  // the session is still usable
    }

    TEST_CASE("errors: foreign key, not null and check violations name what failed") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(
            conn.execute_script("CREATE TABLE parents (id int PRIMARY KEY);"
                                "CREATE TABLE children (id int PRIMARY KEY, parent_id int NOT NULL "
                                "  CONSTRAINT children_parent_fk REFERENCES parents(id),"
                                "  age int CONSTRAINT children_age_positive CHECK (age > 0))"));

        auto fk = expect_error(conn.execute("INSERT INTO children VALUES (1, $1, 3)", 42),
                               errc::foreign_key_violation);
        CHECK(fk.sqlstate() == "23503");
        CHECK(fk.constraint_name() == "children_parent_fk");

        auto nn = expect_error(
            conn.execute("INSERT INTO children VALUES (1, $1, 3)", std::optional<int>{}),
            errc::not_null_violation);
        CHECK(nn.sqlstate() == "23502");
        CHECK(nn.column_name() == "parent_id");
        CHECK(nn.table_name() == "children");

        REQUIRE(conn.execute("INSERT INTO parents VALUES ($1)", 1));
        auto check = expect_error(conn.execute("INSERT INTO children VALUES (1, 1, $1)", -5),
                                  errc::check_violation);
        CHECK(check.sqlstate() == "23514");
        CHECK(check.constraint_name() == "children_age_positive");
    }

    TEST_CASE("errors: undefined table, undefined column, syntax error, unknown function") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(expect_error(conn.execute("SELECT * FROM no_such_table_here"), errc::undefined_table)
                  .sqlstate() == "42P01");
        CHECK(expect_error(conn.execute("SELECT no_such_column FROM pg_class"),
                           errc::undefined_column)
                  .sqlstate() == "42703");
        CHECK(expect_error(conn.execute("SELEKT 1"), errc::syntax_error).sqlstate() == "42601");
        // Anything without a dedicated code keeps its exact SQLSTATE.
        CHECK(expect_error(conn.execute("SELECT no_such_function()"), errc::server_error)
                  .sqlstate() == "42883");
    }

    TEST_CASE("errors: insufficient privilege when a role may not read a table") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        const std::string role = schema.name() + "_reader";
        REQUIRE(conn.execute_script(fmt::format(
            "CREATE TABLE secrets (v text); CREATE ROLE {} NOLOGIN; GRANT USAGE ON SCHEMA {} TO "
            "{}; SET ROLE {}",
            role, schema.name(), role, role)));
        auto e = expect_error(conn.execute("SELECT * FROM secrets"), errc::insufficient_privilege);
        CHECK(e.sqlstate() == "42501");
        REQUIRE(conn.execute_script(
            fmt::format("RESET ROLE; DROP OWNED BY {}; DROP ROLE {}", role, role)));
    }

    TEST_CASE("errors: statement_timeout and a cancel request are told apart") {
        auto conn = pgkit::test::connect_to_server();
        REQUIRE(conn.execute_script("SET statement_timeout = '50ms'"));
        auto timeout = expect_error(conn.execute("SELECT pg_sleep(30)"), errc::statement_timeout);
        CHECK(timeout.sqlstate() == "57014");
        REQUIRE(conn.execute_script("RESET statement_timeout"));

        // A backend that cancels itself gets the cancel-request flavour of 57014.
        auto canceled =
            expect_error(conn.execute("SELECT pg_cancel_backend(pg_backend_pid()), pg_sleep(30)"),
                         errc::query_canceled);
        CHECK(canceled.sqlstate() == "57014");
        CHECK(conn.execute("SELECT 1"));
    }

    TEST_CASE("errors: connection::cancel from another thread stops a running statement") {
        auto conn = pgkit::test::connect_to_server();
        auto observer = pgkit::test::connect_to_server();
        const int pid = conn.backend_pid();
        pgkit::result<pgkit::query_result> outcome = pgkit::make_error(errc::internal, "unset");
        std::thread worker{[&] { outcome = conn.execute("SELECT pg_sleep(60)"); }};
        wait_until_backend(observer, pid, "state = 'active' AND query LIKE '%pg_sleep(60)%'");
        CHECK(conn.cancel());
        worker.join();
        expect_error(outcome, errc::query_canceled);
    }

    TEST_CASE("errors: lock_timeout while another transaction holds the lock") {
        pgkit::test::scratch_schema schema;
        auto holder = schema.connect();
        auto waiter = schema.connect();
        REQUIRE(holder.execute_script(
            "CREATE TABLE jobs (id int PRIMARY KEY); INSERT INTO jobs VALUES (1)"));
        REQUIRE(holder.execute_script("BEGIN; SELECT * FROM jobs WHERE id = 1 FOR UPDATE"));
        REQUIRE(waiter.execute_script("SET lock_timeout = '50ms'"));
        auto e = expect_error(waiter.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE"),
                              errc::lock_timeout);
        CHECK(e.sqlstate() == "55P03");
        auto nowait =
            expect_error(waiter.execute("SELECT * FROM jobs WHERE id = 1 FOR UPDATE NOWAIT"),
                         errc::lock_timeout);
        CHECK(nowait.sqlstate() == "55P03");
        REQUIRE(holder.execute_script("ROLLBACK"));
    }

    TEST_CASE("errors: serialization failure is retryable") {
        pgkit::test::scratch_schema schema;
        auto a = schema.connect();
        auto b = schema.connect();
        REQUIRE(
            a.execute_script("CREATE TABLE counters (id int PRIMARY KEY, n int);"
                             "INSERT INTO counters VALUES (1, 0)"));
        REQUIRE(
            a.execute_script("BEGIN ISOLATION LEVEL REPEATABLE READ;"
                             "SELECT n FROM counters WHERE id = 1"));
        REQUIRE(b.execute("UPDATE counters SET n = n + 1 WHERE id = 1"));
        auto e = expect_error(a.execute("UPDATE counters SET n = n + 1 WHERE id = 1"),
                              errc::serialization_failure);
        CHECK(e.sqlstate() == "40001");
        CHECK(e.in_transaction());
        CHECK(e.is_retryable());
        CHECK(a.status() == pgkit::transaction_status::in_failed_transaction);

        // Anything else in the failed transaction is refused until it ends.
        auto aborted = expect_error(a.execute("SELECT 1"), errc::transaction_aborted);
        CHECK(aborted.sqlstate() == "25P02");
        REQUIRE(a.execute_script("ROLLBACK"));
        CHECK(a.status() == pgkit::transaction_status::idle);
    }

    TEST_CASE("errors: deadlock detected in one of two crossing transactions") {
        pgkit::test::scratch_schema schema;
        auto a = schema.connect();
        auto b = schema.connect();
        auto observer = schema.connect();
        REQUIRE(
            a.execute_script("CREATE TABLE slots (id int PRIMARY KEY, n int);"
                             "INSERT INTO slots VALUES (1, 0), (2, 0)"));
        REQUIRE(
            a.execute_script("SET deadlock_timeout = '20ms'; BEGIN;"
                             "UPDATE slots SET n = 1 WHERE id = 1"));
        REQUIRE(
            b.execute_script("SET deadlock_timeout = '20ms'; BEGIN;"
                             "UPDATE slots SET n = 2 WHERE id = 2"));
        pgkit::result<pgkit::query_result> first = pgkit::make_error(errc::internal, "unset");
        std::thread worker{[&] { first = a.execute("UPDATE slots SET n = 1 WHERE id = 2"); }};
        wait_until_backend(observer, a.backend_pid(), "wait_event_type = 'Lock'");
        auto second = b.execute("UPDATE slots SET n = 2 WHERE id = 1");
        worker.join();

        // Exactly one side is chosen as the victim; the other proceeds.
        REQUIRE(first.has_value() != second.has_value());
        const pgkit::error& victim = first ? second.error() : first.error();
        CHECK(victim.code() == errc::deadlock_detected);
        CHECK(victim.sqlstate() == "40P01");
        CHECK(victim.is_retryable());
        REQUIRE(a.execute_script("ROLLBACK"));
        REQUIRE(b.execute_script("ROLLBACK"));
    }

    TEST_CASE("errors: a lost connection is retryable only when nothing can have been applied") {
        auto killer = pgkit::test::connect_to_server();

        // Terminated while idle: the server's FATAL 57P01 came before the statement, which
        // therefore never ran. pgkit keeps that SQLSTATE (libpq's merged report drops it). A
        // connection that vanishes without a word from the server is not retryable (unit tests).
        auto idle = pgkit::test::connect_to_server();
        REQUIRE(killer.execute("SELECT pg_terminate_backend($1)", idle.backend_pid()));
        auto lost = expect_error(idle.execute("SELECT 1"), errc::connection_lost);
        CHECK_FALSE(lost.in_transaction());
        CHECK(lost.sqlstate() == "57P01");
        CHECK(lost.is_retryable());
        CHECK(lost.poisons_connection());
        CHECK(idle.is_poisoned());
        CHECK_FALSE(idle.is_open());
        // Still a value, never a crash, when the dead session is used again.
        expect_error(idle.execute("SELECT 1"), errc::connection_lost);

        // Terminated while running a statement outside a transaction: the server answers with
        // 57P01 instead of a result, so the statement did not commit.
        auto sleeping = pgkit::test::connect_to_server();
        const int sleeping_pid = sleeping.backend_pid();
        std::optional<pgkit::result<pgkit::query_result>> slept;
        std::thread sleeper{[&] { slept.emplace(sleeping.execute("SELECT pg_sleep(30)")); }};
        wait_until_backend(killer, sleeping_pid, "wait_event = 'PgSleep'");
        REQUIRE(killer.execute("SELECT pg_terminate_backend($1)", sleeping_pid));
        sleeper.join();
        auto aborted = expect_error(std::move(*slept), errc::connection_lost);
        CHECK(aborted.sqlstate() == "57P01");
        CHECK(aborted.is_retryable());

        // Inside a transaction block the server rolled everything back with the session.
        auto busy = pgkit::test::connect_to_server();
        REQUIRE(busy.execute_script("BEGIN"));
        REQUIRE(killer.execute("SELECT pg_terminate_backend($1)", busy.backend_pid()));
        auto lost_in_tx = expect_error(busy.execute("SELECT 1"), errc::connection_lost);
        CHECK(lost_in_tx.in_transaction());
        CHECK(lost_in_tx.is_retryable());
    }

    TEST_CASE("errors: parameters that do not match the statement are invalid_argument") {
        auto conn = pgkit::test::connect_to_server();
        // The server answers 08P01 (protocol_violation) and keeps the session open.
        auto e =
            expect_error(conn.execute("SELECT $1::int4 + $2::int4", 1), errc::invalid_argument);
        CHECK(e.sqlstate() == "08P01");
        CHECK_FALSE(e.poisons_connection());
        CHECK(conn.is_open());
        CHECK_FALSE(conn.is_poisoned());
        CHECK(conn.execute("SELECT 1"));
    }

    TEST_CASE("errors: data exceptions, internal errors and not_found from the server") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(expect_error(conn.execute("SELECT 1 / 0"), errc::data_exception).sqlstate() ==
              "22012");
        CHECK(expect_error(conn.execute("SELECT 'x'::int"), errc::data_exception).sqlstate() ==
              "22P02");
        auto internal = expect_error(
            conn.execute_script(
                "DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = 'XX000'; END $$"),
            errc::internal);
        CHECK(internal.sqlstate() == "XX000");
        auto strict = expect_error(
            conn.execute_script("DO $$ DECLARE v int; BEGIN SELECT 1 INTO STRICT v WHERE false; "
                                "END $$"),
            errc::not_found);
        CHECK(strict.sqlstate() == "P0002");
        expect_error(conn.execute("SELECT 1 WHERE false").and_then(&pgkit::query_result::one),
                     errc::not_found);
    }

    TEST_CASE("errors: type_mismatch when a server value does not fit the C++ type") {
        auto conn = pgkit::test::connect_to_server();
        auto text = conn.execute("SELECT 'abc'::text");
        REQUIRE(text);
        auto e = expect_error((*text)[0].get<std::int32_t>(0), errc::type_mismatch);
        CHECK(e.message().find("column 'text'") != std::string::npos);
        auto null = conn.execute("SELECT NULL::int");
        REQUIRE(null);
        expect_error((*null)[0].get<std::int32_t>(0), errc::type_mismatch);
        auto present = (*null)[0].get<std::optional<std::int32_t>>(0);
        REQUIRE(present);
        CHECK_FALSE(present->has_value());
    }

    TEST_CASE("errors: invalid_argument for values PostgreSQL cannot hold") {
        auto conn = pgkit::test::connect_to_server();
        expect_error(conn.execute("SELECT $1::text", std::string{"nul\0byte", 8}),
                     errc::invalid_argument);
        expect_error(conn.execute(std::string_view{"SELECT 1\0; DROP", 15}),
                     errc::invalid_argument);
        expect_error(pgkit::connection::open("postgresql://host:notaport/db"),
                     errc::invalid_argument);
        CHECK(conn.execute("SELECT 1"));
    }
}
