#include "driver/session_check.hpp"

#include "driver/pq_session.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
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

void write_fresh_seed(char (&text)[fresh_seed_chars]) {
    // The sign from the top bit, 17 digits from the other 63 (their bias below 2^-46): a seed
    // in (-1, 1) written by integer arithmetic, cheaper than the shortest text of a double.
    constexpr std::uint64_t ten_to_17 = 100'000'000'000'000'000;
    const std::uint64_t bits = entropy()();
    std::uint64_t digits = (bits & ~(std::uint64_t{1} << 63)) % ten_to_17;
    char* p = text;
    if ((bits >> 63) != 0) {
        *p++ = '-';
    }
    *p++ = '0';
    *p++ = '.';
    for (int i = 16; i >= 0; --i) {
        p[i] = static_cast<char>('0' + digits % 10);
        digits /= 10;
    }
    p[17] = '\0';
}

std::string with_fresh_seed(std::string_view script) {
    char seed[fresh_seed_chars] = {};
    write_fresh_seed(seed);
    return fmt::format("{}; SELECT pg_catalog.setseed({})", script, seed);
}

// ---- pq_session: sending what goes ahead of a statement ---------------------------------------

result<shared_result> pq_session::send_after_prelude(sql::statement_kind kind,
                                                     const sender& send,
                                                     bool was_in_transaction) {
    if (kind == sql::statement_kind::other) {
        if (auto ahead = send_prelude_alone(); !ahead) {
            return tl::unexpected(std::move(ahead).error());
        }
        return collect(send(), in_transaction_block());
    }
    auto results =
        send_segment(std::span<const sender>{&send, 1}, kind == sql::statement_kind::begin);
    if (!results) {
        return tl::unexpected(std::move(results).error());
    }
    return take_result(results->front().release(), was_in_transaction);
}

result<void> pq_session::send_prelude_alone() {
    auto done = send_segment({}, false);
    if (!done) {
        return tl::unexpected(std::move(done).error());
    }
    return {};
}

result<std::vector<pq_session::owned_result>> pq_session::send_segment(
    std::span<const sender> statements, bool first_begins) {
    if (begin_failed_) {
        error refused{errc::transaction_aborted,
                      "the transaction's BEGIN failed: statements are refused until it ends"};
        refused.with_in_transaction(true);
        return tl::unexpected(std::move(refused));
    }
    std::shared_ptr<const session_check_sql> check = std::move(pending_check_);
    pending_check_.reset();
    const bool was_in_transaction = in_transaction_block();
    const std::string begin = std::exchange(pending_begin_, {});
    auto outcome = run_segment(check.get(), begin, statements, first_begins);
    if (!outcome) {
        return tl::unexpected(std::move(outcome).error());
    }
    if (outcome->begin && !succeeded(outcome->begin.get())) {
        // The BEGIN failed, so nothing after it ran: the caller gets its error, the next
        // statement carries the check, and the transaction counts as failed.
        pending_check_ = std::move(check);
        pending_begin_ = begin;
        begin_failed_ = true;
        auto failed = take_result(outcome->begin.release(), was_in_transaction);
        return tl::unexpected(std::move(failed).error());
    }
    const bool all_succeeded =
        std::all_of(outcome->statements.begin(), outcome->statements.end(),
                    [](const owned_result& res) { return succeeded(res.get()); });
    if (outcome->check_passed) {
        if (check != nullptr) {
            if (!all_succeeded) {
                // A statement failed, and its transaction takes the resets with it.
                pending_check_ = std::move(check);
            } else if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
                unconfirmed_check_ = std::move(check);  // they commit with the transaction
            }
        }
        return std::move(outcome->statements);
    }
    if (first_begins && !statements.empty() && !succeeded(outcome->statements.front().get())) {
        // The caller's own BEGIN failed ahead of the check: nothing else ran.
        pending_check_ = std::move(check);
        return std::move(outcome->statements);
    }
    outcome->statements.clear();
    if (auto cleared = full_reset(*check); !cleared) {
        return tl::unexpected(std::move(cleared).error());
    }
    pending_begin_ = begin;  // rolled back with the failed check: sent again
    return send_segment(statements, first_begins);
}

void pq_session::confirm_check(const pg_result* res) noexcept {
    if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        return;  // the transaction holding the check's resets is still open
    }
    const bool committed = res != nullptr && PQresultStatus(res) == PGRES_COMMAND_OK &&
                           std::string_view{PQcmdStatus(const_cast<pg_result*>(res))} == "COMMIT";
    after_transaction_end(committed);
}

void pq_session::after_transaction_end(bool committed) noexcept {
    if (!unconfirmed_check_ || PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        return;
    }
    if (!committed && !pending_check_) {
        pending_check_ = unconfirmed_check_;  // rolled back: the resets are undone
    }
    unconfirmed_check_.reset();
}

