// The runs table and the calls that name a run: reading a run's state (inspect_backfill),
// forgetting it (reset_backfill), where the runs table lives (runs_schema) and that every call
// about a run reads and writes the same row, and the runner lock that keeps one runner per run.
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
#include <vector>

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
using pgkit::test::runner_lock_holders;
using pgkit::test::tables_named;
using pgkit::test::test_pool_options;

/// A runner on its own thread that does one batch, then waits in its pause between batches until
/// stopped (cancelled); the pool it runs on is its own.
class parked_runner {
  public:
    parked_runner(const pgkit::test::scratch_schema& schema, backfill_spec spec)
        : pool_options_(test_pool_options(schema)), pool_(make_pool(pool_options_)) {
        auto options = fixed_batches(100);
        options.pause_between_batches = 30s;
        options.cancel = &cancel_;
        options.on_progress = [this](const pgkit::backfill_progress&) { ++batches_; };
        thread_ = std::thread{[this, spec = std::move(spec), options] {
            report_ = pgkit::run_backfill(*pool_, spec, options);
        }};
        started_ = eventually([this] { return batches_.load() >= 1; });
    }
    ~parked_runner() { stop(); }
    parked_runner(const parked_runner&) = delete;
    parked_runner& operator=(const parked_runner&) = delete;

    /// Whether the first batch committed (within the default bound).
    [[nodiscard]] bool started() const noexcept { return started_; }
    /// The runner's sessions' application_name.
    [[nodiscard]] const std::string& application_name() const noexcept {
        return pool_options_.name;
    }
    /// Cancels the run and waits for the runner; its report.
    const pgkit::result<pgkit::backfill_report>& stop() {
        cancel_.cancel();
        if (thread_.joinable()) {
            thread_.join();
        }
        return report_;
    }

  private:
    pgkit::pool_options pool_options_;
    std::shared_ptr<pgkit::pool> pool_;
    pgkit::backfill_cancel_token cancel_;
    std::atomic<int> batches_{0};
    pgkit::result<pgkit::backfill_report> report_ = pgkit::make_error(errc::internal, "not run");
    std::thread thread_;
    bool started_ = false;
};

}  // namespace

