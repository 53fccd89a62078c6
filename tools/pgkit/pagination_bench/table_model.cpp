#include "pagination_bench/table_model.hpp"

#include "pgkit/detail/repository_statements.hpp"

#include "pagination/keyset_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <utility>

namespace pgkit::tools {

namespace {

tl::unexpected<error> bad(std::string message) {
    return make_error(errc::invalid_argument, std::move(message));
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
        text.remove_prefix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
        text.remove_suffix(1);
    }
    return text;
}

bool same_word(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

/// Splits `text` at top-level commas (outside double quotes).
std::vector<std::string_view> split_terms(std::string_view text) {
    std::vector<std::string_view> out;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '"') {
            quoted = !quoted;
        } else if (text[i] == ',' && !quoted) {
            out.push_back(text.substr(start, i - start));
            start = i + 1;
        }
    }
    out.push_back(text.substr(start));
    return out;
}

/// The column name a term starts with (a double-quoted name keeps its case and doubled quotes;
/// an unquoted one is folded to lower case, as SQL does), and the rest of the term.
result<std::pair<std::string, std::string_view>> leading_name(std::string_view term) {
    std::string name;
    if (term.front() == '"') {
        std::size_t i = 1;
        for (; i < term.size(); ++i) {
            if (term[i] == '"') {
                if (i + 1 < term.size() && term[i + 1] == '"') {
                    name += '"';
                    ++i;
                    continue;
                }
                break;
            }
            name += term[i];
        }
        if (i >= term.size()) {
            return bad(fmt::format("--order: unterminated quoted name in '{}'", term));
        }
        return std::pair{name, term.substr(i + 1)};
    }
    std::size_t i = 0;
    while (i < term.size() && std::isspace(static_cast<unsigned char>(term[i])) == 0) {
        name += static_cast<char>(std::tolower(static_cast<unsigned char>(term[i])));
        ++i;
    }
    return std::pair{name, term.substr(i)};
}

std::vector<std::string_view> words(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) {
            ++i;
        }
        const std::size_t start = i;
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) == 0) {
            ++i;
        }
        if (i > start) {
            out.push_back(text.substr(start, i - start));
        }
    }
    return out;
}

}  // namespace

std::string key_of_row(const row& r, const std::vector<std::size_t>& key) {
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (i > 0) {
            out += '\x1f';
        }
        const auto field = r.text(key[i]);
        out += field && *field ? **field : std::string_view{"\\N"};
    }
    return out;
}

result<std::vector<order_term>> parse_ordering(std::string_view text,
                                               const std::vector<std::string>& columns) {
    std::vector<order_term> out;
    if (trim(text).empty()) {
        return out;
    }
    for (auto raw : split_terms(text)) {
        const auto term = trim(raw);
        if (term.empty()) {
            return bad(fmt::format("--order: empty term in '{}'", text));
        }
        auto named = leading_name(term);
        if (!named) {
            return tl::unexpected(std::move(named).error());
        }
        const auto& [name, rest] = *named;
        const auto at = std::find(columns.begin(), columns.end(), name);
        if (at == columns.end()) {
            return bad(fmt::format("--order: the table has no column '{}'", name));
        }
        order_term parsed{static_cast<std::size_t>(at - columns.begin()), false, true,
                          nulls_order::standard};
        const auto tail = words(rest);
        std::size_t w = 0;
        if (w < tail.size() && (same_word(tail[w], "asc") || same_word(tail[w], "desc"))) {
            parsed.descending = same_word(tail[w], "desc");
            ++w;
        }
        if (w + 1 < tail.size() && same_word(tail[w], "nulls") &&
            (same_word(tail[w + 1], "first") || same_word(tail[w + 1], "last"))) {
            parsed.nulls = same_word(tail[w + 1], "first") ? nulls_order::first : nulls_order::last;
            w += 2;
        }
        if (w != tail.size()) {
            return bad(fmt::format(
                "--order: cannot read '{}': expected a column, then ASC or DESC, then NULLS FIRST "
                "or NULLS LAST",
                term));
        }
        if (std::any_of(out.begin(), out.end(),
                        [&](const order_term& t) { return t.column == parsed.column; })) {
            return bad(fmt::format("--order: column '{}' appears twice", name));
        }
        out.push_back(parsed);
    }
    return out;
}

std::string table_model::ordering_text() const {
    auto terms = detail::total_ordering(sql, order_by);
    if (!terms) {
        return {};
    }
    return detail::order_by_clause(sql, *terms).substr(std::string_view{" ORDER BY "}.size());
}

std::string table_model::key_list() const {
    std::string out;
    for (std::size_t k : key) {
        out += (out.empty() ? "" : ", ") + sql.quoted_columns[k];
    }
    return out;
}

