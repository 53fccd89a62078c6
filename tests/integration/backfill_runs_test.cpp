// The runs table and the calls that name a run: where the runs table lives (runs_schema), that
// every call about a run reads and writes the same row, and the runner lock that keeps one runner
// per run.
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "integration/backfill_test_support.hpp"
#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using pgkit::backfill_options;
using pgkit::backfill_spec;
using pgkit::backfill_status;
using pgkit::errc;
using pgkit::test::count_where;
using pgkit::test::create_items;
using pgkit::test::eventually;
using pgkit::test::make_pool;
using pgkit::test::run_name;
using pgkit::test::runner_lock_holders;
using pgkit::test::tables_named;
using pgkit::test::test_pool_options;

backfill_spec spec_for(const std::string& name) {
    return {.name = name, .table = "items", .key = {"id"}, .set = "counter = counter + 1"};
}

backfill_options batches_of(std::size_t size) {
    backfill_options options;
    options.min_batch_size = size;
    options.max_batch_size = size;
    options.initial_batch_size = size;
    options.target_batch_duration = 20ms;
    return options;
}

}  // namespace

TEST_SUITE("backfill") {
    TEST_CASE("backfill: the runs table lives in runs_schema for every call that names the run") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        const pgkit::test::odd_schema runs{schema};
        auto pool = make_pool(test_pool_options(schema));
        const backfill_spec spec{.name = run_name(schema, "runs_schema"),
                                 .runs_schema = runs.name(),
                                 .table = "items",
                                 .key = {"id"},
                                 .set = "counter = counter + 1"};

        // Stop after three batches of 100.
        pgkit::backfill_cancel_token stop;
        auto options = batches_of(100);
        options.cancel = &stop;
        options.on_progress = [&stop](const pgkit::backfill_progress& p) {
            if (p.batches == 3) {
                stop.cancel();
            }
        };
        auto first = pgkit::run_backfill(*pool, spec, options);
        REQUIRE_MESSAGE(first, first.error().to_string());
        REQUIRE(first->status == backfill_status::cancelled);
        REQUIRE(first->rows_done == 300);
        CHECK(tables_named(conn, runs.name(), "pgkit_backfill_runs") == 1);
        CHECK(tables_named(conn, schema.name(), "pgkit_backfill_runs") == 0);

        // The dry run reads the cursor from the same table: 700 rows left, not 1000.
        auto plan = pgkit::plan_backfill(*pool, spec, batches_of(100));
        REQUIRE_MESSAGE(plan, plan.error().to_string());
        CHECK(plan->rows == 700);

        // Pause and resume through the spec reach the run; the same name in the default runs
        // table (search_path's schema, where there is no runs table) is another run.
        REQUIRE(pgkit::pause_backfill(*pool, spec));
        auto elsewhere = pgkit::pause_backfill(*pool, {.name = spec.name});
        REQUIRE_FALSE(elsewhere);
        CHECK(elsewhere.error().code() == errc::not_found);
        CHECK(tables_named(conn, schema.name(), "pgkit_backfill_runs") == 0);
        auto paused = pgkit::run_backfill(*pool, spec, batches_of(100));
        REQUIRE_MESSAGE(paused, paused.error().to_string());
        CHECK(paused->status == backfill_status::paused);
        CHECK(paused->rows_this_run == 0);

        REQUIRE(pgkit::resume_backfill(*pool, {.name = spec.name, .runs_schema = runs.name()}));
        auto rest = pgkit::run_backfill(*pool, spec, batches_of(100));
        REQUIRE_MESSAGE(rest, rest.error().to_string());
        CHECK(rest->status == backfill_status::done);
        CHECK(rest->rows_this_run == 700);
        CHECK(rest->rows_done == 1000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        CHECK(tables_named(conn, schema.name(), "pgkit_backfill_runs") == 0);
    }

    TEST_CASE("backfill: a runs_schema that does not exist or cannot be quoted is refused") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 100);
        auto pool = make_pool(test_pool_options(schema));
        for (const std::string& bad : {schema.name() + "_missing", std::string(64, 'r')}) {
            CAPTURE(bad);
            backfill_spec spec{.name = run_name(schema, "bad_runs"),
                               .runs_schema = bad,
                               .table = "items",
                               .key = {"id"},
                               .set = "counter = counter + 1"};
            auto run = pgkit::run_backfill(*pool, spec);
            REQUIRE_FALSE(run);
            CHECK(run.error().code() == errc::invalid_argument);
            CHECK(run.error().message().find("runs_schema") != std::string::npos);
            auto plan = pgkit::plan_backfill(*pool, spec);
            REQUIRE_FALSE(plan);
            CHECK(plan.error().code() == errc::invalid_argument);
            auto pause = pgkit::pause_backfill(*pool, spec);
            REQUIRE_FALSE(pause);
            CHECK(pause.error().code() == errc::invalid_argument);
            auto resume = pgkit::resume_backfill(*pool, spec);
            REQUIRE_FALSE(resume);
            CHECK(resume.error().code() == errc::invalid_argument);
        }
        // Nothing was written anywhere.
        CHECK(count_where(conn,
                          "SELECT count(*) FROM pg_tables WHERE tablename = "
                          "'pgkit_backfill_runs' AND schemaname LIKE '" +
                              schema.name() + "%'") == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0") == 0);
    }

    TEST_CASE(
        "backfill: the runner lock is pgkit's own: application advisory locks never block it") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "app_locks");

        // The application holds single-key locks on what a runner's lock could be confused with:
        // hashes of the run's name (with and without the prefix earlier versions used), and the
        // bigint with the same 64 bits as the runner's two keys.
        auto app = schema.connect();
        REQUIRE(app.execute(
            fmt::format("SELECT pg_advisory_lock(hashtext($2)), pg_advisory_lock(hashtext("
                        "'pgkit_backfill:' || $2)), pg_advisory_lock(({}::int8 << 32) | "
                        "(hashtext(quote_ident($1::text) || '.' || $2::text)::int8 & 4294967295))",
                        pgkit::backfill_lock_space),
            schema.name(), name));

        std::int64_t held_while_running = -1;
        auto options = batches_of(100);
        options.on_progress = [&](const pgkit::backfill_progress& p) {
            if (p.batches == 1) {
                held_while_running = runner_lock_holders(conn, schema.name(), name);
            }
        };
        auto report = pgkit::run_backfill(*pool, spec_for(name), options);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        // The runner held its lock in the two-key space, under backfill_lock_space, and let go.
        CHECK(held_while_running == 1);
        CHECK(runner_lock_holders(conn, schema.name(), name) == 0);
    }

    TEST_CASE("backfill: runs of one name in two runs tables are two runs with two locks") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000, "items");
        create_items(conn, 1000, "others");
        const pgkit::test::odd_schema runs{schema};
        const std::string name = run_name(schema, "twice");
        backfill_spec in_runs = spec_for(name);
        in_runs.runs_schema = runs.name();
        backfill_spec in_default = spec_for(name);
        in_default.table = "others";

        // The first runner stays in its pause after one batch until cancelled.
        auto pool = make_pool(test_pool_options(schema));
        pgkit::backfill_cancel_token cancel;
        auto options = batches_of(100);
        options.pause_between_batches = 30s;
        options.cancel = &cancel;
        std::atomic<int> batches{0};
        options.on_progress = [&batches](const pgkit::backfill_progress&) { ++batches; };
        pgkit::result<pgkit::backfill_report> first = pgkit::make_error(errc::internal, "not run");
        std::thread runner{[&] { first = pgkit::run_backfill(*pool, in_runs, options); }};
        const bool started = eventually([&] { return batches.load() == 1; });
        CHECK(started);
        CHECK(runner_lock_holders(conn, runs.name(), name) == 1);
        CHECK(runner_lock_holders(conn, schema.name(), name) == 0);

        // The same name in the default runs table runs alongside it.
        auto other_pool = make_pool(test_pool_options(schema));
        auto second = pgkit::run_backfill(*other_pool, in_default, batches_of(100));
        cancel.cancel();
        runner.join();
        REQUIRE_MESSAGE(second, second.error().to_string());
        CHECK(second->status == backfill_status::done);
        CHECK(second->rows_done == 1000);
        REQUIRE_MESSAGE(first, first.error().to_string());
        CHECK(first->status == backfill_status::cancelled);
        CHECK(first->rows_done == 100);
        CHECK(count_where(conn, "SELECT count(*) FROM others WHERE counter <> 1") == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter = 1") == 100);
    }
}
