#include "pgkit/types/array.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

namespace pgkit {
namespace {

using detail::excerpt;
using detail::iequals;

/// Whitespace as PostgreSQL's array parser sees it.
constexpr bool is_array_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/// Where an element's text lives until every element is known (storage may still grow).
struct element_span {
    bool is_null;
    bool in_storage;
    std::size_t offset;
    std::size_t length;
};

class array_parser {
  public:
    array_parser(std::string_view text, std::string& storage) : text_(text), storage_(storage) {}

    result<void> parse(std::vector<element_span>& spans) {
        skip_space();
        if (peek() == '[') {
            if (auto skipped = skip_dimensions(); !skipped) {
                return skipped;
            }
        }
        skip_space();
        if (peek() != '{') {
            return malformed("expected '{'");
        }
        ++pos_;
        skip_space();
        if (peek() == '}') {
            ++pos_;
            return expect_end();
        }
        for (;;) {
            skip_space();
            auto element = peek() == '"' ? quoted_element() : unquoted_element();
            if (!element) {
                return tl::unexpected(std::move(element).error());
            }
            spans.push_back(*element);
            skip_space();
            const char next = peek();
            ++pos_;
            if (next == ',') {
                continue;
            }
            if (next == '}') {
                return expect_end();
            }
            return malformed("expected ',' or '}' after an element");
        }
    }

  private:
    [[nodiscard]] char peek() const noexcept { return pos_ < text_.size() ? text_[pos_] : '\0'; }
    [[nodiscard]] bool at_end() const noexcept { return pos_ >= text_.size(); }

    void skip_space() noexcept {
        while (!at_end() && is_array_space(text_[pos_])) {
            ++pos_;
        }
    }

    tl::unexpected<error> malformed(std::string_view why) const {
        return make_error(errc::type_mismatch, fmt::format("'{}' is not a valid array literal: {}",
                                                           excerpt(text_), why));
    }

    tl::unexpected<error> multidimensional() const {
        return make_error(errc::type_mismatch,
                          fmt::format("'{}' is a multidimensional array; only one-dimensional "
                                      "arrays can be read into a std::vector",
                                      excerpt(text_)));
    }

    /// Skips "[lower:upper]..." followed by '='. The bounds are not needed for a vector.
    result<void> skip_dimensions() {
        std::size_t dimensions = 0;
        while (peek() == '[') {
            ++pos_;
            while (!at_end() && text_[pos_] != ']') {
                const char c = text_[pos_];
                if (!detail::is_digit(c) && c != ':' && c != '-' && c != '+') {
                    return malformed("bad dimension decoration");
                }
                ++pos_;
            }
            if (at_end()) {
                return malformed("unterminated dimension decoration");
            }
            ++pos_;
            ++dimensions;
        }
        skip_space();
        if (peek() != '=') {
            return malformed("expected '=' after the dimensions");
        }
        ++pos_;
        if (dimensions > 1) {
            return multidimensional();
        }
        return success();
    }

    /// At the opening quote.
    result<element_span> quoted_element() {
        ++pos_;
        const std::size_t start = pos_;
        bool escaped = false;
        while (!at_end() && text_[pos_] != '"') {
            if (text_[pos_] == '\\') {
                escaped = true;
                ++pos_;
                if (at_end()) {
                    break;
                }
            }
            ++pos_;
        }
        if (at_end()) {
            return malformed("unterminated quoted element");
        }
        const std::size_t end = pos_;
        ++pos_;  // closing quote
        return make_span(start, end, escaped);
    }

    /// At the first character of an unquoted element.
    result<element_span> unquoted_element() {
        const std::size_t start = pos_;
        std::size_t significant_end = pos_;  // after the last non-space or escaped character
        bool escaped = false;
        while (!at_end()) {
            const char c = text_[pos_];
            if (c == ',' || c == '}') {
                break;
            }
            if (c == '{') {
                return pos_ == start ? multidimensional()
                                     : malformed("unexpected '{' inside an element");
            }
            if (c == '"') {
                return malformed("unexpected '\"' inside an unquoted element");
            }
            if (c == '\\') {
                escaped = true;
                if (++pos_ == text_.size()) {
                    return malformed("backslash at the end");
                }
                significant_end = ++pos_;
                continue;
            }
            ++pos_;
            if (!is_array_space(c)) {
                significant_end = pos_;
            }
        }
        if (at_end()) {
            return malformed("missing '}'");
        }
        if (significant_end == start) {
            return malformed("empty unquoted element");
        }
        if (!escaped && iequals(text_.substr(start, significant_end - start), "null")) {
            return element_span{true, false, 0, 0};
        }
        return make_span(start, significant_end, escaped);
    }

    /// The element text_[start, end), unescaped into storage when it has backslashes.
    element_span make_span(std::size_t start, std::size_t end, bool escaped) {
        if (!escaped) {
            return {false, false, start, end - start};
        }
        const std::size_t offset = storage_.size();
        for (std::size_t i = start; i < end; ++i) {
            if (text_[i] == '\\') {
                ++i;  // the escaped character itself (always present: checked by the callers)
            }
            storage_ += text_[i];
        }
        return {false, true, offset, storage_.size() - offset};
    }

    result<void> expect_end() {
        skip_space();
        if (!at_end()) {
            return malformed("unexpected text after '}'");
        }
        return success();
    }

    std::string_view text_;
    std::string& storage_;
    std::size_t pos_ = 0;
};

}  // namespace

namespace detail {

result<void> split_array(std::string_view text,
                         std::string& storage,
                         std::vector<std::optional<std::string_view>>& elements) {
    storage.clear();
    elements.clear();
    std::vector<element_span> spans;
    array_parser parser{text, storage};
    if (auto parsed = parser.parse(spans); !parsed) {
        elements.clear();
        return parsed;
    }
    // Views are made only now: `storage` no longer grows, so its data() is stable.
    elements.reserve(spans.size());
    for (const element_span& span : spans) {
        if (span.is_null) {
            elements.emplace_back();
        } else if (span.in_storage) {
            elements.emplace_back(std::string_view{storage.data() + span.offset, span.length});
        } else {
            elements.emplace_back(text.substr(span.offset, span.length));
        }
    }
    return success();
}

void append_quoted_array_element(std::string_view element, std::string& out) {
    out += '"';
    std::size_t plain = 0;  // the start of the run not yet copied
    for (std::size_t i = 0; i < element.size(); ++i) {
        if (element[i] == '"' || element[i] == '\\') {
            out.append(element.data() + plain, i - plain);
            out += '\\';
            plain = i;  // the character itself goes out with the next run
        }
    }
    out.append(element.data() + plain, element.size() - plain);
    out += '"';
}

error array_element_error(error failure, std::size_t index) {
    error annotated{failure.code(), fmt::format("array element {}: {}", index, failure.message())};
    annotated.with_sqlstate(failure.sqlstate());
    return annotated;
}

error array_null_element_error(std::size_t index) {
    return error{errc::type_mismatch, fmt::format("array element {} is NULL; read the column as "
                                                  "std::vector<std::optional<T>>",
                                                  index)};
}

}  // namespace detail
}  // namespace pgkit
