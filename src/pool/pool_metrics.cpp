#include "pgkit/pool_metrics.hpp"

#include "pgkit/pool_events.hpp"

#include <fmt/format.h>

#include <chrono>
#include <iterator>

namespace pgkit {
namespace {

/// Label values escape backslash, double quote and newline.
std::string label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

/// `node="host:port"` for a node's series.
std::string node_label(const node_metrics& node) {
    return fmt::format(
        "node=\"{}\"",
        label_value(node.port ? fmt::format("{}:{}", node.host, *node.port) : node.host));
}

double seconds(std::chrono::microseconds value) {
    return static_cast<double>(value.count()) / 1e6;
}

class exposition {
  public:
    exposition(std::string_view prefix, std::string_view pool) : prefix_(prefix), pool_(pool) {}

    void family(std::string_view name, std::string_view type, std::string_view help) {
        fmt::format_to(std::back_inserter(out_), "# HELP {}_{} {}\n# TYPE {}_{} {}\n", prefix_,
                       name, help, prefix_, name, type);
    }
    template <class V>
    void sample(std::string_view name, V value, std::string_view extra_labels = {}) {
        fmt::format_to(std::back_inserter(out_), "{}_{}{{pool=\"{}\"{}{}}} {}\n", prefix_, name,
                       pool_, extra_labels.empty() ? "" : ",", extra_labels, value);
    }
    template <class V>
    void single(std::string_view name, std::string_view type, std::string_view help, V value) {
        family(name, type, help);
        sample(name, value);
    }
    std::string take() { return std::move(out_); }

