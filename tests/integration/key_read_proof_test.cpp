// Key reads and their proof, against a real server (driver/session_check.hpp, "Key reads"): a
// lease that only read inert tables by key, through a repository or application SQL of the
// key-read shape, is followed by one proof statement instead of the session check; a table that
// is not inert (a view, row-level security, a user-defined type, operator or index function, an
// inheritance child), a statement that is not of the shape (a computed column, a function call in
// its condition) and a transaction around key reads keep the full check; and a table that stops
// being inert while a session holds what it learned of it is caught by the next proof, which calls
// for the full reset before anything else runs. The proof of one table travels inside the next
// key read (a one-time filter, so a read that finds no row proves too), a read that fails on its
// own leaves it owed, and the proof of two tables goes ahead of the next statement.
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"
#include "pgkit/statement_cache.hpp"

#include "pool_test_support.hpp"
#include "support/scalar_query.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace key_read_proof_test {

struct item {
    std::int64_t id = 0;
    std::string name;
};

}  // namespace key_read_proof_test

template <>
struct pgkit::entity<key_read_proof_test::item> {
    using i = key_read_proof_test::item;
    static constexpr std::string_view table = "items";
    static constexpr auto columns =
        std::tuple{pgkit::column(&i::id, "id"), pgkit::column(&i::name, "name")};
    static constexpr auto primary_key = pgkit::key(&i::id);
};

namespace {

using key_read_proof_test::item;
using pgkit::test::make_pool;
using pgkit::test::scalar;
using pgkit::test::test_pool_options;

/// A function that leaves a setting and a session advisory lock behind, which only the check's
/// resets (or the full reset) clear.
constexpr const char* leave_state_sql = R"sql(
    CREATE FUNCTION leave_state() RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN
      PERFORM set_config('app.leaked', 'yes', false);
      PERFORM pg_advisory_lock(4245);
      RETURN true;
    END $$)sql";

/// Runs `sql` with one bigint parameter on `lease` through its statement cache (a key read when
/// the text has the shape).
pgkit::result<pgkit::query_result> key_read(pgkit::lease& lease,
                                            const std::string& sql,
                                            std::int64_t id) {
    return lease.execute_cached(sql, id);
}

/// What the next lease carries after `lease_count` leases of one key read of `sql` each (enough
/// for the session to learn the table, and to use what it learned).
enum class armed { nothing, check, proof };
armed after_key_reads(pgkit::pool& pool, const std::string& sql, int lease_count = 3) {
    for (int i = 0; i < lease_count; ++i) {
        auto lease = pool.acquire();
        REQUIRE(lease);
        auto read = key_read(*lease, sql, 1);
        REQUIRE_MESSAGE(read, read.error().message());
    }
    auto lease = pool.acquire();
    REQUIRE(lease);
    if ((*lease)->key_read_proof_pending()) {
        return armed::proof;
    }
    return (*lease)->session_check_pending() ? armed::check : armed::nothing;
}

/// A scratch schema with one inert table `name` (id bigint key, v int; one row, id 1) and a pool
/// of one connection that has learned it: its next lease carries the proof.
struct learned_table {
    pgkit::test::scratch_schema schema;
    pgkit::connection setup = schema.connect();
    std::shared_ptr<pgkit::pool> pool;
    std::string sql;

    explicit learned_table(const std::string& name)
        : sql(fmt::format("SELECT id, v FROM {} WHERE id = $1", name)) {
        REQUIRE(setup.execute_script(fmt::format(
            "CREATE TABLE {0} (id bigint PRIMARY KEY, v int); INSERT INTO {0} VALUES (1, 1)",
            name)));
        pool = make_pool(test_pool_options(schema, 1));
        REQUIRE(after_key_reads(*pool, sql) == armed::proof);
    }
};

