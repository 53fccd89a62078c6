#include "json_writer.hpp"

#include <fmt/format.h>

#include <cmath>

namespace pgkit::cli {

namespace {

/// The length of the UTF-8 sequence starting at text[i], or 0 when it is not one (overlong
/// forms, surrogates and values above U+10FFFF included).
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t n = 0;
    unsigned char min_second = 0x80;
    unsigned char max_second = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        n = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        n = 3;
        min_second = lead == 0xE0 ? 0xA0 : 0x80;
        max_second = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        n = 4;
        min_second = lead == 0xF0 ? 0x90 : 0x80;
        max_second = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (i + n > text.size() || byte(i + 1) < min_second || byte(i + 1) > max_second) {
        return 0;
    }
    for (std::size_t k = 2; k < n; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) {
            return 0;
        }
    }
    return n;
}

}  // namespace

std::string json_quote(std::string_view text) {
    std::string out = "\"";
    out.reserve(text.size() + 2);
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8_length(text, i);
            if (n == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    return out + "\"";
}

void json_writer::separate() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!open_.empty()) {
        if (open_.back()) {
            out_ += ',';
        }
        open_.back() = true;
    }
}

json_writer& json_writer::begin_object() {
    separate();
    out_ += '{';
    open_.push_back(false);
    return *this;
}

json_writer& json_writer::end_object() {
    out_ += '}';
    open_.pop_back();
    return *this;
}

json_writer& json_writer::begin_array() {
    separate();
    out_ += '[';
    open_.push_back(false);
    return *this;
}

json_writer& json_writer::end_array() {
    out_ += ']';
    open_.pop_back();
    return *this;
}

json_writer& json_writer::key(std::string_view name) {
    separate();
    out_ += json_quote(name);
    out_ += ':';
    after_key_ = true;
    return *this;
}

json_writer& json_writer::value(std::string_view text) {
    separate();
    out_ += json_quote(text);
    return *this;
}

json_writer& json_writer::value(std::int64_t number) {
    separate();
    out_ += std::to_string(number);
    return *this;
}

json_writer& json_writer::value(std::uint64_t number) {
    separate();
    out_ += std::to_string(number);
    return *this;
}

json_writer& json_writer::value(double number) {
    separate();
    // JSON has no NaN or infinity.
    out_ += std::isfinite(number) ? fmt::format("{}", number) : std::string{"null"};
    return *this;
}

json_writer& json_writer::value(bool flag) {
    separate();
    out_ += flag ? "true" : "false";
    return *this;
}

json_writer& json_writer::null() {
    separate();
    out_ += "null";
    return *this;
}

json_writer& json_writer::value(const std::vector<std::string>& texts) {
    begin_array();
    for (const auto& t : texts) {
        value(t);
    }
    return end_array();
}

}  // namespace pgkit::cli
