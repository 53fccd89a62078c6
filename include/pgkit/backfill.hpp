#pragma once

/// Batched backfills: walk a table in key order in small batches, each its own short transaction,
/// with the cursor (the last key done) saved in the same transaction as the batch, so a run killed
/// at any instant resumes where it stopped and no row is processed twice. docs/backfill.md
/// describes the guarantees and what stays the caller's responsibility.
///
/// ```cpp
/// auto report = pgkit::run_backfill(*pool, {.name = "users_fill_score",
///                                           .table = "users",
///                                           .key = {"id"},
///                                           .set = "score = 0",
///                                           .predicate = "score IS NULL"});
/// if (!report) return fail(report.error());   // bad spec, already running, batch failed ...
/// ```

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/retry_policy.hpp"
#include "pgkit/transaction.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

/// The key range of one batch, as a callback work function receives it. Keys are the key
/// columns' text forms, in spec.key order.
struct backfill_batch {
    /// The last key done before this batch; empty for the first batch (no lower bound).
    std::vector<std::string> after;
    /// The last key of this batch (inclusive).
    std::vector<std::string> up_to;
    /// A condition selecting exactly this batch's rows, e.g. `("id") > $3::bigint AND ("id") <=
    /// $4::bigint`, its placeholders numbered from `first_parameter`.
    [[nodiscard]] std::string range_condition(std::size_t first_parameter) const;
    /// The values for range_condition's placeholders, in order (after..., up_to...).
    [[nodiscard]] std::vector<std::string> range_values() const;

    // Set by the runner.
    std::vector<std::string> key_sql{};    ///< quoted key columns
    std::vector<std::string> key_types{};  ///< their types (format_type)
};

/// A callback doing one batch's work inside the batch's transaction; returns the rows it
/// processed. It must not COMMIT or ROLLBACK, and must not change key columns. An error rolls
/// the batch back (timeouts, serialization failures and deadlocks are retried smaller).
using backfill_work = std::function<result<std::uint64_t>(const backfill_batch&, transaction&)>;

/// The first key of every backfill runner lock. A runner in advisory mode (see
/// backfill_runner_lock) holds `pg_try_advisory_lock(backfill_lock_space,
/// hashtext(quote_ident(<runs schema>) || '.' || <name>))` (the two-int4 form) for the whole run.
/// Two-key advisory locks never conflict with single-key (bigint) ones, so an application's own
/// `pg_advisory_lock(hashtext('x'))` cannot collide with a runner; an application that uses the
/// two-key form itself should keep clear of this first key.
inline constexpr std::int32_t backfill_lock_space = 0x70676B62;  // "pgkb"

/// How a runner makes sure it is the only one working on its run (docs/backfill.md, "One runner
/// per run").
enum class backfill_runner_lock {
    /// lease when the pool's connection.pooler is pooler_mode::transaction, advisory otherwise.
    automatic,
    /// A session-level advisory lock (see backfill_lock_space), held on a session of its own for
    /// the whole run. Needs the server itself (or a session-mode pooler) behind the pool.
    advisory,
    /// A lease row in pgkit_backfill_leases (next to the runs table) holding a random runner
    /// token and an expiry: taken with one statement when no live lease exists, renewed inside
    /// every batch transaction by a statement that must match the token (a runner that lost its
    /// lease cannot commit a batch), deleted at the end. Works behind a transaction-mode pooler;
    /// a runner that dies leaves a lease that others can take once it has expired.
    lease,
};

/// Which run a call is about: its name in the runs table (pgkit_backfill_runs) of one schema.
/// pause_backfill, resume_backfill, inspect_backfill and reset_backfill take one; a backfill_spec
/// converts to it, so a program that passes the same spec to every call always reads and writes the
/// same row.
struct backfill_id {
    std::string name{};
    /// The schema of the runs table. Empty: the session's current_schema() (the first schema of
    /// search_path that exists), resolved at the start of each call.
    std::string runs_schema{};
};

/// What to backfill. An aggregate; `name`, `table`, `key` and one of `set` / `work` are required.
struct backfill_spec {
    /// Identifies the run: its row in the runs table and its runner lock (one runner per run).
    std::string name{};
    /// The schema of the runs table that records the run (see backfill_id::runs_schema). Runs of
    /// the same name in different runs tables are different runs.
    std::string runs_schema{};
    /// The table, unqualified (found through search_path) unless `schema` is set.
    std::string table{};
    std::string schema{};
    /// The key walked in order: columns of a unique index or primary key (exactly those columns,
    /// in that order), NOT NULL.
    std::vector<std::string> key{};
    /// SQL work: `UPDATE table SET <set> WHERE <batch range> AND (<predicate>)`. `set` may use
    /// bound parameters $1..$n from `parameters`.
    std::string set{};
    /// Rows that still need the work (empty: every row). May use the same parameters.
    std::string predicate{};
    std::vector<std::string> parameters{};
    /// Callback work instead of `set` (exactly one of the two).
    backfill_work work{};

