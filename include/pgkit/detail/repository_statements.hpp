#pragma once

/// The non-template half of repository<E>: the statements whose text depends on run-time input
/// (a filter, assignments, a conflict target, a batch size), built from the entity's prebuilt
/// entity_sql, and the errors the operations report. repository<E> only binds typed values and
/// decodes rows. The fixed statements (find, insert, update, ...) are not here: entity_sql holds
/// them, built once per entity. Internal to pgkit.

#include "pgkit/connection.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/error.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/upsert.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pgkit::detail {

/// A statement's text and the parameters it numbers $1..$n.
struct statement {
    std::string sql;
    parameters params;
};

/// The assignments of update_where / update(key, sets...), in order.
using assignment_list = std::span<const column_assignment* const>;

/// " WHERE <filter> AND <scope's condition>" and the filter's parameters. invalid_argument for
/// a filter that failed to build.
[[nodiscard]] result<statement> filter_condition(const entity_sql& sql,
                                                 const filter_node& filter,
                                                 row_scope scope);

/// SELECT <every column> ... WHERE <filter, scope> ORDER BY ... LIMIT ... OFFSET ...;
/// invalid_argument as filter_condition, and for a bad ordering, limit or offset.
[[nodiscard]] result<statement> select_where_statement(const entity_sql& sql,
                                                       const filter_node& filter,
                                                       row_scope scope,
                                                       const query_options& options);

/// SELECT count(*) ... WHERE <filter, scope>.
[[nodiscard]] result<statement> count_where_statement(const entity_sql& sql,
                                                      const filter_node& filter,
                                                      row_scope scope);

/// UPDATE ... SET <sets>, <version and updated_at> WHERE <filter> on live rows. The sets'
/// parameters come first. invalid_argument for an assignment or filter that failed to build.
[[nodiscard]] result<statement> update_where_statement(const entity_sql& sql,
                                                       const filter_node& filter,
                                                       assignment_list sets);

/// A soft delete (or DELETE without a soft-delete column) of the live rows matching `filter`.
[[nodiscard]] result<statement> remove_where_statement(const entity_sql& sql,
                                                       const filter_node& filter);

/// UPDATE ... SET <sets>, <version and updated_at> WHERE <key> on the live row, RETURNING every
/// column. The statement's parameters are the sets' values: the caller appends the key's
/// values, which the text numbers next, in key order.
[[nodiscard]] result<statement> update_by_key_statement(const entity_sql& sql,
                                                        assignment_list sets);

/// One INSERT ... VALUES of `rows` rows (at least 1), each binding entity_sql::insert_params
/// in order, RETURNING nothing.
[[nodiscard]] std::string insert_values_sql(const entity_sql& sql, std::size_t rows);

/// INSERT ... ON CONFLICT <target> DO UPDATE / DO NOTHING ... RETURNING every column, then
/// whether the row was inserted. Binds entity_sql::insert_params in order. invalid_argument for
/// a target that names both a constraint and columns, an invalid constraint name, a target
/// column that insert does not write (a generated or defaulted key, for one), or an update
/// column that upsert does not send or that belongs to the primary key.
[[nodiscard]] result<std::string> upsert_sql(const entity_sql& sql, const on_conflict& options);

/// What the upsert statement that upsert_sql built did, read from its result: the flag after
/// the entity's columns tells inserted from updated; no row means kept (do_nothing) or
/// soft_deleted (the conflicting row is soft-deleted).
[[nodiscard]] result<upsert_outcome> upsert_outcome_of(const entity_sql& sql,
                                                       const on_conflict& options,
                                                       const query_result& rows);

/// version_conflict carrying the stored version (error::current_version).
[[nodiscard]] error version_conflict_error(std::string_view table, std::int64_t current);
/// not_found naming the table.
[[nodiscard]] error row_not_found_error(std::string_view table, std::string_view why);

}  // namespace pgkit::detail
