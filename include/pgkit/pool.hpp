#pragma once

/// A thread-safe pool of connections with RAII leases, fair waiting, fail-fast connects,
/// clean-on-return sessions, a background maintainer, leak detection, metrics and transactions
/// with retries. docs/pool.md describes the behaviour in full.
///
/// ```cpp
/// auto pool = pgkit::pool::create({.connection = *pgkit::connection_options::parse(url),
///                                  .max_size = 16, .acquire_timeout = 2s}).value();
/// auto lease = pool->acquire();
/// if (!lease) return report(lease.error());        // pool_timeout, connection_failed, ...
/// auto n = (*lease)->execute("SELECT count(*) FROM t")
///              .and_then(&pgkit::query_result::scalar<int64_t>);
/// ```
///
/// Design in brief:
/// - Waiters queue in arrival order; a returned or newly opened connection goes straight to the
///   oldest waiter (no barging), else to the idle list (used LIFO, so surplus connections age
///   out). The pool's mutex is never held during I/O: connects, validation, rollback, reset and
///   close all run outside it.
/// - Connections are opened by connector threads (at most max_concurrent_connects, started on
///   demand) for waiters and for min_idle, so a slow connect never outlives an acquire's own
///   deadline. A failed connect fails the oldest waiter at once with connection_failed; when no
///   connection is open at all (server down), every waiter fails with it.
/// - One maintainer thread sleeps until the nearest deadline (idle timeout, lifetime, leak
///   threshold, refill back-off) and retires, reports or refills; it is stopped by close().
/// - Leases share ownership of the pool's state, so a lease may outlive its pool: the connection
///   is then closed on return.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pipeline.hpp"
#include "pgkit/pool_events.hpp"
#include "pgkit/pool_metrics.hpp"
#include "pgkit/pool_options.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/statement_cache.hpp"
#include "pgkit/transaction.hpp"
#include "pgkit/value_traits.hpp"

#include <chrono>
#include <concepts>
#include <functional>
#include <memory>
#include <optional>
#include <source_location>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pgkit {

namespace detail {
class pool_state;
class topology;
struct pooled_connection;

/// A non-owning reference to a callable `result<void>(transaction&)`.
class transaction_body {
  public:
    template <class F>
    explicit transaction_body(F& fn) noexcept
        : object_(&fn), call_([](void* object, transaction& tx) -> result<void> {
              return (*static_cast<F*>(object))(tx);
          }) {}
    result<void> operator()(transaction& tx) const { return call_(object_, tx); }

  private:
    void* object_;
    result<void> (*call_)(void*, transaction&);
};
}  // namespace detail

/// A connection leased from a pool; returns it to the pool when destroyed or released.
///
/// Move-only. Use from one thread at a time (it may be moved to another thread). On return the
/// pool rolls back an open transaction, resets a dirty session (pool_options::reset) and closes
/// a broken connection. May outlive its pool.
class lease {
  public:
    lease(lease&& other) noexcept;
    lease& operator=(lease&& other) noexcept;
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;
    ~lease();

    /// The connection. Precondition: valid().
    [[nodiscard]] connection& operator*() const noexcept { return *connection_; }
    [[nodiscard]] connection* operator->() const noexcept { return connection_; }
    [[nodiscard]] connection& get() const noexcept { return *connection_; }
    /// False after release() or after being moved from.
    [[nodiscard]] bool valid() const noexcept { return connection_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }

    /// Runs `sql` through this connection's prepared-statement cache (prepared on first use on
    /// this connection, reused afterwards; see statement_cache.hpp). With
    /// pool_options::prepared_statements off, runs it unprepared. Use it for SQL texts that
    /// repeat; one-off SQL belongs in execute().
    template <sql_parameter... Args>
    [[nodiscard]] result<query_result> execute_cached(std::string_view sql, const Args&... args) {
        return execute_cached_params(sql, parameters{args...});
    }
    /// `binary`: the rows come in binary format once the statement's column types are known and
    /// `binary` accepts them (statement_cache.hpp).
    [[nodiscard]] result<query_result> execute_cached_params(std::string_view sql,
                                                             const parameters& params,
                                                             binary_rows_filter binary = nullptr);

    /// Opens a pipeline on the connection (pipeline.hpp) whose add_cached() and add_command()
    /// prepare through this lease's statement cache.
    [[nodiscard]] result<pipeline> start_pipeline(const pipeline_options& options = {});
    /// The connection must not be reused: it is closed on return. Errors that poison a
    /// connection (error::poisons_connection) need no call: the connection records them itself
    /// (connection::is_poisoned) and the pool closes it.
    void mark_broken() noexcept;
    /// The session state may be dirty in ways the SQL text did not show (e.g. a function that
    /// runs SET): it is reset (with its next statement under reset_policy::when_dirty), or
    /// discarded under reset_policy::discard.
    void mark_dirty() noexcept;
    /// Returns the connection now; the lease is then empty. Does nothing on an empty lease.
    void release() noexcept;

    /// When the pool handed it out.
    [[nodiscard]] std::chrono::steady_clock::time_point acquired_at() const noexcept;

  private:
    friend class detail::pool_state;
    lease(std::shared_ptr<detail::pool_state> state,
          std::unique_ptr<detail::pooled_connection> pooled) noexcept;

