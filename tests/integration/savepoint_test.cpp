// Savepoints inside with_transaction: release on success, rollback of only the savepoint's work
// on error, nesting, repositories inside, the round trips they cost, and the errors that must
// reach with_transaction's retry instead of being rolled back to the savepoint (a real
// serialization failure, a lost connection).
#include "pgkit/entity.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"
#include "pgkit/round_trips.hpp"
#include "pgkit/transaction.hpp"

#include "integration/pool_test_support.hpp"
#include "support/scalar_query.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <tuple>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::test::make_pool;
using pgkit::test::scalar;
using pgkit::test::test_pool_options;

struct note {
    std::int64_t id = 0;
    std::string body;
};

}  // namespace

template <>
struct pgkit::entity<note> {
    static constexpr std::string_view table = "notes";
    static constexpr auto columns = std::tuple{
        pgkit::column(&note::id, "id"),
        pgkit::column(&note::body, "body"),
    };
    static constexpr auto primary_key = pgkit::key(&note::id);
};

namespace {

struct fixture {
    pgkit::test::scratch_schema schema;
    pgkit::connection observer = schema.connect();
    std::shared_ptr<pgkit::pool> pool;

    fixture() {
        REQUIRE(observer.execute_script("CREATE TABLE notes (id int8 PRIMARY KEY, body text)"));
        pool = make_pool(test_pool_options(schema, 2));
    }

    std::int64_t count(std::string_view where) {
        return scalar<std::int64_t>(observer,
                                    "SELECT count(*) FROM notes WHERE " + std::string{where});
    }
};

pgkit::result<void> add(pgkit::transaction& tx, std::int64_t id, std::string_view body) {
    return tx.execute("INSERT INTO notes VALUES ($1, $2)", id, std::string{body}).map([](auto&&) {
    });
}

}  // namespace