result<pq_session::segment_outcome> pq_session::run_segment(const session_check_sql* check,
                                                            const std::string& begin,
                                                            std::span<const sender> statements,
                                                            bool first_begins) {
    auto out_of_step = [this](std::string_view what) {
        poisoned_ = true;  // pipeline state unknown: the session cannot be trusted again
        return tl::unexpected(connection_error(what, false));
    };
    if (PQenterPipelineMode(conn_) != 1) {
        return out_of_step("cannot enter pipeline mode");
    }
    // The guard's parameter.
    char seed[fresh_seed_chars] = {};
    if (check != nullptr) {
        write_fresh_seed(seed);
    }
    // The caller's BEGIN goes ahead of the check only when no BEGIN of pgkit's goes first.
    const std::size_t leading = first_begins && begin.empty() && !statements.empty() ? 1 : 0;
    const bool prepare = check != nullptr && !check_prepared_;
    // The session's first check resets the role and learns its reset value from the guard.
    const bool learn_role = check != nullptr && expected_role_.empty();

    // One segment: [BEGIN] [statement that begins] [prepares, resets, restore, guard] [the other
    // statements], then the sync point.
    bool sent = true;
    if (!begin.empty()) {
        sent =
            PQsendQueryParams(conn_, begin.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    }
    for (std::size_t i = 0; i < leading; ++i) {
        sent = sent && statements[i]() == 1;
    }
    if (check != nullptr) {
        for (const std::string& extra : check->extra) {
            sent = sent && PQsendQueryParams(conn_, extra.c_str(), 0, nullptr, nullptr, nullptr,
                                             nullptr, 0) == 1;
        }
        if (prepare) {
            for (const check_statement& reset : session_check_resets) {
                sent = sent && PQsendPrepare(conn_, reset.name, reset.sql, 0, nullptr) == 1;
            }
            sent = sent && PQsendPrepare(conn_, session_check_role_reset.name,
                                         session_check_role_reset.sql, 0, nullptr) == 1;
            sent = sent &&
                   PQsendPrepare(conn_, session_guard_name, session_guard_sql, 2, nullptr) == 1;
        }
        for (const check_statement& reset : session_check_resets) {
            sent = sent &&
                   PQsendQueryPrepared(conn_, reset.name, 0, nullptr, nullptr, nullptr, 0) == 1;
        }
        if (learn_role) {
            sent = sent && PQsendQueryPrepared(conn_, session_check_role_reset.name, 0, nullptr,
                                               nullptr, nullptr, 0) == 1;
        }
        if (!check->restore.empty()) {
            sent = sent && PQsendQueryParams(conn_, check->restore.c_str(), 0, nullptr, nullptr,
                                             nullptr, nullptr, 0) == 1;
        }
        const char* values[2] = {seed, expected_role_.c_str()};
        sent = sent &&
               PQsendQueryPrepared(conn_, session_guard_name, 2, values, nullptr, nullptr, 0) == 1;
    }
    for (std::size_t i = leading; i < statements.size(); ++i) {
        sent = sent && statements[i]() == 1;
    }
    sent = sent && PQpipelineSync(conn_) == 1;
    if (!sent) {
        return out_of_step("cannot send the statements");
    }
    count_round_trip();

    segment_outcome outcome;
    if (!begin.empty()) {
        outcome.begin = owned_result{read_command(), PQclear};
    }
    outcome.statements.reserve(statements.size());
    for (std::size_t i = 0; i < leading; ++i) {
        outcome.statements.emplace_back(read_command(), PQclear);
    }
    if (check != nullptr) {
        bool done = true;
        for (std::size_t i = 0; i < check->extra.size(); ++i) {
            result_guard ran{read_command()};
            done = done && succeeded(ran.res);
        }
        if (prepare) {
            bool prepared = true;
            for (std::size_t i = 0; i < session_check_resets.size() + 2; ++i) {
                result_guard done{read_command()};
                prepared = prepared && (succeeded(done.res) || sqlstate_of(done.res) == "42P05");
            }
            check_prepared_ = prepared;
        }
        bool missing = false;  // a check statement deallocated behind the cache's back
        const std::size_t resets =
            session_check_resets.size() + (learn_role ? 1 : 0) + (check->restore.empty() ? 0 : 1);
        for (std::size_t i = 0; i < resets + 1; ++i) {
            result_guard ran{read_command()};
            done = done && succeeded(ran.res);
            missing = missing || sqlstate_of(ran.res) == "26000";
            if (i == resets && done && learn_role && PQntuples(ran.res) == 1 &&
                PQnfields(ran.res) == 1) {
                expected_role_ = PQgetvalue(ran.res, 0, 0);
            }
        }
        outcome.check_passed = done;
        if (missing) {
            check_prepared_ = false;  // DEALLOCATE ALL: prepared again next time
        }
    }
    for (std::size_t i = leading; i < statements.size(); ++i) {
        outcome.statements.emplace_back(read_command(), PQclear);
    }
    result_guard sync{PQgetResult(conn_)};
    if (sync.res != nullptr && PQresultStatus(sync.res) == PGRES_FATAL_ERROR &&
        !sqlstate_of(sync.res).empty()) {
        // The server ended the session before the sync point (57P01 when it shuts down for a
        // failover): its own error says why, and the implicit transaction did not commit.
        // libpq may not have read the end of the connection yet, so the status cannot tell.
        poisoned_ = true;
        return tl::unexpected(take_result(sync.release(), false).error());
    }
    if (sync.res == nullptr || PQresultStatus(sync.res) != PGRES_PIPELINE_SYNC ||
        PQexitPipelineMode(conn_) != 1) {
        return out_of_step("a pipeline lost its sync point");
    }
    // The baseline of reported settings stays what it was when the session was last clean: the
    // resets bring every setting back to it, and what the statements after them change must
    // still show as a change (the server reports both at the sync point, together).
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
