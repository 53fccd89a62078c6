// Pipelines (pipeline.hpp) on a connection, a lease and a transaction: order, per-statement
// errors and the abort of a segment, sync points, the statement cache, a connection lost midway,
// 100,000 statements in bounded memory, the session check riding on the first segment, and the
// round-trip counter and budget.
#include "pgkit/pipeline.hpp"

#include "pgkit/pool.hpp"
#include "pgkit/round_trips.hpp"
#include "pgkit/types/array.hpp"

#include "pool_test_support.hpp"
#include "support/scalar_query.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace {

using pgkit::errc;
using pgkit::test::make_pool;
using pgkit::test::scalar;
using pgkit::test::test_pool_options;

/// AddressSanitizer keeps freed memory in its quarantine (256 MB by default), so under it the
/// resident set says nothing about what the code holds.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool resident_set_is_meaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool resident_set_is_meaningful = false;
#else
constexpr bool resident_set_is_meaningful = true;
#endif
#else
constexpr bool resident_set_is_meaningful = true;
#endif

/// The process's resident set size in KiB (Linux).
std::int64_t resident_kib() {
    std::ifstream status{"/proc/self/status"};
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stoll(line.substr(6));
        }
    }
    return -1;
}

}  // namespace

TEST_SUITE("pipeline") {
    TEST_CASE("pipeline: mixed statements go in one round trip and come back in order, typed") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script("CREATE TABLE clips (id int PRIMARY KEY, title text)"));

        const auto before = conn.round_trips();
        auto p = conn.start_pipeline();
        REQUIRE(p);
        REQUIRE(p->add_command("INSERT INTO clips VALUES ($1, $2)", 1, std::string{"first"}));
        REQUIRE(p->add("INSERT INTO clips VALUES ($1, $2) RETURNING id", 2, std::string{"second"}));
        REQUIRE(p->add("SELECT title FROM clips WHERE id = $1", 1));
        REQUIRE(p->add("SELECT count(*) FROM clips"));
        CHECK(p->added() == 4);
        CHECK(p->unread() == 3);

        auto inserted = p->next();
        REQUIRE(inserted);
        CHECK(inserted->scalar<std::int32_t>() == 2);
        auto title = p->next();
        REQUIRE(title);
        CHECK(title->scalar<std::string>() == "first");
        auto count = p->next();
        REQUIRE(count);
        CHECK(count->scalar<std::int64_t>() == 2);
        CHECK(p->unread() == 0);
        auto none = p->next();
        REQUIRE_FALSE(none);
        CHECK(none.error().code() == errc::invalid_argument);
        CHECK(p->finish());
        CHECK(conn.round_trips() - before == 1);
        // The pipeline has ended: the connection runs statements again, and the pipeline refuses.
        CHECK(scalar<std::int64_t>(conn, "SELECT count(*) FROM clips") == 2);
        CHECK(p->add("SELECT 1").error().code() == errc::invalid_argument);
    }

    TEST_CASE("pipeline: a failure aborts the rest of its segment, and the next segment runs") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script("CREATE TABLE t (id int PRIMARY KEY)"));

        auto p = conn.start_pipeline();
        REQUIRE(p);
        REQUIRE(p->add("INSERT INTO t VALUES (1) RETURNING id"));
        REQUIRE(p->add("SELECT 1 / $1", 0));  // division_by_zero
        REQUIRE(p->add("INSERT INTO t VALUES (2) RETURNING id"));
        REQUIRE(p->sync());
        REQUIRE(p->add("INSERT INTO t VALUES (3) RETURNING id"));
        REQUIRE(p->add_command("INSERT INTO t VALUES (3)"));  // unique_violation, not read

        auto first = p->next();
        CHECK(first);  // it ran, and its implicit transaction rolled back with the failure
        auto failed = p->next();
        REQUIRE_FALSE(failed);
        CHECK(failed.error().sqlstate() == "22012");
        CHECK(failed.error().message().find("statement 2 of the pipeline") != std::string::npos);
        auto aborted = p->next();
        REQUIRE_FALSE(aborted);
        CHECK(aborted.error().code() == errc::transaction_aborted);
        auto after_sync = p->next();
        REQUIRE(after_sync);
        CHECK(after_sync->scalar<std::int32_t>() == 3);

        auto finished = p->finish();
        REQUIRE_FALSE(finished);
        CHECK(finished.error().code() == errc::unique_violation);
        CHECK(finished.error().message().find("statement 5") != std::string::npos);
        // The first segment's insert rolled back; the second's first insert rolled back with the
        // duplicate. The connection is usable and clean.
        CHECK(scalar<std::int64_t>(conn, "SELECT count(*) FROM t") == 0);
        CHECK(conn.status() == pgkit::transaction_status::idle);
        CHECK_FALSE(conn.is_poisoned());
    }

    TEST_CASE("pipeline: the connection is busy while a pipeline is open") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        {
            auto p = conn.start_pipeline();
            REQUIRE(p);
            CHECK(conn.execute("SELECT 1").error().code() == errc::busy);
            CHECK(conn.start_pipeline().error().code() == errc::busy);
            REQUIRE(p->add("SELECT 1"));
        }  // destruction finishes it: the unread result is dropped
        CHECK(scalar<std::int32_t>(conn, "SELECT 7") == 7);
    }

    TEST_CASE("pipeline: a value that does not encode and a NUL byte are refused when added") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        auto p = conn.start_pipeline();
        REQUIRE(p);
        CHECK(p->add(std::string_view{"SELECT 1\0", 9}).error().code() == errc::invalid_argument);
        CHECK(p->add("SELECT $1::text", std::string{"a\0b", 3}).error().code() ==
              errc::invalid_argument);
        CHECK(p->added() == 0);
        CHECK(p->finish());
    }

    TEST_CASE("pipeline: on a lease, statements prepare through the cache in the same round trip") {
        pgkit::test::scratch_schema schema;
        auto options = test_pool_options(schema, 1);
        options.statement_cache_size = 2;
        auto pool = make_pool(options);
        auto lease = pool->acquire();
        REQUIRE(lease);
        const auto before = (*lease)->round_trips();
        for (int round = 0; round < 2; ++round) {
            auto p = lease->start_pipeline();
            REQUIRE(p);
            REQUIRE(p->add_cached("SELECT $1::int + 1", round));
            REQUIRE(p->add_cached("SELECT $1::int + 2", round));
            CHECK(p->next()->scalar<std::int32_t>() == round + 1);
            CHECK(p->next()->scalar<std::int32_t>() == round + 2);
            REQUIRE(p->finish());
        }
        CHECK((*lease)->round_trips() - before == 2);
        auto prepared = (*lease)->execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'pgkit\\_%' "
            "AND name NOT LIKE 'pgkit\\_check%'");
        REQUIRE(prepared);
        CHECK(prepared->scalar<std::int64_t>() == 2);  // prepared once each, reused the second time

        // A third statement evicts the least recently used one in the same pipeline; a statement
        // that does not prepare reports the prepare's error and is forgotten by the cache.
        auto p = lease->start_pipeline();
        REQUIRE(p);
        REQUIRE(p->add_cached("SELECT $1::int + 3", 0));
        REQUIRE(p->add_cached("SELEC broken"));
        REQUIRE(p->sync());
        REQUIRE(p->add_cached("SELECT $1::int + 2", 5));
        CHECK(p->next()->scalar<std::int32_t>() == 3);
        auto broken = p->next();
        REQUIRE_FALSE(broken);
        CHECK(broken.error().code() == errc::syntax_error);
        CHECK(p->next()->scalar<std::int32_t>() == 7);
        REQUIRE(p->finish());
        CHECK(lease->execute_cached("SELECT $1::int + 3", 1)->scalar<std::int32_t>() == 4);
    }

    TEST_CASE("pipeline: inside with_transaction, BEGIN travels with the first segment") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script("CREATE TABLE ledger (id int PRIMARY KEY, amount int)"));
        auto pool = make_pool(test_pool_options(schema, 1));

        std::uint64_t round_trips = 0;
        auto done = pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
            const auto before = tx.conn().round_trips();
            auto p = tx.start_pipeline();
            if (!p) {
                return tl::unexpected(p.error());
            }
            for (int i = 1; i <= 3; ++i) {
                if (auto added = p->add_command("INSERT INTO ledger VALUES ($1, $2)", i, i * 10);
                    !added) {
                    return added;
                }
            }
            auto finished = p->finish();
            round_trips = tx.conn().round_trips() - before;
            return finished;
        });
        REQUIRE(done);
        CHECK(round_trips == 1);  // BEGIN and the three inserts
        CHECK(scalar<std::int64_t>(setup, "SELECT sum(amount) FROM ledger") == 60);

        // A failure inside the pipeline fails the transaction: nothing of it commits.
        auto failed = pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
            auto p = tx.start_pipeline();
            if (!p) {
                return tl::unexpected(p.error());
            }
            (void)p->add_command("INSERT INTO ledger VALUES (4, 40)");
            (void)p->add_command("INSERT INTO ledger VALUES (1, 10)");  // duplicate key
            (void)p->add_command("INSERT INTO ledger VALUES (5, 50)");
            return p->finish();
        });
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == errc::unique_violation);
        CHECK(scalar<std::int64_t>(setup, "SELECT count(*) FROM ledger") == 3);
    }

    TEST_CASE("pipeline: a connection lost midway fails what is left, and the pool discards it") {
        pgkit::test::scratch_schema schema;
        auto pool = make_pool(test_pool_options(schema, 1));
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            auto p = lease->start_pipeline();
            REQUIRE(p);
            REQUIRE(p->add("SELECT 1"));
            REQUIRE(p->add("SELECT pg_terminate_backend(pg_backend_pid())"));
            REQUIRE(p->add("SELECT 3"));
            CHECK(p->next()->scalar<std::int32_t>() == 1);
            auto killed = p->next();
            REQUIRE_FALSE(killed);
            CHECK(killed.error().code() == errc::connection_lost);
            auto after = p->next();
            REQUIRE_FALSE(after);
            CHECK(after.error().code() == errc::connection_lost);
            CHECK_FALSE(p->finish());
            CHECK((*lease)->is_poisoned());
        }
        CHECK(pool->metrics().closed_for(pgkit::close_reason::broken) == 1);
        auto next = pool->acquire();
        REQUIRE(next);
        CHECK((*next)->execute("SELECT 1"));
    }

    TEST_CASE("pipeline: 100,000 statements in bounded memory and few round trips") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script("CREATE TABLE bulk (id int, note text)"));
        constexpr int statements = 100'000;
        const auto before_round_trips = conn.round_trips();
        const auto before_kib = resident_kib();
        std::int64_t peak_kib = before_kib;
        {
            auto p = conn.start_pipeline(pgkit::pipeline_options{.max_in_flight = 1000});
            REQUIRE(p);
            const std::string note(100, 'n');
            for (int i = 0; i < statements; ++i) {
                REQUIRE(p->add_command("INSERT INTO bulk VALUES ($1, $2)", i, note));
                if (i % 10'000 == 0) {
                    peak_kib = std::max(peak_kib, resident_kib());
                }
            }
            REQUIRE(p->finish());
        }
        peak_kib = std::max(peak_kib, resident_kib());
        // Held in full, the statements alone would take over 20 MB (text, parameters, libpq's
        // messages and results); the window keeps at most 1,000 of them.
        MESSAGE("resident set grew by ", peak_kib - before_kib, " KiB");
        if (resident_set_is_meaningful) {
            CHECK(peak_kib - before_kib < 8 * 1024);
        }
        const auto round_trips = conn.round_trips() - before_round_trips;
        MESSAGE("round trips: ", round_trips);
        // One wait per half window: results were read as the statements went, whatever the
        // sanitizer does to the resident set.
        CHECK(round_trips <= statements / 500 + 2);
        CHECK(scalar<std::int64_t>(conn, "SELECT count(*) FROM bulk") == statements);
    }

    TEST_CASE("pipeline: the session check rides on the first segment of a lease") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script(R"sql(
            CREATE FUNCTION leave_state(what text) RETURNS int LANGUAGE plpgsql AS $$ BEGIN
              IF what = 'listen' THEN EXECUTE 'LISTEN pipeline_channel';
              ELSE PERFORM set_config('work_mem', '7MB', false); END IF;
              RETURN 1;
            END $$)sql"));
        const std::string default_work_mem = pgkit::test::show(setup, "work_mem");
        auto pool = make_pool(test_pool_options(schema, 1));

        std::string what = "setting";
        std::uint64_t expected_round_trips = 1;
        SUBCASE("a setting: cleared by the check in the pipeline's round trip") {}
        SUBCASE("a LISTEN: the guard fails, the session is reset and the segment sent again") {
            what = "listen";
            expected_round_trips = 3;
        }
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            REQUIRE((*lease)->execute("SELECT leave_state($1)", what));
        }
        auto lease = pool->acquire();
        REQUIRE(lease);
        REQUIRE((*lease)->session_check_pending());
        const auto before = (*lease)->round_trips();
        auto p = lease->start_pipeline();
        REQUIRE(p);
        REQUIRE(p->add("SELECT current_setting('work_mem')"));
        REQUIRE(p->add("SELECT count(*) FROM pg_listening_channels()"));
        CHECK(p->next()->scalar<std::string>() == default_work_mem);
        CHECK(p->next()->scalar<std::int64_t>() == 0);
        REQUIRE(p->finish());
        CHECK((*lease)->round_trips() - before == expected_round_trips);
    }

    TEST_CASE("pipeline: a transaction it begins and rolls back does not take the check with it") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script(
            "CREATE FUNCTION leave_setting() RETURNS int LANGUAGE plpgsql AS $$ BEGIN "
            "PERFORM set_config('work_mem', '7MB', false); RETURN 1; END $$"));
        const std::string default_work_mem = pgkit::test::show(setup, "work_mem");
        auto pool = make_pool(test_pool_options(schema, 1));
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            REQUIRE((*lease)->execute("SELECT leave_setting()"));
        }
        auto lease = pool->acquire();
        REQUIRE(lease);
        REQUIRE((*lease)->session_check_pending());
        auto p = lease->start_pipeline();
        REQUIRE(p);
        REQUIRE(p->add("BEGIN"));
        REQUIRE(p->add("SELECT current_setting('work_mem')"));
        REQUIRE(p->sync());
        REQUIRE(p->add("ROLLBACK"));
        REQUIRE(p->sync());
        REQUIRE(p->add("SELECT current_setting('work_mem')"));
        REQUIRE(p->next());  // BEGIN
        CHECK(p->next()->scalar<std::string>() == default_work_mem);
        REQUIRE(p->next());  // ROLLBACK
        // Had the check ridden inside that transaction, the ROLLBACK would have undone it.
        CHECK(p->next()->scalar<std::string>() == default_work_mem);
        REQUIRE(p->finish());
    }

    TEST_CASE("with_transaction: BEGIN travels with the first statement") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script("CREATE TABLE t (id int)"));
        auto pool = make_pool(test_pool_options(schema, 1));
        {
            auto warm = pool->acquire();  // the lease after this one carries no check
            REQUIRE(warm);
        }
        const auto before = pool->metrics().round_trips;
        pgkit::round_trip_budget budget{4};
        auto done = pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            for (int i = 0; i < 3; ++i) {
                if (auto inserted = tx.execute("INSERT INTO t VALUES ($1)", i); !inserted) {
                    return tl::unexpected(inserted.error());
                }
            }
            return {};
        });
        REQUIRE(done);
        CHECK(budget.used() == 4);  // BEGIN with the first insert, two inserts, COMMIT
        CHECK(budget.check());
        CHECK(pool->metrics().round_trips - before == 4);
        CHECK(scalar<std::int64_t>(setup, "SELECT count(*) FROM t") == 3);

        // A transaction that runs nothing sends nothing.
        pgkit::round_trip_budget nothing{0};
        REQUIRE(
            pool->with_transaction([](pgkit::transaction&) -> pgkit::result<void> { return {}; }));
        CHECK(nothing.check());
    }

    TEST_CASE("begin_with_next_statement: a BEGIN that fails fails the transaction, not more") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        conn.begin_with_next_statement("BEGIN ISOLATION LEVEL NONSENSE");
        CHECK(conn.status() == pgkit::transaction_status::in_transaction);
        auto first = conn.execute("SELECT 1");
        REQUIRE_FALSE(first);
        CHECK(first.error().code() == errc::syntax_error);
        CHECK(conn.status() == pgkit::transaction_status::in_failed_transaction);
        // Nothing runs outside the transaction the caller asked for until it is ended.
        auto refused = conn.execute("SELECT 2");
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::transaction_aborted);
        CHECK(conn.drop_pending_begin());
        CHECK(conn.status() == pgkit::transaction_status::idle);
        CHECK(scalar<std::int32_t>(conn, "SELECT 3") == 3);
    }

    TEST_CASE("round_trip_budget: counts this thread's round trips and reports an excess") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script("CREATE TABLE u (id int PRIMARY KEY)"));
        std::string reported;
        {
            pgkit::round_trip_budget budget{1, [&](const pgkit::error& e) {
                                                reported = e.message();
                                                CHECK(e.code() == errc::round_trip_budget_exceeded);
                                            }};
            // The N+1 pattern the budget is there to catch: one statement per key.
            for (int id = 0; id < 3; ++id) {
                REQUIRE(conn.execute("SELECT * FROM u WHERE id = $1", id));
            }
            CHECK(budget.used() == 3);
            auto over = budget.check();
            REQUIRE_FALSE(over);
            CHECK(over.error().message().find("3 round trips where 1 was allowed") == 0);
        }
        CHECK(reported.find("pipeline_test.cpp") != std::string::npos);
        {
            pgkit::round_trip_budget budget{1};
            auto ids = std::vector<std::int32_t>{0, 1, 2};
            REQUIRE(conn.execute("SELECT * FROM u WHERE id = ANY($1)", ids));
            CHECK(budget.check());
        }
    }
}
