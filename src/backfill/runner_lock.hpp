#pragma once

// The one-runner-per-run guarantee, in one place: everything that takes, releases or looks for a
// run's runner lock goes through this class.
//
// The lock is a session-level advisory lock in pgkit's own two-key space,
// pg_try_advisory_lock(backfill_lock_space, hashtext(quote_ident(schema) || '.' || name)), where
// schema is the runs table's: two-key advisory locks never conflict with the single-key (bigint)
// ones applications take, and runs of one name in different runs tables are different runs. The
// runner keeps the session for the whole run; the lock dies with it, so a crashed runner's lock
// goes when the server notices the closed socket.
//
// A session lock does not hold behind a pooler in transaction mode (PgBouncer): each statement
// may run on another server session. A lease-row mode (an expiring row the runner renews) would
// be a second implementation of this interface, beside this one.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"

#include "backfill/runs_table.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgkit::detail {

class runner_lock {
  public:
    /// Takes the lock of run `name` in `table` on `holder`'s session, which must stay leased (and
    /// outlive this object) while the lock is held. already_running when another session holds
    /// it, its message ending with `refusal` (what the caller will not do).
    [[nodiscard]] static result<runner_lock> try_acquire(lease& holder,
                                                         const runs_table& table,
                                                         std::string_view name,
                                                         std::string_view refusal);
    /// The server process id of the session holding the lock of run `name` now, if any.
    [[nodiscard]] static result<std::optional<std::int32_t>> holder_pid(connection& conn,
                                                                        const runs_table& table,
                                                                        std::string_view name);

    runner_lock(runner_lock&& other) noexcept;
    runner_lock& operator=(runner_lock&&) = delete;
    runner_lock(const runner_lock&) = delete;
    runner_lock& operator=(const runner_lock&) = delete;
    /// Releases the lock. When the release cannot be confirmed the lease is marked broken, so the
    /// session, and the lock with it, ends when the lease returns.
    ~runner_lock();

  private:
    runner_lock(lease& holder, std::string schema, std::string name) noexcept;

    lease* holder_;
    std::string schema_;
    std::string name_;
};

}  // namespace pgkit::detail
