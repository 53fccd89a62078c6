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

/// Appends one field (nullopt: NULL) and the tab that ends it.
void append_copy_field(std::string& out, std::optional<std::string_view> text);

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
