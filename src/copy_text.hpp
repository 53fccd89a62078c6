#pragma once

// COPY's text format on the way out (private): the escapes a field needs so that the server reads
// back exactly its bytes. Only four bytes need one: the column separator (tab), the row separator
// (newline), carriage return and backslash itself.

#include <cstddef>
#include <string>
#include <string_view>

namespace pgkit::detail {

/// The escape letter of `c` in COPY's text format ("\\t" for a tab), or 0 when it needs none.
[[nodiscard]] constexpr char copy_escape_letter(char c) noexcept {
    switch (c) {
        case '\\':
            return '\\';
        case '\n':
            return 'n';
        case '\r':
            return 'r';
        case '\t':
            return 't';
        default:
            return 0;
    }
}

/// The position of the first byte of `text` that needs an escape, or text.size().
[[nodiscard]] inline std::size_t first_copy_escape(std::string_view text) noexcept {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        // One comparison for the usual byte: every escaped byte is a backslash or <= '\r'.
        if ((static_cast<unsigned char>(c) <= '\r' || c == '\\') && copy_escape_letter(c) != 0) {
            return i;
        }
    }
    return text.size();
}

/// Appends `text` escaped for COPY's text format, in one pass: runs of plain bytes are appended
/// whole.
inline void append_copy_escaped(std::string_view text, std::string& out) {
    std::size_t plain = 0;
    for (std::size_t i = first_copy_escape(text); i < text.size();
         i = plain + first_copy_escape(text.substr(plain))) {
        out.append(text.data() + plain, i - plain);
        out += '\\';
        out += copy_escape_letter(text[i]);
        plain = i + 1;
    }
    out.append(text.data() + plain, text.size() - plain);
}

}  // namespace pgkit::detail
