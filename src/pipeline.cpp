#include "pgkit/pipeline.hpp"

#include "pgkit/statement_cache.hpp"

#include "driver/pq_session.hpp"
#include "sql/statement_kind.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

namespace pgkit {

/// One message of the pipeline, as added.
struct pipeline::item {
    enum class kind : std::uint8_t { statement, prepare, deallocate, sync };
    kind what = kind::statement;
    bool keep = false;       ///< its result is for next()
    std::size_t number = 0;  ///< the statement's place among those added (1-based)
    std::string text;        ///< SQL (a statement without a name, a prepare, a DEALLOCATE)
    std::string name;        ///< the prepared statement's name, when it has one
    parameters params;
};

struct pipeline::state {
    pipeline_options options;
    /// Added, not yet given to libpq: while something waits to go ahead of the next statement
    /// (a BEGIN, the session check), the first segment is held so that it can travel with it.
    std::deque<item> held;
    /// Given to libpq, not yet read.
    std::deque<item> in_flight;
    std::size_t statements_in_flight = 0;
    /// Results of statements added with add(), read and not yet returned by next().
    std::deque<result<query_result>> ready;
    /// The first failure of a statement whose result nobody reads.
    std::optional<error> first_failure;
    /// A prepare of the cache that failed: the error of the statement that runs it.
    std::optional<error> failed_prepare;
    std::optional<error> broken;  ///< the session was lost: every later statement fails so
    bool in_pipeline_mode = false;
    bool unflushed = false;  ///< given to libpq since the last wait for results
    bool last_given_is_sync = false;
    bool ended_with_sync = true;  ///< nothing added since the last sync point
    bool in_transaction = false;  ///< for the errors' in_transaction flag
    bool finished = false;
    std::optional<error> outcome;  ///< finish()'s, once finished
};

namespace {

error with_statement_number(error e, std::size_t number) {
    e.with_context(fmt::format("statement {} of the pipeline", number));
    return e;
}

}  // namespace

// ---- opening ----------------------------------------------------------------------------------

pipeline::pipeline(connection& conn,
                   statement_cache* cache,
                   const pipeline_options& options) noexcept
    : conn_(&conn), cache_(cache), state_(std::make_unique<state>()) {
    state_->options = options;
    state_->options.max_in_flight = std::max<std::size_t>(options.max_in_flight, 1);
    state_->in_transaction = conn.status() != transaction_status::idle;
    conn.pipeline_open_ = true;
}

pipeline::pipeline(pipeline&& other) noexcept
    : conn_(std::exchange(other.conn_, nullptr)),
      cache_(other.cache_),
      state_(std::move(other.state_)),
      added_(other.added_),
      unread_(other.unread_) {}

pipeline& pipeline::operator=(pipeline&& other) noexcept {
    if (this != &other) {
        if (state_) {
            (void)finish();
        }
        conn_ = std::exchange(other.conn_, nullptr);
        cache_ = other.cache_;
        state_ = std::move(other.state_);
        added_ = other.added_;
        unread_ = other.unread_;
    }
    return *this;
}

pipeline::~pipeline() {
    if (state_) {
        (void)finish();
    }
}

result<pipeline> connection::start_pipeline() {
    return start_pipeline(pipeline_options{});
}

result<pipeline> connection::start_pipeline(const pipeline_options& options) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    const auto now = status();
    if (now != transaction_status::idle && now != transaction_status::in_transaction &&
        now != transaction_status::in_failed_transaction) {
        return make_error(errc::busy, "the connection is running something else (a COPY?)");
    }
    return pipeline{*this, nullptr, options};
}

// ---- adding -----------------------------------------------------------------------------------

