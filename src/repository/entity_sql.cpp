#include "pgkit/detail/entity_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

namespace pgkit::detail {

namespace {

/// "name" with embedded quotes doubled. The name is valid (see build_entity_sql).
std::string quoted(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 2);
    out += '"';
    for (char c : name) {
        if (c == '"') {
            out += '"';
        }
        out += c;
    }
    out += '"';
    return out;
}

std::string join_columns(const entity_sql& sql, const std::vector<std::size_t>& indices) {
    std::string out;
    for (std::size_t i = 0; i < indices.size(); ++i) {
        if (i > 0) {
            out += ", ";
        }
        out += sql.quoted_columns[indices[i]];
    }
    return out;
}

/// "k1" = $<first> AND "k2" = $<first+1> ...
std::string key_condition(const entity_sql& sql,
                          const std::vector<std::size_t>& key,
                          std::size_t first) {
    std::string out;
    for (std::size_t i = 0; i < key.size(); ++i) {
        if (i > 0) {
            out += " AND ";
        }
        out += fmt::format("{} = ${}", sql.quoted_columns[key[i]], first + i);
    }
    return out;
}

std::string with_scope(const std::string& condition, const std::string& scope) {
    if (scope.empty()) {
        return condition;
    }
    if (condition.empty()) {
        return scope;
    }
    return condition + " AND " + scope;
}

std::string where(const std::string& condition) {
    return condition.empty() ? std::string{} : " WHERE " + condition;
}

}  // namespace

