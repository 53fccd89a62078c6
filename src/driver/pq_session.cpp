#include "driver/pq_session.hpp"

#include "pgkit/listener.hpp"
#include "pgkit/round_trips.hpp"

#include "driver/connect_plan.hpp"
#include "driver/pqxx_adapter.hpp"
#include "startup_options.hpp"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

namespace pgkit::detail {
namespace {

using clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds default_connect_timeout{10'000};

/// Why a session whose settings pgkit cannot decode is refused, or nullopt when it can. pgkit
/// pins nothing in the startup packet (a proxy such as PgBouncer refuses the `options` parameter
/// with its default configuration); it decodes whatever the server uses instead: timestamps
/// with any TimeZone (the offset is in the text), bytea in hex or escape format, floats exactly
/// (extra_float_digits' default is exact since PostgreSQL 12). Only DateStyle's output format
/// changes what a date looks like, and it is reported, so it is checked here.
std::optional<std::string> undecodable_settings(PGconn* conn) {
    const char* date_style = PQparameterStatus(conn, "DateStyle");
    if (date_style != nullptr && !std::string_view{date_style}.starts_with("ISO")) {
        return fmt::format(
            "the session's DateStyle is '{}', but pgkit reads dates and timestamps in ISO "
            "format: set DateStyle to 'ISO' for the database or role (ALTER DATABASE ... SET "
            "DateStyle = 'ISO, MDY'), or pass options=-c DateStyle=ISO when connecting directly",
            date_style);
    }
    return std::nullopt;
}

std::string field(const PGresult* res, int code) {
    const char* value = PQresultErrorField(res, code);
    return value != nullptr ? std::string{value} : std::string{};
}

std::string trim_trailing_newlines(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

/// Waits until the socket is ready for `events` or the deadline passes. False on timeout.
/// `deadline` == clock::time_point::max() waits without limit.
bool wait_socket(int fd, short events, clock::time_point deadline) {
    for (;;) {
        int wait_ms = -1;
        if (deadline != clock::time_point::max()) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (left.count() <= 0) {
                return false;
            }
            wait_ms = static_cast<int>(std::min<std::int64_t>(left.count(), 60'000));
        }
        pollfd pfd{fd, events, 0};
        int ready = ::poll(&pfd, 1, wait_ms);
        if (ready > 0) {
            return true;
        }
        if (ready == 0) {
            continue;  // re-check the deadline (waits are capped at a minute)
        }
        if (errno != EINTR) {
            return true;  // let libpq report the socket error
        }
    }
}

/// Replaces every occurrence of a known password with "***".
std::string without_password(std::string text, std::string_view password) {
    if (password.empty()) {
        return text;
    }
    for (auto pos = text.find(password); pos != std::string::npos;
         pos = text.find(password, pos + 3)) {
        text.replace(pos, password.size(), "***");
    }
    return text;
}

/// A verbose libpq error ("FATAL:  3D000: database \"x\" does not exist\nLOCATION:  ...") as its
/// SQLSTATE and the message without the code and the LOCATION line. Text of another shape (a
/// refused TCP connection, a timeout) comes back whole, with no SQLSTATE.
std::pair<std::string, std::string> split_verbose_error(std::string_view text) {
    std::string message;
    std::string sqlstate;
    for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (line.starts_with("LOCATION:")) {
            continue;
        }
        const auto severity_end = line.find(":  ");
        if (sqlstate.empty() && severity_end != std::string_view::npos &&
            line.size() >= severity_end + 10 && line.substr(severity_end + 8, 2) == ": ") {
            const std::string_view code = line.substr(severity_end + 3, 5);
            const bool looks_like_code = std::all_of(code.begin(), code.end(), [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
            });
            if (looks_like_code) {
                sqlstate = std::string{code};
                message.append(line.substr(0, severity_end + 3));
                message.append(line.substr(severity_end + 10));
                message += '\n';
                continue;
            }
        }
        message.append(line);
        message += '\n';
    }
    return {std::move(sqlstate), std::move(message)};
}

result<void> check_sql_text(std::string_view sql) {
    if (sql.find('\0') != std::string_view::npos) {
        return make_error(errc::invalid_argument, "SQL text contains a NUL byte");
    }
    return {};
}

}  // namespace

/// Pointers into the parameters' own NUL-terminated buffer: no copy of any value.
result<parameter_arrays> to_arrays(const parameters& params, std::size_t extra) {
    if (const auto& failure = params.encoding_error()) {
        return tl::unexpected(*failure);
    }
    parameter_arrays arrays;
    arrays.values.reserve(params.size() + extra);
    arrays.lengths.reserve(params.size() + extra);
    for (std::size_t i = 0; i < params.size(); ++i) {
        arrays.values.push_back(params.c_str(i));
        auto text = params.value(i);
        arrays.lengths.push_back(text ? static_cast<int>(text->size()) : 0);
    }
    return arrays;
}

result<query_result> to_query_result(result<shared_result> raw) {
    if (!raw) {
        return tl::unexpected(std::move(raw).error());
    }
    return query_result{std::move(*raw)};
}

// ---- result_data ------------------------------------------------------------------------------

result_data::result_data(pg_result* res) noexcept
    : res_(res),
      rows_(static_cast<std::size_t>(PQntuples(res))),
      columns_(static_cast<std::size_t>(PQnfields(res))) {
    if (columns_ > 0 && PQfformat(res, 0) == 1) {
        binary_types_.resize(columns_);
        for (std::size_t column = 0; column < columns_; ++column) {
            binary_types_[column] = PQftype(res, static_cast<int>(column));
        }
    }
}

result_data::result_data(std::unique_ptr<const foreign_rows> foreign,
                         std::size_t rows,
                         std::size_t columns) noexcept
    : res_(nullptr), foreign_(std::move(foreign)), rows_(rows), columns_(columns) {}

result_data::~result_data() {
    if (res_ != nullptr) {
        PQclear(res_);
    }
}

namespace {

std::optional<std::string_view> field_text(const pg_result* res, int row, int column) noexcept {
    // NULL reads as an empty value: ask whether it is NULL only then.
    const int length = PQgetlength(res, row, column);
    if (length == 0 && PQgetisnull(res, row, column) != 0) {
        return std::nullopt;
    }
    return std::string_view{PQgetvalue(res, row, column), static_cast<std::size_t>(length)};
}

}  // namespace

std::optional<std::string_view> result_data::text(std::size_t row,
                                                  std::size_t column) const noexcept {
    if (foreign_) {
        return foreign_->text(row, column);
    }
    return field_text(res_, static_cast<int>(row), static_cast<int>(column));
}

void result_data::texts(std::size_t row,
                        std::span<std::optional<std::string_view>> out) const noexcept {
    if (foreign_) {
        for (std::size_t column = 0; column < out.size(); ++column) {
            out[column] = foreign_->text(row, column);
        }
        return;
    }
    const int r = static_cast<int>(row);
    for (std::size_t column = 0; column < out.size(); ++column) {
        out[column] = field_text(res_, r, static_cast<int>(column));
    }
}

std::uint32_t result_data::column_type(std::size_t column) const noexcept {
    if (foreign_ || column >= columns_) {
        return 0;
    }
    return PQftype(res_, static_cast<int>(column));
}

std::uint32_t result_data::source_table() const noexcept {
    if (foreign_ || columns_ == 0) {
        return 0;
    }
    const std::uint32_t table = PQftable(res_, 0);
    for (std::size_t column = 1; column < columns_; ++column) {
        if (PQftable(res_, static_cast<int>(column)) != table) {
            return 0;
        }
    }
    return table;
}

std::string_view result_data::column_name(std::size_t column) const noexcept {
    if (foreign_) {
        return foreign_->column_name(column);
    }
    const char* name = PQfname(res_, static_cast<int>(column));
    return name != nullptr ? std::string_view{name} : std::string_view{};
}

std::optional<std::size_t> result_data::column_index(std::string_view name) const noexcept {
    // Exact, case-sensitive match (PQfnumber would apply SQL identifier folding rules).
    for (std::size_t i = 0; i < columns_; ++i) {
        if (column_name(i) == name) {
            return i;
        }
    }
    return std::nullopt;
}

std::uint64_t result_data::affected_rows() const noexcept {
    if (foreign_) {
        return foreign_->affected_rows();
    }
    const char* tuples = PQcmdTuples(res_);
    std::uint64_t count = 0;
    if (tuples != nullptr && *tuples != '\0') {
        std::from_chars(tuples, tuples + std::strlen(tuples), count);
    }
    return count;
}

// ---- pq_session -------------------------------------------------------------------------------

pq_session::pq_session(std::unique_ptr<pqxx_owner> owner,
                       std::string description,
                       std::string password)
    : owner_(std::move(owner)),
      conn_(owner_->handle()),
      description_(std::move(description)),
      password_(std::move(password)) {
    const char* conforming = PQparameterStatus(conn_, "standard_conforming_strings");
    lexer_options_.standard_conforming_strings =
        conforming == nullptr || std::string_view{conforming} != "off";
    remember_reported_settings();
}

void pq_session::remember_reported_settings() {
    for (std::size_t i = 0; i < tracked_settings.size(); ++i) {
        const char* value = PQparameterStatus(conn_, tracked_settings[i]);
        baseline_[i] = value != nullptr ? value : "";
    }
}

bool pq_session::first_reported_settings_changed(std::size_t count) const noexcept {
    for (std::size_t i = 0; i < count; ++i) {
        const char* value = PQparameterStatus(conn_, tracked_settings[i]);
        if (baseline_[i] != (value != nullptr ? std::string_view{value} : std::string_view{})) {
            return true;
        }
    }
    return false;
}

bool pq_session::reported_settings_changed() const noexcept {
    return first_reported_settings_changed(tracked_settings.size());
}

bool pq_session::reported_identity_changed() const noexcept {
    return first_reported_settings_changed(identity_settings);
}

error pq_session::note_failure(error e) noexcept {
    if (e.poisons_connection()) {
        poisoned_ = true;
    }
    return e;
}

pq_session::~pq_session() {
    PQfreemem(copy_out_row_);
}

void pq_session::count_round_trip() noexcept {
    ++round_trips_;
    count_thread_round_trip();
}

namespace {

struct opened_connection {
    PGconn* conn = nullptr;  ///< connected, or nullptr
    bool timed_out = false;
    std::string sqlstate;  ///< the server's, when it refused
    std::string reason;
};

/// One non-blocking connect with `keywords`, given up at `deadline`.
opened_connection connect_once(const std::vector<connection_parameter>& keywords,
                               clock::time_point deadline) {
    std::vector<const char*> names;
    std::vector<const char*> values;
    for (const auto& [name, value] : keywords) {
        names.push_back(name.c_str());
        values.push_back(value.c_str());
    }
    names.push_back(nullptr);
    values.push_back(nullptr);
    opened_connection out;
    PGconn* raw = PQconnectStartParams(names.data(), values.data(), 0);
    if (raw == nullptr) {
        out.reason = "out of memory";
        return out;
    }
    // Verbose while connecting: the server's refusal then carries its SQLSTATE ("FATAL:  28P01:
    // ..."), which libpq offers no other way to read for a connection that never opened.
    PQsetErrorVerbosity(raw, PQERRORS_VERBOSE);
    for (;;) {
        const PostgresPollingStatusType state = PQconnectPoll(raw);
        if (state == PGRES_POLLING_OK) {
            PQsetErrorVerbosity(raw, PQERRORS_DEFAULT);
            out.conn = raw;
            return out;
        }
        if (state == PGRES_POLLING_FAILED) {
            auto [sqlstate, reason] = split_verbose_error(PQerrorMessage(raw));
            PQfinish(raw);
            out.sqlstate = std::move(sqlstate);
            out.reason = std::move(reason);
            return out;
        }
        const short events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        if (!wait_socket(PQsocket(raw), events, deadline)) {
            PQfinish(raw);
            out.timed_out = true;
            return out;
        }
    }
}

}  // namespace

result<std::unique_ptr<pq_session>> pq_session::open(const connection_options& options) {
    auto keywords = options.to_keywords();
    std::string startup_options;
    for (auto it = keywords.begin(); it != keywords.end();) {
        // The caller's arguments, split and escaped again, so no byte of theirs can start or
        // swallow an argument.
        if (it->first == "options") {
            startup_options = join_startup_options(split_startup_options(it->second));
            it = keywords.erase(it);
        } else if (it->first == "client_encoding" || it->first == "connect_timeout") {
            it = keywords.erase(it);  // UTF8 is set below; the deadline replaces the timeout
        } else {
            ++it;
        }
    }
    if (!startup_options.empty()) {
        keywords.emplace_back("options", std::move(startup_options));
    }
    keywords.emplace_back("client_encoding", "UTF8");

    const std::string where = options.redacted();
    auto fail = [&](std::string reason) {
        return make_error(errc::connection_failed,
                          fmt::format("cannot connect to {}: {}", where,
                                      redact_secrets(trim_trailing_newlines(std::move(reason)))));
    };

    // As in libpq, a connect_timeout of zero means no limit. It bounds the whole connect: with
    // several hosts each attempt gets an equal share of what is left (connect_plan.hpp).
    const auto timeout = options.connect_timeout.value_or(default_connect_timeout);
    const auto deadline = timeout.count() > 0 ? clock::now() + timeout : clock::time_point::max();
    const auto attempts = plan_connect(options, keywords);
    PGconn* raw = nullptr;
    std::string reasons;
    std::string sqlstate;
    for (std::size_t i = 0; i < attempts.size() && raw == nullptr; ++i) {
        auto attempt_deadline = deadline;
        if (deadline != clock::time_point::max()) {
            const auto remaining =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
            if (remaining.count() <= 0) {
                break;
            }
            attempt_deadline = clock::now() + attempt_budget(remaining, attempts.size() - i);
        }
        auto opened = connect_once(attempts[i].keywords, attempt_deadline);
        if (opened.conn != nullptr) {
            raw = opened.conn;
            break;
        }
        std::string reason = without_password(
            opened.timed_out ? fmt::format("timed out after {} ms", timeout.count())
                             : std::move(opened.reason),
            options.password);
        if (attempts.size() > 1) {
            reason = fmt::format("{}{}: {}", reasons.empty() ? "" : "; ", attempts[i].target,
                                 trim_trailing_newlines(std::move(reason)));
        }
        reasons += reason;
        if (!opened.sqlstate.empty()) {
            sqlstate = std::move(opened.sqlstate);
        }
    }
    if (raw == nullptr) {
        if (reasons.empty()) {
            reasons = fmt::format("timed out after {} ms", timeout.count());
        }
        auto failed = fail(std::move(reasons));
        if (!sqlstate.empty()) {
            failed.value().with_sqlstate(std::move(sqlstate));
        }
        return failed;
    }
    return take_over(raw, where, options.password);
}

result<std::unique_ptr<pq_session>> pq_session::adopt(pg_conn* raw, std::string description) {
    auto fail = [&](std::string_view reason) {
        return make_error(errc::connection_failed,
                          fmt::format("cannot use the session opened for {}: {}", description,
                                      redact_secrets(trim_trailing_newlines(std::string{reason}))));
    };
    if (raw == nullptr) {
        return fail("no session was returned");
    }
    if (PQstatus(raw) != CONNECTION_OK) {
        std::string reason = PQerrorMessage(raw);
        PQfinish(raw);
        return fail(reason.empty() ? "the session is not connected" : reason);
    }
    if (PQtransactionStatus(raw) != PQTRANS_IDLE) {
        PQfinish(raw);
        return fail("the session is not idle (a transaction or statement is open)");
    }
    const char* encoding = PQparameterStatus(raw, "client_encoding");
    if ((encoding == nullptr || std::string_view{encoding} != "UTF8") &&
        PQsetClientEncoding(raw, "UTF8") != 0) {
        std::string reason = PQerrorMessage(raw);
        PQfinish(raw);
        return fail(fmt::format("cannot set client_encoding to UTF8: {}", reason));
    }
    return take_over(raw, std::move(description), {});
}

result<std::unique_ptr<pq_session>> pq_session::take_over(pg_conn* raw,
                                                          std::string description,
                                                          std::string password) {
    auto fail = [&](std::string reason) {
        return make_error(
            errc::connection_failed,
            without_password(fmt::format("cannot connect to {}: {}", description,
                                         redact_secrets(trim_trailing_newlines(std::move(reason)))),
                             password));
    };
    PQsetErrorVerbosity(raw, PQERRORS_DEFAULT);
    if (auto refused = undecodable_settings(raw)) {
        PQfinish(raw);
        return fail(std::move(*refused));
    }
    // libpq's default notice processor writes server NOTICEs to stderr; a library must not.
    PQsetNoticeProcessor(
        raw, [](void*, const char*) {}, nullptr);

    auto owner = pqxx_owner::adopt(raw);
    if (!owner) {
        return fail(owner.error().message());
    }
    return std::unique_ptr<pq_session>{
        new pq_session(std::move(*owner), std::move(description), std::move(password))};
}

bool pq_session::in_transaction_block() const noexcept {
    const auto state = PQtransactionStatus(conn_);
    return state == PQTRANS_INTRANS || state == PQTRANS_INERROR || !pending_begin_.empty();
}

std::string pq_session::scrub(std::string_view message) const {
    return without_password(redact_secrets(message), password_);
}

error pq_session::connection_error(std::string_view what, bool was_in_transaction) {
    std::string reason = trim_trailing_newlines(PQerrorMessage(conn_));
    const bool lost = PQstatus(conn_) != CONNECTION_OK;
    error e{lost ? errc::connection_lost : errc::internal,
            scrub(fmt::format("{}: {}", what, reason.empty() ? "no result" : reason))};
    e.with_in_transaction(was_in_transaction);
    if (e.poisons_connection()) {
        poisoned_ = true;
    }
    return e;
}

result<shared_result> pq_session::take_result(pg_result* res, bool was_in_transaction) {
    if (res == nullptr) {
        return tl::unexpected(connection_error("statement failed", was_in_transaction));
    }
    const ExecStatusType state = PQresultStatus(res);
    if (state == PGRES_COMMAND_OK || state == PGRES_TUPLES_OK || state == PGRES_EMPTY_QUERY ||
        state == PGRES_COPY_IN || (state == PGRES_COPY_OUT && copy_out_expected_)) {
        return std::make_shared<const result_data>(res);
    }
    std::string sqlstate = field(res, PG_DIAG_SQLSTATE);
    std::string primary = field(res, PG_DIAG_MESSAGE_PRIMARY);
    if (primary.empty()) {
        primary = trim_trailing_newlines(PQresultErrorMessage(res));
    }
    error e{errc::internal, {}};
    if (sqlstate.empty()) {
        // No SQLSTATE: libpq itself failed (typically the connection dropped mid-statement).
        e = connection_error(primary.empty() ? "statement failed" : primary, was_in_transaction);
    } else {
        errc code = errc_from_sqlstate(sqlstate, primary);
        if (PQstatus(conn_) != CONNECTION_OK) {
            code = errc::connection_lost;  // e.g. 57P01 admin_shutdown closed the session
        } else if (sqlstate == "25006") {
            // read_only_sql_transaction: from a node in recovery it means the write went to a
            // standby (a demoted primary); otherwise the caller's own READ ONLY transaction.
            const char* standby = PQparameterStatus(conn_, "in_hot_standby");
            if (standby != nullptr && std::string_view{standby} == "on") {
                code = errc::read_only_node;
            }
        }
        e = error{code, scrub(primary)};
        e.with_sqlstate(std::move(sqlstate))
            .with_location(field(res, PG_DIAG_SCHEMA_NAME), field(res, PG_DIAG_TABLE_NAME),
                           field(res, PG_DIAG_COLUMN_NAME), field(res, PG_DIAG_CONSTRAINT_NAME))
            .with_detail(scrub(field(res, PG_DIAG_MESSAGE_DETAIL)),
                         scrub(field(res, PG_DIAG_MESSAGE_HINT)))
            .with_in_transaction(was_in_transaction);
    }
    PQclear(res);
    return tl::unexpected(note_failure(std::move(e)));
}

result<shared_result> pq_session::collect(int sent, bool was_in_transaction) {
    if (sent != 1) {
        return tl::unexpected(connection_error("cannot send the statement", was_in_transaction));
    }
    count_round_trip();
    PGresult* res = read_command();
    if (unconfirmed_check_) {
        confirm_check(res);
    }
    return take_result(res, was_in_transaction);
}

pg_result* pq_session::read_command() noexcept {
    // Every result of the command: the first error wins (it keeps the SQLSTATE the server sent,
    // e.g. 57P01 before it closed the session, where libpq's own report has none), else the last
    // result, as PQexec returns it. A COPY in progress ends the command's results for now.
    PGresult* kept = nullptr;
    bool kept_error = false;
    while (PGresult* res = PQgetResult(conn_)) {
        const ExecStatusType state = PQresultStatus(res);
        if (state == PGRES_COPY_IN || state == PGRES_COPY_OUT || state == PGRES_COPY_BOTH) {
            if (!kept_error) {
                PQclear(kept);
                kept = res;
            } else {
                PQclear(res);
            }
            break;
        }
        if (kept_error) {
            PQclear(res);
            continue;
        }
        PQclear(kept);
        kept = res;
        kept_error = state == PGRES_FATAL_ERROR || state == PGRES_BAD_RESPONSE;
    }
    return kept;
}

result<shared_result> pq_session::exec_params(std::string_view sql, const parameters& params) {
    if (auto ok = check_sql_text(sql); !ok) {
        return tl::unexpected(ok.error());
    }
    auto arrays = to_arrays(params);
    if (!arrays) {
        return tl::unexpected(arrays.error());
    }
    const bool in_tx = in_transaction_block();
    const std::string text{sql};
    const auto kind = prelude_pending() ? sql::kind_of_statement(sql, lexer_options_)
                                        : sql::statement_kind::other;
    return send_statement(
        kind,
        [&] {
            return PQsendQueryParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                                     arrays->values.data(), arrays->lengths.data(), nullptr, 0);
        },
        in_tx);
}

result<shared_result> pq_session::exec_script(std::string_view sql) {
    if (auto ok = check_sql_text(sql); !ok) {
        return tl::unexpected(ok.error());
    }
    const bool in_tx = in_transaction_block();
    const std::string text{sql};
    if (!prelude_pending()) {
        return collect(PQsendQuery(conn_, text.c_str()), in_tx);
    }
    // One statement that can join a pipeline goes in the extended protocol, without parameters;
    // anything else has the check sent alone first.
    const auto kind = sql::kind_of_statement(sql, lexer_options_);
    if (kind == sql::statement_kind::other) {
        return send_statement(
            kind, [&] { return PQsendQuery(conn_, text.c_str()); }, in_tx);
    }
    return send_statement(
        kind,
        [&] {
            return PQsendQueryParams(conn_, text.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
        },
        in_tx);
}

result<void> pq_session::prepare(std::string_view name, std::string_view sql) {
    if (auto ok = check_sql_text(sql); !ok) {
        return ok;
    }
    if (name.find('\0') != std::string_view::npos) {
        return make_error(errc::invalid_argument, "statement name contains a NUL byte");
    }
    const bool in_tx = in_transaction_block();
    const std::string text{sql};
    const std::string statement{name};
    // Preparing runs nothing, so it can always join a pipeline segment.
    auto prepared = send_statement(
        sql::statement_kind::query,
        [&] { return PQsendPrepare(conn_, statement.c_str(), text.c_str(), 0, nullptr); }, in_tx);
    if (!prepared) {
        return tl::unexpected(std::move(prepared).error());
    }
    return {};
}

result<shared_result> pq_session::exec_prepared(std::string_view name,
                                                const parameters& params,
                                                row_format format) {
    auto arrays = to_arrays(params);
    if (!arrays) {
        return tl::unexpected(arrays.error());
    }
    return exec_prepared_arrays(name, *arrays, format);
}

result<shared_result> pq_session::exec_prepared_arrays(std::string_view name,
                                                       const parameter_arrays& arrays,
                                                       row_format format) {
    const bool in_tx = in_transaction_block();
    const std::string statement{name};
    auto kind = sql::statement_kind::query;
    if (prelude_pending() &&
        std::find(unpipelined_statements_.begin(), unpipelined_statements_.end(), statement) !=
            unpipelined_statements_.end()) {
        kind = sql::statement_kind::other;
    }
    return send_statement(
        kind,
        [&] {
            return PQsendQueryPrepared(conn_, statement.c_str(),
                                       static_cast<int>(arrays.values.size()), arrays.values.data(),
                                       arrays.lengths.data(), nullptr,
                                       format == row_format::binary ? 1 : 0);
        },
        in_tx);
}

result<void> pq_session::copy_start(std::string_view copy_sql) {
    auto started = exec_script(copy_sql);
    if (!started) {
        return tl::unexpected(std::move(started).error());
    }
    return {};
}

result<void> pq_session::copy_send(std::string_view data) {
    if (data.empty()) {
        return success();
    }
    if (PQputCopyData(conn_, data.data(), static_cast<int>(data.size())) != 1) {
        return tl::unexpected(connection_error("COPY failed", in_transaction_block()));
    }
    return success();
}

result<std::uint64_t> pq_session::copy_end() {
    const bool in_tx = in_transaction_block();
    if (PQputCopyEnd(conn_, nullptr) != 1) {
        return tl::unexpected(connection_error("COPY failed", in_tx));
    }
    auto finished = collect(1, in_tx);
    if (!finished) {
        return tl::unexpected(std::move(finished).error());
    }
    return (*finished)->affected_rows();
}

void pq_session::copy_abort() noexcept {
    if (PQputCopyEnd(conn_, "aborted by the client") == 1) {
        count_round_trip();
        while (PGresult* res = PQgetResult(conn_)) {
            PQclear(res);
        }
    }
}

result<void> pq_session::copy_out_start(std::string_view copy_sql) {
    copy_out_expected_ = true;
    // The extended protocol: one statement, whatever the text holds.
    auto started = exec_params(copy_sql, parameters{});
    copy_out_expected_ = false;
    if (!started) {
        return tl::unexpected(std::move(started).error());
    }
    if (PQresultStatus((*started)->handle()) != PGRES_COPY_OUT) {
        return make_error(errc::invalid_argument, "the statement is not a COPY ... TO STDOUT");
    }
    return {};
}

result<std::optional<std::string_view>> pq_session::copy_out_next() {
    PQfreemem(copy_out_row_);
    copy_out_row_ = nullptr;
    const bool in_tx = in_transaction_block();
    const int length = PQgetCopyData(conn_, &copy_out_row_, 0);
    if (length > 0) {
        return std::optional<std::string_view>{
            std::string_view{copy_out_row_, static_cast<std::size_t>(length)}};
    }
    if (length == -2 && PQstatus(conn_) != CONNECTION_OK) {
        return tl::unexpected(connection_error("COPY failed", in_tx));
    }
    // The COPY ended: its outcome (the server's error, e.g. the FATAL that preceded a
    // terminated session) is the command's result.
    auto finished = take_result(read_command(), in_tx);
    if (!finished) {
        return tl::unexpected(std::move(finished).error());
    }
    return std::optional<std::string_view>{};
}

result<void> pq_session::copy_out_stop(bool cancel) {
    const bool in_tx = in_transaction_block();
    bool canceled = false;
    if (cancel) {
        canceled = static_cast<bool>(this->cancel());
    }
    for (;;) {
        PQfreemem(copy_out_row_);
        copy_out_row_ = nullptr;
        const int length = PQgetCopyData(conn_, &copy_out_row_, 0);
        if (length > 0) {
            continue;
        }
        if (length == -2 && PQstatus(conn_) != CONNECTION_OK) {
            return tl::unexpected(connection_error("COPY failed", in_tx));
        }
        break;
    }
    auto finished = take_result(read_command(), in_tx);
    if (!finished && !(canceled && finished.error().code() == errc::query_canceled)) {
        return tl::unexpected(std::move(finished).error());
    }
    return {};
}

result<void> pq_session::cancel() const {
    PGcancel* handle = PQgetCancel(conn_);
    if (handle == nullptr) {
        return make_error(errc::connection_lost, "cannot cancel: the session is not open");
    }
    char reason[256] = {};
    const int sent = PQcancel(handle, reason, sizeof reason);
    PQfreeCancel(handle);
    if (sent != 1) {
        return make_error(errc::connection_failed,
                          scrub(fmt::format("cancel request failed: {}", reason)));
    }
    return {};
}

bool pq_session::is_open() const noexcept {
    return PQstatus(conn_) == CONNECTION_OK;
}

bool pq_session::still_open() noexcept {
    // Nothing to read is the common case: one poll() with no wait. A session the server ended
    // has a FATAL message and then end-of-file waiting; libpq notices the end on the read after
    // the message, so read until nothing is left (a handful of reads at most).
    for (int reads = 0; reads < 8 && PQstatus(conn_) == CONNECTION_OK; ++reads) {
        pollfd pfd{PQsocket(conn_), POLLIN, 0};
        if (::poll(&pfd, 1, 0) <= 0) {
            break;
        }
        if (PQconsumeInput(conn_) == 0) {
            break;
        }
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
        poisoned_ = true;
        return false;
    }
    return true;
}

transaction_status pq_session::status() const noexcept {
    switch (PQtransactionStatus(conn_)) {
        case PQTRANS_IDLE:
            // A BEGIN waiting for the next statement has opened the transaction, as far as the
            // caller can tell.
            if (pending_begin_.empty()) {
                return transaction_status::idle;
            }
            return begin_failed_ ? transaction_status::in_failed_transaction
                                 : transaction_status::in_transaction;
        case PQTRANS_ACTIVE:
            return transaction_status::active;
        case PQTRANS_INTRANS:
            return transaction_status::in_transaction;
        case PQTRANS_INERROR:
            return transaction_status::in_failed_transaction;
        default:
            return transaction_status::unknown;
    }
}

int pq_session::backend_pid() const noexcept {
    return PQbackendPID(conn_);
}

int pq_session::socket() const noexcept {
    return PQsocket(conn_);
}

result<void> pq_session::consume_input() {
    if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
        return tl::unexpected(connection_error("the session ended", false));
    }
    return {};
}

std::optional<notification> pq_session::take_notification() {
    PGnotify* raw = PQnotifies(conn_);
    if (raw == nullptr) {
        return std::nullopt;
    }
    notification out{raw->relname != nullptr ? raw->relname : "",
                     raw->extra != nullptr ? raw->extra : "", raw->be_pid};
    PQfreemem(raw);
    return out;
}

host_address pq_session::connected_host() const {
    host_address address;
    if (const char* host = PQhost(conn_)) {
        address.host = host;
    }
    if (const char* port = PQport(conn_); port != nullptr && *port != '\0') {
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(port, port + std::strlen(port), value);
        if (ec == std::errc{} && *end == '\0' && value > 0 && value <= 65535) {
            address.port = static_cast<std::uint16_t>(value);
        }
    }
    return address;
}

std::optional<std::string_view> pq_session::reported_setting(std::string_view name) const {
    const std::string key{name};
    const char* value = PQparameterStatus(conn_, key.c_str());
    if (value == nullptr) {
        return std::nullopt;
    }
    return std::string_view{value};
}

int pq_session::server_version() const noexcept {
    return PQserverVersion(conn_);
}

}  // namespace pgkit::detail
