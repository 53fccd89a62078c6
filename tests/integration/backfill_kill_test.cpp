// Crash safety: a backfill process killed with SIGKILL at random points, several times, then
// resumed to completion; every row is processed exactly once (a non-idempotent counter).
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
using pgkit::test::run_rows_done;

/// The test server's URL, as the harness found it (see support/test_database.cpp).
std::string server_url() {
    if (const char* url = std::getenv("PGKIT_TEST_DATABASE_URL"); url != nullptr && *url != 0) {
        return url;
    }
    const char* file = std::getenv("PGKIT_TEST_URL_FILE");
    REQUIRE(file != nullptr);
    std::ifstream in{file};
    std::string url;
    std::getline(in, url);
    REQUIRE_FALSE(url.empty());
    return url;
}

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
}
