#pragma once

/// Versioned schema migrations (docs/migrations.md): SQL files with UP, DOWN and VERIFY sections,
/// or the same defined in C++; a history table in a schema of the caller's choice; one runner at
/// a time (a runner lock polled outside any transaction); a transaction per migration except for
/// statements that cannot run in one; blocking DDL under a short lock_timeout, retried with
/// backoff and jitter; verify_migrations runs the applied migrations' VERIFY sections again.
/// The linter and the dry run are in pgkit/migration_lint.hpp; expand/backfill/contract plans
/// in pgkit/migration_plan.hpp. The `pgkit migrate` command drives the runner and the linter.

#include "pgkit/error.hpp"
#include "pgkit/retry_policy.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

class pool;  // pgkit/pool.hpp (not included: the file format needs no pool)

/// The first key of the migration runner's two-key advisory lock
/// (`pg_try_advisory_lock(migration_lock_space, hashtext(quote_ident(schema) || '.' || table))`).
inline constexpr std::int32_t migration_lock_space = 0x70676B6D;  // "pgkm"

/// One migration. Built by load_migrations / parse_migration from a file, or by the application.
struct migration {
    std::int64_t version = 0;  ///< > 0; unique among the migrations of one history
    std::string name;          ///< a short description (from the file name)
    std::string up;            ///< SQL, one or more statements separated by ';'
    std::string down;          ///< SQL that reverts `up`; empty: the migration cannot be reverted
    std::string verify;        ///< queries that must each return a first value that is not
                               ///< false, NULL or 0; empty: nothing to verify
    std::string risk;          ///< "low", "medium", "high" or empty
    std::vector<std::int64_t> requires_versions;  ///< versions that must be applied first
    std::string source;  ///< where it came from, for messages: the file's path, or a label
    /// The file lines the UP, DOWN and VERIFY texts start on (their marker's line; line n of a
    /// section is file line `up_line + n - 1`); 0 when not read from a file. Not in the checksum.
    std::size_t up_line = 0;
    std::size_t down_line = 0;
    std::size_t verify_line = 0;
};

struct migration_source_options {
    /// Refuse (migration_source_invalid) a migration without a DOWN section.
    bool require_down = false;
};

/// Parses one migration file's text. `file_name` gives the version and the name
/// (`<digits>_<name>.sql`) and is the source in messages. migration_source_invalid naming the
/// file and line for: a malformed file name, SQL before the first section marker, an unknown or
/// repeated section, no UP section, a Risk other than low/medium/high, a Requires that is not a
/// list of versions, an unterminated string or comment, transaction control inside a section
/// (other than one BEGIN ... COMMIT around the whole section, which is dropped: the runner
/// opens the transactions itself), a missing DOWN when options.require_down.
[[nodiscard]] result<migration> parse_migration(std::string_view file_name,
                                                std::string_view text,
                                                const migration_source_options& options = {});

/// Every `*.sql` file in `directory` (not recursive), parsed, checked with check_migrations, in
/// version order. invalid_argument when the directory cannot be read.
[[nodiscard]] result<std::vector<migration>> load_migrations(
    const std::filesystem::path& directory, const migration_source_options& options = {});

/// Checks migrations defined in C++ (or loaded) as parse_migration checks a file, and across
/// them: duplicate versions (naming both sources), Requires naming a version that does not exist
/// or is not lower. Returns them sorted by version.
[[nodiscard]] result<std::vector<migration>> check_migrations(
    std::vector<migration> migrations, const migration_source_options& options = {});

/// The checksum recorded for a migration: SHA-256 (hex) of its UP, DOWN and VERIFY text.
[[nodiscard]] std::string migration_checksum(const migration& m);

/// What migrate_up and migrate_down report as they go (migrate_options::on_progress).
struct migration_progress {
    enum class step { started, finished, failed };
    step what = step::started;
    bool up = true;  ///< UP (migrate_up) or DOWN (migrate_down)
    std::int64_t version = 0;
    std::string name;
    std::string source;
    /// finished, failed: how long the migration's section took.
    std::chrono::milliseconds elapsed{0};
};

enum class migration_runner_lock {
    advisory,  ///< a session-level advisory lock in migration_lock_space, polled
    lease,     ///< a lease row (pgkit_migration_leases) that needs no session: works behind
               ///< PgBouncer in transaction mode
};