entity_sql build_entity_sql(const table_spec& spec) {
    entity_sql sql;
    sql.qualified_table =
        spec.schema.empty() ? quoted(spec.table) : quoted(spec.schema) + "." + quoted(spec.table);
    std::optional<std::size_t> version;
    std::optional<std::size_t> soft_delete;
    std::optional<std::size_t> updated_at;
    for (std::size_t i = 0; i < spec.columns.size(); ++i) {
        const auto& column = spec.columns[i];
        sql.quoted_columns.push_back(quoted(column.name));
        sql.column_names.emplace_back(column.name);
        sql.column_types.emplace_back(column.pg_type);
        sql.roles.push_back(column.role);
        switch (column.role) {
            case column_role::version:
                version = i;
                break;
            case column_role::soft_delete:
                soft_delete = i;
                break;
            case column_role::updated_at:
                updated_at = i;
                break;
            default:
                break;
        }
    }
    sql.key = spec.key;
    sql.has_version = version.has_value();
    sql.has_soft_delete = soft_delete.has_value();

    std::vector<std::size_t> all(spec.columns.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
        all[i] = i;
    }
    sql.select_list = join_columns(sql, all);
    sql.returning = " RETURNING " + sql.select_list;

    if (soft_delete) {
        const auto& deleted = sql.quoted_columns[*soft_delete];
        sql.scope_condition[0] = deleted + " IS NULL";
        sql.scope_condition[2] = deleted + " IS NOT NULL";
    }
    const std::string by_key = key_condition(sql, spec.key, 1);
    std::string many_condition;
    if (spec.key.size() == 1) {
        many_condition = fmt::format("{} = ANY($1)", sql.quoted_columns[spec.key[0]]);
    } else {
        std::string arrays;
        for (std::size_t i = 0; i < spec.key.size(); ++i) {
            arrays += fmt::format("{}${}::{}[]", i == 0 ? "" : ", ", i + 1,
                                  spec.columns[spec.key[i]].pg_type);
        }
        many_condition =
            fmt::format("({}) IN (SELECT * FROM unnest({}))", join_columns(sql, spec.key), arrays);
    }
    for (std::size_t s = 0; s < 3; ++s) {
        const auto& scope = sql.scope_condition[s];
        sql.find[s] = fmt::format("SELECT {} FROM {}{}", sql.select_list, sql.qualified_table,
                                  where(with_scope(by_key, scope)));
        sql.exists[s] = fmt::format("SELECT EXISTS (SELECT 1 FROM {}{})", sql.qualified_table,
                                    where(with_scope(by_key, scope)));
        sql.find_many[s] = fmt::format("SELECT {} FROM {}{}", sql.select_list, sql.qualified_table,
                                       where(with_scope(many_condition, scope)));
        sql.count[s] = fmt::format("SELECT count(*) FROM {}{}", sql.qualified_table, where(scope));
    }
    sql.probe = sql.find[1];

    // INSERT: plain and soft-delete columns are parameters; version starts at 1; timestamps now().
    std::vector<std::string> insert_columns;
    std::vector<std::string> insert_values;
    for (std::size_t i = 0; i < spec.columns.size(); ++i) {
        switch (spec.columns[i].role) {
            case column_role::plain:
            case column_role::soft_delete:
                sql.insert_params.push_back(i);
                insert_columns.push_back(sql.quoted_columns[i]);
                insert_values.push_back(fmt::format("${}", sql.insert_params.size()));
                sql.insert_row_pieces.emplace_back();
                break;
            case column_role::version:
                insert_columns.push_back(sql.quoted_columns[i]);
                insert_values.emplace_back("1");
                sql.insert_row_pieces.emplace_back("1");
                break;
            case column_role::created_at:
            case column_role::updated_at:
                insert_columns.push_back(sql.quoted_columns[i]);
                insert_values.emplace_back("now()");
                sql.insert_row_pieces.emplace_back("now()");
                break;
            case column_role::defaulted:
            case column_role::generated:
                break;
        }
    }
    if (insert_columns.empty()) {
        sql.insert_prefix = fmt::format("INSERT INTO {} ", sql.qualified_table);
        sql.insert = sql.insert_prefix + "DEFAULT VALUES" + sql.returning;
    } else {
        sql.insert_prefix = fmt::format("INSERT INTO {} ({}) ", sql.qualified_table,
                                        fmt::join(insert_columns, ", "));
        sql.insert = fmt::format("{}VALUES ({}){}", sql.insert_prefix,
                                 fmt::join(insert_values, ", "), sql.returning);
    }

    // UPDATE (all columns): plain and defaulted columns outside the key.
    std::vector<std::string> sets;
    for (std::size_t i = 0; i < spec.columns.size(); ++i) {
        const auto role = spec.columns[i].role;
        const bool is_key = std::find(spec.key.begin(), spec.key.end(), i) != spec.key.end();
        if ((role == column_role::plain || role == column_role::defaulted) && !is_key) {
            sql.update_params.push_back(i);
            sets.push_back(
                fmt::format("{} = ${}", sql.quoted_columns[i], sql.update_params.size()));
        }
    }
    std::vector<std::string> write_stamps;  // what every write also sets
    if (version) {
        const auto& v = sql.quoted_columns[*version];
        write_stamps.push_back(fmt::format("{} = {} + 1", v, v));
    }
    if (updated_at) {
        write_stamps.push_back(fmt::format("{} = now()", sql.quoted_columns[*updated_at]));
    }
    sets.insert(sets.end(), write_stamps.begin(), write_stamps.end());
    for (const auto& stamp : write_stamps) {
        sql.write_stamps += ", " + stamp;
    }
    if (version) {
        const auto& v = sql.quoted_columns[*version];
        sql.upsert_stamps += fmt::format(", {} = {}.{} + 1", v, sql.qualified_table, v);
    }
    if (updated_at) {
        sql.upsert_stamps += fmt::format(", {} = now()", sql.quoted_columns[*updated_at]);
    }
    if (soft_delete) {
        sql.soft_delete_set = fmt::format("{} = now()", sql.quoted_columns[*soft_delete]);
    }
    sql.copy_schema = std::string{spec.schema};
    sql.copy_table = std::string{spec.table};
    if (sets.empty()) {
        // Only key and generated columns: a no-op write that still reports whether the row is.
        sets.push_back(fmt::format("{0} = {0}", sql.quoted_columns[spec.key[0]]));
    }
    const std::size_t key_first = sql.update_params.size() + 1;
    std::string update_where = key_condition(sql, spec.key, key_first);
    if (version) {
        update_where +=
            fmt::format(" AND {} = ${}", sql.quoted_columns[*version], key_first + spec.key.size());
    }
    update_where = with_scope(update_where, sql.scope_condition[0]);
    sql.update = fmt::format("UPDATE {} SET {} WHERE {}{}", sql.qualified_table,
                             fmt::join(sets, ", "), update_where, sql.returning);

    // remove: soft (set the timestamp) or hard (DELETE); checked = with the version.
    std::string checked_where = by_key;
    if (version) {
        checked_where +=
            fmt::format(" AND {} = ${}", sql.quoted_columns[*version], spec.key.size() + 1);
    }
    if (soft_delete) {
        std::vector<std::string> remove_sets{
            fmt::format("{} = now()", sql.quoted_columns[*soft_delete])};
        remove_sets.insert(remove_sets.end(), write_stamps.begin(), write_stamps.end());
        const auto set_list = fmt::format("{}", fmt::join(remove_sets, ", "));
        sql.remove_checked =
            fmt::format("UPDATE {} SET {} WHERE {}{}", sql.qualified_table, set_list,
                        with_scope(checked_where, sql.scope_condition[0]), sql.returning);
        sql.remove_by_key =
            fmt::format("UPDATE {} SET {} WHERE {}{}", sql.qualified_table, set_list,
                        with_scope(by_key, sql.scope_condition[0]), sql.returning);
        std::vector<std::string> restore_sets{
            fmt::format("{} = NULL", sql.quoted_columns[*soft_delete])};
        restore_sets.insert(restore_sets.end(), write_stamps.begin(), write_stamps.end());
        sql.restore = fmt::format("UPDATE {} SET {} WHERE {}{}", sql.qualified_table,
                                  fmt::join(restore_sets, ", "),
                                  with_scope(by_key, sql.scope_condition[2]), sql.returning);
    } else {
        sql.remove_checked = fmt::format("DELETE FROM {} WHERE {}{}", sql.qualified_table,
                                         checked_where, sql.returning);
        sql.remove_by_key =
            fmt::format("DELETE FROM {} WHERE {}{}", sql.qualified_table, by_key, sql.returning);
        sql.restore = sql.find[2];  // unused: restore() needs a soft-delete column
    }
    sql.purge = fmt::format("DELETE FROM {} WHERE {}", sql.qualified_table, by_key);
    sql.estimated_count =
        "SELECT c.reltuples::int8, "
        "(extract(epoch FROM now() - greatest(s.last_analyze, s.last_autoanalyze)))::float8 "
        "FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid "
        "WHERE c.oid = to_regclass($1)";
    return sql;
}

}  // namespace pgkit::detail
