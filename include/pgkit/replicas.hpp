#pragma once

/// Read replicas: where a pool sends read-only work, how fresh that work's data must be, and what
/// the pool knows about each node. docs/topology.md describes the routing and the failover
/// behaviour.
///
/// ```cpp
/// auto pool = pgkit::pool::create({.connection = *primary_url,
///                                  .replicas = {.hosts = {{"replica1", 5432}},
///                                               .max_lag = 5s}}).value();
/// auto saved = orders.insert(order);                   // the primary
/// auto seen = pool->write_position();                  // read-your-writes token
/// auto again = orders.read_after(*seen).get(saved->id); // a replica that has replayed it,
///                                                      // else the primary
/// ```

#include "pgkit/connection_options.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

/// A position in the primary's write-ahead log (an LSN): what pool::write_position() returns
/// after writes, and what a read can demand a replica has replayed.
struct wal_position {
    std::uint64_t lsn = 0;

    /// "16/B374D848", as PostgreSQL prints an LSN.
    [[nodiscard]] std::string to_string() const;
    /// Parses PostgreSQL's form; nullopt for anything else.
    [[nodiscard]] static std::optional<wal_position> parse(std::string_view text) noexcept;

    friend auto operator<=>(const wal_position&, const wal_position&) = default;
};

/// Where read-only work may go.
struct read_options {
    /// Read-your-writes: only a node that has replayed this position (or the primary) serves the
    /// read. nullopt: any replica within replica_options::max_lag.
    std::optional<wal_position> after{};
};

/// Replicas a pool sends read-only work to (pool_options::replicas).
struct replica_options {
    /// The replicas, each a host and port; everything else (user, database, TLS, ...) comes from
    /// pool_options::connection. The pool's own connection hosts are added: whichever of them is
    /// in recovery serves reads too (so one multi-host URL of a primary and its standbys is
    /// enough). Empty, and a single connection host: no replicas, every read goes to the primary.
    std::vector<host_address> hosts{};
    /// A replica missing WAL the primary wrote longer ago than this gets no reads. Zero: no
    /// bound. The design documents' warning level for replication lag is 5 s.
    std::chrono::milliseconds max_lag = std::chrono::seconds{5};
    /// How often every node is probed for its role and its WAL position (one short query per
    /// node, on a connection of the probe's own). Lag is known to within about this much.
    std::chrono::milliseconds probe_interval = std::chrono::seconds{1};
    /// Connections per replica at most (each replica has a pool of its own); 0: max_size.
    std::size_t max_size_per_replica = 0;
};

/// What a probe found a node to be.
enum class node_role {
    unknown,  ///< not probed yet
    primary,  ///< accepts writes (not in recovery)
    standby,  ///< in recovery: a replica
    down,     ///< the last probe could not reach it
};

[[nodiscard]] std::string_view to_string(node_role role) noexcept;

/// One node of a pool's topology, in pool_metrics::nodes.
struct node_metrics {
    std::string host{};
    std::optional<std::uint16_t> port{};
    node_role role = node_role::unknown;
    /// For a standby: how long ago the primary wrote the oldest WAL it has not replayed (zero
    /// when caught up); nullopt when not known (no probe of the primary or of this node yet).
    std::optional<std::chrono::milliseconds> lag{};
    /// The last replayed (standby) or written (primary) position the probe saw.
    std::optional<wal_position> position{};
    std::uint64_t reads_served = 0;   ///< reads this node served as a replica
    std::uint64_t read_failures = 0;  ///< reads routed here that could not get a connection
};

}  // namespace pgkit
