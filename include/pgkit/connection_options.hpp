#pragma once

/// Where and how to connect: parsed from a postgresql:// URL, a key=value conninfo string or the
/// environment (DATABASE_URL, PG*), with a redacted form for logs.

#include "pgkit/error.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgkit {

/// One candidate server. `host` is a name, an IPv4/IPv6 literal (no brackets) or, when it starts
/// with '/', a Unix-socket directory. An absent port means the libpq default (5432).
struct host_address {
    std::string host;
    std::optional<std::uint16_t> port;

    friend bool operator==(const host_address&, const host_address&) = default;
};

/// What sits between pgkit and the server.
enum class pooler_mode {
    /// The server itself, or a pooler that gives each client its own server session for the
    /// whole connection (PgBouncer's session mode).
    none,
    /// A pooler in transaction mode (PgBouncer `pool_mode = transaction`): consecutive
    /// transactions of one client connection may run on different server sessions, so nothing
    /// may be left in a session. pgkit then refuses, before sending, every statement that would
    /// leave state behind (SET, LISTEN, PREPARE, session advisory locks, temporary tables that
    /// outlive their transaction, cursors WITH HOLD, ...; invalid_argument naming the feature)
    /// and named prepared statements, and pools turn their statement cache and session resets
    /// off. docs/topology.md lists the alternatives feature by feature.
    transaction,
};

/// A libpq keyword and its value, e.g. {"sslmode", "require"}.
using connection_parameter = std::pair<std::string, std::string>;

/// Everything needed to open a connection. An aggregate: build it by hand with designated
/// initializers, or parse it. Empty strings mean "not set" (libpq's defaults apply).
struct connection_options {
    /// Tried in order (libpq's multi-host failover; see target_session_attrs).
    std::vector<host_address> hosts;
    std::string dbname;
    std::string user;
    /// Never printed: redacted() and every error message leave it out.
    std::string password;
    /// Shown in pg_stat_activity.
    std::string application_name = "pgkit";
    /// How long opening one connection may take in all (every host tried); nullopt = 10 s,
    /// zero = no limit (as in libpq).
    std::optional<std::chrono::milliseconds> connect_timeout;
    /// Every other libpq keyword (sslmode, target_session_attrs, options, sslrootcert, ...), in
    /// the order given. Keywords are validated against the linked libpq's list when parsed.
    std::vector<connection_parameter> parameters;
    /// Set it when the target is a pooler in transaction mode; not part of URLs.
    pooler_mode pooler = pooler_mode::none;

    /// Parses a `postgresql://` or `postgres://` URL (percent-encoding, [IPv6] hosts, several
    /// comma-separated hosts, query parameters) or a `key=value` conninfo string (single-quoted
    /// values with backslash escapes). Keywords are those the linked libpq knows, and libpq's own
    /// parser (PQconninfoParse) must accept the text too. Fails with errc::invalid_argument
    /// naming the bad part; the message never contains the password.
    [[nodiscard]] static result<connection_options> parse(std::string_view text);

    /// DATABASE_URL when set, else the PG* variables (PGHOST, PGHOSTADDR, PGPORT, PGDATABASE,
    /// PGUSER, PGPASSWORD, PGAPPNAME, PGSSLMODE, PGCONNECT_TIMEOUT, PGTARGETSESSIONATTRS,
    /// PGOPTIONS, ...). Nothing set at all yields libpq's defaults.
    [[nodiscard]] static result<connection_options> from_environment();

    /// The value of a keyword in `parameters`, if present (last one wins).
    [[nodiscard]] std::optional<std::string_view> parameter(std::string_view keyword) const;

    /// A URL for logs and error messages: the password replaced by "***" (or absent when none).
    [[nodiscard]] std::string redacted() const;

    /// Keyword/value pairs for libpq, including the password. For the driver layer only.
    [[nodiscard]] std::vector<connection_parameter> to_keywords() const;

    friend bool operator==(const connection_options&, const connection_options&) = default;
};

/// True when `keyword` is a connection keyword the linked libpq knows ("host", "sslmode", ...;
/// its PQconndefaults() list, so libpq 16's load_balance_hosts passes when linked with 16).
[[nodiscard]] bool is_libpq_keyword(std::string_view keyword);

/// Removes secrets from arbitrary text: `password=...` pairs (quoted or not) and the password in
/// URL userinfo (`user:secret@`). Used on every message that may echo a connection string.
[[nodiscard]] std::string redact_secrets(std::string_view text);

}  // namespace pgkit
