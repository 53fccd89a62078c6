#include "pgkit/statement_cache.hpp"

#include "driver/session_access.hpp"
#include "driver/session_check.hpp"
#include "sql/key_read_shape.hpp"

#include <fmt/format.h>

#include <utility>

namespace pgkit {
namespace {

/// The server no longer has the statement (26000), or its cached plan no longer fits the table
/// (0A000 "cached plan must not change result type"): preparing again fixes both.
bool needs_reprepare(const error& e) {
    return e.sqlstate() == "26000" ||
           (e.sqlstate() == "0A000" && e.message().find("cached plan") != std::string::npos);
}

}  // namespace

int statement_cache::extra_parameters(const entry& e) noexcept {
    return e.key_read() ? 2 : 0;  // the proof's table and row version (session_check.hpp)
}

void statement_cache::clear() noexcept {
    index_.clear();
    entries_.clear();
}

void statement_cache::forget(lru_list::iterator it) noexcept {
    index_.erase(it->sql);
    entries_.erase(it);
}

std::string statement_cache::add_entry(std::string_view sql, lru_list::iterator& added) {
    std::string evicted;
    if (entries_.size() >= capacity_) {
        auto victim = std::prev(entries_.end());
        evicted = victim->name;
        forget(victim);
    }
    std::string name = fmt::format("pgkit_{}", next_id_++);
    // The shape is read once, when the text is first cached. A key read has no string token,
    // the only place standard_conforming_strings changes how a text lexes, so the default
    // options give every session's answer.
    const auto shape = detail::sql::read_key_read_shape(sql);
    entries_.push_front(entry{std::string{sql},
                              std::move(name),
                              {},
                              false,
                              0,
                              shape ? detail::key_read_with_proof(sql, *shape) : std::string{}});
    added = entries_.begin();
    try {
        index_.emplace(added->sql, added);
    } catch (...) {
        entries_.erase(added);
        throw;
    }
    return evicted;
}

result<statement_cache::lru_list::iterator> statement_cache::prepare_new(connection& conn,
                                                                         std::string_view sql) {
    lru_list::iterator it;
    const std::string evicted = add_entry(sql, it);
    if (!evicted.empty()) {
        // Best effort: a failed DEALLOCATE only leaves an unused statement behind (names are
        // never reused), unless the connection broke, which the next statement reports anyway.
        (void)conn.deallocate(evicted);
    }
    if (auto prepared = conn.prepare(it->name, it->prepared_sql()); !prepared) {
        forget(it);
        return tl::unexpected(std::move(prepared).error());
    }
    return it;
}

std::optional<statement_cache::pipeline_use> statement_cache::use_in_pipeline(
    std::string_view sql) {
    if (capacity_ == 0) {
        return std::nullopt;
    }
    if (auto found = index_.find(sql); found != index_.end()) {
        ++hits_;
        entries_.splice(entries_.begin(), entries_, found->second);
        return pipeline_use{found->second->name, false, {}, {}, extra_parameters(*found->second)};
    }
    ++misses_;
    lru_list::iterator it;
    std::string evicted = add_entry(sql, it);
    return pipeline_use{it->name, true, std::string{it->prepared_sql()}, std::move(evicted),
                        extra_parameters(*it)};
}

void statement_cache::forget_name(std::string_view name) noexcept {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->name == name) {
            forget(it);
            return;
        }
    }
}

result<query_result> statement_cache::execute(connection& conn,
                                              std::string_view sql,
                                              const parameters& params,
                                              binary_rows_filter binary) {
    if (capacity_ == 0 || conn.status() == transaction_status::in_failed_transaction) {
        return conn.execute_params(sql, params);  // reports 25P02 without a wasted prepare
    }
    if (const auto& failure = params.encoding_error()) {
        return tl::unexpected(*failure);
    }
    auto found = index_.find(sql);
    lru_list::iterator it;
    if (found != index_.end()) {
        ++hits_;
        it = found->second;
        entries_.splice(entries_.begin(), entries_, it);
    } else {
        ++misses_;
        auto prepared = prepare_new(conn, sql);
        if (!prepared) {
            return tl::unexpected(std::move(prepared).error());
        }
        it = *prepared;
    }
    const bool in_transaction = conn.status() != transaction_status::idle;
    auto outcome = run(conn, *it, params, format_for(*it, binary));
    if (outcome) {
        return outcome;
    }
    if (!needs_reprepare(outcome.error())) {
        return outcome;
    }
    const std::string stale = it->name;
    forget(it);
    if (in_transaction) {
        return outcome;  // the transaction is aborted; the next use prepares afresh
    }
    if (outcome.error().sqlstate() != "26000") {
        (void)conn.deallocate(stale);  // still exists, with an outdated plan
    }
    auto prepared = prepare_new(conn, sql);
    if (!prepared) {
        return tl::unexpected(std::move(prepared).error());
    }
    return run(conn, **prepared, params, row_format::text);
}

result<query_result> statement_cache::run(connection& conn,
                                          entry& e,
                                          const parameters& params,
                                          row_format format) {
    auto outcome = e.key_read() ? detail::session_access::execute_key_read(conn, e.name, params,
                                                                           format, e.read_table)
                                : conn.execute_prepared_params(e.name, params, format);
    if (!outcome) {
        return outcome;
    }
    learn_column_types(e, *outcome);
    return outcome;
}

row_format statement_cache::format_for(const entry& e, binary_rows_filter binary) noexcept {
    if (binary != nullptr && e.column_types_known && binary(e.column_types)) {
        ++binary_executions_;
        return row_format::binary;
    }
    return row_format::text;
}

void statement_cache::learn_column_types(entry& e, const query_result& rows) {
    if (e.column_types_known) {
        return;
    }
    e.column_types.resize(rows.columns());
    for (std::size_t column = 0; column < rows.columns(); ++column) {
        e.column_types[column] = rows.column_type(column);
    }
    e.column_types_known = true;
}

}  // namespace pgkit
