#pragma once

// A pool's nodes when it has replicas (private): which node is the primary, which are standbys,
// how far each standby lags, where a read goes, and whether two nodes accept writes at once.
//
// A probe thread visits every node each probe_interval on a connection of its own (so probes
// never wait behind the pool's leases): `pg_is_in_recovery()` and the node's WAL position. The
// primary's positions, with the time they were seen, form a short history; a standby's lag is the
// age of the oldest primary position it has not replayed (zero when it has replayed the newest),
// so an idle primary never makes a caught-up standby look late, and a paused replay does. Each
// node has a pool of its own (pool_state) that reads lease from; writes never come here.
//
// Locking: one mutex guards the probe results and the history; it is never held during I/O.

#include "pgkit/connection.hpp"
#include "pgkit/pool_events.hpp"
#include "pgkit/pool_metrics.hpp"
#include "pgkit/pool_options.hpp"
#include "pgkit/replicas.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace pgkit::detail {

class pool_state;

class topology {
  public:
    using clock = std::chrono::steady_clock;
    using event_sink = std::function<void(pool_event)>;
    using demotion_sink = std::function<void(const host_address&)>;

    /// The nodes are the pool's connection hosts plus options.replicas.hosts (duplicates once).
    /// `demoted` is told when a node that was the primary stops being one (its sessions in the
    /// primary's pool must go).
    topology(const pool_options& options, event_sink emit, demotion_sink demoted);
    ~topology();
    topology(const topology&) = delete;
    topology& operator=(const topology&) = delete;

    /// Opens the replica pools and starts probing.
    void start();
    /// Stops probing and closes the replica pools (their leases close on return).
    void stop() noexcept;

    /// A node's pool fit for a read under `options`, round-robin among the fit ones, with the
    /// node's index; nullptr when none is fit (the read goes to the primary).
    [[nodiscard]] std::shared_ptr<pool_state> route(const read_options& options, std::size_t& node);
    /// Bookkeeping after a routed read got (or could not get) its connection.
    void note_read(std::size_t node, bool leased) noexcept;
    void note_fallback() noexcept { fallbacks_.fetch_add(1, std::memory_order_relaxed); }

    /// True while two nodes accept writes (two probe rounds in a row saw it).
    [[nodiscard]] bool split_brain() const noexcept {
        return split_brain_.load(std::memory_order_acquire);
    }
    /// The addresses of the nodes that accept writes now (for the split-brain error).
    [[nodiscard]] std::string writable_nodes() const;

    /// Fills the node metrics and the fallback counter of a snapshot.
    void fill(pool_metrics& m) const;

    /// Waits (bounded) until a probe round has finished after this call; false on timeout.
    bool wait_for_probe(std::chrono::milliseconds limit);

  private:
    struct probe_result {
        bool reachable = false;
        bool in_recovery = false;
        std::optional<wal_position> position;
    };
    struct node {
        host_address address;
        connection_options direct;          ///< this node alone, for the probe's own connection
        std::shared_ptr<pool_state> reads;  ///< the node's pool for reads while it is a standby
        std::optional<connection> probe_connection;  ///< the probe thread's only
        // (mutex)
        node_role role = node_role::unknown;
        std::optional<wal_position> position;
        std::optional<std::chrono::milliseconds> lag;
        clock::time_point avoid_until{};  ///< after a failed lease: skipped until the next probe
        std::atomic<std::uint64_t> reads_served{0};
        std::atomic<std::uint64_t> read_failures{0};
    };
    struct sample {
        clock::time_point seen;
        wal_position position;
    };

    void probe_loop(std::stop_token stop);
    [[nodiscard]] probe_result probe(node& n);
    /// The lag of a standby that has replayed `replayed` (lock held).
    [[nodiscard]] std::optional<std::chrono::milliseconds> lag_of(wal_position replayed,
                                                                  clock::time_point now) const;
    [[nodiscard]] std::string writable_nodes_locked() const;
    [[nodiscard]] bool fit(const node& n,
                           const read_options& options,
                           clock::time_point now) const noexcept;

    const pool_options options_;
    const event_sink emit_;
    const demotion_sink demoted_;
    std::vector<std::unique_ptr<node>> nodes_;

    mutable std::mutex mutex_;
    std::deque<sample> history_;  // (mutex) oldest first
    std::uint64_t rounds_ = 0;    // (mutex) probe rounds finished
    std::condition_variable_any round_done_;
    int rounds_with_two_primaries_ = 0;  // (mutex)
    std::atomic<bool> split_brain_{false};
    std::atomic<std::uint64_t> next_{0};
    std::atomic<std::uint64_t> fallbacks_{0};
    std::jthread prober_;
};

/// The addresses a pool's topology spans: the connection's hosts, then the replicas' (each once).
[[nodiscard]] std::vector<host_address> topology_hosts(const pool_options& options);

}  // namespace pgkit::detail
