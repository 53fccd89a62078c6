#pragma once

/// Runs the statements of the layers above the pool (repositories, keyset pages): each on a
/// connection leased from a pool for that statement alone, inside a transaction the caller
/// holds, or through a statement runner of another library's transaction (pgkit/pqxx.hpp).
/// Internal to pgkit.
///
/// Thread safety: an executor bound to a pool may run statements from several threads at once;
/// one bound to a transaction is used from that transaction's thread only, while it is open.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/replicas.hpp"
#include "pgkit/transaction.hpp"

#include <concepts>
#include <memory>
#include <string_view>
#include <utility>

namespace pgkit::detail {

/// Runs statements inside a transaction another library owns: `run(target, sql, params,
/// cached)`. Optional headers (pgkit/pqxx.hpp) make them; `target` is their transaction.
struct foreign_runner {
    void* target = nullptr;
    result<query_result> (*run)(void* target,
                                std::string_view sql,
                                const parameters& params,
                                bool cached) = nullptr;
};

/// `foreign_transaction<T>::runner(T&)` makes the runner for a transaction type of another
/// library; specialised by the optional header that knows the type, empty otherwise.
template <class T, class = void>
struct foreign_transaction {};

template <class T>
concept foreign_transaction_type = requires(T& tx) {
    { foreign_transaction<T>::runner(tx) } -> std::same_as<foreign_runner>;
};

class executor {
  public:
    explicit executor(std::shared_ptr<pool> pool) noexcept : pool_(std::move(pool)) {}
    executor(std::shared_ptr<pool> pool, transaction* tx) noexcept
        : pool_(std::move(pool)), tx_(tx) {}
    /// Statements run through `runner`, nothing through a pool (streams and COPY need one and
    /// report invalid_argument).
    explicit executor(foreign_runner runner) noexcept : runner_(runner) {}

    /// Runs `sql` through the connection's prepared-statement cache, or unprepared when `cached`
    /// is false (for texts that rarely repeat, e.g. multi-row INSERTs). The parameters' encoding
    /// error, if any; invalid_argument without a pool or transaction; the pool's and the
    /// statement's errors.
    [[nodiscard]] result<query_result> run(std::string_view sql,
                                           const parameters& params,
                                           bool cached = true) const;
    /// run() of a cached statement whose rows the caller decodes with `binary`'s readers
    /// (entity decoding): they come in binary format when `binary` accepts their column types
    /// (statement_cache.hpp). Through a foreign runner, text.
    [[nodiscard]] result<query_result> run_rows(std::string_view sql,
                                                const parameters& params,
                                                binary_rows_filter binary) const;
    /// The same for a statement that only reads: outside a transaction it goes where
    /// pool::acquire_read sends it (a replica within the lag bound that has replayed
    /// read_after(), else the primary).
    [[nodiscard]] result<query_result> read(std::string_view sql,
                                            const parameters& params,
                                            bool cached = true) const;
    /// read() of rows decoded as run_rows() says.
    [[nodiscard]] result<query_result> read_rows(std::string_view sql,
                                                 const parameters& params,
                                                 binary_rows_filter binary) const;

    /// Two reads in one round trip (a pipeline on one connection, or in the transaction): both
    /// results, each its own error; an error when no connection could be had. Both run
    /// through the statement cache. Through a foreign runner: one after the other.
    [[nodiscard]] result<std::pair<result<query_result>, result<query_result>>> read_pair(
        std::string_view first,
        const parameters& first_params,
        std::string_view second,
        const parameters& second_params) const;

    /// A copy whose reads only go to nodes that have replayed `position` (read-your-writes).
    [[nodiscard]] executor reading_after(wal_position position) const {
        executor copy{*this};
        copy.read_.after = position;
        return copy;
    }
    [[nodiscard]] const read_options& reads() const noexcept { return read_; }

    /// The transaction statements run in, or nullptr (one lease per statement).
    [[nodiscard]] transaction* tx() const noexcept { return tx_; }
    [[nodiscard]] const std::shared_ptr<pool>& owner() const noexcept { return pool_; }

  private:
    [[nodiscard]] result<query_result> execute(bool read_only,
                                               std::string_view sql,
                                               const parameters& params,
                                               bool cached,
                                               binary_rows_filter binary = nullptr) const;

    std::shared_ptr<pool> pool_;
    transaction* tx_ = nullptr;
    foreign_runner runner_{};
    read_options read_{};
};

}  // namespace pgkit::detail
