#include "pgkit/error.hpp"

#include <array>
#include <utility>

namespace pgkit {

std::string_view to_string(errc code) noexcept {
    switch (code) {
        case errc::connection_failed:
            return "connection_failed";
        case errc::connection_lost:
            return "connection_lost";
        case errc::pool_timeout:
            return "pool_timeout";
        case errc::pool_closed:
            return "pool_closed";
        case errc::statement_timeout:
            return "statement_timeout";
        case errc::lock_timeout:
            return "lock_timeout";
        case errc::query_canceled:
            return "query_canceled";
        case errc::not_found:
            return "not_found";
        case errc::version_conflict:
            return "version_conflict";
        case errc::unique_violation:
            return "unique_violation";
        case errc::foreign_key_violation:
            return "foreign_key_violation";
        case errc::not_null_violation:
            return "not_null_violation";
        case errc::check_violation:
            return "check_violation";
        case errc::serialization_failure:
            return "serialization_failure";
        case errc::deadlock_detected:
            return "deadlock_detected";
        case errc::undefined_table:
            return "undefined_table";
        case errc::undefined_column:
            return "undefined_column";
        case errc::syntax_error:
            return "syntax_error";
        case errc::insufficient_privilege:
            return "insufficient_privilege";
        case errc::invalid_argument:
            return "invalid_argument";
        case errc::invalid_cursor:
            return "invalid_cursor";
        case errc::internal:
            return "internal";
        case errc::data_exception:
            return "data_exception";
        case errc::type_mismatch:
            return "type_mismatch";
        case errc::transaction_aborted:
            return "transaction_aborted";
        case errc::server_error:
            return "server_error";
        case errc::already_running:
            return "already_running";
        case errc::commit_unknown:
            return "commit_unknown";
        case errc::read_only_node:
            return "read_only_node";
        case errc::split_brain:
            return "split_brain";
        case errc::round_trip_budget_exceeded:
            return "round_trip_budget_exceeded";
        case errc::busy:
            return "busy";
        case errc::checksum_mismatch:
            return "checksum_mismatch";
        case errc::migration_refused:
            return "migration_refused";
        case errc::migration_source_invalid:
            return "migration_source_invalid";
    }
    return "unknown";
}

error::error(errc code, std::string message) : code_(code), message_(std::move(message)) {}

error& error::with_context(std::string_view context) {
    message_.insert(0, std::string{context} + ": ");
    return *this;
}

bool error::is_retryable() const noexcept {
    switch (code_) {
        case errc::serialization_failure:
        case errc::deadlock_detected:
        case errc::lock_timeout:
        case errc::pool_timeout:    // nothing ran; a connection may come back
        case errc::read_only_node:  // nothing was written; the primary is elsewhere now
            return true;
        case errc::connection_failed:
            // Nothing ran. A server that is down, starting (57P03) or full (53300) may accept a
            // later attempt; bad credentials (class 28) and a missing database (3D000) will not.
            return !(sqlstate_.starts_with("28") || sqlstate_ == "3D000");
        case errc::connection_lost:
            // Inside a transaction block the server rolled the work back with the session. Outside
            // one, only a server that said why it closed the session (57P01 and the like, sent
            // instead of the statement's result) proves the statement did not commit; a session
            // that just vanished may have committed it before its reply was lost.
            return in_transaction_ || !sqlstate_.empty();
        default:
            return false;
    }
}

bool error::poisons_connection() const noexcept {
    return code_ == errc::connection_lost || code_ == errc::connection_failed ||
           code_ == errc::commit_unknown || code_ == errc::read_only_node ||
           code_ == errc::internal;
}

std::string error::to_string() const {
    std::string out{pgkit::to_string(code_)};
    if (!sqlstate_.empty()) {
        out += " [" + sqlstate_ + "]";
    }
    out += ": " + message_;
    if (!constraint_.empty()) {
        out += " (constraint " + constraint_ + ")";
    } else if (!column_.empty()) {
        out += " (column " + column_ + ")";
    } else if (!table_.empty()) {
        out += " (table " + table_ + ")";
    }
    return out;
}

error& error::with_sqlstate(std::string sqlstate) {
    sqlstate_ = std::move(sqlstate);
    return *this;
}

error& error::with_location(std::string schema,
                            std::string table,
                            std::string column,
                            std::string constraint) {
    schema_ = std::move(schema);
    table_ = std::move(table);
    column_ = std::move(column);
    constraint_ = std::move(constraint);
    return *this;
}

error& error::with_detail(std::string detail, std::string hint) {
    detail_ = std::move(detail);
    hint_ = std::move(hint);
    return *this;
}

error& error::with_in_transaction(bool in_transaction) noexcept {
    in_transaction_ = in_transaction;
    return *this;
}

error& error::with_current_version(std::int64_t version) noexcept {
    current_version_ = version;
    return *this;
}

errc errc_from_sqlstate(std::string_view state, std::string_view message) noexcept {
    struct exact_code {
        std::string_view sqlstate;
        errc code;
    };
    static constexpr std::array exact{
        exact_code{"23505", errc::unique_violation},
        exact_code{"23503", errc::foreign_key_violation},
        exact_code{"23502", errc::not_null_violation}, exact_code{"23514", errc::check_violation},
        exact_code{"23P01", errc::check_violation},
        exact_code{"40001", errc::serialization_failure},
        exact_code{"40P01", errc::deadlock_detected}, exact_code{"42P01", errc::undefined_table},
        exact_code{"42703", errc::undefined_column}, exact_code{"42601", errc::syntax_error},
        exact_code{"42501", errc::insufficient_privilege}, exact_code{"55P03", errc::lock_timeout},
        exact_code{"25P02", errc::transaction_aborted}, exact_code{"P0002", errc::not_found},
        exact_code{"28000", errc::connection_failed},  // invalid_authorization_specification
        exact_code{"28P01", errc::connection_failed},  // invalid_password
        exact_code{"3D000", errc::connection_failed},  // invalid_catalog_name (no such database)
        exact_code{"53300", errc::connection_failed},  // too_many_connections
        exact_code{"57P03", errc::connection_failed},  // cannot_connect_now (starting up)
        // protocol_violation on a session that is still open: the statement's parameters did not
        // match it ("bind message supplies 2 parameters, but prepared statement requires 1");
        // pq_session reports connection_lost when the server closed the session instead.
        exact_code{"08P01", errc::invalid_argument},
        exact_code{"57P01", errc::connection_lost},  // admin_shutdown
        exact_code{"57P02", errc::connection_lost},  // crash_shutdown
        exact_code{"25P03", errc::connection_lost},  // idle_in_transaction_session_timeout
        exact_code{"57P05", errc::connection_lost},  // idle_session_timeout
    };
    for (const auto& entry : exact) {
        if (entry.sqlstate == state) {
            return entry.code;
        }
    }
    if (state == "57014") {
        // The server raises 57014 for both; only its message tells them apart.
        return message.find("statement timeout") != std::string_view::npos ? errc::statement_timeout
                                                                           : errc::query_canceled;
    }
    const std::string_view cls = state.substr(0, 2);
    if (cls == "08") {
        return errc::connection_lost;
    }
    if (cls == "22") {
        return errc::data_exception;
    }
    if (cls == "XX") {
        return errc::internal;
    }
    return errc::server_error;
}

}  // namespace pgkit