result<void> pipeline::add_statement(std::string_view sql,
                                     const parameters& params,
                                     bool keep,
                                     bool cached) {
    if (!state_ || state_->finished) {
        return make_error(errc::invalid_argument, "the pipeline has ended");
    }
    if (state_->broken) {
        return tl::unexpected(*state_->broken);
    }
    if (const auto& failure = params.encoding_error()) {
        return tl::unexpected(*failure);
    }
    if (sql.find('\0') != std::string_view::npos) {
        return make_error(errc::invalid_argument, "SQL text contains a NUL byte");
    }
    if (auto allowed = conn_->check_session_effects(sql); !allowed) {
        return allowed;
    }
    conn_->note_statement(sql);
    const std::size_t number = added_ + 1;
    item statement{item::kind::statement, keep, number, std::string{sql}, {}, params};
    std::optional<statement_cache::pipeline_use> use;
    if (cached && cache_ != nullptr &&
        conn_->status() != transaction_status::in_failed_transaction) {
        use = cache_->use_in_pipeline(sql);
    }
    if (use) {
        if (!use->evict.empty()) {
            auto quoted = connection::quote_identifier(use->evict);
            if (quoted) {
                auto evict = queue(
                    item{item::kind::deallocate, false, number, "DEALLOCATE " + *quoted, {}, {}});
                if (!evict) {
                    return evict;
                }
            }
        }
        if (use->prepare) {
            conn_->note_prepare(use->name, use->text);
            auto prepared = queue(
                item{item::kind::prepare, false, number, std::move(use->text), use->name, {}});
            if (!prepared) {
                return prepared;
            }
        }
        conn_->note_prepared_execution(use->name);
        statement.name = std::move(use->name);
        for (int i = 0; i < use->extra_parameters; ++i) {
            statement.params.add(std::string_view{"0"});
        }
    }
    ++added_;
    if (keep) {
        ++unread_;
    }
    state_->ended_with_sync = false;
    return queue(std::move(statement));
}

result<void> pipeline::sync() {
    if (!state_ || state_->finished) {
        return make_error(errc::invalid_argument, "the pipeline has ended");
    }
    if (state_->ended_with_sync) {
        return {};  // an empty segment would change nothing
    }
    state_->ended_with_sync = true;
    return queue(item{item::kind::sync, false, 0, {}, {}, {}});
}

// ---- sending ----------------------------------------------------------------------------------

namespace {

/// True when `entry` can share a pipeline segment with the statements pgkit sends ahead of it.
bool joins_segment(const detail::pq_session& session,
                   std::string_view text,
                   bool is_statement,
                   bool& begins) {
    begins = false;
    if (!is_statement) {
        return true;  // a prepare, or a DEALLOCATE of the cache
    }
    const auto kind = detail::sql::kind_of_statement(text, session.lexer_options());
    begins = kind == detail::sql::statement_kind::begin;
    return kind != detail::sql::statement_kind::other;
}

/// Why the session stopped answering: the connection's error when libpq has one (it was lost),
/// else `otherwise` (libpq refused for a reason of its own).
error lost_session(detail::pq_session& session, bool in_transaction, std::string_view otherwise) {
    auto lost = session.pipeline_result({nullptr, nullptr}, in_transaction);
    return lost ? error{errc::internal, std::string{otherwise}} : std::move(lost).error();
}

}  // namespace

int pipeline::give(const item& entry) {
    detail::pq_session& session = *conn_->session_;
    switch (entry.what) {
        case item::kind::statement:
            return entry.name.empty() ? session.queue_params(entry.text.c_str(), entry.params)
                                      : session.queue_prepared(entry.name.c_str(), entry.params);
        case item::kind::prepare:
            return session.queue_prepare(entry.name.c_str(), entry.text.c_str());
        case item::kind::deallocate:
            return session.queue_params(entry.text.c_str(), parameters{});
        case item::kind::sync:
            return session.queue_sync();
    }
    return 0;
}

result<void> pipeline::queue(item entry) {
    state& s = *state_;
    if (s.broken) {
        return tl::unexpected(*s.broken);
    }
    s.held.push_back(std::move(entry));
    if (!s.in_pipeline_mode && conn_->session_->prelude_pending() &&
        s.held.size() < s.options.max_in_flight) {
        return {};  // held, to travel with what waits to go ahead of it
    }
    return send_held();
}

