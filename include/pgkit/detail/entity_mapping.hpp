#pragma once

/// How an entity<E> description maps onto the non-template machinery: its table_spec and
/// entity_sql (built once per type), the parameters its values bind to, and the rows its values
/// are read from. Internal to pgkit; repository<E> is built on it.

#include "pgkit/connection.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/error.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/value_traits.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgkit::detail {

/// type_mismatch: a row of `columns` columns cannot hold an entity of `table` (`needed`).
[[nodiscard]] error row_width_error(std::string_view table,
                                    std::size_t columns,
                                    std::size_t needed);

template <class E>
[[nodiscard]] constexpr column_role role_of(std::size_t index, column_kind kind) {
    if constexpr (has_version<E>) {
        if (index == index_of<E>(entity<E>::version)) {
            return column_role::version;
        }
    }
    if constexpr (has_soft_delete<E>) {
        if (index == index_of<E>(entity<E>::soft_delete)) {
            return column_role::soft_delete;
        }
    }
    if constexpr (has_created_at<E>) {
        if (index == index_of<E>(entity<E>::created_at)) {
            return column_role::created_at;
        }
    }
    if constexpr (has_updated_at<E>) {
        if (index == index_of<E>(entity<E>::updated_at)) {
            return column_role::updated_at;
        }
    }
    switch (kind) {
        case column_kind::defaulted:
            return column_role::defaulted;
        case column_kind::generated:
            return column_role::generated;
        case column_kind::plain:
            break;
    }
    return column_role::plain;
}

/// The role of every column, in column order.
template <class E>
inline constexpr auto column_roles_v = []<std::size_t... Is>(std::index_sequence<Is...>) {
    return std::array<column_role, sizeof...(Is)>{
        role_of<E>(Is, std::get<Is>(entity<E>::columns).kind)...};
}
(std::make_index_sequence<column_count_v<E>>{});

/// The indices, in column order, of the columns whose role is one of `wanted`.
template <class E, column_role... wanted>
inline constexpr auto columns_with_role_v = [] {
    constexpr auto& roles = column_roles_v<E>;
    constexpr std::size_t count = [] {
        std::size_t n = 0;
        for (column_role role : column_roles_v<E>) {
            n += ((role == wanted) || ...) ? 1 : 0;
        }
        return n;
    }();
    std::array<std::size_t, count> indices{};
    std::size_t next = 0;
    for (std::size_t i = 0; i < roles.size(); ++i) {
        if (((roles[i] == wanted) || ...)) {
            indices[next++] = i;
        }
    }
    return indices;
}();

template <class T>
[[nodiscard]] constexpr std::string_view column_pg_type() {
    if constexpr (is_optional_v<T>) {
        return value_traits<typename T::value_type>::pg_type;
    } else {
        return value_traits<T>::pg_type;
    }
}

