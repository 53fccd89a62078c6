#pragma once

/// The secret that signs keyset-pagination cursors (see pagination.hpp).
///
/// ```cpp
/// auto key = pgkit::cursor_key::create(secret_from_config, {.max_age = std::chrono::hours{24}});
/// pgkit::repository<clip> clips{pool, *key};
/// ```
///
/// A cursor carries the position it continues from and an HMAC-SHA-256 over everything in it,
/// so a client can hold it but not forge, alter or re-target it. Every process that serves the
/// same pages needs the same secret. Rotation: sign with a new secret and keep the old one in
/// `previous_secrets` until the cursors it signed have expired. The secret never appears in an
/// error message or log line.

#include "pgkit/error.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

struct cursor_key_options {
    /// Cursors older than this are invalid_cursor; nullopt: cursors do not expire.
    std::optional<std::chrono::seconds> max_age{};
    /// Secrets that still verify cursors but no longer sign them (key rotation).
    std::vector<std::string> previous_secrets{};
    /// The clock behind issue times and max_age; empty: std::chrono::system_clock::now.
    std::function<std::chrono::system_clock::time_point()> clock{};
};

class cursor_key {
  public:
    /// At least this many bytes of secret (the HMAC-SHA-256 key length).
    static constexpr std::size_t min_secret_bytes = 32;

    /// invalid_argument when the secret (or a previous one) is shorter than min_secret_bytes or
    /// max_age is not positive.
    [[nodiscard]] static result<cursor_key> create(std::string_view secret,
                                                   cursor_key_options options = {});
    /// A key with a random secret from OpenSSL's generator: cursors are valid only in this
    /// process (tests, single-process tools).
    [[nodiscard]] static result<cursor_key> generate(cursor_key_options options = {});

    [[nodiscard]] const std::optional<std::chrono::seconds>& max_age() const noexcept {
        return max_age_;
    }
    [[nodiscard]] std::chrono::system_clock::time_point now() const;

    /// HMAC-SHA-256 of `message` with the signing secret (32 bytes).
    [[nodiscard]] std::string sign(std::string_view message) const;
    /// Whether `mac` is the HMAC of `message` under the signing secret or a previous one
    /// (constant-time comparison).
    [[nodiscard]] bool verify(std::string_view message, std::string_view mac) const;

  private:
    /// OpenSSL HMAC contexts keyed once with each secret ([0] signs; all verify), with spare
    /// copies that each MAC resets and returns. Shared by copies of the key; OpenSSL wipes the
    /// keys when they are freed.
    struct prepared;
    cursor_key() = default;
    std::shared_ptr<const prepared> prepared_;
    std::optional<std::chrono::seconds> max_age_;
    std::function<std::chrono::system_clock::time_point()> clock_;
};

}  // namespace pgkit
