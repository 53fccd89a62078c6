// Expand -> backfill -> contract plans against a real server: the phone column plan
// (support/phone_plan.hpp) run whole and recorded in the migrations' history, the contract
// refused while each gate fails, a plan process killed with SIGKILL in its backfill and right
// after its expand then resumed, and writers running through the plan.
#include "pgkit/migration_plan.hpp"

#include "pgkit/migration_lint.hpp"
#include "pgkit/pool.hpp"

#include "integration/backfill_test_support.hpp"
#include "integration/pool_test_support.hpp"
#include "support/child_process.hpp"
#include "support/phone_plan.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::migration_state;
using pgkit::plan_step;
using pgkit::test::count_where;
using pgkit::test::eventually;
using pgkit::test::make_pool;
using pgkit::test::scratch_schema;
using pgkit::test::test_pool_options;

constexpr std::int64_t user_rows = 5'000;

/// Adds users first..last (then ANALYZE).
void add_users(pgkit::connection& conn, std::int64_t first, std::int64_t last) {
    auto added = conn.execute_script(
        fmt::format("INSERT INTO users SELECT g, 'user ' || g, 0 FROM generate_series({}, {}) g; "
                    "ANALYZE users",
                    first, last));
    REQUIRE_MESSAGE(added, added.error().to_string());
}

pgkit::plan_options options_for(const scratch_schema& schema) {
    pgkit::plan_options options;
    options.migrate.history_schema = schema.name();
    options.backfill.initial_batch_size = 500;
    return options;
}

/// Whether users.phone is NOT NULL in the catalog.
bool phone_not_null(pgkit::connection& conn) {
    return count_where(conn,
                       "SELECT count(*) FROM pg_attribute WHERE attrelid = 'users'::regclass "
                       "AND attname = 'phone' AND attnotnull") == 1;
}

/// The history's state of a version ("" when it has no row).
std::string history_state(pgkit::connection& conn, std::int64_t version) {
    auto r = conn.execute("SELECT state FROM pgkit_migrations WHERE version = $1", version);
    if (!r || r->empty()) {
        return "";
    }
    return *(*r)[0].get<std::string>(0);
}

/// A contract refused by a gate: the error names it, and nothing of the contract was applied.
void check_refused(pgkit::pool& pool,
                   pgkit::connection& conn,
                   const pgkit::migration_plan& plan,
                   const pgkit::plan_options& options,
                   const std::vector<std::string>& expected) {
    auto contract = pgkit::run_plan_contract(pool, plan, options);
    REQUIRE_FALSE(contract);
    CHECK(contract.error().code() == errc::migration_refused);
    for (const auto& text : expected) {
        CHECK_MESSAGE(contract.error().message().find(text) != std::string::npos,
                      contract.error().message(), " lacks ", text);
    }
    CHECK(history_state(conn, plan.contract.version).empty());
    CHECK_FALSE(phone_not_null(conn));
    CHECK(count_where(conn,
                      "SELECT count(*) FROM pg_constraint WHERE conname = "
                      "'users_phone_not_null' AND connamespace = current_schema()::regnamespace") ==
          1);
}

/// Runs the phone plan in a worker process (batches `pause_ms` apart) and kills it with SIGKILL
/// as soon as `reached` holds; returns once the killed runner's backfill lock is gone (a batch it
/// sent may still commit until then).
void kill_worker_when(const scratch_schema& schema,
                      pgkit::connection& conn,
                      const char* pause_ms,
                      const std::function<bool()>& reached) {
    const pid_t pid = pgkit::test::spawn_program(
        PGKIT_MIGRATION_WORKER, {pgkit::test::server_url(), schema.name(), "--plan", pause_ms});
    const bool in_time = eventually(reached, 30s);
    ::kill(pid, SIGKILL);
    const int status = pgkit::test::wait_for(pid);
    REQUIRE(in_time);
    CHECK(WIFSIGNALED(status));
    REQUIRE(eventually(
        [&] {
            return pgkit::test::runner_lock_holders(conn, schema.name(),
                                                    pgkit::test::phone_plan().backfill.name) == 0;
        },
        10s));
}

