#pragma once

// The wire format of keyset cursors (internal). A cursor is base64url (no padding) of:
//
//   version (1 byte) | fingerprint (8) | issued at (8: Unix seconds, big-endian, signed)
//   | value count (varint) | per value: 0 (NULL) or 1 + length (varint) + text
//   | HMAC-SHA-256 of everything before it (32)
//
// The fingerprint names the query the cursor belongs to (table, ordering, scope, filter and
// its values), so a cursor from another query is refused even though its MAC is genuine.

#include "pgkit/cursor_key.hpp"
#include "pgkit/error.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail {

using cursor_values = std::vector<std::optional<std::string>>;

/// Cursors longer than this are refused before any decoding.
inline constexpr std::size_t max_cursor_chars = 8192;

/// The first 8 bytes of SHA-256 of `description`.
[[nodiscard]] std::string fingerprint_of(std::string_view description);

[[nodiscard]] std::string base64url_encode(std::string_view bytes);
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

[[nodiscard]] std::string encode_cursor(const cursor_key& key,
                                        std::string_view fingerprint,
                                        const cursor_values& values);

/// The key values of a cursor that `key` signed for the query `fingerprint` names, with
/// `expected_values` values; invalid_cursor (saying which check failed) otherwise.
[[nodiscard]] result<cursor_values> decode_cursor(const cursor_key& key,
                                                  std::string_view fingerprint,
                                                  std::string_view cursor,
                                                  std::size_t expected_values);

}  // namespace pgkit::detail
