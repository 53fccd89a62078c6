#include "pgkit/listener.hpp"

#include "pgkit/connection.hpp"

#include "driver/pq_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

namespace pgkit {
namespace {

using clock = std::chrono::steady_clock;

/// The channel's quoted name for LISTEN and UNLISTEN; invalid_argument naming the rule broken.
result<std::string> quoted_channel(std::string_view channel) {
    auto quoted = connection::quote_identifier(channel);
    if (!quoted) {
        auto e = quoted.error();
        e.with_context("channel name");
        return tl::unexpected(std::move(e));
    }
    return quoted;
}

result<void> set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
        ::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        return make_error(errc::internal, "listener: cannot configure its wake-up pipe");
    }
    return {};
}

}  // namespace

result<std::unique_ptr<listener>> listener::create(listener_options options) {
    if (options.connection.pooler == pooler_mode::transaction) {
        return make_error(
            errc::invalid_argument,
            "LISTEN cannot work behind a transaction-mode pooler: the pooler hands the session "
            "to other clients between transactions, and notifications go to the session that "
            "listened. Give the listener a direct connection to the server (or a pooler in "
            "session mode); notify() works through the pooler (docs/listen_notify.md)");
    }
    if (auto valid = options.reconnect.validate(); !valid) {
        auto e = valid.error();
        e.with_context("listener_options::reconnect");
        return tl::unexpected(std::move(e));
    }
    std::unique_ptr<listener> out{new listener(std::move(options))};
    if (::pipe(out->wake_fds_) != 0) {
        return make_error(errc::internal, "listener: cannot create its wake-up pipe");
    }
    for (int fd : out->wake_fds_) {
        if (auto ok = set_nonblocking(fd); !ok) {
            return tl::unexpected(std::move(ok).error());
        }
    }
    return out;
}

listener::listener(listener_options options) : options_(std::move(options)) {}

