#include "driver/session_check.hpp"

#include "driver/pq_session.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <array>
#include <cstdint>
#include <random>
#include <utility>

namespace pgkit::detail {
namespace {

std::mt19937_64& entropy() {
    thread_local std::mt19937_64 engine = [] {
        std::random_device device;
        std::seed_seq seeds{device(), device(), device(), device()};
        return std::mt19937_64{seeds};
    }();
    return engine;
}

bool succeeded(const PGresult* res) noexcept {
    if (res == nullptr) {
        return false;
    }
    const ExecStatusType state = PQresultStatus(res);
    return state == PGRES_COMMAND_OK || state == PGRES_TUPLES_OK || state == PGRES_EMPTY_QUERY;
}

std::string_view sqlstate_of(const PGresult* res) noexcept {
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    return state != nullptr ? std::string_view{state} : std::string_view{};
}

/// Frees a result when it goes out of scope.
struct result_guard {
    PGresult* res = nullptr;
    result_guard() = default;
    explicit result_guard(PGresult* r) noexcept : res(r) {}
    result_guard(const result_guard&) = delete;
    result_guard& operator=(const result_guard&) = delete;
    ~result_guard() { PQclear(res); }
    PGresult* release() noexcept { return std::exchange(res, nullptr); }
};

}  // namespace

double fresh_random_seed() {
    std::uniform_real_distribution<double> seed{-1.0, 1.0};
    return seed(entropy());
}

std::string with_fresh_seed(std::string_view script) {
    return fmt::format("{}; SELECT pg_catalog.setseed({:.17g})", script, fresh_random_seed());
}

// ---- pq_session: sending the check ------------------------------------------------------------

result<shared_result> pq_session::send_after_check(sql::statement_kind kind,
                                                   const std::function<int()>& send,
                                                   bool was_in_transaction) {
    std::shared_ptr<const session_check_sql> check = std::move(pending_check_);
    pending_check_.reset();
    const bool along = kind != sql::statement_kind::other;
    const bool begins = kind == sql::statement_kind::begin;
    auto outcome = run_check(*check, along ? &send : nullptr, begins);
    if (!outcome) {
        return tl::unexpected(std::move(outcome).error());
    }
    if (outcome->passed) {
        if (along && !succeeded(outcome->statement)) {
            // The statement failed, and its transaction took the resets with it.
            pending_check_ = std::move(check);
            return take_result(outcome->statement, was_in_transaction);
        }
        if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
            unconfirmed_check_ = std::move(check);  // the resets commit with the transaction
        }
        if (!along) {
            return collect(send(), was_in_transaction);
        }
        return take_result(outcome->statement, was_in_transaction);
    }
    if (begins && !succeeded(outcome->statement)) {
        // The BEGIN itself failed, so nothing after it ran: the caller gets the BEGIN's error,
        // and the next statement carries the check.
        pending_check_ = std::move(check);
        return take_result(outcome->statement, was_in_transaction);
    }
    PQclear(outcome->statement);
    if (auto cleared = full_reset(*check); !cleared) {
        return tl::unexpected(std::move(cleared).error());
    }
    return collect(send(), was_in_transaction);
}

void pq_session::confirm_check(const pg_result* res) noexcept {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        return;  // the transaction holding the check's resets is still open
    }
    const bool committed = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK &&
                           std::string_view{PQcmdStatus(const_cast<pg_result*>(res))} == "COMMIT";
    if (!committed && !pending_check_) {
        pending_check_ = unconfirmed_check_;  // rolled back: the resets are undone
    }
    unconfirmed_check_.reset();
}

