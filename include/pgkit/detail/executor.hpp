#pragma once

/// Runs the statements of the layers above the pool (repositories, keyset pages): each on a
/// connection leased from a pool for that statement alone, or inside a transaction the caller
/// holds. Internal to pgkit.
///
/// Thread safety: an executor bound to a pool may run statements from several threads at once;
/// one bound to a transaction is used from that transaction's thread only, while it is open.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/transaction.hpp"

#include <memory>
#include <string_view>
#include <utility>

namespace pgkit::detail {

class executor {
  public:
    explicit executor(std::shared_ptr<pool> pool) noexcept : pool_(std::move(pool)) {}
    executor(std::shared_ptr<pool> pool, transaction* tx) noexcept
        : pool_(std::move(pool)), tx_(tx) {}

    /// Runs `sql` through the connection's prepared-statement cache, or unprepared when `cached`
    /// is false (for texts that rarely repeat, e.g. multi-row INSERTs). The parameters' encoding
    /// error, if any; invalid_argument without a pool or transaction; the pool's and the
    /// statement's errors.
    [[nodiscard]] result<query_result> run(std::string_view sql,
                                           const parameters& params,
                                           bool cached = true) const;

    /// The transaction statements run in, or nullptr (one lease per statement).
    [[nodiscard]] transaction* tx() const noexcept { return tx_; }
    [[nodiscard]] const std::shared_ptr<pool>& owner() const noexcept { return pool_; }

  private:
    std::shared_ptr<pool> pool_;
    transaction* tx_ = nullptr;
};

}  // namespace pgkit::detail