struct migrate_options {
    /// The schema of the history table pgkit_migrations (created on the first run); empty:
    /// current_schema().
    std::string history_schema{};
    /// Blocking DDL runs under SET LOCAL lock_timeout = this; a timeout rolls the attempt back
    /// and retries it per `retry`.
    std::chrono::milliseconds lock_timeout{2000};
    /// The lock_timeout of CONCURRENTLY builds and VALIDATE CONSTRAINT, which wait for older
    /// transactions (that wait counts against lock_timeout).
    std::chrono::milliseconds long_lock_timeout{std::chrono::minutes{10}};
    /// Attempts and backoff (with jitter) after a lock timeout.
    retry_policy retry{.max_attempts = 5,
                       .initial_backoff = std::chrono::milliseconds{200},
                       .max_backoff = std::chrono::milliseconds{5000}};
    /// How long to poll for the runner lock before giving up with already_running.
    std::chrono::milliseconds runner_lock_wait{std::chrono::seconds{60}};
    std::chrono::milliseconds runner_lock_poll{std::chrono::milliseconds{100}};
    migration_runner_lock runner_lock = migration_runner_lock::advisory;
    /// Lease mode: how long a lease lasts after each renewal (renewed between statements).
    std::chrono::milliseconds lease_duration{std::chrono::minutes{10}};
    /// Apply a pending migration whose version is lower than an applied one (refused by default).
    bool allow_out_of_order = false;
    /// Called, on the caller's thread, when a migration's UP or DOWN starts and when it has
    /// finished or failed (a command-line tool prints progress from it). Empty: not called.
    std::function<void(const migration_progress&)> on_progress{};
};

enum class migration_state {
    pending,    ///< not applied
    applied,    ///< applied, checksum matches
    changed,    ///< applied, but the source changed since (checksum_mismatch until repaired)
    partial,    ///< a non-transactional migration stopped midway; migrate_up resumes it
    reverting,  ///< a non-transactional DOWN stopped midway; migrate_down resumes it
    missing,    ///< in the history, but no migration has its version
};

[[nodiscard]] std::string_view to_string(migration_state state) noexcept;

struct migration_status {
    std::int64_t version = 0;
    std::string name;
    migration_state state = migration_state::pending;
    std::optional<std::chrono::system_clock::time_point> applied_at;
    std::optional<std::int64_t> duration_ms;
    std::string applied_by;
    /// partial / reverting: the 0-based statement to resume at.
    std::optional<std::int32_t> next_statement;
    std::string source;
};

struct migrate_result {
    std::vector<std::int64_t> applied;   ///< versions applied (migrate_up), in order
    std::vector<std::int64_t> reverted;  ///< versions reverted (migrate_down), in order
};

/// Applies the pending migrations up to `to_version` (all when nullopt), in version order, one
/// runner at a time. Before applying anything, under the runner lock, it checks the history:
/// checksum_mismatch for an applied migration whose source changed; migration_refused for an
/// applied version no migration has, a pending version lower than an applied one (unless
/// allow_out_of_order), a migration being reverted. A transactional migration that fails is
/// rolled back; a non-transactional one records the statement it failed at, and the next call
/// resumes there (after dropping an invalid index a failed CONCURRENTLY build left). Errors
/// name the migration's source and the statement.
[[nodiscard]] result<migrate_result> migrate_up(pool& pool,
                                                std::span<const migration> migrations,
                                                const migrate_options& options = {},
                                                std::optional<std::int64_t> to_version = {});

/// Reverts applied migrations above `to_version` (0: all), highest first, with their DOWN
/// sections. migration_refused, before reverting anything, when one of them has no DOWN or no
/// source; checksum_mismatch when one's source changed.
[[nodiscard]] result<migrate_result> migrate_down(pool& pool,
                                                  std::span<const migration> migrations,
                                                  std::int64_t to_version,
                                                  const migrate_options& options = {});

/// Every migration and history row, by version. Writes nothing (takes no lock).
[[nodiscard]] result<std::vector<migration_status>> migrations_status(
    pool& pool, std::span<const migration> migrations, const migrate_options& options = {});

/// The outcome of one applied migration's VERIFY section (verify_migrations).
struct migration_verification {
    std::int64_t version = 0;
    std::string name;
    std::string source;
    bool passed = false;
    /// Why it failed (the statement and the value it gave, or the server's error), or "no VERIFY
    /// section" when it passed with nothing to run.
    std::string message;
};

/// Runs the VERIFY sections of the applied migrations, each in a read-only transaction rolled
/// back afterwards, with the checks migrate_up makes on every VERIFY statement, and reports each,
/// by version: passed, or failed with the reason. An applied migration whose source changed
/// since (checksum) or that is partly applied or being reverted is reported failed without
/// running anything; history rows no migration has are left out. Writes nothing and takes no
/// lock. Fails like migrations_status (pool, server, a malformed source); failed checks are
/// values.
[[nodiscard]] result<std::vector<migration_verification>> verify_migrations(
    pool& pool, std::span<const migration> migrations, const migrate_options& options = {});

/// Accepts the current source of applied migration `version`: records its checksum and name.
/// not_found when the version is not in the history; migration_refused when no migration has it.
[[nodiscard]] result<void> repair_migration(pool& pool,
                                            std::span<const migration> migrations,
                                            std::int64_t version,
                                            const migrate_options& options = {});

}  // namespace pgkit
