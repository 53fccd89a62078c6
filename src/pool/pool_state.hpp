#pragma once

// The shared state behind pgkit::pool and its leases: idle list, FIFO wait queue, in-use list,
// connector and maintainer threads, counters. Private to pgkit.
//
// Locking: one mutex guards everything below it. It is never held during I/O (connect,
// validation, rollback, reset, close) nor while calling the event hook. A connection being
// opened counts in pending_, one open (idle, in use, handed over or being closed) in size_, so
// size_ + pending_ <= max_size holds at all times.

#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/pool_events.hpp"
#include "pgkit/pool_metrics.hpp"
#include "pgkit/pool_options.hpp"
#include "pgkit/statement_cache.hpp"

#include "pool/session_init.hpp"
#include "pool/wait_histogram.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace pgkit::detail {

using pool_clock = std::chrono::steady_clock;

/// One pooled session and what the pool knows about it. Owned by the idle list, a waiter or a
/// lease. Fields marked (mutex) are only touched under the pool's mutex; the others belong to
/// whoever owns the object.
struct pooled_connection {
    pooled_connection(connection opened, std::size_t cache_capacity) noexcept
        : conn(std::move(opened)), cache(cache_capacity) {}

    connection conn;
    statement_cache cache;
    std::uint64_t id = 0;
    int pid = 0;
    pool_clock::time_point created;
    pool_clock::time_point expires = pool_clock::time_point::max();
    pool_clock::time_point idle_since;  // (mutex) while idle
    std::uint64_t uses = 0;
    std::uint64_t round_trips_counted = 0;  ///< conn.round_trips() already in the pool's counter
    bool broken = false;

    // While leased (mutex): the intrusive in-use list and what leak detection reports.
    pool_clock::time_point acquired;
    std::source_location where;
    bool leak_reported = false;
    pooled_connection* prev_in_use = nullptr;
    pooled_connection* next_in_use = nullptr;
};

/// One acquire() waiting for a connection; lives on the waiting thread's stack.
struct waiter {
    std::condition_variable cv;
    std::unique_ptr<pooled_connection> handed;
    std::optional<error> failure;
    bool done = false;
};

/// What the node of a pool's connections must be, from target_session_attrs: a connection whose
/// node has changed role (ParameterStatus in_hot_standby) is closed when it comes back.
enum class node_requirement { any, writable, standby };

class pool_state {
  public:
    pool_state(pool_options options, session_plan plan);
    ~pool_state();
    pool_state(const pool_state&) = delete;
    pool_state& operator=(const pool_state&) = delete;

    /// Starts the maintainer (which also warms min_idle).
    void start();
    [[nodiscard]] result<lease> acquire(const std::shared_ptr<pool_state>& self,
                                        std::source_location where);
    /// The return path of a lease: cleans, then reuses or closes the connection.
    void give_back(std::unique_ptr<pooled_connection> pooled) noexcept;
    /// Closes the idle connections to `address` (its node changed role); in-use ones are checked
    /// when they come back.
    void evict_idle_to(const host_address& address) noexcept;
    bool close(pool_clock::time_point deadline);
    /// Stops and joins the maintainer and connector threads (after close()).
    void stop_threads() noexcept;
    [[nodiscard]] bool is_closed() const noexcept {
        return closed_flag_.load(std::memory_order_acquire);
    }
    [[nodiscard]] pool_metrics metrics() const;
    [[nodiscard]] const pool_options& options() const noexcept { return options_; }

  private:
    struct counters {
        std::uint64_t acquired = 0;
        std::uint64_t acquire_timeouts = 0;
        std::uint64_t acquire_rejected = 0;
        std::uint64_t acquire_failures = 0;
        std::uint64_t created = 0;
        std::uint64_t connect_failures = 0;
        std::uint64_t closed = 0;
        std::array<std::uint64_t, close_reason_count> closed_by_reason{};
        std::uint64_t resets = 0;
        std::uint64_t rollbacks = 0;
        std::uint64_t leaks_reported = 0;
        std::uint64_t round_trips = 0;
    };
    using lock = std::unique_lock<std::mutex>;

    void connector_loop(std::stop_token stop);
    void maintainer_loop(std::stop_token stop);

    /// Opens and initialises one session (no lock held).
    [[nodiscard]] result<std::unique_ptr<pooled_connection>> open_one();
    /// One session from options_.open_session, its failures as connection_failed.
    [[nodiscard]] result<connection> open_through_opener() const;
    /// How many connects to start now (lock held).
    [[nodiscard]] std::size_t connects_wanted(pool_clock::time_point now) const noexcept;
    /// Wakes or starts connectors for connects_wanted() (lock held).
    void ensure_connectors(pool_clock::time_point now) noexcept;
    /// Hands an available connection to the oldest waiter, else to the idle list (lock held).
    /// Returns it when the pool is closed: the caller closes it after unlocking.
    [[nodiscard]] std::unique_ptr<pooled_connection> place(
        std::unique_ptr<pooled_connection> pooled, pool_clock::time_point now) noexcept;
    /// Records a lease (lock held).
    void track_in_use(pooled_connection& pooled,
                      pool_clock::time_point now,
                      std::source_location where) noexcept;
    void untrack_in_use(pooled_connection& pooled) noexcept;
    /// Closes a connection counted in size_ (no lock held).
    void discard(std::unique_ptr<pooled_connection> pooled,
                 close_reason reason,
                 std::optional<error> failure) noexcept;
    /// Asks the maintainer to wake before `deadline` (lock held).
    void wake_maintainer_by(pool_clock::time_point deadline) noexcept;
    /// Fails waiters after a connect failure (lock held).
    void fail_waiters(const error& failure) noexcept;
    void emit(pool_event event) const noexcept;
    [[nodiscard]] pool_event make_event(pool_event_type type) const noexcept;

    [[nodiscard]] bool fits_requirement(const connection& conn) const noexcept;

    const pool_options options_;
    const session_plan plan_;
    const node_requirement requirement_;
    const std::string target_;
    const std::size_t cache_capacity_;

    mutable std::mutex mutex_;
    bool closed_ = false;
    std::atomic<bool> closed_flag_{false};
    std::deque<std::unique_ptr<pooled_connection>> idle_;  // back: most recently returned
    std::list<waiter*> waiters_;                           // front: oldest
    pooled_connection* in_use_head_ = nullptr;
    std::size_t in_use_ = 0;
    std::size_t size_ = 0;
    std::size_t pending_ = 0;
    std::uint64_t next_id_ = 1;
    counters counters_;
    std::chrono::milliseconds refill_backoff_{0};
    pool_clock::time_point next_refill_{};

    std::condition_variable_any connector_cv_;
    std::vector<std::jthread> connectors_;
    std::size_t connectors_idle_ = 0;

    std::condition_variable_any maintainer_cv_;
    std::jthread maintainer_;
    bool maintainer_wake_ = false;
    pool_clock::time_point maintainer_next_ = pool_clock::time_point::max();

    std::condition_variable drained_cv_;
    wait_histogram wait_;
};

}  // namespace pgkit::detail