result<pq_session::check_outcome> pq_session::run_check(const session_check_sql& sql,
                                                        const std::function<int()>* send,
                                                        bool statement_begins_transaction) {
    auto out_of_step = [this](std::string_view what) {
        poisoned_ = true;  // pipeline state unknown: the session cannot be trusted again
        return tl::unexpected(connection_error(what, false));
    };
    if (PQenterPipelineMode(conn_) != 1) {
        return out_of_step("cannot enter pipeline mode for the session check");
    }
    const std::string seed = fmt::format("{:.17g}", fresh_random_seed());
    const bool statement_first = send != nullptr && statement_begins_transaction;
    const bool statement_last = send != nullptr && !statement_begins_transaction;
    const bool prepare = !check_prepared_;

    // One segment: [BEGIN] [prepares] resets [restore] guard [statement], then the sync point.
    bool sent = true;
    if (statement_first) {
        sent = sent && (*send)() == 1;
    }
    if (prepare) {
        for (const check_statement& reset : session_check_resets) {
            sent = sent && PQsendPrepare(conn_, reset.name, reset.sql, 0, nullptr) == 1;
        }
        sent = sent && PQsendPrepare(conn_, session_guard_name, session_guard_sql, 1, nullptr) == 1;
    }
    for (const check_statement& reset : session_check_resets) {
        sent = sent && PQsendQueryPrepared(conn_, reset.name, 0, nullptr, nullptr, nullptr, 0) == 1;
    }
    if (!sql.restore.empty()) {
        sent = sent && PQsendQueryParams(conn_, sql.restore.c_str(), 0, nullptr, nullptr, nullptr,
                                         nullptr, 0) == 1;
    }
    const char* values[1] = {seed.c_str()};
    sent =
        sent && PQsendQueryPrepared(conn_, session_guard_name, 1, values, nullptr, nullptr, 0) == 1;
    if (statement_last) {
        sent = sent && (*send)() == 1;
    }
    sent = sent && PQpipelineSync(conn_) == 1;
    if (!sent) {
        return out_of_step("cannot send the session check");
    }
    ++round_trips_;

    check_outcome outcome;
    result_guard statement;
    if (statement_first) {
        statement.res = read_command();
    }
    if (prepare) {
        bool prepared = true;
        for (std::size_t i = 0; i < session_check_resets.size() + 1; ++i) {
            result_guard done{read_command()};
            prepared = prepared && (succeeded(done.res) || sqlstate_of(done.res) == "42P05");
        }
        check_prepared_ = prepared;
    }
    bool done = true;
    bool missing = false;  // a check statement deallocated behind the cache's back
    const std::size_t executed = session_check_resets.size() + (sql.restore.empty() ? 0 : 1) + 1;
    for (std::size_t i = 0; i < executed; ++i) {
        result_guard ran{read_command()};
        done = done && succeeded(ran.res);
        missing = missing || sqlstate_of(ran.res) == "26000";
    }
    outcome.passed = done;
    if (missing) {
        check_prepared_ = false;  // DEALLOCATE ALL: prepared again next time
    }
    remember_reported_settings();  // the session's settings as the resets left them
    if (statement_last) {
        statement.res = read_command();
    }
    result_guard sync{PQgetResult(conn_)};
    if (sync.res == nullptr || PQresultStatus(sync.res) != PGRES_PIPELINE_SYNC ||
        PQexitPipelineMode(conn_) != 1) {
        return out_of_step("the session check lost its sync point");
    }
    outcome.statement = statement.release();
    return outcome;
}

result<void> pq_session::full_reset(const session_check_sql& sql) {
    std::string script = with_fresh_seed(sql.full_reset);
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        script.insert(0, "ROLLBACK; ");  // the transaction of a BEGIN whose check failed
    }
    auto reset = collect(PQsendQuery(conn_, script.c_str()), false);
    if (!reset || PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        poisoned_ = true;  // neither checked nor reset: no statement may run on it
        if (!reset) {
            return tl::unexpected(std::move(reset).error());
        }
        return make_error(errc::internal, "the session's reset left a transaction open");
    }
    remember_reported_settings();
    return {};
}

}  // namespace pgkit::detail
