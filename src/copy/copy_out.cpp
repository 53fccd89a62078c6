// connection::copy_out: COPY (query) TO STDOUT, one row at a time to a sink.
#include "pgkit/connection.hpp"
#include "pgkit/copy_row.hpp"

#include "copy/copy_text.hpp"
#include "driver/pq_session.hpp"
#include "sql/literal.hpp"
#include "sql/statement_kind.hpp"

#include <utility>

namespace pgkit {

std::size_t copy_row::size() const noexcept {
    return fields_->size();
}

std::optional<std::string_view> copy_row::field(std::size_t column) const noexcept {
    const detail::copy_field& f = (*fields_)[column];
    if (f.is_null) {
        return std::nullopt;
    }
    return std::string_view{*storage_}.substr(f.offset, f.length);
}

void copy_row::fields(std::span<std::optional<std::string_view>> out) const noexcept {
    for (std::size_t column = 0; column < out.size(); ++column) {
        out[column] = field(column);
    }
}

result<std::uint64_t> connection::copy_out(std::string_view select_sql,
                                           const parameters& params,
                                           const copy_row_sink& sink) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    auto query = detail::sql::inline_parameters(select_sql, params, session_->lexer_options());
    if (!query) {
        return tl::unexpected(std::move(query).error());
    }
    if (detail::sql::kind_of_statement(*query, session_->lexer_options()) !=
        detail::sql::statement_kind::query) {
        return make_error(errc::invalid_argument,
                          "copy_out takes one query (SELECT, VALUES, TABLE, WITH, or DML with "
                          "RETURNING)");
    }
    const std::string copy_sql = "COPY (" + *query + "\n) TO STDOUT";
    if (auto allowed = check_session_effects(copy_sql); !allowed) {
        return tl::unexpected(std::move(allowed).error());
    }
    note_statement(copy_sql);
    // A cancel would abort an open transaction block: there an early stop reads the rest.
    const bool in_block = session_->in_transaction_block();
    if (auto started = session_->copy_out_start(copy_sql); !started) {
        return tl::unexpected(std::move(started).error());
    }
    std::string storage;
    std::vector<detail::copy_field> fields;
    std::uint64_t delivered = 0;
    std::optional<error> failure;
    for (;;) {
        auto line = session_->copy_out_next();
        if (!line) {
            return tl::unexpected(std::move(line).error());
        }
        if (!*line) {
            return delivered;  // the server ended the COPY
        }
        auto parsed = detail::parse_copy_line(**line, storage, fields);
        if (!parsed) {
            failure = std::move(parsed).error();
            break;
        }
        auto go_on = sink(copy_row{**line, storage, fields});
        if (!go_on) {
            failure = std::move(go_on).error();
            break;
        }
        ++delivered;
        if (!*go_on) {
            break;
        }
    }
    // Stopped early: end the COPY so the session is ready for the next statement.
    if (auto stopped = session_->copy_out_stop(!in_block); !stopped) {
        return tl::unexpected(std::move(stopped).error());
    }
    if (failure) {
        return tl::unexpected(std::move(*failure));
    }
    return delivered;
}

}  // namespace pgkit
