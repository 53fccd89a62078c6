#include "pool/topology.hpp"

#include "pool/pool_state.hpp"
#include "pool/session_init.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace pgkit {

std::string wal_position::to_string() const {
    return fmt::format("{:X}/{:X}", lsn >> 32U, lsn & 0xFFFF'FFFFULL);
}

std::optional<wal_position> wal_position::parse(std::string_view text) noexcept {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size() || slash > 8 ||
        text.size() - slash - 1 > 8) {
        return std::nullopt;
    }
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    const auto parse_hex = [](std::string_view part, std::uint64_t& out) {
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out, 16);
        return ec == std::errc{} && end == part.data() + part.size();
    };
    if (!parse_hex(text.substr(0, slash), high) || !parse_hex(text.substr(slash + 1), low)) {
        return std::nullopt;
    }
    return wal_position{(high << 32U) | low};
}

std::string_view to_string(node_role role) noexcept {
    switch (role) {
        case node_role::unknown:
            return "unknown";
        case node_role::primary:
            return "primary";
        case node_role::standby:
            return "standby";
        case node_role::down:
            return "down";
    }
    return "unknown";
}

namespace detail {
namespace {

using namespace std::chrono_literals;

/// History kept for lag: long enough to tell any lag up to max_lag (and a minute at least).
std::chrono::milliseconds history_window(const replica_options& replicas) {
    return std::max<std::chrono::milliseconds>(2 * replicas.max_lag, std::chrono::minutes{1});
}

/// Options for one node alone: its host, no role demand (the probe asks), the rest as given.
connection_options single_host(const connection_options& base, const host_address& address) {
    connection_options direct = base;
    direct.hosts = {address};
    std::erase_if(direct.parameters, [](const connection_parameter& p) {
        return p.first == "target_session_attrs" || p.first == "hostaddr";
    });
    return direct;
}

std::string describe(const host_address& address) {
    return address.port ? fmt::format("{}:{}", address.host, *address.port) : address.host;
}

}  // namespace

std::vector<host_address> topology_hosts(const pool_options& options) {
    std::vector<host_address> hosts;
    const auto add = [&](const host_address& address) {
        if (std::find(hosts.begin(), hosts.end(), address) == hosts.end()) {
            hosts.push_back(address);
        }
    };
    for (const auto& address : options.connection.hosts) {
        add(address);
    }
    for (const auto& address : options.replicas.hosts) {
        add(address);
    }
    return hosts;
}

topology::topology(const pool_options& options, event_sink emit, demotion_sink demoted)
    : options_(options), emit_(std::move(emit)), demoted_(std::move(demoted)) {
    const auto probe_timeout = std::clamp<std::chrono::milliseconds>(
        2 * options_.replicas.probe_interval, 1s, options_.connect_timeout);
    for (const auto& address : topology_hosts(options_)) {
        auto n = std::make_unique<node>();
        n->address = address;
        n->direct = single_host(options_.connection, address);
        n->direct.connect_timeout = probe_timeout;
        n->direct.application_name = options_.connection.application_name;
        // A dead peer is noticed by the probe within seconds, not at TCP's default of minutes.
        n->direct.parameters.emplace_back("keepalives_idle", "1");
        n->direct.parameters.emplace_back("keepalives_interval", "1");
        n->direct.parameters.emplace_back("keepalives_count", "3");
        n->direct.parameters.emplace_back(
            "tcp_user_timeout", std::to_string(std::max<long long>(probe_timeout.count(), 1000)));

        pool_options reads = options_;
        reads.name = fmt::format("{}/replica {}", options_.name, describe(address));
        reads.connection = single_host(options_.connection, address);
        // Only while the node is a standby: a promoted node's sessions are not replica sessions.
        reads.connection.parameters.emplace_back("target_session_attrs", "standby");
        reads.replicas = {};
        reads.min_idle = 0;
        if (options_.replicas.max_size_per_replica > 0) {
            reads.max_size = options_.replicas.max_size_per_replica;
        }
        auto plan = plan_session(reads);
        if (plan) {
            n->reads = std::make_shared<pool_state>(std::move(reads), std::move(*plan));
        }
        nodes_.push_back(std::move(n));
    }
}

topology::~topology() {
    stop();
}

void topology::start() {
    for (auto& n : nodes_) {
        if (n->reads) {
            n->reads->start();
        }
    }
    prober_ = std::jthread([this](std::stop_token stop) { probe_loop(std::move(stop)); });
}

void topology::stop() noexcept {
    if (prober_.joinable()) {
        prober_.request_stop();
        round_done_.notify_all();
        prober_.join();
    }
    for (auto& n : nodes_) {
        if (n->reads) {
            (void)n->reads->close(clock::now());
        }
    }
}

topology::probe_result topology::probe(node& n) {
    probe_result out;
    if (!n.probe_connection || !n.probe_connection->is_open()) {
        auto opened = connection::open(n.direct);
        if (!opened) {
            n.probe_connection.reset();
            return out;
        }
        n.probe_connection.emplace(std::move(*opened));
    }
    auto row = n.probe_connection
                   ->execute(
                       "SELECT pg_catalog.pg_is_in_recovery(), (CASE WHEN "
                       "pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
                       "ELSE pg_catalog.pg_current_wal_insert_lsn() END)::text")
                   .and_then(&query_result::one);
    if (!row) {
        n.probe_connection.reset();
        return out;
    }
    auto fields = row->as<bool, std::optional<std::string>>();
    if (!fields) {
        return out;
    }
    out.reachable = true;
    out.in_recovery = std::get<0>(*fields);
    if (const auto& text = std::get<1>(*fields)) {
        out.position = wal_position::parse(*text);
    }
    return out;
}

std::optional<std::chrono::milliseconds> topology::lag_of(wal_position replayed,
                                                          clock::time_point now) const {
    if (history_.empty()) {
        return std::nullopt;
    }
    if (replayed >= history_.back().position) {
        return std::chrono::milliseconds{0};
    }
    // The oldest primary position it has not replayed; older than the history: at least that.
    const auto missing = std::find_if(history_.begin(), history_.end(),
                                      [&](const sample& s) { return s.position > replayed; });
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - missing->seen);
}

