#include "backfill/runner_lock.hpp"

#include "pgkit/backfill.hpp"
#include "pgkit/types/chrono.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <random>
#include <utility>

namespace pgkit::detail {

namespace {

/// The lock's two keys, from the parameters $1 (the space), $2 (the runs table's schema) and $3
/// (the run's name). The quoted schema ends where the name starts, so different (schema, name)
/// pairs hash different texts.
constexpr std::string_view space_key = "$1::int4";
constexpr std::string_view run_key = "hashtext(quote_ident($2::text) || '.' || $3::text)";

/// A lease's expiry `$n` milliseconds from now, by the server's clock.
std::string expiry_after(std::size_t parameter) {
    return fmt::format("clock_timestamp() + ${}::int8 * interval '1 millisecond'", parameter);
}

/// A new runner token: this host and process (for people reading it in a message or in
/// inspect_backfill), then 128 random bits (what makes it this runner's alone).
std::string new_token() {
    std::array<char, 256> host{};
    std::string name = "host";
    if (::gethostname(host.data(), host.size() - 1) == 0 && host[0] != 0) {
        name.assign(host.data());
    }
    // Letters, digits, '.' and '-' only, and not too long: the token is shown in messages and
    // written into SQL text as a literal.
    std::replace_if(
        name.begin(), name.end(),
        [](char c) {
            return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '.' || c == '-');
        },
        '-');
    name.resize(std::min<std::size_t>(name.size(), 40));
    std::random_device random;
    auto bits = [&random] {
        return (static_cast<std::uint64_t>(random()) << 32U) ^ static_cast<std::uint64_t>(random());
    };
    const std::uint64_t high = bits();
    const std::uint64_t low = bits();
    return fmt::format("{}/{}/{:016x}{:016x}", name, ::getpid(), high, low);
}

/// `'text'` with quotes doubled.
std::string sql_literal(std::string_view text) {
    std::string out = "'";
    for (const char c : text) {
        out += c;
        if (c == '\'') {
            out += '\'';
        }
    }
    return out + "'";
}

/// "runner T holds its lease until E (server time)", from a fresh read of the lease row.
result<std::string> lease_holder_text(connection& conn,
                                      const runs_table& table,
                                      std::string_view name) {
    auto found = conn.execute(
        fmt::format("SELECT token, expires_at::text FROM {} WHERE name = $1", table.leases),
        std::string{name});
    if (!found) {
        return tl::unexpected(found.error());
    }
    if (found->empty()) {
        return std::string{"its lease row is gone (the run was reset, or its holder ended)"};
    }
    auto fields = (*found)[0].as<std::string, std::string>();
    if (!fields) {
        return tl::unexpected(fields.error());
    }
    return fmt::format("runner {} holds its lease until {} (server time)", std::get<0>(*fields),
                       std::get<1>(*fields));
}

}  // namespace

runner_lock::runner_lock(lease& holder,
                         kind mode,
                         runs_table table,
                         std::string name,
                         std::string token,
                         std::chrono::milliseconds lease_duration) noexcept
    : holder_(&holder),
      mode_(mode),
      table_(std::move(table)),
      name_(std::move(name)),
      token_(std::move(token)),
      lease_duration_(lease_duration) {}

runner_lock::runner_lock(runner_lock&& other) noexcept
    : holder_(std::exchange(other.holder_, nullptr)),
      mode_(other.mode_),
      table_(std::move(other.table_)),
      name_(std::move(other.name_)),
      token_(std::move(other.token_)),
      lease_duration_(other.lease_duration_),
      lost_(other.lost_) {}

runner_lock::~runner_lock() {
    if (holder_ == nullptr) {
        return;
    }
    if (mode_ == kind::lease) {
        // Matching the token: a lease another runner took over stays theirs. When this fails
        // (the connection is gone, say) the lease expires by itself.
        (void)(*holder_)->execute(
            fmt::format("DELETE FROM {} WHERE name = $1 AND token = $2", table_.leases), name_,
            token_);
        return;
    }
    auto released =
        (*holder_)
            ->execute(fmt::format("SELECT pg_advisory_unlock({}, {})", space_key, run_key),
                      table_.lock_space, table_.schema, name_)
            .and_then(&query_result::scalar<bool>);
    if (!released || !*released) {
        holder_->mark_broken();  // the lock must not outlive the run on a pooled session
    }
}