bool holds_advisory_lock(pgkit::connection& observer, int pid) {
    return scalar<bool>(observer,
                        fmt::format("SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = "
                                    "'advisory' AND objid = 4245 AND pid = {})",
                                    pid));
}

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("key reads: a lease of key reads of inert tables carries one proof, not the check") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL); "
            "CREATE INDEX items_name ON items (name) WHERE name <> ''; "
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g"));
        auto pool = make_pool(test_pool_options(schema, 1));
        pgkit::repository<item> items{pool};

        // The first get learns the statement's table; the check after it learns the table.
        REQUIRE(items.get(1));
        REQUIRE(items.get(2));
        auto got = items.get(3);
        REQUIRE(got);
        CHECK(got->name == "item 3");
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            CHECK((*lease)->key_read_proof_pending());
            // The proof travels with the statement: one round trip.
            const auto before = (*lease)->round_trips();
            CHECK(scalar<std::int64_t>(lease->get(), "SELECT 41 + 1") == 42);
            CHECK((*lease)->round_trips() - before == 1);
            CHECK_FALSE((*lease)->session_check_pending());
        }
        // Any other statement brings the check back.
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            CHECK((*lease)->session_check_pending());
            CHECK_FALSE((*lease)->key_read_proof_pending());
        }
        // find_many with one key column is a key read too, and reads what get read.
        const std::vector<std::int64_t> keys{2, 4, 99};
        REQUIRE(items.find_many(keys));
        auto many = items.find_many(keys);
        REQUIRE(many);
        CHECK(many->size() == 2);
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            CHECK((*lease)->key_read_proof_pending());
        }
        // A repository's writes are not key reads.
        REQUIRE(items.insert(item{11, "item 11"}));
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            CHECK_FALSE((*lease)->key_read_proof_pending());
            CHECK((*lease)->session_check_pending());
        }
    }

    TEST_CASE("key reads: a table that is not inert keeps the full check") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script(leave_state_sql));
        REQUIRE(setup.execute_script(
            "CREATE TABLE plain (id bigint PRIMARY KEY, v int); INSERT INTO plain VALUES (1, 1)"));

        std::string ddl;
        std::string sql = "SELECT id, v FROM subject WHERE id = $1";
        std::string why;
        SUBCASE("a plain table: the control") {
            why = "none";
            ddl = "CREATE TABLE subject (id bigint PRIMARY KEY, v int)";
        }
        SUBCASE("a view") {
            why = "view";
            ddl = "CREATE VIEW subject AS SELECT id, v FROM plain WHERE leave_state()";
        }
        SUBCASE("row-level security") {
            why = "rls";
            ddl =
                "CREATE TABLE subject (id bigint PRIMARY KEY, v int); "
                "ALTER TABLE subject ENABLE ROW LEVEL SECURITY; "
                "CREATE POLICY everyone ON subject USING (leave_state())";
        }
        SUBCASE("a column of a user-defined type") {
            why = "type";
            ddl =
                "CREATE TYPE mood AS ENUM ('ok'); "
                "CREATE TABLE subject (id bigint PRIMARY KEY, v int, m mood)";
        }
        SUBCASE("a user-defined = operator on a column's type") {
            why = "operator";
            // On real, which no other test reads by key: operators are database-wide, and one on
            // bigint would make every bigint table of the tests running beside this one not
            // inert until the scratch schema is dropped.
            ddl =
                "CREATE FUNCTION same(real, real) RETURNS boolean LANGUAGE sql "
                "AS 'SELECT $1 OPERATOR(pg_catalog.=) $2'; "
                "CREATE OPERATOR = (LEFTARG = real, RIGHTARG = real, FUNCTION = same); "
                "CREATE TABLE subject (id bigint PRIMARY KEY, v int, r real)";
        }
        SUBCASE("an index on a user-defined function") {
            why = "index";
            ddl =
                "CREATE FUNCTION twice(int) RETURNS int IMMUTABLE LANGUAGE sql "
                "AS 'SELECT $1 * 2'; "
                "CREATE TABLE subject (id bigint PRIMARY KEY, v int); "
                "CREATE INDEX subject_twice ON subject (twice(v))";
        }
        SUBCASE("an inheritance child") {
            why = "child";
            ddl =
                "CREATE TABLE subject (id bigint PRIMARY KEY, v int); "
                "CREATE TABLE subject_child () INHERITS (subject)";
        }
        SUBCASE("a computed column") {
            why = "computed";
            ddl = "CREATE TABLE subject (id bigint PRIMARY KEY, v int)";
            sql = "SELECT id, v + 1 FROM subject WHERE id = $1";
        }
        SUBCASE("a function call in the condition, on a table that is inert") {
            why = "function";
            ddl = "CREATE TABLE subject (id bigint PRIMARY KEY, v int)";
            sql = "SELECT id, v FROM subject WHERE id = $1 AND leave_state()";
        }
        SUBCASE("a function by attribute notation, on a table that is inert") {
            why = "attribute notation";
            ddl =
                "CREATE TABLE subject (id bigint PRIMARY KEY, v int); "
                "CREATE FUNCTION leaves(subject) RETURNS boolean LANGUAGE sql "
                "AS 'SELECT leave_state()'";
            sql = "SELECT id, v FROM subject WHERE id = $1 AND subject.leaves";
        }
        CAPTURE(why);
        REQUIRE(setup.execute_script(ddl));
        if (why != "view") {
            REQUIRE(setup.execute_script("INSERT INTO subject (id, v) VALUES (1, 1)"));
        }
        auto pool = make_pool(test_pool_options(schema, 1));
        CHECK(after_key_reads(*pool, sql) == (why == "none" ? armed::proof : armed::check));
    }

    TEST_CASE("key reads: inside a transaction, the statements around them bring the check") {
        learned_table items{"items"};
        auto& pool = items.pool;
        const std::string& sql = items.sql;
        SUBCASE("BEGIN and COMMIT by hand") {
            auto lease = pool->acquire();
            REQUIRE(lease);
            REQUIRE((*lease)->execute("BEGIN"));
            auto read = key_read(*lease, sql, 1);
            REQUIRE(read);
            CHECK(read->size() == 1);
            REQUIRE((*lease)->execute("COMMIT"));
        }
        SUBCASE("with_transaction, whose BEGIN travels with the key read") {
            auto done = pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
                auto read = tx.execute_cached(sql, std::int64_t{1});
                if (!read) {
                    return tl::unexpected(read.error());
                }
                CHECK(read->size() == 1);
                return {};
            });
            REQUIRE_MESSAGE(done, done.error().message());
        }
        auto lease = pool->acquire();
        REQUIRE(lease);
        CHECK((*lease)->session_check_pending());
        CHECK_FALSE((*lease)->key_read_proof_pending());
    }

    TEST_CASE("key reads: a table that stops being inert during a lease leaves nothing behind") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script(leave_state_sql));
        // Empty and without indexes, so that a _RETURN rule can turn it into a view.
        REQUIRE(setup.execute_script(
            "CREATE TABLE watched (id bigint, v int); "
            "CREATE TABLE source (id bigint, v int); INSERT INTO source VALUES (1, 1); "
            "CREATE TABLE other (id bigint PRIMARY KEY, v int); INSERT INTO other VALUES (1, 1)"));
        // The proof catches a view under the table's own oid (its pg_class row changed); a view
        // that took the table's name is another relation, which the key read's result reports,
        // so that read counts as any statement and the check follows it.
        // The next lease's statement is any statement, behind the proof, or a key read, which
        // carries it.
        std::string change;
        bool proof_catches = true;
        bool next_is_key_read = false;
        SUBCASE("the table becomes a view under its own oid (a _RETURN rule)") {
            change =
                "CREATE RULE \"_RETURN\" AS ON SELECT TO watched DO INSTEAD "
                "SELECT id, v FROM source WHERE leave_state()";
            SUBCASE("then any statement") {}
            SUBCASE("then a key read") {
                next_is_key_read = true;
            }
        }
        SUBCASE("a view takes the table's name") {
            change =
                "ALTER TABLE watched RENAME TO watched_data; "
                "CREATE VIEW watched AS SELECT id, v FROM source WHERE leave_state()";
            proof_catches = false;
            SUBCASE("then any statement") {}
            SUBCASE("then a key read") {
                next_is_key_read = true;
            }
        }
        CAPTURE(change);
        CAPTURE(next_is_key_read);
        auto pool = make_pool(test_pool_options(schema, 1));
        const std::string watched = "SELECT id, v FROM watched WHERE id = $1";
        const std::string other = "SELECT id, v FROM other WHERE id = $1";
        REQUIRE(after_key_reads(*pool, watched) == armed::proof);
        REQUIRE(after_key_reads(*pool, other) == armed::proof);

        int pid = 0;
        {
            // The table becomes a view over a function that leaves state, and the lease reads
            // it by key (the read carries the last lease's proof, of `other`, which passes): the
            // session still takes it for inert, so nothing but its proof follows the lease.
            auto lease = pool->acquire();
            REQUIRE(lease);
            pid = (*lease)->backend_pid();
            REQUIRE(setup.execute_script(change));
            auto read = key_read(*lease, watched, 1);
            REQUIRE(read);
            CHECK(read->size() == 1);
            REQUIRE(holds_advisory_lock(setup, pid));  // the function ran: state was left
        }
        auto lease = pool->acquire();
        REQUIRE(lease);
        REQUIRE((*lease)->backend_pid() == pid);
        CHECK((*lease)->key_read_proof_pending() == proof_catches);
        CHECK((*lease)->session_check_pending());
        // A failed proof calls for the full reset, and the statement is sent again (three round
        // trips); the check clears what the function left in the statement's round trip. Either
        // way none of the state reaches the statement.
        const auto before = (*lease)->round_trips();
        if (next_is_key_read) {
            auto read = key_read(*lease, other, 1);
            REQUIRE_MESSAGE(read, read.error().message());
            CHECK(read->size() == 1);
            CHECK((*lease)->round_trips() - before == (proof_catches ? 3U : 1U));
            CHECK_FALSE((*lease)->session_check_pending());
        }
        CHECK(scalar<std::string>(lease->get(),
                                  "SELECT coalesce(current_setting('app.leaked', "
                                  "true), '')") == "");
        CHECK((*lease)->round_trips() - before ==
              (proof_catches ? 3U : 1U) + (next_is_key_read ? 1U : 0U));
        CHECK_FALSE(holds_advisory_lock(setup, pid));
    }

    TEST_CASE("key reads: a table dropped after a key read fails the proof, not the statement") {
        learned_table gone{"gone"};
        REQUIRE(gone.setup.execute_script("DROP TABLE gone"));
        auto lease = gone.pool->acquire();
        REQUIRE(lease);
        const auto before = (*lease)->round_trips();
        CHECK(scalar<std::int64_t>(lease->get(), "SELECT 7") == 7);
        CHECK((*lease)->round_trips() - before == 3);
    }
}