listener::~listener() {
    stop();
    for (int fd : wake_fds_) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

// ---- what other threads call ------------------------------------------------------------------

result<void> listener::listen(std::string_view channel) {
    return change(true, channel);
}

result<void> listener::unlisten(std::string_view channel) {
    return change(false, channel);
}

result<void> listener::change(bool subscribe, std::string_view channel) {
    if (auto quoted = quoted_channel(channel); !quoted) {
        return tl::unexpected(std::move(quoted).error());
    }
    std::string name{channel};
    std::unique_lock lock{mutex_};
    const auto known = std::find(channels_.begin(), channels_.end(), name);
    if (subscribe == (known != channels_.end())) {
        return {};
    }
    if (subscribe) {
        channels_.push_back(name);
    } else {
        channels_.erase(known);
    }
    if (!running_ || stop_requested_) {
        return {};  // applied when the session opens
    }
    if (std::this_thread::get_id() == thread_id_) {
        lock.unlock();  // from on_event: the session is this thread's
        auto applied = apply(subscribe, name);
        if (!applied && session_ && !session_->is_open()) {
            lost_on_thread_ = std::move(applied).error();  // the run loop reconnects
            return {};
        }
        return applied;
    }
    command request{subscribe, std::move(name), false, std::nullopt};
    commands_.push_back(&request);
    lock.unlock();
    wake();
    lock.lock();
    changed_.wait(lock, [&] { return request.done; });
    if (request.failure) {
        return tl::unexpected(std::move(*request.failure));
    }
    return {};
}

std::vector<std::string> listener::channels() const {
    std::lock_guard lock{mutex_};
    return channels_;
}

result<void> listener::start() {
    {
        std::lock_guard lock{mutex_};
        if (std::this_thread::get_id() == thread_id_) {
            return make_error(errc::invalid_argument,
                              "listener: start() cannot be called from on_event");
        }
    }
    std::lock_guard lifecycle{lifecycle_};
    {
        std::lock_guard lock{mutex_};
        if (running_ && !stop_requested_) {
            return make_error(errc::invalid_argument, "listener: already running");
        }
    }
    if (thread_.joinable()) {
        thread_.join();  // a thread that ended, or is ending, by itself (stop() from on_event,
                         // or it gave up)
    }
    {
        std::lock_guard lock{mutex_};
        running_ = true;
        stop_requested_ = false;
    }
    auto opened = connect_and_subscribe();
    if (!opened) {
        finish_commands_and_stop();
        return tl::unexpected(std::move(opened).error());
    }
    session_ = std::move(*opened);
    std::lock_guard lock{mutex_};
    backend_pid_ = session_->backend_pid();
    thread_ = std::thread{[this] { run(); }};
    thread_id_ = thread_.get_id();
    return {};
}

void listener::stop() {
    std::unique_lock lock{mutex_};
    if (std::this_thread::get_id() == thread_id_) {
        stop_requested_ = true;  // from on_event: the thread ends once the callback returns
        return;
    }
    lock.unlock();
    std::lock_guard lifecycle{lifecycle_};
    lock.lock();
    if (!thread_.joinable()) {
        return;
    }
    stop_requested_ = true;
    lock.unlock();
    wake();
    thread_.join();
}

bool listener::running() const {
    std::lock_guard lock{mutex_};
    return running_ && !stop_requested_;
}

result<std::optional<listener_event>> listener::next(std::chrono::milliseconds timeout) {
    if (options_.on_event) {
        return make_error(errc::invalid_argument,
                          "listener: events go to listener_options::on_event, not to next()");
    }
    // A year stands for "no limit" (steady_clock::now() + milliseconds::max() would overflow).
    const auto limit = std::min<std::chrono::milliseconds>(timeout, std::chrono::hours{24 * 365});
    std::unique_lock lock{mutex_};
    if (!changed_.wait_for(lock, limit, [&] { return !queue_.empty(); })) {
        return std::optional<listener_event>{};
    }
    listener_event event = std::move(queue_.front());
    queue_.pop_front();
    return std::optional<listener_event>{std::move(event)};
}

int listener::backend_pid() const {
    std::lock_guard lock{mutex_};
    return backend_pid_;
}

void listener::wake() noexcept {
    const char byte = 1;
    // A full pipe already holds a wake-up: nothing is lost when this write fails.
    [[maybe_unused]] const auto written = ::write(wake_fds_[1], &byte, 1);
}

// ---- the listener's thread --------------------------------------------------------------------

void listener::run() {
    for (;;) {
        deliver_notifications();  // read while a statement's results were read
        std::optional<error> lost = std::exchange(lost_on_thread_, std::nullopt);
        if (!lost && !stopping()) {
            const bool readable = wait(session_->socket(), -1);
            auto ok = run_commands();
            if (ok && readable) {
                ok = session_->consume_input();
            }
            if (!ok) {
                lost = std::move(ok).error();
            }
            deliver_notifications();
        }
        if (stopping()) {
            break;
        }
        if (lost && !reconnect(std::move(*lost))) {
            break;
        }
    }
    session_.reset();
    finish_commands_and_stop();
}

bool listener::stopping() const {
    std::lock_guard lock{mutex_};
    return stop_requested_;
}

void listener::finish_commands_and_stop() {
    std::lock_guard lock{mutex_};
    for (command* pending : commands_) {
        pending->done = true;  // the channel is remembered and subscribed at the next start()
    }
    commands_.clear();
    running_ = false;
    backend_pid_ = 0;
    thread_id_ = {};
    changed_.notify_all();
}

result<std::unique_ptr<detail::pq_session>> listener::connect_and_subscribe() {
    auto opened = detail::pq_session::open(options_.connection);
    if (!opened) {
        return tl::unexpected(std::move(opened).error());
    }
    for (const auto& channel : channels()) {
        auto listened = (*opened)->exec_script("LISTEN " + quoted_channel(channel).value());
        if (!listened) {
            auto e = std::move(listened).error();
            e.with_context("LISTEN " + channel);
            return tl::unexpected(std::move(e));
        }
    }
    return opened;
}

bool listener::reconnect(error cause) {
    const auto lost_at = std::chrono::system_clock::now();
    session_.reset();
    {
        std::lock_guard lock{mutex_};
        backend_pid_ = 0;
    }
    for (std::uint32_t attempt = 1;; ++attempt) {
        auto opened = connect_and_subscribe();
        if (opened) {
            session_ = std::move(*opened);
            {
                std::lock_guard lock{mutex_};
                backend_pid_ = session_->backend_pid();
            }
            deliver(notification_gap{lost_at, std::chrono::system_clock::now(), attempt,
                                     std::move(cause)});
            return true;
        }
        if (attempt >= options_.reconnect.max_attempts) {
            deliver(listener_failed{lost_at, attempt, std::move(opened).error()});
            return false;
        }
        // The pause, during which listen() and unlisten() only change the channel list and
        // stop() ends it at once.
        const auto resume = clock::now() + options_.reconnect.backoff(attempt);
        for (auto now = clock::now(); now < resume && !stopping(); now = clock::now()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(resume - now);
            wait(-1, static_cast<int>(left.count()));
            (void)run_commands();  // no session: nothing can fail
        }
        if (stopping()) {
            return false;
        }
    }
}

bool listener::wait(int socket, int timeout_ms) {
    std::array<pollfd, 2> fds{pollfd{wake_fds_[0], POLLIN, 0}, pollfd{socket, POLLIN, 0}};
    const nfds_t count = socket >= 0 ? 2 : 1;
    int ready = 0;
    do {
        ready = ::poll(fds.data(), count, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready <= 0) {
        return ready < 0 && count == 2;  // a poll error: let libpq report the socket's state
    }
    if (fds[0].revents != 0) {
        std::array<char, 64> drained{};
        while (::read(wake_fds_[0], drained.data(), drained.size()) > 0) {
        }
    }
    return count == 2 && fds[1].revents != 0;
}

result<void> listener::run_commands() {
    result<void> session_state;
    for (;;) {
        command* request = nullptr;
        {
            std::lock_guard lock{mutex_};
            if (commands_.empty()) {
                return session_state;
            }
            request = commands_.front();
            commands_.pop_front();
        }
        auto applied = session_state ? apply(request->subscribe, request->channel) : result<void>{};
        if (!applied && session_ && !session_->is_open()) {
            // The session is gone: the channel list holds the change, and the next session
            // subscribes accordingly. The caller sees success.
            session_state = tl::unexpected(std::move(applied).error());
            applied = {};
        }
        std::lock_guard lock{mutex_};
        if (!applied) {
            request->failure = std::move(applied).error();
        }
        request->done = true;
        changed_.notify_all();
    }
}

result<void> listener::apply(bool subscribe, const std::string& channel) {
    if (!session_) {
        return {};
    }
    const std::string sql = (subscribe ? "LISTEN " : "UNLISTEN ") + quoted_channel(channel).value();
    auto done = session_->exec_script(sql);
    if (done) {
        return {};
    }
    auto e = std::move(done).error();
    if (!session_->is_open()) {
        return tl::unexpected(std::move(e));
    }
    // The server refused: the channel list must not claim otherwise.
    std::lock_guard lock{mutex_};
    const auto known = std::find(channels_.begin(), channels_.end(), channel);
    if (subscribe && known != channels_.end()) {
        channels_.erase(known);
    } else if (!subscribe && known == channels_.end()) {
        channels_.push_back(channel);
    }
    e.with_context(sql);
    return tl::unexpected(std::move(e));
}

void listener::deliver_notifications() {
    while (session_) {
        auto received = session_->take_notification();
        if (!received) {
            return;
        }
        deliver(std::move(*received));
    }
}

void listener::deliver(listener_event event) {
    if (options_.on_event) {
        options_.on_event(event);
        return;
    }
    std::lock_guard lock{mutex_};
    queue_.push_back(std::move(event));
    changed_.notify_all();
}

}  // namespace pgkit
