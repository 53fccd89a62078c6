#pragma once

/// A transaction on a leased connection, as pool::with_transaction hands it to its function, and
/// the options that shape it (isolation, read-only, deferrable, retries).

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pipeline.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/replicas.hpp"
#include "pgkit/retry_policy.hpp"
#include "pgkit/value_traits.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pgkit {

class lease;
class transaction;

namespace detail {

/// What transaction::savepoint runs: a function of the transaction or of nothing that returns
/// a result.
template <class F>
struct savepoint_call {
    static constexpr bool takes_transaction = std::invocable<F&, transaction&>;
    using type = std::conditional_t<takes_transaction,
                                    std::invoke_result<F&, transaction&>,
                                    std::invoke_result<F&>>::type;
};

/// True for pgkit::result<T>.
template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};

template <class F>
concept savepoint_body =
    (std::invocable<F&, transaction&> ||
     std::invocable<F&>)&&is_result<std::remove_cvref_t<typename savepoint_call<F>::type>>::value;

}  // namespace detail

enum class isolation_level { read_committed, repeatable_read, serializable };

struct transaction_options {
    /// nullopt: the server's default_transaction_isolation.
    std::optional<isolation_level> isolation{};
    /// A read-only transaction; with replicas it runs where pool::acquire_read sends it.
    bool read_only = false;
    /// With read_only: only a node that has replayed this position serves it (read-your-writes).
    std::optional<wal_position> read_after{};
    /// Only meaningful for serializable read-only transactions (they then never fail with a
    /// serialization error, but may wait to start).
    bool deferrable = false;
    /// How often pool::with_transaction runs the function again after a retryable error
    /// (error::is_retryable: serialization failures, deadlocks, lock timeouts, a connection lost
    /// before COMMIT was sent; a new connection is leased). Never after commit_unknown: a
    /// connection lost during COMMIT leaves the outcome unknown.
    retry_policy retry{};
};

/// The `BEGIN ...` statement for `options` ("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY").
[[nodiscard]] std::string begin_statement(const transaction_options& options);

/// An open transaction on a leased connection. Handed by reference to with_transaction's
/// function, valid only during that call; the pool commits or rolls back afterwards, so the
/// function must not run COMMIT or ROLLBACK itself (SAVEPOINTs are fine). Its BEGIN travels with
/// its first statement (connection::begin_with_next_statement): a transaction of N statements
/// takes N + 1 round trips, COMMIT included, and one that runs none sends nothing.
///
/// A statement that fails with an error that poisons the connection leaves the connection
/// poisoned, so the pool discards it rather than reusing it. Not thread-safe, like the
/// connection.
class transaction {
  public:
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    /// As connection::execute / execute_params / execute_script.
    template <sql_parameter... Args>
    [[nodiscard]] result<query_result> execute(std::string_view sql, const Args&... args) {
        return execute_params(sql, parameters{args...});
    }
    [[nodiscard]] result<query_result> execute_params(std::string_view sql,
                                                      const parameters& params);
    [[nodiscard]] result<query_result> execute_script(std::string_view sql);

    /// Runs through the connection's prepared-statement cache (see lease::execute_cached).
    template <sql_parameter... Args>
    [[nodiscard]] result<query_result> execute_cached(std::string_view sql, const Args&... args) {
        return execute_cached_params(sql, parameters{args...});
    }
    /// `binary`: the rows come in binary format once the statement's column types are known and
    /// `binary` accepts them (statement_cache.hpp).
    [[nodiscard]] result<query_result> execute_cached_params(std::string_view sql,
                                                             const parameters& params,
                                                             binary_rows_filter binary = nullptr);

    /// Opens a pipeline inside the transaction (pipeline.hpp), preparing through the lease's
    /// statement cache. A failed statement aborts the transaction, as outside a pipeline.
    [[nodiscard]] result<pipeline> start_pipeline(const pipeline_options& options = {});
    /// Runs `fn` (with this transaction, or with no argument; it returns a pgkit::result) inside
    /// a savepoint: `SAVEPOINT` first; when fn succeeds, `RELEASE SAVEPOINT` and fn's value;
    /// when it returns an error, `ROLLBACK TO SAVEPOINT` undoes only what ran inside, the
    /// transaction goes on usable, and fn's error is returned. Savepoints nest; names are
    /// pgkit's own (pgkit_savepoint_1, 2, ... per transaction, quoted). Repositories work
    /// inside (`repo.in(tx)`).
    ///
    /// Errors that doom the whole attempt are never rolled back to the savepoint: a
    /// serialization failure, a deadlock, a lost connection (and any error::is_retryable() or
    /// error::poisons_connection() error) is returned as it is, the transaction stays failed,
    /// and pool::with_transaction rolls back and runs its whole function again under its retry
    /// policy. When fn succeeds but ignored an error (the transaction is failed), the result is
    /// transaction_aborted and nothing is rolled back either: the ignored error may have been
    /// one of those.
    ///
    /// Costs two round trips besides fn's statements: SAVEPOINT, then RELEASE (or ROLLBACK TO
    /// and RELEASE in one script). A utility statement cannot join the one-round-trip prelude,
    /// so as the transaction's first statement the SAVEPOINT has the pending BEGIN sent alone
    /// ahead of it: one more.
    template <class F>
    requires detail::savepoint_body<F>
    auto savepoint(F&& fn) -> std::remove_cvref_t<typename detail::savepoint_call<F>::type> {
        using R = std::remove_cvref_t<typename detail::savepoint_call<F>::type>;
        auto name = open_savepoint();
        if (!name) {
            return R{tl::unexpected(std::move(name).error())};
        }
        R outcome = [&]() -> R {
            if constexpr (detail::savepoint_call<F>::takes_transaction) {
                return std::invoke(fn, *this);
            } else {
                return std::invoke(fn);
            }
        }();
        std::optional<error> inner;
        if (!outcome) {
            inner = outcome.error();
        }
        if (auto closed = close_savepoint(*name, inner); !closed) {
            return R{tl::unexpected(std::move(closed).error())};
        }
        return outcome;
    }

    /// The leased connection, for anything the passthroughs do not cover.
    [[nodiscard]] connection& conn() noexcept;
    /// 1 on the first run of the function, 2 on the first retry, ...
    [[nodiscard]] std::uint32_t attempt() const noexcept { return attempt_; }

  private:
    friend class pool;
    transaction(lease& leased, std::uint32_t attempt) noexcept
        : lease_(&leased), attempt_(attempt) {}

    /// Sends SAVEPOINT under a fresh name; the quoted name.
    [[nodiscard]] result<std::string> open_savepoint();
    /// Releases the savepoint, or rolls back to it and releases it when the function failed
    /// with `failure`; an error when the savepoint must not or could not be closed (see
    /// savepoint()).
    [[nodiscard]] result<void> close_savepoint(const std::string& name,
                                               const std::optional<error>& failure);

    lease* lease_;
    std::uint32_t attempt_;
    std::uint32_t savepoints_ = 0;
};

}  // namespace pgkit
