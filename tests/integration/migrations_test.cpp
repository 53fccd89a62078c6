// Schema migrations against a real server: the history table, racing runners, a runner killed
// mid-way through a non-transactional migration, the lock-queue scenario, a failed concurrent
// index build, checksum mismatch and repair, down migrations, and bad input.
#include "pgkit/migrations.hpp"

#include "pgkit/pool.hpp"

#include "integration/pool_test_support.hpp"
#include "support/child_process.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::migrate_options;
using pgkit::migration;
using pgkit::migration_state;
using pgkit::test::eventually;
using pgkit::test::make_pool;
using pgkit::test::scratch_schema;
using pgkit::test::server_url;
using pgkit::test::test_pool_options;
using pgkit::test::wait_for;

migration make(std::int64_t version, std::string up, std::string down = {}) {
    migration m;
    m.version = version;
    m.name = fmt::format("step_{}", version);
    m.up = std::move(up);
    m.down = std::move(down);
    m.source = fmt::format("{:04}_step_{}.sql", version, version);
    return m;
}

migrate_options options_for(const scratch_schema& schema) {
    migrate_options options;
    options.history_schema = schema.name();
    return options;
}

std::int64_t scalar(pgkit::connection& conn, const std::string& sql) {
    auto n = conn.execute(sql).and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(n, n.error().to_string());
    return *n;
}

void run(pgkit::connection& conn, const std::string& sql) {
    auto r = conn.execute_script(sql);
    REQUIRE_MESSAGE(r, r.error().to_string());
}

/// A directory of its own under the temporary directory, removed at the end.
class temp_dir {
  public:
    temp_dir() {
        char pattern[] = "/tmp/pgkit-migrations.XXXXXX";
        REQUIRE(::mkdtemp(pattern) != nullptr);
        path_ = pattern;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    void write(const std::string& name, const std::string& text) const {
        std::ofstream out{path_ / name, std::ios::binary};
        out << text;
        REQUIRE(out.good());
    }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

pid_t spawn_worker(const std::vector<std::string>& args) {
    return pgkit::test::spawn_program(PGKIT_MIGRATION_WORKER, args);
}

}  // namespace

TEST_SUITE("migrations") {
    TEST_CASE("migrations: up applies pending migrations once and records them in the history") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        const std::vector<migration> all{
            make(1, "CREATE TABLE users (id bigint PRIMARY KEY); CREATE TABLE log (v int)"),
            make(2, "ALTER TABLE users ADD COLUMN email text; INSERT INTO log VALUES (2)")};
        auto first = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_MESSAGE(first, first.error().to_string());
        CHECK(first->applied == std::vector<std::int64_t>{1, 2});
        auto again = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_MESSAGE(again, again.error().to_string());
        CHECK(again->applied.empty());
        CHECK(scalar(conn, "SELECT count(*) FROM log") == 1);
        CHECK(scalar(conn, fmt::format("SELECT count(*) FROM {}.pgkit_migrations WHERE state = "
                                       "'applied' AND checksum <> '' AND duration_ms >= 0 AND "
                                       "applied_by = current_user",
                                       schema.name())) == 2);
        auto status = pgkit::migrations_status(*pool, all, options_for(schema));
        REQUIRE_MESSAGE(status, status.error().to_string());
        REQUIRE(status->size() == 2);
        CHECK((*status)[1].state == migration_state::applied);
        CHECK((*status)[1].applied_at.has_value());
    }

