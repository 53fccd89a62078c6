#include "pgkit/pool.hpp"

#include "ascii_text.hpp"
#include "driver/pqxx_adapter.hpp"
#include "driver/session_access.hpp"
#include "pool/pool_state.hpp"
#include "pool/topology.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <system_error>
#include <utility>

namespace pgkit {
namespace detail {
namespace {

constexpr std::chrono::milliseconds first_refill_backoff{50};
/// An idle connection taken this long after its return is first checked, without blocking, for
/// a close the server sent meanwhile (connection::still_open); sooner, it is handed out as is, so
/// a tight acquire/release loop pays nothing.
constexpr std::chrono::milliseconds peek_after_idle{1};
constexpr std::chrono::milliseconds max_refill_backoff{5'000};

std::uint64_t micros_between(pool_clock::time_point from, pool_clock::time_point to) noexcept {
    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(to - from).count();
    return elapsed > 0 ? static_cast<std::uint64_t>(elapsed) : 0;
}

std::chrono::milliseconds millis_between(pool_clock::time_point from,
                                         pool_clock::time_point to) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

/// A lifetime shortened by a random fraction in [0, jitter] of it.
std::chrono::milliseconds jittered(std::chrono::milliseconds lifetime, double jitter) {
    if (jitter <= 0.0) {
        return lifetime;
    }
    thread_local std::mt19937_64 engine{std::random_device{}()};
    std::uniform_real_distribution<double> fraction{0.0, jitter};
    const auto cut = static_cast<std::chrono::milliseconds::rep>(
        static_cast<double>(lifetime.count()) * fraction(engine));
    return lifetime - std::chrono::milliseconds{cut};
}

}  // namespace

namespace {

/// Whether two addresses name one node (an absent port matches any: libpq's default applies).
bool same_node(const host_address& a, const host_address& b) {
    return a.host == b.host && (!a.port || !b.port || *a.port == *b.port);
}

node_requirement requirement_of(const connection_options& options) {
    const auto attrs = options.parameter("target_session_attrs");
    if (!attrs) {
        return node_requirement::any;
    }
    if (iequals(*attrs, "read-write") || iequals(*attrs, "primary")) {
        return node_requirement::writable;
    }
    if (iequals(*attrs, "read-only") || iequals(*attrs, "standby")) {
        return node_requirement::standby;
    }
    return node_requirement::any;
}

}  // namespace

pool_state::pool_state(pool_options options, session_plan plan)
    : options_(std::move(options)),
      plan_(std::move(plan)),
      requirement_(requirement_of(plan_.connect)),
      target_(plan_.connect.redacted()),
      // Behind a transaction-mode pooler a named statement may be gone in the next transaction.
      cache_capacity_(options_.prepared_statements &&
                              options_.connection.pooler != pooler_mode::transaction
                          ? options_.statement_cache_size
                          : 0) {}

pool_state::~pool_state() {
    stop_threads();
}

void pool_state::start() {
    maintainer_ = std::jthread([this](std::stop_token stop) { maintainer_loop(std::move(stop)); });
}

// ---- events -----------------------------------------------------------------------------------

pool_event pool_state::make_event(pool_event_type type) const noexcept {
    pool_event event;
    event.type = type;
    event.pool_name = options_.name;
    event.target = target_;
    return event;
}

void pool_state::emit(pool_event event) const noexcept {
    if (!options_.on_event) {
        return;
    }
    try {
        options_.on_event(event);
    } catch (...) {
        // A logging hook must not break the pool; documented on pool_options::on_event.
    }
}

// ---- opening ----------------------------------------------------------------------------------

result<connection> pool_state::open_through_opener() const {
    auto failed = [this](std::string_view reason) {
        return make_error(
            errc::connection_failed,
            fmt::format("the session opener for {} failed: {}", target_, redact_secrets(reason)));
    };
    result<opened_session> from_app = tl::unexpected(error{errc::internal, {}});
    try {
        from_app = options_.open_session();
    } catch (const std::exception& e) {
        return failed(e.what());
    } catch (...) {
        return failed("unknown exception");
    }
    if (!from_app) {
        auto e = std::move(from_app).error();
        if (e.code() == errc::connection_failed) {
            return tl::unexpected(std::move(e));
        }
        return failed(e.to_string());
    }
    if (from_app->handle == nullptr) {
        connection_options where = std::move(from_app->connect);
        where.connect_timeout = options_.connect_timeout;
        return connection::open(where);
    }
    auto session = detail::pq_session::adopt(from_app->handle, target_);
    if (!session) {
        return tl::unexpected(std::move(session).error());
    }
    return detail::session_access::wrap(std::move(*session), options_.connection.pooler);
}

result<std::unique_ptr<pooled_connection>> pool_state::open_one() {
    auto opened = options_.open_session ? open_through_opener() : connection::open(plan_.connect);
    if (!opened) {
        return tl::unexpected(std::move(opened).error());
    }
    if (!plan_.init_sql.empty()) {
        auto initialised = opened->execute_script(plan_.init_sql);
        if (!initialised) {
            return make_error(errc::connection_failed,
                              fmt::format("cannot initialise a session on {}: {}", target_,
                                          initialised.error().to_string()));
        }
        opened->set_session_state_dirty(false);
    }
    auto pooled = std::make_unique<pooled_connection>(std::move(*opened), cache_capacity_);
    const auto now = pool_clock::now();
    pooled->pid = pooled->conn.backend_pid();
    pooled->created = now;
    pooled->idle_since = now;
    if (options_.max_lifetime.count() > 0) {
        pooled->expires = now + jittered(options_.max_lifetime, options_.max_lifetime_jitter);
    }
    return pooled;
}

std::size_t pool_state::connects_wanted(pool_clock::time_point now) const noexcept {
    if (closed_ || size_ + pending_ >= options_.max_size ||
        pending_ >= options_.max_concurrent_connects) {
        return 0;
    }
    const std::size_t room =
        std::min(options_.max_size - size_ - pending_, options_.max_concurrent_connects - pending_);
    std::size_t want = waiters_.size() > pending_ ? waiters_.size() - pending_ : 0;
    if (want == 0 && now >= next_refill_ && idle_.size() + pending_ < options_.min_idle) {
        want = options_.min_idle - idle_.size() - pending_;
    }
    return std::min(want, room);
}

void pool_state::ensure_connectors(pool_clock::time_point now) noexcept {
    std::size_t wanted = connects_wanted(now);
    if (wanted == 0) {
        return;
    }
    if (connectors_idle_ > 0) {
        connector_cv_.notify_all();
    }
    while (wanted > connectors_idle_ && connectors_.size() < options_.max_concurrent_connects) {
        try {
            ++connectors_idle_;  // counts as waiting until it takes work
            connectors_.emplace_back(
                [this](std::stop_token stop) { connector_loop(std::move(stop)); });
        } catch (const std::system_error&) {
            --connectors_idle_;  // no thread to spare: the existing connectors carry on
            return;
        }
    }
}

void pool_state::connector_loop(std::stop_token stop) {
    lock lk{mutex_};
    for (;;) {
        const bool has_work =
            connector_cv_.wait(lk, stop, [this] { return connects_wanted(pool_clock::now()) > 0; });
        if (!has_work) {
            --connectors_idle_;
            return;
        }
        --connectors_idle_;
        ++pending_;
        lk.unlock();

        auto opened = open_one();
        if (opened) {
            pool_event event = make_event(pool_event_type::connection_opened);
            event.backend_pid = (*opened)->pid;
            emit(std::move(event));
        } else {
            pool_event event = make_event(pool_event_type::connect_failed);
            event.failure = opened.error();
            emit(std::move(event));
        }

        lk.lock();
        --pending_;
        const auto now = pool_clock::now();
        std::unique_ptr<pooled_connection> unwanted;
        if (opened) {
            ++size_;
            ++counters_.created;
            (*opened)->id = next_id_++;
            refill_backoff_ = std::chrono::milliseconds{0};
            next_refill_ = {};
            unwanted = place(std::move(*opened), now);
        } else {
            ++counters_.connect_failures;
            fail_waiters(opened.error());
            refill_backoff_ = std::clamp(refill_backoff_ * 2, first_refill_backoff,
                                         std::max(max_refill_backoff, options_.connect_timeout));
            next_refill_ = now + refill_backoff_;
            if (options_.min_idle > 0) {
                wake_maintainer_by(next_refill_);
            }
        }
        ++connectors_idle_;
        if (unwanted) {
            lk.unlock();
            discard(std::move(unwanted), close_reason::pool_closed, std::nullopt);
            lk.lock();
        }
    }
}

void pool_state::fail_waiters(const error& failure) noexcept {
    if (waiters_.empty()) {
        return;
    }
    // The oldest waiter takes the failure at once rather than sitting out acquire_timeout. When
    // nothing is open, nothing can come back to serve the others: they fail too (fail fast).
    const bool everyone = size_ == 0;
    do {
        waiter* w = waiters_.front();
        waiters_.pop_front();
        w->failure = failure;
        w->done = true;
        w->cv.notify_one();
    } while (everyone && !waiters_.empty());
}

// ---- handing out ------------------------------------------------------------------------------

std::unique_ptr<pooled_connection> pool_state::place(std::unique_ptr<pooled_connection> pooled,
                                                     pool_clock::time_point now) noexcept {
    if (closed_) {
        return pooled;
    }
    // Handed over or parked, it was in use until now: how long it has been idle, which decides
    // whether acquire validates it, starts here.
    pooled->idle_since = now;
    if (!waiters_.empty()) {
        waiter* w = waiters_.front();
        waiters_.pop_front();
        w->handed = std::move(pooled);
        w->done = true;
        w->cv.notify_one();
        return nullptr;
    }
    const auto expires = pooled->expires;
    idle_.push_back(std::move(pooled));
    auto deadline = expires;
    if (options_.idle_timeout.count() > 0 && idle_.size() > options_.min_idle) {
        deadline = std::min(deadline, idle_.front()->idle_since + options_.idle_timeout);
    }
    wake_maintainer_by(deadline);
    return nullptr;
}

void pool_state::track_in_use(pooled_connection& pooled,
                              pool_clock::time_point now,
                              std::source_location where) noexcept {
    pooled.acquired = now;
    pooled.where = where;
    pooled.leak_reported = false;
    pooled.prev_in_use = nullptr;
    pooled.next_in_use = in_use_head_;
    if (in_use_head_ != nullptr) {
        in_use_head_->prev_in_use = &pooled;
    }
    in_use_head_ = &pooled;
    ++in_use_;
    ++pooled.uses;
    if (options_.leak_detection_threshold.count() > 0) {
        wake_maintainer_by(now + options_.leak_detection_threshold);
    }
}

void pool_state::untrack_in_use(pooled_connection& pooled) noexcept {
    if (pooled.prev_in_use != nullptr) {
        pooled.prev_in_use->next_in_use = pooled.next_in_use;
    } else {
        in_use_head_ = pooled.next_in_use;
    }
    if (pooled.next_in_use != nullptr) {
        pooled.next_in_use->prev_in_use = pooled.prev_in_use;
    }
    pooled.prev_in_use = pooled.next_in_use = nullptr;
    --in_use_;
}

result<lease> pool_state::acquire(const std::shared_ptr<pool_state>& self,
                                  std::source_location where) {
    const auto start = pool_clock::now();
    const auto deadline = start + options_.acquire_timeout;
    bool first_in_line = false;  // after a failed check, wait at the head of the queue
    lock lk{mutex_};
    for (;;) {
        if (closed_) {
            return make_error(errc::pool_closed, fmt::format("pool '{}' is closed", options_.name));
        }
        std::unique_ptr<pooled_connection> pooled;
        if (!idle_.empty() && (waiters_.empty() || first_in_line)) {
            pooled = std::move(idle_.back());
            idle_.pop_back();
            if (idle_.size() + pending_ < options_.min_idle) {
                ensure_connectors(pool_clock::now());  // keep min_idle ready
            }
        } else {
            const std::size_t can_open = options_.max_size - std::min(options_.max_size, size_);
            if (!first_in_line && waiters_.size() >= can_open &&
                waiters_.size() - can_open >= options_.max_waiters) {
                ++counters_.acquire_rejected;
                const std::size_t waiting = waiters_.size();
                lk.unlock();
                pool_event event = make_event(pool_event_type::acquire_rejected);
                event.location = where;
                emit(std::move(event));
                return make_error(
                    errc::pool_timeout,
                    fmt::format("pool '{}': no connection free and {} callers already waiting "
                                "(max_waiters)",
                                options_.name, waiting));
            }
            waiter self_waiter;
            auto position = first_in_line ? waiters_.insert(waiters_.begin(), &self_waiter)
                                          : waiters_.insert(waiters_.end(), &self_waiter);
            ensure_connectors(pool_clock::now());
            while (!self_waiter.done) {
                if (self_waiter.cv.wait_until(lk, deadline) == std::cv_status::timeout &&
                    !self_waiter.done) {
                    waiters_.erase(position);
                    ++counters_.acquire_timeouts;
                    const std::size_t in_use = in_use_;
                    lk.unlock();
                    const auto waited = millis_between(start, pool_clock::now());
                    error failure{errc::pool_timeout,
                                  fmt::format("pool '{}': no connection became free within {} ms "
                                              "({} of {} in use)",
                                              options_.name, options_.acquire_timeout.count(),
                                              in_use, options_.max_size)};
                    pool_event event = make_event(pool_event_type::acquire_timeout);
                    event.location = where;
                    event.duration = waited;
                    event.failure = failure;
                    emit(std::move(event));
                    return tl::unexpected(std::move(failure));
                }
            }
            // Whoever completed the wait took us off the queue.
            if (self_waiter.failure) {
                if (self_waiter.failure->code() != errc::pool_closed) {
                    ++counters_.acquire_failures;
                }
                return tl::unexpected(std::move(*self_waiter.failure));
            }
            pooled = std::move(self_waiter.handed);
        }

        auto now = pool_clock::now();
        const auto idle_for = now - pooled->idle_since;
        const bool expired = pooled->expires <= now;
        // Idle long enough to be checked with a round trip, or at least long enough that the
        // server may have closed it meanwhile (read without blocking, no round trip).
        const bool validate = idle_for >= options_.validation_after_idle;
        const bool peek = !validate && idle_for >= peek_after_idle;
        if (!expired && !validate && !peek) {
            track_in_use(*pooled, now, where);
            ++counters_.acquired;
            lk.unlock();
            wait_.record(micros_between(start, now));
            return lease{self, std::move(pooled)};
        }
        lk.unlock();
        std::optional<error> failure;
        close_reason reason = close_reason::max_lifetime;
        if (!expired) {
            result<void> alive{};
            if (validate) {
                auto answered = pooled->conn.execute_script("");
                if (!answered) {
                    alive = tl::unexpected(std::move(answered).error());
                } else if (pooled->conn.status() != transaction_status::idle) {
                    alive = make_error(errc::internal, "the session is not idle");
                }
            } else if (!pooled->conn.still_open()) {
                alive = make_error(errc::connection_lost,
                                   "the server closed the session while it was idle");
            }
            const bool fits = !alive || fits_requirement(pooled->conn);
            if (alive && fits) {
                lk.lock();
                if (closed_) {
                    lk.unlock();
                    discard(std::move(pooled), close_reason::pool_closed, std::nullopt);
                    lk.lock();
                    continue;  // reports pool_closed
                }
                now = pool_clock::now();
                track_in_use(*pooled, now, where);
                ++counters_.acquired;
                lk.unlock();
                wait_.record(micros_between(start, now));
                return lease{self, std::move(pooled)};
            }
            if (alive) {
                reason = close_reason::role_changed;  // promoted or demoted while idle
            } else {
                reason = close_reason::validation_failed;
                failure = alive.error();
            }
        }
        discard(std::move(pooled), reason, std::move(failure));
        first_in_line = true;
        lk.lock();
        if (pool_clock::now() >= deadline) {
            ++counters_.acquire_timeouts;
            return make_error(errc::pool_timeout,
                              fmt::format("pool '{}': no usable connection within {} ms",
                                          options_.name, options_.acquire_timeout.count()));
        }
    }
}

// ---- the return path --------------------------------------------------------------------------

void pool_state::give_back(std::unique_ptr<pooled_connection> pooled) noexcept {
    std::optional<close_reason> reason;
    std::optional<error> failure;
    bool reset = false;
    bool rolled_back = false;
    connection& conn = pooled->conn;

    conn.drop_pending_begin();  // a transaction that ran no statement began nothing
    if (closed_flag_.load(std::memory_order_acquire)) {
        reason = close_reason::pool_closed;
    } else if (pooled->broken || conn.is_poisoned() || !conn.is_open()) {
        reason = close_reason::broken;
    } else if (!fits_requirement(conn)) {
        reason = close_reason::role_changed;
    } else {
        switch (conn.status()) {
            case transaction_status::idle:
                break;
            case transaction_status::in_transaction:
            case transaction_status::in_failed_transaction: {
                auto rolled = conn.execute_script("ROLLBACK");
                rolled_back = true;
                if (!rolled || conn.status() != transaction_status::idle) {
                    reason = close_reason::rollback_failed;
                    if (!rolled) {
                        failure = rolled.error();
                    }
                }
                break;
            }
            default:  // a statement or COPY still running: the session is unusable
                reason = close_reason::broken;
        }
    }
    if (auto* session = session_access::session(conn);
        !reason && session != nullptr && session->owner().lent()) {
        // libpqxx code used the session (pgkit/pqxx.hpp): drop what it prepared, in libpqxx too.
        if (auto forgot = session->owner().forget_lent_statements(); !forgot) {
            reason = close_reason::reset_failed;
            failure = forgot.error();
        }
    }
    const auto now = pool_clock::now();
    if (!reason) {
        if (options_.max_uses > 0 && pooled->uses >= options_.max_uses) {
            reason = close_reason::max_uses;
        } else if (pooled->expires <= now) {
            reason = close_reason::max_lifetime;
        } else if (options_.connection.pooler == pooler_mode::transaction) {
            // Nothing to reset: statements that would leave state were refused, and a reset
            // would run on whichever server session the pooler picks.
        } else if (options_.reset == reset_policy::when_dirty) {
            // The check resets every setting, so of the reported ones only those it keeps
            // (who the session is) are read back.
            if (conn.session_state_may_outlive_check()) {
                // The reset travels with the next statement, in its round trip (docs/pool.md).
                conn.reset_with_next_statement(plan_.reset_check_sql);
                reset = true;
            } else {
                conn.check_session_first(plan_.check_sql);
            }
        } else if (options_.reset == reset_policy::always ||
                   (options_.reset != reset_policy::discard && conn.session_state_may_be_dirty())) {
            auto cleaned = conn.execute_script(reset_statement(plan_));
            if (cleaned && conn.status() == transaction_status::idle) {
                conn.set_session_state_dirty(false);
                reset = true;
            } else {
                reason = close_reason::reset_failed;
                if (!cleaned) {
                    failure = cleaned.error();
                }
            }
        } else if (options_.reset == reset_policy::discard && conn.session_state_may_be_dirty()) {
            reason = close_reason::dirty;
        } else if (options_.reset != reset_policy::when_sql_dirty) {
            // What functions and triggers may have left is cleared ahead of the next statement,
            // in its round trip (a no-op when this lease ran nothing).
            conn.check_session_first(plan_.check_sql);
        }
    }

    const std::uint64_t round_trips = conn.round_trips() - pooled->round_trips_counted;
    pooled->round_trips_counted = conn.round_trips();

    lock lk{mutex_};
    untrack_in_use(*pooled);
    counters_.round_trips += round_trips;
    const bool was_reported = pooled->leak_reported;
    const auto held_for = millis_between(pooled->acquired, now);
    counters_.rollbacks += rolled_back ? 1 : 0;
    counters_.resets += reset ? 1 : 0;
    if (!reason) {
        pooled = place(std::move(pooled), now);
        if (pooled) {
            reason = close_reason::pool_closed;
        }
    }
    if (in_use_ == 0 && closed_) {
        drained_cv_.notify_all();
    }
    const int pid = reason ? pooled->pid : 0;
    lk.unlock();

    if (reset) {
        pool_event event = make_event(pool_event_type::connection_reset);
        event.backend_pid = pid;
        emit(std::move(event));
    }
    if (was_reported) {
        pool_event event = make_event(pool_event_type::leaked_lease_returned);
        event.duration = held_for;
        emit(std::move(event));
    }
    if (reason) {
        discard(std::move(pooled), *reason, std::move(failure));
    }
}

bool pool_state::fits_requirement(const connection& conn) const noexcept {
    if (requirement_ == node_requirement::any) {
        return true;
    }
    // PostgreSQL 14 and later report in_hot_standby; older servers report nothing here, and
    // libpq checked the role when the session was opened.
    const auto standby = conn.reported_setting("in_hot_standby");
    if (!standby) {
        return true;
    }
    return (*standby == "on") == (requirement_ == node_requirement::standby);
}

void pool_state::evict_idle_to(const host_address& address) noexcept {
    std::vector<std::unique_ptr<pooled_connection>> evicted;
    {
        lock lk{mutex_};
        for (auto it = idle_.begin(); it != idle_.end();) {
            if (same_node((*it)->conn.connected_host(), address)) {
                evicted.push_back(std::move(*it));
                it = idle_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& pooled : evicted) {
        discard(std::move(pooled), close_reason::role_changed, std::nullopt);
    }
}

void pool_state::discard(std::unique_ptr<pooled_connection> pooled,
                         close_reason reason,
                         std::optional<error> failure) noexcept {
    const int pid = pooled->pid;
    pooled.reset();  // closes the session: I/O, so outside the lock
    {
        lock lk{mutex_};
        --size_;
        ++counters_.closed;
        ++counters_.closed_by_reason[static_cast<std::size_t>(reason)];
        ensure_connectors(pool_clock::now());  // a waiter may need a replacement
    }
    pool_event event = make_event(pool_event_type::connection_closed);
    event.backend_pid = pid;
    event.reason = reason;
    event.failure = std::move(failure);
    emit(std::move(event));
}

// ---- the maintainer ---------------------------------------------------------------------------

void pool_state::wake_maintainer_by(pool_clock::time_point deadline) noexcept {
    if (deadline < maintainer_next_) {
        maintainer_next_ = deadline;
        maintainer_wake_ = true;
        maintainer_cv_.notify_one();
    }
}

void pool_state::maintainer_loop(std::stop_token stop) {
    lock lk{mutex_};
    while (!stop.stop_requested()) {
        const auto now = pool_clock::now();
        std::vector<std::pair<std::unique_ptr<pooled_connection>, close_reason>> retired;
        std::vector<pool_event> leaks;
        if (!closed_) {
            for (auto it = idle_.begin(); it != idle_.end();) {
                if ((*it)->expires <= now) {
                    retired.emplace_back(std::move(*it), close_reason::max_lifetime);
                    it = idle_.erase(it);
                } else {
                    ++it;
                }
            }
            if (options_.idle_timeout.count() > 0) {
                while (idle_.size() > options_.min_idle &&
                       idle_.front()->idle_since + options_.idle_timeout <= now) {
                    retired.emplace_back(std::move(idle_.front()), close_reason::idle_timeout);
                    idle_.pop_front();
                }
            }
            if (options_.leak_detection_threshold.count() > 0) {
                for (auto* p = in_use_head_; p != nullptr; p = p->next_in_use) {
                    if (!p->leak_reported &&
                        p->acquired + options_.leak_detection_threshold <= now) {
                        p->leak_reported = true;
                        ++counters_.leaks_reported;
                        pool_event event = make_event(pool_event_type::leak_suspected);
                        event.backend_pid = p->pid;
                        event.duration = millis_between(p->acquired, now);
                        event.location = p->where;
                        leaks.push_back(std::move(event));
                    }
                }
            }
            ensure_connectors(now);
        }
        if (!retired.empty() || !leaks.empty()) {
            lk.unlock();
            for (auto& event : leaks) {
                emit(std::move(event));
            }
            for (auto& [pooled, reason] : retired) {
                discard(std::move(pooled), reason, std::nullopt);
            }
            retired.clear();
            lk.lock();
            continue;  // recompute with the lock held again
        }

        auto next = pool_clock::time_point::max();
        if (!closed_) {
            for (const auto& pooled : idle_) {
                next = std::min(next, pooled->expires);
            }
            if (options_.idle_timeout.count() > 0 && idle_.size() > options_.min_idle) {
                next = std::min(next, idle_.front()->idle_since + options_.idle_timeout);
            }
            if (options_.leak_detection_threshold.count() > 0) {
                for (auto* p = in_use_head_; p != nullptr; p = p->next_in_use) {
                    if (!p->leak_reported) {
                        next = std::min(next, p->acquired + options_.leak_detection_threshold);
                    }
                }
            }
            if (idle_.size() + pending_ < options_.min_idle && next_refill_ > now) {
                next = std::min(next, next_refill_);
            }
        }
        maintainer_next_ = next;
        maintainer_wake_ = false;
        const auto woken = [this] { return maintainer_wake_; };
        if (next == pool_clock::time_point::max()) {
            maintainer_cv_.wait(lk, stop, woken);
        } else {
            maintainer_cv_.wait_until(lk, stop, next, woken);
        }
    }
}

// ---- closing ----------------------------------------------------------------------------------

bool pool_state::close(pool_clock::time_point deadline) {
    std::deque<std::unique_ptr<pooled_connection>> idle;
    bool first = false;
    {
        lock lk{mutex_};
        if (!closed_) {
            first = true;
            closed_ = true;
            closed_flag_.store(true, std::memory_order_release);
            idle.swap(idle_);
            error closed_error{errc::pool_closed,
                               fmt::format("pool '{}' was closed", options_.name)};
            for (waiter* w : waiters_) {
                w->failure = closed_error;
                w->done = true;
                w->cv.notify_one();
            }
            waiters_.clear();
            maintainer_wake_ = true;
            maintainer_cv_.notify_all();
            connector_cv_.notify_all();
        }
    }
    if (first) {
        emit(make_event(pool_event_type::pool_closed));
    }
    while (!idle.empty()) {
        auto pooled = std::move(idle.front());
        idle.pop_front();
        discard(std::move(pooled), close_reason::pool_closed, std::nullopt);
    }
    bool drained = false;
    {
        lock lk{mutex_};
        drained = drained_cv_.wait_until(lk, deadline, [this] { return in_use_ == 0; });
    }
    stop_threads();
    return drained;
}

void pool_state::stop_threads() noexcept {
    std::vector<std::jthread> threads;
    {
        lock lk{mutex_};
        threads.swap(connectors_);
        if (maintainer_.joinable()) {
            threads.push_back(std::move(maintainer_));
        }
    }
    for (auto& thread : threads) {
        thread.request_stop();
    }
    for (auto& thread : threads) {
        if (thread.get_id() == std::this_thread::get_id()) {
            thread.detach();  // closed from the pool's own thread (an event hook): cannot join
        } else if (thread.joinable()) {
            thread.join();
        }
    }
}

// ---- metrics ----------------------------------------------------------------------------------

pool_metrics pool_state::metrics() const {
    pool_metrics m;
    m.pool_name = options_.name;
    m.max_size = options_.max_size;
    {
        lock lk{mutex_};
        m.size = size_;
        m.idle = idle_.size();
        m.in_use = in_use_;
        m.waiting = waiters_.size();
        m.pending_connects = pending_;
        m.acquired = counters_.acquired;
        m.acquire_timeouts = counters_.acquire_timeouts;
        m.acquire_rejected = counters_.acquire_rejected;
        m.acquire_failures = counters_.acquire_failures;
        m.created = counters_.created;
        m.connect_failures = counters_.connect_failures;
        m.closed = counters_.closed;
        m.closed_by_reason = counters_.closed_by_reason;
        m.resets = counters_.resets;
        m.round_trips = counters_.round_trips;
        m.rollbacks = counters_.rollbacks;
        m.leaks_reported = counters_.leaks_reported;
    }
    m.acquire_wait_count = wait_.count();
    m.acquire_wait_sum = std::chrono::microseconds{wait_.sum()};
    m.acquire_wait_p50 = std::chrono::microseconds{wait_.percentile(0.5)};
    m.acquire_wait_p99 = std::chrono::microseconds{wait_.percentile(0.99)};
    m.acquire_wait_max = std::chrono::microseconds{wait_.max()};
    return m;
}

}  // namespace detail

// ---- lease ------------------------------------------------------------------------------------

lease::lease(std::shared_ptr<detail::pool_state> state,
             std::unique_ptr<detail::pooled_connection> pooled) noexcept
    : state_(std::move(state)), pooled_(std::move(pooled)), connection_(&pooled_->conn) {}

lease::lease(lease&& other) noexcept
    : state_(std::move(other.state_)),
      pooled_(std::move(other.pooled_)),
      connection_(std::exchange(other.connection_, nullptr)) {}

lease& lease::operator=(lease&& other) noexcept {
    if (this != &other) {
        release();
        state_ = std::move(other.state_);
        pooled_ = std::move(other.pooled_);
        connection_ = std::exchange(other.connection_, nullptr);
    }
    return *this;
}

lease::~lease() {
    release();
}

void lease::release() noexcept {
    if (!pooled_) {
        return;
    }
    connection_ = nullptr;
    auto state = std::move(state_);
    state->give_back(std::move(pooled_));
}

result<query_result> lease::execute_cached_params(std::string_view sql,
                                                  const parameters& params,
                                                  binary_rows_filter binary) {
    return pooled_->cache.execute(pooled_->conn, sql, params, binary);
}

result<pipeline> lease::start_pipeline(const pipeline_options& options) {
    auto opened = pooled_->conn.start_pipeline(options);
    if (opened) {
        opened->cache_ = &pooled_->cache;
    }
    return opened;
}

void lease::mark_broken() noexcept {
    if (pooled_) {
        pooled_->broken = true;
    }
}

void lease::mark_dirty() noexcept {
    if (pooled_) {
        pooled_->conn.set_session_state_dirty(true);
    }
}

std::chrono::steady_clock::time_point lease::acquired_at() const noexcept {
    return pooled_ ? pooled_->acquired : std::chrono::steady_clock::time_point{};
}

// ---- pool -------------------------------------------------------------------------------------

pool::pool(std::shared_ptr<detail::pool_state> state,
           std::unique_ptr<detail::topology> topology) noexcept
    : state_(std::move(state)), topology_(std::move(topology)) {}

pool::~pool() {
    state_->close(std::chrono::steady_clock::now());
    if (topology_) {
        topology_->stop();
    }
}

namespace {

/// A pool spans several nodes when it has replicas or several connection hosts.
bool has_topology(const pool_options& options) {
    return !options.replicas.hosts.empty() || options.connection.hosts.size() > 1;
}

}  // namespace

result<std::shared_ptr<pool>> pool::create(pool_options options) {
    if (auto valid = validate(options); !valid) {
        return tl::unexpected(std::move(valid).error());
    }
    const bool spans_nodes = has_topology(options);
    if (spans_nodes && !options.connection.parameter("target_session_attrs")) {
        // Writes need the node that accepts them, whichever it is after a failover.
        options.connection.parameters.emplace_back("target_session_attrs", "read-write");
    }
    if (options.open_session) {
        // The application opens the sessions: no startup packet of pgkit's carries settings.
        options.session.mode = session_init_mode::set_statements;
    }
    auto plan = detail::plan_session(options);
    if (!plan) {
        return tl::unexpected(std::move(plan).error());
    }
    std::unique_ptr<detail::topology> topology;
    if (spans_nodes) {
        auto hook = options.on_event;
        auto emit = [hook](pool_event event) {
            if (hook) {
                try {
                    hook(event);
                } catch (...) {
                    // As for every pool event: a logging hook must not break the pool.
                }
            }
        };
        // Filled in below, once the primary's state exists: demotions evict its sessions.
        auto primary = std::make_shared<std::weak_ptr<detail::pool_state>>();
        topology = std::make_unique<detail::topology>(options, std::move(emit),
                                                      [primary](const host_address& demoted) {
                                                          if (auto state = primary->lock()) {
                                                              state->evict_idle_to(demoted);
                                                          }
                                                      });
        auto state = std::make_shared<detail::pool_state>(std::move(options), std::move(*plan));
        *primary = state;
        state->start();
        topology->start();
        return std::shared_ptr<pool>{new pool(std::move(state), std::move(topology))};
    }
    auto state = std::make_shared<detail::pool_state>(std::move(options), std::move(*plan));
    state->start();
    return std::shared_ptr<pool>{new pool(std::move(state), nullptr)};
}

result<lease> pool::acquire(std::source_location where) {
    if (topology_ && topology_->split_brain()) {
        return make_error(errc::split_brain,
                          fmt::format("pool '{}': two nodes accept writes ({}); pgkit will not "
                                      "pick one: fence one of them",
                                      state_->options().name, topology_->writable_nodes()));
    }
    return state_->acquire(state_, where);
}

result<lease> pool::acquire_read(const read_options& options, std::source_location where) {
    if (!topology_) {
        return state_->acquire(state_, where);
    }
    std::size_t node = 0;
    if (auto replica = topology_->route(options, node)) {
        auto leased = replica->acquire(replica, where);
        topology_->note_read(node, leased.has_value());
        if (leased) {
            return leased;
        }
    }
    topology_->note_fallback();
    // Reads may go to the primary even while two nodes accept writes: they change nothing.
    return state_->acquire(state_, where);
}

result<wal_position> pool::write_position(std::source_location where) {
    auto leased = acquire(where);
    if (!leased) {
        return tl::unexpected(std::move(leased).error());
    }
    auto text = (*leased)
                    ->execute("SELECT pg_catalog.pg_current_wal_insert_lsn()::text")
                    .and_then(&query_result::scalar<std::string>);
    if (!text) {
        return tl::unexpected(std::move(text).error());
    }
    auto position = wal_position::parse(*text);
    if (!position) {
        return make_error(errc::type_mismatch,
                          fmt::format("'{}' is not a WAL position", text->substr(0, 40)));
    }
    return *position;
}

bool pool::wait_for_probe(std::chrono::milliseconds limit) {
    return !topology_ || topology_->wait_for_probe(limit);
}

bool pool::close(std::chrono::steady_clock::time_point deadline) {
    const bool drained = state_->close(deadline);
    if (topology_) {
        topology_->stop();
    }
    return drained;
}

bool pool::is_closed() const noexcept {
    return state_->is_closed();
}

pool_metrics pool::metrics() const {
    auto m = state_->metrics();
    if (topology_) {
        topology_->fill(m);
    }
    return m;
}

const pool_options& pool::options() const noexcept {
    return state_->options();
}

}  // namespace pgkit
