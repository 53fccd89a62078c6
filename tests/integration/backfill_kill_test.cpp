// Crash safety: a backfill process killed with SIGKILL at random points, several times, then
// resumed to completion; every row is processed exactly once (a non-idempotent counter). In the
// lease mode, the killed runner's lease keeps others out until it expires.
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "integration/backfill_test_support.hpp"
#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;
using pgkit::test::count_where;
using pgkit::test::eventually;
using pgkit::test::run_lease;
using pgkit::test::run_rows_done;

using pgkit::test::server_url;

pid_t spawn_worker(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(PGKIT_BACKFILL_WORKER));
    for (const std::string& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, PGKIT_BACKFILL_WORKER, nullptr, nullptr, argv.data(), environ) ==
            0);
    return pid;
}

int wait_for(pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

}  // namespace

TEST_SUITE("backfill") {
    TEST_CASE("backfill: a process killed with SIGKILL at random points resumes exactly once") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        constexpr std::int64_t rows = 20'000;
        pgkit::test::create_items(conn, rows);
        const std::string name = pgkit::test::run_name(schema, "kill");
        const std::vector<std::string> args{server_url(), schema.name(), "items", name, "100", "2"};
        std::mt19937 random{std::random_device{}()};
        int kills = 0;
        for (int round = 0; round < 5; ++round) {
            const std::int64_t before = run_rows_done(conn, name);
            if (before >= rows) {
                break;
            }
            // Kill after a random number of further rows (a few batches), at no particular point
            // of a batch.
            const std::int64_t target = std::min<std::int64_t>(
                rows - 1, before + 100 + static_cast<std::int64_t>(random() % 2500));
            const pid_t pid = spawn_worker(args);
            const bool reached =
                eventually([&] { return run_rows_done(conn, name) >= target; }, 20s);
            ::usleep(static_cast<useconds_t>(random() % 3000));  // a random instant, not a sync
            ::kill(pid, SIGKILL);
            const int status = wait_for(pid);
            if (WIFSIGNALED(status)) {
                ++kills;
            }
            CHECK(reached);
            // The killed runner's server sessions end and release the run's runner lock.
            REQUIRE(eventually(
                [&] { return pgkit::test::runner_lock_holders(conn, schema.name(), name) == 0; },
                10s));
            // Exactly once so far: rows at or before the saved cursor have counter 1, the rest 0.
            CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter > 1") == 0);
            CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter = 1") ==
                  run_rows_done(conn, name));
        }
        CHECK(kills >= 3);

        // Resume to completion: a worker run to its end (retried while the old lock lingers).
        int exit_code = -1;
        REQUIRE(eventually(
            [&] {
                exit_code = WEXITSTATUS(wait_for(spawn_worker(args)));
                return exit_code == 0;
            },
            30s));
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        CHECK(pgkit::test::run_status(conn, name) == "done");
        CHECK(run_rows_done(conn, name) == rows);
    }

    TEST_CASE(
        "backfill: lease mode: a runner killed with SIGKILL keeps the run until its lease "
        "expires, then the next resumes exactly where it stopped") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        constexpr std::int64_t rows = 20'000;
        pgkit::test::create_items(conn, rows);
        const std::string name = pgkit::test::run_name(schema, "lease_kill");
        constexpr auto lease = 4s;
        const std::vector<std::string> args{server_url(),
                                            schema.name(),
                                            "items",
                                            name,
                                            "100",
                                            "2",
                                            std::to_string(lease.count() * 1000)};

        // Kill the worker a few batches in.
        const pid_t pid = spawn_worker(args);
        const bool reached = eventually([&] { return run_rows_done(conn, name) >= 1000; }, 20s);
        ::kill(pid, SIGKILL);
        REQUIRE(WIFSIGNALED(wait_for(pid)));
        REQUIRE(reached);
        const std::int64_t before = run_rows_done(conn, name);
        REQUIRE(before < rows);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter > 1") == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter = 1") == before);

        // Its lease outlives it: renewed by its last batch, it has most of its time left.
        auto left = run_lease(conn, name);
        REQUIRE(left.has_value());
        REQUIRE(left->live);
        REQUIRE(left->ms_left > 1500);

        // While it lives, runners of either mode are refused, naming the dead runner's token,
        // and do nothing.
        auto pool_options = pgkit::test::test_pool_options(schema);
        auto pool = pgkit::test::make_pool(pool_options);
        pgkit::backfill_options options;
        options.min_batch_size = 100;
        options.max_batch_size = 100;
        options.initial_batch_size = 100;
        options.runner_lock = pgkit::backfill_runner_lock::lease;
        options.lease_duration = lease;
        const pgkit::backfill_spec spec{
            .name = name, .table = "items", .key = {"id"}, .set = "counter = counter + 1"};
        auto refused = pgkit::run_backfill(*pool, spec, options);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == pgkit::errc::already_running);
        CHECK(refused.error().message().find(left->token) != std::string::npos);
        auto advisory_options = options;
        advisory_options.runner_lock = pgkit::backfill_runner_lock::advisory;
        auto advisory_refused = pgkit::run_backfill(*pool, spec, advisory_options);
        REQUIRE_FALSE(advisory_refused);
        CHECK(advisory_refused.error().code() == pgkit::errc::already_running);
        CHECK(advisory_refused.error().message().find(left->token) != std::string::npos);
        auto state = pgkit::inspect_backfill(*pool, spec);
        REQUIRE_MESSAGE(state, state.error().to_string());
        CHECK(state->status == pgkit::backfill_status::running);
        CHECK(state->lease_live);
        CHECK(run_rows_done(conn, name) == before);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter = 1") == before);

        // Once it has expired (the server's clock says so), the next runner takes the lease over
        // and continues right after the last committed key.
        REQUIRE(eventually(
            [&] {
                auto now = run_lease(conn, name);
                return now.has_value() && !now->live;
            },
            lease + 10s));
        std::vector<std::string> first_batch_end;
        options.on_progress = [&](const pgkit::backfill_progress& p) {
            if (first_batch_end.empty()) {
                first_batch_end = p.last_key;
            }
        };
        auto resumed = pgkit::run_backfill(*pool, spec, options);
        REQUIRE_MESSAGE(resumed, resumed.error().to_string());
        CHECK(resumed->status == pgkit::backfill_status::done);
        CHECK(resumed->rows_this_run == static_cast<std::uint64_t>(rows - before));
        CHECK(resumed->rows_done == static_cast<std::uint64_t>(rows));
        CHECK(first_batch_end == std::vector<std::string>{std::to_string(before + 100)});
        // No row processed twice, none skipped; the lease is gone.
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        CHECK(pgkit::test::run_status(conn, name) == "done");
        CHECK_FALSE(run_lease(conn, name).has_value());
    }
}
