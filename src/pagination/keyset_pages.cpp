#include "pgkit/detail/keyset_pages.hpp"

#include "pagination/cursor_codec.hpp"
#include "pagination/keyset_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <utility>

namespace pgkit::detail {

/// One statement text of a shape: for pages of `size` rows, without a cursor or with a cursor
/// whose NULL values are the bits of `nulls`.
struct page_text {
    std::size_t size = 0;
    bool positioned = false;
    std::uint64_t nulls = 0;
    std::shared_ptr<const std::string> sql;
};

struct page_shape {
    // What makes two requests the same shape.
    std::vector<keyset_term> terms;  ///< the requested ordering, made total
    row_scope scope = row_scope::live;
    std::string condition;  ///< " WHERE <filter> AND <scope>", with $n placeholders
    bool backward = false;
    seek_form form = seek_form::automatic;

    // What follows from it.
    std::vector<keyset_term> walk;  ///< the order rows are read in (terms, or reversed backward)
    std::vector<keyset_term> back;  ///< the walk reversed: the cursor's other side
    std::string description;        ///< the fingerprint's text, before the filter's values
    std::string bare_fingerprint;   ///< the fingerprint when the filter has no values

    /// Statement texts by page size and cursor NULL pattern, built on first use (at most
    /// max_texts; past that they are built on every request).
    static constexpr std::size_t max_texts = 32;
    mutable std::mutex mutex;
    mutable std::vector<page_text> texts;