TEST_SUITE("backfill") {
    TEST_CASE(
        "backfill: a run that never ran reads not_started, before the runs table exists too") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 300);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "never");

        auto check_never_ran = [&] {
            auto state = pgkit::inspect_backfill(*pool, {.name = name});
            REQUIRE_MESSAGE(state, state.error().to_string());
            CHECK(state->status == backfill_status::not_started);
            CHECK(state->rows_done == 0);
            CHECK(state->batches == 0);
            CHECK(state->last_key.empty());
            CHECK(state->table.empty());
            CHECK_FALSE(state->started_at.has_value());
            CHECK_FALSE(state->finished_at.has_value());
            CHECK(state->last_error.empty());
            CHECK_FALSE(state->runner_pid.has_value());
        };
        // No runs table yet: a value, not undefined_table, and nothing is created.
        check_never_ran();
        auto forgot = pgkit::reset_backfill(*pool, {.name = name});
        REQUIRE_MESSAGE(forgot, forgot.error().to_string());
        CHECK_FALSE(*forgot);
        auto paused = pgkit::pause_backfill(*pool, {.name = name});
        REQUIRE_FALSE(paused);
        CHECK(paused.error().code() == errc::not_found);
        CHECK(tables_named(conn, schema.name(), "pgkit_backfill_runs") == 0);

        // The runs table exists (another run made it), without a row for this run.
        auto other = pgkit::run_backfill(*pool, counter_spec(run_name(schema, "other")));
        REQUIRE_MESSAGE(other, other.error().to_string());
        REQUIRE(tables_named(conn, schema.name(), "pgkit_backfill_runs") == 1);
        check_never_ran();
        CHECK(pgkit::to_string(backfill_status::not_started) == "not_started");
    }

    TEST_CASE("backfill: inspect reports progress, timestamps, the last error and the runner") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        auto pool = make_pool(test_pool_options(schema));
        const backfill_spec spec = counter_spec(run_name(schema, "inspect"));
        const auto before = std::chrono::system_clock::now() - 1min;

        // A runner working on it now: running, one batch of 100, its session named.
        {
            parked_runner runner{schema, spec};
            REQUIRE(runner.started());
            auto state = pgkit::inspect_backfill(*pool, spec);
            REQUIRE_MESSAGE(state, state.error().to_string());
            CHECK(state->status == backfill_status::running);
            CHECK(state->table == "items");
            CHECK(state->key == std::vector<std::string>{"id"});
            CHECK(state->rows_done == 100);
            CHECK(state->batches == 1);
            CHECK(state->last_key == std::vector<std::string>{"100"});
            CHECK(state->last_batch_size == 100);
            REQUIRE(state->started_at.has_value());
            REQUIRE(state->updated_at.has_value());
            CHECK(*state->started_at > before);
            CHECK(*state->updated_at >= *state->started_at);
            CHECK_FALSE(state->finished_at.has_value());
            REQUIRE(state->runner_pid.has_value());
            CHECK(count_where(conn, fmt::format("SELECT count(*) FROM pg_stat_activity WHERE pid "
                                                "= {} AND application_name = '{}'",
                                                *state->runner_pid, runner.application_name())) ==
                  1);
            auto stopped = runner.stop();
            REQUIRE_MESSAGE(stopped, stopped.error().to_string());
            CHECK(stopped->status == backfill_status::cancelled);
        }
        auto cancelled = pgkit::inspect_backfill(*pool, spec);
        REQUIRE_MESSAGE(cancelled, cancelled.error().to_string());
        CHECK(cancelled->status == backfill_status::cancelled);
        CHECK(cancelled->rows_done == 100);
        CHECK_FALSE(cancelled->runner_pid.has_value());

        // A failed run keeps its error.
        auto holder = schema.connect();
        REQUIRE(holder.execute_script("BEGIN; SELECT * FROM items WHERE id = 150 FOR UPDATE"));
        auto options = fixed_batches(100);
        options.lock_timeout = 50ms;
        options.batch_timeout_factor = 0;
        options.retry.max_attempts = 2;
        options.retry.initial_backoff = 1ms;
        auto failed_run = pgkit::run_backfill(*pool, spec, options);
        REQUIRE(holder.execute_script("ROLLBACK"));
        REQUIRE_FALSE(failed_run);
        auto failed = pgkit::inspect_backfill(*pool, spec);
        REQUIRE_MESSAGE(failed, failed.error().to_string());
        CHECK(failed->status == backfill_status::failed);
        CHECK(failed->last_error.find("lock_timeout") != std::string::npos);
        CHECK(failed->last_error.find("stopped after key (100)") != std::string::npos);
        CHECK(failed->rows_done == 100);

        // Done: finished, no error left.
        auto done_run = pgkit::run_backfill(*pool, spec, fixed_batches(100));
        REQUIRE_MESSAGE(done_run, done_run.error().to_string());
        auto done = pgkit::inspect_backfill(*pool, spec);
        REQUIRE_MESSAGE(done, done.error().to_string());
        CHECK(done->status == backfill_status::done);
        CHECK(done->rows_done == 1000);
        CHECK(done->batches == 10);
        CHECK(done->last_key == std::vector<std::string>{"1000"});
        CHECK(done->last_error.empty());
        REQUIRE(done->finished_at.has_value());
        CHECK(*done->finished_at >= *done->started_at);
        CHECK_FALSE(done->runner_pid.has_value());
    }

    TEST_CASE("backfill: reset forgets a run, and is refused while a runner holds it") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        auto pool = make_pool(test_pool_options(schema));
        const backfill_spec spec = counter_spec(run_name(schema, "reset"));

        // A runner holds the run: reset refuses and the row stays as it was.
        {
            parked_runner runner{schema, spec};
            REQUIRE(runner.started());
            auto refused = pgkit::reset_backfill(*pool, spec);
            REQUIRE_FALSE(refused);
            CHECK(refused.error().code() == errc::already_running);
            CHECK(refused.error().message().find("before resetting") != std::string::npos);
            auto state = pgkit::inspect_backfill(*pool, spec);
            REQUIRE_MESSAGE(state, state.error().to_string());
            CHECK(state->status == backfill_status::running);
            CHECK(state->rows_done == 100);
            REQUIRE(runner.stop());
        }

        // Finish it; a second run has nothing to do.
        auto finished = pgkit::run_backfill(*pool, spec, fixed_batches(100));
        REQUIRE_MESSAGE(finished, finished.error().to_string());
        CHECK(finished->status == backfill_status::done);
        CHECK(finished->rows_this_run == 900);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);

        // Reset: forgotten; the next run starts from the first key.
        auto forgot = pgkit::reset_backfill(*pool, spec);
        REQUIRE_MESSAGE(forgot, forgot.error().to_string());
        CHECK(*forgot);
        auto state = pgkit::inspect_backfill(*pool, spec);
        REQUIRE_MESSAGE(state, state.error().to_string());
        CHECK(state->status == backfill_status::not_started);
        auto again = pgkit::reset_backfill(*pool, spec);
        REQUIRE_MESSAGE(again, again.error().to_string());
        CHECK_FALSE(*again);
        auto rerun = pgkit::run_backfill(*pool, spec, fixed_batches(100));
        REQUIRE_MESSAGE(rerun, rerun.error().to_string());
        CHECK(rerun->status == backfill_status::done);
        CHECK(rerun->rows_this_run == 1000);
        CHECK(rerun->rows_done == 1000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 2") == 0);
        // The lock reset took is gone with it.
        CHECK(runner_lock_holders(conn, schema.name(), spec.name) == 0);
    }

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
        auto options = fixed_batches(100);
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
        auto plan = pgkit::plan_backfill(*pool, spec, fixed_batches(100));
        REQUIRE_MESSAGE(plan, plan.error().to_string());
        CHECK(plan->rows == 700);

        // Pause and resume through the spec reach the run; the same name in the default runs
        // table (search_path's schema, where there is no runs table) is another run.
        REQUIRE(pgkit::pause_backfill(*pool, spec));
        auto elsewhere = pgkit::pause_backfill(*pool, {.name = spec.name});
        REQUIRE_FALSE(elsewhere);
        CHECK(elsewhere.error().code() == errc::not_found);
        CHECK(tables_named(conn, schema.name(), "pgkit_backfill_runs") == 0);
        auto paused = pgkit::run_backfill(*pool, spec, fixed_batches(100));
        REQUIRE_MESSAGE(paused, paused.error().to_string());
        CHECK(paused->status == backfill_status::paused);
        CHECK(paused->rows_this_run == 0);

        // Inspect finds it through the spec or an id naming the same runs table; the default runs
        // table has no such run.
        auto state = pgkit::inspect_backfill(*pool, spec);
        REQUIRE_MESSAGE(state, state.error().to_string());
        CHECK(state->status == backfill_status::paused);
        CHECK(state->rows_done == 300);
        auto same = pgkit::inspect_backfill(*pool, {.name = spec.name, .runs_schema = runs.name()});
        REQUIRE_MESSAGE(same, same.error().to_string());
        CHECK(same->rows_done == 300);
        auto other = pgkit::inspect_backfill(*pool, {.name = spec.name});
        REQUIRE_MESSAGE(other, other.error().to_string());
        CHECK(other->status == backfill_status::not_started);

        REQUIRE(pgkit::resume_backfill(*pool, {.name = spec.name, .runs_schema = runs.name()}));
        auto rest = pgkit::run_backfill(*pool, spec, fixed_batches(100));
        REQUIRE_MESSAGE(rest, rest.error().to_string());
        CHECK(rest->status == backfill_status::done);
        CHECK(rest->rows_this_run == 700);
        CHECK(rest->rows_done == 1000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);

        // Reset through the spec forgets the row in the odd schema's table.
        auto forgot = pgkit::reset_backfill(*pool, spec);
        REQUIRE_MESSAGE(forgot, forgot.error().to_string());
        CHECK(*forgot);
        CHECK(count_where(conn, fmt::format("SELECT count(*) FROM {}.pgkit_backfill_runs",
                                            *pgkit::connection::quote_identifier(runs.name()))) ==
              0);
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
            auto state = pgkit::inspect_backfill(*pool, spec);
            REQUIRE_FALSE(state);
            CHECK(state.error().code() == errc::invalid_argument);
            auto reset = pgkit::reset_backfill(*pool, spec);
            REQUIRE_FALSE(reset);
            CHECK(reset.error().code() == errc::invalid_argument);
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
        auto options = fixed_batches(100);
        options.on_progress = [&](const pgkit::backfill_progress& p) {
            if (p.batches == 1) {
                held_while_running = runner_lock_holders(conn, schema.name(), name);
            }
        };
        auto report = pgkit::run_backfill(*pool, counter_spec(name), options);
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
        backfill_spec in_runs = counter_spec(name);
        in_runs.runs_schema = runs.name();
        backfill_spec in_default = counter_spec(name);
        in_default.table = "others";

        // A runner of the run in the odd schema's runs table.
        parked_runner runner{schema, in_runs};
        REQUIRE(runner.started());
        CHECK(runner_lock_holders(conn, runs.name(), name) == 1);
        CHECK(runner_lock_holders(conn, schema.name(), name) == 0);

        // The same name in the default runs table runs alongside it.
        auto pool = make_pool(test_pool_options(schema));
        auto second = pgkit::run_backfill(*pool, in_default, fixed_batches(100));
        const auto& first = runner.stop();
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
