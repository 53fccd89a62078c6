#include "pgkit/types/numeric.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace {

using pgkit::numeric;

numeric num(std::string_view text) {
    auto parsed = numeric::parse(text);
    REQUIRE_MESSAGE(parsed.has_value(), text);
    return *parsed;
}

std::string canonical(std::string_view text) {
    return num(text).to_string();
}

}  // namespace

TEST_SUITE("types") {
    TEST_CASE("numeric: keeps the scale it was given") {
        CHECK(canonical("1.50") == "1.50");
        CHECK(num("1.50").scale() == 2);
        CHECK(canonical("0") == "0");
        CHECK(canonical("0.000") == "0.000");
        CHECK(canonical("123456789012345678901234567890.123456789012345678901234567890") ==
              "123456789012345678901234567890.123456789012345678901234567890");
        CHECK(canonical("-0.001") == "-0.001");
        CHECK(canonical("100") == "100");
    }

    TEST_CASE("numeric: normalises signs, leading zeros and bare points like PostgreSQL") {
        CHECK(canonical("+5") == "5");
        CHECK(canonical("007.50") == "7.50");
        CHECK(canonical(".5") == "0.5");
        CHECK(canonical("5.") == "5");
        CHECK(canonical("-0") == "0");
        CHECK(canonical("-0.00") == "0.00");
        CHECK_FALSE(num("-0.00").is_negative());
        CHECK(canonical("-.25") == "-0.25");
    }

    TEST_CASE("numeric: normalises an exponent away") {
        CHECK(canonical("1.5e3") == "1500");
        CHECK(canonical("1.5E+3") == "1500");
        CHECK(canonical("1.50e1") == "15.0");
        CHECK(canonical("1.5e-3") == "0.0015");
        CHECK(canonical("-12e-2") == "-0.12");
        CHECK(canonical("0e10") == "0");
        CHECK(canonical("0.0e-2") == "0.000");
        CHECK(canonical("1e400").size() == 401);
    }

    TEST_CASE("numeric: parses and prints the special values") {
        CHECK(num("NaN").is_nan());
        CHECK(num("nan").is_nan());
        CHECK(canonical("NaN") == "NaN");
        CHECK(canonical("Infinity") == "Infinity");
        CHECK(canonical("+Infinity") == "Infinity");
        CHECK(canonical("-Infinity") == "-Infinity");
        CHECK(canonical("inf") == "Infinity");
        CHECK(canonical("-INF") == "-Infinity");
        CHECK(num("Infinity").is_infinite());
        CHECK(num("-Infinity").is_infinite());
        CHECK(num("-Infinity").is_negative());
        CHECK_FALSE(num("NaN").is_infinite());
        CHECK(numeric::nan().to_string() == "NaN");
        CHECK(numeric::infinity().to_string() == "Infinity");
        CHECK(numeric::negative_infinity().to_string() == "-Infinity");
        CHECK(num("NaN").scale() == 0);
    }

    TEST_CASE("numeric: constructs from int64 including the extremes") {
        CHECK(numeric{0}.to_string() == "0");
        CHECK(numeric{-1}.to_string() == "-1");
        CHECK(numeric{std::numeric_limits<std::int64_t>::max()}.to_string() ==
              "9223372036854775807");
        CHECK(numeric{std::numeric_limits<std::int64_t>::min()}.to_string() ==
              "-9223372036854775808");
        CHECK(numeric{42} == num("42.000"));
        CHECK(numeric{}.is_zero());
    }

    TEST_CASE("numeric: compares by value") {
        CHECK(num("1.5") == num("1.50"));
        CHECK(num("-0") == num("0.000"));
        CHECK(num("0.001") < num("0.01"));
        CHECK(num("9.99") < num("10"));
        CHECK(num("-10") < num("-9.99"));
        CHECK(num("-1") < num("0"));
        CHECK(num("0") < num("0.0001"));
        CHECK(num("123.456") > num("123.4559999"));
        CHECK(num("1e3") == num("1000.0"));
        CHECK(num("2") != num("2.0001"));
        CHECK((num("1.5") <=> num("1.50")) == std::weak_ordering::equivalent);
    }

    TEST_CASE("numeric: NaN equals NaN and sorts above everything, like PostgreSQL") {
        CHECK(numeric::nan() == num("NaN"));
        CHECK(numeric::nan() > numeric::infinity());
        CHECK(numeric::nan() > num("1e400"));
        CHECK(numeric::infinity() > num("1e400"));
        CHECK(numeric::negative_infinity() < num("-1e400"));
        CHECK(numeric::negative_infinity() < numeric::infinity());
        CHECK(numeric::infinity() == num("inf"));
        CHECK(numeric::negative_infinity() != numeric::infinity());
    }

    TEST_CASE("numeric: to_double is the nearest double") {
        CHECK(num("0.1").to_double() == 0.1);
        CHECK(num("-2.5").to_double() == -2.5);
        CHECK(num("0").to_double() == 0.0);
        CHECK(num("123456789.000").to_double() == 123456789.0);
        CHECK(std::isnan(numeric::nan().to_double()));
        CHECK(numeric::infinity().to_double() == std::numeric_limits<double>::infinity());
        CHECK(numeric::negative_infinity().to_double() == -std::numeric_limits<double>::infinity());
        CHECK(num("1e400").to_double() == std::numeric_limits<double>::infinity());
        CHECK(num("-1e400").to_double() == -std::numeric_limits<double>::infinity());
        CHECK(num("1e-400").to_double() == 0.0);
        CHECK(std::signbit(num("-1e-400").to_double()));
    }

    TEST_CASE("numeric: rejects malformed text with type_mismatch") {
        for (const char* text :
             {"",   "+",    "-",   ".",   "e5",    "1e",   "1e+",  "1.2.3",   "1,5",  " 1",
              "1 ", "0x10", "--1", "+-1", "1e5.5", "NaNa", "-NaN", "Infinit", "1.5f", "١"}) {
            CAPTURE(text);
            const auto parsed = numeric::parse(text);
            REQUIRE_FALSE(parsed.has_value());
            CHECK(parsed.error().code() == pgkit::errc::type_mismatch);
        }
    }

    TEST_CASE("numeric: rejects values beyond PostgreSQL's numeric range") {
        CHECK(numeric::parse("1e131071").has_value());
        CHECK(numeric::parse("1e131072").error().code() == pgkit::errc::type_mismatch);
        CHECK(numeric::parse("1e-16383").has_value());
        CHECK(numeric::parse("1e-16384").error().code() == pgkit::errc::type_mismatch);
        CHECK(numeric::parse("1e99999999999999999999").error().code() ==
              pgkit::errc::type_mismatch);
        CHECK(numeric::parse(std::string(20000, '1')).has_value());
    }

    TEST_CASE("numeric: value_traits round-trips the text exactly") {
        static_assert(pgkit::mappable<numeric>);
        CHECK(pgkit::value_traits<numeric>::pg_type == "numeric");
        for (const char* text : {"0", "1.50", "-0.000001", "NaN", "Infinity", "-Infinity",
                                 "99999999999999999999999999999999.99999999999999"}) {
            CAPTURE(text);
            const auto decoded = pgkit::value_traits<numeric>::decode(text);
            REQUIRE(decoded.has_value());
            std::string out;
            REQUIRE(pgkit::value_traits<numeric>::encode(*decoded, out).has_value());
            CHECK(out == text);
        }
        CHECK(pgkit::value_traits<numeric>::decode("abc").error().code() ==
              pgkit::errc::type_mismatch);
    }
}