result<table_model> load_table(const detail::executor& exec,
                               std::string_view table,
                               std::string_view ordering,
                               std::string_view where) {
    if (trim(table).empty()) {
        return bad("--table: empty table name");
    }
    // to_regclass parses the name as SQL does (unquoted parts fold to lower case) and yields
    // NULL for a table that does not exist; the name is a bound parameter.
    auto found = exec.read(
        "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = pg_catalog.to_regclass($1) AND c.relkind IN ('r', 'p', 'm', 'v')",
        parameters{std::string{table}});
    if (!found) {
        if (found.error().code() == errc::syntax_error || !found.error().sqlstate().empty()) {
            return bad(fmt::format("--table: '{}' is not a table name: {}", table,
                                   found.error().message()));
        }
        return tl::unexpected(std::move(found).error());
    }
    if (found->empty()) {
        return bad(fmt::format("--table: no table '{}' (is it in the search_path?)", table));
    }
    table_model model;
    auto names = (*found)[0].as<std::string, std::string>();
    if (!names) {
        return tl::unexpected(std::move(names).error());
    }
    std::tie(model.schema, model.table) = *names;

    auto columns = exec.read(
        "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull "
        "FROM pg_catalog.pg_attribute a WHERE a.attrelid = pg_catalog.to_regclass($1) "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        parameters{std::string{table}});
    if (!columns) {
        return tl::unexpected(std::move(columns).error());
    }
    for (const row& r : *columns) {
        auto fields = r.as<std::string, std::string, bool>();
        if (!fields) {
            return tl::unexpected(std::move(fields).error());
        }
        model.columns.push_back(std::get<0>(*fields));
        model.types.push_back(std::get<1>(*fields));
        model.not_null.push_back(std::get<2>(*fields));
    }
    // The primary key, else the first unique index over NOT NULL plain columns without a
    // predicate.
    auto keys = exec.read(
        "SELECT array_to_string(i.indkey, ' ') FROM pg_catalog.pg_index i "
        "WHERE i.indrelid = pg_catalog.to_regclass($1) AND i.indisunique AND i.indisvalid "
        "AND i.indpred IS NULL AND i.indexprs IS NULL AND NOT EXISTS (SELECT 1 FROM "
        "pg_catalog.pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "AND NOT a.attnotnull) ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid LIMIT 1",
        parameters{std::string{table}});
    if (!keys) {
        return tl::unexpected(std::move(keys).error());
    }
    if (keys->empty()) {
        return bad(fmt::format(
            "--table: '{}' has no primary key or unique index over NOT NULL columns: no ordering "
            "of it is total, so pages could repeat or skip rows",
            table));
    }
    auto attnums = (*keys)[0].get<std::string>(0);
    if (!attnums) {
        return tl::unexpected(std::move(attnums).error());
    }
    // attnum order equals model.columns order only without dropped columns: map by name.
    auto key_names = exec.read(
        "SELECT a.attname::text FROM unnest(string_to_array($2, ' ')::int2[]) WITH ORDINALITY "
        "k(attnum, n) JOIN pg_catalog.pg_attribute a ON a.attrelid = pg_catalog.to_regclass($1) "
        "AND a.attnum = k.attnum ORDER BY k.n",
        parameters{std::string{table}, *attnums});
    if (!key_names) {
        return tl::unexpected(std::move(key_names).error());
    }
    for (const row& r : *key_names) {
        auto name = r.get<std::string>(0);
        if (!name) {
            return tl::unexpected(std::move(name).error());
        }
        const auto at = std::find(model.columns.begin(), model.columns.end(), *name);
        model.key.push_back(static_cast<std::size_t>(at - model.columns.begin()));
    }

    detail::table_spec spec;
    spec.schema = model.schema;
    spec.table = model.table;
    for (std::size_t i = 0; i < model.columns.size(); ++i) {
        spec.columns.push_back({model.columns[i], model.types[i], detail::column_role::plain});
    }
    spec.key = model.key;
    model.sql = detail::build_entity_sql(spec);

    auto order = parse_ordering(ordering, model.columns);
    if (!order) {
        return tl::unexpected(std::move(order).error());
    }
    model.order_by = std::move(*order);
    for (std::size_t k : model.key) {
        if (std::none_of(model.order_by.begin(), model.order_by.end(),
                         [&](const order_term& t) { return t.column == k; })) {
            model.appended_key.push_back(model.columns[k]);
        }
    }

    detail::filter_node filter;
    if (!trim(where).empty()) {
        filter.what = detail::filter_node::kind::raw;
        filter.raw_sql = std::string{trim(where)};
    }
    auto condition = detail::filter_condition(model.sql, filter, detail::row_scope::all);
    if (!condition) {
        return tl::unexpected(std::move(condition).error());
    }
    model.condition = std::move(condition->sql);
    model.condition_params = std::move(condition->params);
    return model;
}

}  // namespace pgkit::tools
