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
#include <span>
#include <string>
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

/// The columns a COPY of new rows names, in the order of its fields: the plain and soft-delete
/// columns, then the version column, then created_at/updated_at (generated and defaulted columns
/// are left to the server). The one definition of that order: write_copy_row writes fields in
/// it and copy_column_names names the columns from it.
template <class E>
inline constexpr auto copy_column_indices_v = [] {
    constexpr auto& members = columns_with_role_v<E, column_role::plain, column_role::soft_delete>;
    constexpr auto& versions = columns_with_role_v<E, column_role::version>;
    constexpr auto& stamps =
        columns_with_role_v<E, column_role::created_at, column_role::updated_at>;
    std::array<std::size_t, members.size() + versions.size() + stamps.size()> order{};
    std::size_t next = 0;
    for (std::size_t index : members) {
        order[next++] = index;
    }
    for (std::size_t index : versions) {
        order[next++] = index;
    }
    for (std::size_t index : stamps) {
        order[next++] = index;
    }
    return order;
}();

/// The names of copy_column_indices_v's columns.
template <class E>
[[nodiscard]] const std::vector<std::string>& copy_column_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (std::size_t index : copy_column_indices_v<E>) {
            visit_column<E>(index, [&](const auto& column) { out.emplace_back(column.name); });
        }
        return out;
    }();
    return names;
}

/// The COPY field of column I for a new row: the member, 1 for the version, `now` for the
/// created_at/updated_at columns.
template <class E, std::size_t I>
[[nodiscard]] decltype(auto) copy_field(const E& value, std::chrono::system_clock::time_point now) {
    constexpr column_role role = column_roles_v<E>[I];
    if constexpr (role == column_role::version) {
        return std::int64_t{1};
    } else if constexpr (role == column_role::created_at || role == column_role::updated_at) {
        return now;
    } else {
        return (value.*std::get<I>(entity<E>::columns).member);
    }
}

/// Calls write(fields...) with one COPY row of `value`, in copy_column_indices_v's order. The
/// column set is known at compile time, so the fields go to the writer with no run-time column
/// dispatch and no intermediate buffer.
template <class E, class Write>
[[nodiscard]] auto write_copy_row(const E& value,
                                  std::chrono::system_clock::time_point now,
                                  Write&& write) {
    constexpr auto& order = copy_column_indices_v<E>;
    return [&]<std::size_t... Ks>(std::index_sequence<Ks...>) {
        return write(copy_field<E, order[Ks]>(value, now)...);
    }
    (std::make_index_sequence<order.size()>{});
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

/// Whether E's members read every column of a result whose column types are `types` in binary
/// format: the binary_rows_filter (statement_cache.hpp) of statements whose rows decode into E.
template <class E>
[[nodiscard]] bool entity_reads_binary(std::span<const std::uint32_t> types) noexcept {
    if (types.size() < column_count_v<E>) {
        return false;
    }
    return [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        return (field_reads_binary<column_value_t<E, Is>>(types[Is]) && ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
}

/// Decodes row `r` (a query result's row, or a row of COPY output) into `value`, field by field,
/// stopping at the first field that fails (the fields before it are then assigned, the others
/// untouched). The fields are read in one call first; a row in binary format is read with the
/// members' binary decoders.
template <class E, class Row = row>
[[nodiscard]] result<void> decode_row_into(const Row& r, E& value) {
    if (r.size() < column_count_v<E>) {
        return tl::unexpected(row_width_error(entity<E>::table, r.size(), column_count_v<E>));
    }
    std::array<std::optional<std::string_view>, column_count_v<E>> texts;
    row_fields::read(r, texts);
    const std::span<const std::uint32_t> binary_types = row_fields::binary_column_types(r);
    const bool binary = !binary_types.empty();
    std::optional<error> failure;
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        auto read = [&](auto index, const auto& column) {
            using T = typename std::remove_cvref_t<decltype(column)>::value_type;
            constexpr std::size_t i = decltype(index)::value;
            auto field = binary ? decode_binary_value<T>(texts[i], binary_types[i])
                                : decode_value<T>(texts[i]);
            if (!field) {
                failure = row_fields::with_column(r, std::move(field).error(), i);
                return false;
            }
            value.*column.member = std::move(*field);
            return true;
        };
        static_cast<void>(
            (read(std::integral_constant<std::size_t, Is>{}, std::get<Is>(entity<E>::columns)) &&
             ...));
    }
    (std::make_index_sequence<column_count_v<E>>{});
    if (failure) {
        return tl::unexpected(std::move(*failure));
    }
    return success();
}

template <class E, class Row = row>
[[nodiscard]] result<E> decode_row(const Row& r) {
    E value{};
    if (auto decoded = decode_row_into(r, value); !decoded) {
        return tl::unexpected(std::move(decoded).error());
    }
    return value;
}

/// Every row, each decoded in its place in the vector (no entity is moved).
template <class E>
[[nodiscard]] result<std::vector<E>> decode_rows(const query_result& rows) {
    std::vector<E> out;
    out.reserve(rows.size());
    if (rows.empty()) {
        return out;
    }
    row r = rows[0];
    for (std::size_t i = 0; i < rows.size(); ++i, row_fields::next(r)) {
        if (auto decoded = decode_row_into(r, out.emplace_back()); !decoded) {
            return tl::unexpected(std::move(decoded).error());
        }
    }
    return out;
}

}  // namespace pgkit::detail
