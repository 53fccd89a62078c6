#include "migrate/plan_table.hpp"

#include <fmt/format.h>

#include <tuple>

namespace pgkit::detail::migrate {
namespace {

constexpr std::string_view plans_columns =
    "(name text PRIMARY KEY,"
    " expand_version bigint NOT NULL UNIQUE,"
    " contract_version bigint NOT NULL UNIQUE,"
    " backfill text NOT NULL,"
    " registered_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " CHECK (expand_version < contract_version))";

/// `"schema".pgkit_migration_plans`, next to the history table.
result<std::string> plans_table(const runs_table& history) {
    auto schema = connection::quote_identifier(history.schema);
    if (!schema) {
        return tl::unexpected(schema.error());
    }
    return *schema + ".pgkit_migration_plans";
}

}  // namespace

result<std::vector<plan_row>> read_plans(connection& conn, const runs_table& history) {
    std::vector<plan_row> rows;
    auto table = plans_table(history);
    if (!table) {
        return tl::unexpected(table.error());
    }
    auto exists = conn.execute("SELECT to_regclass($1) IS NOT NULL", *table)
                      .and_then(&query_result::scalar<bool>);
    if (!exists) {
        return tl::unexpected(exists.error());
    }
    if (!*exists) {
        return rows;
    }
    auto found = conn.execute(fmt::format(
        "SELECT name, expand_version, contract_version, backfill FROM {} ORDER BY name", *table));
    if (!found) {
        return tl::unexpected(found.error());
    }
    for (const auto& r : *found) {
        auto fields = r.as<std::string, std::int64_t, std::int64_t, std::string>();
        if (!fields) {
            return tl::unexpected(fields.error());
        }
        auto& [name, expand, contract, backfill] = *fields;
        rows.push_back(plan_row{std::move(name), expand, contract, std::move(backfill)});
    }
    return rows;
}

result<std::set<std::int64_t>> plan_versions(connection& conn, const runs_table& history) {
    auto plans = read_plans(conn, history);
    if (!plans) {
        return tl::unexpected(plans.error());
    }
    std::set<std::int64_t> versions;
    for (const auto& p : *plans) {
        versions.insert(p.expand_version);
        versions.insert(p.contract_version);
    }
    return versions;
}

result<void> register_plan(connection& conn, const runs_table& history, const plan_row& plan) {
    auto table = plans_table(history);
    if (!table) {
        return tl::unexpected(table.error());
    }
    if (auto created = create_table_if_missing(conn, *table, plans_columns); !created) {
        return created;
    }
    auto plans = read_plans(conn, history);
    if (!plans) {
        return tl::unexpected(plans.error());
    }
    for (const auto& p : *plans) {
        const bool same_name = p.name == plan.name;
        if (same_name && std::tie(p.expand_version, p.contract_version, p.backfill) ==
                             std::tie(plan.expand_version, plan.contract_version, plan.backfill)) {
            return {};
        }
        const bool shares_version = p.expand_version == plan.expand_version ||
                                    p.contract_version == plan.contract_version ||
                                    p.expand_version == plan.contract_version ||
                                    p.contract_version == plan.expand_version;
        if (same_name || shares_version) {
            return make_error(
                errc::migration_refused,
                fmt::format("plan {}: {} records plan {} with expand {}, backfill {} and contract "
                            "{}; this plan has expand {}, backfill {} and contract {}: nothing "
                            "was applied",
                            plan.name, *table, p.name, p.expand_version, p.backfill,
                            p.contract_version, plan.expand_version, plan.backfill,
                            plan.contract_version));
        }
    }
    auto inserted = conn.execute(
        fmt::format("INSERT INTO {} (name, expand_version, contract_version, backfill) VALUES "
                    "($1, $2, $3, $4)",
                    *table),
        plan.name, plan.expand_version, plan.contract_version, plan.backfill);
    if (!inserted) {
        return tl::unexpected(inserted.error());
    }
    return {};
}

}  // namespace pgkit::detail::migrate
