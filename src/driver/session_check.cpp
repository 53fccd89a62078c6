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

/// Whether reading table `{rel}` by key can call anything a user wrote (session_check.hpp, "Key
/// reads"); 16384 is FirstNormalObjectId, below which every object is the server's own.
constexpr std::string_view table_is_inert_sql =
    "EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = {rel} AND c.relkind = 'r' "
    "AND c.relpersistence <> 't' AND NOT c.relrowsecurity AND NOT c.relhassubclass "
    "AND NOT c.relhasrules "
    "AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid "
    "AND a.attnum > 0 AND NOT a.attisdropped AND (a.atttypid >= 16384 OR EXISTS (SELECT FROM "
    "pg_catalog.pg_operator o WHERE o.oprname = '=' AND o.oprleft = a.atttypid "
    "AND o.oid >= 16384))) "
    "AND NOT EXISTS (SELECT FROM pg_catalog.pg_index i JOIN pg_catalog.pg_depend d "
    "ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = i.indexrelid "
    "WHERE i.indrelid = c.oid AND d.refobjid >= 16384 AND d.refclassid IN "
    "('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass, "
    "'pg_catalog.pg_opclass'::pg_catalog.regclass)) "
    "AND NOT EXISTS (SELECT FROM pg_catalog.pg_statistic_ext s WHERE s.stxrelid = c.oid "
    "AND s.stxexprs IS NOT NULL))";

const std::string key_read_learning_sql = fmt::format(
    "SELECT {}, (SELECT CAST(c.xmin AS pg_catalog.text) FROM pg_catalog.pg_class c "
    "WHERE c.oid = p.rel) FROM pg_catalog.unnest($1::pg_catalog.oid[]) WITH ORDINALITY "
    "AS p(rel, n) ORDER BY p.n",
    fmt::format(fmt::runtime(table_is_inert_sql), fmt::arg("rel", "p.rel")));

}  // namespace

const check_statement key_read_learning{"pgkit_check_learn", key_read_learning_sql.c_str()};

// One table per statement, with scalar parameters: the server settles on a generic plan after a
// few executions (an array's length makes every custom plan look cheaper, and planning costs
// about 50 us a lease), and one index probe of pg_class costs it about as much as the check's
// resets.
const std::string key_read_proof_sql = fmt::format(
    "SELECT CAST(pg_catalog.concat('{}', pg_catalog.pg_backend_pid(), ')') AS integer) WHERE NOT "
    "EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.oid AND c.xmin = "
    "$2::pg_catalog.xid)",
    key_read_proof_failure);
const check_statement key_read_proof{"pgkit_check_proof", key_read_proof_sql.c_str()};

std::string key_read_with_proof(std::string_view sql, const sql::key_read_shape& shape) {
    // Uncorrelated, so the server evaluates it once, in a gating Result node (a one-time
    // filter) ahead of the scan: a read that finds no row proves all the same. Scalar
    // parameters, for the reason given above. "Table 0" is a subquery of its own rather than a
    // comparison beside the probe: a custom plan folds constants, and one that dropped the probe
    // would look cheaper than the generic plan, keeping the server planning every execution.
    return fmt::format(
        "{0} AND (CAST(CASE WHEN NOT EXISTS (SELECT WHERE ${1}::pg_catalog.oid "
        "OPERATOR(pg_catalog.=) 0) AND NOT EXISTS (SELECT FROM pg_catalog.pg_class pgkit_class "
        "WHERE pgkit_class.oid OPERATOR(pg_catalog.=) ${1}::pg_catalog.oid AND pgkit_class.xmin "
        "OPERATOR(pg_catalog.=) ${2}::pg_catalog.xid) THEN pg_catalog.concat('{3}', "
        "pg_catalog.pg_backend_pid(), ')') END AS integer) IS NULL)",
        sql.substr(0, shape.conditions_end), shape.last_parameter + 1, shape.last_parameter + 2,
        key_read_proof_failure);
}

bool is_key_read_proof_failure(std::string_view sqlstate,
                               std::string_view message,
                               int backend_pid) {
    return sqlstate == "22P02" && message.find(fmt::format("{}{})", key_read_proof_failure,
                                                           backend_pid)) != std::string_view::npos;
}

