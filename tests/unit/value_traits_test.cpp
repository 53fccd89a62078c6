// The customisation point as a user sees it (the README's example), and the built-in scalars.
#include "pgkit/value_traits.hpp"

#include "pgkit/connection.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

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

    TEST_CASE("value_traits: binary decoders read big-endian fields of the types they know") {
        namespace oid = pgkit::detail::type_oid;
        using std::string_view_literals::operator""sv;
        const auto int8_minus_two = "\xff\xff\xff\xff\xff\xff\xff\xfe"sv;
        CHECK(pgkit::value_traits<std::int64_t>::decode_binary(int8_minus_two, oid::int8).value() ==
              -2);
        CHECK(pgkit::value_traits<std::int16_t>::decode_binary(int8_minus_two, oid::int8).value() ==
              -2);
        CHECK(pgkit::value_traits<std::int32_t>::decode_binary("\x00\x01\x00\x00"sv, oid::int4)
                  .value() == 65536);
        // Out of the member's range, the wrong length, a type it does not read: type_mismatch.
        CHECK(pgkit::value_traits<std::int16_t>::decode_binary("\x00\x01\x00\x00"sv, oid::int4)
                  .error()
                  .code() == pgkit::errc::type_mismatch);
        CHECK(pgkit::value_traits<std::int64_t>::decode_binary("\x00\x01\x00"sv, oid::int4)
                  .error()
                  .code() == pgkit::errc::type_mismatch);
        CHECK(
            pgkit::value_traits<std::int64_t>::decode_binary(int8_minus_two, 1700).error().code() ==
            pgkit::errc::type_mismatch);
        CHECK(pgkit::value_traits<bool>::decode_binary("\x01"sv, oid::boolean).value());
        CHECK_FALSE(pgkit::value_traits<bool>::decode_binary("\x02"sv, oid::boolean));
        CHECK(pgkit::value_traits<double>::decode_binary("\x3f\xb9\x99\x99\x99\x99\x99\x9a"sv,
                                                         oid::float8)
                  .value() == 0.1);
        CHECK_FALSE(pgkit::value_traits<double>::reads_binary(oid::float4));
        CHECK(pgkit::value_traits<std::string>::decode_binary("a\0b"sv, oid::varchar).value() ==
              "a\0b"sv);
        CHECK_FALSE(pgkit::value_traits<std::string>::reads_binary(oid::int4));
        // A type without binary decoders: field_reads_binary is false, a decode type_mismatch.
        CHECK_FALSE(pgkit::field_reads_binary<money_cents>(oid::int8));
        CHECK(pgkit::decode_binary_value<money_cents>(int8_minus_two, oid::int8).error().code() ==
              pgkit::errc::type_mismatch);
        CHECK(pgkit::field_reads_binary<std::optional<std::int32_t>>(oid::int2));
        CHECK_FALSE(pgkit::decode_binary_value<std::optional<std::int32_t>>(std::nullopt, oid::int2)
                        .value());
        CHECK(pgkit::decode_binary_value<std::int32_t>(std::nullopt, oid::int2).error().code() ==
              pgkit::errc::type_mismatch);
    }
}
