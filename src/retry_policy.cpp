#include "pgkit/retry_policy.hpp"

#include <algorithm>
#include <random>

namespace pgkit {

std::chrono::microseconds retry_policy::backoff(std::uint32_t attempt) const {
    using std::chrono::microseconds;
    const auto initial = std::chrono::duration_cast<microseconds>(initial_backoff);
    const auto ceiling = std::chrono::duration_cast<microseconds>(max_backoff);
    if (initial.count() <= 0 || ceiling.count() <= 0) {
        return microseconds{0};
    }
    const std::uint32_t shift = std::min<std::uint32_t>(attempt > 0 ? attempt - 1 : 0, 30);
    const auto uncapped = initial.count() > (ceiling.count() >> shift)
                              ? ceiling
                              : microseconds{initial.count() << shift};
    const auto bound = std::min(ceiling, uncapped);
    thread_local std::minstd_rand random{std::random_device{}()};
    std::uniform_int_distribution<std::int64_t> pick{bound.count() / 2, bound.count()};
    return microseconds{pick(random)};
}

result<void> retry_policy::validate() const {
    if (max_attempts == 0) {
        return make_error(errc::invalid_argument, "retry_policy: max_attempts must be at least 1");
    }
    if (initial_backoff.count() < 0 || max_backoff.count() < 0) {
        return make_error(errc::invalid_argument,
                          "retry_policy: initial_backoff and max_backoff must not be negative");
    }
    return {};
}

}  // namespace pgkit
