#pragma once

// Small helpers shared by the type mappings in src/types/ (private to the library).

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

/// ASCII case-insensitive equality (`b` must be lowercase).
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view lower_b) noexcept {
    if (a.size() != lower_b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != lower_b[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace pgkit::detail
