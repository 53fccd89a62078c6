#include "pgkit/detail/repository_statements.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgkit::detail {

namespace {

using encoded_values = std::vector<std::optional<std::string>>;

tl::unexpected<error> invalid_argument(std::string message) {
    return make_error(errc::invalid_argument, std::move(message));
}

/// " WHERE <filter> AND <scope>", appending the filter's values to `values` (numbered after
/// those already there).
result<std::string> where_clause(const entity_sql& sql,
                                 const filter_node& filter,
                                 row_scope scope,
                                 encoded_values& values) {
    std::string condition;
    auto rendered = render_filter(filter, sql.quoted_columns, condition, values);
    if (!rendered) {
        return tl::unexpected(std::move(rendered).error());
    }
    std::string clause = " WHERE " + condition;
    const auto& scoped = sql.scope_condition[static_cast<std::size_t>(scope)];
    if (!scoped.empty()) {
        clause += " AND " + scoped;
    }
    return clause;
}

parameters to_parameters(const encoded_values& values) {
    parameters params;
    params.reserve(values.size());
    for (const auto& value : values) {
        params.add(value);
    }
    return params;
}

/// "a" = $n::type, ... for `sets`, appending their values to `values`.
result<std::string> set_list(const entity_sql& sql, assignment_list sets, encoded_values& values) {
    std::string out;
    for (const column_assignment* set : sets) {
        if (set->failure) {
            error e = *set->failure;
            return tl::unexpected(std::move(e));
        }
        if (set->column >= sql.quoted_columns.size()) {
            return invalid_argument("set: the member is not a column");
        }
        values.push_back(set->value);
        if (!out.empty()) {
            out += ", ";
        }
        out += fmt::format("{} = ${}::{}", sql.quoted_columns[set->column], values.size(),
                           set->pg_type);
    }
    return out;
}

}  // namespace

result<statement> filter_condition(const entity_sql& sql,
                                   const filter_node& filter,
                                   row_scope scope) {
    encoded_values values;
    auto clause = where_clause(sql, filter, scope, values);
    if (!clause) {
        return tl::unexpected(std::move(clause).error());
    }
    return statement{std::move(*clause), to_parameters(values)};
}

result<statement> select_where_statement(const entity_sql& sql,
                                         const filter_node& filter,
                                         row_scope scope,
                                         const query_options& options) {
    encoded_values values;
    auto clause = where_clause(sql, filter, scope, values);
    if (!clause) {
        return tl::unexpected(std::move(clause).error());
    }
    auto tail = render_options(options, sql.quoted_columns);
    if (!tail) {
        return tl::unexpected(std::move(tail).error());
    }
    return statement{"SELECT " + sql.select_list + " FROM " + sql.qualified_table + *clause + *tail,
                     to_parameters(values)};
}

result<statement> count_where_statement(const entity_sql& sql,
                                        const filter_node& filter,
                                        row_scope scope) {
    encoded_values values;
    auto clause = where_clause(sql, filter, scope, values);
    if (!clause) {
        return tl::unexpected(std::move(clause).error());
    }
    return statement{"SELECT count(*) FROM " + sql.qualified_table + *clause,
                     to_parameters(values)};
}

result<statement> update_where_statement(const entity_sql& sql,
                                         const filter_node& filter,
                                         assignment_list sets) {
    encoded_values values;
    auto assigned = set_list(sql, sets, values);
    if (!assigned) {
        return tl::unexpected(std::move(assigned).error());
    }
    auto clause = where_clause(sql, filter, row_scope::live, values);
    if (!clause) {
        return tl::unexpected(std::move(clause).error());
    }
    return statement{
        "UPDATE " + sql.qualified_table + " SET " + *assigned + sql.write_stamps + *clause,
        to_parameters(values)};
}

result<statement> remove_where_statement(const entity_sql& sql, const filter_node& filter) {
    encoded_values values;
    auto clause = where_clause(sql, filter, row_scope::live, values);
    if (!clause) {
        return tl::unexpected(std::move(clause).error());
    }
    std::string text = sql.has_soft_delete ? "UPDATE " + sql.qualified_table + " SET " +
                                                 sql.soft_delete_set + sql.write_stamps + *clause
                                           : "DELETE FROM " + sql.qualified_table + *clause;
    return statement{std::move(text), to_parameters(values)};
}

