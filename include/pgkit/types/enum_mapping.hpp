#pragma once

/// C++ enums mapped to PostgreSQL enum types through a table of labels.
///
///     enum class color { red, green, blue };
///     template <>
///     struct pgkit::enum_mapping<color> {
///         static constexpr std::string_view pg_type = "color";  // CREATE TYPE color AS ENUM ...
///         static constexpr std::array values{
///             std::pair{color::red, std::string_view{"red"}},
///             std::pair{color::green, std::string_view{"green"}},
///             std::pair{color::blue, std::string_view{"blue"}},
///         };
///     };
///
/// With that specialisation visible, `color` is mappable (parameters, fields, arrays); declare it
/// right after the enum, before any use of value_traits<color> (as for any class template
/// specialisation, a use that comes first would see no mapping). Labels are
/// compared exactly (PostgreSQL enum labels are case-sensitive). Decoding an unknown label fails
/// with errc::type_mismatch naming the label; encoding an enumerator with no label fails with
/// errc::invalid_argument.

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <concepts>
#include <iterator>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pgkit {

/// Specialise for an enum type: `pg_type` (the PostgreSQL type name, schema-qualified or quoted
/// as needed in a cast) and `values`, a constexpr range of (enumerator, label) pairs.
template <class E>
struct enum_mapping;

namespace detail {

/// An enum with a usable enum_mapping specialisation.
template <class E>
concept mapped_enum = std::is_enum_v<E> && requires {
    { enum_mapping<E>::pg_type } -> std::convertible_to<std::string_view>;
    { std::begin(enum_mapping<E>::values)->first } -> std::convertible_to<E>;
    { std::begin(enum_mapping<E>::values)->second } -> std::convertible_to<std::string_view>;
    std::end(enum_mapping<E>::values);
};

/// invalid_argument: the enumerator whose underlying value is `value` has no label in `type`.
[[nodiscard]] inline error enum_unlabelled_error(std::string_view type, std::string value) {
    std::string message = "enumerator with value ";
    message += value;
    message += " has no label in pgkit::enum_mapping for PostgreSQL type ";
    message += type;
    return error{errc::invalid_argument, std::move(message)};
}

/// type_mismatch: the server sent `label`, which has no enumerator in `type`'s mapping.
[[nodiscard]] inline error enum_unknown_label_error(std::string_view type, std::string_view label) {
    constexpr std::size_t limit = 64;
    std::string message = "enum label '";
    message += label.substr(0, limit);
    message += label.size() > limit ? "...'" : "'";
    message += " of PostgreSQL type ";
    message += type;
    message += " has no enumerator in pgkit::enum_mapping";
    return error{errc::type_mismatch, std::move(message)};
}

}  // namespace detail

/// value_traits for every enum E with an enum_mapping<E> (see the file comment).
template <detail::mapped_enum E>
struct value_traits<E> {
    static constexpr std::string_view pg_type = enum_mapping<E>::pg_type;

    static result<void> encode(E value, std::string& out) {
        for (const auto& [enumerator, label] : enum_mapping<E>::values) {
            if (enumerator == value) {
                out += std::string_view{label};
                return success();
            }
        }
        using underlying = std::underlying_type_t<E>;
        // + promotes character types, so they print as numbers.
        return tl::unexpected(detail::enum_unlabelled_error(
            pg_type, std::to_string(+static_cast<underlying>(value))));
    }

    static result<E> decode(std::string_view text) {
        for (const auto& [enumerator, label] : enum_mapping<E>::values) {
            if (std::string_view{label} == text) {
                return static_cast<E>(enumerator);
            }
        }
        return tl::unexpected(detail::enum_unknown_label_error(pg_type, text));
    }
};

}  // namespace pgkit
