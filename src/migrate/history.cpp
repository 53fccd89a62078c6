#include "migrate/history.hpp"

#include "pgkit/types/chrono.hpp"

#include <fmt/format.h>

namespace pgkit::detail::migrate {
namespace {

constexpr std::string_view history_columns =
    "(version bigint PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " state text NOT NULL DEFAULT 'applied' CHECK (state IN ('applied', 'partial', 'reverting')),"
    " next_statement integer NOT NULL DEFAULT 0,"
    " applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " duration_ms bigint,"
    " applied_by text NOT NULL DEFAULT current_user,"
    " error text)";

result<void> done(const result<query_result>& r) {
    if (!r) {
        return tl::unexpected(r.error());
    }
    return {};
}

}  // namespace

result<runs_table> locate_history(connection& conn, std::string_view schema) {
    return locate_lock_home(conn, schema,
                            {.table = history_table_name,
                             .leases = "pgkit_migration_leases",
                             .schema_option = "history_schema",
                             .lock_space = migration_lock_space,
                             .noun = "migrations"});
}

result<void> create_history(connection& conn, const runs_table& table) {
    return create_table_if_missing(conn, table.qualified, history_columns);
}

result<std::vector<history_row>> read_history(connection& conn, const runs_table& table) {
    std::vector<history_row> rows;
    auto exists = conn.execute("SELECT to_regclass($1) IS NOT NULL", table.qualified)
                      .and_then(&query_result::scalar<bool>);
    if (!exists) {
        return tl::unexpected(exists.error());
    }
    if (!*exists) {
        return rows;
    }
    auto found = conn.execute(
        fmt::format("SELECT version, name, checksum, state, next_statement, applied_at, "
                    "duration_ms, applied_by FROM {} ORDER BY version",
                    table.qualified));
    if (!found) {
        return tl::unexpected(found.error());
    }
    for (const auto& r : *found) {
        auto fields =
            r.as<std::int64_t, std::string, std::string, std::string, std::int32_t,
                 std::chrono::system_clock::time_point, std::optional<std::int64_t>, std::string>();
        if (!fields) {
            return tl::unexpected(fields.error());
        }
        auto& [version, name, checksum, state, next, at, duration, by] = *fields;
        rows.push_back(history_row{version, std::move(name), std::move(checksum), std::move(state),
                                   next, at, duration, std::move(by)});
    }
    return rows;
}

result<void> insert_row(connection& conn,
                        const runs_table& table,
                        const migration& m,
                        std::string_view state,
                        std::optional<std::int64_t> duration_ms) {
    return done(conn.execute(
        fmt::format("INSERT INTO {} (version, name, checksum, state, duration_ms) VALUES ($1, $2, "
                    "$3, $4, $5)",
                    table.qualified),
        m.version, m.name, migration_checksum(m), std::string{state}, duration_ms));
}

result<void> set_progress(connection& conn,
                          const runs_table& table,
                          std::int64_t version,
                          std::string_view state,
                          std::int32_t next_statement) {
    return done(conn.execute(
        fmt::format("UPDATE {} SET state = $2, next_statement = $3, error = NULL WHERE version = "
                    "$1",
                    table.qualified),
        version, std::string{state}, next_statement));
}

result<void> mark_applied(connection& conn,
                          const runs_table& table,
                          std::int64_t version,
                          std::int64_t duration_ms) {
    return done(conn.execute(
        fmt::format("UPDATE {} SET state = 'applied', next_statement = 0, error = NULL, "
                    "duration_ms = $2, applied_at = clock_timestamp() WHERE version = $1",
                    table.qualified),
        version, duration_ms));
}

result<void> record_error(connection& conn,
                          const runs_table& table,
                          std::int64_t version,
                          std::string_view message) {
    return done(
        conn.execute(fmt::format("UPDATE {} SET error = $2 WHERE version = $1", table.qualified),
                     version, std::string{message}));
}

result<void> delete_row(connection& conn, const runs_table& table, std::int64_t version) {
    return done(
        conn.execute(fmt::format("DELETE FROM {} WHERE version = $1", table.qualified), version));
}

result<std::uint64_t> repair_row(connection& conn, const runs_table& table, const migration& m) {
    auto updated = conn.execute(
        fmt::format("UPDATE {} SET checksum = $2, name = $3 WHERE version = $1", table.qualified),
        m.version, migration_checksum(m), m.name);
    if (!updated) {
        return tl::unexpected(updated.error());
    }
    return updated->affected_rows();
}

}  // namespace pgkit::detail::migrate