result<void> pipeline::send_first_segment() {
    state& s = *state_;
    detail::pq_session& session = *conn_->session_;
    const auto end = std::find_if(s.held.begin(), s.held.end(),
                                  [](const item& e) { return e.what == item::kind::sync; });
    // A BEGIN of the caller's own would put the check's resets inside a transaction that a
    // later segment of the pipeline may roll back, with statements after it already sent: the
    // check goes alone first then, and commits by itself. (pgkit's own BEGIN, that of
    // with_transaction, goes ahead of the check: that transaction is never rolled back within
    // the pipeline.)
    bool joinable = end != s.held.end() && end != s.held.begin();
    for (auto it = s.held.begin(); joinable && it != end; ++it) {
        bool begins = false;
        joinable =
            joins_segment(session, it->text, it->what == item::kind::statement, begins) && !begins;
    }
    if (!joinable) {
        // Sent alone: one more round trip, before anything of the pipeline.
        if (auto ahead = session.send_prelude_alone(); !ahead) {
            fail_everything(ahead.error());
            return tl::unexpected(std::move(ahead).error());
        }
        return {};
    }
    std::vector<detail::pq_session::sender> senders;
    senders.reserve(static_cast<std::size_t>(end - s.held.begin()));
    for (auto it = s.held.begin(); it != end; ++it) {
        senders.emplace_back([this, &entry = *it] { return give(entry); });
    }
    const bool in_transaction = session.in_transaction_block();
    auto results = session.send_segment(senders, false);
    const auto count = static_cast<std::size_t>(end - s.held.begin());
    for (std::size_t i = 0; i < count; ++i) {
        item& entry = s.held[i];
        if (!results) {
            deliver(entry, tl::unexpected(results.error()));
        } else {
            deliver(entry, detail::to_query_result(
                               session.pipeline_result(std::move((*results)[i]), in_transaction)));
        }
    }
    s.held.erase(s.held.begin(), s.held.begin() + static_cast<std::ptrdiff_t>(count) + 1);
    s.in_transaction = session.in_transaction_block();
    if (!results && results.error().poisons_connection()) {
        fail_everything(results.error());
        return tl::unexpected(std::move(results).error());
    }
    return {};
}

result<void> pipeline::send_held() {
    state& s = *state_;
    detail::pq_session& session = *conn_->session_;
    while (!s.held.empty()) {
        if (!s.in_pipeline_mode && session.prelude_pending()) {
            if (auto sent = send_first_segment(); !sent) {
                return sent;
            }
            continue;
        }
        if (!s.in_pipeline_mode) {
            if (auto entered = session.enter_pipeline(); !entered) {
                fail_everything(entered.error());
                return entered;
            }
            s.in_pipeline_mode = true;
        }
        item& entry = s.held.front();
        if (give(entry) != 1) {
            error e =
                lost_session(session, s.in_transaction, "cannot queue a statement in the pipeline");
            fail_everything(e);
            return tl::unexpected(std::move(e));
        }
        s.unflushed = true;
        s.last_given_is_sync = entry.what == item::kind::sync;
        if (entry.what == item::kind::statement) {
            ++s.statements_in_flight;
        }
        s.in_flight.push_back(std::move(entry));
        s.held.pop_front();
        if (s.statements_in_flight >= s.options.max_in_flight) {
            // The window is full: read its older half in one wait, so that a long pipeline
            // takes one round trip per half window, not one per statement.
            const std::size_t keep_in_flight = s.options.max_in_flight / 2;
            while (s.statements_in_flight > keep_in_flight) {
                if (auto read = read_one(); !read) {
                    return read;
                }
            }
        }
    }
    return {};
}

// ---- reading ----------------------------------------------------------------------------------

