#pragma once

/// A transaction on a leased connection, as pool::with_transaction hands it to its function, and
/// the options that shape it (isolation, read-only, deferrable, retries).

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/value_traits.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgkit {

class lease;

enum class isolation_level { read_committed, repeatable_read, serializable };

/// When and how pool::with_transaction runs the function again.
///
/// Retried: serialization_failure (40001) and deadlock_detected (40P01), from any statement or
/// the COMMIT, and connection_lost before COMMIT was sent (the server rolled back; a new
/// connection is leased). Never retried: connection_lost during COMMIT (the outcome is unknown),
/// and everything else. Between attempts the caller's thread sleeps for an exponential backoff
/// with jitter: attempt n waits a random time in [b/2, b], b = min(max_backoff,
/// initial_backoff * 2^(n-1)).
struct retry_policy {
    /// Attempts in all, the first included; 1 = no retry. At least 1.
    std::uint32_t max_attempts = 3;
    std::chrono::milliseconds initial_backoff{10};
    std::chrono::milliseconds max_backoff{1000};
};

struct transaction_options {
    /// nullopt: the server's default_transaction_isolation.
    std::optional<isolation_level> isolation{};
    bool read_only = false;
    /// Only meaningful for serializable read-only transactions (they then never fail with a
    /// serialization error, but may wait to start).
    bool deferrable = false;
    retry_policy retry{};
};

/// The `BEGIN ...` statement for `options` ("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY").
[[nodiscard]] std::string begin_statement(const transaction_options& options);

/// An open transaction on a leased connection. Handed by reference to with_transaction's
/// function, valid only during that call; the pool commits or rolls back afterwards, so the
/// function must not run COMMIT or ROLLBACK itself (SAVEPOINTs are fine).
///
/// Statements that fail with an error that poisons the connection mark the lease broken, so the
/// connection is discarded rather than reused. Not thread-safe, like the connection.
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