    std::shared_ptr<detail::pool_state> state_;
    std::unique_ptr<detail::pooled_connection> pooled_;
    connection* connection_ = nullptr;
};

/// A pool of connections to one server (or one multi-host target).
///
/// Thread safety: every member function may be called from any thread at the same time.
/// Lifetime: owned through std::shared_ptr; destroying the last reference closes the pool
/// (close() with no grace period) and joins its threads. Do not drop the last reference from
/// inside an event hook.
class pool {
  public:
    /// Validates the options (invalid_argument, see validate()) and starts the maintainer. Does
    /// not connect: the first connections open on the first acquire, or at once when
    /// min_idle > 0 (in the background).
    [[nodiscard]] static result<std::shared_ptr<pool>> create(pool_options options);

    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;
    ~pool();

    /// Leases a connection: an idle one when there is one (checked first when idle longer than
    /// validation_after_idle), else a new one when below max_size, else the next one returned,
    /// in arrival order. Fails with:
    /// - pool_timeout: nothing came within acquire_timeout, or at once when max_waiters callers
    ///   are already waiting;
    /// - connection_failed: opening a connection failed (within about connect_timeout; the
    ///   message names the redacted target and the server's reason);
    /// - pool_closed: close() was called.
    /// `where` is reported by leak detection.
    [[nodiscard]] result<lease> acquire(
        std::source_location where = std::source_location::current());

    /// Leases a connection for read-only work. With replicas (pool_options::replicas): a
    /// standby whose lag is within replicas.max_lag and which has replayed options.after, in
    /// turn among those that qualify; when none does, the primary, as acquire() does (counted in
    /// pool_metrics::read_fallbacks). Without replicas, the same as acquire(). Errors as
    /// acquire(). The caller must only read: a write on a standby fails with read_only_node.
    [[nodiscard]] result<lease> acquire_read(
        const read_options& options = {},
        std::source_location where = std::source_location::current());

    /// The primary's WAL position now (pg_current_wal_insert_lsn()): every write committed
    /// before this call is at or before it. The token for read-your-writes: pass it in
    /// read_options::after (or repository::read_after, transaction_options::read_after). One
    /// round trip on the primary; errors as acquire() and the statement's.
    [[nodiscard]] result<wal_position> write_position(
        std::source_location where = std::source_location::current());

    /// Runs `fn(transaction&)` inside a transaction on a leased connection and commits; `fn`
    /// returns `result<T>`. An error from `fn`, or from BEGIN/COMMIT, rolls back; serialization
    /// failures, deadlocks and connections lost before COMMIT are retried per options.retry
    /// (`fn` then runs again: keep it free of side effects outside the database). Returns `fn`'s
    /// value, or the final error (including acquire errors). If `fn` returns success while the
    /// transaction has failed (it ignored an error), the result is transaction_aborted.
    /// An exception thrown by `fn` propagates unchanged after the transaction is rolled back (the
    /// lease rolls back on return): exceptions are for programming errors, never retried.
    template <class F>
    requires std::invocable<F&, transaction&> &&
        detail::is_result<std::invoke_result_t<F&, transaction&>>::value
        [[nodiscard]] std::invoke_result_t<F&, transaction&>
        with_transaction(F&& fn,
                         const transaction_options& options = {},
                         std::source_location where = std::source_location::current()) {
        using R = std::invoke_result_t<F&, transaction&>;
        std::optional<R> outcome;
        auto body = [&fn, &outcome](transaction& tx) -> result<void> {
            outcome.emplace(std::invoke(fn, tx));
            if (*outcome) {
                return {};
            }
            return tl::unexpected(outcome->error());
        };
        auto done = run_transaction(detail::transaction_body{body}, options, where);
        if (!done) {
            return tl::unexpected(std::move(done).error());
        }
        return std::move(*outcome);
    }

    /// Closes the pool: acquire() fails with pool_closed from now on (waiters at once), idle
    /// connections are closed, and leases in use finish their work; each is closed when
    /// returned. Waits until every lease is back or `deadline` passes, then stops the
    /// maintainer. True when every lease came back in time. Idempotent; thread-safe.
    bool close(std::chrono::steady_clock::time_point deadline);
    bool close(std::chrono::milliseconds grace = std::chrono::milliseconds{0}) {
        return close(std::chrono::steady_clock::now() + grace);
    }
    [[nodiscard]] bool is_closed() const noexcept;

    /// Gauges and counters now; cheap (one lock, no I/O).
    [[nodiscard]] pool_metrics metrics() const;
    [[nodiscard]] const pool_options& options() const noexcept;

    /// With replicas: waits (at most `limit`) until every node has been probed after this call,
    /// so routing reflects the servers as they are now (tests, start-up). True when it was.
    bool wait_for_probe(std::chrono::milliseconds limit);

  private:
    pool(std::shared_ptr<detail::pool_state> state,
         std::unique_ptr<detail::topology> topology) noexcept;
    [[nodiscard]] result<void> run_transaction(detail::transaction_body body,
                                               const transaction_options& options,
                                               std::source_location where);

    std::shared_ptr<detail::pool_state> state_;
    std::unique_ptr<detail::topology> topology_;
};

}  // namespace pgkit
