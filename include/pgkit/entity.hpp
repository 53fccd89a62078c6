#pragma once

/// Describing a C++ struct once, so that pgkit::repository<E> can read and write it.
///
/// ```cpp
/// struct account {
///     std::int64_t id = 0;
///     std::string email;
///     std::int64_t version = 0;
///     std::optional<std::chrono::system_clock::time_point> deleted_at;
/// };
/// template <>
/// struct pgkit::entity<account> {
///     static constexpr std::string_view table = "accounts";
///     static constexpr std::string_view schema = "";          // optional; "" = search_path
///     static constexpr auto columns = std::tuple{
///         pgkit::column(&account::id, "id", pgkit::generated),  // identity: RETURNING fills it
///         pgkit::column(&account::email, "email"),
///         pgkit::column(&account::version, "version"),
///         pgkit::column(&account::deleted_at, "deleted_at"),
///     };
///     static constexpr auto primary_key = pgkit::key(&account::id);
///     static constexpr auto version = &account::version;         // optional
///     static constexpr auto soft_delete = &account::deleted_at;  // optional
///     // static constexpr auto created_at = &account::created_at; // optional, set by pgkit
///     // static constexpr auto updated_at = &account::updated_at; // optional, set by pgkit
/// };
/// ```
///
/// Every check on a description happens at compile time, in detail::check_entity<E>() (a
/// static_assert whose message starts with "pgkit:"), so an invalid description does not
/// compile and a repository operation never fails because of one: no table, columns or primary
/// key; a table, schema or column name that is empty (an empty schema means the search_path),
/// longer than 63 bytes, holds a NUL byte or is not valid UTF-8; two columns with one name, or
/// one member described twice; a key, version, soft-delete or timestamp member that is not one of
/// the columns; a key member named twice; one column in two roles (key, version, soft_delete,
/// created_at, updated_at); a version column that is not integral; a soft-delete column that is
/// not `std::optional<sys_time<...>>`; created_at or updated_at that are not time points; a
/// column type with no value_traits; a struct that is not default-constructible.

#include "pgkit/types/chrono.hpp"
#include "pgkit/value_traits.hpp"

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

