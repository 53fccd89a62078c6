#pragma once

// A small JSON writer for the pgkit tool's --json output: one document, written in order, with
// strings escaped per RFC 8259 (quotes, backslashes, control characters; bytes that are not
// UTF-8 become U+FFFD, so the document stays valid whatever the server or a file held).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::cli {

/// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_quote(std::string_view text);

class json_writer {
  public:
    json_writer& begin_object();
    json_writer& end_object();
    json_writer& begin_array();
    json_writer& end_array();
    /// The next member's name (inside an object).
    json_writer& key(std::string_view name);
    json_writer& value(std::string_view text);
    json_writer& value(const char* text) { return value(std::string_view{text}); }
    json_writer& value(const std::string& text) { return value(std::string_view{text}); }
    json_writer& value(std::int64_t number);
    json_writer& value(std::uint64_t number);
    json_writer& value(int number) { return value(static_cast<std::int64_t>(number)); }
    json_writer& value(double number);
    json_writer& value(bool flag);
    json_writer& null();
    template <class T>
    json_writer& value(const std::optional<T>& maybe) {
        return maybe ? value(*maybe) : null();
    }
    json_writer& value(const std::vector<std::string>& texts);

    /// The document so far, with a final newline once it is complete.
    [[nodiscard]] std::string str() const { return out_ + (open_.empty() ? "\n" : ""); }

  private:
    void separate();
    std::string out_;
    std::vector<bool> open_;  // per open container: whether it has a member yet
    bool after_key_ = false;
};

}  // namespace pgkit::cli
