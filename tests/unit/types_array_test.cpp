#include "pgkit/types/array.hpp"
#include "pgkit/types/chrono.hpp"
#include "pgkit/types/numeric.hpp"
#include "pgkit/types/uuid.hpp"

#include "type_codec.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

using pgkit::test::decode;
using pgkit::test::decode_error;
using pgkit::test::encode;

using strings = std::vector<std::string>;
using optional_strings = std::vector<std::optional<std::string>>;

}  // namespace

TEST_SUITE("types") {
    TEST_CASE("array: pg_type is the element type with []") {
        static_assert(pgkit::value_traits<std::vector<std::int64_t>>::pg_type == "int8[]");
        static_assert(pgkit::value_traits<optional_strings>::pg_type == "text[]");
        static_assert(pgkit::value_traits<std::vector<pgkit::uuid>>::pg_type == "uuid[]");
        static_assert(pgkit::value_traits<std::vector<pgkit::numeric>>::pg_type == "numeric[]");
        static_assert(pgkit::value_traits<
                          std::vector<std::chrono::sys_time<std::chrono::microseconds>>>::pg_type ==
                      "timestamptz[]");
        static_assert(pgkit::value_traits<std::vector<std::vector<std::byte>>>::pg_type ==
                      "bytea[]");
        static_assert(pgkit::pg_type_of<std::optional<std::vector<bool>>>() == "bool[]");
        CHECK(pgkit::value_traits<std::vector<double>>::pg_type == "float8[]");
    }

    TEST_CASE("array: std::vector<std::byte> stays bytea") {
        static_assert(pgkit::value_traits<std::vector<std::byte>>::pg_type == "bytea");
        CHECK(encode(std::vector<std::byte>{std::byte{1}}) == "\\x01");
    }

    TEST_CASE("array: mappability follows the element type") {
        static_assert(pgkit::mappable<std::vector<std::int32_t>>);
        static_assert(pgkit::mappable<std::vector<std::optional<std::int32_t>>>);
        static_assert(pgkit::mappable<strings>);
        static_assert(pgkit::mappable<std::vector<bool>>);
        static_assert(pgkit::mappable<std::vector<std::vector<std::byte>>>);
        // Nested arrays are not supported yet; unmapped elements are not arrays.
        static_assert(!pgkit::encodable<std::vector<std::vector<std::int32_t>>>);
        static_assert(!pgkit::decodable<std::vector<std::vector<std::int32_t>>>);
        static_assert(!pgkit::encodable<std::vector<char>>);
        static_assert(!pgkit::encodable<std::vector<std::uint8_t>>);
        // Views can be sent but not read: unescaped elements would have nothing to view.
        static_assert(pgkit::encodable<std::vector<std::string_view>>);
        static_assert(!pgkit::decodable<std::vector<std::string_view>>);
        static_assert(pgkit::encodable<std::vector<const char*>>);
        static_assert(!pgkit::decodable<std::vector<const char*>>);
        CHECK(true);
    }

    TEST_CASE("array: encodes every element quoted and escaped but integers bare") {
        CHECK(encode(std::vector<std::int32_t>{}) == "{}");
        // Digits and a sign never need quoting.
        CHECK(encode(std::vector<std::int32_t>{1, -2, 3}) == "{1,-2,3}");
        CHECK(encode(std::vector<std::int64_t>{INT64_MIN, INT64_MAX}) ==
              "{-9223372036854775808,9223372036854775807}");
        CHECK(encode(std::vector<std::int16_t>{-32768}) == "{-32768}");
        CHECK(encode(std::vector<std::optional<std::int32_t>>{std::nullopt, 7, std::nullopt}) ==
              "{NULL,7,NULL}");
        CHECK(encode(strings{"a\"\\\"b\\"}) == R"({"a\"\\\"b\\"})");
        CHECK(encode(strings{"a\"b", "c\\d", "", "NULL", "x,y", "{z}", " s "}) ==
              R"({"a\"b","c\\d","","NULL","x,y","{z}"," s "})");
        CHECK(encode(optional_strings{std::nullopt, "x", std::nullopt}) == R"({NULL,"x",NULL})");
        CHECK(encode(std::vector<bool>{true, false}) == R"({"t","f"})");
        CHECK(encode(std::vector<std::vector<std::byte>>{{std::byte{0xab}}, {}}) ==
              R"({"\\xab","\\x"})");
        CHECK(encode(std::vector<const char*>{"a", "b"}) == R"({"a","b"})");
    }

    TEST_CASE("array: an element that cannot be encoded fails the whole array") {
        using namespace std::string_literals;
        std::string out = "kept";
        auto encoded = pgkit::value_traits<strings>::encode(strings{"ok", "bad\0"s}, out);
        REQUIRE_FALSE(encoded.has_value());
        CHECK(encoded.error().code() == pgkit::errc::invalid_argument);
    }

    TEST_CASE("array: decodes unquoted and quoted elements") {
        CHECK(decode<std::vector<std::int32_t>>("{}").empty());
        CHECK(decode<std::vector<std::int32_t>>("{1,-2,3}") == std::vector<std::int32_t>{1, -2, 3});
        CHECK(decode<strings>(R"({a,"b c","d\"e","f\\g","","NULL","x,y","{z}"})") ==
              strings{"a", "b c", "d\"e", "f\\g", "", "NULL", "x,y", "{z}"});
        CHECK(decode<strings>(R"({"\\x01"})") == strings{"\\x01"});
        CHECK(decode<std::vector<bool>>("{t,f,t}") == std::vector<bool>{true, false, true});
        CHECK(decode<strings>("{\"caf\xc3\xa9\",\xe6\xbc\xa2\xe5\xad\x97}") ==
              strings{"caf\xc3\xa9", "\xe6\xbc\xa2\xe5\xad\x97"});
    }

    TEST_CASE("array: unquoted NULL is NULL in any case, quoted NULL is a string") {
        CHECK(decode<optional_strings>(R"({NULL,null,"NULL",NuLl,x})") ==
              optional_strings{std::nullopt, std::nullopt, "NULL", std::nullopt, "x"});
        CHECK(decode<optional_strings>(R"({\NULL,NULLx})") == optional_strings{"NULL", "NULLx"});
    }

    TEST_CASE("array: a NULL element needs an optional element type") {
        const auto failure = decode_error<std::vector<std::int32_t>>("{1,NULL,3}");
        CHECK(failure.code() == pgkit::errc::type_mismatch);
        CHECK(failure.message().find("element 1") != std::string::npos);
        CHECK(decode<std::vector<std::optional<std::int32_t>>>("{1,NULL,3}") ==
              std::vector<std::optional<std::int32_t>>{1, std::nullopt, 3});
    }

    TEST_CASE("array: skips the dimension decoration") {
        CHECK(decode<std::vector<std::int32_t>>("[0:2]={1,2,3}") ==
              std::vector<std::int32_t>{1, 2, 3});
        CHECK(decode<std::vector<std::int32_t>>("[-5:-4]={7,8}") ==
              std::vector<std::int32_t>{7, 8});
    }

    TEST_CASE("array: tolerates whitespace around elements and escapes in unquoted ones") {
        CHECK(decode<strings>(" { a , \"b\" ,c\\ d\\  } ") == strings{
                                                                  "a",
                                                                  "b",
                                                                  "c d ",
                                                              });
        CHECK(decode<std::vector<std::int32_t>>("{ 1 ,\t2\n}") == std::vector<std::int32_t>{1, 2});
    }

    TEST_CASE("array: multidimensional arrays are type_mismatch") {
        CHECK(decode_error<std::vector<std::int32_t>>("{{1,2},{3,4}}").code() ==
              pgkit::errc::type_mismatch);
        CHECK(decode_error<std::vector<std::int32_t>>("[1:2][1:2]={{1,2},{3,4}}").code() ==
              pgkit::errc::type_mismatch);
        CHECK(decode_error<strings>("{{}}").message().find("multidimensional") !=
              std::string::npos);
    }

    TEST_CASE("array: rejects malformed literals with type_mismatch") {
        for (const char* text :
             {"",     "1,2",    "{",         "}",          "{1,2",       "{1,,2}",
              "{,}",  "{1,}",   "{,1}",      "{\"a}",      "{\"a\"b}",   "{a\"b\"}",
              "{1}x", "{1} }",  "{a{b}",     "[1:2]{1,2}", "[1:2={1,2}", "[x]={1}",
              "{\\}", "{\"\\}", "{a b\"c\"}"}) {
            CAPTURE(text);
            const auto failure = decode_error<strings>(text);
            CHECK(failure.code() == pgkit::errc::type_mismatch);
        }
    }

    TEST_CASE("array: an element that fails to decode names its index") {
        const auto failure = decode_error<std::vector<std::int16_t>>("{1,2,40000}");
        CHECK(failure.code() == pgkit::errc::type_mismatch);
        CHECK(failure.message().find("element 2") != std::string::npos);
    }

    TEST_CASE("array: round-trips tricky strings") {
        const optional_strings values{"",          "NULL", "null", " ",  "\"",
                                      "\\",        "\\\"", ",",    "{",  "}",
                                      "{}",        "a b",  "\t",   "\n", "\xf0\x9f\x98\x80",
                                      std::nullopt};
        CHECK(decode<optional_strings>(encode(values)) == values);
    }

    TEST_CASE("array: arrays of uuid, numeric and timestamps") {
        using namespace std::chrono;
        const std::vector<pgkit::uuid> ids{
            *pgkit::uuid::parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), pgkit::uuid{}};
        CHECK(decode<std::vector<pgkit::uuid>>(encode(ids)) == ids);
        const auto numbers = decode<std::vector<pgkit::numeric>>("{1.50,NaN,-Infinity,0}");
        REQUIRE(numbers.size() == 4);
        CHECK(numbers[0].to_string() == "1.50");
        CHECK(numbers[1].is_nan());
        using micro_time = sys_time<microseconds>;
        const auto times = decode<std::vector<micro_time>>(
            R"({"2024-01-02 03:04:05.123456+00",infinity,"0044-03-15 00:00:00+00 BC"})");
        REQUIRE(times.size() == 3);
        CHECK(times[0] == micro_time{sys_days{2024y / 1 / 2}} + 3h + 4min + 5s + 123456us);
        CHECK(times[1] == micro_time::max());
        CHECK(encode(times) ==
              R"({"2024-01-02 03:04:05.123456+00","infinity","0044-03-15 00:00:00+00 BC"})");
    }

    TEST_CASE("array: split_array returns views and unescaped copies") {
        std::string storage;
        std::vector<std::optional<std::string_view>> elements;
        const std::string_view text = R"({plain,"quoted","es\"caped",NULL})";
        REQUIRE(pgkit::detail::split_array(text, storage, elements).has_value());
        REQUIRE(elements.size() == 4);
        CHECK(*elements[0] == "plain");
        CHECK(elements[0]->data() >= text.data());
        CHECK(*elements[1] == "quoted");
        CHECK(*elements[2] == "es\"caped");
        CHECK(elements[2]->data() == storage.data());
        CHECK_FALSE(elements[3].has_value());
    }

    TEST_CASE("array: decoders survive mutated input without crashing") {
        // Mutations of valid server output: every decoder must return a value or an error.
        const std::vector<std::string> seeds{
            R"({"a\"b",NULL,"",x,"{}"})",
            "[0:1]={1,2}",
            "{1.50,NaN,-Infinity,0.000001}",
            R"({"2024-01-02 03:04:05.123456+00","0044-03-15 00:00:00+00 BC",infinity})",
            R"({"\\x00ff",\\x})",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "{2024-01-02,\"0001-01-01 BC\"}",
        };
        const std::string alphabet = "{}\",\\ NUL[]:=0123456789.-+eExBC:";
        std::mt19937 random{12345};
        std::size_t decoded = 0;
        for (int round = 0; round < 20000; ++round) {
            std::string text = seeds[random() % seeds.size()];
            const int edits = 1 + static_cast<int>(random() % 4);
            for (int e = 0; e < edits && !text.empty(); ++e) {
                const std::size_t at = random() % text.size();
                switch (random() % 3) {
                    case 0:
                        text.erase(at, 1);
                        break;
                    case 1:
                        text.insert(at, 1, alphabet[random() % alphabet.size()]);
                        break;
                    default:
                        text[at] = static_cast<char>(random() % 256);
                        break;
                }
            }
            decoded += pgkit::value_traits<optional_strings>::decode(text).has_value();
            decoded += pgkit::value_traits<std::vector<std::optional<pgkit::numeric>>>::decode(text)
                           .has_value();
            decoded += pgkit::value_traits<std::vector<
                std::optional<std::chrono::sys_time<std::chrono::microseconds>>>>::decode(text)
                           .has_value();
            decoded +=
                pgkit::value_traits<std::vector<std::chrono::system_clock::time_point>>::decode(
                    text)
                    .has_value();
            decoded += pgkit::value_traits<std::vector<std::chrono::year_month_day>>::decode(text)
                           .has_value();
            decoded +=
                pgkit::value_traits<std::vector<std::vector<std::byte>>>::decode(text).has_value();
            decoded += pgkit::value_traits<std::vector<pgkit::uuid>>::decode(text).has_value();
            decoded += pgkit::value_traits<std::vector<std::int32_t>>::decode(text).has_value();
        }
        CHECK(decoded > 0);
    }
}
