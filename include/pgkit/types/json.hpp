#pragma once

/// pgkit::json: JSON text, mapped to PostgreSQL's jsonb (and read from json columns too).

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <string>
#include <string_view>
#include <utility>

namespace pgkit {

/// A JSON document as text. pgkit does not parse JSON: the server validates it (a malformed
/// document sent as a parameter fails with the server's data_exception), and the text read back
/// is exactly what the server printed. Pair it with the JSON library of your choice.
///
/// Equality compares the text, not the JSON value: `{"a":1}` and `{ "a": 1 }` differ. Note that
/// jsonb normalises documents: it drops insignificant whitespace, sorts object keys (shorter keys
/// first) and keeps only the last of duplicate keys, so text read back from a jsonb column may
/// differ from the text sent. A json (not jsonb) column keeps the text as given.
class json {
  public:
    /// The JSON literal null.
    json() = default;
    explicit json(std::string text) noexcept : text_(std::move(text)) {}

    [[nodiscard]] const std::string& text() const& noexcept { return text_; }
    [[nodiscard]] std::string text() && noexcept { return std::move(text_); }

    friend bool operator==(const json&, const json&) = default;

  private:
    std::string text_ = "null";
};

/// json <-> jsonb (decoding accepts json columns as well: the text is passed through). Encoding
/// fails with errc::invalid_argument when the text contains a NUL byte.
template <>
struct value_traits<json> {
    static constexpr std::string_view pg_type = "jsonb";
    static result<void> encode(const json& value, std::string& out);
    static result<json> decode(std::string_view text);
};

}  // namespace pgkit
