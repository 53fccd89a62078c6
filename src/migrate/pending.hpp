#pragma once

// What migrate_up and its dry run (plan_migrate_up) share (private): the options check, the
// history checks, leaving plans' migrations to the plans, and which migrations are pending, so the
// dry run refuses exactly what migrate_up refuses and lists exactly what it would apply.

#include "pgkit/migrations.hpp"

#include "backfill/runs_table.hpp"
#include "migrate/history.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pgkit::detail::migrate {

/// checksum_mismatch: `m` was applied and has changed since.
[[nodiscard]] tl::unexpected<error> checksum_changed(const migration& m);

/// migration_refused with `message`.
[[nodiscard]] tl::unexpected<error> refuse(std::string message);

/// invalid_argument for options migrate_up cannot run with.
[[nodiscard]] result<void> check_options(const migrate_options& options);

/// check_migrations on a copy: the migrations sorted by version.
[[nodiscard]] result<std::vector<migration>> checked(std::span<const migration> migrations);

/// The migration with `version` in `all` (sorted), or nullptr.
[[nodiscard]] const migration* find(const std::vector<migration>& all, std::int64_t version);

/// Every history row has a migration whose checksum matches: migration_refused ("missing") or
/// checksum_mismatch otherwise.
[[nodiscard]] result<void> check_history(const std::vector<migration>& all,
                                         const std::vector<history_row>& history,
                                         const runs_table& home);

/// Leaves the migrations and history rows of recorded plans (plan_table.hpp) to the plans: a
/// plan applies its expand and contract itself, in its own order and behind its gates.
[[nodiscard]] result<void> leave_plans_out(connection& conn,
                                           const runs_table& home,
                                           std::vector<migration>& all,
                                           std::vector<history_row>& history);

struct pending_migration {
    const migration* m = nullptr;
    const history_row* partial = nullptr;  ///< its row when it stopped midway
};

/// What migrate_up applies, in order, up to `to_version`: migration_refused when a DOWN stopped
/// midway, a pending version is lower than an applied one (unless allow_out_of_order), or a
/// Requires names a version that is neither applied nor applied before it in this list.
[[nodiscard]] result<std::vector<pending_migration>> select_pending(
    const std::vector<migration>& all,
    const std::vector<history_row>& history,
    const migrate_options& options,
    std::optional<std::int64_t> to_version);

}  // namespace pgkit::detail::migrate
