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
/// Compile-time checks (static_assert with a pgkit message): no primary key, a key/version/
/// soft-delete/timestamp member that is not one of the columns, a version column that is not
/// integral, a soft-delete column that is not `std::optional<sys_time<...>>`, created_at or
/// updated_at that are not time points, a column type with no value_traits. Checked once at run
/// time (errc::invalid_argument from every repository operation): empty or over-long names,
/// NUL bytes in names, duplicate column names.

#include "pgkit/types/chrono.hpp"
#include "pgkit/value_traits.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
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

/// Every compile-time check on an entity description; instantiated by repository<E>.
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
    static_assert(std::is_default_constructible_v<E>,
                  "pgkit: an entity must be default-constructible");
    static_assert(column_count_v<E> > 0, "pgkit: an entity needs at least one column");
    static_assert(all_columns_mappable<E>(),
                  "pgkit: every column type needs value_traits (see value_traits.hpp)");
    static_assert(key_members_are_columns<E>(),
                  "pgkit: every primary-key member must be one of the columns");
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
    return true;
}

}  // namespace detail

/// The type of E's primary key: the member's type, or std::tuple of them for a composite key.
template <class E>
using key_t = typename detail::key_of_members<detail::key_members_t<E>>::type;

}  // namespace pgkit
