#pragma once

/// Expand -> backfill -> contract plans (docs/migrations.md, "Plans"): an expand migration, a
/// named backfill run through run_backfill (resumable, throttled), a VALIDATE of the plan's NOT
/// VALID constraints, gates, and a contract migration that refuses while a gate fails. The
/// expand and contract are recorded in the migrations' history table like any migration; the
/// backfill in its runs table. Where a plan stands is read from those two, so a plan killed at
/// any point resumes where it stopped.
///
/// ```cpp
/// pgkit::migration_plan plan{.name = "users_phone", .expand = expand, .backfill = fill,
///                            .validate_checks = {"users_phone_not_null"},
///                            .no_nulls = {"phone"}, .contract = contract};
/// auto report = pgkit::run_plan(*pool, plan);   // every step not done yet
/// ```

#include "pgkit/backfill.hpp"
#include "pgkit/error.hpp"
#include "pgkit/migrations.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

class pool;

/// One plan. Its expand version must be lower than its contract version; neither may be in the
/// migrations given to migrate_up (once the plan is recorded, migrate_up, migrate_down and
/// migrations_status leave them to the plan).
struct migration_plan {
    /// Identifies the plan in pgkit_migration_plans (next to the history table).
    std::string name{};
    /// Adds what the new code writes: the column, a CHECK (c IS NOT NULL) NOT VALID, ...
    migration expand{};
    /// Fills the old rows; `backfill.table` (and `schema`) is the table the gates read.
    backfill_spec backfill{};
    /// Constraints of the backfill's table the validate step runs VALIDATE CONSTRAINT on, after
    /// the backfill; the gate "validated" checks each (pg_constraint.convalidated).
    std::vector<std::string> validate_checks{};
    /// Columns of the backfill's table that must hold no NULL (gate "no_nulls").
    std::vector<std::string> no_nulls{};
    /// An optional query whose first value must be true (gate "user"); empty: none.
    std::string gate_sql{};
    /// Removes what the old code needed, or tightens (SET NOT NULL, DROP the CHECK, ...).
    migration contract{};
};

struct plan_options {
    /// The history table, runner lock and lock discipline of the expand and contract (and the
    /// VALIDATE's lock_timeout: long_lock_timeout).
    migrate_options migrate{};
    /// Passed to run_backfill as they are.
    backfill_options backfill{};
};

/// The steps, in order.
enum class plan_step { expand, backfill, validate, contract, done };
[[nodiscard]] std::string_view to_string(plan_step step) noexcept;

/// One gate's outcome.
struct plan_gate {
    /// "verify", "backfill_done", "no_nulls(<column>)", "validated(<constraint>)" or "user".
    std::string name{};
    bool passed = false;
    /// What it found ("1234 NULLs left", "not validated", "VERIFY statement 1 ... gave f").
    std::string detail{};
};

/// Where a plan stands, read from the history table, the backfill's runs table and the catalog.
struct migration_plan_status {
    std::string name{};
    /// The next step to run (done when the contract is applied).
    plan_step next = plan_step::expand;
    migration_state expand = migration_state::pending;    ///< pending, partial, applied, changed
    backfill_state backfill{};                            ///< inspect_backfill's answer
    migration_state contract = migration_state::pending;  ///< pending, partial, applied, changed
    /// Every gate, evaluated when the expand is applied and the contract is not (else empty).
    std::vector<plan_gate> gates{};
    /// Whether every gate passed (false while they are not evaluated).
    bool gates_pass = false;
};

/// Reads where the plan stands and evaluates its gates. Writes nothing, takes no lock.
[[nodiscard]] result<migration_plan_status> inspect_plan(pool& pool,
                                                         const migration_plan& plan,
                                                         const plan_options& options = {});

/// The expand step: records the plan, then applies its expand migration (resumes it when a
/// non-transactional one stopped midway). True when applied now, false when it was already.
[[nodiscard]] result<bool> run_plan_expand(pool& pool,
                                           const migration_plan& plan,
                                           const plan_options& options = {});

/// The backfill step: run_backfill(plan.backfill, options.backfill), which resumes a run that
/// was stopped. migration_refused while the expand is not applied.
[[nodiscard]] result<backfill_report> run_plan_backfill(pool& pool,
                                                        const migration_plan& plan,
                                                        const plan_options& options = {});

/// The validate step: ALTER TABLE ... VALIDATE CONSTRAINT for each of validate_checks (under
/// long_lock_timeout; a validated one costs nothing). migration_refused while the backfill is
/// not done; the server's check_violation when a row still breaks a constraint.
[[nodiscard]] result<void> run_plan_validate(pool& pool,
                                             const migration_plan& plan,
                                             const plan_options& options = {});

/// The contract step: under the runner lock, evaluates every gate and applies the contract only
/// when all pass. migration_refused naming each failing gate and what it found, nothing applied.
/// True when applied now, false when it was already.
[[nodiscard]] result<bool> run_plan_contract(pool& pool,
                                             const migration_plan& plan,
                                             const plan_options& options = {});

struct plan_report {
    std::vector<plan_step> ran{};               ///< the steps that did something in this call
    std::optional<backfill_report> backfill{};  ///< the backfill step's report, when it ran
    /// done, or backfill when the backfill ended paused or cancelled (run_plan again resumes).
    plan_step reached = plan_step::expand;
};

/// Every step not done yet, in order: expand, backfill, validate, contract. Killed or stopped at
/// any point, the next call resumes where the plan stands. Stops with the backfill's report when
/// it ends paused or cancelled; fails with the first step's error (migration_refused for the
/// contract's gates).
[[nodiscard]] result<plan_report> run_plan(pool& pool,
                                           const migration_plan& plan,
                                           const plan_options& options = {});

}  // namespace pgkit