TEST_SUITE("savepoint") {
    TEST_CASE("savepoint: success releases it and returns the function's value") {
        fixture f;
        auto outcome = f.pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<int> {
            auto inner = tx.savepoint([&]() -> pgkit::result<int> {
                if (auto added = add(tx, 1, "inside"); !added) {
                    return tl::unexpected(added.error());
                }
                return 42;
            });
            if (!inner) {
                return inner;
            }
            // Released: no savepoint of that name is left to roll back to.
            auto gone = tx.execute_script("ROLLBACK TO SAVEPOINT pgkit_savepoint_1");
            CHECK_FALSE(gone);
            return *inner;
        });
        // The failed ROLLBACK TO above aborted the transaction; that proves the release, and the
        // function's value still comes back only when the transaction commits.
        REQUIRE_FALSE(outcome);
        CHECK(outcome.error().code() == errc::transaction_aborted);

        auto committed = f.pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<int> {
            return tx.savepoint(
                [&]() -> pgkit::result<int> { return add(tx, 2, "kept").map([] { return 7; }); });
        });
        REQUIRE(committed);
        CHECK(*committed == 7);
        CHECK(f.count("id = 2") == 1);
        CHECK(f.count("true") == 1);
    }

    TEST_CASE(
        "savepoint: an error rolls back only the savepoint's work and the transaction goes "
        "on") {
        fixture f;
        auto outcome = f.pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            if (auto before = add(tx, 1, "before"); !before) {
                return before;
            }
            auto failed = tx.savepoint([](pgkit::transaction& inner) -> pgkit::result<void> {
                REQUIRE(add(inner, 2, "inside"));
                return add(inner, 1, "duplicate");  // unique_violation
            });
            REQUIRE_FALSE(failed);
            CHECK(failed.error().code() == errc::unique_violation);
            CHECK(tx.conn().status() == pgkit::transaction_status::in_transaction);
            // An application error (no statement failed) rolls back too.
            auto refused = tx.savepoint([&]() -> pgkit::result<void> {
                REQUIRE(add(tx, 3, "refused"));
                return pgkit::make_error(errc::invalid_argument, "the caller changed its mind");
            });
            REQUIRE_FALSE(refused);
            CHECK(refused.error().code() == errc::invalid_argument);
            return add(tx, 4, "after");
        });
        REQUIRE(outcome);
        CHECK(f.count("id IN (1, 4)") == 2);
        CHECK(f.count("id IN (2, 3)") == 0);
    }

    TEST_CASE(
        "savepoint: nested, an error in the middle one keeps the outer and undoes the inner") {
        fixture f;
        auto outcome = f.pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            return tx.savepoint([&]() -> pgkit::result<void> {
                REQUIRE(add(tx, 1, "outer"));
                auto middle = tx.savepoint([&]() -> pgkit::result<void> {
                    REQUIRE(add(tx, 2, "middle"));
                    auto inner = tx.savepoint([&]() -> pgkit::result<void> {
                        return add(tx, 3, "inner");  // released into the middle one
                    });
                    REQUIRE(inner);
                    return tx.execute("SELECT 1 / 0").map([](auto&&) {});
                });
                REQUIRE_FALSE(middle);
                CHECK(middle.error().code() == errc::data_exception);
                return add(tx, 4, "outer again");
            });
        });
        REQUIRE(outcome);
        CHECK(f.count("id IN (1, 4)") == 2);
        CHECK(f.count("id IN (2, 3)") == 0);
    }

    TEST_CASE("savepoint: repositories work inside it") {
        fixture f;
        pgkit::repository<note> notes{f.pool};
        auto outcome = f.pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
            auto in_tx = notes.in(tx);
            REQUIRE(in_tx.insert(note{1, "kept"}));
            auto failed = tx.savepoint([&]() -> pgkit::result<note> {
                REQUIRE(in_tx.insert(note{2, "undone"}));
                return in_tx.insert(note{1, "duplicate"});
            });
            REQUIRE_FALSE(failed);
            CHECK(failed.error().code() == errc::unique_violation);
            auto seen = in_tx.find(2);
            REQUIRE(seen);
            CHECK_FALSE(seen->has_value());
            return tx
                .savepoint([&]() -> pgkit::result<note> {
                    return in_tx.insert(note{3, "also"});
                })
                .map([](auto&&) {});
        });
        REQUIRE(outcome);
        CHECK(f.count("id IN (1, 3)") == 2);
        CHECK(f.count("id = 2") == 0);
    }

    TEST_CASE("savepoint: costs two round trips besides its statements") {
        fixture f;
        auto outcome = f.pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            {
                // The pending BEGIN alone (a utility statement cannot carry it), SAVEPOINT, the
                // INSERT, RELEASE.
                pgkit::round_trip_budget budget{4};
                REQUIRE(tx.savepoint([&]() { return add(tx, 1, "a"); }));
                CHECK(budget.used() == 4);
            }
            {
                // SAVEPOINT, the failing INSERT, ROLLBACK TO + RELEASE in one script.
                pgkit::round_trip_budget budget{3};
                REQUIRE_FALSE(tx.savepoint([&]() { return add(tx, 1, "again"); }));
                CHECK(budget.used() == 3);
            }
            return {};
        });
        REQUIRE(outcome);
        CHECK(f.count("true") == 1);
    }

    TEST_CASE(
        "savepoint: a serialization failure inside is not rolled back to the savepoint: "
        "with_transaction retries the whole function") {
        fixture f;
        REQUIRE(
            f.observer.execute_script("CREATE TABLE accounts (id int PRIMARY KEY, balance int);"
                                      "INSERT INTO accounts VALUES (1, 100)"));
        std::uint32_t attempts = 0;
        std::uint32_t savepoint_errors_seen = 0;
        auto balance = f.pool->with_transaction(
            [&](pgkit::transaction& tx) -> pgkit::result<std::int32_t> {
                attempts = tx.attempt();
                // Outside the savepoint, before it: must be committed exactly once.
                if (auto logged = add(tx, 100 + tx.attempt(), "attempt"); !logged) {
                    return tl::unexpected(logged.error());
                }
                auto inside = tx.savepoint([&]() -> pgkit::result<std::int32_t> {
                    auto seen = tx.execute("SELECT balance FROM accounts WHERE id = 1");
                    if (!seen) {
                        return tl::unexpected(seen.error());
                    }
                    if (tx.attempt() == 1) {
                        // Committed after our snapshot: our update of the same row must fail
                        // with 40001 (REPEATABLE READ), and nothing waits on anything.
                        REQUIRE(f.observer.execute(
                            "UPDATE accounts SET balance = balance + 1 WHERE id = 1"));
                    }
                    return tx
                        .execute(
                            "UPDATE accounts SET balance = balance + 10 WHERE id = 1 "
                            "RETURNING balance")
                        .and_then(&pgkit::query_result::scalar<std::int32_t>);
                });
                if (!inside) {
                    ++savepoint_errors_seen;
                    CHECK(inside.error().code() == errc::serialization_failure);
                    CHECK(inside.error().sqlstate() == "40001");
                    // Not swallowed: the transaction is still failed, nothing was rolled back.
                    CHECK(tx.conn().status() == pgkit::transaction_status::in_failed_transaction);
                }
                return inside;
            },
            {.isolation = pgkit::isolation_level::repeatable_read,
             .retry = {.max_attempts = 3, .initial_backoff = 1ms, .max_backoff = 5ms}});
        REQUIRE(balance);
        CHECK(attempts == 2);
        CHECK(savepoint_errors_seen == 1);
        CHECK(*balance == 111);
        CHECK(f.count("id = 101") == 0);  // the first attempt was rolled back entirely
        CHECK(f.count("id = 102") == 1);

        // With no retries left, the serialization failure is the transaction's result.
        auto once = f.pool->with_transaction(
            [&](pgkit::transaction& tx) -> pgkit::result<void> {
                return tx.savepoint([&]() -> pgkit::result<void> {
                    REQUIRE(tx.execute("SELECT balance FROM accounts WHERE id = 1"));
                    REQUIRE(f.observer.execute("UPDATE accounts SET balance = 0 WHERE id = 1"));
                    return tx.execute("UPDATE accounts SET balance = 1 WHERE id = 1")
                        .map([](auto&&) {});
                });
            },
            {.isolation = pgkit::isolation_level::repeatable_read, .retry = {.max_attempts = 1}});
        REQUIRE_FALSE(once);
        CHECK(once.error().code() == errc::serialization_failure);
    }

    TEST_CASE(
        "savepoint: a connection lost inside fails the attempt, poisons the connection and "
        "with_transaction runs again on a new one") {
        fixture f;
        std::uint32_t attempts = 0;
        int first_pid = 0;
        auto outcome = f.pool->with_transaction(
            [&](pgkit::transaction& tx) -> pgkit::result<void> {
                attempts = tx.attempt();
                if (auto logged = add(tx, tx.attempt(), "attempt"); !logged) {
                    return logged;
                }
                auto inside = tx.savepoint([&]() -> pgkit::result<void> {
                    if (tx.attempt() == 1) {
                        first_pid = tx.conn().backend_pid();
                        pgkit::test::terminate_backend(f.observer, first_pid);
                    }
                    return add(tx, 10 + tx.attempt(), "inside");
                });
                if (!inside && tx.attempt() == 1) {
                    CHECK(inside.error().code() == errc::connection_lost);
                    CHECK(tx.conn().is_poisoned());
                }
                return inside;
            },
            {.retry = {.max_attempts = 2, .initial_backoff = 1ms, .max_backoff = 5ms}});
        REQUIRE(outcome);
        CHECK(attempts == 2);
        CHECK(f.count("id IN (1, 11)") == 0);
        CHECK(f.count("id IN (2, 12)") == 2);
    }

    TEST_CASE("savepoint: a function that ignored an error inside is transaction_aborted") {
        fixture f;
        auto outcome = f.pool->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            auto inner = tx.savepoint([&]() -> pgkit::result<void> {
                (void)tx.execute("SELECT 1 / 0");  // ignored
                return {};
            });
            REQUIRE_FALSE(inner);
            CHECK(inner.error().code() == errc::transaction_aborted);
            return inner;
        });
        REQUIRE_FALSE(outcome);
        CHECK(outcome.error().code() == errc::transaction_aborted);
    }
}
