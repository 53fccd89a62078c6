#pragma once

// Lock discipline for migrations (private): blocking DDL runs under a short lock_timeout, scoped
// with SET LOCAL inside the migration's transaction (statements that cannot run in one get a
// session SET that is RESET right after them); a lock timeout is retried per the caller's
// retry_policy (exponential backoff with jitter); and while a statement waits, a second session
// watches pg_blocking_pids() of the runner's, so that a final timeout names who was blocking:
// their process ids, states, ages and queries.

#include "pgkit/connection_options.hpp"
#include "pgkit/error.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgkit::detail::migrate {

/// `SET [LOCAL] lock_timeout = '<n>ms'` (n from the caller's options, never from SQL text).
[[nodiscard]] std::string set_lock_timeout_sql(std::chrono::milliseconds timeout, bool local);

/// A session that blocked the runner.
struct blocker {
    std::int32_t pid = 0;
    std::string state;  ///< pg_stat_activity.state ("idle in transaction", "active", ...)
    double age_s = 0;   ///< since its transaction (else its query) started
    std::string query;  ///< its last query, shortened
};

/// "blocked by pid 123 (idle in transaction for 4.2 s: UPDATE t SET ...)"; a note that none
/// was seen when `blockers` is empty.
[[nodiscard]] std::string describe_blockers(const std::vector<blocker>& blockers);

/// Polls pg_blocking_pids(pid) on a session of its own, from a thread, while armed. Opens that
/// session lazily; when it cannot, it sees nothing (the runner goes on without it).
class blocker_watch {
  public:
    blocker_watch(connection_options options, std::int32_t pid, std::chrono::milliseconds every);
    ~blocker_watch();
    blocker_watch(const blocker_watch&) = delete;
    blocker_watch& operator=(const blocker_watch&) = delete;

    /// Forgets what was seen (call before each attempt).
    void reset();
    /// The blockers of the last poll that found any since reset().
    [[nodiscard]] std::vector<blocker> seen() const;

  private:
    void run();

    connection_options options_;
    std::int32_t pid_;
    std::chrono::milliseconds every_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::vector<blocker> seen_;
    std::thread thread_;
};

}  // namespace pgkit::detail::migrate