void topology::probe_loop(std::stop_token stop) {
    std::vector<probe_result> results(nodes_.size());
    while (!stop.stop_requested()) {
        const auto round_start = clock::now();
        for (std::size_t i = 0; i < nodes_.size() && !stop.stop_requested(); ++i) {
            results[i] = probe(*nodes_[i]);
        }
        std::vector<pool_event> events;
        std::vector<std::string> descriptions;
        std::vector<host_address> demoted;
        {
            std::lock_guard guard{mutex_};
            const auto now = clock::now();
            std::size_t primaries = 0;
            std::optional<wal_position> primary_position;
            for (std::size_t i = 0; i < nodes_.size(); ++i) {
                if (results[i].reachable && !results[i].in_recovery) {
                    ++primaries;
                    primary_position = results[i].position;
                }
            }
            if (primaries == 1 && primary_position) {
                history_.push_back({round_start, *primary_position});
            }
            while (history_.size() > 1 &&
                   now - history_.front().seen > history_window(options_.replicas)) {
                history_.pop_front();
            }
            for (std::size_t i = 0; i < nodes_.size(); ++i) {
                node& n = *nodes_[i];
                const probe_result& r = results[i];
                const node_role role = !r.reachable    ? node_role::down
                                       : r.in_recovery ? node_role::standby
                                                       : node_role::primary;
                if (n.role == node_role::primary && role != node_role::primary) {
                    demoted.push_back(n.address);
                }
                if (role != n.role && n.role != node_role::unknown) {
                    pool_event event;
                    event.type = pool_event_type::node_role_changed;
                    descriptions.push_back(fmt::format("{} {} -> {}", describe(n.address),
                                                       to_string(n.role), to_string(role)));
                    events.push_back(std::move(event));
                }
                n.role = role;
                n.position = r.position;
                n.lag = role == node_role::standby && r.position ? lag_of(*r.position, now)
                        : role == node_role::primary             ? std::optional{0ms}
                                                                 : std::nullopt;
                n.avoid_until = {};
            }
            rounds_with_two_primaries_ = primaries >= 2 ? rounds_with_two_primaries_ + 1 : 0;
            const bool split = rounds_with_two_primaries_ >= 2;
            if (split != split_brain_.load(std::memory_order_relaxed)) {
                split_brain_.store(split, std::memory_order_release);
                pool_event event;
                event.type = split ? pool_event_type::split_brain_detected
                                   : pool_event_type::split_brain_resolved;
                descriptions.push_back(split ? "nodes accepting writes: " + writable_nodes_locked()
                                             : "one node accepts writes again");
                events.push_back(std::move(event));
            }
            ++rounds_;
        }
        round_done_.notify_all();
        for (const auto& address : demoted) {
            demoted_(address);
        }
        for (std::size_t i = 0; i < events.size(); ++i) {
            events[i].pool_name = options_.name;
            events[i].target = descriptions[i];
            emit_(std::move(events[i]));
        }
        std::unique_lock lk{mutex_};
        round_done_.wait_until(lk, stop, round_start + options_.replicas.probe_interval,
                               [] { return false; });
    }
}