result<statement> update_by_key_statement(const entity_sql& sql, assignment_list sets) {
    encoded_values values;
    auto assigned = set_list(sql, sets, values);
    if (!assigned) {
        return tl::unexpected(std::move(assigned).error());
    }
    std::string condition;
    for (std::size_t i = 0; i < sql.key.size(); ++i) {
        condition += fmt::format("{}{} = ${}", i == 0 ? "" : " AND ",
                                 sql.quoted_columns[sql.key[i]], values.size() + 1 + i);
    }
    if (!sql.scope_condition[0].empty()) {
        condition += " AND " + sql.scope_condition[0];
    }
    return statement{"UPDATE " + sql.qualified_table + " SET " + *assigned + sql.write_stamps +
                         " WHERE " + condition + sql.returning,
                     to_parameters(values)};
}

std::string insert_values_sql(const entity_sql& sql, std::size_t rows) {
    if (sql.insert_row_pieces.empty()) {
        return sql.insert_prefix + "DEFAULT VALUES";
    }
    std::string out = sql.insert_prefix + "VALUES ";
    std::size_t n = 0;
    for (std::size_t r = 0; r < rows; ++r) {
        out += r == 0 ? "(" : ", (";
        for (std::size_t p = 0; p < sql.insert_row_pieces.size(); ++p) {
            if (p > 0) {
                out += ", ";
            }
            const auto& piece = sql.insert_row_pieces[p];
            if (piece.empty()) {
                out += '$';
                out += std::to_string(++n);
            } else {
                out += piece;
            }
        }
        out += ")";
    }
    return out;
}

result<std::string> upsert_sql(const entity_sql& sql, const on_conflict& options) {
    std::string statement = sql.insert.substr(0, sql.insert.size() - sql.returning.size());
    if (options.constraint.empty()) {
        statement += " ON CONFLICT (";
        for (std::size_t i = 0; i < sql.key.size(); ++i) {
            statement += (i == 0 ? "" : ", ") + sql.quoted_columns[sql.key[i]];
        }
        statement += ")";
    } else {
        auto name = connection::quote_identifier(options.constraint);
        if (!name) {
            return tl::unexpected(std::move(name).error());
        }
        statement += " ON CONFLICT ON CONSTRAINT " + *name;
    }
    if (options.do_nothing) {
        statement += " DO NOTHING";
    } else {
        std::vector<std::size_t> columns;
        for (const auto& ref : options.update) {
            if (!ref.valid || ref.column >= sql.quoted_columns.size()) {
                return invalid_argument("upsert: the member is not a column");
            }
            columns.push_back(ref.column);
        }
        if (columns.empty()) {
            columns = sql.update_params;
        }
        std::string sets;
        for (std::size_t c : columns) {
            sets += (sets.empty() ? "" : ", ") + sql.quoted_columns[c] + " = EXCLUDED." +
                    sql.quoted_columns[c];
        }
        std::string stamps = sql.upsert_stamps;
        if (sets.empty() && !stamps.empty()) {
            stamps.erase(0, 2);  // drop the leading ", "
        }
        if (sets.empty() && stamps.empty()) {
            const auto& k = sql.quoted_columns[sql.key[0]];
            sets = k + " = EXCLUDED." + k;
        }
        statement += " DO UPDATE SET " + sets + stamps;
        if (!sql.scope_condition[0].empty()) {
            // Never resurrect or overwrite a soft-deleted row silently.
            statement += " WHERE " + sql.qualified_table + "." + sql.scope_condition[0];
        }
    }
    return statement + sql.returning;
}

error version_conflict_error(std::string_view table, std::int64_t current) {
    error e{
        errc::version_conflict,
        fmt::format("{}: the row was changed concurrently (stored version {})", table, current)};
    e.with_current_version(current);
    return e;
}

error row_not_found_error(std::string_view table, std::string_view why) {
    return error{errc::not_found, fmt::format("{}: {}", table, why)};
}

}  // namespace pgkit::detail
