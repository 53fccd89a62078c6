#pragma once

// The one-runner-per-run guarantee, in one place: everything that takes, renews, releases or looks
// for a run's runner lock goes through this class. It has two modes (docs/backfill.md, "One
// runner per run"):
//
// - advisory: a session-level advisory lock in pgkit's own two-key space,
//   pg_try_advisory_lock(backfill_lock_space, hashtext(quote_ident(schema) || '.' || name)), where
//   schema is the runs table's: two-key advisory locks never conflict with the single-key
//   (bigint) ones applications take, and runs of one name in different runs tables are different
//   runs. The runner keeps the session for the whole run; the lock dies with it, so a crashed
//   runner's lock goes when the server notices the closed socket. A session lock does not hold
//   behind a pooler in transaction mode (PgBouncer): each transaction may run on another server
//   session.
//
// - lease: a row in pgkit_backfill_leases, next to the runs table, holding a random runner token
//   and an expiry (the server's clock). It is taken with one autocommit statement that succeeds
//   only when there is no live lease (none, expired, or already this runner's), renewed inside
//   every batch transaction by an UPDATE that must match the token (so a runner whose lease
//   was taken over cannot commit a batch), renewed between batches while the runner waits, and
//   deleted at the end. Nothing depends on the session, so it works behind a transaction-mode
//   pooler; a runner that dies leaves a lease that another can take once it has expired.
//
// The two modes exclude each other too, so runners of one run that reach the server in
// different ways (one through PgBouncer, one directly) cannot both run: after taking its lease a
// lease runner refuses when a session holds the run's advisory lock, and after taking the
// advisory lock an advisory runner deletes an expired lease (fencing its stalled owner) and
// refuses when a live one remains. Each takes its own lock before looking for the other's, so of
// two that start together at least one sees the other.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/transaction.hpp"

#include "backfill/runs_table.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgkit::detail {

class runner_lock {
  public:
    enum class kind { advisory, lease };

    /// A run's lease row, as read.
    struct lease_row {
        std::string token;
        std::chrono::system_clock::time_point expires_at;
        bool live = false;  ///< not expired when read, by the server's clock
    };

    /// Takes the lock of run `name` in `table` through `holder`'s session, which must stay leased
    /// (and outlive this object) while the lock is held. In lease mode the lease lasts
    /// `lease_duration` after each renewal, and the leases table is created when missing.
    /// already_running when another runner holds the run, its message naming the holder and
    /// ending with `refusal` (what the caller will not do).
    [[nodiscard]] static result<runner_lock> try_acquire(lease& holder,
                                                         const runs_table& table,
                                                         std::string_view name,
                                                         std::string_view refusal,
                                                         kind mode,
                                                         std::chrono::milliseconds lease_duration);
    /// The server process id of the session holding the advisory lock of run `name` now, if any.
    [[nodiscard]] static result<std::optional<std::int32_t>> holder_pid(connection& conn,
                                                                        const runs_table& table,
                                                                        std::string_view name);
    /// The lease row of run `name`, if the leases table has one (nullopt too when the table
    /// does not exist).
    [[nodiscard]] static result<std::optional<lease_row>> find_lease(connection& conn,
                                                                     const runs_table& table,
                                                                     std::string_view name);

    runner_lock(runner_lock&& other) noexcept;
    runner_lock& operator=(runner_lock&&) = delete;
    runner_lock(const runner_lock&) = delete;
    runner_lock& operator=(const runner_lock&) = delete;
    /// Releases the lock. Advisory: when the release cannot be confirmed the lease is marked
    /// broken, so the session, and the lock with it, ends when the lease returns. Lease: deletes
    /// the lease row if it is still this runner's; when that fails the lease expires by itself.
    ~runner_lock();

    [[nodiscard]] kind mode() const noexcept { return mode_; }

    /// Lease mode: renews the lease inside the batch transaction `tx`, with an UPDATE that must
    /// match this runner's token, so the batch commits only while the lease is this runner's
    /// (and the row stays locked until it does: nobody takes the lease over in between).
    /// already_running, naming the new holder, when it is not: the caller must roll the batch
    /// back, and lost() is then true. Advisory mode: nothing (the session lock holds).
    [[nodiscard]] result<void> renew(transaction& tx);
    /// The same between batches, in an autocommit statement on the holder's session. Errors other
    /// than a lost lease (a lost connection, say) are returned too; the lease then lives on until
    /// it expires, and the next renewal may succeed.
    [[nodiscard]] result<void> renew();
    /// How long a runner may wait between renewals: a quarter of the lease; unbounded in
    /// advisory mode.
    [[nodiscard]] std::chrono::milliseconds renew_interval() const noexcept;
    /// True once a renewal found the lease taken over (or gone): the runner no longer holds the
    /// run and must write nothing more about it.
    [[nodiscard]] bool lost() const noexcept { return lost_; }

    /// A condition to append to a runs table UPDATE whose WHERE has the run's name as $1, so the
    /// update happens only while this runner holds the run: empty in advisory mode (the session
    /// lock holds while the session lives), `AND EXISTS (<lease row with this token>)` in lease
    /// mode.
    [[nodiscard]] std::string fence() const;

  private:
    runner_lock(lease& holder,
                kind mode,
                runs_table table,
                std::string name,
                std::string token,
                std::chrono::milliseconds lease_duration) noexcept;

    /// already_running for a renewal that matched no row: the lease is someone else's now.
    [[nodiscard]] error lost_lease(connection& conn);
    /// The renewal's UPDATE: $1 the run's name, $2 the token, $3 the lease duration in ms.
    [[nodiscard]] std::string renewal_sql() const;
    /// What a renewal sent on `conn` comes to: its error, lost_lease() when it matched no row.
    [[nodiscard]] result<void> renewal_outcome(const result<query_result>& renewed,
                                               connection& conn);

    lease* holder_;
    kind mode_;
    runs_table table_;
    std::string name_;
    std::string token_;  ///< this runner's token (lease mode)
    std::chrono::milliseconds lease_duration_{0};
    bool lost_ = false;
};

}  // namespace pgkit::detail
