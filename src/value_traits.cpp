#include "pgkit/value_traits.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

namespace pgkit {
namespace {

using detail::excerpt;

template <class Int>
result<Int> decode_integer_checked(std::string_view text, std::string_view type_name) {
    Int value{};
    const char* first = text.data();
    const char* last = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc::result_out_of_range) {
        return make_error(errc::type_mismatch,
                          fmt::format("value {} does not fit in {}", excerpt(text), type_name));
    }
    if (ec != std::errc{} || ptr != last) {
        return make_error(errc::type_mismatch,
                          fmt::format("'{}' is not an integer ({})", excerpt(text), type_name));
    }
    return value;
}

template <class Float>
result<void> encode_floating(Float value, std::string& out) {
    if (std::isnan(value)) {
        out += "NaN";
    } else if (std::isinf(value)) {
        out += value > 0 ? "Infinity" : "-Infinity";
    } else {
        char buffer[64];
        // Shortest representation that reads back to the same value.
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
        out.append(buffer, end);
    }
    return success();
}

template <class Float>
result<Float> decode_floating(std::string_view text, std::string_view type_name) {
    if (text == "NaN") {
        return std::numeric_limits<Float>::quiet_NaN();
    }
    if (text == "Infinity") {
        return std::numeric_limits<Float>::infinity();
    }
    if (text == "-Infinity") {
        return -std::numeric_limits<Float>::infinity();
    }
    Float value{};
    const char* last = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), last, value);
    if (ec == std::errc::result_out_of_range) {
        return make_error(errc::type_mismatch,
                          fmt::format("value {} does not fit in {}", excerpt(text), type_name));
    }
    if (ec != std::errc{} || ptr != last) {
        return make_error(errc::type_mismatch,
                          fmt::format("'{}' is not a number ({})", excerpt(text), type_name));
    }
    return value;
}

}  // namespace

error detail::binary_field_error(std::uint32_t type,
                                 std::size_t length,
                                 std::string_view cpp_type) {
    return error{errc::type_mismatch,
                 fmt::format("a binary field of column type {} ({} bytes) cannot be read as {}",
                             type, length, cpp_type)};
}

error detail::integer_out_of_range(std::int64_t value, std::string_view cpp_type) {
    return error{errc::type_mismatch, fmt::format("value {} does not fit in {}", value, cpp_type)};
}

error detail::no_binary_decoder_error(std::uint32_t type) {
    return error{errc::type_mismatch,
                 fmt::format("a binary field of column type {} cannot be read as this type (it "
                             "has no binary decoder)",
                             type)};
}

error detail::unexpected_null_error() {
    return error{errc::type_mismatch, "unexpected NULL; read the column as std::optional<T>"};
}

error detail::text_with_nul_error() {
    return error{errc::invalid_argument,
                 "text contains a NUL byte, which PostgreSQL text cannot store; "
                 "use bytea (std::vector<std::byte>) for binary data"};
}

result<bool> value_traits<bool>::decode(std::string_view text) {
    if (text == "t") {
        return true;
    }
    if (text == "f") {
        return false;
    }
    return make_error(errc::type_mismatch, fmt::format("'{}' is not a boolean", excerpt(text)));
}

result<bool> value_traits<bool>::decode_binary(std::string_view bytes, std::uint32_t type) {
    // boolsend writes one byte, 1 or 0.
    if (type == detail::type_oid::boolean && bytes.size() == 1 &&
        (bytes[0] == 0 || bytes[0] == 1)) {
        return bytes[0] == 1;
    }
    return tl::unexpected(detail::binary_field_error(type, bytes.size(), "bool"));
}

result<std::int16_t> value_traits<std::int16_t>::decode_checked(std::string_view text) {
    return decode_integer_checked<std::int16_t>(text, "int16");
}
result<std::int32_t> value_traits<std::int32_t>::decode_checked(std::string_view text) {
    return decode_integer_checked<std::int32_t>(text, "int32");
}
result<std::int64_t> value_traits<std::int64_t>::decode_checked(std::string_view text) {
    return decode_integer_checked<std::int64_t>(text, "int64");
}

result<void> value_traits<float>::encode(float value, std::string& out) {
    return encode_floating(value, out);
}
result<float> value_traits<float>::decode(std::string_view text) {
    return decode_floating<float>(text, "float");
}
result<void> value_traits<double>::encode(double value, std::string& out) {
    return encode_floating(value, out);
}
result<double> value_traits<double>::decode(std::string_view text) {
    return decode_floating<double>(text, "double");
}

result<std::string> value_traits<std::string>::decode(std::string_view text) {
    return std::string{text};
}
result<std::string_view> value_traits<std::string_view>::decode(std::string_view text) {
    return text;
}
result<void> value_traits<const char*>::encode(const char* value, std::string& out) {
    if (value == nullptr) {
        return make_error(errc::invalid_argument,
                          "null const char* parameter; use std::optional for SQL NULL");
    }
    return detail::encode_text(value, out);
}

}  // namespace pgkit
