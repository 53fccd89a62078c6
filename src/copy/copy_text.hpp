#pragma once

// PostgreSQL's COPY text format (private): the encoder copy_writer writes rows with, and the
// parser that reads the rows of COPY ... TO STDOUT. A row is its fields separated by tabs and
// ended by a newline; NULL is \N; a backslash escapes: \b \f \n \r \t \v, \\, 1-3 octal digits,
// x and 1-2 hex digits, and any other character stands for itself.

#include "pgkit/error.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// Appends one field (nullopt: NULL) and the tab that ends it.
inline void append_copy_field(std::string& out, std::optional<std::string_view> text) {
    if (text) {
        append_copy_escaped(*text, out);
        out += '\t';
    } else {
        out += "\\N\t";
    }
}

/// Where a parsed field's text is, in the storage parse_copy_line filled.
struct copy_field {
    std::size_t offset = 0;
    std::size_t length = 0;
    bool is_null = false;
};

/// Splits one row (with or without its newline) into fields, unescaped into `storage`
/// (cleared first); `fields` is cleared and filled. internal (the server sent something that is
/// not a COPY text row): a backslash at the end, a NUL byte, or an escape that makes one.
[[nodiscard]] result<void> parse_copy_line(std::string_view line,
                                           std::string& storage,
                                           std::vector<copy_field>& fields);

}  // namespace pgkit::detail
