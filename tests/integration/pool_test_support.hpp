#pragma once

// Helpers shared by the pool's integration tests: unique application names (so a test counts
// only its own pool's sessions in pg_stat_activity), bounded polling for observable effects, and
// an event recorder.

#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"

#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgkit::test {

using namespace std::chrono_literals;

/// "pgkit-pool-<pid>-<n>": unique per test case, short enough for application_name (63 bytes).
inline std::string unique_app_name() {
    static std::atomic<unsigned> counter{0};
    return fmt::format("pgkit-pool-{}-{}", ::getpid(), counter++);
}

/// Polls `condition` until it holds or `limit` passes; true when it held. For waiting on an
/// observable effect (a retired connection, a reported leak), never as a sleep.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(5ms);
    }
    return condition();
}

/// Sessions in pg_stat_activity with this application_name.
inline std::int64_t sessions_named(connection& observer, const std::string& application_name) {
    auto count = observer
                     .execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                              application_name)
                     .and_then(&query_result::scalar<std::int64_t>);
    REQUIRE(count);
    return *count;
}

/// Whether a backend process still exists.
inline bool backend_exists(connection& observer, int pid) {
    auto count =
        observer.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", std::int32_t{pid})
            .and_then(&query_result::scalar<std::int64_t>);
    REQUIRE(count);
    return *count > 0;
}

/// Terminates a backend and waits until it is gone.
inline void terminate_backend(connection& observer, int pid) {
    auto done = observer.execute("SELECT pg_terminate_backend($1)", std::int32_t{pid})
                    .and_then(&query_result::scalar<bool>);
    REQUIRE(done);
    REQUIRE(*done);
    REQUIRE(eventually([&] { return !backend_exists(observer, pid); }));
    // A backend leaves pg_stat_activity before its process exits and its socket closes; with the
    // server on this machine, wait for the process too, so the client side can see the close.
    REQUIRE(eventually([&] { return !std::filesystem::exists(fmt::format("/proc/{}", pid)); }));
}

/// Pool options for the test server in `schema`, tagged with a unique application_name, with
/// short timeouts so failures show quickly. Behind a transaction-mode pooler (see
/// support/test_database.hpp) the connection options carry pooler_mode::transaction, so the
/// pool runs without its statement cache and resets, as an application's would.
inline pool_options test_pool_options(const scratch_schema& schema, std::size_t max_size = 2) {
    pool_options options;
    options.connection = schema.options();
    options.connection.pooler = test_pooler_mode();
    options.name = unique_app_name();
    options.connection.application_name = options.name;
    options.max_size = max_size;
    options.acquire_timeout = 5s;
    options.connect_timeout = 5s;
    return options;
}

inline std::shared_ptr<pool> make_pool(pool_options options) {
    auto created = pool::create(std::move(options));
    REQUIRE(created);
    return std::move(*created);
}

/// Collects events from a pool's hook (thread-safe).
class event_recorder {
  public:
    [[nodiscard]] pool_event_hook hook() {
        return [this](const pool_event& event) {
            std::lock_guard guard{mutex_};
            events_.push_back(recorded{event.type, event.reason, event.location, event.duration,
                                       to_string(event)});
        };
    }
    struct recorded {
        pool_event_type type;
        std::optional<close_reason> reason;
        std::optional<std::source_location> location;
        std::chrono::milliseconds duration;
        std::string line;
    };
    [[nodiscard]] std::vector<recorded> of(pool_event_type type) const {
        std::lock_guard guard{mutex_};
        std::vector<recorded> found;
        for (const auto& event : events_) {
            if (event.type == type) {
                found.push_back(event);
            }
        }
        return found;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<recorded> events_;
};

}  // namespace pgkit::test