TEST_SUITE("pool") {
    TEST_CASE("key reads: a table changed but still inert is learned again after its proof fails") {
        learned_table tuned{"tuned"};
        auto& pool = tuned.pool;
        const std::string& sql = tuned.sql;
        REQUIRE(tuned.setup.execute_script("ALTER TABLE tuned SET (fillfactor = 90)"));
        {
            auto lease = pool->acquire();
            REQUIRE(lease);
            const auto before = (*lease)->round_trips();
            auto read = key_read(*lease, sql, 1);
            REQUIRE(read);
            CHECK(read->size() == 1);
            CHECK((*lease)->round_trips() - before == 3);  // the proof failed: full reset
        }
        // That read armed the check, which learns the table again; later reads are key reads.
        CHECK(after_key_reads(*pool, sql) == armed::proof);
    }

    TEST_CASE("key reads: the proof a key read carries runs even when the read finds no row") {
        learned_table tuned{"tuned"};
        REQUIRE(tuned.setup.execute_script("ALTER TABLE tuned SET (fillfactor = 90)"));
        auto lease = tuned.pool->acquire();
        REQUIRE(lease);
        REQUIRE((*lease)->key_read_proof_pending());
        const auto before = (*lease)->round_trips();
        auto read = key_read(*lease, tuned.sql, 404);
        REQUIRE_MESSAGE(read, read.error().message());
        CHECK(read->size() == 0);
        // The proof failed inside the read: the full reset ran and the read was sent again.
        CHECK((*lease)->round_trips() - before == 3);
        CHECK_FALSE((*lease)->session_check_pending());
    }

    TEST_CASE("key reads: a key read that fails on its own leaves the proof owed") {
        learned_table items{"owed"};
        auto lease = items.pool->acquire();
        REQUIRE(lease);
        REQUIRE((*lease)->key_read_proof_pending());
        // The server rejects the parameter before the statement runs, and the implicit
        // transaction the proof travelled in is gone: the next statement carries it again.
        auto rejected = lease->execute_cached(items.sql, std::string{"not a number"});
        REQUIRE_FALSE(rejected);
        CHECK(rejected.error().sqlstate() == "22P02");
        CHECK((*lease)->key_read_proof_pending());
        auto read = key_read(*lease, items.sql, 1);
        REQUIRE_MESSAGE(read, read.error().message());
        CHECK(read->size() == 1);
        CHECK_FALSE((*lease)->session_check_pending());
    }

    TEST_CASE("key reads: the proof of two tables goes ahead of the next statement") {
        learned_table first{"first_read"};
        REQUIRE(
            first.setup.execute_script("CREATE TABLE second_read (id bigint PRIMARY KEY, v int); "
                                       "INSERT INTO second_read VALUES (1, 1)"));
        const std::string second = "SELECT id, v FROM second_read WHERE id = $1";
        REQUIRE(after_key_reads(*first.pool, second) == armed::proof);
        {
            auto lease = first.pool->acquire();
            REQUIRE(lease);
            REQUIRE(key_read(*lease, first.sql, 1));
            REQUIRE(key_read(*lease, second, 1));
        }
        auto lease = first.pool->acquire();
        REQUIRE(lease);
        REQUIRE((*lease)->key_read_proof_pending());
        // A key read carries the proof of one table only; two go ahead of it in its round trip,
        // and pass there, so the read's own failure leaves nothing owed.
        const auto before = (*lease)->round_trips();
        auto rejected = lease->execute_cached(first.sql, std::string{"not a number"});
        REQUIRE_FALSE(rejected);
        CHECK((*lease)->round_trips() - before == 1);
        CHECK_FALSE((*lease)->key_read_proof_pending());
    }
}