    [[nodiscard]] bool same_request(const page_shape& other) const {
        return backward == other.backward && form == other.form && scope == other.scope &&
               condition == other.condition &&
               std::equal(terms.begin(), terms.end(), other.terms.begin(), other.terms.end(),
                          [](const keyset_term& a, const keyset_term& b) {
                              return a.column == b.column && a.descending == b.descending &&
                                     a.nulls_first == b.nulls_first;
                          });
    }
};

namespace {

tl::unexpected<error> invalid_argument(std::string message) {
    return make_error(errc::invalid_argument, std::move(message));
}

/// The shape of a page request with `terms` (its cache entry when there is one).
std::shared_ptr<const page_shape> shape_of(const page_query_input& input,
                                           const table_facts& facts,
                                           std::vector<keyset_term> terms,
                                           bool backward) {
    page_shape probe;
    probe.terms = std::move(terms);
    probe.scope = input.scope;
    probe.condition = input.condition;
    probe.backward = backward;
    probe.form = input.form;
    if (auto cached = input.cache.find(probe)) {
        return cached;
    }
    auto shape = std::make_shared<page_shape>();
    shape->terms = std::move(probe.terms);
    shape->scope = probe.scope;
    shape->condition = std::move(probe.condition);
    shape->backward = backward;
    shape->form = input.form;
    shape->walk = backward ? reversed(shape->terms) : shape->terms;
    shape->back = reversed(shape->walk);
    // Names the query a cursor belongs to: table (by name and identity: the same name in
    // another schema or database is another table), ordering, scope and filter text. Not the
    // direction: a page's cursors work both ways.
    shape->description = "pgkit.keyset.v1\n";
    shape->description += input.sql.qualified_table;
    shape->description += '\n';
    shape->description += facts.identity;
    shape->description += '\n';
    shape->description += describe_ordering(input.sql, shape->terms);
    shape->description += fmt::format("\n{}\n", static_cast<std::size_t>(input.scope));
    shape->description += input.condition;
    shape->bare_fingerprint = fingerprint_of(shape->description);
    input.cache.keep(shape);
    return shape;
}

/// The shape's fingerprint text completed with the filter's values.
std::string query_fingerprint(const page_shape& shape, const parameters& params) {
    if (params.size() == 0) {
        return shape.bare_fingerprint;
    }
    std::string description = shape.description;
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto value = params.value(i);
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
    std::shared_ptr<const std::string> sql;
    parameters params;
    std::string fingerprint;
    std::optional<cursor_values> position;  ///< from the request's cursor
    std::shared_ptr<const page_shape> shape;
    std::shared_ptr<const table_facts> facts;
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
/// cursor. Appends the cursor's values to `params`.
std::string other_side_probe(const page_query_input& input,
                             const page_statement& statement,
                             parameters& params) {
    const auto& s = input.sql;
    const auto& shape = *statement.shape;
    return "COALESCE((SELECT true FROM " + s.qualified_table + shape.condition + " AND " +
           seek_condition(s, shape.back, statement.facts->not_null, *statement.position, true,
                          params, shape.form) +
           order_by_clause(s, shape.back) + " LIMIT 1), false)";
}

/// The statement's SQL text, built from its shape, cursor and size. Appends the cursor's values
/// to `params` (after the filter's), as the text numbers them.
std::string page_sql(const page_query_input& input,
                     const page_statement& statement,
                     parameters& params) {
    const auto& s = input.sql;
    const auto& shape = *statement.shape;
    std::string sql = "SELECT " + s.select_list;
    std::string seek;
    if (statement.position) {
        // Whether rows exist on the other side of the cursor, read with the page.
        sql += ", " + other_side_probe(input, statement, params);
        seek = " AND " + seek_condition(s, shape.walk, statement.facts->not_null,
                                        *statement.position, false, params, shape.form);
    }
    sql += " FROM " + s.qualified_table + shape.condition + seek + order_by_clause(s, shape.walk) +
           fmt::format(" LIMIT {}", statement.size + 1);
    return sql;
}

/// Appends the parameters page_sql appends: each non-NULL cursor value, once for the probe of
/// the other side and once for the seek (seek_condition numbers them in term order).
void add_position(const cursor_values& position, parameters& params) {
    for (int pass = 0; pass < 2; ++pass) {
        for (const auto& value : position) {
            if (value) {
                params.add(*value);
            }
        }
    }
}

/// Sets the statement's SQL text and parameters, from the shape's cache when it has the text.
void set_sql(const page_query_input& input, page_statement& statement) {
    const auto& shape = *statement.shape;
    page_text wanted{statement.size, statement.position.has_value(), 0, nullptr};
    const bool cacheable = !statement.position || statement.position->size() <= 64;
    if (statement.position && cacheable) {
        for (std::size_t i = 0; i < statement.position->size(); ++i) {
            if (!(*statement.position)[i]) {
                wanted.nulls |= std::uint64_t{1} << i;
            }
        }
    }
    statement.params = input.params;
    if (cacheable) {
        std::lock_guard lock{shape.mutex};
        for (const auto& text : shape.texts) {
            if (text.size == wanted.size && text.positioned == wanted.positioned &&
                text.nulls == wanted.nulls) {
                statement.sql = text.sql;
                break;
            }
        }
    }
    if (statement.sql) {
        if (statement.position) {
            add_position(*statement.position, statement.params);
        }
        return;
    }
    statement.sql =
        std::make_shared<const std::string>(page_sql(input, statement, statement.params));
    if (cacheable) {
        std::lock_guard lock{shape.mutex};
        if (shape.texts.size() < page_shape::max_texts) {
            wanted.sql = statement.sql;
            shape.texts.push_back(std::move(wanted));
        }
    }
}

result<page_statement> build_page_statement(const executor& exec,
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
    const bool backward = request.last > 0;
    out.size = backward ? request.last : request.first;
    if (auto checked = check_size(out.size, backward ? "last" : "first"); !checked) {
        return tl::unexpected(std::move(checked).error());
    }
    if (!backward && !request.before.empty()) {
        return invalid_argument("page: `before` goes with `last`, not with `first`");
    }
    if (backward && !request.after.empty()) {
        return invalid_argument("page: `after` goes with `first`, not with `last`");
    }
    auto terms = total_ordering(input.sql, request.order_by);
    if (!terms) {
        return tl::unexpected(std::move(terms).error());
    }
    // The catalog first (once per repository): the fingerprint names the table it resolved to.
    auto facts = input.cache.facts(exec, input.sql);
    if (!facts) {
        return tl::unexpected(std::move(facts).error());
    }
    out.facts = std::move(*facts);
    if (input.form == seek_form::row_value && !row_value_exact(*terms, out.facts->not_null)) {
        return invalid_argument(
            "page: a row-value comparison only pages exactly when every term of the ordering has "
            "the same direction and every column is NOT NULL");
    }
    out.shape = shape_of(input, *out.facts, std::move(*terms), backward);
    out.fingerprint = query_fingerprint(*out.shape, input.params);
    const std::string& cursor = backward ? request.before : request.after;
    if (!cursor.empty()) {
        auto position = decode_cursor(*input.key, out.fingerprint, cursor, out.shape->terms.size());
        if (!position) {
            return tl::unexpected(std::move(position).error());
        }
        out.position = std::move(*position);
    }
    set_sql(input, out);
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

/// The statement that counts the page's rows under `policy` (nullopt for count_policy::none).
result<std::optional<std::string>> count_statement(const page_query_input& input,
                                                   count_policy policy,
                                                   std::int64_t cap) {
    const auto& s = input.sql;
    const std::string from = " FROM " + s.qualified_table + std::string{input.condition};
    switch (policy) {
        case count_policy::none:
            return std::nullopt;
        case count_policy::exact:
            return "SELECT count(*)" + from;
        case count_policy::capped:
            if (cap < 0 || cap == std::numeric_limits<std::int64_t>::max()) {
                return invalid_argument("page: count_cap must be between 0 and INT64_MAX - 1");
            }
            return fmt::format("SELECT count(*) FROM (SELECT 1{} LIMIT {}) capped", from, cap + 1);
        case count_policy::estimated:
            return "EXPLAIN (FORMAT JSON) SELECT 1" + from;
    }
    return std::nullopt;
}

/// Reads the count statement's result into the page.
result<void> take_total(count_policy policy,
                        std::int64_t cap,
                        const query_result& counted,
                        raw_page& page) {
    if (policy == count_policy::estimated) {
        auto plan = counted.scalar<std::string>();
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
    auto n = counted.scalar<std::int64_t>();
    if (!n) {
        return tl::unexpected(std::move(n).error());
    }
    page.total_is =
        policy == count_policy::capped && *n > cap ? total_kind::at_least : total_kind::exact;
    page.total = *n;
    return {};
}

/// The page's rows, and its total when `policy` asks for one: both in one round trip (a
/// pipeline of two statements on one connection).
result<query_result> read_rows_and_total(const executor& exec,
                                         const page_query_input& input,
                                         count_policy policy,
                                         std::int64_t cap,
                                         std::string_view sql,
                                         const parameters& params,
                                         raw_page& page) {
    auto counting = count_statement(input, policy, cap);
    if (!counting) {
        return tl::unexpected(std::move(counting).error());
    }
    if (!*counting) {
        return exec.read(sql, params);
    }
    auto both = exec.read_pair(sql, params, **counting, input.params);
    if (!both) {
        return tl::unexpected(std::move(both).error());
    }
    auto& [rows, counted] = *both;
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    if (!counted) {
        return tl::unexpected(std::move(counted).error());
    }
    if (auto taken = take_total(policy, cap, *counted, page); !taken) {
        return tl::unexpected(std::move(taken).error());
    }
    return std::move(*rows);
}

}  // namespace

result<std::shared_ptr<const table_facts>> keyset_cache::facts(const executor& exec,
                                                               const entity_sql& sql) {
    std::lock_guard lock{mutex_};
    if (facts_) {
        return facts_;
    }
    auto rows = exec.read(
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

std::shared_ptr<const page_shape> keyset_cache::find(const page_shape& probe) {
    std::lock_guard lock{mutex_};
    for (const auto& shape : shapes_) {
        if (shape->same_request(probe)) {
            return shape;
        }
    }
    return nullptr;
}

void keyset_cache::keep(std::shared_ptr<const page_shape> shape) {
    std::lock_guard lock{mutex_};
    if (shapes_.size() == max_shapes) {
        shapes_.erase(shapes_.begin());
    }
    shapes_.push_back(std::move(shape));
}

result<raw_page> fetch_keyset_page(const executor& exec,
                                   const page_query_input& input,
                                   const page_request& request) {
    auto statement = build_page_statement(exec, input, request);
    if (!statement) {
        return tl::unexpected(std::move(statement).error());
    }
    raw_page page;
    auto rows = read_rows_and_total(exec, input, request.count, request.count_cap, *statement->sql,
                                    statement->params, page);
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    const std::size_t visible = std::min(rows->size(), statement->size);
    const bool more = rows->size() > statement->size;
    page.order.resize(visible);
    for (std::size_t i = 0; i < visible; ++i) {
        page.order[i] = statement->shape->backward ? visible - 1 - i : i;
    }
    bool other_side = false;
    if (statement->position) {
        if (rows->empty()) {
            // An empty page carries no row to read the probe from: run it alone.
            parameters params = input.params;
            const std::string probe = "SELECT " + other_side_probe(input, *statement, params);
            auto exists = exec.read(probe, params).and_then(&query_result::scalar<bool>);
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
    page.has_next = statement->shape->backward ? other_side : more;
    page.has_previous = statement->shape->backward ? more : other_side;
    if (visible > 0) {
        auto first = sign_position(*input.key, statement->fingerprint, (*rows)[page.order.front()],
                                   statement->shape->terms);
        auto last = sign_position(*input.key, statement->fingerprint, (*rows)[page.order.back()],
                                  statement->shape->terms);
        if (!first || !last) {
            return tl::unexpected(!first ? first.error() : last.error());
        }
        page.previous_cursor = std::move(*first);
        page.next_cursor = std::move(*last);
    } else {
        const std::string& cursor = statement->shape->backward ? request.before : request.after;
        page.previous_cursor = cursor;
        page.next_cursor = cursor;
    }
    page.rows = std::move(*rows);
    return page;
}

namespace {

/// An offset page's statement: its text and its total ordering.
struct offset_statement {
    std::string sql;
    /// The condition's parameters, then LIMIT's and OFFSET's: bound, so that every page of one
    /// query shape is one prepared statement.
    parameters params;
    std::vector<keyset_term> terms;
    std::int64_t offset = 0;
};

/// Checks the request and builds its statement: OFFSET/LIMIT over the table, or with a deferred
/// join, OFFSET/LIMIT over the key alone (an index holding the ordering and the key serves it
/// without visiting the rows it skips) and the page's rows read by key.
result<offset_statement> build_offset_statement(const page_query_input& input,
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
    offset_statement out;
    out.offset = (request.page_number - 1) * size;
    auto terms = total_ordering(input.sql, request.order_by);
    if (!terms) {
        return tl::unexpected(std::move(terms).error());
    }
    out.terms = std::move(*terms);
    const auto& s = input.sql;
    const std::string order = order_by_clause(s, out.terms);
    out.params = input.params;
    out.params.add(size + 1);
    out.params.add(out.offset);
    const std::string limit =
        fmt::format("LIMIT ${}::int8 OFFSET ${}::int8", out.params.size() - 1, out.params.size());
    if (!request.deferred_join) {
        out.sql = fmt::format("SELECT {} FROM {}{}{} {}", s.select_list, s.qualified_table,
                              input.condition, order, limit);
        return out;
    }
    std::string key;
    for (std::size_t k : s.key) {
        key += (key.empty() ? "" : ", ") + s.quoted_columns[k];
    }
    out.sql = fmt::format("SELECT {} FROM {} WHERE ({}) IN (SELECT {} FROM {}{}{} {}){}",
                          s.select_list, s.qualified_table, key, key, s.qualified_table,
                          input.condition, order, limit, order);
    return out;
}

/// A number of EXPLAIN's JSON output (0 when it does not parse).
double json_number(std::string_view text) {
    double value = 0;
    if (std::from_chars(text.data(), text.data() + text.size(), value).ec != std::errc{}) {
        return 0;
    }
    return value;
}

/// page_plan's buffers and rows_scanned from EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)'s output:
/// the first node's buffer counts include its children's; every node has one Node Type, Actual
/// Rows and Actual Loops, in the same order.
void read_analyze_counts(page_plan& plan, std::string_view json) {
    const auto hit = json_fields(json, "Shared Hit Blocks");
    const auto read = json_fields(json, "Shared Read Blocks");
    plan.buffers = static_cast<std::int64_t>((hit.empty() ? 0 : json_number(hit[0])) +
                                             (read.empty() ? 0 : json_number(read[0])));
    const auto rows = json_fields(json, "Actual Rows");
    const auto loops = json_fields(json, "Actual Loops");
    double scanned = 0;
    for (std::size_t i = 0; i < plan.node_types.size() && i < rows.size() && i < loops.size();
         ++i) {
        const auto& node = plan.node_types[i];
        if (node.ends_with("Scan") && node != "Subquery Scan" && node != "CTE Scan" &&
            node != "Function Scan" && node != "Values Scan" && node != "Bitmap Index Scan") {
            scanned += json_number(rows[i]) * json_number(loops[i]);
        }
    }
    for (auto removed : json_fields(json, "Rows Removed by Filter")) {
        scanned += json_number(removed);
    }
    plan.rows_scanned = scanned;
}

}  // namespace

result<page_plan> explain_statement(const executor& exec,
                                    std::string_view sql,
                                    const parameters& params,
                                    bool analyze) {
    const char* prefix =
        analyze ? "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " : "EXPLAIN (FORMAT JSON) ";
    auto json = exec.read(prefix + std::string{sql}, params, false)
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
    if (analyze) {
        read_analyze_counts(plan, *json);
    }
    plan.plan_json = std::move(*json);
    return plan;
}

result<raw_page> fetch_offset_page(const executor& exec,
                                   const page_query_input& input,
                                   const offset_page_request& request) {
    auto statement = build_offset_statement(input, request);
    if (!statement) {
        return tl::unexpected(std::move(statement).error());
    }
    const std::int64_t offset = statement->offset;
    const auto* terms = &statement->terms;
    raw_page page;
    auto rows = read_rows_and_total(exec, input, request.count, request.count_cap, statement->sql,
                                    statement->params, page);
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    const std::size_t visible = std::min(rows->size(), request.page_size);
    page.order.resize(visible);
    for (std::size_t i = 0; i < visible; ++i) {
        page.order[i] = i;
    }
    page.has_next = rows->size() > request.page_size;
    page.has_previous = offset > 0;
    if (input.key != nullptr && visible > 0) {
        auto facts = input.cache.facts(exec, input.sql);
        if (!facts) {
            return tl::unexpected(std::move(facts).error());
        }
        const auto shape = shape_of(input, **facts, *terms, false);
        auto last = sign_position(*input.key, query_fingerprint(*shape, input.params),
                                  (*rows)[page.order.back()], shape->terms);
        if (!last) {
            return tl::unexpected(std::move(last).error());
        }
        page.next_cursor = std::move(*last);
    }
    page.rows = std::move(*rows);
    return page;
}

result<page_plan> explain_keyset_page(const executor& exec,
                                      const page_query_input& input,
                                      const page_request& request,
                                      bool analyze) {
    auto statement = build_page_statement(exec, input, request);
    if (!statement) {
        return tl::unexpected(std::move(statement).error());
    }
    return explain_statement(exec, *statement->sql, statement->params, analyze);
}

result<page_plan> explain_offset_page(const executor& exec,
                                      const page_query_input& input,
                                      const offset_page_request& request,
                                      bool analyze) {
    auto statement = build_offset_statement(input, request);
    if (!statement) {
        return tl::unexpected(std::move(statement).error());
    }
    return explain_statement(exec, statement->sql, statement->params, analyze);
}

}  // namespace pgkit::detail
