#pragma once

// Helpers shared by the backfill integration tests: a table of counters, reading the runs table,
// and checking that every row was processed exactly once.

#include "pgkit/backfill.hpp"
#include "pgkit/connection.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pgkit::test {

/// The backfill the tests run on `items`: every row's counter goes up by one.
inline backfill_spec counter_spec(const std::string& name) {
    return {.name = name, .table = "items", .key = {"id"}, .set = "counter = counter + 1"};
}

/// Batches of exactly `size` rows (the adaptive sizing pinned), each aiming at 20 ms.
inline backfill_options fixed_batches(std::size_t size) {
    backfill_options options;
    options.min_batch_size = size;
    options.max_batch_size = size;
    options.initial_batch_size = size;
    options.target_batch_duration = std::chrono::milliseconds{20};
    return options;
}

/// `items(id bigint PRIMARY KEY, counter int, note text)` with ids 1..rows, counters 0.
inline void create_items(connection& conn, std::int64_t rows, std::string_view table = "items") {
    auto created = conn.execute_script(fmt::format(
        "CREATE TABLE {0} (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0, note text);"
        "INSERT INTO {0} (id) SELECT g FROM generate_series(1, {1}) g; ANALYZE {0}",
        table, rows));
    REQUIRE_MESSAGE(created, created.error().to_string());
}

inline std::int64_t count_where(connection& conn, std::string_view sql) {
    auto n = conn.execute(sql).and_then(&query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(n, n.error().to_string());
    return *n;
}

/// The run's status in pgkit_backfill_runs, or "" when there is no such run.
inline std::string run_status(connection& conn, const std::string& name) {
    auto status = conn.execute("SELECT status FROM pgkit_backfill_runs WHERE name = $1", name);
    REQUIRE_MESSAGE(status, status.error().to_string());
    if (status->empty()) {
        return "";
    }
    return *(*status)[0].get<std::string>(0);
}

inline std::int64_t run_rows_done(connection& conn, const std::string& name) {
    auto rows = conn.execute(
        "SELECT COALESCE(max(rows_done), 0)::int8 FROM pgkit_backfill_runs WHERE name = $1", name);
    if (!rows) {
        return 0;  // the table may not exist yet
    }
    return *rows->scalar<std::int64_t>();
}

/// A unique run name per test case (each test's runs table is in its own schema, but a name that
/// says which test made it is easier to follow in pg_locks and server logs).
inline std::string run_name(const scratch_schema& schema, std::string_view what) {
    return fmt::format("{}-{}", what, schema.name());
}

/// The runner lock's keys as docs/backfill.md gives them, for statements with parameters $1 (the
/// runs table's schema) and $2 (the run's name).
inline std::string runner_lock_keys() {
    return fmt::format("{}, hashtext(quote_ident($1::text) || '.' || $2::text)",
                       backfill_lock_space);
}

/// Sessions holding the runner lock of run `name` in the runs table of `runs_schema`, as pg_locks
/// shows them.
inline std::int64_t runner_lock_holders(connection& conn,
                                        const std::string& runs_schema,
                                        const std::string& name) {
    auto n =
        conn.execute(fmt::format("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND "
                                 "granted AND objsubid = 2 AND classid = {}::oid AND objid = "
                                 "(hashtext(quote_ident($1::text) || '.' || $2::text))::oid",
                                 static_cast<std::uint32_t>(backfill_lock_space)),
                     runs_schema, name)
            .and_then(&query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(n, n.error().to_string());
    return *n;
}

/// A run's lease row (lease mode) as the server sees it now.
struct lease_view {
    std::string token;
    bool live = false;         ///< not expired, by the server's clock
    std::int64_t ms_left = 0;  ///< until it expires (negative once expired)
    std::string expires_at{};  ///< expires_at as text
};

/// The lease row of run `name` in the search_path's pgkit_backfill_leases; nullopt when there is
/// none (or no leases table yet).
inline std::optional<lease_view> run_lease(connection& conn, const std::string& name) {
    auto found = conn.execute(
        "SELECT token, expires_at > clock_timestamp(), (extract(epoch FROM expires_at - "
        "clock_timestamp()) * 1000)::int8, expires_at::text FROM pgkit_backfill_leases WHERE "
        "name = $1",
        name);
    if (!found || found->empty()) {
        return std::nullopt;
    }
    auto fields = (*found)[0].as<std::string, bool, std::int64_t, std::string>();
    REQUIRE_MESSAGE(fields, fields.error().to_string());
    auto& [token, live, ms_left, expires_at] = *fields;
    return lease_view{token, live, ms_left, expires_at};
}

/// Tables named `table` in schema `schema` (exact names, no search_path).
inline std::int64_t tables_named(connection& conn,
                                 std::string_view schema,
                                 std::string_view table) {
    auto n = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                          std::string{schema}, std::string{table})
                 .and_then(&query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(n, n.error().to_string());
    return *n;
}

/// A schema with an awkward name (a space, a dot, double quotes, upper case), created for one test
/// case and dropped with everything in it at the end.
class odd_schema {
  public:
    explicit odd_schema(const scratch_schema& base)
        : name_(base.name() + " Runs.\"q\""), conn_(base.connect()) {
        auto created = conn_.execute_script("CREATE SCHEMA " + quoted());
        REQUIRE_MESSAGE(created, created.error().to_string());
    }
    ~odd_schema() { (void)conn_.execute_script("DROP SCHEMA IF EXISTS " + quoted() + " CASCADE"); }
    odd_schema(const odd_schema&) = delete;
    odd_schema& operator=(const odd_schema&) = delete;

    [[nodiscard]] const std::string& name() const noexcept { return name_; }

  private:
    [[nodiscard]] std::string quoted() const { return *connection::quote_identifier(name_); }
    std::string name_;
    connection conn_;
};

}  // namespace pgkit::test
