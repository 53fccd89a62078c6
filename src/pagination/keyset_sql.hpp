#pragma once

// The SQL of keyset pages (internal): the total ordering, ORDER BY clauses, and the "seek"
// condition that selects the rows after (or before) a cursor's position. docs/pagination.md
// explains the forms; tests/unit/keyset_sql_test.cpp pins them.

#include "pgkit/connection.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/detail/keyset_pages.hpp"
#include "pgkit/filter.hpp"

#include "pagination/cursor_codec.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace pgkit::detail {

/// One term of a total ordering, with the NULL placement made explicit.
struct keyset_term {
    std::size_t column = 0;
    bool descending = false;
    bool nulls_first = false;
};

/// `order_by`, then the primary key's columns it lacks (in the last term's direction, ascending
/// when order_by is empty), so no two rows tie. invalid_argument for a member that is not a
/// column or a column named twice.
[[nodiscard]] result<std::vector<keyset_term>> total_ordering(
    const entity_sql& sql, const std::vector<order_term>& order_by);

/// The same ordering read from the other end (every direction and NULL placement flipped).
[[nodiscard]] std::vector<keyset_term> reversed(const std::vector<keyset_term>& terms);

/// " ORDER BY a DESC NULLS FIRST, id DESC NULLS FIRST"
[[nodiscard]] std::string order_by_clause(const entity_sql& sql,
                                          const std::vector<keyset_term>& terms);

/// A canonical text of the ordering, for cursor fingerprints.
[[nodiscard]] std::string describe_ordering(const entity_sql& sql,
                                            const std::vector<keyset_term>& terms);

/// The condition for rows strictly after the position `values` (one per term) under `terms`,
/// or at-or-after it when `inclusive`. The values are appended to `params` (referenced as
/// $n with n continuing from params.size()), each once. `not_null[c]`: the catalog says column
/// c is NOT NULL.
///
/// The form: a row-value comparison `(a, b) > ($1, $2)` when every term has the same direction
/// and every column is NOT NULL; otherwise a leading bound on the first column where one
/// exists (so an index scan starts at the position) AND a disjunction over the terms that
/// places NULLs exactly as ORDER BY does. `form` forces one of the two (row_value only where
/// it is exact: row_value_exact()).
[[nodiscard]] std::string seek_condition(const entity_sql& sql,
                                         const std::vector<keyset_term>& terms,
                                         const std::vector<bool>& not_null,
                                         const cursor_values& values,
                                         bool inclusive,
                                         parameters& params,
                                         seek_form form = seek_form::automatic);

/// Whether the row-value comparison selects exactly the rows after a position under `terms`:
/// every term has the same direction and every column is NOT NULL.
[[nodiscard]] bool row_value_exact(const std::vector<keyset_term>& terms,
                                   const std::vector<bool>& not_null);

}  // namespace pgkit::detail
