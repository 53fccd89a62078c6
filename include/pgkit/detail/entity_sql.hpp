#pragma once

/// The SQL of one entity's repository operations, built once per entity type (sql_of<E>() in
/// entity_mapping.hpp) from a run-time description of its table. Internal to pgkit.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail {

/// What the repository does with a column.
enum class column_role {
    plain,        ///< written on insert and update
    defaulted,    ///< omitted on insert, written on update
    generated,    ///< never written
    version,      ///< 1 on insert, incremented by every write, checked by update and remove
    soft_delete,  ///< NULL while live; set by remove, cleared by restore
    created_at,   ///< now() on insert, never updated
    updated_at,   ///< now() on insert and on every write
};

struct column_spec {
    std::string_view name;
    std::string_view pg_type;  ///< for array casts in composite-key find_many
    column_role role = column_role::plain;
};

struct table_spec {
    std::string_view schema;  ///< empty: the search_path decides
    std::string_view table;
    std::vector<column_spec> columns;
    std::vector<std::size_t> key;  ///< indices into columns, in key order
};

/// Which rows of a soft-deleting table a read sees. Tables without a soft-delete column see
/// every row under each scope.
enum class row_scope : std::size_t { live = 0, all = 1, deleted = 2 };

struct entity_sql {
    std::string qualified_table;              ///< "schema"."table" or "table"
    std::vector<std::string> quoted_columns;  ///< in column order
    std::vector<std::string> column_names;    ///< unquoted, in column order
    std::vector<std::string> column_types;    ///< PostgreSQL type of each column (for casts)
    std::vector<column_role> roles;           ///< in column order
    std::vector<std::size_t> key;             ///< the primary key's column indices, in key order
    std::string select_list;                  ///< all columns, in column order
    /// Indexed by row_scope. Parameters: the key columns, in key order.
    std::array<std::string, 3> find;
    std::array<std::string, 3> exists;
    /// Parameters: one array per key column.
    std::array<std::string, 3> find_many;
    std::array<std::string, 3> count;
    /// The scope's condition ("" for all), to combine with a filter.
    std::array<std::string, 3> scope_condition;
    /// Parameters: the columns in insert_params, in that order.
    std::string insert;
    std::vector<std::size_t> insert_params;
    /// "INSERT INTO t (cols) " and the VALUES row template pieces for multi-row inserts.
    std::string insert_prefix;
    std::string returning;  ///< " RETURNING <all columns>"
    /// Parameters: update_params, then the key, then the version when there is one.
    std::string update;
    std::vector<std::size_t> update_params;
    /// Parameters: the key, then the version when there is one.
    std::string remove_checked;
    /// Parameters: the key.
    std::string remove_by_key;
    std::string restore;
    std::string purge;
    std::string probe;            ///< the row by key, whatever its scope
    std::string estimated_count;  ///< parameter: the qualified table name as text
    /// ", version = version + 1, updated_at = now()" (what every write also sets), or "".
    std::string write_stamps;
    /// The same with the existing row's columns qualified, for ON CONFLICT DO UPDATE.
    std::string upsert_stamps;
    /// "deleted_at = now()" when there is a soft-delete column.
    std::string soft_delete_set;
    /// Multi-row VALUES: one piece per inserted column, empty for a parameter, else the SQL
    /// literal written for it ("1", "now()").
    std::vector<std::string> insert_row_pieces;
    /// COPY: the schema and table (the columns: detail::copy_column_names).
    std::string copy_schema;  ///< empty: the search_path decides
    std::string copy_table;
    bool has_version = false;
    bool has_soft_delete = false;
};

/// Quotes every name and assembles the statements. Precondition: `spec` describes a valid
/// entity: names of 1 to 63 bytes of UTF-8 without NUL, distinct column names, a key of
/// distinct columns, each column in at most one role. detail::check_entity<E>() checks all of
/// that at compile time for every entity, so this never fails.
[[nodiscard]] entity_sql build_entity_sql(const table_spec& spec);

}  // namespace pgkit::detail
