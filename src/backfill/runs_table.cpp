#include "backfill/runs_table.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

namespace pgkit::detail {

namespace {

constexpr std::string_view runs_table_columns =
    "(name text PRIMARY KEY,"
    " table_name text NOT NULL,"
    " key_columns text[] NOT NULL,"
    " status text NOT NULL DEFAULT 'running',"
    " last_key text[],"
    " rows_done bigint NOT NULL DEFAULT 0,"
    " batches bigint NOT NULL DEFAULT 0,"
    " batch_size bigint,"
    " busy_ms bigint NOT NULL DEFAULT 0,"
    " started_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now(),"
    " finished_at timestamptz,"
    " error text)";

// One row per run that a runner in lease mode holds (or held, until it expired): see
// runner_lock.hpp. Times are the server's clock.
constexpr std::string_view leases_table_columns =
    "(name text PRIMARY KEY,"
    " token text NOT NULL,"
    " expires_at timestamptz NOT NULL,"
    " taken_at timestamptz NOT NULL DEFAULT clock_timestamp())";

result<void> create_table(connection& conn, std::string_view qualified, std::string_view columns) {
    const std::string ddl = fmt::format("CREATE TABLE IF NOT EXISTS {} {}", qualified, columns);
    auto created = conn.execute_script(ddl);
    // Two sessions creating the table at once: IF NOT EXISTS looks before it inserts into the
    // catalog, so the one that loses the race fails, as a duplicate catalog key (23505), or as
    // "relation" (42P07) or "type" (42710) "already exists", by where the two met. Each means the
    // other creator has committed, so the statement run again finds the table.
    const auto lost_race = [](const error& e) {
        return e.code() == errc::unique_violation || e.sqlstate() == "42P07" ||
               e.sqlstate() == "42710";
    };
    if (!created && lost_race(created.error())) {
        created = conn.execute_script(ddl);
    }
    if (!created) {
        return tl::unexpected(created.error());
    }
    return {};
}

}  // namespace

result<runs_table> locate_runs_table(connection& conn, std::string_view runs_schema) {
    return locate_lock_home(conn, runs_schema,
                            {.table = "pgkit_backfill_runs",
                             .leases = "pgkit_backfill_leases",
                             .schema_option = "runs_schema",
                             .lock_space = backfill_lock_space,
                             .noun = "backfill"});
}

result<runs_table> locate_lock_home(connection& conn,
                                    std::string_view schema_name,
                                    const lock_home_names& names) {
    if (!schema_name.empty()) {
        if (auto quoted = connection::quote_identifier(schema_name); !quoted) {
            return make_error(errc::invalid_argument,
                              fmt::format("{}: {} cannot be used: {}", names.noun,
                                          names.schema_option, quoted.error().message()));
        }
    }
    // One round trip: the schema (the given one, else current_schema()), whether it exists, and
    // whether its table and leases table do.
    auto found =
        conn.execute(
                "SELECT s, EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = s), "
                "to_regclass(quote_ident(s) || '.' || $2::text) IS NOT NULL, "
                "to_regclass(quote_ident(s) || '.' || $3::text) IS NOT NULL "
                "FROM (SELECT COALESCE(NULLIF($1::text, ''), current_schema()) AS s) AS pgkit_r",
                std::string{schema_name}, std::string{names.table}, std::string{names.leases})
            .and_then([](const query_result& r) { return r.one(); })
            .and_then(
                [](const row& r) { return r.as<std::optional<std::string>, bool, bool, bool>(); });
    if (!found) {
        return tl::unexpected(found.error());
    }
    auto& [schema, schema_exists, table_exists, leases_exist] = *found;
    if (!schema) {
        return make_error(errc::invalid_argument,
                          fmt::format("{}: search_path names no schema that exists, so the {} "
                                      "table has no home; set {}",
                                      names.noun, names.table, names.schema_option));
    }
    if (!schema_exists) {
        return make_error(
            errc::invalid_argument,
            fmt::format("{}: {} {} does not exist", names.noun, names.schema_option, *schema));
    }
    auto quoted = connection::quote_identifier(*schema);
    if (!quoted) {
        return tl::unexpected(quoted.error());
    }
    return runs_table{*schema,
                      fmt::format("{}.{}", *quoted, names.table),
                      table_exists,
                      fmt::format("{}.{}", *quoted, names.leases),
                      leases_exist,
                      names.lock_space,
                      std::string{names.noun}};
}

result<void> create_table_if_missing(connection& conn,
                                     std::string_view qualified,
                                     std::string_view columns) {
    return create_table(conn, qualified, columns);
}

result<void> create_runs_table(connection& conn, const runs_table& table) {
    return create_table(conn, table.qualified, runs_table_columns);
}

result<void> create_leases_table(connection& conn, const runs_table& table) {
    return create_table(conn, table.leases, leases_table_columns);
}

result<bool> leases_table_exists(connection& conn, const runs_table& table) {
    return conn.execute("SELECT to_regclass($1) IS NOT NULL", table.leases)
        .and_then(&query_result::scalar<bool>);
}

}  // namespace pgkit::detail
