#include "pgkit/detail/keyset_pages.hpp"

#include "pgkit/repository.hpp"

#include "pagination/cursor_codec.hpp"
#include "pagination/keyset_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

namespace pgkit::detail {

namespace {

tl::unexpected<error> invalid_argument(std::string message) {
    return make_error(errc::invalid_argument, std::move(message));
}

/// Names the query a cursor belongs to: table (by name and identity), ordering, scope, filter
/// text and values.
std::string query_fingerprint(const page_query_input& input,
                              const table_facts& facts,
                              const std::vector<keyset_term>& terms) {
    std::string description = "pgkit.keyset.v1\n";
    description += input.sql.qualified_table;
    description += '\n';
    description += facts.identity;  // the same name in another schema or database is another table
    description += '\n';
    description += describe_ordering(input.sql, terms);
    description += fmt::format("\n{}\n", static_cast<std::size_t>(input.scope));
    description += input.condition;
    for (std::size_t i = 0; i < input.params.size(); ++i) {
        const auto value = input.params.value(i);
        if (value) {
            description += fmt::format("\n{}:", value->size());
            description += *value;
        } else {
            description += "\nNULL";
        }
    }
    return fingerprint_of(description);
}

/// The key values of a row (as the server wrote them) under `terms`.
result<cursor_values> position_of(const row& r, const std::vector<keyset_term>& terms) {
    cursor_values values;
    values.reserve(terms.size());
    for (const auto& term : terms) {
        auto text = r.text(term.column);
        if (!text) {
            return tl::unexpected(std::move(text).error());
        }
        if (*text) {
            values.emplace_back(std::string{**text});
        } else {
            values.emplace_back();
        }
    }
    return values;
}

/// A keyset page's statement, ready to run or explain.
struct page_statement {
    std::string sql;
    parameters params;
    std::vector<keyset_term> terms;  ///< the requested ordering, made total
    std::string fingerprint;
    std::optional<cursor_values> position;  ///< from the request's cursor
    std::vector<keyset_term> back;          ///< the walk's ordering reversed
    std::shared_ptr<const table_facts> facts;
    bool backward = false;
    std::size_t size = 0;
};

result<void> check_size(std::size_t size, std::string_view what) {
    if (size == 0 || size > max_page_size) {
        return invalid_argument(
            fmt::format("page: {} must be between 1 and {}", what, max_page_size));
    }
    return {};
}

/// Whether any row lies at the statement's cursor or before it (in the walk's order). Not
/// EXISTS: PostgreSQL drops the ORDER BY and LIMIT of an EXISTS subquery and may then scan the
/// table for any such row; a scalar subquery with ORDER BY ... LIMIT 1 probes the index at the
/// cursor.
std::string other_side_probe(const page_query_input& input,
                             const page_statement& statement,
                             parameters& params) {
    const auto& s = input.sql;
    return "COALESCE((SELECT true FROM " + s.qualified_table + std::string{input.condition} +
           " AND " +
           seek_condition(s, statement.back, statement.facts->not_null, *statement.position, true,
                          params) +
           order_by_clause(s, statement.back) + " LIMIT 1), false)";
}

result<page_statement> build_page_statement(const repository_executor& exec,
                                            const page_query_input& input,
                                            const page_request& request) {
    if (input.key == nullptr) {
        return invalid_argument(
            "page: keyset pages sign their cursors: construct the repository with a "
            "pgkit::cursor_key (repository(pool, key) or with_cursor_key)");
    }
    if ((request.first > 0) == (request.last > 0)) {
        return invalid_argument("page: set exactly one of `first` (forward) and `last` (backward)");
    }
    page_statement out;
    out.backward = request.last > 0;
    out.size = out.backward ? request.last : request.first;
    if (auto checked = check_size(out.size, out.backward ? "last" : "first"); !checked) {
        return tl::unexpected(std::move(checked).error());
    }
    if (!out.backward && !request.before.empty()) {
        return invalid_argument("page: `before` goes with `last`, not with `first`");
    }
    if (out.backward && !request.after.empty()) {
        return invalid_argument("page: `after` goes with `first`, not with `last`");
    }
    auto terms = total_ordering(input.sql, request.order_by);
    if (!terms) {
        return tl::unexpected(std::move(terms).error());
    }
    out.terms = std::move(*terms);
    // The catalog first (once per repository): the fingerprint names the table it resolved to.
    auto facts = input.facts.get(exec, input.sql);
    if (!facts) {
        return tl::unexpected(std::move(facts).error());
    }
    out.facts = std::move(*facts);
    out.fingerprint = query_fingerprint(input, *out.facts, out.terms);
    const std::string& cursor = out.backward ? request.before : request.after;
    if (!cursor.empty()) {
        auto position = decode_cursor(*input.key, out.fingerprint, cursor, out.terms.size());
        if (!position) {
            return tl::unexpected(std::move(position).error());
        }
        out.position = std::move(*position);
    }

    const auto walk = out.backward ? reversed(out.terms) : out.terms;
    out.back = reversed(walk);
    const auto& s = input.sql;
    out.params = input.params;
    out.sql = "SELECT " + s.select_list;
    std::string seek;
    if (out.position) {
        // Whether rows exist on the other side of the cursor, read with the page.
        out.sql += ", " + other_side_probe(input, out, out.params);
        seek = " AND " +
               seek_condition(s, walk, out.facts->not_null, *out.position, false, out.params);
    }
    out.sql += " FROM " + s.qualified_table + std::string{input.condition} + seek +
               order_by_clause(s, walk) + fmt::format(" LIMIT {}", out.size + 1);
    return out;
}

result<std::string> sign_position(const cursor_key& key,
                                  const std::string& fingerprint,
                                  const row& r,
                                  const std::vector<keyset_term>& terms) {
    auto values = position_of(r, terms);
    if (!values) {
        return tl::unexpected(std::move(values).error());
    }
    auto cursor = encode_cursor(key, fingerprint, *values);
    if (cursor.size() > max_cursor_chars) {
        // decode_cursor refuses it unread, so the client would get invalid_cursor for a cursor
        // it did not alter: say what is wrong here instead.
        return invalid_argument(fmt::format(
            "page: the ordering's values in this row need a cursor of {} characters (at most {} "
            "are accepted): order by shorter columns",
            cursor.size(), max_cursor_chars));
    }
    return cursor;
}

/// The value after `"<field>": ` in EXPLAIN's JSON, for each occurrence.
std::vector<std::string_view> json_fields(std::string_view json, std::string_view field) {
    std::vector<std::string_view> out;
    const std::string needle = fmt::format("\"{}\": ", field);
    for (std::size_t at = json.find(needle); at != std::string_view::npos;
         at = json.find(needle, at + 1)) {
        std::size_t start = at + needle.size();
        std::size_t end = start;
        if (start < json.size() && json[start] == '"') {
            ++start;
            end = json.find('"', start);
        } else {
            end = json.find_first_of(",}\n", start);
        }
        if (end == std::string_view::npos) {
            break;
        }
        out.push_back(json.substr(start, end - start));
    }
    return out;
}

result<void> add_total(const repository_executor& exec,
                       const page_query_input& input,
                       count_policy policy,
                       std::int64_t cap,
                       raw_page& page) {
    const auto& s = input.sql;
    const std::string from = " FROM " + s.qualified_table + std::string{input.condition};
    switch (policy) {
        case count_policy::none:
            return {};
        case count_policy::exact: {
            auto n = exec.run("SELECT count(*)" + from, input.params)
                         .and_then(&query_result::scalar<std::int64_t>);
            if (!n) {
                return tl::unexpected(std::move(n).error());
            }
            page.total_is = total_kind::exact;
            page.total = *n;
            return {};
        }
        case count_policy::capped: {
            if (cap < 0 || cap == std::numeric_limits<std::int64_t>::max()) {
                return invalid_argument("page: count_cap must be between 0 and INT64_MAX - 1");
            }
            auto n = exec.run(fmt::format("SELECT count(*) FROM (SELECT 1{} LIMIT {}) capped", from,
                                          cap + 1),
                              input.params)
                         .and_then(&query_result::scalar<std::int64_t>);
            if (!n) {
                return tl::unexpected(std::move(n).error());
            }
            page.total_is = *n > cap ? total_kind::at_least : total_kind::exact;
            page.total = *n;
            return {};
        }
        case count_policy::estimated: {
            auto plan = exec.run("EXPLAIN (FORMAT JSON) SELECT 1" + from, input.params, false)
                            .and_then(&query_result::scalar<std::string>);
            if (!plan) {
                return tl::unexpected(std::move(plan).error());
            }
            const auto rows = json_fields(*plan, "Plan Rows");
            double estimate = 0;
            if (rows.empty() ||
                std::from_chars(rows[0].data(), rows[0].data() + rows[0].size(), estimate).ec !=
                    std::errc{}) {
                return make_error(errc::internal, "page: no row estimate in EXPLAIN's output");
            }
            page.total_is = total_kind::estimated;
            page.total = static_cast<std::int64_t>(estimate);
            return {};
        }
    }
    return {};
}

}  // namespace

result<std::shared_ptr<const table_facts>> table_facts_cache::get(const repository_executor& exec,
                                                                  const entity_sql& sql) {
    std::lock_guard lock{mutex_};
    if (facts_) {
        return facts_;
    }
    auto rows = exec.run(
        "SELECT current_database()::text || '/' || c.oid::text, a.attname::text, a.attnotnull "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
        "WHERE c.oid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        parameters{sql.qualified_table});
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    auto facts = std::make_shared<table_facts>();
    facts->not_null.assign(sql.column_names.size(), false);
    for (const row& r : *rows) {
        auto fields = r.as<std::string, std::string, bool>();
        if (!fields) {
            return tl::unexpected(std::move(fields).error());
        }
        facts->identity = std::get<0>(*fields);
        for (std::size_t c = 0; c < sql.column_names.size(); ++c) {
            if (sql.column_names[c] == std::get<1>(*fields)) {
                facts->not_null[c] = std::get<2>(*fields);
            }
        }
    }
    facts_ = std::move(facts);
    return facts_;
}

result<raw_page> fetch_keyset_page(const repository_executor& exec,
                                   const page_query_input& input,
                                   const page_request& request) {
    auto statement = build_page_statement(exec, input, request);
    if (!statement) {
        return tl::unexpected(std::move(statement).error());
    }
    auto rows = exec.run(statement->sql, statement->params);
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    raw_page page;
    const std::size_t visible = std::min(rows->size(), statement->size);
    const bool more = rows->size() > statement->size;
    page.order.resize(visible);
    for (std::size_t i = 0; i < visible; ++i) {
        page.order[i] = statement->backward ? visible - 1 - i : i;
    }
    bool other_side = false;
    if (statement->position) {
        if (rows->empty()) {
            // An empty page carries no row to read the probe from: run it alone.
            parameters params = input.params;
            const std::string probe = "SELECT " + other_side_probe(input, *statement, params);
            auto exists = exec.run(probe, params).and_then(&query_result::scalar<bool>);
            if (!exists) {
                return tl::unexpected(std::move(exists).error());
            }
            other_side = *exists;
        } else {
            auto exists = (*rows)[0].get<bool>(input.sql.quoted_columns.size());
            if (!exists) {
                return tl::unexpected(std::move(exists).error());
            }
            other_side = *exists;
        }
    }
    page.has_next = statement->backward ? other_side : more;
    page.has_previous = statement->backward ? more : other_side;
    if (visible > 0) {
        auto first = sign_position(*input.key, statement->fingerprint, (*rows)[page.order.front()],
                                   statement->terms);
        auto last = sign_position(*input.key, statement->fingerprint, (*rows)[page.order.back()],
                                  statement->terms);
        if (!first || !last) {
            return tl::unexpected(!first ? first.error() : last.error());
        }
        page.previous_cursor = std::move(*first);
        page.next_cursor = std::move(*last);
    } else {
        const std::string& cursor = statement->backward ? request.before : request.after;
        page.previous_cursor = cursor;
        page.next_cursor = cursor;
    }
    page.rows = std::move(*rows);
    auto counted = add_total(exec, input, request.count, request.count_cap, page);
    if (!counted) {
        return tl::unexpected(std::move(counted).error());
    }
    return page;
}

result<raw_page> fetch_offset_page(const repository_executor& exec,
                                   const page_query_input& input,
                                   const offset_page_request& request) {
    if (auto checked = check_size(request.page_size, "page_size"); !checked) {
        return tl::unexpected(std::move(checked).error());
    }
    if (request.page_number < 1) {
        return invalid_argument("page_at: page_number starts at 1");
    }
    const auto size = static_cast<std::int64_t>(request.page_size);
    // The first test keeps the multiplication from overflowing.
    if (request.page_number - 1 > request.max_offset / size ||
        (request.page_number - 1) * size > request.max_offset) {
        return invalid_argument(fmt::format(
            "page_at: page {} starts past the maximum offset {}: OFFSET reads and discards every "
            "skipped row; use keyset pages (repository::page) this deep",
            request.page_number, request.max_offset));
    }
    const std::int64_t offset = (request.page_number - 1) * size;
    auto terms = total_ordering(input.sql, request.order_by);
    if (!terms) {
        return tl::unexpected(std::move(terms).error());
    }
    const auto& s = input.sql;
    auto rows = exec.run(
        fmt::format("SELECT {} FROM {}{}{} LIMIT {} OFFSET {}", s.select_list, s.qualified_table,
                    input.condition, order_by_clause(s, *terms), size + 1, offset),
        input.params);
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    raw_page page;
    const std::size_t visible = std::min(rows->size(), request.page_size);
    page.order.resize(visible);
    for (std::size_t i = 0; i < visible; ++i) {
        page.order[i] = i;
    }
    page.has_next = rows->size() > request.page_size;
    page.has_previous = offset > 0;
    if (input.key != nullptr && visible > 0) {
        auto facts = input.facts.get(exec, input.sql);
        if (!facts) {
            return tl::unexpected(std::move(facts).error());
        }
        auto last = sign_position(*input.key, query_fingerprint(input, **facts, *terms),
                                  (*rows)[page.order.back()], *terms);
        if (!last) {
            return tl::unexpected(std::move(last).error());
        }
        page.next_cursor = std::move(*last);
    }
    page.rows = std::move(*rows);
    auto counted = add_total(exec, input, request.count, request.count_cap, page);
    if (!counted) {
        return tl::unexpected(std::move(counted).error());
    }
    return page;
}

result<page_plan> explain_keyset_page(const repository_executor& exec,
                                      const page_query_input& input,
                                      const page_request& request) {
    auto statement = build_page_statement(exec, input, request);
    if (!statement) {
        return tl::unexpected(std::move(statement).error());
    }
    auto json = exec.run("EXPLAIN (FORMAT JSON) " + statement->sql, statement->params, false)
                    .and_then(&query_result::scalar<std::string>);
    if (!json) {
        return tl::unexpected(std::move(json).error());
    }
    page_plan plan;
    for (auto node : json_fields(*json, "Node Type")) {
        plan.node_types.emplace_back(node);
        plan.sorts = plan.sorts || node == "Sort" || node == "Incremental Sort";
        plan.seq_scan = plan.seq_scan || node == "Seq Scan";
    }
    plan.plan_json = std::move(*json);
    return plan;
}

}  // namespace pgkit::detail
