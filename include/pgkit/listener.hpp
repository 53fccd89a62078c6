#pragma once

/// LISTEN/NOTIFY: a listener that keeps one session of its own subscribed to channels, and
/// notify() to send on any connection (docs/listen_notify.md).
///
/// ```cpp
/// auto events = pgkit::listener::create({.connection = pool->options().connection}).value();
/// (void)events->listen("orders");
/// events->start().value();
/// while (auto event = events->next(1s).value()) {
///     if (auto* n = std::get_if<pgkit::notification>(&*event)) { /* n->payload */ }
///     if (std::holds_alternative<pgkit::notification_gap>(*event)) { /* reload the state */ }
/// }
/// ```

#include "pgkit/connection_options.hpp"
#include "pgkit/error.hpp"
#include "pgkit/retry_policy.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace pgkit {

class connection;
class transaction;

namespace detail {
class pq_session;
}

/// One NOTIFY as the server delivered it.
struct notification {
    /// The channel exactly as it was sent (case kept: LISTEN's quoted identifier).
    std::string channel;
    std::string payload;
    /// The server process of the session that sent it.
    int sender_pid = 0;

    friend bool operator==(const notification&, const notification&) = default;
};

/// The listener's session was lost and has been replaced: notifications sent between `lost_at`
/// and `resubscribed_at` were not delivered and never will be (PostgreSQL keeps nothing for a
/// session that is gone). Reload whatever the notifications stand for.
struct notification_gap {
    /// When the listener saw its session end (the loss itself may be a little earlier).
    std::chrono::system_clock::time_point lost_at;
    /// When the new session was listening on every channel again.
    std::chrono::system_clock::time_point resubscribed_at;
    /// Connection attempts it took (1 when the first one succeeded).
    std::uint32_t attempts = 0;
    /// Why the session ended.
    error cause;
};

/// The listener gave up: retry_policy::max_attempts connection attempts in a row failed. The
/// last event it reports; its thread has ended.
struct listener_failed {
    std::chrono::system_clock::time_point lost_at;
    std::uint32_t attempts = 0;
    /// The last attempt's error.
    error cause;
};

using listener_event = std::variant<notification, notification_gap, listener_failed>;

struct listener_options {
    /// Where the listener's own session goes. It must reach the server itself or a pooler in
    /// session mode: with pooler_mode::transaction, create() refuses (LISTEN needs a session
    /// that stays the same); give the listener a direct connection and send through the pooler.
    connection_options connection;
    /// Reconnection after a lost session: the pause before attempt n + 1 is reconnect.backoff(n);
    /// after max_attempts failed attempts in a row the listener gives up (listener_failed). The
    /// default never gives up.
    retry_policy reconnect{.max_attempts = std::numeric_limits<std::uint32_t>::max(),
                           .initial_backoff = std::chrono::milliseconds{100},
                           .max_backoff = std::chrono::milliseconds{5000}};
    /// When set, the listener's thread calls it for every event, in order, instead of queuing
    /// the event for next(). It must not block for long (notifications wait meanwhile); it may
    /// call listen(), unlisten() and stop().
    std::function<void(const listener_event&)> on_event{};
};

/// Keeps one session of its own (outside any pool) listening on a set of channels, from a thread
/// of its own that waits on the session's socket. Events go to listener_options::on_event or to
/// a queue next() drains (unbounded: drain it). A lost session is replaced, with backoff, and
/// every channel subscribed again; the notifications sent meanwhile are lost, which the
/// notification_gap event reports.
///
/// Thread safety: every member function may be called from any thread, and from on_event.
class listener {
  public:
    /// invalid_argument for pooler_mode::transaction or an invalid retry policy. Connects
    /// nothing yet.
    [[nodiscard]] static result<std::unique_ptr<listener>> create(listener_options options);

    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    /// Stops the thread (as stop()) and closes the session.
    ~listener();

    /// Subscribes to `channel` (any name: it is quoted, so "Orders" and "my channel" are
    /// channels of their own). invalid_argument when empty, longer than 63 bytes (NAMEDATALEN -
    /// 1), not UTF-8 or holding a NUL byte. Before start(): remembered. While running and
    /// connected: returns once the server has confirmed it, so every notification sent on the
    /// channel afterwards is delivered; while reconnecting: subscribed with the others.
    [[nodiscard]] result<void> listen(std::string_view channel);
    /// The reverse (a channel not subscribed: nothing happens). Notifications the session
    /// received before may still be delivered.
    [[nodiscard]] result<void> unlisten(std::string_view channel);
    /// The channels subscribed to, in the order first subscribed.
    [[nodiscard]] std::vector<std::string> channels() const;

