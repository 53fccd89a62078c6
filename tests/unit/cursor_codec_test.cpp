// Keyset cursors without a server: base64url (no padding, canonical only) and the signed wire
// format's round trip, including NULLs, empty strings and arbitrary bytes.
#include "pagination/cursor_codec.hpp"

#include "pgkit/cursor_key.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using pgkit::detail::base64url_decode;
using pgkit::detail::base64url_encode;

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pgkit::cursor_key test_key(pgkit::cursor_key_options options = {}) {
    auto key = pgkit::cursor_key::create("0123456789abcdef0123456789abcdef", std::move(options));
    REQUIRE(key);
    return std::move(*key);
}

}  // namespace

TEST_SUITE("cursor codec") {
    TEST_CASE("cursor codec: base64url round-trips random bytes of every length 0..64") {
        std::mt19937 rng{20240605};
        std::uniform_int_distribution<int> byte{0, 255};
        for (std::size_t n = 0; n <= 64; ++n) {
            CAPTURE(n);
            for (int rep = 0; rep < 8; ++rep) {
                std::string bytes(n, '\0');
                for (auto& c : bytes) {
                    c = static_cast<char>(byte(rng));
                }
                const auto text = base64url_encode(bytes);
                CHECK(text.size() == (n * 4 + 2) / 3);  // no padding
                CHECK(text.find_first_not_of(alphabet) == std::string::npos);
                CHECK(base64url_decode(text) == bytes);
            }
        }
    }

    TEST_CASE("cursor codec: base64url matches RFC 4648's vectors with the URL alphabet") {
        CHECK(base64url_encode("") == "");
        CHECK(base64url_encode("f") == "Zg");
        CHECK(base64url_encode("fo") == "Zm8");
        CHECK(base64url_encode("foo") == "Zm9v");
        CHECK(base64url_encode("foob") == "Zm9vYg");
        CHECK(base64url_encode("fooba") == "Zm9vYmE");
        CHECK(base64url_encode("foobar") == "Zm9vYmFy");
        CHECK(base64url_encode("\xfb\xff") == "-_8");
        CHECK(base64url_decode("-_8") == std::string{"\xfb\xff"});
        CHECK(base64url_decode("") == std::string{});
    }

    TEST_CASE("cursor codec: base64url refuses other alphabets, padding and odd lengths") {
        for (const char* bad : {"+_8A", "-/8A", "Zg==", "Zm9", "Zm 9v", "Zm9v\n", "Zm9v.",
                                "Zm9v\xc3\xa9", "Z\x00gA"}) {
            CAPTURE(bad);
            CHECK_FALSE(base64url_decode(bad));
        }
        CHECK_FALSE(base64url_decode(std::string_view{"Zg\0A", 4}));
        for (std::size_t n : {1U, 5U, 9U, 13U, 93U}) {
            CAPTURE(n);
            CHECK_FALSE(base64url_decode(std::string(n, 'A')));
            CHECK(base64url_decode(std::string(n + 1, 'A')));
        }
    }

    TEST_CASE("cursor codec: base64url refuses non-canonical trailing bits") {
        // Two characters carry one byte (4 spare bits), three carry two (2 spare bits).
        for (char last : alphabet) {
            const auto v = static_cast<int>(alphabet.find(last));
            CAPTURE(last);
            CHECK(base64url_decode(std::string{"Zm9v"} + "Z" + last).has_value() ==
                  ((v & 0x0f) == 0));
            CHECK(base64url_decode(std::string{"Zm"} + last).has_value() == ((v & 0x03) == 0));
        }
        CHECK_FALSE(base64url_decode("Zh"));
        CHECK_FALSE(base64url_decode("Zm9"));
    }

    TEST_CASE("cursor codec: a cursor round-trips NULLs, empty strings and any bytes") {
        const auto key = test_key();
        const auto fp = pgkit::detail::fingerprint_of("table;ordering;filter");
        CHECK(fp.size() == 8);
        CHECK(fp == pgkit::detail::fingerprint_of("table;ordering;filter"));
        CHECK(fp != pgkit::detail::fingerprint_of("table;ordering;filter "));
        const std::vector<pgkit::detail::cursor_values> cases{
            {},
            {std::nullopt},
            {std::string{}},
            {std::nullopt, std::string{}, std::string{"abc"}},
            {std::string(300, 'x'), std::nullopt},  // a two-byte length
            {std::string{"\x00\x01\xff", 3}, std::string{"2024-01-01 00:00:00+00"}},
            {std::string(20000, 'y')},
        };
        for (std::size_t i = 0; i < cases.size(); ++i) {
            CAPTURE(i);
            const auto cursor = pgkit::detail::encode_cursor(key, fp, cases[i]);
            CHECK(cursor.find_first_not_of(alphabet) == std::string::npos);
            if (cursor.size() > pgkit::detail::max_cursor_chars) {
                CHECK(
                    pgkit::detail::decode_cursor(key, fp, cursor, cases[i].size()).error().code() ==
                    pgkit::errc::invalid_cursor);
                continue;
            }
            auto decoded = pgkit::detail::decode_cursor(key, fp, cursor, cases[i].size());
            REQUIRE(decoded);
            CHECK(*decoded == cases[i]);
            auto wrong_count = pgkit::detail::decode_cursor(key, fp, cursor, cases[i].size() + 1);
            CHECK(wrong_count.error().code() == pgkit::errc::invalid_cursor);
            auto other_query = pgkit::detail::decode_cursor(
                key, pgkit::detail::fingerprint_of("another"), cursor, cases[i].size());
            CHECK(other_query.error().code() == pgkit::errc::invalid_cursor);
        }
        CHECK(pgkit::detail::decode_cursor(key, fp, "", 0).error().code() ==
              pgkit::errc::invalid_cursor);
    }

    TEST_CASE("cursor codec: issue time, max_age and skew use the key's clock") {
        auto now = std::make_shared<std::chrono::system_clock::time_point>(
            std::chrono::sys_days{std::chrono::year{2030} / 1 / 1});
        const auto key =
            test_key({.max_age = std::chrono::seconds{60}, .clock = [now] { return *now; }});
        const auto fp = pgkit::detail::fingerprint_of("q");
        const auto cursor = pgkit::detail::encode_cursor(key, fp, {std::string{"1"}});
        const auto issued = *now;
        auto at = [&](std::chrono::seconds offset) {
            *now = issued + offset;
            return pgkit::detail::decode_cursor(key, fp, cursor, 1);
        };
        CHECK(at(std::chrono::seconds{0}));
        CHECK(at(std::chrono::seconds{60}));
        CHECK(at(std::chrono::seconds{61}).error().code() == pgkit::errc::invalid_cursor);
        CHECK(at(std::chrono::seconds{-300}));
        CHECK(at(std::chrono::seconds{-301}).error().code() == pgkit::errc::invalid_cursor);
    }

    TEST_CASE(
        "cursor codec: any 64-bit issue time under a genuine MAC is judged without overflow") {
        // A key holder can sign any issue time, so decode_cursor must cope with all of them:
        // 2^63 and above are times before 1970 (two's complement, as encode_cursor writes them),
        // the oldest of which once made `now - issued` overflow and read as a fresh cursor.
        const auto now = std::chrono::system_clock::time_point{
            std::chrono::sys_days{std::chrono::year{2030} / 1 / 1}};
        const std::int64_t now_seconds =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        const auto fp = pgkit::detail::fingerprint_of("q");
        auto signed_cursor = [&](const pgkit::cursor_key& key, std::uint64_t issued) {
            std::string body;
            body.push_back('\1');  // format version
            body.append(fp);
            for (int shift = 56; shift >= 0; shift -= 8) {
                body.push_back(static_cast<char>((issued >> shift) & 0xff));
            }
            body.push_back('\1');  // one value: "x"
            body.push_back('\1');
            body.push_back('\1');
            body.push_back('x');
            return base64url_encode(body + key.sign(body));
        };
        const auto expiring =
            test_key({.max_age = std::chrono::seconds{60}, .clock = [now] { return now; }});
        const auto lasting = test_key({.clock = [now] { return now; }});
        struct expectation {
            std::uint64_t issued;
            bool accepted_with_max_age;
            bool accepted_without;
        };
        const auto at = [&](std::int64_t offset) {
            return static_cast<std::uint64_t>(now_seconds + offset);
        };
        const std::vector<expectation> cases{
            {0x8000'0000'0000'0000ULL, false, true},  // INT64_MIN seconds: very old
            {0x8000'0000'0000'0001ULL, false, true},
            {0xffff'ffff'ffff'ffffULL, false, true},   // one second before 1970
            {0x7fff'ffff'ffff'ffffULL, false, false},  // far in the future
            {0, false, true},
            {at(0), true, true},
            {at(-60), true, true},
            {at(-61), false, true},
            {at(300), true, true},
            {at(301), false, false},
        };
        for (const auto& c : cases) {
            CAPTURE(c.issued);
            auto with_max_age =
                pgkit::detail::decode_cursor(expiring, fp, signed_cursor(expiring, c.issued), 1);
            CHECK(with_max_age.has_value() == c.accepted_with_max_age);
            if (with_max_age) {
                CHECK(*with_max_age == pgkit::detail::cursor_values{std::string{"x"}});
            } else {
                CHECK(with_max_age.error().code() == pgkit::errc::invalid_cursor);
            }
            auto without_max_age =
                pgkit::detail::decode_cursor(lasting, fp, signed_cursor(lasting, c.issued), 1);
            CHECK(without_max_age.has_value() == c.accepted_without);
        }
    }

    TEST_CASE("cursor codec: the key's HMAC-SHA-256 matches RFC 4231 on every reuse") {
        // RFC 4231 test case 6: a 131-byte key (hashed first), reused context after context.
        const std::string secret(131, '\xaa');
        const std::string message = "Test Using Larger Than Block-Size Key - Hash Key First";
        const std::string expected_hex =
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
        auto hex = [](const std::string& bytes) {
            std::string out;
            for (unsigned char c : bytes) {
                out += "0123456789abcdef"[c >> 4];
                out += "0123456789abcdef"[c & 15];
            }
            return out;
        };
        auto key = pgkit::cursor_key::create(secret);
        REQUIRE(key);
        for (int i = 0; i < 5; ++i) {
            CAPTURE(i);
            const auto mac = key->sign(message);
            CHECK(hex(mac) == expected_hex);
            CHECK(key->verify(message, mac));
            // Another message in between: the next MAC starts again from the key alone.
            CHECK(hex(key->sign(message + "!")) != expected_hex);
        }
        // A previous secret verifies through its own contexts, reused as well.
        auto rotated =
            pgkit::cursor_key::create(std::string(32, 'k'), {.previous_secrets = {secret}});
        REQUIRE(rotated);
        for (int i = 0; i < 3; ++i) {
            CHECK(rotated->verify(message, key->sign(message)));
            CHECK_FALSE(rotated->verify(message + "!", key->sign(message)));
        }
    }
}