    /// The run this spec names, for the calls that take a backfill_id.
    operator backfill_id() const { return {name, runs_schema}; }
};

/// Where a run stands. not_started is only read by inspect_backfill: the runs table has no row for
/// the run (it never ran, or was reset).
enum class backfill_status { running, done, paused, cancelled, failed, not_started };
/// The status's name, as the runs table stores it ("running", ...; "not_started").
[[nodiscard]] std::string_view to_string(backfill_status status) noexcept;

/// A snapshot passed to backfill_options::on_progress after every committed batch.
struct backfill_progress {
    std::string name{};
    std::uint64_t rows_done = 0;  ///< in all runs of this name
    std::uint64_t batches = 0;    ///< in all runs of this name
    /// The table's rows as of its last VACUUM/ANALYZE (pg_class.reltuples; the planner's
    /// estimate when never analysed), at least rows_done.
    std::uint64_t estimated_total = 0;
    double rows_per_second = 0;  ///< this run's rate
    std::optional<std::chrono::seconds> eta{};
    std::size_t batch_size = 0;  ///< the size chosen for the next batch
    std::chrono::milliseconds last_batch_duration{0};
    /// Sessions the last batch was blocking (waiting on its locks) when its work ended, as sampled
    /// with its cursor update (0 when contended_batch_duration is 0: not sampled).
    std::uint32_t blocked_sessions = 0;
    std::vector<std::string> last_key{};
};

/// Cancels a run from any thread; the runner stops after its current batch (interrupting any
/// pause or back-off at once) and records status cancelled. Thread-safe; share one per run.
class backfill_cancel_token {
  public:
    void cancel() noexcept;
    [[nodiscard]] bool cancelled() const noexcept { return cancelled_.load(); }
    /// Sleeps for `duration` unless cancelled first; true when cancelled.
    bool wait_for(std::chrono::milliseconds duration) const;

  private:
    std::atomic<bool> cancelled_{false};
    mutable std::mutex mutex_;
    mutable std::condition_variable wake_;
};

