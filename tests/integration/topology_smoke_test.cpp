// Smoke tests for the test topologies: PgBouncer in transaction mode (scripts/pgbouncer), a
// primary with a streaming standby (scripts/pg-standby) and a pg_auto_failover formation
// (scripts/pg-formation). Each case connects through its topology's URLs and checks the one
// property the topology exists for, so a later test that relies on it fails for its own reasons.
//
// CTest starts each topology once per run as a fixture and tells these cases where it is (see
// topology_test_support.hpp).
// They are built into pgkit_topology_tests and run only through ctest (label `topology`).
#include "pgkit/connection.hpp"

#include "integration/topology_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;
using pgkit::test::eventually;
using pgkit::test::first_line;
using pgkit::test::open;
using pgkit::test::options_from;
using pgkit::test::path_from_environment;
using pgkit::test::run;
using pgkit::test::scalar;
using pgkit::test::scratch_role;
using pgkit::test::unique_name;

}  // namespace

TEST_SUITE("topology") {
    TEST_CASE("topology: PgBouncer takes new roles and moves a client between backends") {
        const auto bouncer_url = first_line(path_from_environment("PGKIT_TEST_PGBOUNCER_URL_FILE"));
        // A role made after PgBouncer started, whose settings pin its search_path: behind a
        // transaction-mode pooler, the one way to give a session a search_path.
        const scratch_role role{unique_name("role")};
        auto options = options_from(bouncer_url);
        options.user = role.name();

        auto a = open(options);
        auto b = open(options);
        CHECK(scalar<std::string>(a, "SELECT current_user") == role.name());
        CHECK(scalar<std::string>(a, "SELECT current_setting('search_path')") ==
              role.name() + ", public");
        run(a, "CREATE TABLE smoke (id integer)");  // lands in the role's schema

        // Transaction pooling: between a's statements, its backend is free for b's transaction
        // (the pool's only idle backend), and a's next statement runs on another one. In session
        // mode a would keep its backend and b could never get it.
        const auto a_first = scalar<std::int32_t>(a, "SELECT pg_backend_pid()");
        run(b, "BEGIN");
        const auto b_in_transaction = scalar<std::int32_t>(b, "SELECT pg_backend_pid()");
        const auto a_second = scalar<std::int32_t>(a, "SELECT pg_backend_pid()");
        run(b, "COMMIT");
        CHECK(b_in_transaction == a_first);
        CHECK(a_second != a_first);
        // The new backend logged in as the same role, so it has the same search_path.
        CHECK(scalar<std::string>(a, "SELECT to_regclass('smoke')::text") == "smoke");
        CHECK(scalar<std::string>(a, "SELECT current_setting('search_path')") ==
              role.name() + ", public");
    }

    TEST_CASE("topology: the standby is read-only and shows a row once it has replayed it") {
        const auto dir = path_from_environment("PGKIT_TEST_STANDBY_DIR");
        auto primary = open(first_line(dir / "primary_url"));
        auto standby = open(first_line(dir / "standby_url"));
        CHECK_FALSE(scalar<bool>(primary, "SELECT pg_is_in_recovery()"));
        CHECK(scalar<bool>(standby, "SELECT pg_is_in_recovery()"));
        auto refused = standby.execute_script("CREATE TABLE pgkit_never (id integer)");
        REQUIRE_FALSE(refused);
        CHECK(refused.error().sqlstate() == "25006");  // read_only_sql_transaction

        // The multi-host URL picks a server by its role.
        const auto both = first_line(dir / "url");
        auto writer = open(both + "?target_session_attrs=read-write");
        auto reader = open(both + "?target_session_attrs=read-only");
        CHECK_FALSE(scalar<bool>(writer, "SELECT pg_is_in_recovery()"));
        CHECK(scalar<bool>(reader, "SELECT pg_is_in_recovery()"));

        const auto table = unique_name("replayed");
        run(primary, fmt::format("DROP TABLE IF EXISTS {0}; CREATE TABLE {0} (id integer)", table));
        const auto replayed = [&](const std::string& lsn) {
            return eventually(
                [&] {
                    return scalar<bool>(standby, fmt::format("SELECT pg_last_wal_replay_lsn() >= "
                                                             "'{}'::pg_lsn",
                                                             lsn));
                },
                30s);
        };
        REQUIRE(replayed(scalar<std::string>(primary, "SELECT pg_current_wal_lsn()::text")));

        // With replay paused, the standby receives the row's WAL but does not show the row.
        run(standby, "SELECT pg_wal_replay_pause()");
        struct resume_replay {
            pgkit::connection& standby;
            ~resume_replay() { (void)standby.execute("SELECT pg_wal_replay_resume()"); }
        } resume{standby};
        REQUIRE(eventually(
            [&] {
                return scalar<std::string>(standby, "SELECT pg_get_wal_replay_pause_state()") ==
                       "paused";
            },
            30s));
        run(primary, fmt::format("INSERT INTO {} VALUES (1)", table));
        const auto committed = scalar<std::string>(primary, "SELECT pg_current_wal_lsn()::text");
        REQUIRE(eventually(
            [&] {
                return scalar<bool>(
                    standby,
                    fmt::format("SELECT pg_last_wal_receive_lsn() >= '{}'::pg_lsn", committed));
            },
            30s));
        const auto count = fmt::format("SELECT count(*) FROM {}", table);
        CHECK(scalar<std::int64_t>(standby, count) == 0);

        run(standby, "SELECT pg_wal_replay_resume()");
        REQUIRE(replayed(committed));
        CHECK(scalar<std::int64_t>(standby, count) == 1);
        run(primary, fmt::format("DROP TABLE {}", table));
    }

    TEST_CASE("topology: the formation URL reaches a read-write primary") {
        const auto dir = path_from_environment("PGKIT_TEST_FORMATION_DIR");
        auto conn = open(first_line(dir / "url"));
        CHECK_FALSE(scalar<bool>(conn, "SELECT pg_is_in_recovery()"));
        CHECK(scalar<std::string>(conn, "SHOW transaction_read_only") == "off");
        // A write that commits: with the secondary up, the formation replicates synchronously.
        const auto table = unique_name("written");
        run(conn, fmt::format("DROP TABLE IF EXISTS {0}; CREATE TABLE {0} (id integer); "
                              "INSERT INTO {0} VALUES (1)",
                              table));
        CHECK(scalar<std::int64_t>(conn, fmt::format("SELECT count(*) FROM {}", table)) == 1);
        run(conn, fmt::format("DROP TABLE {}", table));

        // The other node is the hot standby.
        const auto primary_port = scalar<std::int32_t>(conn, "SELECT inet_server_port()");
        const auto node1_port = std::stoi(first_line(dir / "node1_port"));
        const auto secondary_url =
            first_line(dir / (primary_port == node1_port ? "node2_url" : "node1_url"));
        auto secondary = open(secondary_url);
        CHECK(scalar<bool>(secondary, "SELECT pg_is_in_recovery()"));
    }
}
