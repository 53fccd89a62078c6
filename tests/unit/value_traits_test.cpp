// The customisation point as a user sees it (the README's example), and the built-in scalars.
#include "pgkit/value_traits.hpp"

#include "pgkit/connection.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace {
struct money_cents {
    std::int64_t cents;
    friend bool operator==(const money_cents&, const money_cents&) = default;
};
}  // namespace

template <>
struct pgkit::value_traits<money_cents> {
    static constexpr std::string_view pg_type = "int8";
    static pgkit::result<void> encode(const money_cents& v, std::string& out) {
        return pgkit::value_traits<std::int64_t>::encode(v.cents, out);
    }
    static pgkit::result<money_cents> decode(std::string_view text) {
        return pgkit::value_traits<std::int64_t>::decode(text).map(
            [](std::int64_t c) { return money_cents{c}; });
    }
};

TEST_SUITE("value_traits") {
    TEST_CASE("value_traits: a user type maps through three members") {
        static_assert(pgkit::mappable<money_cents>);
        static_assert(pgkit::sql_parameter<std::optional<money_cents>>);
        CHECK(pgkit::pg_type_of<money_cents>() == "int8");
        CHECK(pgkit::encode_value(money_cents{1250}).value() == std::optional<std::string>{"1250"});
        CHECK(pgkit::decode_value<money_cents>(std::string_view{"-7"}).value() == money_cents{-7});
        CHECK(pgkit::decode_value<money_cents>(std::string_view{"x"}).error().code() ==
              pgkit::errc::type_mismatch);
        pgkit::parameters params{money_cents{5}, std::optional<money_cents>{}};
        CHECK(params.value(0) == std::optional<std::string_view>{"5"});
        CHECK_FALSE(params.value(1).has_value());
    }

    TEST_CASE("value_traits: integers reject overflow and trailing garbage") {
        CHECK(pgkit::value_traits<std::int16_t>::decode("32767").value() == 32767);
        CHECK(pgkit::value_traits<std::int16_t>::decode("32768").error().code() ==
              pgkit::errc::type_mismatch);
        CHECK(pgkit::value_traits<std::int64_t>::decode("-9223372036854775808").value() ==
              std::numeric_limits<std::int64_t>::min());
        CHECK_FALSE(pgkit::value_traits<std::int32_t>::decode("12abc"));
        CHECK_FALSE(pgkit::value_traits<std::int32_t>::decode(""));
        CHECK_FALSE(pgkit::value_traits<std::int32_t>::decode("1.5"));
    }

    TEST_CASE("value_traits: the integers' inline decode agrees with the checked decoder") {
        // Every short text the inline loop reads or hands on: signs, lengths around digits10,
        // the bytes next to '0' and '9', and the limits themselves.
        const auto agree = [](std::string_view text) {
            CAPTURE(text);
            const auto check = [&](auto tag) {
                using Int = decltype(tag);
                const auto fast = pgkit::value_traits<Int>::decode(text);
                const auto checked = pgkit::value_traits<Int>::decode_checked(text);
                REQUIRE(fast.has_value() == checked.has_value());
                if (fast) {
                    CHECK(*fast == *checked);
                } else {
                    CHECK(fast.error().code() == pgkit::errc::type_mismatch);
                }
            };
            check(std::int16_t{});
            check(std::int32_t{});
            check(std::int64_t{});
        };
        for (const std::string_view text : {"",
                                            "-",
                                            "+1",
                                            "0",
                                            "-0",
                                            "007",
                                            "1/",
                                            "1:",
                                            " 1",
                                            "1 ",
                                            "--1",
                                            "9999",
                                            "32767",
                                            "-32768",
                                            "32768",
                                            "99999",
                                            "999999999",
                                            "2147483647",
                                            "-2147483648",
                                            "2147483648",
                                            "9999999999",
                                            "999999999999999999",
                                            "9223372036854775807",
                                            "-9223372036854775808",
                                            "9223372036854775808",
                                            "0000000000000000000001"}) {
            agree(text);
        }
        std::string digits;
        for (int length = 1; length <= 20; ++length) {
            digits += static_cast<char>('0' + (length * 7) % 10);
            agree(digits);
            agree("-" + digits);
            agree(digits + "x");
        }
        CHECK(pgkit::value_traits<std::int64_t>::decode("-123456789012345678").value() ==
              -123456789012345678);
        CHECK(pgkit::value_traits<std::int16_t>::decode("-9999").value() == -9999);
    }

    TEST_CASE("value_traits: floating point text is exact and knows NaN and infinities") {
        std::string out;
        REQUIRE(pgkit::value_traits<double>::encode(0.1, out));
        CHECK(out == "0.1");
        CHECK(pgkit::value_traits<double>::decode(out).value() == 0.1);
        CHECK(std::isnan(pgkit::value_traits<double>::decode("NaN").value()));
        CHECK(pgkit::value_traits<float>::decode("-Infinity").value() ==
              -std::numeric_limits<float>::infinity());
        CHECK(pgkit::value_traits<float>::decode("1e39").error().code() ==
              pgkit::errc::type_mismatch);
    }

    TEST_CASE("value_traits: booleans and NULL handling") {
        CHECK(pgkit::value_traits<bool>::decode("t").value());
        CHECK_FALSE(pgkit::value_traits<bool>::decode("f").value());
        CHECK_FALSE(pgkit::value_traits<bool>::decode("true"));
        CHECK(pgkit::decode_value<std::int32_t>(std::nullopt).error().code() ==
              pgkit::errc::type_mismatch);
        CHECK_FALSE(pgkit::decode_value<std::optional<std::int32_t>>(std::nullopt).value());
        CHECK(pgkit::encode_value(static_cast<const char*>(nullptr)).error().code() ==
              pgkit::errc::invalid_argument);
    }
}
