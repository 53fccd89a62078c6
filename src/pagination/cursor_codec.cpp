#include "pagination/cursor_codec.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <chrono>
#include <cstdint>

namespace pgkit::detail {

namespace {

constexpr std::uint8_t format_version = 1;
constexpr std::size_t fingerprint_bytes = 8;
constexpr std::size_t mac_bytes = 32;
constexpr std::size_t header_bytes = 1 + fingerprint_bytes + 8;
/// Cursors issued this far in the future (clock skew between servers) are still accepted.
constexpr std::chrono::seconds allowed_skew{300};

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int sextet(char c) noexcept {
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

void put_varint(std::string& out, std::uint64_t value) {
    while (value >= 0x80) {
        out.push_back(static_cast<char>((value & 0x7f) | 0x80));
        value >>= 7;
    }
    out.push_back(static_cast<char>(value));
}

/// Reads bytes from a decoded cursor; every read is bounds-checked.
class reader {
  public:
    explicit reader(std::string_view bytes) noexcept : bytes_(bytes) {}
    [[nodiscard]] std::optional<std::uint8_t> byte() {
        if (pos_ >= bytes_.size()) {
            return std::nullopt;
        }
        return static_cast<std::uint8_t>(bytes_[pos_++]);
    }
    [[nodiscard]] std::optional<std::uint64_t> varint() {
        std::uint64_t value = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
            auto b = byte();
            if (!b) {
                return std::nullopt;
            }
            value |= static_cast<std::uint64_t>(*b & 0x7f) << shift;
            if ((*b & 0x80) == 0) {
                return value;
            }
        }
        return std::nullopt;
    }
    [[nodiscard]] std::optional<std::string_view> take(std::uint64_t count) {
        if (count > bytes_.size() - pos_) {
            return std::nullopt;
        }
        auto out = bytes_.substr(pos_, static_cast<std::size_t>(count));
        pos_ += static_cast<std::size_t>(count);
        return out;
    }
    [[nodiscard]] bool at_end() const noexcept { return pos_ == bytes_.size(); }

  private:
    std::string_view bytes_;
    std::size_t pos_ = 0;
};

tl::unexpected<error> invalid(std::string_view why) {
    return make_error(errc::invalid_cursor, "invalid cursor: " + std::string{why});
}

}  // namespace

std::string fingerprint_of(std::string_view description) {
    // Fetched once: OpenSSL 3's SHA256() looks the algorithm up by name on every call, which
    // costs as much as hashing a page's description.
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (sha256 == nullptr ||
        EVP_Digest(description.data(), description.size(), digest.data(), &length, sha256,
                   nullptr) != 1 ||
        length < fingerprint_bytes) {
        SHA256(reinterpret_cast<const unsigned char*>(description.data()), description.size(),
               digest.data());  // the slow path, should the fetch ever fail
    }
    return std::string(reinterpret_cast<const char*>(digest.data()), fingerprint_bytes);
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    auto at = [&](std::size_t k) {
        return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
    };
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t n = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
        out.push_back(alphabet[(n >> 18) & 63]);
        out.push_back(alphabet[(n >> 12) & 63]);
        out.push_back(alphabet[(n >> 6) & 63]);
        out.push_back(alphabet[n & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t n = at(i) << 16;
        out.push_back(alphabet[(n >> 18) & 63]);
        out.push_back(alphabet[(n >> 12) & 63]);
    } else if (rest == 2) {
        const std::uint32_t n = at(i) << 16 | at(i + 1) << 8;
        out.push_back(alphabet[(n >> 18) & 63]);
        out.push_back(alphabet[(n >> 12) & 63]);
        out.push_back(alphabet[(n >> 6) & 63]);
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) {
        return std::nullopt;
    }
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t buffer = 0;
    unsigned bits = 0;
    for (char c : text) {
        const int v = sextet(c);
        if (v < 0) {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    // Canonical form only: the unused low bits of the last character must be zero.
    if ((buffer & ((1U << bits) - 1)) != 0) {
        return std::nullopt;
    }
    return out;
}

std::string encode_cursor(const cursor_key& key,
                          std::string_view fingerprint,
                          const cursor_values& values) {
    std::string bytes;
    bytes.push_back(static_cast<char>(format_version));
    bytes.append(fingerprint.substr(0, fingerprint_bytes));
    const auto issued =
        std::chrono::duration_cast<std::chrono::seconds>(key.now().time_since_epoch()).count();
    for (int shift = 56; shift >= 0; shift -= 8) {
        bytes.push_back(static_cast<char>((static_cast<std::uint64_t>(issued) >> shift) & 0xff));
    }
    put_varint(bytes, values.size());
    for (const auto& value : values) {
        if (!value) {
            bytes.push_back('\0');
            continue;
        }
        bytes.push_back('\1');
        put_varint(bytes, value->size());
        bytes.append(*value);
    }
    bytes.append(key.sign(bytes));
    return base64url_encode(bytes);
}

result<cursor_values> decode_cursor(const cursor_key& key,
                                    std::string_view fingerprint,
                                    std::string_view cursor,
                                    std::size_t expected_values) {
    if (cursor.empty()) {
        return invalid("empty");
    }
    if (cursor.size() > max_cursor_chars) {
        return invalid("too long");
    }
    auto bytes = base64url_decode(cursor);
    if (!bytes) {
        return invalid("not base64url");
    }
    if (bytes->size() < header_bytes + 1 + mac_bytes) {
        return invalid("truncated");
    }
    const std::string_view body{bytes->data(), bytes->size() - mac_bytes};
    const std::string_view mac{bytes->data() + body.size(), mac_bytes};
    if (!key.verify(body, mac)) {
        return invalid(
            "the signature does not match (altered, truncated or signed with another key)");
    }
    reader in{body};
    if (in.byte() != format_version) {
        return invalid("unsupported format version");
    }
    if (in.take(fingerprint_bytes) != fingerprint.substr(0, fingerprint_bytes)) {
        return invalid("it belongs to another query (table, ordering, scope or filter)");
    }
    std::uint64_t issued_raw = 0;
    for (int i = 0; i < 8; ++i) {
        issued_raw = (issued_raw << 8) | *in.byte();  // header length checked above
    }
    // Two's complement, as encode_cursor writes it. Any 64-bit value may arrive here under a
    // genuine MAC, so the distance to now is taken as an unsigned difference (exact, since it
    // is computed only in the direction where it is not negative), never as now - issued.
    const auto issued = static_cast<std::int64_t>(issued_raw);
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(key.now().time_since_epoch()).count();
    if (issued > now) {
        const std::uint64_t ahead = issued_raw - static_cast<std::uint64_t>(now);
        if (ahead > static_cast<std::uint64_t>(allowed_skew.count())) {
            return invalid("issued in the future");
        }
    } else if (key.max_age()) {
        const std::uint64_t age = static_cast<std::uint64_t>(now) - issued_raw;
        if (age > static_cast<std::uint64_t>(key.max_age()->count())) {  // max_age > 0
            return invalid("expired");
        }
    }
    auto count = in.varint();
    if (!count || *count != expected_values) {
        return invalid("wrong number of key values");
    }
    cursor_values values;
    values.reserve(expected_values);
    for (std::size_t i = 0; i < expected_values; ++i) {
        auto tag = in.byte();
        if (tag == 0) {
            values.emplace_back();
            continue;
        }
        if (tag != 1) {
            return invalid("malformed key value");
        }
        auto length = in.varint();
        if (!length) {
            return invalid("malformed key value");
        }
        auto text = in.take(*length);
        if (!text) {
            return invalid("malformed key value");
        }
        values.emplace_back(std::string{*text});
    }
    if (!in.at_end()) {
        return invalid("trailing bytes");
    }
    return values;
}

}  // namespace pgkit::detail
