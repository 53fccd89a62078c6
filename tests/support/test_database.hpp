#pragma once

// The test harness's view of the server: where it is, and a schema of its own per test case.

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"

#include <string>

namespace pgkit::test {

/// The test server: PGKIT_TEST_DATABASE_URL when set, else the URL scripts/pg-server wrote to
/// the file named by PGKIT_TEST_URL_FILE (CTest's pg_server fixture). Aborts the test run with
/// a clear message when neither exists: integration tests never skip silently.
[[nodiscard]] connection_options server_options();

/// A connection to the test server's default database (no private schema). Fails the test
/// when it cannot connect.
[[nodiscard]] connection connect_to_server();

/// A schema of its own for one test case, created at construction and dropped (CASCADE) at
/// destruction, so test cases can run in parallel without seeing each other's tables.
class scratch_schema {
  public:
    scratch_schema();
    ~scratch_schema();
    scratch_schema(const scratch_schema&) = delete;
    scratch_schema& operator=(const scratch_schema&) = delete;

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// Server options whose search_path is this schema (then public).
    [[nodiscard]] connection_options options() const;
    /// A new connection whose search_path is this schema. Fails the test when it cannot.
    [[nodiscard]] connection connect() const;

  private:
    std::string name_;
};

}  // namespace pgkit::test
