#include "pgkit/types/bytea.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace {

using bytes = std::vector<std::byte>;
using traits = pgkit::value_traits<bytes>;

bytes make_bytes(std::initializer_list<int> values) {
    bytes out;
    for (const int v : values) {
        out.push_back(static_cast<std::byte>(v));
    }
    return out;
}

std::string encode(const bytes& value) {
    std::string out;
    REQUIRE(traits::encode(value, out).has_value());
    return out;
}

}  // namespace

TEST_SUITE("types") {
    TEST_CASE("bytea: encodes in hex format") {
        static_assert(pgkit::mappable<bytes>);
        CHECK(traits::pg_type == "bytea");
        CHECK(encode({}) == "\\x");
        CHECK(encode(make_bytes({0x0a, 0x1b, 0x00, 0xff})) == "\\x0a1b00ff");
    }

    TEST_CASE("bytea: decodes hex format in either case") {
        CHECK(*traits::decode("\\x") == bytes{});
        CHECK(*traits::decode("\\x0a1b00ff") == make_bytes({0x0a, 0x1b, 0x00, 0xff}));
        CHECK(*traits::decode("\\xDEADbeef") == make_bytes({0xde, 0xad, 0xbe, 0xef}));
        CHECK(*traits::decode("\\x de ad\nbe ef ") == make_bytes({0xde, 0xad, 0xbe, 0xef}));
    }

    TEST_CASE("bytea: round-trips all 256 byte values") {
        bytes all;
        for (int i = 0; i < 256; ++i) {
            all.push_back(static_cast<std::byte>(i));
        }
        const auto decoded = traits::decode(encode(all));
        REQUIRE(decoded.has_value());
        CHECK(*decoded == all);
    }

    TEST_CASE("bytea: decodes the legacy escape format") {
        CHECK(*traits::decode("") == bytes{});
        CHECK(*traits::decode("abc") == make_bytes({'a', 'b', 'c'}));
        CHECK(*traits::decode("a\\000b\\\\c\\377") == make_bytes({'a', 0, 'b', '\\', 'c', 0xff}));
        CHECK(*traits::decode("\\134") == make_bytes({'\\'}));
    }

    TEST_CASE("bytea: rejects malformed text with type_mismatch") {
        for (const char* text : {"\\x0", "\\x0g", "\\xg0", "\\x0 a", "\\x123", "\\", "a\\b",
                                 "\\400", "\\08", "\\12", "\\x\\x00"}) {
            CAPTURE(text);
            const auto decoded = traits::decode(text);
            REQUIRE_FALSE(decoded.has_value());
            CHECK(decoded.error().code() == pgkit::errc::type_mismatch);
        }
    }

    TEST_CASE("bytea: a span of bytes encodes like a vector") {
        const bytes data = make_bytes({1, 2, 254});
        static_assert(pgkit::encodable<std::span<const std::byte>>);
        static_assert(pgkit::sql_parameter<std::span<const std::byte>>);
        CHECK(pgkit::pg_type_of<std::span<const std::byte>>() == "bytea");
        std::string out;
        REQUIRE(pgkit::value_traits<std::span<const std::byte>>::encode(data, out).has_value());
        CHECK(out == "\\x0102fe");
    }
}
