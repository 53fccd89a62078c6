#include "pgkit/cursor_key.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <utility>

namespace pgkit {

namespace {

constexpr std::size_t mac_bytes = 32;

std::string hmac_sha256(std::string_view secret, std::string_view message) {
    std::string mac(mac_bytes, '\0');
    unsigned int length = 0;
    const unsigned char* ok =
        HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(),
             reinterpret_cast<unsigned char*>(mac.data()), &length);
    if (ok == nullptr || length != mac_bytes) {
        // Only on a broken OpenSSL installation; a MAC of zeros verifies nothing it did not sign.
        return std::string(mac_bytes, '\0');
    }
    return mac;
}

}  // namespace

result<cursor_key> cursor_key::create(std::string_view secret, cursor_key_options options) {
    if (secret.size() < min_secret_bytes) {
        return make_error(errc::invalid_argument,
                          "cursor_key: the secret must have at least 32 bytes");
    }
    for (const auto& previous : options.previous_secrets) {
        if (previous.size() < min_secret_bytes) {
            return make_error(errc::invalid_argument,
                              "cursor_key: every previous secret must have at least 32 bytes");
        }
    }
    if (options.max_age && options.max_age->count() <= 0) {
        return make_error(errc::invalid_argument, "cursor_key: max_age must be positive");
    }
    cursor_key key;
    key.secrets_.emplace_back(secret);
    for (auto& previous : options.previous_secrets) {
        key.secrets_.push_back(std::move(previous));
    }
    key.max_age_ = options.max_age;
    key.clock_ = std::move(options.clock);
    return key;
}

result<cursor_key> cursor_key::generate(cursor_key_options options) {
    std::string secret(min_secret_bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1) {
        return make_error(errc::internal, "cursor_key: OpenSSL's random generator failed");
    }
    auto key = create(secret, std::move(options));
    OPENSSL_cleanse(secret.data(), secret.size());
    return key;
}

cursor_key::~cursor_key() {
    for (auto& secret : secrets_) {
        OPENSSL_cleanse(secret.data(), secret.size());
    }
}

std::chrono::system_clock::time_point cursor_key::now() const {
    return clock_ ? clock_() : std::chrono::system_clock::now();
}

std::string cursor_key::sign(std::string_view message) const {
    if (secrets_.empty()) {  // a moved-from key signs nothing that verifies
        return std::string(mac_bytes, '\0');
    }
    return hmac_sha256(secrets_.front(), message);
}

bool cursor_key::verify(std::string_view message, std::string_view mac) const {
    if (mac.size() != mac_bytes) {
        return false;
    }
    bool matched = false;
    for (const auto& secret : secrets_) {
        const std::string expected = hmac_sha256(secret, message);
        // Every secret is tried, so the time taken does not tell which one matched.
        matched |= CRYPTO_memcmp(expected.data(), mac.data(), mac_bytes) == 0;
    }
    return matched;
}

}  // namespace pgkit