result<runner_lock> runner_lock::try_acquire(lease& holder,
                                             const runs_table& table,
                                             std::string_view name,
                                             std::string_view refusal,
                                             kind mode,
                                             std::chrono::milliseconds lease_duration) {
    connection& conn = *holder;
    auto refuse = [&](std::string_view by) {
        return make_error(errc::already_running,
                          fmt::format("{} {} ({}) is already running: {}; {}", table.noun, name,
                                      table.qualified, by, refusal));
    };

    if (mode == kind::lease) {
        if (!table.leases_exist) {
            if (auto created = create_leases_table(conn, table); !created) {
                return tl::unexpected(created.error());
            }
        }
        std::string token = new_token();
        // One statement: a new lease, or this one when the old has expired or is this runner's.
        // While a batch holds the run (it renewed the lease and has not committed yet) the row
        // is locked, and this waits for that batch: its renewal then keeps the lease live.
        auto taken = conn.execute(
            fmt::format("INSERT INTO {0} AS l (name, token, expires_at) VALUES ($1, $2, {1}) ON "
                        "CONFLICT (name) DO UPDATE SET token = excluded.token, expires_at = "
                        "excluded.expires_at, taken_at = clock_timestamp() WHERE l.expires_at <= "
                        "clock_timestamp() OR l.token = excluded.token",
                        table.leases, expiry_after(3)),
            std::string{name}, token, static_cast<std::int64_t>(lease_duration.count()));
        if (!taken) {
            return tl::unexpected(taken.error());
        }
        if (taken->affected_rows() == 0) {
            auto by = lease_holder_text(conn, table, name);
            if (!by) {
                return tl::unexpected(by.error());
            }
            return refuse(*by);
        }
        runner_lock lock{holder, mode, table, std::string{name}, std::move(token), lease_duration};
        // A runner in advisory mode (one that reaches the server directly) holds the run? Its
        // lock was taken before this look, or it will see this lease: see runner_lock.hpp.
        auto pid = holder_pid(conn, table, name);
        if (!pid) {
            return tl::unexpected(pid.error());
        }
        if (*pid) {
            return refuse(
                fmt::format("the session of server process {} holds its advisory lock", **pid));
        }
        return lock;
    }

    auto locked =
        conn.execute(fmt::format("SELECT pg_try_advisory_lock({}, {})", space_key, run_key),
                     table.lock_space, table.schema, std::string{name})
            .and_then(&query_result::scalar<bool>);
    if (!locked) {
        return tl::unexpected(locked.error());
    }
    if (!*locked) {
        auto pid = holder_pid(conn, table, name);
        return refuse(pid && *pid ? fmt::format("another session (server process {}) holds its "
                                                "advisory lock",
                                                **pid)
                                  : std::string{"another session holds its advisory lock"});
    }
    runner_lock lock{holder, mode, table, std::string{name}, {}, lease_duration};
    // A runner in lease mode holds the run? Asked now, after taking the lock (the table may have
    // been created since the call started). An expired lease is deleted: its runner, should it
    // only have stalled, then cannot renew it and commits nothing more.
    auto exists = leases_table_exists(conn, table);
    if (!exists) {
        return tl::unexpected(exists.error());
    }
    if (*exists) {
        auto expired = conn.execute(
            fmt::format("DELETE FROM {} WHERE name = $1 AND expires_at <= clock_timestamp()",
                        table.leases),
            std::string{name});
        if (!expired) {
            return tl::unexpected(expired.error());
        }
        auto live = find_lease(conn, table, name);
        if (!live) {
            return tl::unexpected(live.error());
        }
        if (*live) {
            auto by = lease_holder_text(conn, table, name);
            if (!by) {
                return tl::unexpected(by.error());
            }
            return refuse(*by);
        }
    }
    return lock;
}