/// How the runner paces itself. Defaults suit an OLTP table.
struct backfill_options {
    std::size_t min_batch_size = 100;
    std::size_t max_batch_size = 10'000;
    /// The first batch's size (clamped to the bounds); later sizes adapt toward target_duration.
    std::size_t initial_batch_size = 1'000;
    /// Each batch is sized to take about this long: the size aims at 0.7 x target at the
    /// smoothed per-key cost of the recent batches (a costlier batch counts at once, a cheaper one
    /// slowly), grows at most x1.25 per batch (x2 while batches take under a quarter of the
    /// target) and shrinks at once; see detail::batch_sizer and docs/backfill.md.
    std::chrono::milliseconds target_batch_duration{200};
    /// The lock hold writers can bear. Every batch counts, in the same statement as its cursor
    /// update (no extra round trip), the sessions waiting on its locks (pg_locks,
    /// pg_blocking_pids); once one did, the sizes aim at this duration instead of
    /// target_batch_duration, until batches taking detail::batch_sizer::contention_memory (5 s)
    /// in all have blocked nobody. 0: no sampling, always target_batch_duration; a duration above
    /// target_batch_duration changes nothing; negative: invalid_argument. See docs/backfill.md,
    /// "Contention".
    std::chrono::milliseconds contended_batch_duration{20};
    /// Sleep between batches (cancellation interrupts it).
    std::chrono::milliseconds pause_between_batches{0};
    /// Rows-per-second ceiling (0: none); the runner sleeps after a batch as needed.
    double max_rows_per_second = 0;
    /// SET LOCAL in every batch transaction (0: the session's setting).
    std::chrono::milliseconds lock_timeout{2'000};
    std::chrono::milliseconds statement_timeout{30'000};
    /// The time guard: a batch larger than min_batch_size runs its statements under a
    /// statement_timeout of what is left of batch_timeout_factor x target_batch_duration (at least
    /// 50 ms; statement_timeout still applies when smaller), so a batch hit by a checkpoint or a
    /// lock wait is cancelled instead of holding its locks far longer than asked. Such a batch is
    /// retried with half the size after a back-off (report.guard_timeouts counts them; they do
    /// not count toward retry.max_attempts: at min_batch_size the guard is off, so it cannot
    /// loop). 0 turns the guard off.
    double batch_timeout_factor = 1.3;
    /// Retries of a failing batch, with the policy type pool::with_transaction uses. A batch that
    /// fails with an error worth retrying (detail::batch_worth_retrying says which and why:
    /// is_retryable(), plus statement_timeout and commit_unknown) is rolled back and run again
    /// with half the size after retry.backoff(n), a jittered exponential back-off, until
    /// retry.max_attempts attempts in a row have failed (guard timeouts not counted). The
    /// defaults (9 attempts, i.e. 8 retries; 50 ms doubling up to 2 s) are the limits earlier
    /// versions had. invalid_argument when retry.validate() refuses it.
    retry_policy retry{.max_attempts = 9,
                       .initial_backoff = std::chrono::milliseconds{50},
                       .max_backoff = std::chrono::milliseconds{2'000}};
    /// Called after each committed batch, on the runner's thread.
    std::function<void(const backfill_progress&)> on_progress{};
    /// Optional cancellation; must outlive the run.
    const backfill_cancel_token* cancel = nullptr;
    /// How the runner excludes other runners of the same run; automatic picks lease behind a
    /// transaction-mode pooler (pool_options::connection.pooler), advisory otherwise. advisory
    /// on a pool behind a transaction-mode pooler is invalid_argument.
    backfill_runner_lock runner_lock = backfill_runner_lock::automatic;
    /// Lease mode: how long a lease lasts after each renewal (server clock). 0: twice
    /// statement_timeout, at least 30 s (10 min when statement_timeout is 0). The runner renews
    /// it in every batch and, during a pause, throttle or back-off, every quarter of it, so it
    /// must outlast the longest batch attempt (with SQL work each statement of a batch is bounded
    /// by statement_timeout; callback work that may run longer needs a longer lease). It is also
    /// how long a runner that died keeps others out. Otherwise at least 1 s.
    std::chrono::milliseconds lease_duration{0};
};

/// How a run ended.
struct backfill_report {
    std::string name{};
    backfill_status status = backfill_status::running;
    std::uint64_t rows_this_run = 0;
    std::uint64_t batches_this_run = 0;
    std::uint64_t rows_done = 0;  ///< in all runs of this name
    std::uint64_t batches = 0;    ///< in all runs of this name
    std::uint64_t retries = 0;    ///< batches retried after an error in this run
    /// Batches cancelled by the time guard (batch_timeout_factor) and retried smaller; not
    /// counted in `retries`.
    std::uint64_t guard_timeouts = 0;
    std::chrono::milliseconds elapsed{0};
    /// The longest batch transaction of this run, attempts rolled back and retried included.
    std::chrono::milliseconds longest_batch{0};
    /// Committed batches of this run that were blocking another session when their work ended
    /// (see backfill_options::contended_batch_duration).
    std::uint64_t contended_batches = 0;
    std::vector<std::string> last_key{};
};

/// Runs (or resumes) the backfill `spec.name`. The pool must allow two connections: one holds
/// the run's runner lock (see backfill_runner_lock) and keeps the runs table's bookkeeping for
/// the whole run, the other runs the batches.
///
/// The run is recorded in the runs table of spec.runs_schema (created on the first run; in lease
/// mode pgkit_backfill_leases is created next to it).
///
/// Fails, before any write, with invalid_argument (bad spec, key without a unique index or
/// nullable, spec changed since the run started, a runs_schema that does not exist),
/// undefined_table, undefined_column or the server's error for a SET expression it cannot
/// prepare; with already_running when another runner holds the run (its advisory lock, or a live
/// lease: the message names the holder's server process, or its token and when its lease
/// expires); with already_running also when, in lease mode, the runner lost its lease during the
/// run (another runner took it over after it expired): the batch that found out is rolled back,
/// and the run's status is left to the runner that holds it now; and, after
/// retry.max_attempts failed attempts in a row (or at once, for an error not worth retrying), with
/// the batch's last error, its message naming the key where the run stopped (the run is then
/// recorded as failed and a later call resumes it). Returns a report with status done, paused
/// (someone called pause_backfill) or cancelled.
[[nodiscard]] result<backfill_report> run_backfill(pool& pool,
                                                   const backfill_spec& spec,
                                                   const backfill_options& options = {});

/// A dry run: the rows still to do (exactly counted, with the predicate, after the saved cursor),
/// the batches that makes at options.initial_batch_size, and the time at the previous runs' rate.
/// Validates like run_backfill and writes nothing.
struct backfill_plan {
    std::uint64_t rows = 0;
    std::uint64_t batches = 0;
    std::optional<std::chrono::seconds> estimated_duration{};
};
[[nodiscard]] result<backfill_plan> plan_backfill(pool& pool,
                                                  const backfill_spec& spec,
                                                  const backfill_options& options = {});

/// Marks the run paused (it stops after its current batch; later run_backfill calls return at
/// once with status paused) or running again. Works from any process; not_found when no such run
/// exists (the runs table not existing yet included), invalid_argument for a runs_schema that
/// does not exist.
///
/// ```cpp
/// pgkit::pause_backfill(*pool, spec);                                   // the spec's run
/// pgkit::pause_backfill(*pool, {.name = "orders_euros", .runs_schema = "ops"});
/// ```
[[nodiscard]] result<void> pause_backfill(pool& pool, const backfill_id& run);
[[nodiscard]] result<void> resume_backfill(pool& pool, const backfill_id& run);

/// Marks the run cancelled, from any process: its runner stops after its current batch (the same
/// check between batches as a pause) and returns status cancelled. Unlike a pause it is not
/// sticky: a later run_backfill resumes the run from its cursor, as after a
/// backfill_cancel_token. not_found when no such run exists or it is done; invalid_argument for
/// a runs_schema that does not exist.
[[nodiscard]] result<void> cancel_backfill(pool& pool, const backfill_id& run);

/// A run as its runs table records it, and whether a runner is working on it now; see
/// inspect_backfill.
struct backfill_state {
    /// The run's name (as asked for, or as list_backfills found it).
    std::string name{};
    /// not_started when the runs table has no row for the run (it never ran, or was reset). A run
    /// whose runner died (crash, kill -9) still reads running, with no runner_pid and no live
    /// lease: the next run_backfill resumes it.
    backfill_status status = backfill_status::not_started;
    /// What the run walks, as recorded: the table (schema.table when the spec named a schema) and
    /// the key columns.
    std::string table{};
    std::vector<std::string> key{};
    std::uint64_t rows_done = 0;  ///< in all runs of this name
    std::uint64_t batches = 0;    ///< in all runs of this name
    /// The last key done, one text per key column (empty before the first batch).
    std::vector<std::string> last_key{};
    std::uint64_t last_batch_size = 0;  ///< keys in the last batch (0 before the first)
    /// Time spent inside batch transactions, in all runs of this name.
    std::chrono::milliseconds busy{0};
    /// When the first run of this name started, when the row last changed, and when the run
    /// reached done (nullopt before).
    std::optional<std::chrono::system_clock::time_point> started_at{};
    std::optional<std::chrono::system_clock::time_point> updated_at{};
    std::optional<std::chrono::system_clock::time_point> finished_at{};
    /// The error that stopped a failed run; empty otherwise.
    std::string last_error{};
    /// The server process id of the session holding the run's advisory runner lock, in this
    /// process or another: a runner in advisory mode is working on the run now. nullopt: none.
    std::optional<std::int32_t> runner_pid{};
    /// The run's lease (lease mode), when it has a lease row: the token of the runner that took
    /// it and when it expires (the server's clock). nullopt: no lease row (no runner in lease
    /// mode, or one that ended and deleted it).
    std::optional<std::string> lease_token{};
    std::optional<std::chrono::system_clock::time_point> lease_expires_at{};
    /// Whether the lease had not expired when read, by the server's clock: a runner in lease mode
    /// holds the run (it is working on it, or died less than a lease ago). An expired lease was
    /// left by a runner that died or stalled; the next runner takes it over.
    bool lease_live = false;
};

/// Reads a run's state: its row in the runs table, from pg_locks whether a runner holds its
/// advisory lock, and its lease row if any. Writes nothing. A run that never ran is a value, status
/// not_started, also before the runs table exists. Fails with invalid_argument for a runs_schema
/// that does not exist, or with the pool's or the server's error.
///
/// ```cpp
/// auto state = pgkit::inspect_backfill(*pool, spec);
/// if (state && state->status == pgkit::backfill_status::running && !state->runner_pid &&
///     !state->lease_live) {
///     // its runner died: run_backfill resumes it
/// }
/// ```
[[nodiscard]] result<backfill_state> inspect_backfill(pool& pool, const backfill_id& run);

/// Every run recorded in the runs table of `runs_schema` (empty: current_schema()), by name,
/// each read as inspect_backfill reads it. Empty when the runs table does not exist yet. Writes
/// nothing; invalid_argument for a runs_schema that does not exist.
[[nodiscard]] result<std::vector<backfill_state>> list_backfills(pool& pool,
                                                                 std::string_view runs_schema = {});

/// Forgets a run: deletes its row from the runs table, so the next run_backfill of that name
/// starts again from the first key (to run a finished backfill again, say). Returns whether there
/// was a row to delete; does not create the runs table. It holds the run's runner lock while it
/// deletes (a lease behind a transaction-mode pooler, the advisory lock otherwise, as
/// backfill_runner_lock::automatic picks): it fails with already_running while a runner holds
/// the run, by either lock, a live lease included (pause or cancel it first; an expired lease is
/// deleted with the run), and a runner starting meanwhile is refused. invalid_argument for a
/// runs_schema that does not exist.
[[nodiscard]] result<bool> reset_backfill(pool& pool, const backfill_id& run);

namespace detail {
/// Whether the runner runs a failed batch again: error::is_retryable() (serialization failures,
/// deadlocks, lock timeouts, a connection lost before COMMIT), plus two cases that are safe for a
/// batch although not for any transaction:
/// - statement_timeout: the batch is retried with half the size, which may fit in the limit;
/// - commit_unknown (the connection was lost during COMMIT): the cursor commits in the same
///   transaction as the batch's work and every attempt reads it again, so a retry starts after
///   the batch when that COMMIT took effect and redoes it when it did not; either way each row is
///   processed once.
/// Anything else (already_running, a constraint violation, an error the work callback returned,
/// pool_timeout, connection_failed, ...) stops the run.
[[nodiscard]] bool batch_worth_retrying(const error& e) noexcept;

/// The adaptive batch size, a pure function of the batches seen so far (docs/backfill.md,
/// "Pacing"). Exposed for unit tests.
///
/// It keeps a smoothed cost per key (microseconds): a batch costlier than the average replaces it
/// at once, a cheaper one moves it by `smoothing`, so the estimate sits near the costliest recent
/// batches. The next size is `aim x target / cost`, at most `growth` times the last size (or
/// `ramp_growth` times while the last batch took less than `ramp_below x target`), within
/// [min_size, max_size]; a batch over the aim therefore shrinks the next one at once. The target
/// is `contended` (when not 0) from a batch that blocked another session until batches taking
/// `contention_memory` in all have blocked nobody (small batches rarely block anyone, so a count
/// of batches would let the size climb back while writers are still there), `target` otherwise.
class batch_sizer {
  public:
    static constexpr double aim = 0.7;
    static constexpr double growth = 1.25;
    static constexpr double ramp_growth = 2.0;
    static constexpr double ramp_below = 0.25;
    static constexpr double smoothing = 0.3;
    static constexpr std::chrono::microseconds contention_memory{5'000'000};

    batch_sizer(std::chrono::milliseconds target,
                std::size_t min_size,
                std::size_t max_size,
                std::chrono::milliseconds contended = std::chrono::milliseconds{0}) noexcept
        : target_us_(static_cast<double>(target.count()) * 1000.0),
          contended_us_(static_cast<double>(std::min(contended, target).count()) * 1000.0),
          min_(std::max<std::size_t>(min_size, 1)),
          max_(std::max(max_size, std::max<std::size_t>(min_size, 1))) {}

    /// After a committed batch of `size` keys that took `elapsed` and, when `contended`, blocked
    /// another session: the next batch's size.
    [[nodiscard]] std::size_t next(std::size_t size,
                                   std::chrono::microseconds elapsed,
                                   bool contended = false) noexcept;
    /// After a batch of `size` keys that the time guard cancelled after `elapsed`: the retry's
    /// size (at most half, and what the cost it revealed allows).
    [[nodiscard]] std::size_t after_timeout(std::size_t size,
                                            std::chrono::microseconds elapsed) noexcept;
    /// The smoothed cost per key in microseconds (0 before the first batch).
    [[nodiscard]] double cost_per_key_us() const noexcept { return cost_us_; }
    /// The duration the sizes aim at now (before `aim`): the contended one or the target.
    [[nodiscard]] std::chrono::microseconds current_target() const noexcept {
        return std::chrono::microseconds{static_cast<std::int64_t>(target_now_us())};
    }

  private:
    [[nodiscard]] std::size_t clamp(double size) const noexcept;
    [[nodiscard]] double target_now_us() const noexcept {
        return contended_left_us_ > 0 ? contended_us_ : target_us_;
    }
    double target_us_;
    double contended_us_;
    std::size_t min_;
    std::size_t max_;
    double cost_us_ = 0;
    double contended_left_us_ = 0;  ///< batch time left before the contention is forgotten
};
}  // namespace detail

}  // namespace pgkit
