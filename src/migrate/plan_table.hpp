#pragma once

// Which migrations belong to expand/backfill/contract plans (private): pgkit_migration_plans,
// next to the history table, one row per plan naming its expand and contract versions and its
// backfill. It records membership only; where a plan stands is read from the history table and
// the backfill's runs table (docs/migrations.md, "Plans"). migrate_up, migrate_down and
// migrations_status leave the versions it names to the plan.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"

#include "backfill/runs_table.hpp"

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace pgkit::detail::migrate {

struct plan_row {
    std::string name;
    std::int64_t expand_version = 0;
    std::int64_t contract_version = 0;
    std::string backfill;  ///< the backfill's run name
};

/// Records a plan (creating the table when missing). migration_refused when a plan of that name
/// was recorded with other versions or another backfill, or another plan has one of its versions.
[[nodiscard]] result<void> register_plan(connection& conn,
                                         const runs_table& history,
                                         const plan_row& plan);

/// Every recorded plan; none when the table does not exist.
[[nodiscard]] result<std::vector<plan_row>> read_plans(connection& conn, const runs_table& history);

/// The expand and contract versions of every recorded plan.
[[nodiscard]] result<std::set<std::int64_t>> plan_versions(connection& conn,
                                                           const runs_table& history);

}  // namespace pgkit::detail::migrate
