#include "migrate/lock_discipline.hpp"

#include "pgkit/connection.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

#include <optional>
#include <utility>

namespace pgkit::detail::migrate {

std::string set_lock_timeout_sql(std::chrono::milliseconds timeout, bool local) {
    return fmt::format("SET {}lock_timeout = '{}ms'", local ? "LOCAL " : "", timeout.count());
}

std::string describe_blockers(const std::vector<blocker>& blockers) {
    if (blockers.empty()) {
        return "no blocking session was seen (it may have ended, or the watch could not connect)";
    }
    std::string out = "blocked by";
    for (std::size_t i = 0; i < blockers.size(); ++i) {
        const blocker& b = blockers[i];
        out += fmt::format("{} pid {} ({} for {:.1f} s: {})", i == 0 ? "" : ";", b.pid, b.state,
                           b.age_s, b.query);
    }
    return out;
}

blocker_watch::blocker_watch(connection_options options,
                             std::int32_t pid,
                             std::chrono::milliseconds every)
    : options_(std::move(options)), pid_(pid), every_(every) {
    thread_ = std::thread{[this] { run(); }};
}

blocker_watch::~blocker_watch() {
    {
        std::lock_guard lock{mutex_};
        stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void blocker_watch::reset() {
    std::lock_guard lock{mutex_};
    seen_.clear();
}

std::vector<blocker> blocker_watch::seen() const {
    std::lock_guard lock{mutex_};
    return seen_;
}

void blocker_watch::run() {
    options_.application_name = "pgkit migrations: blocker watch";
    std::optional<connection> conn;
    std::unique_lock lock{mutex_};
    while (!stop_) {
        lock.unlock();
        if (!conn) {
            auto opened = connection::open(options_);
            if (opened) {
                conn.emplace(std::move(*opened));
            }
        }
        std::vector<blocker> found;
        if (conn) {
            auto rows = conn->execute(
                "SELECT a.pid, COALESCE(a.state, ''), COALESCE(EXTRACT(epoch FROM "
                "clock_timestamp() - COALESCE(a.xact_start, a.query_start)), 0)::float8, "
                "COALESCE(a.query, '') FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY "
                "(pg_catalog.pg_blocking_pids($1)) ORDER BY a.pid",
                pid_);
            if (rows) {
                for (const auto& r : *rows) {
                    auto f = r.as<std::int32_t, std::string, double, std::string>();
                    if (f) {
                        auto& [pid, state, age, query] = *f;
                        found.push_back(blocker{pid, std::move(state), age, excerpt(query)});
                    }
                }
            } else if (conn->is_poisoned()) {
                conn.reset();
            }
        }
        lock.lock();
        if (!found.empty()) {
            seen_ = std::move(found);
        }
        wake_.wait_for(lock, every_, [this] { return stop_; });
    }
}

}  // namespace pgkit::detail::migrate
