#pragma once

/// What repository<E>::upsert arbitrates on, what it overwrites, and what it reports:
///
/// ```cpp
/// // accounts.id is an identity column: insert never writes it, so name the unique key.
/// auto saved = accounts.upsert(row, {.columns = {&account::email}});
/// if (!saved) return report(saved.error());      // invalid_argument, unique_violation, ...
/// switch (saved->outcome) {
///     case pgkit::upsert_outcome::inserted:      // saved->row: the new row as stored
///     case pgkit::upsert_outcome::updated:       // saved->row: the existing row, overwritten
///     case pgkit::upsert_outcome::kept:          // do_nothing: the existing row is untouched
///     case pgkit::upsert_outcome::soft_deleted:  // the conflicting row is soft-deleted: untouched
/// }
/// ```
///
/// docs/repository.md ("Upsert") describes the statement in full.

#include "pgkit/entity.hpp"

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace pgkit {

/// A column of an entity, named by member pointer: `&E::email` converts, as does
/// filters::col(&E::email). It holds the column's index in its own entity's columns, so name
/// members of the repository's entity; a member of E that is not one of its columns is refused
/// (invalid_argument) when used.
struct column_ref {
    std::size_t column = 0;
    bool valid = true;

    constexpr column_ref() = default;
    constexpr column_ref(std::size_t index, bool is_column) noexcept
        : column(index), valid(is_column) {}
    template <class E, class T>
    constexpr column_ref(T E::*member) noexcept  // implicit: `.columns = {&E::email}`
        : column(detail::index_of<E>(member)), valid(column < detail::column_count_v<E>) {}
};

/// What upsert does when the new row conflicts with a stored one.
///
/// The conflict target is one of: `constraint` (a unique or exclusion constraint by name),
/// `columns` (the columns of a unique index or constraint; on an entity with a soft-delete
/// column the statement adds `WHERE <deleted_at> IS NULL`, so a partial unique index over live
/// rows is found too), or neither: the primary key. Every target column must be one insert
/// writes: a generated or defaulted column is never sent, so it could never conflict, and upsert
/// refuses it (invalid_argument; at compile time for upsert(row) on such a primary key).
struct on_conflict {
    /// The constraint to arbitrate on. (A unique index that is not a constraint, e.g. a partial
    /// one, cannot be named here: give its columns.)
    std::string_view constraint{};
    /// The columns of the unique key to arbitrate on (`{&E::email}`); empty: see above.
    std::vector<column_ref> columns{};
    /// Keep the stored row as it is: the outcome is then `kept`, and no row comes back.
    bool do_nothing = false;
    /// The columns to overwrite from the new row; empty: every column upsert sends that is not
    /// part of the primary key (plain columns; not defaulted, generated, soft-delete or
    /// timestamp columns). Each must be such a column (invalid_argument otherwise). The version
    /// and updated_at move on as with every write.
    std::vector<column_ref> update{};
};

/// What upsert did.
enum class upsert_outcome {
    inserted,      ///< no conflict: the row was inserted
    updated,       ///< a stored row conflicted and was overwritten (on_conflict::update)
    kept,          ///< a stored row conflicted and was left as it is (on_conflict::do_nothing)
    soft_deleted,  ///< the conflicting stored row is soft-deleted: left as it is, not restored
};

[[nodiscard]] constexpr std::string_view to_string(upsert_outcome outcome) noexcept {
    switch (outcome) {
        case upsert_outcome::inserted:
            return "inserted";
        case upsert_outcome::updated:
            return "updated";
        case upsert_outcome::kept:
            return "kept";
        case upsert_outcome::soft_deleted:
            return "soft_deleted";
    }
    return "unknown";
}

/// upsert's outcome, and the row as stored when the statement wrote one.
template <class E>
struct upsert_result {
    upsert_outcome outcome = upsert_outcome::inserted;
    /// inserted, updated: the row as stored (generated columns, version, timestamps);
    /// kept, soft_deleted: nullopt (the statement returns no row; read it with find_where).
    std::optional<E> row{};
};

namespace filters {
/// A column, for on_conflict::columns and on_conflict::update (`&E::m` works as well).
template <class E, class T>
[[nodiscard]] constexpr column_ref col(T E::*member) noexcept {
    return column_ref{member};
}
}  // namespace filters

}  // namespace pgkit
