// Controlling runs from another process (another pool stands for it): cancel_backfill, persisted
// in the runs table and seen by the running runner between batches, and list_backfills, the
// state of every run of a runs table.
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "integration/backfill_test_support.hpp"
#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using pgkit::backfill_options;
using pgkit::backfill_spec;
using pgkit::backfill_status;
using pgkit::errc;
using pgkit::test::count_where;
using pgkit::test::counter_spec;
using pgkit::test::create_items;
using pgkit::test::eventually;
using pgkit::test::fixed_batches;
using pgkit::test::make_pool;
using pgkit::test::run_name;
using pgkit::test::run_status;
using pgkit::test::test_pool_options;

backfill_options small_batches() {
    backfill_options options = fixed_batches(100);
    options.pause_between_batches = 20ms;
    return options;
}

}  // namespace

TEST_SUITE("backfill") {
    TEST_CASE("backfill: cancel_backfill from another pool stops the runner after its batch") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 20'000);
        const std::string name = run_name(schema, "cancel");
        auto runner_pool = make_pool(test_pool_options(schema));
        auto other_pool = make_pool(test_pool_options(schema));

        std::atomic<int> batches{0};
        std::atomic<bool> finished{false};
        pgkit::backfill_cancel_token safety;  // only so that a failing test cannot hang
        auto options = small_batches();
        options.cancel = &safety;
        options.on_progress = [&](const pgkit::backfill_progress&) { ++batches; };
        pgkit::result<pgkit::backfill_report> report = pgkit::make_error(errc::internal, "not run");
        std::thread runner{[&] {
            report = pgkit::run_backfill(*runner_pool, counter_spec(name), options);
            finished = true;
        }};
        REQUIRE(eventually([&] { return batches.load() >= 2; }));

        auto cancelled = pgkit::cancel_backfill(*other_pool, {.name = name});
        CHECK_MESSAGE(cancelled, cancelled.error().to_string());
        const bool stopped = eventually([&] { return finished.load(); });
        safety.cancel();
        runner.join();
        REQUIRE(stopped);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::cancelled);
        CHECK(run_status(conn, name) == "cancelled");

        // The runner has returned: the rows it did are exactly those recorded, and no more.
        const auto done = count_where(conn, "SELECT count(*) FROM items WHERE counter = 1");
        CHECK(done == static_cast<std::int64_t>(report->rows_done));
        CHECK(done >= 200);
        CHECK(done < 20'000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter > 1") == 0);

        auto state = pgkit::inspect_backfill(*other_pool, {.name = name});
        REQUIRE_MESSAGE(state, state.error().to_string());
        CHECK(state->status == backfill_status::cancelled);
        CHECK_FALSE(state->runner_pid.has_value());

        // Not sticky: the next run resumes from the cursor and finishes, each row once.
        auto rest = small_batches();
        rest.pause_between_batches = 0ms;
        rest.max_batch_size = 5'000;
        auto resumed = pgkit::run_backfill(*runner_pool, counter_spec(name), rest);
        REQUIRE_MESSAGE(resumed, resumed.error().to_string());
        CHECK(resumed->status == backfill_status::done);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter = 1") == 20'000);

        // A done run cannot be cancelled; nor can a run that does not exist.
        auto again = pgkit::cancel_backfill(*other_pool, {.name = name});
        REQUIRE_FALSE(again);
        CHECK(again.error().code() == errc::not_found);
        CHECK(again.error().message().find("not done") != std::string::npos);
        auto nobody = pgkit::cancel_backfill(*other_pool, {.name = name + "-nobody"});
        REQUIRE_FALSE(nobody);
        CHECK(nobody.error().code() == errc::not_found);
    }

    TEST_CASE("backfill: cancel_backfill cancels a paused run and the next run resumes it") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1'000);
        const std::string name = run_name(schema, "cancel-paused");
        auto pool = make_pool(test_pool_options(schema));
        // A first batch, then paused from "another process" before the second.
        auto options = small_batches();
        options.on_progress = [&](const pgkit::backfill_progress&) {
            REQUIRE(pgkit::pause_backfill(*pool, {.name = name}));
        };
        auto first = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE_MESSAGE(first, first.error().to_string());
        CHECK(first->status == backfill_status::paused);
        CHECK(first->rows_done == 100);

        REQUIRE(pgkit::cancel_backfill(*pool, {.name = name}));
        CHECK(run_status(conn, name) == "cancelled");
        // resume_backfill only resumes a paused run.
        auto resume = pgkit::resume_backfill(*pool, {.name = name});
        REQUIRE_FALSE(resume);
        CHECK(resume.error().code() == errc::not_found);

        auto rest = pgkit::run_backfill(*pool, counter_spec(name), small_batches());
        REQUIRE_MESSAGE(rest, rest.error().to_string());
        CHECK(rest->status == backfill_status::done);
        CHECK(rest->rows_done == 1'000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter = 1") == 1'000);
    }

    TEST_CASE("backfill: list_backfills reads every run of a runs table") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 500);
        auto pool = make_pool(test_pool_options(schema));

        // Before the runs table exists: no runs, nothing created.
        auto none = pgkit::list_backfills(*pool);
        REQUIRE_MESSAGE(none, none.error().to_string());
        CHECK(none->empty());
        CHECK(pgkit::test::tables_named(conn, schema.name(), "pgkit_backfill_runs") == 0);

        const std::string b_name = run_name(schema, "b-done");
        const std::string a_name = run_name(schema, "a-cancelled");
        REQUIRE(pgkit::run_backfill(*pool, counter_spec(b_name)));
        // a-cancelled: one batch, then cancelled in process.
        pgkit::backfill_cancel_token stop;
        auto options = small_batches();
        options.cancel = &stop;
        options.on_progress = [&](const pgkit::backfill_progress&) { stop.cancel(); };
        REQUIRE(pgkit::run_backfill(*pool, counter_spec(a_name), options));

        auto all = pgkit::list_backfills(*pool);
        REQUIRE_MESSAGE(all, all.error().to_string());
        REQUIRE(all->size() == 2);
        CHECK((*all)[0].name == a_name);  // by name
        CHECK((*all)[0].status == backfill_status::cancelled);
        CHECK((*all)[0].rows_done == 100);
        CHECK((*all)[0].last_key == std::vector<std::string>{"100"});
        CHECK((*all)[1].name == b_name);
        CHECK((*all)[1].status == backfill_status::done);
        CHECK((*all)[1].rows_done == 500);
        CHECK((*all)[1].table == "items");
        CHECK((*all)[1].key == std::vector<std::string>{"id"});
        CHECK((*all)[1].finished_at.has_value());
        CHECK_FALSE((*all)[1].runner_pid.has_value());

        // The same through inspect_backfill, which names the run too.
        auto one = pgkit::inspect_backfill(*pool, {.name = b_name});
        REQUIRE_MESSAGE(one, one.error().to_string());
        CHECK(one->name == b_name);
        CHECK(one->rows_done == 500);

        // Another schema's runs table is another list; a schema that does not exist is refused.
        auto elsewhere = pgkit::list_backfills(*pool, "pg_catalog");
        REQUIRE_MESSAGE(elsewhere, elsewhere.error().to_string());
        CHECK(elsewhere->empty());
        auto missing = pgkit::list_backfills(*pool, "pgkit_no_such_schema");
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code() == errc::invalid_argument);
    }
}