    /// Opens the session, subscribes every channel and starts the thread. connection_failed
    /// when the first connection fails (nothing started; call start() again); invalid_argument
    /// when already running, or when called from on_event.
    [[nodiscard]] result<void> start();
    /// Stops the thread promptly (it waits on its socket and a wake-up descriptor, never sleeps)
    /// and closes the session; queued events stay for next(). While a reconnection attempt is
    /// connecting, that attempt ends first (within connect_timeout). From on_event, the thread
    /// ends once the callback returns. Does nothing when not running.
    void stop();
    /// True between start() and stop() (or listener_failed).
    [[nodiscard]] bool running() const;

    /// The oldest queued event, waiting up to `timeout` for one; nullopt when none came.
    /// invalid_argument when listener_options::on_event is set (events go there instead).
    [[nodiscard]] result<std::optional<listener_event>> next(std::chrono::milliseconds timeout);

    /// The server process of the listener's session now; 0 while it has none.
    [[nodiscard]] int backend_pid() const;

  private:
    explicit listener(listener_options options);

    /// A request from another thread for the listener's thread (which owns the session).
    struct command {
        bool subscribe = true;
        std::string channel;
        bool done = false;
        std::optional<error> failure;
    };

    /// listen() and unlisten().
    [[nodiscard]] result<void> change(bool subscribe, std::string_view channel);
    void run();
    /// Completes the commands still waiting and marks the listener stopped.
    void finish_commands_and_stop();
    /// Opens a session and subscribes every channel; the session or the error.
    [[nodiscard]] result<std::unique_ptr<detail::pq_session>> connect_and_subscribe();
    /// Reconnects with backoff after a loss; false when stopped or given up.
    [[nodiscard]] bool reconnect(error cause);
    /// Waits for the socket (when connected) or the wake-up descriptor, at most `timeout`
    /// (negative: without limit). True when the socket is readable.
    bool wait(int socket, int timeout_ms);
    /// Runs the commands other threads queued; an error when the session was lost meanwhile.
    [[nodiscard]] result<void> run_commands();
    /// LISTEN or UNLISTEN on the session, if there is one.
    [[nodiscard]] result<void> apply(bool subscribe, const std::string& channel);
    /// Hands every notification the session has read to on_event or the queue.
    void deliver_notifications();
    void deliver(listener_event event);
    void wake() noexcept;
    [[nodiscard]] bool on_listener_thread() const;
    [[nodiscard]] bool stopping() const;

    listener_options options_;
    /// Serialises start(), stop() and the destructor (which start and join the thread).
    std::mutex lifecycle_;
    /// Guards everything below but the session, which only the thread (or start(), before the
    /// thread exists) uses.
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> channels_;
    std::deque<listener_event> queue_;
    std::deque<command*> commands_;
    bool running_ = false;
    bool stop_requested_ = false;
    int backend_pid_ = 0;
    std::thread::id thread_id_;
    /// The session ended during a LISTEN that on_event asked for: the run loop reconnects.
    std::optional<error> lost_on_thread_;
    /// The self-pipe that wakes the thread: [0] is read by it, [1] written by others.
    int wake_fds_[2] = {-1, -1};
    std::unique_ptr<detail::pq_session> session_;  // the thread's, once started
    std::thread thread_;
};

/// Sends a notification (SELECT pg_notify($1, $2): both bound values). Works on any connection
/// or lease, and through a transaction-mode pooler. In a transaction it is delivered at commit,
/// and not at all after a rollback. invalid_argument for a channel name listen() refuses;
/// a payload over the server's limit (7999 bytes with the default 8 kB block size) fails with
/// data_exception, SQLSTATE 22023, its message naming the limit.
[[nodiscard]] result<void> notify(connection& conn,
                                  std::string_view channel,
                                  std::string_view payload);
[[nodiscard]] result<void> notify(transaction& tx,
                                  std::string_view channel,
                                  std::string_view payload);

}  // namespace pgkit
