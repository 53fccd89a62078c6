#pragma once

/// How a pgkit::pool behaves: sizes, timeouts, lifetimes, session initialisation, reset policy
/// and the prepared-statement cache. An aggregate with documented defaults, meant for designated
/// initializers: `pgkit::pool_options{.connection = *opts, .max_size = 16, .acquire_timeout = 2s}`.
/// docs/pool.md explains each option and the failure behaviour they shape.

#include "pgkit/connection_options.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool_events.hpp"
#include "pgkit/replicas.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct pg_conn;

namespace pgkit {

/// A session the application opened for the pool (pool_options::open_session): either a
/// connected libpq handle that pgkit takes over, or, when `handle` is null, the connection
/// options pgkit connects with itself. pgkit/pqxx.hpp builds one from a libpqxx connection.
struct opened_session {
    /// A connected libpq session (PGconn*, CONNECTION_OK); pgkit owns it from here on.
    pg_conn* handle = nullptr;
    /// Where pgkit connects when `handle` is null (its connect_timeout is the pool's).
    connection_options connect{};
};

/// Opens one session for a pool; called from the pool's connector threads, so it must be
/// thread-safe. An error value or an exception counts as a failed connect (connection_failed).
using session_opener = std::function<result<opened_session>()>;

/// What the pool does with a returned connection whose session state may be dirty (see
/// connection::session_state_may_be_dirty). Open or failed transactions are always rolled back
/// first, whatever the policy.
enum class reset_policy {
    /// The default. A connection that may be dirty (connection::session_state_may_be_dirty: it
    /// ran a statement that can leave session state behind, such as SET, CREATE TEMP, LISTEN,
    /// PREPARE, DECLARE ... WITH HOLD, DO, CALL, session advisory locks, set_config or setseed,
    /// read with pgkit's SQL lexer, or a setting the server reports changed) is reset with its
    /// next statement, in that statement's round trip (the session check plus the reset's other
    /// statements: connection::reset_with_next_statement). Any other connection that ran a
    /// statement gets the session check
    /// (connection::check_session_first): its next statement is preceded, in the same round
    /// trip, by statements that clear what functions, procedures and triggers may have left
    /// (settings, role, temporary tables, held cursors, advisory locks, sequence state,
    /// random()'s seed), calling for the full reset when they cannot (LISTEN). No session state
    /// reaches the next lease but a prepared statement made by SQL PREPARE inside a function;
    /// docs/pool.md says why, and what the check costs.
    when_dirty,
    /// Like when_dirty without the session check: only what the SQL text and the reported
    /// settings show is reset. For databases whose functions, procedures and triggers leave no
    /// session state (no session-level set_config, advisory locks, temporary tables, LISTEN,
    /// SET ROLE, setseed or nextval whose lastval() matters); saves the check's server work.
    when_sql_dirty,
    /// Reset every returned connection: one round trip per lease, whatever functions and
    /// triggers do.
    always,
    /// Close connections that may be dirty instead of resetting them; others get the session
    /// check, as with when_dirty.
    discard,
};

/// How session settings (session_options) reach the server.
enum class session_init_mode {
    /// In the startup packet's `options` parameter (`-c name=value`): no round trip, and the
    /// values are the session's defaults, so RESET ALL and DISCARD ALL keep them. PgBouncer
    /// refuses unknown startup parameters unless `ignore_startup_parameters = options` is set,
    /// and then silently drops them: use set_statements behind PgBouncer.
    startup_options,
    /// `SET name TO value` statements right after connecting (one round trip per new
    /// connection), re-applied after every reset. The pool's settings then add nothing to the
    /// `options` startup parameter; whether a proxy accepts the session at all is
    /// docs/pool.md's "PgBouncer" section.
    set_statements,
};

/// Settings every pooled session starts with.
struct session_options {
    /// Shown in pg_stat_activity; empty keeps connection_options::application_name.
    std::string application_name{};
    /// Per-statement limit; nullopt keeps the server's setting (0 there means none).
    std::optional<std::chrono::milliseconds> statement_timeout{};
    /// Limit on waiting for a lock; nullopt keeps the server's setting.
    std::optional<std::chrono::milliseconds> lock_timeout{};
    /// The server ends sessions idle inside a transaction this long; nullopt keeps the server's.
    std::optional<std::chrono::milliseconds> idle_in_transaction_session_timeout{};
    /// Schemas, in order (each quoted as an identifier); empty keeps the server's search_path.
    std::vector<std::string> search_path{};
    /// Any other settings, as {name, value} (e.g. {"work_mem", "64MB"}). Names must be plain or
    /// dotted identifiers; values are sent as text.
    std::vector<std::pair<std::string, std::string>> settings{};
    session_init_mode mode = session_init_mode::startup_options;
};

/// Options of pgkit::pool. Durations of zero mean "off" where noted.
struct pool_options {
    /// Where to connect. Its connect_timeout is replaced by pool_options::connect_timeout.
    connection_options connection{};
    /// Names the pool in events and metrics.
    std::string name = "pgkit";

