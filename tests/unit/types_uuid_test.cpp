#include "pgkit/types/uuid.hpp"

#include <doctest/doctest.h>

#include <string>
#include <unordered_set>

namespace {

using pgkit::uuid;

}  // namespace

TEST_SUITE("types") {
    TEST_CASE("uuid: parses the lowercase canonical form and prints it back") {
        const auto parsed = uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        REQUIRE(parsed.has_value());
        CHECK(parsed->to_string() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        CHECK(parsed->bytes()[0] == std::byte{0xa0});
        CHECK(parsed->bytes()[15] == std::byte{0x11});
    }

    TEST_CASE("uuid: parses uppercase canonical form") {
        const auto upper = uuid::parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11");
        const auto mixed = uuid::parse("a0EEbc99-9c0B-4ef8-bB6d-6bb9bd380A11");
        REQUIRE(upper.has_value());
        REQUIRE(mixed.has_value());
        CHECK(upper->to_string() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        CHECK(*upper == *mixed);
    }

    TEST_CASE("uuid: nil and max values") {
        CHECK(uuid{}.is_nil());
        CHECK(uuid{}.to_string() == "00000000-0000-0000-0000-000000000000");
        const auto max = uuid::parse("ffffffff-ffff-ffff-ffff-ffffffffffff");
        REQUIRE(max.has_value());
        CHECK_FALSE(max->is_nil());
        CHECK(uuid{} < *max);
    }

    TEST_CASE("uuid: rejects malformed text with type_mismatch") {
        for (const char* text : {
                 "",
                 "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",     // too short
                 "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",   // too long
                 "a0eebc999c0b4ef8bb6d6bb9bd380a11",        // no hyphens
                 "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",  // braces
                 "a0eebc99-9c0b-4ef8-bb6d_6bb9bd380a11",    // wrong separator
                 "a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11",    // hyphen misplaced
                 "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",    // not hex
                 " a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",    // whitespace
             }) {
            CAPTURE(text);
            const auto parsed = uuid::parse(text);
            REQUIRE_FALSE(parsed.has_value());
            CHECK(parsed.error().code() == pgkit::errc::type_mismatch);
        }
    }

    TEST_CASE("uuid: orders byte-wise like PostgreSQL") {
        const auto a = *uuid::parse("00000000-0000-0000-0000-0000000000ff");
        const auto b = *uuid::parse("00000000-0000-0000-0000-000000000100");
        const auto c = *uuid::parse("80000000-0000-0000-0000-000000000000");
        CHECK(a < b);
        CHECK(b < c);
        CHECK(c > a);
        CHECK(a != b);
        CHECK((a <=> a) == std::strong_ordering::equal);
    }

    TEST_CASE("uuid: hashes distinct values apart and equal values together") {
        std::unordered_set<uuid> set;
        set.insert(*uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
        set.insert(*uuid::parse("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"));
        set.insert(uuid{});
        CHECK(set.size() == 2);
        CHECK(std::hash<uuid>{}(uuid{}) !=
              std::hash<uuid>{}(*uuid::parse("00000000-0000-0000-0000-000000000001")));
    }

    TEST_CASE("uuid: value_traits encodes and decodes the canonical form") {
        static_assert(pgkit::mappable<uuid>);
        CHECK(pgkit::value_traits<uuid>::pg_type == "uuid");
        const auto value = *uuid::parse("123e4567-e89b-12d3-a456-426614174000");
        std::string out = "prefix:";
        REQUIRE(pgkit::value_traits<uuid>::encode(value, out).has_value());
        CHECK(out == "prefix:123e4567-e89b-12d3-a456-426614174000");
        const auto decoded =
            pgkit::value_traits<uuid>::decode("123e4567-e89b-12d3-a456-426614174000");
        REQUIRE(decoded.has_value());
        CHECK(*decoded == value);
        CHECK(pgkit::value_traits<uuid>::decode("nope").error().code() ==
              pgkit::errc::type_mismatch);
    }
}
