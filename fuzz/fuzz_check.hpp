#pragma once

// Shared by pgkit's libFuzzer targets (fuzz/*_fuzzer.cpp): an oracle check that prints what
// failed and aborts, so that libFuzzer saves the input as a crash artifact, and a reader that
// turns fuzz bytes into choices.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace pgkit::fuzz {

/// `text` quoted, with bytes outside printable ASCII written as \xNN (for failure reports).
[[nodiscard]] inline std::string printable(std::string_view text) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte >= 0x20 && byte < 0x7f) {
            out += c;
        } else {
            out += "\\x";
            out += hex[byte >> 4U];
            out += hex[byte & 0x0fU];
        }
    }
    out += '"';
    return out;
}

[[noreturn]] inline void oracle_failed(const char* file,
                                       int line,
                                       const char* condition,
                                       const std::string& detail) {
    std::fprintf(stderr, "\n%s:%d: oracle failed: %s\n%s\n", file, line, condition, detail.c_str());
    std::fflush(stderr);
    std::abort();
}

/// The rest of a fuzz input, read front to back; reads past the end give zeros and empty text.
class byte_reader {
  public:
    explicit byte_reader(std::string_view data) noexcept : data_(data) {}

    [[nodiscard]] bool empty() const noexcept { return data_.empty(); }
    [[nodiscard]] std::size_t size() const noexcept { return data_.size(); }

    [[nodiscard]] std::uint8_t byte() noexcept {
        if (data_.empty()) {
            return 0;
        }
        const auto b = static_cast<std::uint8_t>(data_.front());
        data_.remove_prefix(1);
        return b;
    }

    /// `bytes` bytes (at most 8), big-endian.
    [[nodiscard]] std::uint64_t integer(std::size_t bytes) noexcept {
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < bytes && i < 8; ++i) {
            value = (value << 8U) | byte();
        }
        return value;
    }

    /// Up to `count` bytes.
    [[nodiscard]] std::string_view take(std::size_t count) noexcept {
        const auto out = data_.substr(0, count);
        data_.remove_prefix(out.size());
        return out;
    }

    /// A piece whose length is the next byte (so one input holds several pieces).
    [[nodiscard]] std::string_view piece() noexcept { return take(byte()); }

    [[nodiscard]] std::string_view rest() noexcept { return take(data_.size()); }

  private:
    std::string_view data_;
};

/// Choices for targets whose input is plain text (so that seed files stay readable): a
/// splitmix64 sequence seeded with the FNV-1a hash of the input.
class choices {
  public:
    explicit choices(std::string_view data) noexcept {
        std::uint64_t hash = 14695981039346656037ULL;
        for (const char c : data) {
            hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
        }
        state_ = hash;
    }

    [[nodiscard]] std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31U);
    }

    /// Uniform enough in [0, bound); 0 when bound is 0.
    [[nodiscard]] std::size_t below(std::size_t bound) noexcept {
        return bound == 0 ? 0 : static_cast<std::size_t>(next() % bound);
    }

  private:
    std::uint64_t state_ = 0;
};

}  // namespace pgkit::fuzz

/// Aborts with `detail` (a std::string expression, evaluated only on failure) unless `condition`.
#define PGKIT_FUZZ_CHECK(condition, detail)                                                    \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            ::pgkit::fuzz::oracle_failed(__FILE__, __LINE__, #condition, std::string(detail)); \
        }                                                                                      \
    } while (false)
