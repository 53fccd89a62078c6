#include "startup_options.hpp"

namespace pgkit::detail {
namespace {

/// The bytes the server's isspace() may treat as blanks: the six ASCII ones in every locale,
/// and NEL and NO-BREAK SPACE, which single-byte locales such as LATIN1 count too. Escaping a
/// byte that is not a blank is harmless: the backslash only keeps the byte.
[[nodiscard]] constexpr bool may_be_blank(char c) noexcept {
    switch (static_cast<unsigned char>(c)) {
        case ' ':
        case '\t':
        case '\n':
        case '\v':
        case '\f':
        case '\r':
        case 0x85:
        case 0xA0:
            return true;
        default:
            return false;
    }
}

/// isspace() in the C locale: where the server certainly splits.
[[nodiscard]] constexpr bool is_blank(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

std::vector<std::string> split_startup_options(std::string_view options) {
    std::vector<std::string> arguments;
    std::size_t i = 0;
    const std::size_t n = options.size();
    while (i < n) {
        while (i < n && is_blank(options[i])) {
            ++i;
        }
        if (i >= n) {
            break;
        }
        std::string argument;
        bool escaped = false;
        for (; i < n; ++i) {
            const char c = options[i];
            if (!escaped && is_blank(c)) {
                break;
            }
            if (!escaped && c == '\\') {
                escaped = true;
            } else {
                escaped = false;
                argument += c;
            }
        }
        if (!argument.empty()) {  // only a lone trailing backslash yields nothing
            arguments.push_back(std::move(argument));
        }
    }
    return arguments;
}

void append_startup_argument(std::string& options, std::string_view argument) {
    if (!options.empty()) {
        options += ' ';
    }
    for (const char c : argument) {
        if (c == '\\' || may_be_blank(c)) {
            options += '\\';
        }
        options += c;
    }
}

std::string join_startup_options(const std::vector<std::string>& arguments) {
    std::string options;
    for (const auto& argument : arguments) {
        append_startup_argument(options, argument);
    }
    return options;
}

void append_startup_setting(std::string& options, std::string_view name, std::string_view value) {
    append_startup_argument(options, "-c");
    std::string setting;
    setting.reserve(name.size() + 1 + value.size());
    setting.append(name).append("=").append(value);
    append_startup_argument(options, setting);
}

}  // namespace pgkit::detail
