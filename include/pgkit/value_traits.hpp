#pragma once

/// The type-mapping customisation point: how a C++ value travels to and from PostgreSQL.
///
/// Values cross the wire in PostgreSQL's text format. A type T is mappable when
/// `pgkit::value_traits<T>` is specialised with three members:
///
///     static constexpr std::string_view pg_type = "int8";   // for casts such as $1::int8
///     static result<void> encode(const T& value, std::string& out);  // append the text form
///     static result<T> decode(std::string_view text);       // parse the server's text form
///
/// NULL is not a value of T: `std::optional<T>` maps NULL for any mappable T (see encode_value
/// and decode_value below). A decode that cannot represent the server's value exactly (overflow,
/// wrong type, unexpected NULL) fails with errc::type_mismatch; an encode of a value PostgreSQL
/// cannot hold (a NUL byte in text) fails with errc::invalid_argument. Never a silent wrap.
///
/// Sessions opened by pgkit pin DateStyle=ISO, TimeZone=UTC, IntervalStyle=iso_8601,
/// extra_float_digits=3 and bytea_output=hex, so decoders see one deterministic format.
///
/// Binary format. A type may also read fields the server sends in PostgreSQL's binary format,
/// with two more members (see binary_decodable):
///
///     static bool reads_binary(std::uint32_t type_oid) noexcept;  // this column type's form?
///     static result<T> decode_binary(std::string_view bytes, std::uint32_t type_oid);
///
/// Repositories ask for binary rows only when every column's type is one its member reads in
/// binary (statement_cache.hpp); the built-in readers are the integers (int2, int4, int8),
/// bool, float (float4), double (float8), std::string (text, varchar, bpchar, name) and the
/// time points (timestamptz, timestamp). A binary decode accepts exactly the values the text
/// decode of the same server value accepts, and gives the same C++ value.

#include "pgkit/detail/binary_field.hpp"
#include "pgkit/error.hpp"

#include <bit>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace pgkit {

/// Specialise for each mappable type (see the file comment). The primary template is undefined.
template <class T, class Enable = void>
struct value_traits;

/// A type whose values can be sent: value_traits<T> has pg_type and encode.
template <class T>
concept encodable = requires(const T& value, std::string& out) {
    { value_traits<T>::pg_type } -> std::convertible_to<std::string_view>;
    { value_traits<T>::encode(value, out) } -> std::same_as<result<void>>;
};

/// A type whose values can be read: value_traits<T> has decode.
template <class T>
concept decodable = requires(std::string_view text) {
    { value_traits<T>::decode(text) } -> std::same_as<result<T>>;
};

/// A decodable type that also reads fields in binary format (see the file comment).
template <class T>
concept binary_decodable = decodable<T> && requires(std::string_view bytes, std::uint32_t type) {
    { value_traits<T>::reads_binary(type) } -> std::same_as<bool>;
    { value_traits<T>::decode_binary(bytes, type) } -> std::same_as<result<T>>;
};

/// Both ways: what a column of an entity may be.
template <class T>
concept mappable = encodable<T> && decodable<T>;

namespace detail {
template <class T>
struct optional_of : std::false_type {};
template <class T>
struct optional_of<std::optional<T>> : std::true_type {
    using type = T;
};
}  // namespace detail

/// True for std::optional<T>.
template <class T>
inline constexpr bool is_optional_v = detail::optional_of<std::remove_cvref_t<T>>::value;

/// The type whose traits encode a parameter of type T: T itself, or `const char*` for string
/// literals and character arrays.
template <class T>
using parameter_type_t = std::decay_t<const T>;

/// What a parameter may be: an encodable type (string literals included) or an optional of one
/// (nullopt is NULL).
template <class T>
concept sql_parameter = encodable<parameter_type_t<T>> ||
    (is_optional_v<T>&& encodable<typename std::remove_cvref_t<T>::value_type>);

/// What a field may be read as: a decodable type or an optional of one (NULL is nullopt).
template <class T>
concept sql_field = decodable<T> ||(is_optional_v<T>&& decodable<typename T::value_type>);

/// The PostgreSQL type name of a parameter type ("int8" for int64_t and optional<int64_t>).
template <sql_parameter T>
[[nodiscard]] constexpr std::string_view pg_type_of() noexcept {
    using plain = std::remove_cvref_t<T>;
    if constexpr (is_optional_v<plain>) {
        return value_traits<typename plain::value_type>::pg_type;
    } else {
        return value_traits<parameter_type_t<T>>::pg_type;
    }
}

/// Appends a value's text form to `out`. Returns false (and appends nothing) for SQL NULL.
template <sql_parameter T>
[[nodiscard]] result<bool> encode_value(const T& value, std::string& out) {
    using plain = std::remove_cvref_t<T>;
    if constexpr (is_optional_v<plain>) {
        if (!value.has_value()) {
            return false;
        }
        return encode_value(*value, out);
    } else {
        using traits = value_traits<parameter_type_t<T>>;
        const std::size_t mark = out.size();
        auto encoded = traits::encode(value, out);
        if (!encoded) {
            out.resize(mark);
            return tl::unexpected(std::move(encoded).error());
        }
        return true;
    }
}