    TEST_CASE("migrations: a failing transactional migration is rolled back whole") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        const std::vector<migration> all{
            make(1, "CREATE TABLE t (id int); INSERT INTO t VALUES (1); SELECT 1 / 0")};
        auto failed = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == errc::data_exception);
        CHECK(failed.error().message().find("0001_step_1.sql") != std::string::npos);
        CHECK(failed.error().message().find("statement 3") != std::string::npos);
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_tables WHERE tablename = 't' AND "
                     "schemaname = current_schema()") == 0);
        auto status = pgkit::migrations_status(*pool, all, options_for(schema));
        REQUIRE(status);
        CHECK((*status)[0].state == migration_state::pending);
    }

    TEST_CASE("migrations: two runners racing apply each migration exactly once") {
        scratch_schema schema;
        auto conn = schema.connect();
        run(conn, "CREATE TABLE log (v int)");
        std::vector<migration> all;
        for (int v = 1; v <= 4; ++v) {
            all.push_back(
                make(v, fmt::format("INSERT INTO log VALUES ({}); SELECT pg_sleep(0.05)", v)));
        }
        all.push_back(make(5,
                           "CREATE INDEX CONCURRENTLY log_v ON log (v); INSERT INTO log "
                           "VALUES (5)"));
        for (auto mode :
             {pgkit::migration_runner_lock::advisory, pgkit::migration_runner_lock::lease}) {
            CAPTURE(static_cast<int>(mode));
            run(conn, fmt::format("TRUNCATE log; DROP INDEX IF EXISTS log_v; DROP TABLE IF "
                                  "EXISTS {}.pgkit_migrations",
                                  schema.name()));
            auto options = options_for(schema);
            options.runner_lock = mode;
            options.runner_lock_poll = 20ms;
            std::vector<std::shared_ptr<pgkit::pool>> pools{make_pool(test_pool_options(schema)),
                                                            make_pool(test_pool_options(schema))};
            std::vector<pgkit::result<pgkit::migrate_result>> results(2, pgkit::migrate_result{});
            std::vector<std::thread> runners;
            for (std::size_t i = 0; i < 2; ++i) {
                runners.emplace_back(
                    [&, i] { results[i] = pgkit::migrate_up(*pools[i], all, options); });
            }
            for (auto& t : runners) {
                t.join();
            }
            REQUIRE_MESSAGE(results[0], results[0].error().to_string());
            REQUIRE_MESSAGE(results[1], results[1].error().to_string());
            CHECK(results[0]->applied.size() + results[1]->applied.size() == 5);
            CHECK(scalar(conn, "SELECT count(*) FROM log") == 5);
            CHECK(scalar(conn, "SELECT count(DISTINCT v) FROM log") == 5);
        }
    }

    TEST_CASE(
        "migrations: a runner killed with SIGKILL mid non-transactional migration resumes "
        "at the statement it stopped at") {
        scratch_schema schema;
        auto conn = schema.connect();
        run(conn,
            "CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, g FROM "
            "generate_series(1, 1000) g; CREATE TABLE log (v int)");
        temp_dir dir;
        dir.write("0001_index_items.sql",
                  "-- Risk: low\n-- ========== UP ==========\nINSERT INTO log VALUES (1);\n"
                  "CREATE INDEX CONCURRENTLY items_v ON items (v);\n"
                  "INSERT INTO log VALUES (2);\n"
                  "-- ========== DOWN ==========\nDROP INDEX CONCURRENTLY items_v;\n");
        // An open transaction that keeps its snapshot: the concurrent build, once it has made
        // its (still invalid) index, waits for it.
        auto holder = schema.connect();
        run(holder, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM log");
        const pid_t worker = spawn_worker({server_url(), schema.name(), dir.path().string()});
        std::int64_t backend = 0;
        const bool waiting = eventually(
            [&] {
                auto pid = conn.execute(
                    "SELECT pid::int8 FROM pg_stat_activity WHERE application_name = "
                    "'pgkit-migration-worker' AND query LIKE 'CREATE INDEX CONCURRENTLY%' AND "
                    "wait_event_type = 'Lock'");
                if (!pid || pid->empty()) {
                    return false;
                }
                backend = *(*pid)[0].get<std::int64_t>(0);
                return true;
            },
            20s);
        REQUIRE(waiting);
        ::kill(worker, SIGKILL);
        CHECK(WIFSIGNALED(wait_for(worker)));
        // The server ends the dead runner's session too (as it does once it notices), which
        // fails the build midway and leaves an invalid index.
        CHECK(scalar(conn, fmt::format("SELECT pg_terminate_backend({})::int", backend)) == 1);
        REQUIRE(eventually(
            [&] {
                return scalar(conn, fmt::format("SELECT count(*) FROM pg_stat_activity WHERE pid "
                                                "= {}",
                                                backend)) == 0;
            },
            10s));
        run(holder, "COMMIT");
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_index WHERE indexrelid = "
                     "to_regclass('items_v') AND NOT indisvalid") == 1);
        CHECK(scalar(conn, fmt::format("SELECT next_statement::int8 FROM {}.pgkit_migrations "
                                       "WHERE version = 1 AND state = 'partial'",
                                       schema.name())) == 1);

        auto loaded = pgkit::load_migrations(dir.path());
        REQUIRE_MESSAGE(loaded, loaded.error().to_string());
        auto pool = make_pool(test_pool_options(schema));
        auto status = pgkit::migrations_status(*pool, *loaded, options_for(schema));
        REQUIRE(status);
        CHECK((*status)[0].state == migration_state::partial);
        CHECK((*status)[0].next_statement == 1);

        auto resumed = pgkit::migrate_up(*pool, *loaded, options_for(schema));
        REQUIRE_MESSAGE(resumed, resumed.error().to_string());
        CHECK(resumed->applied == std::vector<std::int64_t>{1});
        // Statement 1 ran once (before the kill), the index was rebuilt valid, statement 3 ran.
        CHECK(scalar(conn, "SELECT count(*) FROM log WHERE v = 1") == 1);
        CHECK(scalar(conn, "SELECT count(*) FROM log WHERE v = 2") == 1);
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_index WHERE indexrelid = "
                     "to_regclass('items_v') AND indisvalid") == 1);
    }

    TEST_CASE(
        "migrations: a failed concurrent index build is dropped and built again on the "
        "next run") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        run(conn,
            "CREATE TABLE emails (id int, address text); INSERT INTO emails VALUES (1, "
            "'a'), (2, 'a'), (3, 'b'); CREATE TABLE log (v int)");
        const std::vector<migration> all{
            make(1,
                 "INSERT INTO log VALUES (1); CREATE UNIQUE INDEX CONCURRENTLY emails_address "
                 "ON emails (address); INSERT INTO log VALUES (3)")};
        auto failed = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == errc::unique_violation);
        CHECK(failed.error().message().find("0001_step_1.sql") != std::string::npos);
        CHECK(failed.error().message().find("statement 2") != std::string::npos);
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_index WHERE indexrelid = "
                     "to_regclass('emails_address') AND NOT indisvalid") == 1);
        auto status = pgkit::migrations_status(*pool, all, options_for(schema));
        REQUIRE(status);
        CHECK((*status)[0].state == migration_state::partial);
        CHECK((*status)[0].next_statement == 1);

        run(conn, "DELETE FROM emails WHERE id = 2");
        auto fixed = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_MESSAGE(fixed, fixed.error().to_string());
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_index WHERE indexrelid = "
                     "to_regclass('emails_address') AND indisvalid") == 1);
        CHECK(scalar(conn, "SELECT count(*) FROM log") == 2);
        status = pgkit::migrations_status(*pool, all, options_for(schema));
        REQUIRE(status);
        CHECK((*status)[0].state == migration_state::applied);
    }

    TEST_CASE(
        "migrations: lock queue: the ALTER gives up within lock_timeout and retries and "
        "names its blocker") {
        scratch_schema schema;
        auto conn = schema.connect();
        run(conn, "CREATE TABLE hot (id int); INSERT INTO hot VALUES (1)");
        auto options = test_pool_options(schema, 3);
        const std::string app = options.connection.application_name;
        auto pool = make_pool(options);
        auto migrate = options_for(schema);
        migrate.lock_timeout = 300ms;
        migrate.retry = {.max_attempts = 3, .initial_backoff = 50ms, .max_backoff = 100ms};
        const std::vector<migration> all{make(1, "ALTER TABLE hot ADD COLUMN note text")};

        // A long transaction holds ACCESS SHARE on the table (as pg_dump would).
        auto holder = schema.connect();
        run(holder, "BEGIN; SELECT count(*) FROM hot");
        const auto holder_pid = holder.backend_pid();

        // Readers: each query must never wait much longer than the lock_timeout.
        std::atomic<bool> stop{false};
        std::atomic<std::int64_t> longest_us{0};
        std::atomic<int> reads{0};
        // Connected here: doctest's assertions (inside connect()) are not for other threads.
        auto reader_conn = schema.connect();
        std::thread reader{[&] {
            auto& c = reader_conn;
            while (!stop) {
                const auto start = std::chrono::steady_clock::now();
                auto r = c.execute("SELECT count(*) FROM hot");
                const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::steady_clock::now() - start)
                                      .count();
                if (r) {
                    ++reads;
                }
                longest_us = std::max<std::int64_t>(longest_us, took);
            }
        }};
        auto gave_up = pgkit::migrate_up(*pool, all, migrate);
        REQUIRE_FALSE(gave_up);
        CHECK(gave_up.error().code() == errc::lock_timeout);
        CHECK(gave_up.error().message().find("0001_step_1.sql") != std::string::npos);
        CHECK(gave_up.error().message().find("3 attempts") != std::string::npos);
        CHECK(gave_up.error().message().find(fmt::format("pid {}", holder_pid)) !=
              std::string::npos);
        CHECK(gave_up.error().message().find("idle in transaction") != std::string::npos);

        // Now the holder ends while the runner retries: the second attempt (at least) lands.
        migrate.retry.max_attempts = 50;
        pgkit::result<pgkit::migrate_result> landed = pgkit::migrate_result{};
        std::thread runner{[&] { landed = pgkit::migrate_up(*pool, all, migrate); }};
        std::set<std::string> attempts;
        const bool retried = eventually(
            [&] {
                auto r = conn.execute(
                    "SELECT query_start::text FROM pg_stat_activity WHERE application_name = $1 "
                    "AND query LIKE 'ALTER TABLE%' AND wait_event_type = 'Lock'",
                    app);
                if (r && !r->empty()) {
                    attempts.insert(*(*r)[0].get<std::string>(0));
                }
                return attempts.size() >= 2;
            },
            20s);
        run(holder, "COMMIT");
        runner.join();
        stop = true;
        reader.join();
        CHECK(retried);
        REQUIRE_MESSAGE(landed, landed.error().to_string());
        CHECK(landed->applied == std::vector<std::int64_t>{1});
        CHECK(reads > 0);
        // Blocked at most about one lock_timeout (300 ms), plus scheduling slack on a busy box.
        MESSAGE("longest wait of a reader queued behind the ALTER: "
                << longest_us.load() / 1000 << " ms (lock_timeout 300 ms)");
        CHECK(longest_us.load() < 700'000);
        CHECK(scalar(conn,
                     "SELECT count(*) FROM information_schema.columns WHERE table_name = "
                     "'hot' AND column_name = 'note' AND table_schema = current_schema()") == 1);
    }

    TEST_CASE("migrations: an edited applied migration is a checksum mismatch until repaired") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        std::vector<migration> all{make(1, "CREATE TABLE a (id int)"),
                                   make(2, "CREATE TABLE b (id int)")};
        REQUIRE(pgkit::migrate_up(*pool, all, options_for(schema)));
        all[0].up = "CREATE TABLE a (id int, extra int)";
        all.push_back(make(3, "CREATE TABLE c (id int)"));
        auto refused = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::checksum_mismatch);
        CHECK(refused.error().message().find("0001_step_1.sql") != std::string::npos);
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_tables WHERE tablename = 'c' AND "
                     "schemaname = current_schema()") == 0);
        auto status = pgkit::migrations_status(*pool, all, options_for(schema));
        REQUIRE(status);
        CHECK((*status)[0].state == migration_state::changed);
        CHECK((*status)[2].state == migration_state::pending);

        auto unknown = pgkit::repair_migration(*pool, all, 9, options_for(schema));
        REQUIRE_FALSE(unknown);
        CHECK(unknown.error().code() == errc::migration_refused);
        auto not_applied = pgkit::repair_migration(*pool, all, 3, options_for(schema));
        REQUIRE_FALSE(not_applied);
        CHECK(not_applied.error().code() == errc::not_found);

        REQUIRE(pgkit::repair_migration(*pool, all, 1, options_for(schema)));
        auto after = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_MESSAGE(after, after.error().to_string());
        CHECK(after->applied == std::vector<std::int64_t>{3});
    }

    TEST_CASE("migrations: out-of-order and missing versions are refused") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        std::vector<migration> all{make(1, "CREATE TABLE a (id int)"),
                                   make(3, "CREATE TABLE c (id int)")};
        REQUIRE(pgkit::migrate_up(*pool, all, options_for(schema)));
        all.push_back(make(2, "CREATE TABLE b (id int)"));
        auto late = pgkit::migrate_up(*pool, all, options_for(schema));
        REQUIRE_FALSE(late);
        CHECK(late.error().code() == errc::migration_refused);
        CHECK(late.error().message().find("0002_step_2.sql") != std::string::npos);
        CHECK(late.error().message().find("out of order") != std::string::npos);
        auto allowed = options_for(schema);
        allowed.allow_out_of_order = true;
        auto applied = pgkit::migrate_up(*pool, all, allowed);
        REQUIRE_MESSAGE(applied, applied.error().to_string());
        CHECK(applied->applied == std::vector<std::int64_t>{2});

        const std::vector<migration> without_three{all[0], all[2]};
        auto missing = pgkit::migrate_up(*pool, without_three, options_for(schema));
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code() == errc::migration_refused);
        CHECK(missing.error().message().find("version 3") != std::string::npos);
    }

    TEST_CASE("migrations: down reverts the newest migrations with their DOWN sections") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        std::vector<migration> all{
            make(1, "CREATE TABLE a (id int)", "DROP TABLE a"),
            make(2, "CREATE TABLE b (id int)", "DROP TABLE b"),
            make(3, "CREATE INDEX CONCURRENTLY a_id ON a (id)", "DROP INDEX CONCURRENTLY a_id"),
            make(4, "CREATE TABLE d (id int)")};
        REQUIRE(pgkit::migrate_up(*pool, all, options_for(schema)));
        auto refused = pgkit::migrate_down(*pool, all, 1, options_for(schema));
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::migration_refused);
        CHECK(refused.error().message().find("0004_step_4.sql") != std::string::npos);
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_tables WHERE tablename = 'd' AND "
                     "schemaname = current_schema()") == 1);

        auto reverted = pgkit::migrate_down(*pool, all, 3, options_for(schema));
        REQUIRE_FALSE(reverted);  // 4 still has no DOWN
        all[3].down = "DROP TABLE d";
        REQUIRE(pgkit::repair_migration(*pool, all, 4, options_for(schema)));
        auto down = pgkit::migrate_down(*pool, all, 1, options_for(schema));
        REQUIRE_MESSAGE(down, down.error().to_string());
        CHECK(down->reverted == std::vector<std::int64_t>{4, 3, 2});
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_tables WHERE tablename IN ('b', 'd') AND "
                     "schemaname = current_schema()") == 0);
        CHECK(scalar(conn, "SELECT count(*) FROM pg_indexes WHERE indexname = 'a_id'") == 0);
        CHECK(scalar(conn,
                     fmt::format("SELECT count(*) FROM {}.pgkit_migrations", schema.name())) == 1);
        auto up = pgkit::migrate_up(*pool, all, options_for(schema), 2);
        REQUIRE_MESSAGE(up, up.error().to_string());
        CHECK(up->applied == std::vector<std::int64_t>{2});
    }

    TEST_CASE("migrations: bad input gives a clear error naming the file and applies nothing") {
        scratch_schema schema;
        auto conn = schema.connect();
        auto pool = make_pool(test_pool_options(schema));
        const std::string good =
            "-- ========== UP ==========\nCREATE TABLE good (id int);\n"
            "-- ========== DOWN ==========\nDROP TABLE good;\n";
        struct bad_dir {
            std::string file;
            std::string text;
            std::string says;
            bool require_down = false;
        };
        const std::vector<bad_dir> cases{
            {"0002_malformed.sql", "CREATE TABLE x (id int);\n", "0002_malformed.sql:1"},
            {"0002_sections.sql", "-- == UP ==\nSELECT 1;\n-- == ROLLBACK ==\nSELECT 2;\n",
             "0002_sections.sql:3: unknown section"},
            {"0001_again.sql", good, "duplicate version 1"},
            {"0002_no_down.sql", "-- == UP ==\nCREATE TABLE y (id int);\n",
             "0002_no_down.sql: no DOWN", true},
        };
        for (const auto& c : cases) {
            CAPTURE(c.file);
            temp_dir dir;
            dir.write("0001_good.sql", good);
            dir.write(c.file, c.text);
            auto loaded = pgkit::load_migrations(dir.path(), {.require_down = c.require_down});
            REQUIRE_FALSE(loaded);
            CHECK(loaded.error().code() == errc::migration_source_invalid);
            CHECK(loaded.error().message().find(c.says) != std::string::npos);
            CHECK(loaded.error().message().find(c.file) != std::string::npos);
        }
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_tables WHERE tablename IN ('good', "
                     "'pgkit_migrations') AND schemaname = current_schema()") == 0);

        // A server that cannot be reached: the error says which migrations were not applied.
        auto unreachable = test_pool_options(schema);
        unreachable.connection = *pgkit::connection_options::parse(
            "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2");
        unreachable.connect_timeout = 2s;
        auto nowhere = make_pool(unreachable);
        temp_dir dir;
        dir.write("0001_good.sql", good);
        auto loaded = pgkit::load_migrations(dir.path());
        REQUIRE_MESSAGE(loaded, loaded.error().to_string());
        auto failed = pgkit::migrate_up(*nowhere, *loaded, options_for(schema));
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == errc::connection_failed);
        CHECK(failed.error().message().find("0001_good.sql") != std::string::npos);
        CHECK(failed.error().message().find("nothing was applied") != std::string::npos);
        CHECK(scalar(conn,
                     "SELECT count(*) FROM pg_tables WHERE tablename = 'good' AND "
                     "schemaname = current_schema()") == 0);
    }
}
