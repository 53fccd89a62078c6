// The history checks and the pending selection that migrate_up and plan_migrate_up share.

#include "migrate/pending.hpp"

#include "migrate/plan_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace pgkit::detail::migrate {
tl::unexpected<error> checksum_changed(const migration& m) {
    return make_error(errc::checksum_mismatch,
                      fmt::format("{} (version {}) was applied, and has changed since (its "
                                  "checksum differs from the history's): restore it, or accept "
                                  "it with repair_migration; nothing was applied",
                                  m.source, m.version));
}

tl::unexpected<error> refuse(std::string message) {
    return make_error(errc::migration_refused, std::move(message));
}

result<void> check_options(const migrate_options& options) {
    if (auto ok = options.retry.validate(); !ok) {
        return ok;
    }
    if (options.lock_timeout.count() <= 0 || options.long_lock_timeout.count() <= 0) {
        return make_error(errc::invalid_argument,
                          "migrations: lock_timeout and long_lock_timeout must be positive");
    }
    if (options.runner_lock_wait.count() < 0 || options.runner_lock_poll.count() <= 0) {
        return make_error(errc::invalid_argument,
                          "migrations: runner_lock_wait must not be negative and "
                          "runner_lock_poll must be positive");
    }
    if (options.runner_lock == migration_runner_lock::lease &&
        options.lease_duration < std::chrono::seconds{1}) {
        return make_error(errc::invalid_argument,
                          "migrations: lease_duration must be at least 1 s");
    }
    return {};
}

result<std::vector<migration>> checked(std::span<const migration> migrations) {
    return check_migrations(std::vector<migration>(migrations.begin(), migrations.end()));
}

const migration* find(const std::vector<migration>& all, std::int64_t version) {
    auto it = std::lower_bound(all.begin(), all.end(), version,
                               [](const migration& m, std::int64_t v) { return m.version < v; });
    return it != all.end() && it->version == version ? &*it : nullptr;
}

/// The history checks shared by up and down: every row has a migration whose checksum matches.
result<void> check_history(const std::vector<migration>& all,
                           const std::vector<history_row>& history,
                           const runs_table& home) {
    for (const auto& row : history) {
        const migration* m = find(all, row.version);
        if (m == nullptr) {
            return refuse(
                fmt::format("version {} ({}) is in the history ({}) but no migration "
                            "has it: it was applied from a source that is missing "
                            "now; nothing was applied",
                            row.version, row.name, home.qualified));
        }
        if (migration_checksum(*m) != row.checksum) {
            return checksum_changed(*m);
        }
    }
    return {};
}

result<std::vector<pending_migration>> select_pending(const std::vector<migration>& all,
                                                      const std::vector<history_row>& history,
                                                      const migrate_options& options,
                                                      std::optional<std::int64_t> to_version) {
    std::map<std::int64_t, const history_row*> rows;
    std::int64_t highest_applied = 0;
    for (const auto& row : history) {
        rows[row.version] = &row;
        if (row.state == "reverting") {
            return refuse(
                fmt::format("{} (version {}) is being reverted (a DOWN stopped midway): "
                            "finish it with migrate_down; nothing was applied",
                            find(all, row.version)->source, row.version));
        }
        if (row.state == "applied") {
            highest_applied = std::max(highest_applied, row.version);
        }
    }
    std::vector<pending_migration> pending;
    for (const migration& m : all) {
        if (to_version && m.version > *to_version) {
            break;
        }
        auto row = rows.find(m.version);
        if (row != rows.end() && row->second->state == "applied") {
            continue;
        }
        if (row == rows.end() && m.version < highest_applied && !options.allow_out_of_order) {
            return refuse(
                fmt::format("{} (version {}) is pending, but version {} is applied "
                            "already: out of order (allow_out_of_order applies it); "
                            "nothing was applied",
                            m.source, m.version, highest_applied));
        }
        for (std::int64_t required : m.requires_versions) {
            auto req = rows.find(required);
            const bool applied =
                (req != rows.end() && req->second->state == "applied") ||
                std::any_of(pending.begin(), pending.end(),
                            [&](const pending_migration& p) { return p.m->version == required; });
            if (!applied) {
                return refuse(
                    fmt::format("{} (version {}) requires version {}, which is not "
                                "applied; nothing was applied",
                                m.source, m.version, required));
            }
        }
        pending.push_back(pending_migration{&m, row == rows.end() ? nullptr : row->second});
    }
    return pending;
}

result<void> leave_plans_out(connection& conn,
                             const runs_table& home,
                             std::vector<migration>& all,
                             std::vector<history_row>& history) {
    auto versions = plan_versions(conn, home);
    if (!versions) {
        return tl::unexpected(versions.error());
    }
    std::erase_if(all, [&](const migration& m) { return versions->contains(m.version); });
    std::erase_if(history, [&](const history_row& row) { return versions->contains(row.version); });
    return {};
}

}  // namespace pgkit::detail::migrate
