#include "pgkit/types/bytea.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

namespace pgkit {
namespace {

using detail::excerpt;
using detail::hex_value;

constexpr char hex_digits[] = "0123456789abcdef";

result<void> encode_hex(std::span<const std::byte> value, std::string& out) {
    out.reserve(out.size() + 2 + value.size() * 2);
    out += "\\x";
    for (const std::byte b : value) {
        const auto byte = std::to_integer<unsigned>(b);
        out += hex_digits[byte >> 4];
        out += hex_digits[byte & 0xf];
    }
    return success();
}

constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

result<std::vector<std::byte>> decode_hex(std::string_view text) {
    // `text` follows the "\x" prefix.
    std::vector<std::byte> bytes;
    bytes.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size();) {
        if (is_space(text[i])) {
            ++i;
            continue;
        }
        const int high = hex_value(text[i]);
        const int low = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
        if (high < 0 || low < 0) {
            return make_error(errc::type_mismatch,
                              fmt::format("'{}' is not valid hex-format bytea", excerpt(text)));
        }
        bytes.push_back(static_cast<std::byte>((high << 4) | low));
        i += 2;
    }
    return bytes;
}

constexpr bool is_octal(char c) noexcept {
    return c >= '0' && c <= '7';
}

result<std::vector<std::byte>> decode_escape(std::string_view text) {
    std::vector<std::byte> bytes;
    bytes.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (c != '\\') {
            bytes.push_back(static_cast<std::byte>(c));
            ++i;
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '\\') {
            bytes.push_back(std::byte{'\\'});
            i += 2;
            continue;
        }
        if (i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '3' &&
            is_octal(text[i + 2]) && is_octal(text[i + 3])) {
            const int value =
                ((text[i + 1] - '0') << 6) | ((text[i + 2] - '0') << 3) | (text[i + 3] - '0');
            bytes.push_back(static_cast<std::byte>(value));
            i += 4;
            continue;
        }
        return make_error(errc::type_mismatch,
                          fmt::format("'{}' is not valid escape-format bytea", excerpt(text)));
    }
    return bytes;
}

}  // namespace

result<void> value_traits<std::vector<std::byte>>::encode(std::span<const std::byte> value,
                                                          std::string& out) {
    return encode_hex(value, out);
}

result<std::vector<std::byte>> value_traits<std::vector<std::byte>>::decode(std::string_view text) {
    if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
        return decode_hex(text.substr(2));
    }
    return decode_escape(text);
}

result<void> value_traits<std::span<const std::byte>>::encode(std::span<const std::byte> value,
                                                              std::string& out) {
    return encode_hex(value, out);
}

}  // namespace pgkit
