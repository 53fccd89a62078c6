// The runs table and the calls that name a run: where the runs table lives (runs_schema), and
// that every call about a run reads and writes the same row.
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "integration/backfill_test_support.hpp"
#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

using namespace std::chrono_literals;
using pgkit::backfill_options;
using pgkit::backfill_spec;
using pgkit::backfill_status;
using pgkit::errc;
using pgkit::test::count_where;
using pgkit::test::create_items;
using pgkit::test::make_pool;
using pgkit::test::run_name;
using pgkit::test::tables_named;
using pgkit::test::test_pool_options;

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
}