/// Resumes the plan in this process until it is done (the killed worker's runner lock goes with
/// its sessions, which the server ends a moment after the kill).
pgkit::plan_report resume(pgkit::pool& pool,
                          const pgkit::migration_plan& plan,
                          const pgkit::plan_options& options) {
    pgkit::result<pgkit::plan_report> report = pgkit::plan_report{};
    REQUIRE(eventually(
        [&] {
            report = pgkit::run_plan(pool, plan, options);
            return report || report.error().code() != errc::already_running;
        },
        20s));
    REQUIRE_MESSAGE(report, report.error().to_string());
    return *report;
}

/// After a plan is done: every row has its phone, the column is NOT NULL, the CHECK is gone, the
/// expand and contract are applied in the history and the plan reads done.
void check_done(pgkit::pool& pool,
                pgkit::connection& conn,
                const pgkit::migration_plan& plan,
                const pgkit::plan_options& options) {
    CHECK(phone_not_null(conn));
    CHECK(count_where(conn, fmt::format("SELECT count(*) FROM users WHERE phone IS DISTINCT FROM "
                                        "{}",
                                        pgkit::test::phone_of_id)) == 0);
    CHECK(count_where(conn,
                      "SELECT count(*) FROM pg_constraint WHERE conname = "
                      "'users_phone_not_null' AND connamespace = current_schema()::regnamespace") ==
          0);
    CHECK(history_state(conn, plan.expand.version) == "applied");
    CHECK(history_state(conn, plan.contract.version) == "applied");
    auto status = pgkit::inspect_plan(pool, plan, options);
    REQUIRE_MESSAGE(status, status.error().to_string());
    CHECK(status->next == plan_step::done);
}

/// Each case's world: a scratch schema holding users (user_rows rows), the history and the runs
/// table; a pool; the phone plan and options that keep them in the schema.
struct plan_fixture {
    plan_fixture() : conn(schema.connect()), pool(make_pool(test_pool_options(schema))) {
        auto created = conn.execute_script(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, visits int NOT NULL)");
        REQUIRE_MESSAGE(created, created.error().to_string());
        add_users(conn, 1, user_rows);
    }

    scratch_schema schema;
    pgkit::connection conn;
    std::shared_ptr<pgkit::pool> pool;
    pgkit::migration_plan plan = pgkit::test::phone_plan();
    pgkit::plan_options options = options_for(schema);
};

}  // namespace

