#pragma once

/// Several statements in one round trip (libpq's pipeline mode; docs/pipeline.md).
///
/// ```cpp
/// auto p = lease->start_pipeline().value();          // or a transaction's, or a connection's
/// (void)p.add_cached("SELECT title FROM clips WHERE id = $1", clip_id);
/// (void)p.add_cached("SELECT name FROM users WHERE id = $1", author_id);
/// (void)p.add("SELECT count(*) FROM likes WHERE clip_id = $1", clip_id);
/// auto clip = p.next();     // the first flush sends all three; results come back in order
/// auto author = p.next();
/// auto likes = p.next();
/// if (auto done = p.finish(); !done) { ... }
/// ```
///
/// Semantics, as libpq's pipeline mode has them:
/// - Statements run in the order added. Up to a sync point (sync(); next() and finish() end the
///   segment too) they form one segment, which runs as one implicit transaction when no transaction
///   block is open: when a statement fails, every later statement of its segment is not run (its
///   result is transaction_aborted) and the segment's earlier writes roll back. The next segment
///   runs normally. Inside a transaction block (BEGIN in the pipeline, or a pipeline of a
///   transaction) a failure aborts the transaction as any failed statement does.
/// - Each statement is one statement in the extended protocol: no scripts, no COPY; utility
///   statements that refuse to run in a transaction block (VACUUM, CREATE DATABASE, ...) fail.
/// - Memory stays bounded: at most pipeline_options::max_in_flight statements are sent and
///   unread; adding more first reads the oldest results (kept for next() when added with add(),
///   only checked when added with add_command()).
/// - While a pipeline is open its connection runs nothing else (busy); finish() or destruction
///   ends it. A connection lost midway fails every unread statement with connection_lost and
///   leaves the connection poisoned, so a pool discards it.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/value_traits.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace pgkit {

class statement_cache;

struct pipeline_options {
    /// Statements sent and not yet read, at most (at least 1).
    std::size_t max_in_flight = 1000;
};

/// A pipeline open on one connection. Move-only; use from one thread at a time; it must not
/// outlive the connection, lease or transaction it was opened on.
class pipeline {
  public:
    pipeline(pipeline&& other) noexcept;
    pipeline& operator=(pipeline&& other) noexcept;
    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;
    /// finish(), its outcome dropped.
    ~pipeline();

    /// Adds a statement whose result next() returns. Fails at once (nothing added) when a value
    /// does not encode, the text holds a NUL byte, or the pipeline has ended.
    template <sql_parameter... Args>
    [[nodiscard]] result<void> add(std::string_view sql, const Args&... args) {
        return add_statement(sql, parameters{args...}, true, false);
    }
    [[nodiscard]] result<void> add_params(std::string_view sql, const parameters& params) {
        return add_statement(sql, params, true, false);
    }
    /// The same through the statement cache of the lease or transaction the pipeline belongs to
    /// (prepared within the pipeline the first time; see statement_cache.hpp). A connection's
    /// own pipeline has no cache and runs it unprepared.
    template <sql_parameter... Args>
    [[nodiscard]] result<void> add_cached(std::string_view sql, const Args&... args) {
        return add_statement(sql, parameters{args...}, true, true);
    }
    [[nodiscard]] result<void> add_cached_params(std::string_view sql, const parameters& params) {
        return add_statement(sql, params, true, true);
    }
    /// Adds a statement whose result is only checked (an INSERT, an UPDATE): nothing is kept, and
    /// finish() reports the first failure. next() skips it. Prepared through the cache, as
    /// add_cached.
    template <sql_parameter... Args>
    [[nodiscard]] result<void> add_command(std::string_view sql, const Args&... args) {
        return add_statement(sql, parameters{args...}, false, true);
    }
    [[nodiscard]] result<void> add_command_params(std::string_view sql, const parameters& params) {
        return add_statement(sql, params, false, true);
    }

    /// Ends the segment: statements after it run whatever became of those before it.
    [[nodiscard]] result<void> sync();

    /// The result of the next statement added with add() or add_cached(), in order: sends what
    /// is queued (one round trip) and waits for it. Its own error, transaction_aborted when an
    /// earlier statement of its segment failed, connection_lost when the session dropped; an
    /// error with code invalid_argument when no statement is left to read.
    [[nodiscard]] result<query_result> next();

    /// Adds the last sync point, reads every result not yet read (dropping them) and ends the
    /// pipeline. The first failure among statements added with add_command() and results never
    /// read with next(), or nothing. Idempotent.
    [[nodiscard]] result<void> finish();

    /// Statements added so far.
    [[nodiscard]] std::size_t added() const noexcept { return added_; }
    /// Results next() can still return.
    [[nodiscard]] std::size_t unread() const noexcept { return unread_; }

  private:
    friend class connection;
    friend class lease;
    friend class transaction;
    pipeline(connection& conn, statement_cache* cache, const pipeline_options& options) noexcept;

    struct item;
    struct state;

    [[nodiscard]] result<void> add_statement(std::string_view sql,
                                             const parameters& params,
                                             bool keep,
                                             bool cached);
    /// Adds a message: held while something waits to go ahead of the first segment, else given
    /// to libpq.
    [[nodiscard]] result<void> queue(item entry);
    /// Gives the held messages to libpq; the first segment travels with what waits to go ahead.
    [[nodiscard]] result<void> send_held();
    [[nodiscard]] result<void> send_first_segment();
    /// Makes the libpq call that queues `entry`; 1 when queued.
    [[nodiscard]] int give(const item& entry);
    /// Reads the oldest message's result (flushing first when needed).
    [[nodiscard]] result<void> read_one();
    void deliver(item& entry, result<query_result> outcome);
    /// The session was lost: every message not yet read gets `e`.
    void fail_everything(const error& e);

    connection* conn_ = nullptr;
    statement_cache* cache_ = nullptr;
    std::unique_ptr<state> state_;
    std::size_t added_ = 0;
    std::size_t unread_ = 0;
};

}  // namespace pgkit
