#pragma once

/// One-dimensional arrays: std::vector<T> and std::vector<std::optional<T>> mapped to T's
/// PostgreSQL array type ("int8[]", "text[]", ...), for any mappable element type T.
///
/// Encoding writes an array literal with every element double-quoted (`{"1","a \"b\"",NULL}`),
/// so any element text is safe; an empty vector is `{}`. Decoding reads the server's array
/// output: unquoted and quoted elements, backslash escapes, unquoted NULL (a quoted "NULL" is the
/// string NULL) and an optional dimension decoration (`[0:2]={1,2,3}`, the bounds are ignored).
///
/// Decoding fails with errc::type_mismatch for: malformed array text, multi-dimensional arrays
/// (`{{1,2},{3,4}}`: nested vectors are not supported yet), a NULL element when the element type
/// is not std::optional, and any element its own decoder rejects (the message names the
/// element's index). std::vector<std::byte> is bytea, not an array (see types/bytea.hpp).

#include "pgkit/error.hpp"
#include "pgkit/types/bytea.hpp"
#include "pgkit/value_traits.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgkit {

namespace detail {

/// Splits a one-dimensional array literal into its elements, unescaping them. Each element is
/// nullopt for an unquoted NULL, else a view into `text` or, when it had escapes, into `storage`
/// (so both must outlive `elements`). `elements` and `storage` are cleared first. Fails with
/// type_mismatch for malformed or multi-dimensional arrays.
[[nodiscard]] result<void> split_array(std::string_view text,
                                       std::string& storage,
                                       std::vector<std::optional<std::string_view>>& elements);

/// Appends `"element"` with `"` and `\` backslash-escaped.
void append_quoted_array_element(std::string_view element, std::string& out);

/// An element at `index` failed to decode: the same error, its message prefixed with the index.
[[nodiscard]] error array_element_error(error failure, std::size_t index);

/// type_mismatch for a NULL element read into a non-optional element type.
[[nodiscard]] error array_null_element_error(std::size_t index);

template <class T>
struct is_std_vector : std::false_type {};
template <class T, class A>
struct is_std_vector<std::vector<T, A>> : std::true_type {};

/// What an array element may be: an encodable type (it has a pg_type) that is not itself an
/// array (nested vectors are not supported yet; bytea, std::vector<std::byte>, is a scalar).
template <class T>
concept array_element_type =
    !std::is_const_v<T> && !std::is_reference_v<T> &&
    (!is_std_vector<T>::value || std::same_as<T, std::vector<std::byte>>)&&encodable<T>;

/// T for std::optional<T>, else T.
template <class T>
struct array_element {
    using type = T;
    static constexpr bool nullable = false;
};
template <class T>
struct array_element<std::optional<T>> {
    using type = T;
    static constexpr bool nullable = true;
};

/// What std::vector<T> may hold: an array element type or an optional of one.
template <class T>
concept array_value_type =
    !std::same_as<T, std::byte> && array_element_type<typename array_element<T>::type>;

/// Element types an array can be decoded into (a std::string_view element would have no storage
/// to view when the server escaped it).
template <class T>
concept array_decodable = decodable<T> && !std::same_as<T, std::string_view>;

/// `name` followed by "[]", as a constant with static storage.
template <class T>
struct array_type_name {
    static constexpr std::string_view element = value_traits<T>::pg_type;
    static constexpr auto storage = [] {
        std::array<char, element.size() + 2> chars{};
        for (std::size_t i = 0; i < element.size(); ++i) {
            chars[i] = element[i];
        }
        chars[element.size()] = '[';
        chars[element.size() + 1] = ']';
        return chars;
    }();
    static constexpr std::string_view value{storage.data(), storage.size()};
};

}  // namespace detail

/// std::vector<T> and std::vector<std::optional<T>> <-> T[] (see the file comment).
/// T must be encodable; decoding is available when T is also decodable (std::string_view
/// excepted: an unescaped element has no storage to view into).
template <detail::array_value_type T>
struct value_traits<std::vector<T>> {
    using element = typename detail::array_element<T>::type;
    static constexpr bool nullable = detail::array_element<T>::nullable;
    static constexpr std::string_view pg_type = detail::array_type_name<element>::value;

    /// Fails with the first element's encoding error.
    static result<void> encode(const std::vector<T>& values, std::string& out) {
        out += '{';
        if constexpr (std::is_same_v<element, std::int16_t> ||
                      std::is_same_v<element, std::int32_t> ||
                      std::is_same_v<element, std::int64_t>) {
            // Decimal digits and a sign never need quoting: no scratch text, no escaping.
            bool first = true;
            for (const T& value : values) {
                if (!first) {
                    out += ',';
                }
                first = false;
                if constexpr (nullable) {
                    if (!value) {
                        out += "NULL";
                        continue;
                    }
                    detail::append_integer(*value, out);
                } else {
                    detail::append_integer(value, out);
                }
            }
            out += '}';
            return success();
        }
        std::string scratch;
        bool first = true;
        for (const T& value : values) {
            if (!first) {
                out += ',';
            }
            first = false;
            scratch.clear();
            auto present = encode_value(value, scratch);
            if (!present) {
                return tl::unexpected(std::move(present).error());
            }
            if (*present) {
                detail::append_quoted_array_element(scratch, out);
            } else {
                out += "NULL";
            }
        }
        out += '}';
        return success();
    }

    /// Fails with type_mismatch (see the file comment).
    // (clang-format 14 mangles trailing requires-clauses.)
    // clang-format off
    static result<std::vector<T>> decode(std::string_view text)
        requires detail::array_decodable<element>
    {
        // clang-format on
        std::string storage;
        std::vector<std::optional<std::string_view>> items;
        auto split = detail::split_array(text, storage, items);
        if (!split) {
            return tl::unexpected(std::move(split).error());
        }
        std::vector<T> values;
        values.reserve(items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (!items[i]) {
                if constexpr (nullable) {
                    values.emplace_back();
                    continue;
                } else {
                    return tl::unexpected(detail::array_null_element_error(i));
                }
            }
            auto decoded = value_traits<element>::decode(*items[i]);
            if (!decoded) {
                return tl::unexpected(detail::array_element_error(std::move(decoded).error(), i));
            }
            values.push_back(std::move(*decoded));
        }
        return values;
    }
};

}  // namespace pgkit