result<void> pipeline::read_one() {
    state& s = *state_;
    detail::pq_session& session = *conn_->session_;
    if (s.unflushed) {
        if (auto flushed = session.flush_pipeline(!s.last_given_is_sync); !flushed) {
            fail_everything(flushed.error());
            return flushed;
        }
        s.unflushed = false;
    }
    item entry = std::move(s.in_flight.front());
    s.in_flight.pop_front();
    if (entry.what == item::kind::sync) {
        if (!session.read_pipeline_sync()) {
            error e = lost_session(session, s.in_transaction, "the pipeline lost its sync point");
            fail_everything(e);
            return tl::unexpected(std::move(e));
        }
        return {};
    }
    if (entry.what == item::kind::statement) {
        --s.statements_in_flight;
    }
    auto outcome = detail::to_query_result(
        session.pipeline_result(session.read_pipeline_statement(), s.in_transaction));
    const bool lost = !outcome && outcome.error().poisons_connection();
    std::optional<error> failure;
    if (lost) {
        failure = outcome.error();
    }
    deliver(entry, std::move(outcome));
    if (failure) {
        fail_everything(*failure);
        return tl::unexpected(std::move(*failure));
    }
    return {};
}

void pipeline::deliver(item& entry, result<query_result> outcome) {
    state& s = *state_;
    switch (entry.what) {
        case item::kind::sync:
        case item::kind::deallocate:
            return;  // a DEALLOCATE of the cache is best effort, as outside pipelines
        case item::kind::prepare:
            if (!outcome) {
                if (cache_ != nullptr) {
                    cache_->forget_name(entry.name);
                }
                s.failed_prepare = std::move(outcome).error();
            }
            return;
        case item::kind::statement:
            break;
    }
    if (!outcome) {
        if (!entry.name.empty()) {
            if (s.failed_prepare && outcome.error().code() != errc::connection_lost) {
                outcome = tl::unexpected(*s.failed_prepare);  // why it does not exist
            } else if (outcome.error().sqlstate() == "26000" && cache_ != nullptr) {
                cache_->forget_name(entry.name);  // deallocated behind the cache's back
            }
        }
        outcome = tl::unexpected(with_statement_number(std::move(outcome).error(), entry.number));
    }
    if (!entry.name.empty()) {
        s.failed_prepare.reset();
    }
    if (entry.keep) {
        s.ready.push_back(std::move(outcome));
    } else if (!outcome && !s.first_failure) {
        s.first_failure = std::move(outcome).error();
    }
}

void pipeline::fail_everything(const error& e) {
    state& s = *state_;
    s.broken = e;
    for (auto* queue : {&s.in_flight, &s.held}) {
        for (item& entry : *queue) {
            deliver(entry, tl::unexpected(e));
        }
        queue->clear();
    }
    s.statements_in_flight = 0;
    s.unflushed = false;
}

result<query_result> pipeline::next() {
    if (!state_) {
        return make_error(errc::invalid_argument, "the pipeline is empty (moved from)");
    }
    state& s = *state_;
    if (s.ready.empty() && unread_ > 0 && !s.finished) {
        // Reading ends the segment, as sync() does.
        if (auto synced = sync(); !synced && !s.broken) {
            return tl::unexpected(std::move(synced).error());
        }
        (void)send_held();
        while (s.ready.empty() && !s.in_flight.empty()) {
            if (auto read = read_one(); !read) {
                break;  // every statement now has its result (the error)
            }
        }
    }
    if (s.ready.empty()) {
        return make_error(errc::invalid_argument,
                          "no result left to read: every statement added with add() was read");
    }
    auto outcome = std::move(s.ready.front());
    s.ready.pop_front();
    --unread_;
    return outcome;
}

result<void> pipeline::finish() {
    if (!state_) {
        return {};
    }
    state& s = *state_;
    if (!s.finished) {
        (void)sync();
        (void)send_held();
        while (!s.in_flight.empty()) {
            if (auto read = read_one(); !read) {
                break;
            }
        }
        if (s.in_pipeline_mode && !s.broken) {
            if (auto left = conn_->session_->exit_pipeline(); !left) {
                s.broken = left.error();
            }
        }
        s.in_pipeline_mode = false;
        for (auto& unread : s.ready) {
            if (!unread && !s.first_failure) {
                s.first_failure = unread.error();
            }
        }
        s.ready.clear();
        unread_ = 0;
        s.finished = true;
        s.outcome = s.first_failure ? s.first_failure : s.broken;
        conn_->pipeline_open_ = false;
    }
    if (s.outcome) {
        return tl::unexpected(*s.outcome);
    }
    return {};
}

}  // namespace pgkit
