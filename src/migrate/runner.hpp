#pragma once

// The runner's entry points for expand/backfill/contract plans (private, src/migrate/plan.cpp):
// one migration applied as migrate_up applies it (runner lock, history row, a transaction or
// statement by statement with resume), with a check of the plan's own made on the runner's
// session under the runner lock, and a migration's VERIFY run on its own.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/migrations.hpp"

#include "backfill/runs_table.hpp"

#include <functional>

namespace pgkit {
class pool;
}

namespace pgkit::detail::migrate {

/// Runs on the runner's session, under the runner lock, after the history checks and before
/// anything of the migration is applied (also when it is applied already); an error stops the
/// step, nothing applied.
using before_apply = std::function<result<void>(connection&, const runs_table&)>;

/// Applies `m` (or resumes it, when partial) under the runner lock, recorded in the history like
/// any migration, whatever else the history holds (the plan decides its order). False when it
/// was applied already; checksum_mismatch when its source changed since; migration_refused when
/// a DOWN of it stopped midway.
[[nodiscard]] result<bool> apply_one(pool& pool,
                                     const migration& m,
                                     const migrate_options& options,
                                     const before_apply& before);

/// Runs `m`'s VERIFY statements on `conn`: check_violation naming the statement that failed.
[[nodiscard]] result<void> verify_migration(connection& conn, const migration& m);

}  // namespace pgkit::detail::migrate
