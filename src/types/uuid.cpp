#include "pgkit/types/uuid.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace pgkit {
namespace {

using detail::excerpt;
using detail::hex_value;

constexpr char hex_digits[] = "0123456789abcdef";

/// Offsets of the four hyphens in the canonical form.
constexpr bool is_hyphen_position(std::size_t i) noexcept {
    return i == 8 || i == 13 || i == 18 || i == 23;
}

constexpr std::size_t canonical_length = 36;

void append_canonical(const uuid::bytes_type& bytes, std::string& out) {
    char buffer[canonical_length];
    std::size_t pos = 0;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (is_hyphen_position(pos)) {
            buffer[pos++] = '-';
        }
        const auto byte = std::to_integer<unsigned>(bytes[i]);
        buffer[pos++] = hex_digits[byte >> 4];
        buffer[pos++] = hex_digits[byte & 0xf];
    }
    out.append(buffer, canonical_length);
}

}  // namespace

result<uuid> uuid::parse(std::string_view text) {
    auto malformed = [&] {
        return make_error(
            errc::type_mismatch,
            fmt::format("'{}' is not a UUID (expected the 8-4-4-4-12 hex form)", excerpt(text)));
    };
    if (text.size() != canonical_length) {
        return malformed();
    }
    bytes_type bytes{};
    std::size_t byte_index = 0;
    for (std::size_t pos = 0; pos < canonical_length;) {
        if (is_hyphen_position(pos)) {
            if (text[pos] != '-') {
                return malformed();
            }
            ++pos;
            continue;
        }
        const int high = hex_value(text[pos]);
        const int low = hex_value(text[pos + 1]);
        if (high < 0 || low < 0) {
            return malformed();
        }
        bytes[byte_index++] = static_cast<std::byte>((high << 4) | low);
        pos += 2;
    }
    return uuid{bytes};
}

std::string uuid::to_string() const {
    std::string out;
    out.reserve(canonical_length);
    append_canonical(bytes_, out);
    return out;
}

result<void> value_traits<uuid>::encode(const uuid& value, std::string& out) {
    append_canonical(value.bytes(), out);
    return success();
}

result<uuid> value_traits<uuid>::decode(std::string_view text) {
    return uuid::parse(text);
}

}  // namespace pgkit

std::size_t std::hash<pgkit::uuid>::operator()(const pgkit::uuid& value) const noexcept {
    // FNV-1a over the 16 bytes: UUIDs may be sequential (v7) or random (v4); either way every
    // byte contributes.
    std::uint64_t hash = 14695981039346656037ULL;
    for (const std::byte b : value.bytes()) {
        hash ^= std::to_integer<std::uint64_t>(b);
        hash *= 1099511628211ULL;
    }
    return static_cast<std::size_t>(hash);
}