bool topology::wait_for_probe(std::chrono::milliseconds limit) {
    std::unique_lock lk{mutex_};
    const std::uint64_t target = rounds_ + 2;  // the round under way may have started earlier
    return round_done_.wait_for(lk, limit, [&] { return rounds_ >= target; });
}

bool topology::fit(const node& n,
                   const read_options& options,
                   clock::time_point now) const noexcept {
    if (n.role != node_role::standby || !n.reads || !n.position || !n.lag || now < n.avoid_until) {
        return false;
    }
    const auto bound = options_.replicas.max_lag;
    if (bound.count() > 0 && *n.lag > bound) {
        return false;
    }
    return !options.after || *n.position >= *options.after;
}

std::shared_ptr<pool_state> topology::route(const read_options& options, std::size_t& node_index) {
    std::lock_guard guard{mutex_};
    const auto now = clock::now();
    const std::size_t count = nodes_.size();
    const std::uint64_t start = next_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t i = (start + k) % count;
        if (fit(*nodes_[i], options, now)) {
            node_index = i;
            return nodes_[i]->reads;
        }
    }
    return nullptr;
}

void topology::note_read(std::size_t node_index, bool leased) noexcept {
    node& n = *nodes_[node_index];
    if (leased) {
        n.reads_served.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    n.read_failures.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard guard{mutex_};
    n.avoid_until = clock::now() + options_.replicas.probe_interval;  // until the next probe
}

std::string topology::writable_nodes_locked() const {
    std::string out;
    for (const auto& n : nodes_) {
        if (n->role == node_role::primary) {
            out += (out.empty() ? "" : ", ") + describe(n->address);
        }
    }
    return out;
}

std::string topology::writable_nodes() const {
    std::lock_guard guard{mutex_};
    return writable_nodes_locked();
}

void topology::fill(pool_metrics& m) const {
    m.read_fallbacks = fallbacks_.load(std::memory_order_relaxed);
    m.split_brain = split_brain();
    std::lock_guard guard{mutex_};
    for (const auto& n : nodes_) {
        node_metrics node;
        node.host = n->address.host;
        node.port = n->address.port;
        node.role = n->role;
        node.lag = n->lag;
        node.position = n->position;
        node.reads_served = n->reads_served.load(std::memory_order_relaxed);
        node.read_failures = n->read_failures.load(std::memory_order_relaxed);
        m.nodes.push_back(std::move(node));
    }
}

}  // namespace detail
}  // namespace pgkit
