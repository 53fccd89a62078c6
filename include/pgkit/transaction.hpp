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
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgkit {

class lease;

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
    [[nodiscard]] result<query_result> execute_cached_params(std::string_view sql,
                                                             const parameters& params);

    /// Opens a pipeline inside the transaction (pipeline.hpp), preparing through the lease's
    /// statement cache. A failed statement aborts the transaction, as outside a pipeline.
    [[nodiscard]] result<pipeline> start_pipeline(const pipeline_options& options = {});
    /// The leased connection, for anything the passthroughs do not cover.
    [[nodiscard]] connection& conn() noexcept;
    /// 1 on the first run of the function, 2 on the first retry, ...
    [[nodiscard]] std::uint32_t attempt() const noexcept { return attempt_; }

  private:
    friend class pool;
    transaction(lease& leased, std::uint32_t attempt) noexcept
        : lease_(&leased), attempt_(attempt) {}

    lease* lease_;
    std::uint32_t attempt_;
};

}  // namespace pgkit
