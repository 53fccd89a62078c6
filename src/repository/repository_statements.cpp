#include "pgkit/detail/repository_statements.hpp"

#include <fmt/format.h>

#include <algorithm>
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

bool is_key(const entity_sql& sql, std::size_t column) {
    return std::find(sql.key.begin(), sql.key.end(), column) != sql.key.end();
}

bool is_inserted(const entity_sql& sql, std::size_t column) {
    return std::find(sql.insert_params.begin(), sql.insert_params.end(), column) !=
           sql.insert_params.end();
}

/// " ON CONFLICT ..." for the options' target.
result<std::string> conflict_target(const entity_sql& sql, const on_conflict& options) {
    if (!options.constraint.empty() && !options.columns.empty()) {
        return invalid_argument(
            "upsert: name the conflict target once: on_conflict::constraint or ::columns");
    }
    if (!options.constraint.empty()) {
        auto name = connection::quote_identifier(options.constraint);
        if (!name) {
            return invalid_argument(
                fmt::format("upsert: constraint name: {}", name.error().message()));
        }
        return " ON CONFLICT ON CONSTRAINT " + *name;
    }
    std::vector<std::size_t> columns;
    for (const column_ref& ref : options.columns) {
        if (!ref.valid || ref.column >= sql.quoted_columns.size()) {
            return invalid_argument("upsert: a conflict-target member is not a column");
        }
        columns.push_back(ref.column);
    }
    const bool on_key = columns.empty();
    if (on_key) {
        columns = sql.key;
    }
    std::string target;
    for (std::size_t c : columns) {
        if (!is_inserted(sql, c)) {
            return invalid_argument(fmt::format(
                "upsert on {}: {} '{}' is generated or defaulted (or set by pgkit): insert never "
                "writes it, so no new row can conflict on it{}",
                sql.qualified_table, on_key ? "the primary-key column" : "the conflict column",
                sql.column_names[c],
                on_key ? "; name a unique key with on_conflict::columns or ::constraint" : ""));
        }
        target += (target.empty() ? "" : ", ") + sql.quoted_columns[c];
    }
    std::string out = " ON CONFLICT (" + target + ")";
    if (sql.has_soft_delete) {
        // Infers a partial unique index over live rows as well as a plain one.
        out += " WHERE " + sql.scope_condition[0];
    }
    return out;
}

/// " DO UPDATE SET ..." for the options' update list.
result<std::string> conflict_update(const entity_sql& sql, const on_conflict& options) {
    std::vector<std::size_t> columns;
    for (const column_ref& ref : options.update) {
        if (!ref.valid || ref.column >= sql.quoted_columns.size()) {
            return invalid_argument("upsert: an update member is not a column");
        }
        if (sql.roles[ref.column] != column_role::plain || is_key(sql, ref.column)) {
            return invalid_argument(fmt::format(
                "upsert on {}: column '{}' cannot be overwritten: only the plain columns outside "
                "the primary key are sent and overwritten",
                sql.qualified_table, sql.column_names[ref.column]));
        }
        columns.push_back(ref.column);
    }
    if (options.update.empty()) {
        for (std::size_t c = 0; c < sql.roles.size(); ++c) {
            if (sql.roles[c] == column_role::plain && !is_key(sql, c)) {
                columns.push_back(c);
            }
        }
    }
    std::string sets;
    for (std::size_t c : columns) {
        sets += fmt::format("{}{} = EXCLUDED.{}", sets.empty() ? "" : ", ", sql.quoted_columns[c],
                            sql.quoted_columns[c]);
    }
    std::string stamps = sql.upsert_stamps;
    if (sets.empty() && !stamps.empty()) {
        stamps.erase(0, 2);  // the leading ", "
    }
    if (sets.empty() && stamps.empty()) {
        // Nothing to change, but DO UPDATE needs an assignment to lock and return the row: keep
        // a column as it is (not a generated one: GENERATED ALWAYS refuses any value).
        const auto kept = std::find_if(sql.roles.begin(), sql.roles.end(),
                                       [](column_role r) { return r != column_role::generated; });
        if (kept == sql.roles.end()) {
            return invalid_argument(
                fmt::format("upsert on {}: every column is generated: there is nothing to write",
                            sql.qualified_table));
        }
        const auto& column = sql.quoted_columns[static_cast<std::size_t>(kept - sql.roles.begin())];
        sets = fmt::format("{} = {}.{}", column, sql.qualified_table, column);
    }
    std::string out = " DO UPDATE SET " + sets + stamps;
    if (sql.has_soft_delete) {
        // Never overwrite or resurrect a soft-deleted row silently.
        out += " WHERE " + sql.qualified_table + "." + sql.scope_condition[0];
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
    auto target = conflict_target(sql, options);
    if (!target) {
        return tl::unexpected(std::move(target).error());
    }
    std::string action = " DO NOTHING";
    if (!options.do_nothing) {
        auto update = conflict_update(sql, options);
        if (!update) {
            return tl::unexpected(std::move(update).error());
        }
        action = std::move(*update);
    }
    // The new row's xmax is 0 when it was inserted; ON CONFLICT DO UPDATE leaves it set.
    return sql.insert.substr(0, sql.insert.size() - sql.returning.size()) + *target + action +
           sql.returning + ", (xmax = 0)";
}

result<upsert_outcome> upsert_outcome_of(const entity_sql& sql,
                                         const on_conflict& options,
                                         const query_result& rows) {
    if (rows.empty()) {
        if (options.do_nothing) {
            return upsert_outcome::kept;
        }
        if (sql.has_soft_delete) {
            return upsert_outcome::soft_deleted;
        }
        return make_error(errc::internal, "upsert: ON CONFLICT DO UPDATE returned no row");
    }
    auto inserted = rows[0].get<bool>(sql.quoted_columns.size());
    if (!inserted) {
        return tl::unexpected(std::move(inserted).error());
    }
    return *inserted ? upsert_outcome::inserted : upsert_outcome::updated;
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
