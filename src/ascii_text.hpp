#pragma once

// ASCII text helpers shared by the library's parsers and error messages (private).

#include <string>
#include <string_view>

namespace pgkit::detail {

/// Shortens long server values in error messages (they may be huge or contain user data).
[[nodiscard]] inline std::string excerpt(std::string_view text) {
    constexpr std::size_t limit = 40;
    if (text.size() <= limit) {
        return std::string{text};
    }
    return std::string{text.substr(0, limit)} + "...";
}

[[nodiscard]] constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

/// The value of one hex digit, or -1.
[[nodiscard]] constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// ASCII case-insensitive equality.
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return false;
    }
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) {
            return false;
        }
    }
    return true;
}

}  // namespace pgkit::detail