/// Encodes a value to its text form; nullopt means SQL NULL.
template <sql_parameter T>
[[nodiscard]] result<std::optional<std::string>> encode_value(const T& value) {
    std::string text;
    auto present = encode_value(value, text);
    if (!present) {
        return tl::unexpected(std::move(present).error());
    }
    if (!*present) {
        return std::optional<std::string>{};
    }
    return std::optional<std::string>{std::move(text)};
}

namespace detail {
/// type_mismatch: a field in binary format read as a type without a binary decoder.
[[nodiscard]] error no_binary_decoder_error(std::uint32_t type);
/// type_mismatch: an unexpected NULL (read the column as std::optional<T>).
[[nodiscard]] error unexpected_null_error();
}  // namespace detail

/// Decodes a field; `text` is nullopt for SQL NULL, which only an optional T accepts.
template <sql_field T>
[[nodiscard]] result<T> decode_value(std::optional<std::string_view> text) {
    if constexpr (is_optional_v<T>) {
        using inner = typename T::value_type;
        if (!text) {
            return T{};
        }
        auto decoded = value_traits<inner>::decode(*text);
        if (!decoded) {
            return tl::unexpected(std::move(decoded).error());
        }
        return T{std::move(*decoded)};
    } else {
        if (!text) {
            return tl::unexpected(detail::unexpected_null_error());
        }
        return value_traits<T>::decode(*text);
    }
}

/// Whether a field of type T (an optional of one included) reads the binary form of column
/// type `type`.
template <sql_field T>
[[nodiscard]] constexpr bool field_reads_binary(std::uint32_t type) noexcept {
    if constexpr (is_optional_v<T>) {
        return field_reads_binary<typename T::value_type>(type);
    } else if constexpr (binary_decodable<T>) {
        return value_traits<T>::reads_binary(type);
    } else {
        return false;
    }
}

/// Decodes a field sent in binary format, of column type `type`; `bytes` is nullopt for SQL
/// NULL, which only an optional T accepts. type_mismatch when T does not read that type's
/// binary form.
template <sql_field T>
[[nodiscard]] result<T> decode_binary_value(std::optional<std::string_view> bytes,
                                            std::uint32_t type) {
    if constexpr (is_optional_v<T>) {
        if (!bytes) {
            return T{};
        }
        auto decoded = decode_binary_value<typename T::value_type>(bytes, type);
        if (!decoded) {
            return tl::unexpected(std::move(decoded).error());
        }
        return T{std::move(*decoded)};
    } else if constexpr (binary_decodable<T>) {
        if (!bytes) {
            return tl::unexpected(detail::unexpected_null_error());
        }
        return value_traits<T>::decode_binary(*bytes, type);
    } else {
        return tl::unexpected(detail::no_binary_decoder_error(type));
    }
}

// ---- Built-in scalars. Other types live in pgkit/types/*.hpp. -------------------------------
//
// The encoders of integers, booleans and text are defined here, inline: they sit on the path of
// every parameter and COPY field, and inlined, a successful result<void> costs nothing. The
// integer decoders' common case is inline too: it sits on the path of every field read.

namespace detail {

/// Appends the decimal text of an integer.
template <class Int>
void append_integer(Int value, std::string& out) {
    char digits[24];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

/// The value of `text` when it is what PostgreSQL prints for an integer short enough that no
/// overflow is possible (an optional '-', then at most digits10 digits); nullopt otherwise, and
/// then the integer's checked decoder (std::from_chars) reads it. Both accept exactly the same
/// texts and give the same values: this loop only skips overflow checks where none can fire.
template <class Int>
[[nodiscard]] constexpr std::optional<Int> decode_short_integer(std::string_view text) noexcept {
    const bool negative = !text.empty() && text.front() == '-';
    const std::string_view digits = text.substr(negative ? 1 : 0);
    if (digits.empty() || digits.size() > std::numeric_limits<Int>::digits10) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (const char c : digits) {
        const auto digit = static_cast<unsigned>(static_cast<unsigned char>(c)) - unsigned{'0'};
        if (digit > 9) {
            return std::nullopt;
        }
        value = value * 10 + static_cast<std::int64_t>(digit);
    }
    return static_cast<Int>(negative ? -value : value);
}

/// value_traits<Int>::decode: decode_short_integer's value, else the checked decoder's.
template <class Int>
[[nodiscard]] result<Int> decode_integer(std::string_view text) {
    if (const auto value = decode_short_integer<Int>(text)) {
        return *value;
    }
    return value_traits<Int>::decode_checked(text);
}

/// invalid_argument: text holding a NUL byte.
[[nodiscard]] error text_with_nul_error();

/// Appends text; invalid_argument when it holds a NUL byte (PostgreSQL text cannot).
[[nodiscard]] inline result<void> encode_text(std::string_view value, std::string& out) {
    if (value.find('\0') != std::string_view::npos) {
        return tl::unexpected(text_with_nul_error());
    }
    out.append(value);
    return success();
}

}  // namespace detail

template <>
struct value_traits<bool> {
    static constexpr std::string_view pg_type = "bool";
    static result<void> encode(bool value, std::string& out) {
        out += value ? 't' : 'f';
        return success();
    }
    static result<bool> decode(std::string_view text);
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return type == detail::type_oid::boolean;
    }
    static result<bool> decode_binary(std::string_view bytes, std::uint32_t type);
};

