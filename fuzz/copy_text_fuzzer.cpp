// libFuzzer target: the COPY text format (src/copy/copy_text.hpp), which connection::copy_out
// reads from the server and copy_writer writes. Oracles:
//   - the input, read as a row, never crashes parse_copy_line: it is accepted, and then writing
//     the fields it read with append_copy_field (the encoder copy_writer uses) and parsing that
//     gives the same fields again; or it is refused with errc::internal;
//   - fields built from the input (text without NUL bytes, or NULL) survive append_copy_field ->
//     parse_copy_line, and the encoded row holds no raw newline but the one that ends it;
//   - the same fields written with every escape the format allows, chosen byte by byte (\b \f
//     \n \r \t \v, \\, 1-3 octal digits, \x and 1-2 hex digits, a backslash before an ordinary
//     character), parse to the same fields.
#include "copy/copy_text.hpp"
#include "fuzz_check.hpp"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using pgkit::detail::append_copy_field;
using pgkit::detail::copy_field;
using pgkit::detail::parse_copy_line;
using pgkit::fuzz::printable;
using fields_t = std::vector<std::optional<std::string>>;

fields_t to_fields(const std::string& storage, const std::vector<copy_field>& fields) {
    fields_t out;
    for (const auto& f : fields) {
        if (f.is_null) {
            out.emplace_back(std::nullopt);
        } else {
            out.emplace_back(storage.substr(f.offset, f.length));
        }
    }
    return out;
}

std::string describe(const fields_t& fields) {
    std::string out = "[";
    for (const auto& f : fields) {
        out += f ? printable(*f) : std::string{"NULL"};
        out += ", ";
    }
    return out + "]";
}

std::string encode(const fields_t& fields) {
    std::string line;
    for (const auto& f : fields) {
        append_copy_field(line, f ? std::optional<std::string_view>{*f} : std::nullopt);
    }
    line.back() = '\n';
    return line;
}

fields_t parse(std::string_view line) {
    std::string storage;
    std::vector<copy_field> fields;
    auto parsed = parse_copy_line(line, storage, fields);
    PGKIT_FUZZ_CHECK(parsed, "refused " + printable(line) + ": " + parsed.error().message());
    return to_fields(storage, fields);
}

/// One byte in a form the parser must read back as that byte.
void append_escaped_byte(std::string& out, char c, std::uint8_t how) {
    constexpr std::string_view octal = "01234567";
    constexpr std::string_view hex = "0123456789abcdef";
    const auto byte = static_cast<unsigned char>(c);
    switch (how % 5) {
        case 0:  // the encoder's own form
            append_copy_field(out, std::string_view{&c, 1});
            out.pop_back();  // its tab
            return;
        case 1:  // three octal digits always work
            out += '\\';
            out += octal[(byte >> 6U) & 7U];
            out += octal[(byte >> 3U) & 7U];
            out += octal[byte & 7U];
            return;
        case 2:  // \x and two hex digits (upper case too)
            out += "\\x";
            out += hex[byte >> 4U];
            out += (how & 8U) != 0 ? static_cast<char>(std::toupper(hex[byte & 15U]))
                                   : hex[byte & 15U];
            return;
        case 3:  // the named escapes, where one exists
            switch (c) {
                case '\b':
                    out += "\\b";
                    return;
                case '\f':
                    out += "\\f";
                    return;
                case '\v':
                    out += "\\v";
                    return;
                default:
                    break;
            }
            append_escaped_byte(out, c, 0);
            return;
        default:  // a backslash before a character with no escape meaning stands for it
            if (c == 'N' || c == 'x' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't' ||
                c == 'v' || (c >= '0' && c <= '7') || c == '\n' || c == '\r' || c == '\t' ||
                c == '\\') {
                append_escaped_byte(out, c, 1);
            } else {
                out += '\\';
                out += c;
            }
            return;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input{reinterpret_cast<const char*>(data), size};

    // The input as a row from the server.
    {
        std::string storage;
        std::vector<copy_field> fields;
        auto parsed = parse_copy_line(input, storage, fields);
        if (parsed) {
            PGKIT_FUZZ_CHECK(!fields.empty(), "no field in " + printable(input));
            const fields_t first = to_fields(storage, fields);
            for (const auto& f : first) {
                PGKIT_FUZZ_CHECK(!f || f->find('\0') == std::string::npos,
                                 "a NUL byte read from " + printable(input));
            }
            const std::string again = encode(first);
            PGKIT_FUZZ_CHECK(parse(again) == first, printable(input) + " -> " + describe(first) +
                                                        " -> " + printable(again) + " -> " +
                                                        describe(parse(again)));
        } else {
            PGKIT_FUZZ_CHECK(parsed.error().code() == pgkit::errc::internal,
                             "unexpected error code for " + printable(input));
        }
    }

    // Fields built from the input, through the encoder and through every escape.
    pgkit::fuzz::byte_reader reader{input};
    fields_t fields;
    std::string forms;
    while (!reader.empty() && fields.size() < 64) {
        const std::uint8_t kind = reader.byte();
        if (kind % 7 == 0) {
            fields.emplace_back(std::nullopt);
            continue;
        }
        std::string text{reader.piece()};
        std::erase(text, '\0');
        forms += std::string(text.size(), static_cast<char>(kind));
        fields.emplace_back(std::move(text));
    }
    if (fields.empty()) {
        return 0;
    }
    const std::string line = encode(fields);
    PGKIT_FUZZ_CHECK(line.find('\n') == line.size() - 1, "raw newline inside " + printable(line));
    PGKIT_FUZZ_CHECK(parse(line) == fields,
                     describe(fields) + " -> " + printable(line) + " -> " + describe(parse(line)));

    std::string escaped;
    std::size_t form = 0;
    for (const auto& f : fields) {
        if (!f) {
            escaped += "\\N\t";
            continue;
        }
        for (const char c : *f) {
            append_escaped_byte(escaped, c, static_cast<std::uint8_t>(forms[form++] + c));
        }
        escaped += '\t';
    }
    escaped.back() = '\n';
    PGKIT_FUZZ_CHECK(parse(escaped) == fields, describe(fields) + " -> " + printable(escaped) +
                                                   " -> " + describe(parse(escaped)));
    return 0;
}
