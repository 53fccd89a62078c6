#include "pgkit/cursor_key.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace pgkit {

namespace {

constexpr std::size_t mac_bytes = 32;

/// HMAC-SHA-256 contexts set up once per secret: keying an HMAC (and OpenSSL 3's lookup of the
/// algorithms by name) costs more than the MAC of a cursor, so each MAC starts from a copy.
EVP_MAC_CTX* keyed_context(std::string_view secret) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) {
        return nullptr;
    }
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  // the context keeps its own reference
    if (ctx == nullptr) {
        return nullptr;
    }
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
                     params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

/// One secret's keyed HMAC context and spare copies of it. A MAC takes a spare (a copy of the
/// keyed context made on first need), resets it to the key and returns it: copying a context
/// and freeing it cost three times the reset, and more than the MAC of a cursor.
class keyed_mac {
  public:
    explicit keyed_mac(EVP_MAC_CTX* keyed) noexcept : keyed_(keyed) {}
    keyed_mac(const keyed_mac&) = delete;
    keyed_mac& operator=(const keyed_mac&) = delete;
    ~keyed_mac() {
        for (EVP_MAC_CTX* ctx : spares_) {
            EVP_MAC_CTX_free(ctx);
        }
        EVP_MAC_CTX_free(keyed_);
    }

    /// The MAC of `message`; empty on an OpenSSL failure.
    [[nodiscard]] std::string mac(std::string_view message) const {
        EVP_MAC_CTX* ctx = take();
        if (ctx == nullptr) {
            return {};
        }
        std::string mac(mac_bytes, '\0');
        std::size_t length = 0;
        const bool ok = EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(message.data()),
                                       message.size()) == 1 &&
                        EVP_MAC_final(ctx, reinterpret_cast<unsigned char*>(mac.data()), &length,
                                      mac.size()) == 1 &&
                        length == mac_bytes;
        give_back(ctx);
        return ok ? mac : std::string{};
    }

  private:
    /// A context ready for a new MAC under the key.
    EVP_MAC_CTX* take() const {
        EVP_MAC_CTX* ctx = nullptr;
        {
            std::lock_guard lock{mutex_};
            if (!spares_.empty()) {
                ctx = spares_.back();
                spares_.pop_back();
            }
        }
        if (ctx == nullptr) {
            return EVP_MAC_CTX_dup(keyed_);
        }
        // No key: HMAC starts again from the key it was given.
        if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1) {
            EVP_MAC_CTX_free(ctx);
            return EVP_MAC_CTX_dup(keyed_);
        }
        return ctx;
    }
    void give_back(EVP_MAC_CTX* ctx) const {
        std::lock_guard lock{mutex_};
        if (spares_.size() < max_spares) {
            spares_.push_back(ctx);
            return;
        }
        EVP_MAC_CTX_free(ctx);
    }

    static constexpr std::size_t max_spares = 64;  // about the threads signing at once
    EVP_MAC_CTX* keyed_;
    mutable std::mutex mutex_;
    mutable std::vector<EVP_MAC_CTX*> spares_;
};

}  // namespace

struct cursor_key::prepared {
    std::vector<std::unique_ptr<keyed_mac>> secrets;  ///< [0] signs; all verify
};

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
    auto contexts = std::make_shared<prepared>();
    auto add = [&](std::string_view s) {
        EVP_MAC_CTX* ctx = keyed_context(s);
        if (ctx != nullptr) {
            contexts->secrets.push_back(std::make_unique<keyed_mac>(ctx));
        }
        return ctx != nullptr;
    };
    bool ok = add(secret);
    for (auto& previous : options.previous_secrets) {
        ok = ok && add(previous);
        OPENSSL_cleanse(previous.data(), previous.size());
    }
    if (!ok) {
        return make_error(errc::internal, "cursor_key: OpenSSL could not set up HMAC-SHA-256");
    }
    cursor_key key;
    key.prepared_ = std::move(contexts);
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

std::chrono::system_clock::time_point cursor_key::now() const {
    return clock_ ? clock_() : std::chrono::system_clock::now();
}

std::string cursor_key::sign(std::string_view message) const {
    std::string mac;
    if (prepared_) {  // a moved-from key signs nothing that verifies
        mac = prepared_->secrets.front()->mac(message);
    }
    if (mac.size() != mac_bytes) {
        // Only on an OpenSSL failure; a MAC of zeros verifies nothing this key did not sign.
        mac.assign(mac_bytes, '\0');
    }
    return mac;
}

bool cursor_key::verify(std::string_view message, std::string_view mac) const {
    if (mac.size() != mac_bytes || !prepared_) {
        return false;
    }
    bool matched = false;
    for (const auto& secret : prepared_->secrets) {
        const std::string expected = secret->mac(message);
        // Every secret is tried, so the time taken does not tell which one matched.
        matched |= expected.size() == mac_bytes &&
                   CRYPTO_memcmp(expected.data(), mac.data(), mac_bytes) == 0;
    }
    return matched;
}

}  // namespace pgkit