template <class E>
[[nodiscard]] table_spec make_table_spec() {
    table_spec spec;
    if constexpr (has_schema<E>) {
        spec.schema = entity<E>::schema;
    }
    spec.table = entity<E>::table;
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        (spec.columns.push_back({std::get<Is>(entity<E>::columns).name,
                                 column_pg_type<column_value_t<E, Is>>(),
                                 role_of<E>(Is, std::get<Is>(entity<E>::columns).kind)}),
         ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
    std::apply([&](auto... members) { (spec.key.push_back(index_of<E>(members)), ...); },
               entity<E>::primary_key);
    return spec;
}

/// The entity's statements, built on first use (thread-safe) and kept for the program's life.
template <class E>
[[nodiscard]] const entity_sql& sql_of() {
    static_assert(check_entity<E>());
    static const entity_sql built = build_entity_sql(make_table_spec<E>());
    return built;
}

/// Calls fn(column) for the column at a run-time index.
template <class E, class F>
void visit_column(std::size_t index, F&& fn) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        (void)((Is == index ? (fn(std::get<Is>(entity<E>::columns)), true) : false) || ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
}

template <class E>
void add_columns(parameters& params, const E& value, const std::vector<std::size_t>& indices) {
    for (std::size_t index : indices) {
        visit_column<E>(index, [&](const auto& column) { params.add(value.*column.member); });
    }
}

/// Calls write(fields...) with one COPY row of `value`, in the order of entity_sql's
/// copy_columns (build_entity_sql): the members of the plain and soft-delete columns, then 1 for
/// the version column, then `now` for each created_at/updated_at column. The column set is known
/// at compile time, so the fields go to the writer with no run-time column dispatch and no
/// intermediate buffer.
template <class E, class Write>
[[nodiscard]] auto write_copy_row(const E& value,
                                  std::chrono::system_clock::time_point now,
                                  Write&& write) {
    using members = std::make_index_sequence<
        columns_with_role_v<E, column_role::plain, column_role::soft_delete>.size()>;
    using stamps = std::make_index_sequence<
        columns_with_role_v<E, column_role::created_at, column_role::updated_at>.size()>;
    return [&]<std::size_t... Ms, std::size_t... Ts>(std::index_sequence<Ms...>,
                                                     std::index_sequence<Ts...>) {
        constexpr auto& copied =
            columns_with_role_v<E, column_role::plain, column_role::soft_delete>;
        if constexpr (has_version<E>) {
            return write(value.*std::get<copied[Ms]>(entity<E>::columns).member..., std::int64_t{1},
                         (static_cast<void>(Ts), now)...);
        } else {
            return write(value.*std::get<copied[Ms]>(entity<E>::columns).member...,
                         (static_cast<void>(Ts), now)...);
        }
    }
    (members{}, stamps{});
}

template <class E>
void add_key(parameters& params, const key_t<E>& key) {
    if constexpr (std::tuple_size_v<key_members_t<E>> == 1) {
        params.add(key);
    } else {
        std::apply([&](const auto&... parts) { (params.add(parts), ...); }, key);
    }
}

template <class E>
[[nodiscard]] key_t<E> key_of(const E& value) {
    if constexpr (std::tuple_size_v<key_members_t<E>> == 1) {
        return value.*std::get<0>(entity<E>::primary_key);
    } else {
        return std::apply([&](auto... members) { return key_t<E>{value.*members...}; },
                          entity<E>::primary_key);
    }
}

/// A row's field `column` decoded as T: a query result's row, or a row of COPY output
/// (copy_row).
template <sql_field T>
[[nodiscard]] result<T> field_of(const row& r, std::size_t column) {
    return row_fields::get<T>(r, column);
}
template <sql_field T>
[[nodiscard]] result<T> field_of(const copy_row& r, std::size_t column) {
    return r.get<T>(column);
}

template <class E, class Row = row>
[[nodiscard]] result<E> decode_row(const Row& r) {
    if (r.size() < column_count_v<E>) {
        return tl::unexpected(row_width_error(entity<E>::table, r.size(), column_count_v<E>));
    }
    E value{};
    std::optional<error> failure;
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        auto read = [&](auto index, const auto& column) {
            if (failure) {
                return;
            }
            using T = typename std::remove_cvref_t<decltype(column)>::value_type;
            auto field = field_of<T>(r, decltype(index)::value);
            if (!field) {
                failure = std::move(field).error();
                return;
            }
            value.*column.member = std::move(*field);
        };
        (read(std::integral_constant<std::size_t, Is>{}, std::get<Is>(entity<E>::columns)), ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
    if (failure) {
        return tl::unexpected(std::move(*failure));
    }
    return value;
}

template <class E>
[[nodiscard]] result<std::vector<E>> decode_rows(const query_result& rows) {
    std::vector<E> out;
    out.reserve(rows.size());
    for (const row& r : rows) {
        auto value = decode_row<E>(r);
        if (!value) {
            return tl::unexpected(std::move(value).error());
        }
        out.push_back(std::move(*value));
    }
    return out;
}

}  // namespace pgkit::detail
