#pragma once

/// Pool events for logging and tracing: a plain struct handed to a hook (pool_options::on_event).
/// Nothing in an event ever contains a password: targets are redacted URLs.

#include "pgkit/error.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>

namespace pgkit {

enum class pool_event_type {
    connection_opened,      ///< a new session is ready (backend_pid set)
    connect_failed,         ///< opening a session failed (failure set)
    connection_closed,      ///< a session was closed (reason set; failure when it broke)
    connection_reset,       ///< a dirty session was reset on return, or its reset armed
    acquire_timeout,        ///< acquire() gave up after acquire_timeout
    acquire_rejected,       ///< acquire() failed at once: the wait queue was full (max_waiters)
    leak_suspected,         ///< a lease is held longer than leak_detection_threshold (location set)
    leaked_lease_returned,  ///< a lease reported as leaked came back (held_for set)
    pool_closed,            ///< close() started
    node_role_changed,      ///< a probe found a node in another role (target names the change)
    split_brain_detected,   ///< two nodes accept writes: write acquires fail with split_brain
    split_brain_resolved,   ///< one node accepts writes again
};

/// Why the pool closed a connection. The numeric values index pool_metrics::closed_by_reason.
enum class close_reason : std::uint8_t {
    idle_timeout,       ///< idle beyond idle_timeout (and above min_idle)
    max_lifetime,       ///< reached its (jittered) max_lifetime
    max_uses,           ///< served max_uses leases
    broken,             ///< the session was lost or the lease marked it broken
    validation_failed,  ///< the liveness check before hand-out failed
    rollback_failed,    ///< rolling back a transaction left open on return failed
    reset_failed,       ///< resetting a dirty session failed
    dirty,              ///< dirty session under reset_policy::discard
    pool_closed,        ///< the pool was closed
    role_changed,       ///< its node no longer has the role the pool needs (promoted, demoted)
};
inline constexpr std::size_t close_reason_count = 10;

/// The stable name of an event type or close reason ("connection_opened", "idle_timeout").
[[nodiscard]] std::string_view to_string(pool_event_type type) noexcept;
[[nodiscard]] std::string_view to_string(close_reason reason) noexcept;

/// One pool event. The string_views are valid only during the hook call.
struct pool_event {
    pool_event_type type = pool_event_type::connection_opened;
    /// pool_options::name.
    std::string_view pool_name{};
    /// Where the pool connects, password redacted.
    std::string_view target{};
    /// The server process of the session concerned (0 when none).
    int backend_pid = 0;
    std::optional<close_reason> reason{};
    /// What failed (connect_failed, connection_closed after a failure, acquire_timeout, ...).
    std::optional<error> failure{};
    /// How long the lease has been held (leak events) or the acquire waited (timeouts).
    std::chrono::milliseconds duration{0};
    /// Where the lease was acquired (leak events) or acquire() was called (timeouts).
    std::optional<std::source_location> location{};
};

/// A one-line description for logs: "pool 'app' leak_suspected: lease held 5012 ms, acquired at
/// src/handler.cpp:42 (handle)".
[[nodiscard]] std::string to_string(const pool_event& event);

/// Receives pool events; see pool_options::on_event for when and where it is called.
using pool_event_hook = std::function<void(const pool_event&)>;

}  // namespace pgkit
