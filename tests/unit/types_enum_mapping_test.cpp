#include "pgkit/types/array.hpp"
#include "pgkit/types/enum_mapping.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace unit_enum_test {
enum class color { red, green, blue, unlabelled };
enum plain_enum : std::uint8_t { first = 1, second = 2 };
enum class not_mapped { a };
}  // namespace unit_enum_test

template <>
struct pgkit::enum_mapping<unit_enum_test::color> {
    static constexpr std::string_view pg_type = "color";
    static constexpr std::array values{
        std::pair{unit_enum_test::color::red, std::string_view{"red"}},
        std::pair{unit_enum_test::color::green, std::string_view{"Green"}},
        std::pair{unit_enum_test::color::blue, std::string_view{"blue sky"}},
    };
};

template <>
struct pgkit::enum_mapping<unit_enum_test::plain_enum> {
    static constexpr std::string_view pg_type = "app.\"Plain\"";
    static constexpr std::pair<unit_enum_test::plain_enum, std::string_view> values[] = {
        {unit_enum_test::first, "first"},
        {unit_enum_test::second, "second"},
    };
};

namespace {

using unit_enum_test::color;
using color_traits = pgkit::value_traits<color>;

}  // namespace

TEST_SUITE("types") {
    TEST_CASE("enum: a mapping makes the enum mappable") {
        static_assert(pgkit::mappable<color>);
        static_assert(pgkit::mappable<unit_enum_test::plain_enum>);
        static_assert(!pgkit::encodable<unit_enum_test::not_mapped>);
        static_assert(pgkit::mappable<std::vector<color>>);
        CHECK(color_traits::pg_type == "color");
        CHECK(pgkit::value_traits<std::vector<color>>::pg_type == "color[]");
        CHECK(pgkit::pg_type_of<unit_enum_test::plain_enum>() == "app.\"Plain\"");
    }

    TEST_CASE("enum: encodes labels and decodes them exactly") {
        std::string out;
        REQUIRE(color_traits::encode(color::blue, out).has_value());
        CHECK(out == "blue sky");
        CHECK(*color_traits::decode("red") == color::red);
        CHECK(*color_traits::decode("Green") == color::green);
        CHECK(*color_traits::decode("blue sky") == color::blue);
        CHECK(*pgkit::value_traits<unit_enum_test::plain_enum>::decode("second") ==
              unit_enum_test::second);
    }

    TEST_CASE("enum: an unknown label is type_mismatch naming the label") {
        const auto decoded = color_traits::decode("green");  // labels are case-sensitive
        REQUIRE_FALSE(decoded.has_value());
        CHECK(decoded.error().code() == pgkit::errc::type_mismatch);
        CHECK(decoded.error().message().find("'green'") != std::string::npos);
        CHECK(decoded.error().message().find("color") != std::string::npos);
        CHECK(color_traits::decode("").error().code() == pgkit::errc::type_mismatch);
    }

    TEST_CASE("enum: an enumerator without a label is invalid_argument") {
        std::string out;
        auto encoded = color_traits::encode(color::unlabelled, out);
        REQUIRE_FALSE(encoded.has_value());
        CHECK(encoded.error().code() == pgkit::errc::invalid_argument);
        CHECK(encoded.error().message().find("3") != std::string::npos);
        auto raw = pgkit::value_traits<unit_enum_test::plain_enum>::encode(
            static_cast<unit_enum_test::plain_enum>(7), out);
        REQUIRE_FALSE(raw.has_value());
        CHECK(raw.error().message().find("7") != std::string::npos);
    }

    TEST_CASE("enum: arrays of enums round-trip") {
        std::string out;
        const std::vector<color> colors{color::red, color::blue};
        REQUIRE(pgkit::value_traits<std::vector<color>>::encode(colors, out).has_value());
        CHECK(out == R"({"red","blue sky"})");
        CHECK(*pgkit::value_traits<std::vector<color>>::decode(R"({red,"blue sky"})") == colors);
    }
}
