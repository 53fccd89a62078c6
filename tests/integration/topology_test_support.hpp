#pragma once

// Helpers shared by the tests against the test topologies (integration/topology_*.cpp): where a
// topology is (CTest's fixtures name it in an environment variable), connecting through a URL it
// wrote, one-line statement helpers that fail the test with the server's message, and bounded
// polling for an observable state.
//
//   PGKIT_TEST_PGBOUNCER_URL_FILE  the file holding PgBouncer's URL (PGKIT_TEST_URL_FILE still
//                                  names the server behind it)
//   PGKIT_TEST_STANDBY_DIR         pg-standby's state directory (primary_url, standby_url, url)
//   PGKIT_TEST_FORMATION_DIR       pg-formation's state directory (url, node1_url, node2_url, ...)

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"
#include "pgkit/query_result.hpp"

#include "support/scalar_query.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace pgkit::test {

/// The path an environment variable names; fails the test run when it is not set.
inline std::filesystem::path path_from_environment(const char* variable) {
    const char* value = std::getenv(variable);
    if (value == nullptr || *value == 0) {
        throw std::runtime_error(
            fmt::format("{} is not set: run the topology tests through ctest (ctest -L topology), "
                        "which starts the topology they need",
                        variable));
    }
    return value;
}

/// The first line of a file a topology's script wrote.
inline std::string first_line(const std::filesystem::path& file) {
    std::ifstream in{file};
    std::string line;
    if (!std::getline(in, line) || line.empty()) {
        throw std::runtime_error(fmt::format("{} is missing or empty", file.string()));
    }
    return line;
}

/// PgBouncer's URL (the pgbouncer fixture).
inline std::string bouncer_url() {
    return first_line(path_from_environment("PGKIT_TEST_PGBOUNCER_URL_FILE"));
}

inline connection_options options_from(const std::string& url) {
    auto options = connection_options::parse(url);
    REQUIRE_MESSAGE(options.has_value(), "malformed URL ", url);
    options->application_name = "pgkit-topology-tests";
    options->connect_timeout = std::chrono::seconds{10};
    return *options;
}

inline connection open(const connection_options& options) {
    auto conn = connection::open(options);
    REQUIRE_MESSAGE(conn.has_value(), "cannot connect to ", options.redacted(), ": ",
                    (conn ? std::string{} : conn.error().to_string()));
    return std::move(*conn);
}

inline connection open(const std::string& url) {
    return open(options_from(url));
}

inline void run(connection& conn, std::string_view sql) {
    auto done = conn.execute_script(sql);
    REQUIRE_MESSAGE(done.has_value(), sql, ": ", (done ? std::string{} : done.error().to_string()));
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; true when it held. For an
/// observable state (a replayed position, a probe's verdict), never as a sleep.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds{30}) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return condition();
}

/// "pgkit_topology_<stem>_<pid>".
inline std::string unique_name(std::string_view stem) {
    return fmt::format("pgkit_topology_{}_{}", stem, ::getpid());
}

/// A login role with a schema of the same name first on its search_path (then public), made and
/// dropped on the server itself, not through PgBouncer: behind a transaction-mode pooler, a
/// role's settings are the one way to give a session a search_path. The drop ends the role's
/// server sessions first, which PgBouncer would otherwise keep.
class scratch_role {
  public:
    explicit scratch_role(std::string name) : name_(std::move(name)) {
        auto admin = connect_directly();
        run(admin, fmt::format("CREATE ROLE {0} LOGIN; CREATE SCHEMA {0} AUTHORIZATION {0}; "
                               "ALTER ROLE {0} SET search_path = {0}, public",
                               name_));
    }
    ~scratch_role() {
        auto admin = connection::open(direct_server_options());
        if (admin) {
            (void)admin->execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name_);
            (void)admin->execute_script(
                fmt::format("DROP SCHEMA IF EXISTS {0} CASCADE; DROP ROLE IF EXISTS {0}", name_));
        }
    }
    scratch_role(const scratch_role&) = delete;
    scratch_role& operator=(const scratch_role&) = delete;

    [[nodiscard]] const std::string& name() const { return name_; }

  private:
    std::string name_;
};

}  // namespace pgkit::test