TEST_SUITE("migration plan") {
    TEST_CASE_FIXTURE(
        plan_fixture,
        "migration plan: the phone plan runs whole and its migrations share the history") {
        auto before = pgkit::inspect_plan(*pool, plan, options);
        REQUIRE_MESSAGE(before, before.error().to_string());
        CHECK(before->next == plan_step::expand);
        CHECK(before->gates.empty());

        auto report = pgkit::run_plan(*pool, plan, options);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->reached == plan_step::done);
        CHECK(report->ran == std::vector<plan_step>{plan_step::expand, plan_step::backfill,
                                                    plan_step::validate, plan_step::contract});
        REQUIRE(report->backfill);
        CHECK(report->backfill->rows_done == static_cast<std::uint64_t>(user_rows));
        check_done(*pool, conn, plan, options);

        // Again: nothing left to do.
        auto again = pgkit::run_plan(*pool, plan, options);
        REQUIRE_MESSAGE(again, again.error().to_string());
        CHECK(again->ran.empty());
        CHECK(again->reached == plan_step::done);

        // The application's own migrations share the history: migrate_up leaves the plan's
        // versions to the plan (no "missing version" refusal for 100 and 101, no "out of
        // order" for 50), and migrations_status does not list them.
        pgkit::migration mine;
        mine.version = 50;
        mine.name = "audit";
        mine.up = "CREATE TABLE audit (id bigint)";
        mine.down = "DROP TABLE audit";
        const std::vector<pgkit::migration> app{mine};
        // The dry run lists what migrate_up applies: not the plan's contract, even when given.
        auto dry = pgkit::plan_migrate_up(*pool, std::vector<pgkit::migration>{mine, plan.contract},
                                          options.migrate);
        REQUIRE_MESSAGE(dry, dry.error().to_string());
        REQUIRE(dry->size() == 1);
        CHECK(dry->front().version == 50);
        auto applied = pgkit::migrate_up(*pool, app, options.migrate);
        REQUIRE_MESSAGE(applied, applied.error().to_string());
        CHECK(applied->applied == std::vector<std::int64_t>{50});
        auto status = pgkit::migrations_status(*pool, app, options.migrate);
        REQUIRE_MESSAGE(status, status.error().to_string());
        REQUIRE(status->size() == 1);
        CHECK((*status)[0].version == 50);
        CHECK((*status)[0].state == migration_state::applied);
        // A list that also holds the plan's contract does not apply or revert it either.
        const std::vector<pgkit::migration> with_plan{mine, plan.contract};
        auto down = pgkit::migrate_down(*pool, with_plan, 0, options.migrate);
        REQUIRE_MESSAGE(down, down.error().to_string());
        CHECK(down->reverted == std::vector<std::int64_t>{50});
        CHECK(history_state(conn, plan.contract.version) == "applied");
    }

    TEST_CASE_FIXTURE(
        plan_fixture,
        "migration plan: the contract refuses while a gate fails and applies nothing") {
        // Before the expand: refused, by the history.
        auto early = pgkit::run_plan_contract(*pool, plan, options);
        REQUIRE_FALSE(early);
        CHECK(early.error().code() == errc::migration_refused);
        CHECK(early.error().message().find("expand") != std::string::npos);
        CHECK(history_state(conn, plan.contract.version).empty());
        auto backfill_early = pgkit::run_plan_backfill(*pool, plan, options);
        REQUIRE_FALSE(backfill_early);
        CHECK(backfill_early.error().code() == errc::migration_refused);

        auto expanded = pgkit::run_plan_expand(*pool, plan, options);
        REQUIRE_MESSAGE(expanded, expanded.error().to_string());
        CHECK(*expanded);
        auto twice = pgkit::run_plan_expand(*pool, plan, options);
        REQUIRE_MESSAGE(twice, twice.error().to_string());
        CHECK_FALSE(*twice);

        // NULLs left (the backfill has not run): the message counts them.
        check_refused(*pool, conn, plan, options,
                      {"backfill_done", fmt::format("no_nulls(phone): {} NULLs left", user_rows),
                       "validated(users_phone_not_null): not validated"});
        auto status = pgkit::inspect_plan(*pool, plan, options);
        REQUIRE_MESSAGE(status, status.error().to_string());
        CHECK(status->next == plan_step::backfill);
        CHECK_FALSE(status->gates_pass);

        // The validate step waits for the backfill.
        auto validate_early = pgkit::run_plan_validate(*pool, plan, options);
        REQUIRE_FALSE(validate_early);
        CHECK(validate_early.error().code() == errc::migration_refused);

        auto filled = pgkit::run_plan_backfill(*pool, plan, options);
        REQUIRE_MESSAGE(filled, filled.error().to_string());
        CHECK(filled->status == pgkit::backfill_status::done);

        // No NULL left, but the CHECK is still NOT VALID.
        check_refused(*pool, conn, plan, options,
                      {"validated(users_phone_not_null): not validated"});
        status = pgkit::inspect_plan(*pool, plan, options);
        REQUIRE(status);
        CHECK(status->next == plan_step::validate);

        auto validated = pgkit::run_plan_validate(*pool, plan, options);
        REQUIRE_MESSAGE(validated, validated.error().to_string());

        // The expand's VERIFY fails: a row with an empty phone.
        REQUIRE(conn.execute_script("UPDATE users SET phone = '' WHERE id = 7"));
        check_refused(*pool, conn, plan, options, {"verify: VERIFY statement 1"});

        // A user gate that is false.
        REQUIRE(conn.execute_script("UPDATE users SET phone = '+1-555-0000007' WHERE id = 7"));
        plan.gate_sql = "SELECT count(*) > 1000000 FROM users";
        check_refused(*pool, conn, plan, options, {"user: gave f"});
        status = pgkit::inspect_plan(*pool, plan, options);
        REQUIRE(status);
        CHECK(status->next == plan_step::contract);
        CHECK_FALSE(status->gates_pass);

        // Every gate passes: the contract applies.
        plan.gate_sql = "SELECT count(*) = " + std::to_string(user_rows) + " FROM users";
        status = pgkit::inspect_plan(*pool, plan, options);
        REQUIRE(status);
        CHECK(status->gates_pass);
        auto contract = pgkit::run_plan_contract(*pool, plan, options);
        REQUIRE_MESSAGE(contract, contract.error().to_string());
        CHECK(*contract);
        check_done(*pool, conn, plan, options);
    }

    TEST_CASE_FIXTURE(plan_fixture,
                      "migration plan: bad plans are refused before anything is applied") {
        auto backwards = pgkit::test::phone_plan();
        backwards.contract.version = 99;
        auto refused = pgkit::run_plan(*pool, backwards, options);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::invalid_argument);
        CHECK(refused.error().message().find("users_phone") != std::string::npos);

        auto bad_column = pgkit::test::phone_plan();
        bad_column.no_nulls = {""};
        auto quoted = pgkit::run_plan(*pool, bad_column, options);
        REQUIRE_FALSE(quoted);
        CHECK(quoted.error().code() == errc::invalid_argument);
        CHECK(history_state(conn, 100).empty());

        // A second plan that claims the first one's versions.
        auto first = pgkit::test::phone_plan();
        REQUIRE(pgkit::run_plan_expand(*pool, first, options));
        auto other = pgkit::test::phone_plan();
        other.name = "other_plan";
        auto clash = pgkit::run_plan_expand(*pool, other, options);
        REQUIRE_FALSE(clash);
        CHECK(clash.error().code() == errc::migration_refused);
        CHECK(clash.error().message().find("users_phone") != std::string::npos);
    }

    TEST_CASE_FIXTURE(plan_fixture,
                      "migration plan: a plan killed with SIGKILL in its backfill resumes where it "
                      "stopped") {
        kill_worker_when(schema, conn, "20", [&] {
            return pgkit::test::run_rows_done(conn, plan.backfill.name) >= 500;
        });

        const std::int64_t done_before = pgkit::test::run_rows_done(conn, plan.backfill.name);
        CHECK(done_before < user_rows);
        CHECK(history_state(conn, plan.expand.version) == "applied");
        CHECK(history_state(conn, plan.contract.version).empty());
        CHECK_FALSE(phone_not_null(conn));
        // Exactly the rows up to the saved cursor have their phone.
        CHECK(count_where(conn, "SELECT count(*) FROM users WHERE phone IS NOT NULL") ==
              done_before);
        auto stopped = pgkit::inspect_plan(*pool, plan, options);
        REQUIRE_MESSAGE(stopped, stopped.error().to_string());
        CHECK(stopped->next == plan_step::backfill);

        const auto report = resume(*pool, plan, options);
        CHECK(report.reached == plan_step::done);
        CHECK(report.ran == std::vector<plan_step>{plan_step::backfill, plan_step::validate,
                                                   plan_step::contract});
        REQUIRE(report.backfill);
        CHECK(report.backfill->rows_done == static_cast<std::uint64_t>(user_rows));
        CHECK(report.backfill->rows_this_run ==
              static_cast<std::uint64_t>(user_rows - done_before));
        check_done(*pool, conn, plan, options);
    }

    TEST_CASE_FIXTURE(plan_fixture,
                      "migration plan: a plan killed with SIGKILL right after its expand resumes") {
        // Slow batches (200 ms apart), killed as soon as the history shows the expand.
        kill_worker_when(schema, conn, "200",
                         [&] { return history_state(conn, plan.expand.version) == "applied"; });
        CHECK(history_state(conn, plan.contract.version).empty());

        const auto report = resume(*pool, plan, options);
        CHECK(report.reached == plan_step::done);
        // The expand is not applied twice.
        CHECK(report.ran.front() == plan_step::backfill);
        check_done(*pool, conn, plan, options);
    }

    TEST_CASE_FIXTURE(
        plan_fixture,
        "migration plan: writers keep running through the plan and the NOT NULL holds") {
        constexpr std::int64_t rows = 20'000;
        add_users(conn, user_rows + 1, rows);
        options.backfill.target_batch_duration = 20ms;

        // The expand first: from then on the application's new code writes phone (the NOT VALID
        // CHECK already holds new and updated rows to it).
        auto expanded = pgkit::run_plan_expand(*pool, plan, options);
        REQUIRE_MESSAGE(expanded, expanded.error().to_string());

        constexpr int writers = 3;
        std::atomic<bool> stop{false};
        std::atomic<std::int64_t> writes{0};
        std::atomic<std::int64_t> failures{0};
        std::vector<std::string> first_error(writers);
        auto writer_pool = make_pool(test_pool_options(schema, writers));
        std::vector<std::thread> threads;
        for (int w = 0; w < writers; ++w) {
            threads.emplace_back([&, w] {
                std::int64_t n = 0;
                while (!stop.load()) {
                    auto lease = writer_pool->acquire();
                    pgkit::result<pgkit::query_result> r =
                        tl::unexpected(pgkit::error{errc::pool_timeout, "no lease"});
                    if (lease) {
                        const std::int64_t id = 1'000'000 + w * 1'000'000 + n;
                        r = n % 2 == 0
                                ? (*lease)->execute(
                                      fmt::format("INSERT INTO users (id, name, visits, phone) "
                                                  "SELECT $1::bigint, 'new', 0, {} FROM (SELECT "
                                                  "$1::bigint AS id) s",
                                                  pgkit::test::phone_of_id),
                                      id)
                                : (*lease)->execute(
                                      fmt::format("UPDATE users SET visits = visits + 1, phone = "
                                                  "COALESCE(phone, {}) WHERE id = $1",
                                                  pgkit::test::phone_of_id),
                                      1 + (n * 7919) % rows);
                    } else {
                        r = tl::unexpected(lease.error());
                    }
                    if (r) {
                        writes.fetch_add(1);
                    } else {
                        failures.fetch_add(1);
                        if (first_error[w].empty()) {
                            first_error[w] = r.error().to_string();
                        }
                    }
                    ++n;
                }
            });
        }
        REQUIRE(eventually([&] { return writes.load() >= 50; }, 10s));
        const std::int64_t writes_before = writes.load();

        auto report = pgkit::run_plan(*pool, plan, options);
        const std::int64_t writes_during = writes.load() - writes_before;
        stop.store(true);
        for (auto& t : threads) {
            t.join();
        }
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->reached == plan_step::done);
        CHECK(writes_during > 0);
        CHECK_MESSAGE(failures.load() == 0, first_error[0], first_error[1], first_error[2]);
        check_done(*pool, conn, plan, options);
        // The NOT NULL holds for writers now.
        auto refused = conn.execute("INSERT INTO users (id, name, visits) VALUES (-1, 'x', 0)");
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::not_null_violation);
    }
}
