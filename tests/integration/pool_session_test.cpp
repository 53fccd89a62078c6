// What a pooled session looks like: clean on return (rollback, reset policy), initialised with
// the pool's settings, with a prepared-statement cache, and transactions with retries.
#include "pgkit/pool.hpp"
#include "pgkit/round_trips.hpp"
#include "pgkit/statement_cache.hpp"

#include "integration/pool_test_support.hpp"
#include "support/scalar_query.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::test::make_pool;
using pgkit::test::test_pool_options;

using pgkit::test::scalar;
using pgkit::test::show;

std::int64_t cached_statements(pgkit::connection& conn) {
    return scalar<std::int64_t>(
        conn,
        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgkit\\_%' AND name NOT "
        "LIKE 'pgkit\\_check\\_%'");
}

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("pool: an open or failed transaction is rolled back on return") {
        pgkit::test::scratch_schema schema;
        auto pool = make_pool(test_pool_options(schema, 1));
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            REQUIRE((*leased)->execute_script("CREATE TABLE notes (body text)"));
            REQUIRE((*leased)->execute_script("BEGIN; INSERT INTO notes VALUES ('open')"));
            CHECK((*leased)->status() == pgkit::transaction_status::in_transaction);
        }
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            CHECK((*leased)->status() == pgkit::transaction_status::idle);
            CHECK(scalar<std::int64_t>(**leased, "SELECT count(*) FROM notes") == 0);
            REQUIRE((*leased)->execute_script("BEGIN; INSERT INTO notes VALUES ('failed')"));
            CHECK_FALSE((*leased)->execute("SELECT 1/0"));
            CHECK((*leased)->status() == pgkit::transaction_status::in_failed_transaction);
        }
        auto leased = pool->acquire();
        REQUIRE(leased);
        CHECK((*leased)->status() == pgkit::transaction_status::idle);
        CHECK(scalar<std::int64_t>(**leased, "SELECT count(*) FROM notes") == 0);
        auto m = pool->metrics();
        CHECK(m.rollbacks == 2);
        CHECK(m.created == 1);  // rolled back, not discarded
    }

    TEST_CASE("pool: a dirty session is reset on return, keeping startup settings and the cache") {
        pgkit::test::scratch_schema schema;
        auto options = test_pool_options(schema, 1);
        options.session.statement_timeout = 4321ms;
        auto pool = make_pool(options);
        int pid = 0;
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            pid = (*leased)->backend_pid();
            REQUIRE(leased->execute_cached("SELECT $1::int4 + 1", 1));
            CHECK_FALSE((*leased)->session_state_may_be_dirty());
            REQUIRE((*leased)->execute_script("SET work_mem = '7MB'"));
            CHECK((*leased)->session_state_may_be_dirty());
            REQUIRE((*leased)->execute_script("SET statement_timeout = 99"));
            REQUIRE((*leased)->execute_script("CREATE TEMP TABLE scratch (x int)"));
            REQUIRE((*leased)->execute("SELECT pg_advisory_lock(4242)"));
            REQUIRE((*leased)->execute_script("LISTEN pool_test_channel"));
            REQUIRE((*leased)->execute_script("PREPARE mine AS SELECT 1"));
            REQUIRE((*leased)->prepare("also_mine", "SELECT 2"));
        }
        auto leased = pool->acquire();
        REQUIRE(leased);
        REQUIRE((*leased)->backend_pid() == pid);  // reset, not replaced
        CHECK_FALSE((*leased)->session_state_may_be_dirty());
        CHECK(show(**leased, "work_mem") != "7MB");
        CHECK(show(**leased, "statement_timeout") == "4321ms");  // a startup default survives
        CHECK(scalar<std::int64_t>(**leased,
                                   "SELECT count(*) FROM pg_class WHERE relname = "
                                   "'scratch' AND relpersistence = 't'") == 0);
        CHECK(scalar<std::int64_t>(**leased,
                                   "SELECT count(*) FROM pg_locks WHERE locktype = "
                                   "'advisory' AND pid = pg_backend_pid()") == 0);
        CHECK(scalar<std::int64_t>(**leased, "SELECT count(*) FROM pg_listening_channels()") == 0);
        CHECK(scalar<std::int64_t>(**leased,
                                   "SELECT count(*) FROM pg_prepared_statements WHERE "
                                   "name IN ('mine', 'also_mine')") == 0);
        CHECK(cached_statements(**leased) == 1);
        CHECK(pool->metrics().resets == 1);
        leased->release();
        // A clean session is not reset.
        {
            auto clean = pool->acquire();
            REQUIRE(clean);
            REQUIRE((*clean)->execute("SELECT 1"));
        }
        CHECK(pool->metrics().resets == 1);
    }

    TEST_CASE("pool: a dirty session's reset travels with the next statement, in its round trip") {
        pgkit::test::scratch_schema schema;
        auto pool = make_pool(test_pool_options(schema, 1));
        std::string default_work_mem;
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            default_work_mem = show(**leased, "work_mem");
        }
        auto leased = pool->acquire();
        REQUIRE(leased);
        REQUIRE((*leased)->execute_script("SET work_mem = '7MB'"));
        REQUIRE((*leased)->execute_script("SET SESSION AUTHORIZATION DEFAULT"));
        REQUIRE((*leased)->execute_script("PREPARE mine AS SELECT 1"));
        {
            pgkit::round_trip_budget returning{0};
            leased->release();  // no reset on return
            CHECK(returning.check());
        }
        CHECK(pool->metrics().resets == 1);
        auto next = pool->acquire();
        REQUIRE(next);
        const auto before = (*next)->round_trips();
        auto probe = (*next)->execute(
            "SELECT current_setting('work_mem'), (SELECT count(*) FROM pg_prepared_statements "
            "WHERE name = 'mine')");
        REQUIRE(probe);
        CHECK((*next)->round_trips() - before == 1);
        CHECK(probe->one()->get<std::string>(0).value() == default_work_mem);
        CHECK(probe->one()->get<std::int64_t>(1).value() == 0);
        CHECK_FALSE((*next)->session_state_may_be_dirty());
    }

    TEST_CASE("pool: reset_policy discard closes dirty sessions, always resets every session") {
        pgkit::test::scratch_schema schema;
        SUBCASE("discard") {
            auto options = test_pool_options(schema, 1);
            options.reset = pgkit::reset_policy::discard;
            auto pool = make_pool(options);
            int pid = 0;
            {
                auto leased = pool->acquire();
                REQUIRE(leased);
                pid = (*leased)->backend_pid();
                REQUIRE((*leased)->execute_script("SET work_mem = '7MB'"));
            }
            CHECK(pool->metrics().closed_for(pgkit::close_reason::dirty) == 1);
            auto leased = pool->acquire();
            REQUIRE(leased);
            CHECK((*leased)->backend_pid() != pid);
        }
        SUBCASE("always") {
            auto options = test_pool_options(schema, 1);
            options.reset = pgkit::reset_policy::always;
            auto pool = make_pool(options);
            {
                auto leased = pool->acquire();
                REQUIRE(leased);
                // A function that sets state behind the classifier's back.
                REQUIRE(
                    (*leased)->execute("SELECT count(*) FROM (SELECT set_config('work_mem', "
                                       "'7MB', false)) s"));
                (*leased)->set_session_state_dirty(false);
            }
            auto leased = pool->acquire();
            REQUIRE(leased);
            CHECK(show(**leased, "work_mem") != "7MB");
            CHECK(pool->metrics().resets == 1);
        }
        SUBCASE("mark_dirty") {
            auto pool = make_pool(test_pool_options(schema, 1));
            {
                auto leased = pool->acquire();
                REQUIRE(leased);
                REQUIRE(
                    (*leased)->execute("SELECT count(*) FROM (SELECT set_config('work_mem', "
                                       "'7MB', false)) s"));
                (*leased)->set_session_state_dirty(false);
                leased->mark_dirty();
            }
            auto leased = pool->acquire();
            REQUIRE(leased);
            CHECK(show(**leased, "work_mem") != "7MB");
        }
    }

    TEST_CASE("pool: no session state reaches the next lease, however the SQL is written") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        // set_config inside a function: no SQL text shows it, the server's TimeZone report does.
        REQUIRE(setup.execute_script(
            "CREATE FUNCTION shift_clock() RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM "
            "set_config('TimeZone', 'Asia/Tokyo', false); RETURN 1; END $$"));
        // What random() gives right after setseed(0.25): a next lease must not see it.
        const auto seeded = scalar<double>(setup, "SELECT random() FROM (SELECT setseed(0.25)) s");
        auto pool = make_pool(test_pool_options(schema, 1));
        std::string expected_schema;
        std::string expected_timezone;
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            expected_schema = scalar<std::string>(**leased, "SELECT current_schema()");
            expected_timezone = show(**leased, "TimeZone");
        }
        REQUIRE(expected_timezone != "Asia/Tokyo");
        for (const std::string statement : {
                 "SELECT \"set_config\"('search_path', 'nowhere', false)",
                 "SELECT pg_catalog.\"pg_advisory_lock\"(4243)",
                 "EXPLAIN ANALYZE CREATE TEMP TABLE leaked AS SELECT 1",
                 "SELECT setseed(0.25)",
                 "SELECT shift_clock()",
                 "/* it's */ SELECT set_config('work_mem', '7MB', false)",
             }) {
            CAPTURE(statement);
            int pid = 0;
            {
                auto leased = pool->acquire();
                REQUIRE(leased);
                pid = (*leased)->backend_pid();
                REQUIRE((*leased)->execute(statement));
                CHECK((*leased)->session_state_may_be_dirty());
                // The TimeZone report alone: the session check's RESET ALL restores it, so the
                // pool checks this session instead of resetting it.
                CHECK((*leased)->session_state_may_outlive_check() ==
                      (statement != "SELECT shift_clock()"));
            }
            auto next = pool->acquire();
            REQUIRE(next);
            REQUIRE((*next)->backend_pid() == pid);  // the same session, reset or checked
            CHECK(scalar<std::string>(**next, "SELECT current_schema()") == expected_schema);
            CHECK(scalar<std::int64_t>(**next,
                                       "SELECT count(*) FROM pg_locks WHERE locktype = "
                                       "'advisory' AND pid = pg_backend_pid()") == 0);
            CHECK(scalar<std::int64_t>(**next,
                                       "SELECT count(*) FROM pg_class WHERE relname = 'leaked' "
                                       "AND relpersistence = 't'") == 0);
            CHECK(show(**next, "TimeZone") == expected_timezone);
            CHECK(show(**next, "work_mem") != "7MB");
            CHECK(scalar<double>(**next, "SELECT random()") != seeded);
        }
        CHECK(pool->metrics().resets == 5);  // all but shift_clock(), which was checked
    }

    TEST_CASE("pool: no state that functions leave behind reaches the next lease") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        // One function for every kind of session state a function can leave without a trace in
        // the SQL text that calls it (and without a reported setting).
        REQUIRE(setup.execute_script(R"sql(
            CREATE SEQUENCE fn_seq;
            DO $$ BEGIN CREATE ROLE pgkit_fn_state_role; EXCEPTION WHEN duplicate_object THEN
              NULL; END $$;
            GRANT pgkit_fn_state_role TO CURRENT_USER;
            DO $$ BEGIN
              EXECUTE format('CREATE ROLE pgkit_fn_same_role %s', CASE WHEN (SELECT rolsuper FROM
                pg_roles WHERE rolname = current_user) THEN 'SUPERUSER' ELSE 'NOSUPERUSER' END);
            EXCEPTION WHEN duplicate_object THEN NULL; END $$;
            GRANT pgkit_fn_same_role TO CURRENT_USER;
            CREATE FUNCTION leave_state(what text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN
              CASE what
                WHEN 'setting' THEN PERFORM set_config('work_mem', '7MB', false);
                WHEN 'custom' THEN PERFORM set_config('app.tenant', '42', false);
                WHEN 'role' THEN PERFORM set_config('role', 'pgkit_fn_state_role', false);
                WHEN 'same role' THEN PERFORM set_config('role', 'pgkit_fn_same_role', false);
                WHEN 'authorization' THEN
                  PERFORM set_config('session_authorization', 'pgkit_fn_state_role', false);
                WHEN 'lock' THEN PERFORM pg_advisory_lock(4244);
                WHEN 'temp' THEN CREATE TEMP TABLE fn_leaked (x int);
                WHEN 'listen' THEN EXECUTE 'LISTEN fn_channel';
                WHEN 'cursor' THEN EXECUTE 'DECLARE fn_cursor CURSOR WITH HOLD FOR SELECT 1';
                WHEN 'deallocate' THEN EXECUTE 'DEALLOCATE ALL';
                WHEN 'seed' THEN PERFORM setseed(0.25);
                WHEN 'sequence' THEN PERFORM nextval('fn_seq');
              END CASE;
              RETURN 1;
            END $$)sql"));
        const auto seeded = scalar<double>(setup, "SELECT random() FROM (SELECT setseed(0.25)) s");

        auto options = test_pool_options(schema, 1);
        std::string first_statement = "query";
        SUBCASE("the next lease starts with a query") {}
        SUBCASE("the next lease starts with BEGIN ISOLATION LEVEL REPEATABLE READ") {
            first_statement = "begin";
        }
        SUBCASE("the next lease starts with a script") {
            first_statement = "script";
        }
        SUBCASE("settings applied with SET statements survive the check") {
            options.session.mode = pgkit::session_init_mode::set_statements;
            options.session.statement_timeout = 4321ms;
        }
        auto pool = make_pool(options);
        std::string expected_work_mem;
        std::string expected_timeout;
        std::string expected_session_user;
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            expected_work_mem = show(**leased, "work_mem");
            expected_timeout = show(**leased, "statement_timeout");
            expected_session_user = scalar<std::string>(**leased, "SELECT session_user");
        }
        REQUIRE(expected_work_mem != "7MB");

        // Not here: a prepared statement made by SQL PREPARE inside a function (docs/pool.md
        // says why the check leaves it).
        for (const std::string what :
             {"setting", "custom", "role", "same role", "authorization", "lock", "temp", "listen",
              "cursor", "deallocate", "seed", "sequence"}) {
            CAPTURE(what);
            int pid = 0;
            {
                auto leased = pool->acquire();
                REQUIRE(leased);
                pid = (*leased)->backend_pid();
                REQUIRE((*leased)->execute("SELECT leave_state($1)", what));
                // The text is clean; SET ROLE and SET SESSION AUTHORIZATION alone show, in the
                // is_superuser and session_authorization reports, which the check leaves alone.
                // A role of the same superuser status shows in no report: the guard sees it.
                const bool identity = what == "role" || what == "authorization";
                CHECK((*leased)->session_state_may_be_dirty() == identity);
                CHECK((*leased)->session_state_may_outlive_check() == identity);
            }
            auto next = pool->acquire();
            REQUIRE(next);
            REQUIRE((*next)->backend_pid() == pid);  // the same session, checked
            // Checked, or for the role (whose change was reported) reset, with the next statement.
            CHECK((*next)->session_check_pending());
            if (first_statement == "begin") {
                REQUIRE((*next)->execute_script("BEGIN ISOLATION LEVEL REPEATABLE READ"));
                CHECK((*next)->status() == pgkit::transaction_status::in_transaction);
            } else if (first_statement == "script") {
                auto script = (*next)->execute_script("SELECT 1; SELECT 2");
                REQUIRE(script);
                CHECK(script->scalar<int>().value_or(0) == 2);
            }
            const auto before_probe = (*next)->round_trips();
            auto probe = (*next)->execute(
                "SELECT current_setting('work_mem'), coalesce(current_setting('app.tenant', "
                "true), ''), current_user = session_user, current_setting('statement_timeout'), "
                "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                "pg_backend_pid()), (SELECT count(*) FROM pg_class WHERE relname = 'fn_leaked' "
                "AND relpersistence = 't'), (SELECT count(*) FROM pg_listening_channels()), "
                "(SELECT count(*) FROM pg_cursors WHERE is_holdable), (SELECT count(*) FROM "
                "pg_prepared_statements WHERE from_sql), random(), current_setting("
                "'transaction_isolation'), session_user");
            REQUIRE(probe);
            CHECK_FALSE((*next)->session_check_pending());
            // The check rode on the probe when the probe came first: one round trip, or three
            // when it called for the full reset (check, reset, probe again), as it does for a
            // LISTEN, a temporary table, a role other than the session's own and when its
            // prepared statements were deallocated. The identity changes were reported, so the
            // reset of a dirty session rode on it instead: one round trip too.
            if (first_statement == "query") {
                const bool full_reset = what == "listen" || what == "temp" || what == "same role" ||
                                        what == "deallocate";
                CHECK((*next)->round_trips() - before_probe == (full_reset ? 3U : 1U));
            }
            auto row = probe->one();
            REQUIRE(row);
            CHECK(row->get<std::string>(0).value() == expected_work_mem);
            CHECK(row->get<std::string>(1).value() == "");
            CHECK(row->get<bool>(2).value());
            CHECK(row->get<std::string>(3).value() == expected_timeout);
            CHECK(row->get<std::int64_t>(4).value() == 0);
            CHECK(row->get<std::int64_t>(5).value() == 0);
            CHECK(row->get<std::int64_t>(6).value() == 0);
            CHECK(row->get<std::int64_t>(7).value() == 0);
            CHECK(row->get<std::int64_t>(8).value() == 0);
            CHECK(row->get<double>(9).value() != seeded);
            CHECK(row->get<std::string>(10).value() ==
                  (first_statement == "begin" ? "repeatable read" : "read committed"));
            CHECK(row->get<std::string>(11).value() == expected_session_user);
            if (first_statement == "begin") {
                REQUIRE((*next)->execute_script("COMMIT"));
            }
            auto last = (*next)->execute("SELECT lastval()");  // undefined again, not fn_seq's
            REQUIRE_FALSE(last);
            CHECK(last.error().sqlstate() == "55000");
        }
        if (options.session.mode == pgkit::session_init_mode::set_statements) {
            CHECK(expected_timeout == "4321ms");
        }
        CHECK(pool->metrics().resets == 2);  // the role's and the authorization's; the check did
                                             // the rest
        pool.reset();
        REQUIRE(
            setup.execute_script("DROP FUNCTION leave_state(text); DROP ROLE IF EXISTS "
                                 "pgkit_fn_state_role; DROP ROLE IF EXISTS pgkit_fn_same_role"));
    }

    TEST_CASE("pool: a session keeps the role it started with, through checks and resets") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script(R"sql(
            DO $$ BEGIN CREATE ROLE pgkit_startup_role; EXCEPTION WHEN duplicate_object THEN
              NULL; END $$;
            GRANT pgkit_startup_role TO CURRENT_USER;
            CREATE FUNCTION drop_role() RETURNS int LANGUAGE sql AS
              $$ SELECT 1 FROM set_config('role', 'none', false) $$;
            GRANT EXECUTE ON FUNCTION drop_role() TO PUBLIC)sql"));
        REQUIRE(setup.execute_script(
            fmt::format("GRANT USAGE ON SCHEMA \"{}\" TO pgkit_startup_role", schema.name())));
        const auto session_user_name = scalar<std::string>(setup, "SELECT session_user");
        for (auto mode : {pgkit::session_init_mode::startup_options,
                          pgkit::session_init_mode::set_statements}) {
            for (auto policy : {pgkit::reset_policy::when_dirty, pgkit::reset_policy::always}) {
                CAPTURE(static_cast<int>(mode));
                CAPTURE(static_cast<int>(policy));
                auto options = test_pool_options(schema, 1);
                options.session.settings = {{"role", "pgkit_startup_role"}};
                options.session.mode = mode;
                options.reset = policy;
                auto pool = make_pool(options);
                // What each lease leaves: nothing, SET ROLE in its text (a dirty session), and
                // the same inside a function (reported: the role's superuser status differs).
                for (const std::string what :
                     {"nothing", "nothing", "text", "function", "nothing"}) {
                    CAPTURE(what);
                    {
                        auto leased = pool->acquire();
                        REQUIRE(leased);
                        if (what == "text") {
                            REQUIRE((*leased)->execute_script("SET ROLE NONE"));
                        } else if (what == "function") {
                            REQUIRE((*leased)->execute("SELECT drop_role()"));
                        } else {
                            REQUIRE((*leased)->execute("SELECT 1"));
                        }
                        CHECK(scalar<std::string>(**leased, "SELECT current_user") ==
                              (what == "nothing" ? "pgkit_startup_role" : session_user_name));
                    }
                    auto next = pool->acquire();
                    REQUIRE(next);
                    const auto before = (*next)->round_trips();
                    CHECK(scalar<std::string>(**next, "SELECT current_user") ==
                          "pgkit_startup_role");
                    // The check, or the reset that travels with the statement, took no round
                    // trip of its own: the role it expects is the one the session started with.
                    if (policy == pgkit::reset_policy::when_dirty) {
                        CHECK((*next)->round_trips() - before == 1U);
                    }
                }
                CHECK(pool->metrics().created == 1);
            }
        }
        REQUIRE(setup.execute_script("DROP FUNCTION drop_role()"));
    }

    TEST_CASE("pool: reset_policy when_sql_dirty trusts functions to leave nothing") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(
            setup.execute_script("CREATE FUNCTION raise_work_mem() RETURNS int LANGUAGE sql AS "
                                 "$$ SELECT set_config('work_mem', '7MB', false); SELECT 1 $$"));
        auto options = test_pool_options(schema, 1);
        options.reset = pgkit::reset_policy::when_sql_dirty;
        auto pool = make_pool(options);
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            REQUIRE((*leased)->execute("SELECT raise_work_mem()"));
        }
        auto next = pool->acquire();
        REQUIRE(next);
        CHECK_FALSE((*next)->session_check_pending());
        CHECK(show(**next, "work_mem") == "7MB");  // what the default policy's check clears
    }

    TEST_CASE("pool: session settings cannot inject startup options, whatever their bytes") {
        pgkit::test::scratch_schema schema;
        auto options = test_pool_options(schema, 1);
        // Every blank the server's option splitter knows, and a caller's value ending in a
        // backslash, which used to swallow the blank before the next -c.
        options.connection.parameters.emplace_back("options", "-c statement_timeout=5s\\");
        options.session.settings = {{"pgkit.a", "svc\v-c\vwork_mem=77kB"},
                                    {"pgkit.b", "x\f-c\fwork_mem=78kB"},
                                    {"pgkit.c", "y\r-c\rwork_mem=79kB\\"},
                                    {"pgkit.d", "z\t-c work_mem=80kB"}};
        options.session.lock_timeout = 1234ms;
        auto pool = make_pool(options);
        auto leased = pool->acquire();
        REQUIRE(leased);
        auto& conn = **leased;
        const std::string work_mem = show(conn, "work_mem");
        CHECK(work_mem != "77kB");
        CHECK(work_mem != "78kB");
        CHECK(work_mem != "79kB");
        CHECK(work_mem != "80kB");
        CHECK(show(conn, "statement_timeout") == "5s");
        CHECK(show(conn, "lock_timeout") == "1234ms");
        CHECK(scalar<std::string>(conn, "SELECT current_setting('pgkit.a')") ==
              "svc\v-c\vwork_mem=77kB");
        CHECK(scalar<std::string>(conn, "SELECT current_setting('pgkit.b')") ==
              "x\f-c\fwork_mem=78kB");
        CHECK(scalar<std::string>(conn, "SELECT current_setting('pgkit.c')") ==
              "y\r-c\rwork_mem=79kB\\");
        CHECK(scalar<std::string>(conn, "SELECT current_setting('pgkit.d')") ==
              "z\t-c work_mem=80kB");
    }

    TEST_CASE("pool: session settings reach every connection, by startup options or SET") {
        pgkit::test::scratch_schema schema;
        auto observer = schema.connect();
        REQUIRE(observer.execute_script("CREATE SCHEMA \"" + schema.name() + " odd\""));
        for (auto mode : {pgkit::session_init_mode::startup_options,
                          pgkit::session_init_mode::set_statements}) {
            CAPTURE(static_cast<int>(mode));
            auto options = test_pool_options(schema, 1);
            options.session = {.application_name = options.name + "-s",
                               .statement_timeout = 1500ms,
                               .lock_timeout = 250ms,
                               .idle_in_transaction_session_timeout = 60s,
                               .search_path = {schema.name() + " odd", "public"},
                               .settings = {{"pgkit.note", "it's a \\ test"}},
                               .mode = mode};
            auto pool = make_pool(options);
            for (int round = 0; round < 2; ++round) {
                auto leased = pool->acquire();
                REQUIRE(leased);
                auto& conn = **leased;
                CHECK(show(conn, "application_name") == options.name + "-s");
                CHECK(show(conn, "statement_timeout") == "1500ms");
                CHECK(show(conn, "lock_timeout") == "250ms");
                CHECK(show(conn, "idle_in_transaction_session_timeout") == "1min");
                CHECK(scalar<std::string>(conn, "SELECT current_schema()") ==
                      schema.name() + " odd");
                CHECK(scalar<std::string>(conn, "SELECT current_setting('pgkit.note')") ==
                      "it's a \\ test");
                CHECK_FALSE(conn.session_state_may_be_dirty());
                // Dirty the session: the reset must restore the pool's settings.
                REQUIRE(conn.execute_script("SET statement_timeout = 1; SET search_path = public"));
            }
            CHECK(pool->metrics().created == 1);
        }
    }

    TEST_CASE(
        "pool: the statement cache prepares once per connection and survives DEALLOCATE ALL") {
        pgkit::test::scratch_schema schema;
        auto options = test_pool_options(schema, 1);
        options.statement_cache_size = 2;
        auto pool = make_pool(options);
        auto leased = pool->acquire();
        REQUIRE(leased);
        for (int i = 0; i < 3; ++i) {
            auto sum = leased->execute_cached("SELECT $1::int4 + $2::int4", i, 10)
                           .and_then(&pgkit::query_result::scalar<std::int32_t>);
            REQUIRE(sum);
            CHECK(*sum == i + 10);
        }
        CHECK(cached_statements(**leased) == 1);
        // Gone behind the cache's back (as after DISCARD ALL or a proxy switching sessions).
        REQUIRE((*leased)->execute_script("DEALLOCATE ALL"));
        auto again = leased->execute_cached("SELECT $1::int4 + $2::int4", 1, 1)
                         .and_then(&pgkit::query_result::scalar<std::int32_t>);
        REQUIRE(again);
        CHECK(*again == 2);
        CHECK(cached_statements(**leased) == 1);
        // Bounded: the least recently used statement is deallocated.
        REQUIRE(leased->execute_cached("SELECT 'b'::text"));
        REQUIRE(leased->execute_cached("SELECT 'c'::text"));
        CHECK(cached_statements(**leased) == 2);
        // A changed table changes the cached plan's result type: re-prepared transparently.
        REQUIRE((*leased)->execute_script("CREATE TABLE shape (a int)"));
        REQUIRE(leased->execute_cached("SELECT * FROM shape"));
        REQUIRE((*leased)->execute_script("ALTER TABLE shape ADD COLUMN b int"));
        auto reshaped = leased->execute_cached("SELECT * FROM shape");
        REQUIRE(reshaped);
        CHECK(reshaped->columns() == 2);
    }

    TEST_CASE("pool: with prepared_statements off, execute_cached prepares nothing") {
        pgkit::test::scratch_schema schema;
        auto options = test_pool_options(schema, 1);
        options.prepared_statements = false;
        auto pool = make_pool(options);
        auto leased = pool->acquire();
        REQUIRE(leased);
        REQUIRE(leased->execute_cached("SELECT $1::int4", 5));
        REQUIRE(leased->execute_cached("SELECT $1::int4", 6));
        CHECK(cached_statements(**leased) == 0);
    }

    TEST_CASE("pool: with_transaction commits the function's value and rolls back its error") {
        pgkit::test::scratch_schema schema;
        auto pool = make_pool(test_pool_options(schema, 1));
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            REQUIRE((*leased)->execute_script("CREATE TABLE counters (id int PRIMARY KEY, n int)"));
        }
        auto inserted = pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<int> {
            CHECK(tx.conn().status() == pgkit::transaction_status::in_transaction);
            auto done = tx.execute("INSERT INTO counters VALUES (1, 10)");
            if (!done) {
                return tl::unexpected(done.error());
            }
            return 7;
        });
        REQUIRE(inserted);
        CHECK(*inserted == 7);
        auto failed = pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            REQUIRE(tx.execute_cached("UPDATE counters SET n = n + 1 WHERE id = $1", 1));
            return tx.execute("INSERT INTO counters VALUES (1, 0)").map([](auto&&) {});
        });
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == errc::unique_violation);
        auto n = pool->with_transaction(
            [](pgkit::transaction& tx) {
                return tx.execute("SELECT n FROM counters WHERE id = 1")
                    .and_then(&pgkit::query_result::scalar<std::int32_t>);
            },
            {.isolation = pgkit::isolation_level::serializable,
             .read_only = true,
             .deferrable = true});
        REQUIRE(n);
        CHECK(*n == 10);  // the failed transaction's update was rolled back
        auto read_only = pool->with_transaction(
            [](pgkit::transaction& tx) {
                return tx.execute("UPDATE counters SET n = 0").map([](auto&&) {});
            },
            {.read_only = true});
        REQUIRE_FALSE(read_only);
        CHECK(read_only.error().sqlstate() == "25006");
    }

    TEST_CASE("pool: with_transaction retries a serialization failure and then commits") {
        pgkit::test::scratch_schema schema;
        auto meddler = schema.connect();
        REQUIRE(
            meddler.execute_script("CREATE TABLE accounts (id int PRIMARY KEY, balance int);"
                                   "INSERT INTO accounts VALUES (1, 100)"));
        auto pool = make_pool(test_pool_options(schema, 2));
        std::uint32_t attempts = 0;
        auto balance = pool->with_transaction(
            [&](pgkit::transaction& tx) -> pgkit::result<std::int32_t> {
                attempts = tx.attempt();
                auto seen = tx.execute("SELECT balance FROM accounts WHERE id = 1");
                if (!seen) {
                    return tl::unexpected(seen.error());
                }
                if (tx.attempt() == 1) {
                    // A concurrent committed update after our snapshot: our update must fail.
                    REQUIRE(meddler.execute("UPDATE accounts SET balance = balance + 1"));
                }
                return tx.execute("UPDATE accounts SET balance = balance + 10 RETURNING balance")
                    .and_then(&pgkit::query_result::scalar<std::int32_t>);
            },
            {.isolation = pgkit::isolation_level::repeatable_read,
             .retry = {.max_attempts = 3, .initial_backoff = 1ms, .max_backoff = 5ms}});
        REQUIRE(balance);
        CHECK(attempts == 2);
        CHECK(*balance == 111);

        // Without retries the serialization failure is the result.
        auto once = pool->with_transaction(
            [&](pgkit::transaction& tx) -> pgkit::result<void> {
                auto seen = tx.execute("SELECT balance FROM accounts WHERE id = 1");
                REQUIRE(seen);
                REQUIRE(meddler.execute("UPDATE accounts SET balance = balance + 1"));
                return tx.execute("UPDATE accounts SET balance = 0").map([](auto&&) {});
            },
            {.isolation = pgkit::isolation_level::repeatable_read, .retry = {.max_attempts = 1}});
        REQUIRE_FALSE(once);
        CHECK(once.error().code() == errc::serialization_failure);
    }

    TEST_CASE("pool: an exception from the transaction function propagates after rollback") {
        pgkit::test::scratch_schema schema;
        auto pool = make_pool(test_pool_options(schema, 1));
        {
            auto leased = pool->acquire();
            REQUIRE(leased);
            REQUIRE((*leased)->execute_script("CREATE TABLE events (id int)"));
        }
        CHECK_THROWS_AS(pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            REQUIRE(tx.execute("INSERT INTO events VALUES (1)"));
            throw std::logic_error("a bug");
        }),
                        std::logic_error);
        auto leased = pool->acquire();
        REQUIRE(leased);
        CHECK((*leased)->status() == pgkit::transaction_status::idle);
        CHECK(scalar<std::int64_t>(**leased, "SELECT count(*) FROM events") == 0);
        CHECK(pool->metrics().rollbacks == 1);
    }

    TEST_CASE("pool: a transaction whose function ignored an error is transaction_aborted") {
        pgkit::test::scratch_schema schema;
        auto pool = make_pool(test_pool_options(schema, 1));
        auto outcome = pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<int> {
            (void)tx.execute("SELECT 1/0");  // ignored
            return 1;
        });
        REQUIRE_FALSE(outcome);
        CHECK(outcome.error().code() == errc::transaction_aborted);
        auto bad =
            pool->with_transaction([](pgkit::transaction&) -> pgkit::result<int> { return 1; },
                                   {.retry = {.max_attempts = 0}});
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code() == errc::invalid_argument);
    }
}
