#pragma once

/// Round trips counted per thread, and a scoped budget that reports a block making more of them
/// than it may: an N+1 guard for tests (a loop of gets where find_many was meant, a page that
/// asks for its count separately).
///
/// ```cpp
/// {
///     pgkit::round_trip_budget budget{1};   // this block may wait for the server once
///     auto users = repo.find_many(ids);
///     REQUIRE(budget.check());              // round_trip_budget_exceeded otherwise
/// }
/// ```
///
/// A round trip is counted as connection::round_trips() counts it (a statement, a prepare, a
/// script, the start and the end of a COPY, one flush of a pipeline), on whichever connection the
/// thread uses, pooled or not. Pool maintenance (connects, validation, the reset of a returned
/// lease) runs on the pool's threads or inside acquire and release; only what runs on this thread
/// is counted, acquire and release included.

#include "pgkit/error.hpp"

#include <cstdint>
#include <functional>
#include <source_location>

namespace pgkit {

/// Round trips this thread has made since it started, on every connection.
[[nodiscard]] std::uint64_t thread_round_trips() noexcept;

/// Counts the round trips this thread makes while it lives. Not copyable; budgets nest (each
/// counts from its own start).
class round_trip_budget {
  public:
    /// Called once, on destruction, when the block used more than it was allowed; tests pass
    /// their framework's failure (e.g. `[](const pgkit::error& e) { FAIL(e.message()); }`).
    using exceeded_handler = std::function<void(const error&)>;

    explicit round_trip_budget(std::uint64_t allowed,
                               exceeded_handler on_exceeded = {},
                               std::source_location where = std::source_location::current());
    round_trip_budget(const round_trip_budget&) = delete;
    round_trip_budget& operator=(const round_trip_budget&) = delete;
    ~round_trip_budget();

    /// Round trips since construction.
    [[nodiscard]] std::uint64_t used() const noexcept;
    [[nodiscard]] std::uint64_t allowed() const noexcept { return allowed_; }
    /// Nothing while used() <= allowed(); else round_trip_budget_exceeded, naming the counts and
    /// where the budget was made.
    [[nodiscard]] result<void> check() const;

  private:
    std::uint64_t allowed_;
    std::uint64_t start_;
    exceeded_handler on_exceeded_;
    std::source_location where_;
};

namespace detail {
/// Counts one round trip on this thread (the driver layer calls it).
void count_thread_round_trip() noexcept;
}  // namespace detail

}  // namespace pgkit