template <>
struct value_traits<std::int16_t> {
    static constexpr std::string_view pg_type = "int2";
    static result<void> encode(std::int16_t value, std::string& out) {
        detail::append_integer(value, out);
        return success();
    }
    static result<std::int16_t> decode(std::string_view text) {
        return detail::decode_integer<std::int16_t>(text);
    }
    /// Any text, with its range checked (what decode does when the text is long or malformed).
    static result<std::int16_t> decode_checked(std::string_view text);
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return detail::reads_binary_integer(type);
    }
    static result<std::int16_t> decode_binary(std::string_view bytes, std::uint32_t type) {
        return detail::decode_binary_integer<std::int16_t>(bytes, type, "int16");
    }
};

template <>
struct value_traits<std::int32_t> {
    static constexpr std::string_view pg_type = "int4";
    static result<void> encode(std::int32_t value, std::string& out) {
        detail::append_integer(value, out);
        return success();
    }
    static result<std::int32_t> decode(std::string_view text) {
        return detail::decode_integer<std::int32_t>(text);
    }
    /// Any text, with its range checked (what decode does when the text is long or malformed).
    static result<std::int32_t> decode_checked(std::string_view text);
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return detail::reads_binary_integer(type);
    }
    static result<std::int32_t> decode_binary(std::string_view bytes, std::uint32_t type) {
        return detail::decode_binary_integer<std::int32_t>(bytes, type, "int32");
    }
};

template <>
struct value_traits<std::int64_t> {
    static constexpr std::string_view pg_type = "int8";
    static result<void> encode(std::int64_t value, std::string& out) {
        detail::append_integer(value, out);
        return success();
    }
    static result<std::int64_t> decode(std::string_view text) {
        return detail::decode_integer<std::int64_t>(text);
    }
    /// Any text, with its range checked (what decode does when the text is long or malformed).
    static result<std::int64_t> decode_checked(std::string_view text);
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return detail::reads_binary_integer(type);
    }
    static result<std::int64_t> decode_binary(std::string_view bytes, std::uint32_t type) {
        return detail::decode_binary_integer<std::int64_t>(bytes, type, "int64");
    }
};

/// Round-trips exactly (shortest representation); NaN and +/-Infinity included.
template <>
struct value_traits<float> {
    static constexpr std::string_view pg_type = "float4";
    static result<void> encode(float value, std::string& out);
    static result<float> decode(std::string_view text);
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return type == detail::type_oid::float4;
    }
    static result<float> decode_binary(std::string_view bytes, std::uint32_t type) {
        return detail::decode_binary_float<float>(bytes, type, detail::type_oid::float4);
    }
};

template <>
struct value_traits<double> {
    static constexpr std::string_view pg_type = "float8";
    static result<void> encode(double value, std::string& out);
    static result<double> decode(std::string_view text);
    /// float8 only: a float4 column's text is its shortest decimal form, which reads as a
    /// different double than the float4 value widened, so binary float4 would change values.
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return type == detail::type_oid::float8;
    }
    static result<double> decode_binary(std::string_view bytes, std::uint32_t type) {
        return detail::decode_binary_float<double>(bytes, type, detail::type_oid::float8);
    }
};

/// Text. An embedded NUL byte is errc::invalid_argument (PostgreSQL text cannot hold it);
/// invalid UTF-8 is rejected by the server as data_exception.
template <>
struct value_traits<std::string> {
    static constexpr std::string_view pg_type = "text";
    static result<void> encode(std::string_view value, std::string& out) {
        return detail::encode_text(value, out);
    }
    static result<std::string> decode(std::string_view text);
    /// The types whose binary form is their text: text, varchar, bpchar and name.
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return type == detail::type_oid::text || type == detail::type_oid::varchar ||
               type == detail::type_oid::bpchar || type == detail::type_oid::name;
    }
    static result<std::string> decode_binary(std::string_view bytes, std::uint32_t type) {
        if (!reads_binary(type)) {
            return tl::unexpected(detail::binary_field_error(type, bytes.size(), "std::string"));
        }
        return std::string{bytes};
    }
};

/// Encode-only view of text. Decoding into a string_view returns a view into the query result's
/// memory: valid while that query_result lives.
template <>
struct value_traits<std::string_view> {
    static constexpr std::string_view pg_type = "text";
    static result<void> encode(std::string_view value, std::string& out) {
        return detail::encode_text(value, out);
    }
    static result<std::string_view> decode(std::string_view text);
};

/// Parameter-only: string literals and `const char*`, encoded as text (nullptr is invalid_argument;
/// use std::optional for NULL).
template <>
struct value_traits<const char*> {
    static constexpr std::string_view pg_type = "text";
    static result<void> encode(const char* value, std::string& out);
};

}  // namespace pgkit
