#pragma once

/// A point-in-time snapshot of a pool's gauges and counters, and its Prometheus text exposition.

#include "pgkit/pool_events.hpp"
#include "pgkit/replicas.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

/// Taken by pool::metrics(). Gauges are consistent with each other (read under the pool's lock);
/// counters only ever grow over the pool's life.
struct pool_metrics {
    std::string pool_name{};
    std::size_t max_size = 0;

    // Gauges.
    std::size_t size = 0;              ///< open connections: idle + in use + being closed
    std::size_t idle = 0;              ///< ready to hand out
    std::size_t in_use = 0;            ///< leased
    std::size_t waiting = 0;           ///< acquire() calls waiting now
    std::size_t pending_connects = 0;  ///< connections being opened now

    // Counters.
    std::uint64_t acquired = 0;          ///< successful acquires
    std::uint64_t acquire_timeouts = 0;  ///< acquires that ended in pool_timeout after waiting
    std::uint64_t acquire_rejected = 0;  ///< acquires refused at once (max_waiters reached)
    std::uint64_t acquire_failures = 0;  ///< acquires that ended in connection_failed
    std::uint64_t created = 0;           ///< connections opened
    std::uint64_t connect_failures = 0;  ///< failed attempts to open one
    std::uint64_t closed = 0;            ///< connections closed, all reasons
    std::array<std::uint64_t, close_reason_count> closed_by_reason{};  ///< by close_reason
    std::uint64_t resets = 0;          ///< dirty sessions reset (or their reset armed) on return
    std::uint64_t rollbacks = 0;       ///< transactions rolled back on return
    std::uint64_t leaks_reported = 0;  ///< leases reported by leak detection
    /// Round trips of leased connections (connection::round_trips()), added when each lease
    /// returns, its rollback and reset included; validation and connects are not counted.
    std::uint64_t round_trips = 0;

    // Acquire wait (from the call to the hand-out, successful acquires only), from a fixed-size
    // log-bucketed histogram: percentiles are exact to within 1/16 of the value.
    std::uint64_t acquire_wait_count = 0;
    std::chrono::microseconds acquire_wait_sum{0};
    std::chrono::microseconds acquire_wait_p50{0};
    std::chrono::microseconds acquire_wait_p99{0};
    std::chrono::microseconds acquire_wait_max{0};

    // With replicas (pool_options::replicas): every node and what the probes found, reads that
    // went to the primary because no replica qualified, and whether two nodes accept writes.
    std::vector<node_metrics> nodes{};
    std::uint64_t read_fallbacks = 0;
    bool split_brain = false;

    [[nodiscard]] std::uint64_t closed_for(close_reason reason) const noexcept {
        return closed_by_reason[static_cast<std::size_t>(reason)];
    }
};

/// The snapshot in the Prometheus text exposition format (version 0.0.4), every series labelled
/// pool="<pool_name>": `<prefix>_connections{state="idle|in_use|pending"}`, `<prefix>_max_size`,
/// `<prefix>_waiting`, counters `<prefix>_acquired_total`, `<prefix>_acquire_timeouts_total`,
/// `<prefix>_acquire_rejected_total`, `<prefix>_connections_created_total`,
/// `<prefix>_connect_failures_total`, `<prefix>_connections_closed_total{reason=...}`,
/// `<prefix>_leaks_reported_total`, `<prefix>_round_trips_total`, ..., and a summary
/// `<prefix>_acquire_wait_seconds` with quantiles 0.5, 0.99 and 1; with replicas also
/// `<prefix>_node_role{node=...,role=...}`,
/// `<prefix>_node_lag_seconds{node=...}`, `<prefix>_node_reads_total{node=...}`,
/// `<prefix>_read_fallbacks_total` and `<prefix>_split_brain`. `prefix` must be a valid metric
/// name ("pgkit_pool" if empty).
[[nodiscard]] std::string to_prometheus(const pool_metrics& snapshot,
                                        std::string_view prefix = "pgkit_pool");

}  // namespace pgkit
