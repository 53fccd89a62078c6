#include "pgkit/transaction.hpp"

#include "pgkit/pool.hpp"

#include <fmt/format.h>

#include <thread>
#include <utility>

namespace pgkit {

std::string begin_statement(const transaction_options& options) {
    std::string sql = "BEGIN";
    const char* separator = " ";
    if (options.isolation) {
        switch (*options.isolation) {
            case isolation_level::read_committed:
                sql += " ISOLATION LEVEL READ COMMITTED";
                break;
            case isolation_level::repeatable_read:
                sql += " ISOLATION LEVEL REPEATABLE READ";
                break;
            case isolation_level::serializable:
                sql += " ISOLATION LEVEL SERIALIZABLE";
                break;
        }
        separator = ", ";
    }
    if (options.read_only) {
        sql += separator;
        sql += "READ ONLY";
        separator = ", ";
    }
    if (options.deferrable) {
        sql += separator;
        sql += "DEFERRABLE";
    }
    return sql;
}

// ---- transaction ------------------------------------------------------------------------------

result<query_result> transaction::execute_params(std::string_view sql, const parameters& params) {
    return (*lease_)->execute_params(sql, params);
}

result<query_result> transaction::execute_script(std::string_view sql) {
    return (*lease_)->execute_script(sql);
}

result<query_result> transaction::execute_cached_params(std::string_view sql,
                                                        const parameters& params,
                                                        binary_rows_filter binary) {
    return lease_->execute_cached_params(sql, params, binary);
}

result<pipeline> transaction::start_pipeline(const pipeline_options& options) {
    return lease_->start_pipeline(options);
}

result<std::string> transaction::open_savepoint() {
    auto name = connection::quote_identifier(fmt::format("pgkit_savepoint_{}", ++savepoints_));
    if (!name) {
        return name;
    }
    auto opened = (*lease_)->execute_script("SAVEPOINT " + *name);
    if (!opened) {
        return tl::unexpected(std::move(opened).error());
    }
    return name;
}

result<void> transaction::close_savepoint(const std::string& name,
                                          const std::optional<error>& failure) {
    connection& conn = lease_->get();
    if (failure) {
        if (failure->is_retryable() || failure->poisons_connection() || conn.is_poisoned() ||
            !conn.is_open()) {
            // The whole attempt is lost (or the connection is): the error goes up unchanged for
            // with_transaction to roll back and, when it may, run everything again.
            return {};
        }
        auto rolled = conn.execute_script(
            fmt::format("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}", name));
        if (!rolled) {
            return tl::unexpected(std::move(rolled).error().with_context(
                fmt::format("rolling back to the savepoint after {}", failure->to_string())));
        }
        return {};
    }
    if (conn.status() == transaction_status::in_failed_transaction) {
        return make_error(errc::transaction_aborted,
                          "the savepoint's function succeeded but ignored an error (the "
                          "transaction is failed); the transaction cannot go on");
    }
    auto released = conn.execute_script("RELEASE SAVEPOINT " + name);
    if (!released) {
        return tl::unexpected(std::move(released).error());
    }
    return {};
}

connection& transaction::conn() noexcept {
    return lease_->get();
}

// ---- pool::with_transaction -------------------------------------------------------------------

result<void> pool::run_transaction(detail::transaction_body body,
                                   const transaction_options& options,
                                   std::source_location where) {
    if (auto valid = options.retry.validate(); !valid) {
        return valid;
    }
    const std::string begin = begin_statement(options);
    for (std::uint32_t attempt = 1;; ++attempt) {
        const bool last = attempt >= options.retry.max_attempts;
        std::optional<error> failure;
        {
            auto leased = options.read_only
                              ? acquire_read(read_options{.after = options.read_after}, where)
                              : acquire(where);
            if (!leased) {
                return tl::unexpected(std::move(leased).error());
            }
            transaction tx{*leased, attempt};
            (*leased)->begin_with_next_statement(begin);
            if (auto done = body(tx); !done) {
                failure = std::move(done).error();
            } else if ((*leased)->status() == transaction_status::in_failed_transaction) {
                failure =
                    error{errc::transaction_aborted,
                          "the transaction failed earlier (an error was ignored); rolled back"};
            } else if ((*leased)->drop_pending_begin()) {
                return {};  // the function ran no statement: nothing was begun
            } else if (auto committed = tx.execute_script("COMMIT"); !committed) {
                failure = std::move(committed).error();
                if (failure->code() == errc::connection_lost) {
                    // COMMIT was sent (or may have been): the server may have committed before the
                    // connection dropped. Never retried, and the caller must be told.
                    error unknown{errc::commit_unknown,
                                  "the connection was lost during COMMIT; the transaction may or "
                                  "may not have committed: " +
                                      failure->message()};
                    unknown.with_sqlstate(failure->sqlstate()).with_in_transaction(true);
                    failure = std::move(unknown);
                }
            } else {
                return {};
            }
            // The lease rolls back on return whatever is still open (and closes the connection
            // if that fails), so an early return or an exception from body cannot leak a
            // transaction.
            (*leased)->drop_pending_begin();
            if ((*leased)->is_open() && (*leased)->status() != transaction_status::idle) {
                if (auto rolled = (*leased)->execute_script("ROLLBACK"); !rolled) {
                    leased->mark_broken();
                }
            }
        }
        if (last || !failure->is_retryable()) {
            return tl::unexpected(std::move(*failure));
        }
        std::this_thread::sleep_for(options.retry.backoff(attempt));
    }
}

}  // namespace pgkit