bool is_row_version(std::string_view text) noexcept {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

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

// ---- pq_session: key reads ---------------------------------------------------------------------

namespace {

/// `{16385,16390}`: an oid[] literal.
std::string oid_array(std::span<const std::uint32_t> tables) {
    std::string text = "{";
    for (std::size_t i = 0; i < tables.size(); ++i) {
        if (i > 0) {
            text += ',';
        }
        text += fmt::format_int(tables[i]).c_str();
    }
    text += '}';
    return text;
}

}  // namespace

void pq_session::prove_key_reads_first(const std::shared_ptr<const session_check_sql>& sql,
                                       std::span<const std::uint32_t> tables) {
    if (tables.empty() || (pending_check_ != nullptr && pending_proof_.empty())) {
        return;  // nothing read, or the full check (which needs no proof) is armed already
    }
    for (const std::uint32_t table : tables) {
        if (std::find(pending_proof_.begin(), pending_proof_.end(), table) ==
            pending_proof_.end()) {
            pending_proof_.push_back(table);
        }
    }
    pending_check_ = sql;
}

result<shared_result> pq_session::exec_key_read(std::string_view name,
                                                const parameters& params,
                                                row_format format) {
    auto arrays = to_arrays(params, 2);  // and the proof's two
    if (!arrays) {
        return tl::unexpected(arrays.error());
    }
    const bool carries = key_read_proof_pending() && pending_proof_.size() == 1 &&
                         pending_begin_.empty() && !begin_failed_ && !in_transaction_block();
    // The proof's two parameters: table 0 proves nothing.
    const fmt::format_int table_text{carries ? pending_proof_.front() : 0U};
    const char* version = carries ? learned_row_version(pending_proof_.front()) : "0";
    arrays->values.push_back(table_text.c_str());
    arrays->lengths.push_back(static_cast<int>(table_text.size()));
    arrays->values.push_back(version);
    arrays->lengths.push_back(static_cast<int>(std::string_view{version}.size()));
    if (!carries) {
        return exec_prepared_arrays(name, *arrays, format);  // behind whatever waits, if anything
    }
    // Nothing else waits: the read goes alone, with the proof inside.
    std::shared_ptr<const session_check_sql> check = std::exchange(pending_check_, nullptr);
    std::vector<std::uint32_t> proof = std::exchange(pending_proof_, {});
    auto read = exec_prepared_arrays(name, *arrays, format);
    if (read || poisoned_ || PQstatus(conn_) != CONNECTION_OK) {
        return read;
    }
    if (!is_key_read_proof_failure(read.error().sqlstate(), read.error().message(),
                                   PQbackendPID(conn_))) {
        // The read failed before or after the proof ran, and took its implicit transaction
        // with it: the proof is still owed.
        pending_check_ = std::move(check);
        pending_proof_ = std::move(proof);
        return read;
    }
    forget_tables(proof);  // learned again by the next full check
    if (auto cleared = full_reset(*check); !cleared) {
        return tl::unexpected(std::move(cleared).error());
    }
    for (std::size_t i = arrays->values.size() - 2; i < arrays->values.size(); ++i) {
        arrays->values[i] = "0";
        arrays->lengths[i] = 1;
    }
    return exec_prepared_arrays(name, *arrays, format);
}

const char* pq_session::learned_row_version(std::uint32_t table) const noexcept {
    auto fact = std::find_if(table_facts_.begin(), table_facts_.end(),
                             [table](const table_fact& f) { return f.table == table; });
    // A table forgotten meanwhile gets xid 0, which no row version has.
    return fact != table_facts_.end() ? fact->row_version.c_str() : "0";
}

bool pq_session::table_is_inert(std::uint32_t table) const noexcept {
    return std::any_of(table_facts_.begin(), table_facts_.end(),
                       [table](const table_fact& f) { return f.table == table && f.inert; });
}

void pq_session::learn_table_later(std::uint32_t table) {
    const bool known = std::any_of(table_facts_.begin(), table_facts_.end(),
                                   [table](const table_fact& f) { return f.table == table; });
    if (table != 0 && !known &&
        std::find(tables_to_learn_.begin(), tables_to_learn_.end(), table) ==
            tables_to_learn_.end()) {
        tables_to_learn_.push_back(table);
    }
}

bool pq_session::learn_tables(const pg_result* res, std::span<const std::uint32_t> tables) {
    if (!succeeded(res) || PQnfields(res) != 2 ||
        PQntuples(res) != static_cast<int>(tables.size())) {
        return false;
    }
    for (std::size_t i = 0; i < tables.size(); ++i) {
        const int row = static_cast<int>(i);
        table_fact fact{tables[i], false, {}};
        if (PQgetisnull(res, row, 1) == 0) {
            fact.row_version.assign(PQgetvalue(res, row, 1),
                                    static_cast<std::size_t>(PQgetlength(res, row, 1)));
        }
        // A row version that is not an xid's text makes the table count as not inert.
        fact.inert =
            std::string_view{PQgetvalue(res, row, 0)} == "t" && is_row_version(fact.row_version);
        table_facts_.push_back(std::move(fact));
    }
    return true;
}

void pq_session::forget_tables(std::span<const std::uint32_t> tables) noexcept {
    std::erase_if(table_facts_, [tables](const table_fact& f) {
        return std::find(tables.begin(), tables.end(), f.table) != tables.end();
    });
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
    std::vector<std::uint32_t> proof = std::exchange(pending_proof_, {});
    const bool was_in_transaction = in_transaction_block();
    const std::string begin = std::exchange(pending_begin_, {});
    auto outcome = run_segment(check.get(), proof, begin, statements, first_begins);
    if (!outcome) {
        return tl::unexpected(std::move(outcome).error());
    }
    if (outcome->begin && !succeeded(outcome->begin.get())) {
        // The BEGIN failed, so nothing after it ran: the caller gets its error, the next
        // statement carries the check, and the transaction counts as failed.
        pending_check_ = std::move(check);
        pending_proof_ = std::move(proof);
        pending_begin_ = begin;
        begin_failed_ = true;
        auto failed = take_result(outcome->begin.release(), was_in_transaction);
        return tl::unexpected(std::move(failed).error());
    }
    const bool all_succeeded =
        std::all_of(outcome->statements.begin(), outcome->statements.end(),
                    [](const owned_result& res) { return succeeded(res.get()); });
    if (outcome->check_passed) {
        // A proof that passed is done, whatever becomes of the transaction: it changed nothing.
        if (check != nullptr && proof.empty()) {
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
        pending_proof_ = std::move(proof);
        return std::move(outcome->statements);
    }
    outcome->statements.clear();
    forget_tables(proof);  // learned again by the next full check
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
                                                            std::span<const std::uint32_t> proof,
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
    // Instead of the check, the proof that the last lease's key reads read inert tables.
    const bool proving = check != nullptr && !proof.empty();
    const bool full_check = check != nullptr && proof.empty();
    // The guard's parameter.
    char seed[fresh_seed_chars] = {};
    if (full_check) {
        write_fresh_seed(seed);
    }
    // The tables the full check learns about.
    std::vector<std::uint32_t> learning;
    if (full_check) {
        learning = std::exchange(tables_to_learn_, {});
    }
    const std::string learning_tables = learning.empty() ? std::string{} : oid_array(learning);
    // The caller's BEGIN goes ahead of the check only when no BEGIN of pgkit's goes first.
    const std::size_t leading = first_begins && begin.empty() && !statements.empty() ? 1 : 0;
    const bool prepare = check != nullptr && !check_prepared_;
    // The session's first check resets the role and learns its reset value from the guard.
    const bool learn_role = full_check && expected_role_.empty();

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
    if (full_check) {
        for (const std::string& extra : check->extra) {
            sent = sent && PQsendQueryParams(conn_, extra.c_str(), 0, nullptr, nullptr, nullptr,
                                             nullptr, 0) == 1;
        }
    }
    if (prepare) {
        for (const check_statement& reset : session_check_resets) {
            sent = sent && PQsendPrepare(conn_, reset.name, reset.sql, 0, nullptr) == 1;
        }
        sent = sent && PQsendPrepare(conn_, session_check_role_reset.name,
                                     session_check_role_reset.sql, 0, nullptr) == 1;
        sent = sent && PQsendPrepare(conn_, session_guard_name, session_guard_sql, 2, nullptr) == 1;
        for (const check_statement* key_reads : {&key_read_learning, &key_read_proof}) {
            sent = sent && PQsendPrepare(conn_, key_reads->name, key_reads->sql, 0, nullptr) == 1;
        }
    }
    for (const std::uint32_t table : proving ? proof : std::span<const std::uint32_t>{}) {
        const auto table_text = fmt::format_int(table);
        const char* values[2] = {table_text.c_str(), learned_row_version(table)};
        sent = sent &&
               PQsendQueryPrepared(conn_, key_read_proof.name, 2, values, nullptr, nullptr, 0) == 1;
    }
    if (full_check) {
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
        if (!learning.empty()) {
            const char* tables = learning_tables.c_str();
            sent = sent && PQsendQueryPrepared(conn_, key_read_learning.name, 1, &tables, nullptr,
                                               nullptr, 0) == 1;
        }
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
        const std::size_t extras = full_check ? check->extra.size() : 0;
        for (std::size_t i = 0; i < extras; ++i) {
            result_guard ran{read_command()};
            done = done && succeeded(ran.res);
        }
        if (prepare) {
            bool prepared = true;
            for (std::size_t i = 0; i < session_check_resets.size() + 4; ++i) {
                result_guard done{read_command()};
                prepared = prepared && (succeeded(done.res) || sqlstate_of(done.res) == "42P05");
            }
            check_prepared_ = prepared;
        }
        bool missing = false;  // a check statement deallocated behind the cache's back
        const std::size_t resets =
            session_check_resets.size() + (learn_role ? 1 : 0) + (check->restore.empty() ? 0 : 1);
        // The proofs, or the resets and the guard, then the learning statement if sent.
        const std::size_t checks = proving ? proof.size() : resets + 1 + (learning.empty() ? 0 : 1);
        for (std::size_t i = 0; i < checks; ++i) {
            result_guard ran{read_command()};
            if (full_check && i == resets + 1 && !learn_tables(ran.res, learning)) {
                tables_to_learn_ = learning;  // learned by a later check
            }
            done = done && succeeded(ran.res);
            missing = missing || sqlstate_of(ran.res) == "26000";
            if (full_check && i == resets && done && learn_role && PQntuples(ran.res) == 1 &&
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