result<std::optional<std::int32_t>> runner_lock::holder_pid(connection& conn,
                                                            const runs_table& table,
                                                            std::string_view name) {
    // A two-key advisory lock shows in pg_locks as classid = key 1, objid = key 2, objsubid = 2.
    auto found = conn.execute(
        fmt::format("SELECT l.pid FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND "
                    "l.granted AND l.objsubid = 2 AND l.database = (SELECT oid FROM "
                    "pg_catalog.pg_database WHERE datname = current_database()) AND l.classid = "
                    "({})::oid AND l.objid = ({})::oid LIMIT 1",
                    space_key, run_key),
        table.lock_space, table.schema, std::string{name});
    if (!found) {
        return tl::unexpected(found.error());
    }
    if (found->empty()) {
        return std::optional<std::int32_t>{};
    }
    auto pid = (*found)[0].get<std::int32_t>(0);
    if (!pid) {
        return tl::unexpected(pid.error());
    }
    return std::optional<std::int32_t>{*pid};
}

result<std::optional<runner_lock::lease_row>> runner_lock::find_lease(connection& conn,
                                                                      const runs_table& table,
                                                                      std::string_view name) {
    auto exists = leases_table_exists(conn, table);
    if (!exists) {
        return tl::unexpected(exists.error());
    }
    if (!*exists) {
        return std::optional<lease_row>{};
    }
    auto found = conn.execute(
        fmt::format("SELECT token, expires_at, expires_at > clock_timestamp() FROM {} WHERE name "
                    "= $1",
                    table.leases),
        std::string{name});
    if (!found) {
        return tl::unexpected(found.error());
    }
    if (found->empty()) {
        return std::optional<lease_row>{};
    }
    auto fields = (*found)[0].as<std::string, std::chrono::system_clock::time_point, bool>();
    if (!fields) {
        return tl::unexpected(fields.error());
    }
    auto& [token, expires_at, live] = *fields;
    return std::optional<lease_row>{lease_row{std::move(token), expires_at, live}};
}

error runner_lock::lost_lease(connection& conn) {
    lost_ = true;
    auto by = lease_holder_text(conn, table_, name_);
    return error{errc::already_running,
                 fmt::format("{} {} ({}) lost its lease, which runner {} held: {}", table_.noun,
                             name_, table_.qualified, token_,
                             by ? *by : std::string{"the lease is no longer this runner's"})};
}

std::string runner_lock::renewal_sql() const {
    return fmt::format("UPDATE {} SET expires_at = {} WHERE name = $1 AND token = $2",
                       table_.leases, expiry_after(3));
}

result<void> runner_lock::renewal_outcome(const result<query_result>& renewed, connection& conn) {
    if (!renewed) {
        return tl::unexpected(renewed.error());
    }
    if (renewed->affected_rows() == 0) {
        return tl::unexpected(lost_lease(conn));
    }
    return {};
}

result<void> runner_lock::renew(transaction& tx) {
    if (mode_ != kind::lease) {
        return {};
    }
    return renewal_outcome(tx.execute_cached(renewal_sql(), name_, token_,
                                             static_cast<std::int64_t>(lease_duration_.count())),
                           tx.conn());
}

result<void> runner_lock::renew() {
    if (mode_ != kind::lease || holder_ == nullptr) {
        return {};
    }
    return renewal_outcome((*holder_)->execute(renewal_sql(), name_, token_,
                                               static_cast<std::int64_t>(lease_duration_.count())),
                           **holder_);
}

std::chrono::milliseconds runner_lock::renew_interval() const noexcept {
    if (mode_ != kind::lease) {
        return std::chrono::milliseconds::max();
    }
    return std::max(std::chrono::milliseconds{1}, lease_duration_ / 4);
}

std::string runner_lock::fence() const {
    if (mode_ != kind::lease) {
        return {};
    }
    return fmt::format(" AND EXISTS (SELECT 1 FROM {} WHERE name = $1 AND token = {})",
                       table_.leases, sql_literal(token_));
}

}  // namespace pgkit::detail