namespace pgkit {

/// Specialise for each entity type E (see the file comment).
template <class E>
struct entity;

/// How a column is written.
enum class column_kind {
    plain,      ///< written on insert and update
    defaulted,  ///< omitted on insert (the server's DEFAULT applies), written on update
    generated,  ///< never written: identity, GENERATED ALWAYS, trigger-maintained
};

struct column_option {
    column_kind kind;
};
/// Omitted on insert; RETURNING reads the server's value back.
inline constexpr column_option defaulted{column_kind::defaulted};
/// Never written by pgkit; RETURNING reads the server's value back.
inline constexpr column_option generated{column_kind::generated};

/// One column: a data member and its column name.
template <class E, class T>
struct column_def {
    using entity_type = E;
    using value_type = T;
    T E::*member;
    std::string_view name;
    column_kind kind = column_kind::plain;
};

template <class E, class T>
[[nodiscard]] constexpr column_def<E, T> column(T E::*member,
                                                std::string_view name,
                                                column_option option = {column_kind::plain}) {
    return {member, name, option.kind};
}

/// The primary key: one member pointer, or several for a composite key (in key order).
template <class E, class... Ts>
[[nodiscard]] constexpr std::tuple<Ts E::*...> key(Ts E::*... members) {
    static_assert(sizeof...(Ts) > 0, "pgkit: a primary key needs at least one column");
    return {members...};
}

namespace detail {

template <class T>
struct member_pointer_traits;
template <class E, class T>
struct member_pointer_traits<T E::*> {
    using entity_type = E;
    using value_type = T;
};
template <class M>
using member_value_t = typename member_pointer_traits<std::remove_cvref_t<M>>::value_type;

template <class T>
struct is_sys_time : std::false_type {};
template <class D>
struct is_sys_time<std::chrono::sys_time<D>> : std::true_type {};

template <class T>
inline constexpr bool is_optional_time_v = false;
template <class T>
inline constexpr bool is_optional_time_v<std::optional<T>> = is_sys_time<T>::value;

template <class E>
concept has_version = requires {
    entity<E>::version;
};
template <class E>
concept has_soft_delete = requires {
    entity<E>::soft_delete;
};
template <class E>
concept has_created_at = requires {
    entity<E>::created_at;
};
template <class E>
concept has_updated_at = requires {
    entity<E>::updated_at;
};
template <class E>
concept has_schema = requires {
    entity<E>::schema;
};

template <class E>
using columns_t = std::remove_cvref_t<decltype(entity<E>::columns)>;
template <class E>
inline constexpr std::size_t column_count_v = std::tuple_size_v<columns_t<E>>;
template <class E, std::size_t I>
using column_value_t = typename std::tuple_element_t<I, columns_t<E>>::value_type;

/// Index of `member` in entity<E>::columns, or column_count_v<E> when it is not there.
template <class E, class M>
[[nodiscard]] constexpr std::size_t index_of(M member) {
    std::size_t found = column_count_v<E>;
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        auto visit = [&](std::size_t i, const auto& col) {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(col.member)>, M>) {
                if (found == column_count_v<E> && col.member == member) {
                    found = i;
                }
            }
        };
        (visit(Is, std::get<Is>(entity<E>::columns)), ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
    return found;
}

template <class E>
using key_members_t = std::remove_cvref_t<decltype(entity<E>::primary_key)>;

template <class Tuple>
struct key_of_members;
template <class E, class T>
struct key_of_members<std::tuple<T E::*>> {
    using type = T;
};
template <class E, class... Ts>
requires(sizeof...(Ts) > 1) struct key_of_members<std::tuple<Ts E::*...>> {
    using type = std::tuple<Ts...>;
};

template <class T>
inline constexpr bool column_mappable_v = mappable<T>;
template <class T>
inline constexpr bool column_mappable_v<std::optional<T>> = mappable<T>;

template <class E>
[[nodiscard]] constexpr bool all_columns_mappable() {
    return []<std::size_t... Is>(std::index_sequence<Is...>) {
        return (column_mappable_v<column_value_t<E, Is>> && ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
}

template <class E>
[[nodiscard]] constexpr bool key_members_are_columns() {
    return std::apply(
        [](auto... members) { return ((index_of<E>(members) < column_count_v<E>)&&...); },
        entity<E>::primary_key);
}

/// PostgreSQL keeps NAMEDATALEN - 1 bytes of a name and silently truncates longer ones.
inline constexpr std::size_t max_name_bytes = 63;

/// Whether `text` is well-formed UTF-8: no stray continuation bytes, no overlong forms, no
/// surrogates, nothing above U+10FFFF.
[[nodiscard]] constexpr bool is_valid_utf8(std::string_view text) noexcept {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t extra = 0;
        std::uint32_t code = 0;
        if (lead >= 0xC2 && lead <= 0xDF) {
            extra = 1;
            code = lead & 0x1FU;
        } else if ((lead & 0xF0U) == 0xE0) {
            extra = 2;
            code = lead & 0x0FU;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            extra = 3;
            code = lead & 0x07U;
        } else {
            return false;
        }
        if (text.size() - i <= extra) {
            return false;
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0U) != 0x80) {
                return false;
            }
            code = (code << 6U) | (next & 0x3FU);
        }
        const bool overlong = (extra == 2 && code < 0x800) || (extra == 3 && code < 0x10000);
        if (overlong || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
            return false;
        }
        i += extra + 1;
    }
    return true;
}

[[nodiscard]] constexpr bool has_nul(std::string_view name) noexcept {
    return name.find('\0') != std::string_view::npos;
}

/// True when `ok(name)` holds for every name E's SQL uses: the table, the schema when it is not
/// empty (empty: the search_path decides), every column.
template <class E, class F>
[[nodiscard]] constexpr bool all_names(F ok) {
    bool all = ok(std::string_view{entity<E>::table});
    if constexpr (has_schema<E>) {
        const std::string_view schema = entity<E>::schema;
        all = all && (schema.empty() || ok(schema));
    }
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        ((all = all && ok(std::string_view{std::get<Is>(entity<E>::columns).name})), ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
    return all;
}

template <class E>
[[nodiscard]] constexpr bool column_names_distinct() {
    const auto names = []<std::size_t... Is>(std::index_sequence<Is...>) {
        return std::array<std::string_view, sizeof...(Is)>{
            std::string_view{std::get<Is>(entity<E>::columns).name}...};
    }
    (std::make_index_sequence<column_count_v<E>>{});
    for (std::size_t i = 0; i < names.size(); ++i) {
        for (std::size_t j = i + 1; j < names.size(); ++j) {
            if (names[i] == names[j]) {
                return false;
            }
        }
    }
    return true;
}

/// No member is described by two columns (index_of finds each at its own position).
template <class E>
[[nodiscard]] constexpr bool column_members_distinct() {
    return []<std::size_t... Is>(std::index_sequence<Is...>) {
        return ((index_of<E>(std::get<Is>(entity<E>::columns).member) == Is) && ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
}

/// The primary key's column indices, in key order.
template <class E>
[[nodiscard]] constexpr auto key_indices() {
    return std::apply(
        [](auto... members) {
            return std::array<std::size_t, sizeof...(members)>{index_of<E>(members)...};
        },
        entity<E>::primary_key);
}

/// The indices of the version, soft-delete, created_at and updated_at columns, in that order;
/// column_count_v<E> for a role E does not have.
template <class E>
[[nodiscard]] constexpr std::array<std::size_t, 4> role_indices() {
    std::array<std::size_t, 4> out{column_count_v<E>, column_count_v<E>, column_count_v<E>,
                                   column_count_v<E>};
    if constexpr (has_version<E>) {
        out[0] = index_of<E>(entity<E>::version);
    }
    if constexpr (has_soft_delete<E>) {
        out[1] = index_of<E>(entity<E>::soft_delete);
    }
    if constexpr (has_created_at<E>) {
        out[2] = index_of<E>(entity<E>::created_at);
    }
    if constexpr (has_updated_at<E>) {
        out[3] = index_of<E>(entity<E>::updated_at);
    }
    return out;
}

template <class E>
[[nodiscard]] constexpr bool key_members_distinct() {
    const auto key = key_indices<E>();
    for (std::size_t i = 0; i < key.size(); ++i) {
        for (std::size_t j = i + 1; j < key.size(); ++j) {
            if (key[i] == key[j]) {
                return false;
            }
        }
    }
    return true;
}

/// Each column has at most one role: key, version, soft_delete, created_at, updated_at.
template <class E>
[[nodiscard]] constexpr bool roles_distinct() {
    const auto roles = role_indices<E>();
    const auto key = key_indices<E>();
    for (std::size_t i = 0; i < roles.size(); ++i) {
        if (roles[i] == column_count_v<E>) {
            continue;
        }
        for (std::size_t j = i + 1; j < roles.size(); ++j) {
            if (roles[i] == roles[j]) {
                return false;
            }
        }
        for (std::size_t k : key) {
            if (roles[i] == k) {
                return false;
            }
        }
    }
    return true;
}

/// Whether insert writes every primary-key column (none is generated or defaulted), so that a
/// row's key can conflict with a stored one.
template <class E>
[[nodiscard]] constexpr bool key_is_inserted() {
    const auto kinds = []<std::size_t... Is>(std::index_sequence<Is...>) {
        return std::array<column_kind, sizeof...(Is)>{std::get<Is>(entity<E>::columns).kind...};
    }
    (std::make_index_sequence<column_count_v<E>>{});
    for (std::size_t k : key_indices<E>()) {
        if (k >= kinds.size() || kinds[k] != column_kind::plain) {
            return false;
        }
    }
    return true;
}

/// check_entity's checks once table, columns and primary_key are there.
template <class E>
constexpr void check_described_entity() {
    static_assert(std::is_default_constructible_v<E>,
                  "pgkit: an entity must be default-constructible");
    static_assert(column_count_v<E> > 0, "pgkit: an entity needs at least one column");
    static_assert(all_names<E>([](std::string_view name) { return !name.empty(); }),
                  "pgkit: a table or column name is empty");
    static_assert(all_names<E>([](std::string_view name) { return name.size() <= max_name_bytes; }),
                  "pgkit: a table, schema or column name is longer than 63 bytes "
                  "(PostgreSQL would truncate it)");
    static_assert(all_names<E>([](std::string_view name) { return !has_nul(name); }),
                  "pgkit: a table, schema or column name contains a NUL byte");
    static_assert(all_names<E>([](std::string_view name) { return is_valid_utf8(name); }),
                  "pgkit: a table, schema or column name is not valid UTF-8");
    static_assert(column_names_distinct<E>(), "pgkit: two columns have the same name");
    static_assert(column_members_distinct<E>(), "pgkit: a member is described by two columns");
    static_assert(all_columns_mappable<E>(),
                  "pgkit: every column type needs value_traits (see value_traits.hpp)");
    static_assert(key_members_are_columns<E>(),
                  "pgkit: every primary-key member must be one of the columns");
    static_assert(key_members_distinct<E>(), "pgkit: a primary-key member is named twice");
    if constexpr (has_version<E>) {
        using T = member_value_t<decltype(entity<E>::version)>;
        static_assert(std::integral<T> && !std::same_as<T, bool>,
                      "pgkit: the version column must be an integral type");
        static_assert(index_of<E>(entity<E>::version) < column_count_v<E>,
                      "pgkit: the version member must be one of the columns");
    }
    if constexpr (has_soft_delete<E>) {
        static_assert(is_optional_time_v<member_value_t<decltype(entity<E>::soft_delete)>>,
                      "pgkit: the soft-delete column must be std::optional<sys_time<...>>");
        static_assert(index_of<E>(entity<E>::soft_delete) < column_count_v<E>,
                      "pgkit: the soft-delete member must be one of the columns");
    }
    if constexpr (has_created_at<E>) {
        using T = member_value_t<decltype(entity<E>::created_at)>;
        static_assert(is_sys_time<T>::value || is_optional_time_v<T>,
                      "pgkit: created_at must be a sys_time (or an optional of one)");
        static_assert(index_of<E>(entity<E>::created_at) < column_count_v<E>,
                      "pgkit: the created_at member must be one of the columns");
    }
    if constexpr (has_updated_at<E>) {
        using T = member_value_t<decltype(entity<E>::updated_at)>;
        static_assert(is_sys_time<T>::value || is_optional_time_v<T>,
                      "pgkit: updated_at must be a sys_time (or an optional of one)");
        static_assert(index_of<E>(entity<E>::updated_at) < column_count_v<E>,
                      "pgkit: the updated_at member must be one of the columns");
    }
    static_assert(roles_distinct<E>(),
                  "pgkit: one column has two roles (key, version, soft_delete, created_at, "
                  "updated_at)");
}

/// Every compile-time check on an entity description (the file comment lists them); instantiated
/// by repository<E> and detail::sql_of<E>.
template <class E>
constexpr bool check_entity() {
    static_assert(
        requires { entity<E>::table; },
        "pgkit: entity<E> needs `static constexpr std::string_view table`");
    static_assert(
        requires { entity<E>::columns; },
        "pgkit: entity<E> needs `static constexpr auto columns = std::tuple{...}`");
    static_assert(
        requires { entity<E>::primary_key; },
        "pgkit: entity<E> needs a primary key: "
        "`static constexpr auto primary_key = pgkit::key(&E::id)`");
    if constexpr (requires {
                      entity<E>::table;
                      entity<E>::columns;
                      entity<E>::primary_key;
                  }) {
        check_described_entity<E>();
    }
    return true;
}

}  // namespace detail

/// The type of E's primary key: the member's type, or std::tuple of them for a composite key.
template <class E>
using key_t = typename detail::key_of_members<detail::key_members_t<E>>::type;

}  // namespace pgkit