  private:
    std::string_view prefix_;
    std::string pool_;
    std::string out_;
};

}  // namespace

std::string_view to_string(pool_event_type type) noexcept {
    switch (type) {
        case pool_event_type::connection_opened:
            return "connection_opened";
        case pool_event_type::connect_failed:
            return "connect_failed";
        case pool_event_type::connection_closed:
            return "connection_closed";
        case pool_event_type::connection_reset:
            return "connection_reset";
        case pool_event_type::acquire_timeout:
            return "acquire_timeout";
        case pool_event_type::acquire_rejected:
            return "acquire_rejected";
        case pool_event_type::leak_suspected:
            return "leak_suspected";
        case pool_event_type::leaked_lease_returned:
            return "leaked_lease_returned";
        case pool_event_type::pool_closed:
            return "pool_closed";
        case pool_event_type::node_role_changed:
            return "node_role_changed";
        case pool_event_type::split_brain_detected:
            return "split_brain_detected";
        case pool_event_type::split_brain_resolved:
            return "split_brain_resolved";
    }
    return "unknown";
}

std::string_view to_string(close_reason reason) noexcept {
    switch (reason) {
        case close_reason::idle_timeout:
            return "idle_timeout";
        case close_reason::max_lifetime:
            return "max_lifetime";
        case close_reason::max_uses:
            return "max_uses";
        case close_reason::broken:
            return "broken";
        case close_reason::validation_failed:
            return "validation_failed";
        case close_reason::rollback_failed:
            return "rollback_failed";
        case close_reason::reset_failed:
            return "reset_failed";
        case close_reason::dirty:
            return "dirty";
        case close_reason::pool_closed:
            return "pool_closed";
        case close_reason::role_changed:
            return "role_changed";
    }
    return "unknown";
}

std::string to_string(const pool_event& event) {
    std::string out = fmt::format("pool '{}' {}", event.pool_name, to_string(event.type));
    if (event.backend_pid != 0) {
        fmt::format_to(std::back_inserter(out), " pid={}", event.backend_pid);
    }
    if (event.reason) {
        fmt::format_to(std::back_inserter(out), " reason={}", to_string(*event.reason));
    }
    switch (event.type) {
        case pool_event_type::leak_suspected:
        case pool_event_type::leaked_lease_returned:
            fmt::format_to(std::back_inserter(out), ": lease held {} ms", event.duration.count());
            break;
        case pool_event_type::acquire_timeout:
            fmt::format_to(std::back_inserter(out), ": waited {} ms", event.duration.count());
            break;
        default:
            break;
    }
    if (event.location) {
        fmt::format_to(std::back_inserter(out), ", acquired at {}:{} ({})",
                       event.location->file_name(), event.location->line(),
                       event.location->function_name());
    }
    if (event.failure) {
        fmt::format_to(std::back_inserter(out), ": {}", event.failure->to_string());
    }
    fmt::format_to(std::back_inserter(out), " [{}]", event.target);
    return out;
}

std::string to_prometheus(const pool_metrics& m, std::string_view prefix) {
    if (prefix.empty()) {
        prefix = "pgkit_pool";
    }
    exposition out{prefix, label_value(m.pool_name)};
    out.family("connections", "gauge", "Open connections by state.");
    out.sample("connections", m.idle, "state=\"idle\"");
    out.sample("connections", m.in_use, "state=\"in_use\"");
    out.sample("connections", m.pending_connects, "state=\"pending\"");
    out.single("size", "gauge", "Open connections (idle, in use and closing).", m.size);
    out.single("max_size", "gauge", "Most connections the pool opens.", m.max_size);
    out.single("waiting", "gauge", "Callers waiting for a connection.", m.waiting);
    out.single("acquired_total", "counter", "Connections handed out.", m.acquired);
    out.single("acquire_timeouts_total", "counter", "Acquires that waited acquire_timeout in vain.",
               m.acquire_timeouts);
    out.single("acquire_rejected_total", "counter",
               "Acquires refused at once because max_waiters callers were waiting.",
               m.acquire_rejected);
    out.single("acquire_failures_total", "counter",
               "Acquires that failed because a connection could not be opened.",
               m.acquire_failures);
    out.single("connections_created_total", "counter", "Connections opened.", m.created);
    out.single("connect_failures_total", "counter", "Failed attempts to open a connection.",
               m.connect_failures);
    out.family("connections_closed_total", "counter", "Connections closed, by reason.");
    for (std::size_t i = 0; i < close_reason_count; ++i) {
        out.sample("connections_closed_total", m.closed_by_reason[i],
                   fmt::format("reason=\"{}\"", to_string(static_cast<close_reason>(i))));
    }
    out.single("resets_total", "counter", "Dirty sessions reset, or their reset armed, on return.",
               m.resets);
    out.single("round_trips_total", "counter",
               "Round trips of leased connections, counted when each lease returns.",
               m.round_trips);
    out.single("rollbacks_total", "counter", "Transactions left open and rolled back on return.",
               m.rollbacks);
    out.single("leaks_reported_total", "counter", "Leases held beyond leak_detection_threshold.",
               m.leaks_reported);
    if (!m.nodes.empty()) {
        out.family("node_role", "gauge", "1 for each node's role as the last probe found it.");
        for (const auto& node : m.nodes) {
            out.sample("node_role", 1,
                       fmt::format("{},role=\"{}\"", node_label(node), to_string(node.role)));
        }
        out.family("node_lag_seconds", "gauge",
                   "How long ago the primary wrote the oldest WAL a standby has not replayed.");
        for (const auto& node : m.nodes) {
            if (node.lag) {
                out.sample("node_lag_seconds", static_cast<double>(node.lag->count()) / 1000.0,
                           node_label(node));
            }
        }
        out.family("node_reads_total", "counter", "Reads a node served as a replica.");
        for (const auto& node : m.nodes) {
            out.sample("node_reads_total", node.reads_served, node_label(node));
        }
        out.single("read_fallbacks_total", "counter",
                   "Reads sent to the primary because no replica qualified.", m.read_fallbacks);
        out.single("split_brain", "gauge", "1 while two nodes accept writes.",
                   m.split_brain ? 1 : 0);
    }
    out.family("acquire_wait_seconds", "summary", "Time acquire() waited for a connection.");
    out.sample("acquire_wait_seconds", seconds(m.acquire_wait_p50), "quantile=\"0.5\"");
    out.sample("acquire_wait_seconds", seconds(m.acquire_wait_p99), "quantile=\"0.99\"");
    out.sample("acquire_wait_seconds", seconds(m.acquire_wait_max), "quantile=\"1\"");
    out.sample("acquire_wait_seconds_sum", seconds(m.acquire_wait_sum));
    out.sample("acquire_wait_seconds_count", m.acquire_wait_count);
    return out.take();
}

}  // namespace pgkit
