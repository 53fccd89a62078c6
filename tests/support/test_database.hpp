#pragma once

// The test harness's view of the server: where it is, and a schema of its own per test case.
//
// The suites can also run behind a pooler in transaction mode (PgBouncer `pool_mode =
// transaction`, as tests/CMakeLists.txt registers some of them a second time):
//   PGKIT_TEST_POOLER=transaction  the tests talk to the server through such a pooler
//   PGKIT_TEST_URL_FILE            then names the file holding the pooler's URL
//   PGKIT_TEST_DIRECT_URL_FILE     the file holding the server's own URL (a superuser), for what
//                                  the harness does beside the tests (CREATE ROLE, DROP ROLE)
// PGKIT_TEST_DATABASE_URL and PGKIT_TEST_DIRECT_DATABASE_URL, when set, take the place of the
// two files. Every connection the tests make then has pooler = pooler_mode::transaction, and
// each scratch_schema logs in as a role of its own whose search_path is pinned to the schema
// (the pooler refuses the `options` startup parameter).

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"

#include <string>

namespace pgkit::test {

/// True when PGKIT_TEST_POOLER=transaction: the tests reach the server through a pooler in
/// transaction mode. Any other non-empty value fails the test run.
[[nodiscard]] bool behind_transaction_pooler();

/// The pooler mode every connection of the tests uses (see behind_transaction_pooler()).
[[nodiscard]] pooler_mode test_pooler_mode();

/// The test server as the tests reach it: PGKIT_TEST_DATABASE_URL when set, else the URL in the
/// file named by PGKIT_TEST_URL_FILE (CTest's pg_server fixture, or PgBouncer's URL behind a
/// pooler), with test_pooler_mode(). Aborts the test run with a clear message when neither
/// exists: integration tests never skip silently.
[[nodiscard]] connection_options server_options();
/// The test server's URL as given (PGKIT_TEST_DATABASE_URL, else the file PGKIT_TEST_URL_FILE
/// names), for clients other than pgkit (libpqxx, psql).
[[nodiscard]] std::string server_url();

/// The server itself, never through a pooler, as a superuser: for administrative work. The same
/// as server_options() unless behind_transaction_pooler(), when it is
/// PGKIT_TEST_DIRECT_DATABASE_URL or the URL in the file PGKIT_TEST_DIRECT_URL_FILE names.
[[nodiscard]] connection_options direct_server_options();

/// A connection to the test server's default database (no private schema). Fails the test
/// when it cannot connect.
[[nodiscard]] connection connect_to_server();

/// A connection to the server itself (direct_server_options()). Fails the test when it cannot.
[[nodiscard]] connection connect_directly();

/// A schema of its own for one test case, created at construction and dropped (CASCADE) at
/// destruction, so test cases can run in parallel without seeing each other's tables.
///
/// Behind a transaction-mode pooler it also creates a role of the same name, which logs in
/// through the pooler and whose search_path is the schema, then public (ALTER ROLE ... SET),
/// and drops the role, what it owns and its server sessions at destruction.
class scratch_schema {
  public:
    scratch_schema();
    ~scratch_schema();
    scratch_schema(const scratch_schema&) = delete;
    scratch_schema& operator=(const scratch_schema&) = delete;

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// Server options whose search_path is this schema (then public): the `options` startup
    /// parameter, or behind a pooler the schema's role, with pooler_mode::transaction.
    [[nodiscard]] connection_options options() const;
    /// A new connection whose search_path is this schema. Fails the test when it cannot.
    [[nodiscard]] connection connect() const;

  private:
    std::string name_;
};

}  // namespace pgkit::test
