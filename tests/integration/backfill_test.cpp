// Batched backfills against the real server: exactly-once processing, resume, validation, lock
// contention, the single-runner lock, cancellation, pause/resume, concurrent writers, dry runs.
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
#include <random>
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
using pgkit::test::make_pool;
using pgkit::test::run_name;
using pgkit::test::run_rows_done;
using pgkit::test::run_status;
using pgkit::test::test_pool_options;
using steady = std::chrono::steady_clock;

backfill_options small_batches(std::size_t size = 200) {
    backfill_options options;
    options.min_batch_size = 10;
    options.max_batch_size = size * 4;
    options.initial_batch_size = size;
    options.target_batch_duration = 20ms;
    return options;
}

}  // namespace

TEST_SUITE("backfill") {
    TEST_CASE("backfill: SQL work processes every row exactly once and the run ends done") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 5000);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "once");

        std::vector<pgkit::backfill_progress> seen;
        auto options = small_batches(300);
        options.on_progress = [&seen](const pgkit::backfill_progress& p) { seen.push_back(p); };
        auto report = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        CHECK(report->rows_done == 5000);
        CHECK(report->rows_this_run == 5000);
        CHECK(report->retries == 0);
        CHECK(report->last_key == std::vector<std::string>{"5000"});
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        CHECK(run_status(conn, name) == "done");

        REQUIRE_FALSE(seen.empty());
        CHECK(seen.back().rows_done == 5000);
        CHECK(seen.back().estimated_total >= 5000);
        for (std::size_t i = 1; i < seen.size(); ++i) {
            CHECK(seen[i].rows_done > seen[i - 1].rows_done);
            CHECK(seen[i].batch_size >= options.min_batch_size);
            CHECK(seen[i].batch_size <= options.max_batch_size);
        }

        // A finished run does nothing when started again.
        auto again = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE(again);
        CHECK(again->status == backfill_status::done);
        CHECK(again->rows_this_run == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: a resumed run's total is the analysed row count, not the grown table") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 20000);
        REQUIRE(conn.execute("VACUUM ANALYZE items"));
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "estimate");

        // Stop at 40 %: the updated rows leave dead versions behind, so the table now has
        // about 1.4x the pages it had when it was analysed.
        pgkit::backfill_cancel_token stop;
        auto options = small_batches(1000);
        options.cancel = &stop;
        options.on_progress = [&stop](const pgkit::backfill_progress& p) {
            if (p.rows_done >= 8000) {
                stop.cancel();
            }
        };
        auto first = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE_MESSAGE(first, first.error().to_string());
        REQUIRE(first->status == backfill_status::cancelled);

        pgkit::backfill_cancel_token never;
        options.cancel = &never;
        std::vector<pgkit::backfill_progress> seen;
        options.on_progress = [&seen](const pgkit::backfill_progress& p) { seen.push_back(p); };
        auto second = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE_MESSAGE(second, second.error().to_string());
        CHECK(second->status == backfill_status::done);
        REQUIRE_FALSE(seen.empty());
        for (const auto& p : seen) {
            // VACUUM ANALYZE counted 20000 live rows; autovacuum may re-count them, never the
            // dead versions.
            CHECK(p.estimated_total >= p.rows_done);
            CHECK(p.estimated_total <= 20000);
        }
        CHECK(seen.back().rows_done == 20000);
    }

    TEST_CASE("backfill: composite keys with callback work") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE TABLE pairs (a int NOT NULL, b text NOT NULL, counter int NOT NULL DEFAULT 0, "
            "PRIMARY KEY (a, b));"
            "INSERT INTO pairs (a, b) SELECT g / 7, 'k' || (g % 7) FROM generate_series(0, 2099) "
            "g"));
        auto pool = make_pool(test_pool_options(schema));
        backfill_spec spec{.name = run_name(schema, "pairs"), .table = "pairs", .key = {"a", "b"}};
        std::atomic<int> calls{0};
        spec.work = [&calls](const pgkit::backfill_batch& batch,
                             pgkit::transaction& tx) -> pgkit::result<std::uint64_t> {
            ++calls;
            pgkit::parameters params;
            for (const std::string& v : batch.range_values()) {
                params.add(v);
            }
            auto updated = tx.execute_params(
                "UPDATE pairs SET counter = counter + 1 WHERE " + batch.range_condition(1), params);
            if (!updated) {
                return tl::unexpected(updated.error());
            }
            return updated->affected_rows();
        };
        auto options = small_batches(64);
        auto report = pgkit::run_backfill(*pool, spec, options);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        CHECK(report->rows_done == 2100);
        CHECK(calls.load() >= 2100 / 256);
        CHECK(count_where(conn, "SELECT count(*) FROM pairs WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: predicate and bound parameters limit the work to rows that need it") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 3000);
        REQUIRE(conn.execute_script("UPDATE items SET note = 'old' WHERE id % 3 = 0"));
        auto pool = make_pool(test_pool_options(schema));
        backfill_spec spec{.name = run_name(schema, "pred"),
                           .table = "items",
                           .key = {"id"},
                           .set = "note = $1, counter = counter + 1",
                           .predicate = "note IS NULL",
                           .parameters = {"filled"}};

        auto plan = pgkit::plan_backfill(*pool, spec, small_batches(500));
        REQUIRE_MESSAGE(plan, plan.error().to_string());
        CHECK(plan->rows == 2000);
        CHECK(plan->batches == 6);
        CHECK_FALSE(plan->estimated_duration.has_value());  // no rate known yet
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0") == 0);

        auto report = pgkit::run_backfill(*pool, spec, small_batches(500));
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->rows_this_run == 2000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE note = 'filled'") == 2000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE note = 'old' AND counter = 0") ==
              1000);
        auto after = pgkit::plan_backfill(*pool, spec, small_batches(500));
        REQUIRE(after);
        CHECK(after->rows == 0);
    }

    TEST_CASE("backfill: a spec that cannot work is rejected before any write") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 100);
        REQUIRE(conn.execute_script(
            "CREATE TABLE loose (id bigint NOT NULL, counter int NOT NULL DEFAULT 0);"
            "CREATE INDEX ON loose (id);"
            "CREATE TABLE maybe (id bigint UNIQUE, counter int NOT NULL DEFAULT 0);"
            "CREATE TABLE pair (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a, b))"));
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "bad");
        auto rejected = [&](backfill_spec spec, backfill_options options = {}) {
            spec.name = spec.name.empty() ? name : spec.name;
            auto report = pgkit::run_backfill(*pool, spec, options);
            REQUIRE_FALSE(report);
            auto plan = pgkit::plan_backfill(*pool, spec, options);
            REQUIRE_FALSE(plan);
            CHECK(plan.error().code() == report.error().code());
            return report.error();
        };
        const std::string set = "counter = counter + 1";

        CHECK(rejected({.table = "nope", .key = {"id"}, .set = set}).code() ==
              errc::undefined_table);
        CHECK(rejected({.table = "items", .key = {"nope"}, .set = set}).code() ==
              errc::undefined_column);
        auto not_unique = rejected({.table = "loose", .key = {"id"}, .set = set});
        CHECK(not_unique.code() == errc::invalid_argument);
        CHECK(not_unique.message().find("unique index") != std::string::npos);
        auto nullable = rejected({.table = "maybe", .key = {"id"}, .set = set});
        CHECK(nullable.code() == errc::invalid_argument);
        CHECK(nullable.message().find("nullable") != std::string::npos);
        CHECK(rejected({.table = "pair", .key = {"b", "a"}, .set = "a = a"}).code() ==
              errc::invalid_argument);
        CHECK(rejected({.table = "pair", .key = {"a"}, .set = "a = a"}).code() ==
              errc::invalid_argument);
        CHECK(rejected({.table = "items", .key = {"id"}, .set = "nope = 1"}).code() ==
              errc::undefined_column);
        CHECK(rejected({.table = "items", .key = {"id"}, .set = "counter = ("}).code() ==
              errc::syntax_error);
        CHECK(rejected({.table = "items", .key = {"id"}, .set = set, .predicate = "nope"}).code() ==
              errc::undefined_column);
        CHECK(rejected({.table = "items", .key = {"id"}}).code() == errc::invalid_argument);
        CHECK(rejected({.table = "items", .key = {}, .set = set}).code() == errc::invalid_argument);
        CHECK(rejected({.table = "", .key = {"id"}, .set = set}).code() == errc::invalid_argument);
        CHECK(rejected({.table = "items", .key = {"id", "id"}, .set = set}).code() ==
              errc::invalid_argument);
        backfill_options bounds;
        bounds.min_batch_size = 10;
        bounds.max_batch_size = 5;
        CHECK(rejected({.table = "items", .key = {"id"}, .set = set}, bounds).code() ==
              errc::invalid_argument);
        backfill_options guard;
        guard.batch_timeout_factor = 0.5;  // a guard below the target: refused
        CHECK(rejected({.table = "items", .key = {"id"}, .set = set}, guard).code() ==
              errc::invalid_argument);
        backfill_options no_attempt;
        no_attempt.retry.max_attempts = 0;
        auto retry = rejected({.table = "items", .key = {"id"}, .set = set}, no_attempt);
        CHECK(retry.code() == errc::invalid_argument);
        CHECK(retry.message().find("max_attempts") != std::string::npos);

        // Nothing was written: no runs table, no counter touched.
        CHECK(count_where(conn, fmt::format("SELECT count(*) FROM pg_tables WHERE schemaname = "
                                            "'{}' AND tablename = 'pgkit_backfill_runs'",
                                            schema.name())) == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0") == 0);

        // A run cannot be continued on another table or key.
        REQUIRE(pgkit::run_backfill(*pool, counter_spec(name), small_batches()));
        auto moved = pgkit::run_backfill(
            *pool, {.name = name, .table = "pair", .key = {"a", "b"}, .set = "a = a"});
        REQUIRE_FALSE(moved);
        CHECK(moved.error().code() == errc::invalid_argument);
    }

    TEST_CASE("backfill: a second runner with the same name refuses with already_running") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "single");

        // Another session holds the run's lock, with the keys docs/backfill.md gives (as a runner
        // in another process would).
        auto other = schema.connect();
        const std::string keys = pgkit::test::runner_lock_keys();
        REQUIRE(
            other.execute(fmt::format("SELECT pg_advisory_lock({})", keys), schema.name(), name));
        auto refused = pgkit::run_backfill(*pool, counter_spec(name), small_batches());
        REQUIRE_FALSE(refused);
        // Not lock_timeout: nothing waited for a lock, and running the same call again at once
        // is not worth it.
        CHECK(refused.error().code() == errc::already_running);
        CHECK(refused.error().sqlstate() == "");
        CHECK_FALSE(refused.error().is_retryable());
        CHECK(refused.error().message().find("already running") != std::string::npos);
        CHECK(refused.error().message().find(
                  fmt::format("server process {}", other.backend_pid())) != std::string::npos);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0") == 0);

        // A live runner in this process: a second one refuses while it runs.
        REQUIRE(
            other.execute(fmt::format("SELECT pg_advisory_unlock({})", keys), schema.name(), name));
        pgkit::backfill_cancel_token cancel;
        auto options = small_batches(50);
        options.pause_between_batches = 20ms;
        options.cancel = &cancel;
        pgkit::result<pgkit::backfill_report> first = pgkit::make_error(errc::internal, "not run");
        std::thread runner{
            [&] { first = pgkit::run_backfill(*pool, counter_spec(name), options); }};
        CHECK(eventually([&] { return run_rows_done(conn, name) > 0; }));
        auto second_pool = make_pool(test_pool_options(schema));
        auto second = pgkit::run_backfill(*second_pool, counter_spec(name), options);
        cancel.cancel();
        runner.join();
        REQUIRE_FALSE(second);
        CHECK(second.error().code() == errc::already_running);
        REQUIRE(first);
        CHECK(first->status == backfill_status::cancelled);

        // After the first runner let go, the run continues and finishes exactly once.
        auto rest = pgkit::run_backfill(*pool, counter_spec(name), small_batches());
        REQUIRE(rest);
        CHECK(rest->status == backfill_status::done);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    /// What a run did while another transaction held a row lock inside its first batch.
    struct locked_run {
        bool progressed = false;  ///< rows below the locked one were done while it was held
        pgkit::result<pgkit::backfill_report> report = pgkit::make_error(errc::internal, "not run");
        std::int64_t rows_not_once = -1;  ///< rows whose counter is not exactly 1 afterwards
    };

    /// Runs the counter backfill over 2000 rows in batches of 200 while another transaction holds
    /// row 150 FOR UPDATE, releases the lock once 100 rows are done (or after 20 s), and waits
    /// for the run to end.
    locked_run run_against_held_lock(std::string_view label, pgkit::backfill_options options) {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 2000);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, label);
        auto holder = schema.connect();
        REQUIRE(holder.execute_script("BEGIN; SELECT * FROM items WHERE id = 150 FOR UPDATE"));
        locked_run out;
        std::thread runner{
            [&] { out.report = pgkit::run_backfill(*pool, counter_spec(name), options); }};
        out.progressed = eventually([&] { return run_rows_done(conn, name) >= 100; }, 20s);
        REQUIRE(holder.execute_script("COMMIT"));
        runner.join();
        out.rows_not_once = count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1");
        return out;
    }

    TEST_CASE("backfill: a batch that hits lock_timeout is retried smaller and the run completes") {
        auto options = small_batches(200);
        options.lock_timeout = 100ms;
        options.retry.initial_backoff = 10ms;
        options.retry.max_attempts = 21;
        options.batch_timeout_factor = 0;  // no time guard: the lock wait ends by lock_timeout
        // Rows below the locked one get done by smaller batches while the lock is held.
        const auto run = run_against_held_lock("locked", options);
        CHECK(run.progressed);
        REQUIRE_MESSAGE(run.report, run.report.error().to_string());
        CHECK(run.report->status == backfill_status::done);
        CHECK(run.report->retries >= 1);
        CHECK(run.report->rows_done == 2000);
        CHECK(run.rows_not_once == 0);
    }

    TEST_CASE("backfill: the time guard cancels a batch that runs long and retries it smaller") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 2000);
        auto pool = make_pool(test_pool_options(schema));
        backfill_spec spec{.name = run_name(schema, "guard"), .table = "items", .key = {"id"}};
        std::atomic<bool> stalled{false};
        std::atomic<int> calls{0};
        spec.work = [&](const pgkit::backfill_batch& batch,
                        pgkit::transaction& tx) -> pgkit::result<std::uint64_t> {
            ++calls;
            pgkit::parameters params;
            for (const std::string& v : batch.range_values()) {
                params.add(v);
            }
            auto updated = tx.execute_params(
                "UPDATE items SET counter = counter + 1 WHERE " + batch.range_condition(1), params);
            if (!updated) {
                return tl::unexpected(updated.error());
            }
            if (!stalled.exchange(true)) {
                // Once: the batch stalls, as behind a checkpoint or a lock, far past its target.
                if (auto slept = tx.execute_script("SELECT pg_sleep(5)"); !slept) {
                    return tl::unexpected(slept.error());
                }
            }
            return updated->affected_rows();
        };
        auto options = small_batches(400);
        options.target_batch_duration = 50ms;  // the guard: 1.3 x 50 ms = 65 ms
        options.retry.initial_backoff = 1ms;
        options.retry.max_attempts = 1;  // guard timeouts do not count toward max_attempts
        const auto started = steady::now();
        auto report = pgkit::run_backfill(*pool, spec, options);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        CHECK(report->guard_timeouts >= 1);
        CHECK(report->retries == 0);
        CHECK(report->rows_done == 2000);
        CHECK(report->longest_batch < 2s);  // cancelled after ~70 ms, not after 5 s
        CHECK(steady::now() - started < 4s);
        CHECK(calls.load() >= 2);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: the time guard cuts a lock wait short and min_batch_size waits it out") {
        auto options = small_batches(200);
        options.target_batch_duration = 50ms;  // the guard: 65 ms
        options.lock_timeout = 10s;
        options.retry.initial_backoff = 1ms;
        options.retry.max_attempts = 1;  // a lock_timeout would fail the run
        // Guarded batches give up on the locked row after 65 ms and shrink; the rows below it get
        // done; at min_batch_size the batch waits for the lock (up to lock_timeout).
        const auto run = run_against_held_lock("guard_lock", options);
        CHECK(run.progressed);
        REQUIRE_MESSAGE(run.report, run.report.error().to_string());
        CHECK(run.report->status == backfill_status::done);
        CHECK(run.report->guard_timeouts >= 1);
        CHECK(run.report->retries == 0);
        CHECK(run.report->rows_done == 2000);
        CHECK(run.rows_not_once == 0);
    }

    TEST_CASE("backfill: batches slower than the guard even at min_batch_size do not loop") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 600);
        auto pool = make_pool(test_pool_options(schema));
        backfill_spec spec{.name = run_name(schema, "slow"), .table = "items", .key = {"id"}};
        spec.work = [](const pgkit::backfill_batch& batch,
                       pgkit::transaction& tx) -> pgkit::result<std::uint64_t> {
            pgkit::parameters params;
            for (const std::string& v : batch.range_values()) {
                params.add(v);
            }
            auto updated = tx.execute_params(
                "UPDATE items SET counter = counter + 1 WHERE " + batch.range_condition(1), params);
            if (!updated) {
                return tl::unexpected(updated.error());
            }
            // Every batch, however small, takes 80 ms: more than the 50 ms guard.
            if (auto slept = tx.execute_script("SELECT pg_sleep(0.08)"); !slept) {
                return tl::unexpected(slept.error());
            }
            return updated->affected_rows();
        };
        backfill_options options;
        options.min_batch_size = 100;
        options.max_batch_size = 400;
        options.initial_batch_size = 400;
        options.target_batch_duration = 20ms;  // the guard: at least 50 ms
        options.retry.initial_backoff = 1ms;
        options.retry.max_attempts = 1;
        auto report = pgkit::run_backfill(*pool, spec, options);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        CHECK(report->rows_done == 600);
        // 400 and about 100 keys were cancelled, then min_batch_size runs unguarded.
        CHECK(report->guard_timeouts >= 1);
        CHECK(report->guard_timeouts <= 3);
        CHECK(report->retries == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: retries are bounded and the error names the key where the run stopped") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 500);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "stuck");
        auto holder = schema.connect();
        REQUIRE(holder.execute_script("BEGIN; SELECT * FROM items WHERE id = 1 FOR UPDATE"));

        auto options = small_batches(100);
        options.lock_timeout = 50ms;
        options.retry.initial_backoff = 1ms;
        options.retry.max_attempts = 4;
        auto report = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE(holder.execute_script("ROLLBACK"));
        REQUIRE_FALSE(report);
        CHECK(report.error().code() == errc::lock_timeout);
        CHECK(report.error().message().find("stopped after key (start) (3 retries)") !=
              std::string::npos);
        CHECK(run_status(conn, name) == "failed");

        // A later call resumes the failed run.
        auto resumed = pgkit::run_backfill(*pool, counter_spec(name), small_batches());
        REQUIRE(resumed);
        CHECK(resumed->status == backfill_status::done);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: a connection lost during COMMIT is retried and every row is done once") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        // The first batch's COMMIT stalls in a deferred trigger (once: a sequence does not roll
        // back), long enough for the test to terminate its session mid-COMMIT.
        REQUIRE(conn.execute_script(
            "CREATE SEQUENCE stall_once;"
            "CREATE FUNCTION stall_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF nextval('stall_once') = 1 THEN PERFORM pg_sleep(30); END IF; RETURN NULL; END $$;"
            "CREATE CONSTRAINT TRIGGER stall_commit AFTER UPDATE ON items DEFERRABLE INITIALLY "
            "DEFERRED FOR EACH ROW EXECUTE FUNCTION stall_commit()"));
        const auto pool_options = test_pool_options(schema);
        auto pool = make_pool(pool_options);
        const std::string name = run_name(schema, "commit");
        auto options = small_batches(200);
        options.batch_timeout_factor = 0;  // neither the guard nor a statement_timeout ends the
        options.statement_timeout = 0ms;   // stalled COMMIT: only the lost connection does
        options.retry.initial_backoff = 1ms;
        options.retry.max_attempts = 2;
        pgkit::result<pgkit::backfill_report> report = pgkit::make_error(errc::internal, "not run");
        std::thread runner{
            [&] { report = pgkit::run_backfill(*pool, counter_spec(name), options); }};
        int committing = 0;
        const bool stalled = eventually(
            [&] {
                auto pid = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query = "
                    "'COMMIT' AND wait_event = 'PgSleep'",
                    pool_options.name);
                REQUIRE(pid);
                if (pid->empty()) {
                    return false;
                }
                committing = *(*pid)[0].get<std::int32_t>(0);
                return true;
            },
            20s);
        CHECK(stalled);
        if (stalled) {
            pgkit::test::terminate_backend(conn, committing);
        }
        runner.join();
        // The runner saw commit_unknown, read the cursor again (the COMMIT had not taken effect)
        // and redid the batch.
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        CHECK(report->retries == 1);
        CHECK(report->rows_done == 1000);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: cancellation from another thread interrupts the pause between batches") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "cancel");
        pgkit::backfill_cancel_token cancel;
        auto options = small_batches(100);
        options.pause_between_batches = 30s;
        options.cancel = &cancel;
        std::atomic<std::uint64_t> batches{0};
        options.on_progress = [&](const pgkit::backfill_progress&) { ++batches; };
        pgkit::result<pgkit::backfill_report> report = pgkit::make_error(errc::internal, "not run");
        std::thread runner{
            [&] { report = pgkit::run_backfill(*pool, counter_spec(name), options); }};
        REQUIRE(eventually([&] { return batches.load() == 1; }));
        const auto asked = steady::now();
        cancel.cancel();
        runner.join();
        CHECK(steady::now() - asked < 5s);
        REQUIRE(report);
        CHECK(report->status == backfill_status::cancelled);
        CHECK(report->batches_this_run == 1);
        CHECK(run_status(conn, name) == "cancelled");

        auto rest = pgkit::run_backfill(*pool, counter_spec(name), small_batches());
        REQUIRE(rest);
        CHECK(rest->status == backfill_status::done);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: a run marked paused stops after its current batch and resumes later") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 2000);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "pause");
        auto options = small_batches(100);
        options.min_batch_size = 100;
        options.max_batch_size = 100;
        int batches = 0;
        options.on_progress = [&](const pgkit::backfill_progress&) {
            if (++batches == 3) {
                // As another process would: mark the run paused in the runs table.
                REQUIRE(conn.execute(
                    "UPDATE pgkit_backfill_runs SET status = 'paused' WHERE name = $1", name));
            }
        };
        auto report = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE(report);
        CHECK(report->status == backfill_status::paused);
        CHECK(report->rows_done == 300);
        CHECK(run_status(conn, name) == "paused");

        // A paused run stays paused until resumed.
        options.on_progress = {};
        auto still = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE(still);
        CHECK(still->status == backfill_status::paused);
        CHECK(still->rows_this_run == 0);

        REQUIRE(pgkit::resume_backfill(*pool, {.name = name}));
        auto rest = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE(rest);
        CHECK(rest->status == backfill_status::done);
        CHECK(rest->rows_this_run == 1700);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        CHECK(pgkit::pause_backfill(*pool, {.name = name}).error().code() ==
              errc::not_found);  // done
        CHECK(pgkit::resume_backfill(*pool, {.name = "nope"}).error().code() == errc::not_found);
    }

    TEST_CASE("backfill: concurrent inserts, updates and deletes lose nothing and never deadlock") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 6000);
        auto pool = make_pool(test_pool_options(schema, 3));
        const std::string name = run_name(schema, "busy");

        std::atomic<bool> stop{false};
        std::atomic<int> writes{0};
        std::string writer_error;
        std::thread writer{[&] {
            auto app = schema.connect();
            std::mt19937 random{42};
            std::int64_t next_id = 1'000'000;
            while (!stop.load()) {
                const auto id = static_cast<std::int64_t>(random() % 6000 + 1);
                pgkit::result<pgkit::query_result> done = pgkit::make_error(errc::internal, "");
                switch (random() % 3) {
                    case 0:
                        done = app.execute("UPDATE items SET note = 'app' WHERE id = $1", id);
                        break;
                    case 1:
                        done = app.execute("INSERT INTO items (id) VALUES ($1)", next_id++);
                        break;
                    default:
                        done = app.execute("DELETE FROM items WHERE id = $1 AND id % 10 = 0", id);
                        break;
                }
                if (!done) {
                    writer_error = done.error().to_string();
                    return;
                }
                ++writes;
            }
        }};
        auto options = small_batches(100);
        options.pause_between_batches = 1ms;
        auto report = pgkit::run_backfill(*pool, counter_spec(name), options);
        stop = true;
        writer.join();
        CHECK(writer_error == "");
        CHECK(writes.load() > 0);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        // Every original row still there was processed exactly once; application updates kept.
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE id <= 6000 AND counter <> 1") ==
              0);
        // Rows inserted ahead of the cursor are processed, never twice (rows inserted behind it
        // are the caller's: see docs/backfill.md).
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter > 1") == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE note = 'app'") > 0);
    }
}
