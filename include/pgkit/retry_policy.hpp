#pragma once

/// When and how pgkit runs work again after a transient failure: the one policy type behind
/// pool::with_transaction, repository<E>::update_with_retry and the backfill runner's batch
/// retries. Whether an error is worth retrying at all is error::is_retryable(); a policy only says
/// how often and how long to wait in between.

#include "pgkit/error.hpp"

#include <chrono>
#include <cstdint>

namespace pgkit {

/// How many attempts, and the pause between them: an exponential backoff with jitter. Before
/// attempt n + 1 the caller waits a random time in [b/2, b], b = min(max_backoff,
/// initial_backoff * 2^(n-1)), so concurrent retries spread out instead of colliding again.
struct retry_policy {
    /// Attempts in all, the first included; 1 = no retry. At least 1.
    std::uint32_t max_attempts = 3;
    std::chrono::milliseconds initial_backoff{10};
    std::chrono::milliseconds max_backoff{1000};

    /// The pause after attempt `attempt` (1-based) failed; zero when either backoff is zero.
    [[nodiscard]] std::chrono::microseconds backoff(std::uint32_t attempt) const;
    /// invalid_argument naming the field: max_attempts 0, a negative backoff.
    [[nodiscard]] result<void> validate() const;
};

}  // namespace pgkit
