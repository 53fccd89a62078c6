#include "copy/copy_text.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

namespace pgkit::detail {
namespace {

bool is_octal(char c) noexcept {
    return c >= '0' && c <= '7';
}

tl::unexpected<error> malformed(std::string_view why, std::size_t offset) {
    return make_error(
        errc::internal,
        fmt::format("malformed COPY text row from the server: {} at byte {}", why, offset));
}

}  // namespace

result<void> parse_copy_line(std::string_view line,
                             std::string& storage,
                             std::vector<copy_field>& fields) {
    storage.clear();
    fields.clear();
    if (!line.empty() && line.back() == '\n') {
        line.remove_suffix(1);
    }
    std::size_t i = 0;
    for (;;) {
        copy_field field{storage.size(), 0, false};
        const std::size_t start = i;
        while (i < line.size() && line[i] != '\t') {
            const char c = line[i++];
            if (c == '\0') {
                return malformed("a NUL byte", i - 1);
            }
            if (c != '\\') {
                storage += c;
                continue;
            }
            if (i == line.size()) {
                return malformed("a backslash ends the row", i - 1);
            }
            const char escaped = line[i++];
            char out = escaped;
            switch (escaped) {
                case 'b':
                    out = '\b';
                    break;
                case 'f':
                    out = '\f';
                    break;
                case 'n':
                    out = '\n';
                    break;
                case 'r':
                    out = '\r';
                    break;
                case 't':
                    out = '\t';
                    break;
                case 'v':
                    out = '\v';
                    break;
                case 'x': {
                    const int high = i < line.size() ? hex_value(line[i]) : -1;
                    if (high < 0) {
                        break;  // \x without a hex digit is an x, as the server reads it
                    }
                    int value = high;
                    ++i;
                    if (i < line.size() && hex_value(line[i]) >= 0) {
                        value = value * 16 + hex_value(line[i++]);
                    }
                    out = static_cast<char>(value);
                    break;
                }
                default:
                    if (is_octal(escaped)) {
                        int value = escaped - '0';
                        for (int digits = 1; digits < 3 && i < line.size() && is_octal(line[i]);
                             ++digits) {
                            value = value * 8 + (line[i++] - '0');
                        }
                        out = static_cast<char>(value & 0xFF);
                    }
                    break;
            }
            if (out == '\0') {
                return malformed("an escape makes a NUL byte", i - 1);
            }
            storage += out;
        }
        if (line.substr(start, i - start) == "\\N") {
            storage.resize(field.offset);
            field.is_null = true;
        }
        field.length = storage.size() - field.offset;
        fields.push_back(field);
        if (i == line.size()) {
            return {};
        }
        ++i;  // the tab
    }
}

}  // namespace pgkit::detail
