#pragma once

// A fixed-size, lock-free histogram of durations in microseconds with log-linear buckets (16
// sub-buckets per power of two, as HdrHistogram does with one significant hex digit), so
// percentiles are within 1/16 of the true value and memory stays constant whatever the traffic.

#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace pgkit::detail {

class wait_histogram {
  public:
    static constexpr std::size_t sub_buckets = 16;  // per power of two
    static constexpr std::size_t bucket_count = sub_buckets + (64 - 4) * sub_buckets;

    /// The bucket of a value: values below 16 have a bucket each; above, the power of two and
    /// the next four bits choose it.
    [[nodiscard]] static constexpr std::size_t bucket_of(std::uint64_t value) noexcept {
        if (value < sub_buckets) {
            return static_cast<std::size_t>(value);
        }
        const auto exponent = static_cast<std::size_t>(std::bit_width(value) - 1);  // >= 4
        const auto mantissa = static_cast<std::size_t>((value >> (exponent - 4)) & 15U);
        return sub_buckets + (exponent - 4) * sub_buckets + mantissa;
    }
    /// The largest value that falls into `bucket`.
    [[nodiscard]] static constexpr std::uint64_t upper_bound(std::size_t bucket) noexcept {
        if (bucket < sub_buckets) {
            return bucket;
        }
        const std::size_t exponent = (bucket - sub_buckets) / sub_buckets + 4;
        const std::uint64_t mantissa = (bucket - sub_buckets) % sub_buckets;
        const std::uint64_t lower = (sub_buckets + mantissa) << (exponent - 4);
        return lower + ((std::uint64_t{1} << (exponent - 4)) - 1);
    }

    void record(std::uint64_t micros) noexcept {
        buckets_[bucket_of(micros)].fetch_add(1, std::memory_order_relaxed);
        count_.fetch_add(1, std::memory_order_relaxed);
        sum_.fetch_add(micros, std::memory_order_relaxed);
        std::uint64_t seen = max_.load(std::memory_order_relaxed);
        while (micros > seen &&
               !max_.compare_exchange_weak(seen, micros, std::memory_order_relaxed)) {
        }
    }

    [[nodiscard]] std::uint64_t count() const noexcept {
        return count_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t sum() const noexcept {
        return sum_.load(std::memory_order_relaxed);
    }
    [[nodiscard]] std::uint64_t max() const noexcept {
        return max_.load(std::memory_order_relaxed);
    }

    /// The value at quantile q in [0, 1] (the bucket's upper bound, never above max()); 0 when
    /// nothing was recorded. Concurrent records may or may not be counted.
    [[nodiscard]] std::uint64_t percentile(double q) const noexcept {
        std::uint64_t total = 0;
        std::array<std::uint64_t, bucket_count> counts{};
        for (std::size_t i = 0; i < bucket_count; ++i) {
            counts[i] = buckets_[i].load(std::memory_order_relaxed);
            total += counts[i];
        }
        if (total == 0) {
            return 0;
        }
        q = q < 0 ? 0 : (q > 1 ? 1 : q);
        auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
        rank = rank == 0 ? 1 : rank;
        std::uint64_t seen = 0;
        const std::uint64_t largest = max();
        for (std::size_t i = 0; i < bucket_count; ++i) {
            seen += counts[i];
            if (seen >= rank) {
                const std::uint64_t bound = upper_bound(i);
                return bound < largest ? bound : largest;
            }
        }
        return largest;
    }

  private:
    std::array<std::atomic<std::uint64_t>, bucket_count> buckets_{};
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_{0};
    std::atomic<std::uint64_t> max_{0};
};

}  // namespace pgkit::detail
