#include "pgkit/transaction.hpp"

#include "pgkit/pool.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

namespace pgkit {
namespace {

/// Serialization failures and deadlocks anywhere; a lost connection only before COMMIT was
/// sent (the server rolled the transaction back with the session).
bool worth_retrying(const error& e, bool during_commit) noexcept {
    switch (e.code()) {
        case errc::serialization_failure:
        case errc::deadlock_detected:
            return true;
        case errc::connection_lost:
            return !during_commit;
        default:
            return false;
    }
}

std::chrono::milliseconds backoff_for(const retry_policy& policy, std::uint32_t attempt) {
    using std::chrono::milliseconds;
    const auto exponent = std::min<std::uint32_t>(attempt - 1, 30);
    const double uncapped =
        static_cast<double>(policy.initial_backoff.count()) * static_cast<double>(1U << exponent);
    const auto cap = static_cast<double>(policy.max_backoff.count());
    const double bound = std::min(uncapped, cap);
    if (bound <= 0) {
        return milliseconds{0};
    }
    thread_local std::mt19937_64 engine{std::random_device{}()};
    std::uniform_real_distribution<double> pick{bound / 2, bound};
    return milliseconds{static_cast<milliseconds::rep>(pick(engine))};
}

}  // namespace

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

namespace {
result<query_result> note_poison(lease& leased, result<query_result> outcome) {
    if (!outcome && outcome.error().poisons_connection()) {
        leased.mark_broken();
    }
    return outcome;
}
}  // namespace

result<query_result> transaction::execute_params(std::string_view sql, const parameters& params) {
    return note_poison(*lease_, (*lease_)->execute_params(sql, params));
}

result<query_result> transaction::execute_script(std::string_view sql) {
    return note_poison(*lease_, (*lease_)->execute_script(sql));
}

result<query_result> transaction::execute_cached_params(std::string_view sql,
                                                        const parameters& params) {
    return lease_->execute_cached_params(sql, params);
}

connection& transaction::conn() noexcept {
    return lease_->get();
}

// ---- pool::with_transaction -------------------------------------------------------------------

result<void> pool::run_transaction(detail::transaction_body body,
                                   const transaction_options& options,
                                   std::source_location where) {
    if (options.retry.max_attempts == 0) {
        return make_error(errc::invalid_argument, "retry.max_attempts must be at least 1");
    }
    if (options.retry.initial_backoff.count() < 0 || options.retry.max_backoff.count() < 0) {
        return make_error(errc::invalid_argument, "retry backoffs must not be negative");
    }
    const std::string begin = begin_statement(options);
    for (std::uint32_t attempt = 1;; ++attempt) {
        const bool last = attempt >= options.retry.max_attempts;
        std::optional<error> failure;
        bool during_commit = false;
        {
            auto leased = acquire(where);
            if (!leased) {
                return tl::unexpected(std::move(leased).error());
            }
            transaction tx{*leased, attempt};
            if (auto begun = tx.execute_script(begin); !begun) {
                failure = std::move(begun).error();
            } else if (auto done = body(tx); !done) {
                failure = std::move(done).error();
            } else if ((*leased)->status() == transaction_status::in_failed_transaction) {
                failure =
                    error{errc::transaction_aborted,
                          "the transaction failed earlier (an error was ignored); rolled back"};
            } else {
                during_commit = true;
                if (auto committed = tx.execute_script("COMMIT"); !committed) {
                    failure = std::move(committed).error();
                } else {
                    return {};
                }
            }
            // The lease rolls back on return whatever is still open (and closes the connection
            // if that fails), so an early return or an exception from body cannot leak a
            // transaction.
            if ((*leased)->is_open() && (*leased)->status() != transaction_status::idle) {
                if (auto rolled = (*leased)->execute_script("ROLLBACK"); !rolled) {
                    leased->mark_broken();
                }
            }
        }
        if (last || !worth_retrying(*failure, during_commit)) {
            return tl::unexpected(std::move(*failure));
        }
        std::this_thread::sleep_for(backoff_for(options.retry, attempt));
    }
}

}  // namespace pgkit