    /// Most connections open at once (idle + in use + being opened). Must be at least 1.
    std::size_t max_size = 10;
    /// Idle connections the maintainer keeps ready (0: the pool grows on demand only).
    /// At most max_size.
    std::size_t min_idle = 0;
    /// Longest acquire() waits for a connection before pool_timeout. Must be positive.
    std::chrono::milliseconds acquire_timeout = std::chrono::seconds{30};
    /// Longest opening one connection may take (every host tried). Must be positive. When the
    /// server is down, acquire() fails with connection_failed within about this long.
    std::chrono::milliseconds connect_timeout = std::chrono::seconds{5};
    /// Idle connections beyond min_idle are closed after this long unused; 0 = never.
    std::chrono::milliseconds idle_timeout = std::chrono::minutes{10};
    /// Connections are closed (when idle, or when returned) after this long; 0 = never. Each
    /// connection's lifetime is shortened by a random jitter of up to max_lifetime_jitter of it,
    /// so connections opened together do not all expire together.
    std::chrono::milliseconds max_lifetime = std::chrono::minutes{30};
    /// Fraction of max_lifetime used as jitter, in [0, 0.5].
    double max_lifetime_jitter = 0.025;
    /// Connections are closed after this many leases; 0 = unlimited.
    std::uint64_t max_uses = 0;
    /// A connection idle longer than this is checked with an empty query (one round trip) before
    /// it is handed out; a dead one is closed and another taken. 0 = check every time.
    std::chrono::milliseconds validation_after_idle = std::chrono::milliseconds{500};
    /// A lease held longer than this is reported (pool_event_type::leak_suspected, naming where
    /// it was acquired); 0 = off. Reporting only: the lease is not taken back.
    std::chrono::milliseconds leak_detection_threshold{0};
    /// Most acquire() calls that may wait for a connection to come back; beyond it acquire fails
    /// at once with pool_timeout. Callers a new connection can still be opened for (below
    /// max_size) do not count. 0 = never wait for a return. Default: unbounded.
    std::size_t max_waiters = std::numeric_limits<std::size_t>::max();
    /// Most connections being opened at once, so a recovering server is not stormed. At least 1.
    std::size_t max_concurrent_connects = 2;

    /// Read replicas: where acquire_read(), repository reads, pages and read-only transactions
    /// go, and how stale they may be (replicas.hpp, docs/topology.md). With replicas (or several
    /// connection hosts) writes go to whichever host accepts them: target_session_attrs is set
    /// to read-write when the connection does not say otherwise.
    replica_options replicas{};

    /// When set, every session the pool opens (refills after failures included) comes from it
    /// instead of from `connection` (which then only names the target in events). The pool's
    /// session settings are then applied with SET statements (session_init_mode is ignored).
    /// Read replicas still open through replicas.hosts.
    session_opener open_session{};

    /// Settings each session starts with.
    session_options session{};
    /// What happens to returned connections whose session may be dirty.
    reset_policy reset = reset_policy::when_dirty;

    /// Enables the per-connection prepared-statement cache used by lease::execute_cached and
    /// transaction::execute_cached. Turn it off behind PgBouncer in transaction mode before
    /// 1.21 (or without max_prepared_statements): execute_cached then runs unprepared.
    bool prepared_statements = true;
    /// Most statements cached per connection (least recently used are deallocated); 0 disables.
    std::size_t statement_cache_size = 100;

    /// Called for pool events (connections opened and closed, connect failures, timeouts, leak
    /// reports), from whichever thread caused them, never under the pool's lock. Must be
    /// thread-safe; exceptions it throws are swallowed. Empty: no events.
    pool_event_hook on_event{};
};

/// Checks options for consistency: invalid_argument naming the first bad option (max_size 0,
/// min_idle > max_size, non-positive timeouts, negative durations, jitter out of range,
/// max_concurrent_connects 0, malformed session setting names or values).
[[nodiscard]] result<void> validate(const pool_options& options);

}  // namespace pgkit
