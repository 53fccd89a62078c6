#pragma once

// A table the pagination benchmark pages through, described at run time from the catalog: the
// repository layer's entity_sql built for it (so every strategy runs pgkit's own statements),
// the ordering the user asked for and the filter.

#include "pgkit/connection.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/detail/executor.hpp"
#include "pgkit/error.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/query_result.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::tools {

struct table_model {
    std::string schema;  ///< as the catalog spells it
    std::string table;
    std::vector<std::string> columns;  ///< every column, in attnum order
    std::vector<std::string> types;    ///< format_type() of each
    std::vector<bool> not_null;
    std::vector<std::size_t> key;  ///< the primary key (or a unique NOT NULL index)'s columns
    detail::entity_sql sql;
    std::vector<order_term> order_by;  ///< as requested (the key is appended when paging)
    /// The key columns pgkit appends to make the ordering total (empty when it already is).
    std::vector<std::string> appended_key;
    std::string condition;  ///< " WHERE <filter>" ("TRUE" without --where)
    parameters condition_params;
    /// The total ordering as SQL: "created_at DESC NULLS FIRST, id DESC NULLS FIRST".
    [[nodiscard]] std::string ordering_text() const;
    /// The key columns as SQL: "id" or "a", "b".
    [[nodiscard]] std::string key_list() const;
};

/// A row's key (the text of its key columns, joined by a unit separator), for counting rows.
[[nodiscard]] std::string key_of_row(const row& r, const std::vector<std::size_t>& key);

/// Parses "col DESC, "Other col" ASC NULLS LAST" against `columns`: invalid_argument naming an
/// unknown column, a column named twice or a malformed term.
[[nodiscard]] result<std::vector<order_term>> parse_ordering(
    std::string_view text, const std::vector<std::string>& columns);

/// Reads `table` ("name" or "schema.name", resolved as SQL resolves it) from the catalog.
/// invalid_argument for an unknown table, an unknown column in `ordering`, a table without a
/// primary key or unique NOT NULL index; `where` (optional, trusted SQL the user typed) becomes
/// the filter.
[[nodiscard]] result<table_model> load_table(const detail::executor& exec,
                                             std::string_view table,
                                             std::string_view ordering,
                                             std::string_view where);

}  // namespace pgkit::tools
