// Every mapped type sent to a real server as a bound parameter and read back, plus the server's
// own view of what it received and the failures a C++ type must report instead of wrapping.
#include "pgkit/connection.hpp"
#include "pgkit/types/array.hpp"
#include "pgkit/types/bytea.hpp"
#include "pgkit/types/chrono.hpp"
#include "pgkit/types/enum_mapping.hpp"
#include "pgkit/types/json.hpp"
#include "pgkit/types/numeric.hpp"
#include "pgkit/types/uuid.hpp"

#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace type_roundtrip_test {
enum class mood { sad, ok, happy, unlabelled };
}

template <>
struct pgkit::enum_mapping<type_roundtrip_test::mood> {
    static constexpr std::string_view pg_type = "mood";
    static constexpr std::array values{
        std::pair{type_roundtrip_test::mood::sad, std::string_view{"sad"}},
        std::pair{type_roundtrip_test::mood::ok, std::string_view{"o'k \"fine\""}},
        std::pair{type_roundtrip_test::mood::happy, std::string_view{"happy"}},
    };
};

namespace {

using namespace std::chrono;
using namespace std::string_literals;
using micro_time = sys_time<microseconds>;
using nano_time = system_clock::time_point;
using bytes = std::vector<std::byte>;
using pgkit::errc;
using type_roundtrip_test::mood;

/// Sends `value` as `$1::<its pg_type>` and reads the result back as T.
template <class T>
pgkit::result<T> echo(pgkit::connection& conn, const T& value) {
    const auto sql = fmt::format("SELECT $1::{}", pgkit::pg_type_of<T>());
    return conn.execute(sql, value).and_then(&pgkit::query_result::scalar<T>);
}

/// Sends `value` and requires the exact same value back.
template <class T>
void check_round_trip(pgkit::connection& conn, const T& value) {
    auto back = echo(conn, value);
    REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
    CHECK(*back == value);
}

/// Reads the single value `sql` produces as T (parameters bound in order).
template <class T, class... Args>
T query(pgkit::connection& conn, std::string_view sql, const Args&... args) {
    auto value = conn.execute(sql, args...).and_then(&pgkit::query_result::scalar<T>);
    REQUIRE_MESSAGE(value.has_value(), sql, ": ", value.error().to_string());
    return *value;
}

/// The error reading the single value of `sql` as T.
template <class T, class... Args>
pgkit::error query_error(pgkit::connection& conn, std::string_view sql, const Args&... args) {
    auto value = conn.execute(sql, args...).and_then(&pgkit::query_result::scalar<T>);
    REQUIRE_FALSE_MESSAGE(value.has_value(), sql);
    return value.error();
}

/// True when the server evaluates the boolean `sql` to true.
template <class... Args>
bool server_says(pgkit::connection& conn, std::string_view sql, const Args&... args) {
    return query<bool>(conn, sql, args...);
}

template <class Float>
void check_float_bits(pgkit::connection& conn, Float value) {
    auto back = echo(conn, value);
    REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
    CAPTURE(value);
    if (std::isnan(value)) {
        CHECK(std::isnan(*back));
    } else {
        CHECK(std::bit_cast<std::conditional_t<sizeof(Float) == 4, std::uint32_t, std::uint64_t>>(
                  *back) ==
              std::bit_cast<std::conditional_t<sizeof(Float) == 4, std::uint32_t, std::uint64_t>>(
                  value));
    }
}

bytes all_byte_values() {
    bytes out;
    for (int i = 0; i < 256; ++i) {
        out.push_back(static_cast<std::byte>(i));
    }
    return out;
}

micro_time at(year_month_day date, microseconds time_of_day = microseconds{0}) {
    return micro_time{sys_days{date}} + time_of_day;
}

pgkit::numeric num(std::string_view text) {
    auto parsed = pgkit::numeric::parse(text);
    REQUIRE_MESSAGE(parsed.has_value(), text);
    return *parsed;
}

pgkit::uuid make_uuid(std::string_view text) {
    auto parsed = pgkit::uuid::parse(text);
    REQUIRE_MESSAGE(parsed.has_value(), text);
    return *parsed;
}

}  // namespace

TEST_SUITE("type mapping") {
    // ---- built-in scalars --------------------------------------------------------------------

    TEST_CASE("type mapping: bool round-trips") {
        auto conn = pgkit::test::connect_to_server();
        check_round_trip(conn, true);
        check_round_trip(conn, false);
        CHECK(server_says(conn, "SELECT $1::bool IS TRUE", true));
        CHECK(query<bool>(conn, "SELECT 'yes'::bool") == true);
        CHECK(query_error<bool>(conn, "SELECT 'yes'::text").code() == errc::type_mismatch);
    }

    TEST_CASE("type mapping: int16 round-trips its extremes") {
        auto conn = pgkit::test::connect_to_server();
        for (const std::int16_t value :
             {std::numeric_limits<std::int16_t>::min(), std::int16_t{-1}, std::int16_t{0},
              std::int16_t{1}, std::numeric_limits<std::int16_t>::max()}) {
            check_round_trip(conn, value);
        }
        CHECK(server_says(conn, "SELECT $1::int2 = -32768", std::int16_t{-32768}));
    }

    TEST_CASE("type mapping: int32 round-trips its extremes") {
        auto conn = pgkit::test::connect_to_server();
        for (const std::int32_t value : {std::numeric_limits<std::int32_t>::min(), -1, 0, 1,
                                         std::numeric_limits<std::int32_t>::max()}) {
            check_round_trip(conn, value);
        }
        CHECK(server_says(conn, "SELECT $1::int4 = 2147483647", std::int32_t{2147483647}));
    }

    TEST_CASE("type mapping: int64 round-trips its extremes") {
        auto conn = pgkit::test::connect_to_server();
        for (const std::int64_t value :
             {std::numeric_limits<std::int64_t>::min(), std::int64_t{-1}, std::int64_t{0},
              std::int64_t{1}, std::numeric_limits<std::int64_t>::max()}) {
            check_round_trip(conn, value);
        }
        CHECK(server_says(conn, "SELECT $1::int8 = -9223372036854775808",
                          std::numeric_limits<std::int64_t>::min()));
    }

    TEST_CASE("type mapping: integers too large for the C++ type are type_mismatch") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(query_error<std::int16_t>(conn, "SELECT 40000::int4").code() == errc::type_mismatch);
        CHECK(query_error<std::int32_t>(conn, "SELECT 3000000000::int8").code() ==
              errc::type_mismatch);
        CHECK(query_error<std::int64_t>(conn, "SELECT 9223372036854775808::numeric").code() ==
              errc::type_mismatch);
        CHECK(query_error<std::int32_t>(conn, "SELECT 'abc'").code() == errc::type_mismatch);
        CHECK(query_error<std::int64_t>(conn, "SELECT 1.5::numeric").code() == errc::type_mismatch);
        CHECK(query<std::int16_t>(conn, "SELECT 32767::int4") == 32767);
        CHECK(query<std::int64_t>(conn, "SELECT 42::numeric") == 42);
    }

    TEST_CASE("type mapping: double round-trips bit for bit") {
        auto conn = pgkit::test::connect_to_server();
        constexpr auto inf = std::numeric_limits<double>::infinity();
        for (const double value : {0.0,
                                   -0.0,
                                   0.1,
                                   0.2,
                                   0.30000000000000004,
                                   1.0 / 3.0,
                                   1e308,
                                   -1e308,
                                   1e-308,
                                   std::numeric_limits<double>::max(),
                                   std::numeric_limits<double>::lowest(),
                                   std::numeric_limits<double>::min(),
                                   std::numeric_limits<double>::denorm_min(),
                                   -std::numeric_limits<double>::denorm_min(),
                                   123456789.123456789,
                                   9007199254740993.0,
                                   std::numeric_limits<double>::epsilon(),
                                   inf,
                                   -inf,
                                   std::numeric_limits<double>::quiet_NaN()}) {
            check_float_bits(conn, value);
        }
        CHECK(server_says(conn, "SELECT $1::float8 = 0.1::float8", 0.1));
        CHECK(server_says(conn, "SELECT $1::float8 = 'NaN'::float8", std::nan("")));
        CHECK(server_says(conn, "SELECT $1::float8 = '-Infinity'::float8", -inf));
        CHECK(std::signbit(query<double>(conn, "SELECT '-0'::float8")));
        CHECK(query<double>(conn, "SELECT 4.9e-324::float8") ==
              std::numeric_limits<double>::denorm_min());
    }

    TEST_CASE("type mapping: float round-trips bit for bit") {
        auto conn = pgkit::test::connect_to_server();
        constexpr auto inf = std::numeric_limits<float>::infinity();
        for (const float value :
             {0.0f, -0.0f, 0.1f, 1.0f / 3.0f, 3.4028235e38f, -3.4028235e38f,
              std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
              16777217.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN()}) {
            check_float_bits(conn, value);
        }
        CHECK(server_says(conn, "SELECT $1::float4 = 0.1::float4", 0.1f));
    }

    TEST_CASE("type mapping: numbers too large for double are type_mismatch") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(query_error<double>(conn, "SELECT '1e400'::numeric").code() == errc::type_mismatch);
        CHECK(query_error<float>(conn, "SELECT 1e300::float8").code() == errc::type_mismatch);
        CHECK(query<double>(conn, "SELECT '1.5'::numeric") == 1.5);
    }

    TEST_CASE("type mapping: strings round-trip quotes, backslashes and unicode exactly") {
        auto conn = pgkit::test::connect_to_server();
        for (const std::string& value : {
                 ""s,
                 "plain"s,
                 "it's \"quoted\""s,
                 "back\\slash \\\\ \\x00 \\n"s,
                 "$1 ; DROP TABLE x; --"s,
                 "tab\there\nnewline\r\n"s,
                 "\xf0\x9f\x98\x80 \xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9"s,  // emoji, ZWJ
                 "\xe6\xbc\xa2\xe5\xad\x97 \xed\x95\x9c\xea\xb8\x80"s,              // CJK
                 "e\xcc\x81 a\xcc\x8a\xcc\xa3"s,  // combining marks, not normalised
                 "   spaces   "s,
                 "NULL"s,
             }) {
            CAPTURE(value);
            check_round_trip(conn, value);
        }
        CHECK(server_says(conn, "SELECT length($1::text) = 2", "e\xcc\x81"s));
        CHECK(server_says(conn, "SELECT $1::text = 'it''s'", "it's"s));
    }

    TEST_CASE("type mapping: very long strings round-trip") {
        auto conn = pgkit::test::connect_to_server();
        std::string value;
        for (int i = 0; value.size() < 4'000'000; ++i) {
            value += fmt::format("{}\xe2\x82\xac\\\"' ", i);
        }
        check_round_trip(conn, value);
        CHECK(query<std::int64_t>(conn, "SELECT octet_length($1::text)::int8", value) ==
              static_cast<std::int64_t>(value.size()));
    }

    TEST_CASE("type mapping: an embedded NUL in a text parameter is invalid_argument") {
        auto conn = pgkit::test::connect_to_server();
        auto sent = conn.execute("SELECT $1::text", "a\0b"s);
        REQUIRE_FALSE(sent.has_value());
        CHECK(sent.error().code() == errc::invalid_argument);
        auto as_view = conn.execute("SELECT $1::text", std::string_view{"\0", 1});
        REQUIRE_FALSE(as_view.has_value());
        CHECK(as_view.error().code() == errc::invalid_argument);
        // The connection is still usable.
        CHECK(query<std::string>(conn, "SELECT $1::text", "ok"s) == "ok");
    }

    // ---- uuid ----------------------------------------------------------------------------------

    TEST_CASE("type mapping: uuid round-trips and matches the server's view") {
        auto conn = pgkit::test::connect_to_server();
        const auto value = make_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        check_round_trip(conn, value);
        check_round_trip(conn, pgkit::uuid{});
        check_round_trip(conn, make_uuid("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"));
        CHECK(server_says(conn, "SELECT $1::uuid = '{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}'::uuid",
                          value));
        CHECK(query<pgkit::uuid>(conn, "SELECT 'A0EEBC999C0B4EF8BB6D6BB9BD380A11'::uuid") == value);
        const auto random = query<pgkit::uuid>(conn, "SELECT gen_random_uuid()");
        CHECK(server_says(conn, "SELECT $1::uuid::text = $2::text", random, random.to_string()));
        // Byte-wise order agrees with the server's.
        const auto low = make_uuid("00000000-0000-0000-0000-0000000000ff");
        const auto high = make_uuid("00000000-0000-0000-0000-000000000100");
        CHECK(low < high);
        CHECK(server_says(conn, "SELECT $1::uuid < $2::uuid", low, high));
        CHECK(query_error<pgkit::uuid>(conn, "SELECT 'not a uuid'").code() == errc::type_mismatch);
    }

    // ---- numeric -------------------------------------------------------------------------------

    TEST_CASE("type mapping: numeric round-trips exactly, scale included") {
        auto conn = pgkit::test::connect_to_server();
        for (const char* text : {"0", "1.50", "-1.50", "0.000", "0.0000000000000000000001",
                                 "123456789012345678901234567890.098765432109876543210",
                                 "-9223372036854775809", "NaN", "Infinity", "-Infinity"}) {
            CAPTURE(text);
            const auto value = num(text);
            auto back = echo(conn, value);
            REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
            CHECK(back->to_string() == text);
            CHECK(*back == value);
        }
        // Huge magnitudes and scales, at the limits of PostgreSQL's numeric.
        for (const char* text : {"1e131071", "-1e-16383", "9.99999e100000"}) {
            CAPTURE(text);
            const auto value = num(text);
            auto back = echo(conn, value);
            REQUIRE_MESSAGE(back.has_value(), back.error().to_string());
            CHECK(back->to_string() == value.to_string());
        }
    }

    TEST_CASE("type mapping: numeric agrees with the server's text and comparisons") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(query<pgkit::numeric>(conn, "SELECT '123.4500'::numeric").to_string() == "123.4500");
        CHECK(query<pgkit::numeric>(conn, "SELECT '1.5e3'::numeric").to_string() == "1500");
        CHECK(query<pgkit::numeric>(conn, "SELECT '1.50e-1'::numeric").to_string() == "0.150");
        CHECK(query<pgkit::numeric>(conn, "SELECT '-0.00'::numeric").to_string() == "0.00");
        CHECK(query<pgkit::numeric>(conn, "SELECT '1e400'::numeric") == num("1e400"));
        CHECK(query<pgkit::numeric>(conn, "SELECT 'inf'::numeric") == pgkit::numeric::infinity());
        CHECK(query<pgkit::numeric>(conn, "SELECT 2::numeric / 3").to_string() ==
              "0.66666666666666666667");
        // What our parser normalises, the server normalises the same way.
        for (const char* text : {"+5", "007.50", ".5", "5.", "-12e-2", "1.50e1", "0e10"}) {
            CAPTURE(text);
            CHECK(query<std::string>(conn, "SELECT $1::text::numeric::text", std::string{text}) ==
                  num(text).to_string());
        }
        CHECK(server_says(conn, "SELECT $1::numeric = 1.5", num("1.50000")));
        CHECK(server_says(conn, "SELECT $1::numeric > 'Infinity'::numeric", pgkit::numeric::nan()));
        CHECK(num("NaN") > pgkit::numeric::infinity());
        CHECK(query<pgkit::numeric>(conn, "SELECT $1::numeric", pgkit::numeric{-42}).to_string() ==
              "-42");
    }

    // ---- json
    // ------------------------------------------------------------------------------------

    TEST_CASE("type mapping: json travels as jsonb, which normalises the text") {
        auto conn = pgkit::test::connect_to_server();
        check_round_trip(conn, pgkit::json{R"({"a": 1, "b": [true, null, "x\"y"]})"});
        check_round_trip(conn, pgkit::json{});
        const auto normalised =
            query<pgkit::json>(conn, "SELECT $1::jsonb", pgkit::json{R"({"bb":1,  "a" : 2})"});
        CHECK(normalised.text() == R"({"a": 2, "bb": 1})");
        CHECK(server_says(conn, R"(SELECT $1::jsonb = '{"a": 2, "bb": 1}'::jsonb)",
                          pgkit::json{R"({"bb":1,"a":2})"}));
        // A json (not jsonb) column keeps its text as written.
        CHECK(query<pgkit::json>(conn, R"(SELECT '{"b":1,  "a":2}'::json)").text() ==
              R"({"b":1,  "a":2})");
        CHECK(query<pgkit::json>(conn, "SELECT $1::text::json", pgkit::json{"[1,  2]"}).text() ==
              "[1,  2]");
        CHECK(query<pgkit::json>(conn, "SELECT '\"\\u00e9\xf0\x9f\x98\x80\"'::jsonb").text() ==
              "\"\xc3\xa9\xf0\x9f\x98\x80\"");
        // Malformed JSON is the server's to reject.
        auto malformed = conn.execute("SELECT $1::jsonb", pgkit::json{"{not json"});
        REQUIRE_FALSE(malformed.has_value());
        CHECK(malformed.error().code() == errc::data_exception);
        auto nul = conn.execute("SELECT $1::jsonb", pgkit::json{"\"a\0\""s});
        REQUIRE_FALSE(nul.has_value());
        CHECK(nul.error().code() == errc::invalid_argument);
    }

    // ---- bytea
    // -----------------------------------------------------------------------------------

    TEST_CASE("type mapping: bytea round-trips every byte value") {
        auto conn = pgkit::test::connect_to_server();
        check_round_trip(conn, bytes{});
        check_round_trip(conn, all_byte_values());
        check_round_trip(conn, bytes{std::byte{0}});
        bytes large(3'000'000);
        for (std::size_t i = 0; i < large.size(); ++i) {
            large[i] = static_cast<std::byte>((i * 7919) >> 3);
        }
        check_round_trip(conn, large);
        CHECK(server_says(conn, "SELECT $1::bytea = '\\x00ff5c'::bytea",
                          bytes{std::byte{0}, std::byte{0xff}, std::byte{0x5c}}));
        CHECK(query<std::int32_t>(conn, "SELECT length($1::bytea)", all_byte_values()) == 256);
        const bytes data{std::byte{1}, std::byte{2}};
        CHECK(query<bytes>(conn, "SELECT $1::bytea", std::span<const std::byte>{data}) == data);
    }

    TEST_CASE("type mapping: bytea decodes the escape output format too") {
        auto conn = pgkit::test::connect_to_server();
        REQUIRE(conn.execute_script("SET bytea_output = escape"));
        CHECK(query<std::string>(conn, "SELECT '\\x00ff5c41'::bytea::text") == "\\000\\377\\\\A");
        CHECK(query<bytes>(conn, "SELECT '\\x00ff5c41'::bytea") ==
              bytes{std::byte{0}, std::byte{0xff}, std::byte{0x5c}, std::byte{0x41}});
        check_round_trip(conn, all_byte_values());
    }

    // ---- timestamps and dates ------------------------------------------------------------------

    TEST_CASE("type mapping: timestamptz round-trips microseconds") {
        auto conn = pgkit::test::connect_to_server();
        const auto value = at(2024y / 1 / 2, 3h + 4min + 5s + 123456us);
        check_round_trip(conn, value);
        check_round_trip(conn, nano_time{value.time_since_epoch()});
        check_round_trip(conn, micro_time{});
        check_round_trip(conn, micro_time{microseconds{-1}});
        check_round_trip(conn, at(1900y / 2 / 28, 23h + 59min + 59s + 999999us));
        check_round_trip(conn, at(2000y / 2 / 29, 12h));
        CHECK(server_says(
            conn, "SELECT $1::timestamptz = '2024-01-02 03:04:05.123456+00'::timestamptz", value));
        CHECK(server_says(conn,
                          "SELECT $1::timestamptz = '2024-01-02 03:04:05.123456+00'::timestamptz",
                          nano_time{value.time_since_epoch()}));
        CHECK(query<micro_time>(conn, "SELECT '2024-01-02 03:04:05.123456+00'::timestamptz") ==
              value);
        CHECK(query<micro_time>(conn, "SELECT '2024-01-02 05:04:05.123456+02'::timestamptz") ==
              value);
        const auto now = query<nano_time>(conn, "SELECT now()");
        CHECK(abs(now - system_clock::now()) < 1h);
    }

    TEST_CASE("type mapping: timestamptz truncates nanoseconds toward negative infinity") {
        auto conn = pgkit::test::connect_to_server();
        const nano_time late{nanoseconds{1'704'164'645'123'456'999}};
        CHECK(query<nano_time>(conn, "SELECT $1::timestamptz", late) ==
              nano_time{nanoseconds{1'704'164'645'123'456'000}});
        const nano_time before_epoch{nanoseconds{-1}};
        CHECK(server_says(conn,
                          "SELECT $1::timestamptz = '1969-12-31 23:59:59.999999+00'::timestamptz",
                          before_epoch));
    }

    TEST_CASE("type mapping: timestamptz infinities map to max and min") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(server_says(conn, "SELECT $1::timestamptz = 'infinity'::timestamptz",
                          micro_time::max()));
        CHECK(server_says(conn, "SELECT $1::timestamptz = '-infinity'::timestamptz",
                          nano_time::min()));
        check_round_trip(conn, micro_time::max());
        check_round_trip(conn, micro_time::min());
        check_round_trip(conn, nano_time::max());
        check_round_trip(conn, nano_time::min());
        CHECK(query<nano_time>(conn, "SELECT 'infinity'::timestamp") == nano_time::max());
    }

    TEST_CASE("type mapping: far past and far future timestamps") {
        auto conn = pgkit::test::connect_to_server();
        const auto first = at(year{-4713} / 11 / 24);  // 4714-11-24 BC, PostgreSQL's first day
        check_round_trip(conn, first);
        CHECK(query<micro_time>(conn, "SELECT '4714-11-24 00:00:00+00 BC'::timestamptz") == first);
        CHECK(query<std::string>(conn, "SELECT $1::timestamptz::text", first) ==
              "4714-11-24 00:00:00+00 BC");
        check_round_trip(conn, at(year{0} / 12 / 31, 23h + 59min + 59s + 999999us));  // 1 BC
        check_round_trip(conn, at(year{-43} / 3 / 15, 12h));
        check_round_trip(conn, at(year{12345} / 6 / 7, 8h));
        // PostgreSQL goes on to 294276-12-31; int64 microseconds since 1970 stop at 294247.
        const auto latest = micro_time::max() - 1us;
        check_round_trip(conn, latest);
        CHECK(query<std::string>(conn, "SELECT $1::timestamptz::text", latest) ==
              "294247-01-10 04:00:54.775806+00");
        CHECK(query_error<micro_time>(conn, "SELECT '294276-12-31 23:59:59.999999+00'::timestamptz")
                  .code() == errc::type_mismatch);
        CHECK(query_error<micro_time>(conn, "SELECT '294247-01-10 04:00:54.775807+00'::timestamptz")
                  .code() == errc::type_mismatch);
        // Before PostgreSQL's first instant: refused locally.
        auto early = conn.execute("SELECT $1::timestamptz", first - 1us);
        REQUIRE_FALSE(early.has_value());
        CHECK(early.error().code() == errc::invalid_argument);
    }

    TEST_CASE("type mapping: a year-3000 timestamp does not fit system_clock::time_point") {
        auto conn = pgkit::test::connect_to_server();
        const auto sql = "SELECT '3000-01-01 00:00:00+00'::timestamptz";
        const auto failure = query_error<nano_time>(conn, sql);
        CHECK(failure.code() == errc::type_mismatch);
        CHECK(query<micro_time>(conn, sql) == at(year{3000} / 1 / 1));
        CHECK(query_error<nano_time>(conn, "SELECT '1500-01-01 00:00:00+00'::timestamptz").code() ==
              errc::type_mismatch);
        // The edges of nanosecond ticks.
        CHECK(query<nano_time>(conn, "SELECT '2262-04-11 23:47:16.854775+00'::timestamptz")
                  .time_since_epoch() == nanoseconds{9'223'372'036'854'775'000});
        CHECK(query<nano_time>(conn, "SELECT '1677-09-21 00:12:43.145225+00'::timestamptz")
                  .time_since_epoch() == nanoseconds{-9'223'372'036'854'775'000});
    }

    TEST_CASE("type mapping: timestamps in other session time zones decode to the same instant") {
        auto conn = pgkit::test::connect_to_server();
        const auto instant = at(2024y / 7 / 1, 12h + 30min);
        for (const char* zone : {"Asia/Kolkata", "America/St_Johns", "America/Sao_Paulo",
                                 "Pacific/Chatham", "Pacific/Kiritimati"}) {
            CAPTURE(zone);
            REQUIRE(conn.execute_script(fmt::format("SET TimeZone = '{}'", zone)));
            const auto text = query<std::string>(conn, "SELECT $1::timestamptz::text", instant);
            CAPTURE(text);
            CHECK_FALSE(text.ends_with("+00"));  // the server really printed another offset
            CHECK(query<micro_time>(conn, "SELECT $1::timestamptz", instant) == instant);
        }
        // Local mean time before standard zones: offsets with seconds (+00:19:32).
        REQUIRE(conn.execute_script("SET TimeZone = 'Europe/Amsterdam'"));
        const auto old = at(1900y / 1 / 1);
        CHECK(query<std::string>(conn, "SELECT $1::timestamptz::text", old) ==
              "1900-01-01 00:19:32+00:19:32");
        CHECK(query<micro_time>(conn, "SELECT $1::timestamptz", old) == old);
        REQUIRE(conn.execute_script("SET TimeZone = 'America/New_York'"));
        const auto bc = at(year{-99} / 1 / 1);
        CHECK(query<micro_time>(conn, "SELECT $1::timestamptz", bc) == bc);
    }

    TEST_CASE("type mapping: a timestamp without time zone decodes as UTC") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(query<micro_time>(conn, "SELECT '2024-01-02 03:04:05.5'::timestamp") ==
              at(2024y / 1 / 2, 3h + 4min + 5s + 500ms));
        CHECK(query<nano_time>(conn, "SELECT '2024-01-02 03:04:05'::timestamp") ==
              nano_time{at(2024y / 1 / 2, 3h + 4min + 5s).time_since_epoch()});
        CHECK(query<micro_time>(conn, "SELECT '0044-03-15 12:00:00 BC'::timestamp") ==
              at(year{-43} / 3 / 15, 12h));
        const auto value = at(2024y / 1 / 2, 3h);
        CHECK(server_says(conn, "SELECT $1::timestamptz::timestamp = '2024-01-02 03:00'::timestamp",
                          value));
        CHECK(query<micro_time>(conn, "SELECT $1::timestamptz::timestamp", value) == value);
    }

    TEST_CASE("type mapping: date round-trips including BC and long years") {
        auto conn = pgkit::test::connect_to_server();
        for (const year_month_day date :
             {2024y / 1 / 2, 2000y / 2 / 29, year{1} / 1 / 1, year{0} / 2 / 29,
              year{-4713} / 11 / 24, year{32767} / 12 / 31, 1970y / 1 / 1}) {
            check_round_trip(conn, date);
        }
        CHECK(server_says(conn, "SELECT $1::date = '0044-03-15 BC'::date", year{-43} / 3 / 15));
        CHECK(query<year_month_day>(conn, "SELECT '2024-01-02'::date") == 2024y / 1 / 2);
        CHECK(query<year_month_day>(conn, "SELECT 'epoch'::date") == 1970y / 1 / 1);
        CHECK(query_error<year_month_day>(conn, "SELECT 'infinity'::date").code() ==
              errc::type_mismatch);
        CHECK(query_error<year_month_day>(conn, "SELECT '-infinity'::date").code() ==
              errc::type_mismatch);
        CHECK(query_error<year_month_day>(conn, "SELECT '5874897-12-31'::date").code() ==
              errc::type_mismatch);
        auto invalid = conn.execute("SELECT $1::date", year_month_day{2023y / 2 / 29});
        REQUIRE_FALSE(invalid.has_value());
        CHECK(invalid.error().code() == errc::invalid_argument);
    }

    // ---- arrays
    // ----------------------------------------------------------------------------------

    TEST_CASE("type mapping: arrays of integers with NULLs round-trip") {
        auto conn = pgkit::test::connect_to_server();
        check_round_trip(conn, std::vector<std::int64_t>{});
        check_round_trip(
            conn, std::vector<std::int64_t>{1, -2, std::numeric_limits<std::int64_t>::min()});
        check_round_trip(conn,
                         std::vector<std::optional<std::int32_t>>{std::nullopt, 1, std::nullopt});
        check_round_trip(conn, std::vector<std::optional<std::int32_t>>{std::nullopt});
        check_round_trip(conn, std::vector<bool>{true, false, true});
        CHECK(server_says(conn,
                          "SELECT $1::int4[] IS NOT DISTINCT FROM ARRAY[NULL, 7]::int4[] AND "
                          "($1::int4[])[1] IS NULL",
                          std::vector<std::optional<std::int32_t>>{std::nullopt, 7}));
        CHECK(server_says(conn, "SELECT array_length($1::int8[], 1) = 3",
                          std::vector<std::int64_t>{1, 2, 3}));
        CHECK(server_says(conn, "SELECT cardinality($1::int8[]) = 0", std::vector<std::int64_t>{}));
        CHECK(query<std::vector<std::int32_t>>(conn, "SELECT ARRAY[3, 2, 1]") ==
              std::vector<std::int32_t>{3, 2, 1});
        CHECK(query<std::vector<std::int32_t>>(conn, "SELECT '{}'::int4[]").empty());
    }

    TEST_CASE("type mapping: arrays of strings keep quotes, backslashes, commas and braces") {
        auto conn = pgkit::test::connect_to_server();
        using strings = std::vector<std::optional<std::string>>;
        const strings values{"",     "NULL", "null",  std::nullopt,
                             "a\"b", "c\\d", "x,y",   "{z}",
                             "}",    "{",    " lead", "trail ",
                             "a b",  "\t\n", "\\\"",  "\xf0\x9f\x98\x80\xe6\xbc\xa2",
                             "plain"};
        check_round_trip(conn, values);
        CHECK(server_says(conn, "SELECT ($1::text[])[5] = 'a\"b' AND ($1::text[])[6] = 'c\\d'",
                          values));
        CHECK(server_says(conn, "SELECT ($1::text[])[4] IS NULL AND ($1::text[])[2] = 'NULL'",
                          values));
        CHECK(server_says(conn, "SELECT cardinality($1::text[]) = 17", values));
        // Arrays the server builds itself.
        CHECK(query<strings>(
                  conn, R"(SELECT ARRAY['a b', 'NULL', NULL, '', 'x,y', '{', '"', '\', 'é'])") ==
              strings{"a b", "NULL", std::nullopt, "", "x,y", "{", "\"", "\\", "é"});
        CHECK(query<std::vector<std::string>>(conn, "SELECT '{a b, c }'::text[]") ==
              std::vector<std::string>{"a b", "c"});
    }

    TEST_CASE("type mapping: array decoding reports what a vector cannot hold") {
        auto conn = pgkit::test::connect_to_server();
        CHECK(query<std::vector<std::int32_t>>(conn, "SELECT '[0:2]={1,2,3}'::int4[]") ==
              std::vector<std::int32_t>{1, 2, 3});
        CHECK(
            query_error<std::vector<std::int32_t>>(conn, "SELECT '{{1,2},{3,4}}'::int4[]").code() ==
            errc::type_mismatch);
        CHECK(query_error<std::vector<std::int32_t>>(conn, "SELECT ARRAY[1, NULL]").code() ==
              errc::type_mismatch);
        CHECK(query_error<std::vector<std::int16_t>>(conn, "SELECT ARRAY[1, 40000]").code() ==
              errc::type_mismatch);
        CHECK(query_error<std::vector<std::int32_t>>(conn, "SELECT 1").code() ==
              errc::type_mismatch);
    }

    TEST_CASE("type mapping: arrays of uuid, numeric, timestamps, bytea, json and floats") {
        auto conn = pgkit::test::connect_to_server();
        check_round_trip(conn,
                         std::vector<pgkit::uuid>{make_uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                                                  pgkit::uuid{}});
        const std::vector<pgkit::numeric> numbers{num("1.50"), num("-0.001"), pgkit::numeric::nan(),
                                                  pgkit::numeric::infinity(), num("1e40")};
        auto numbers_back = echo(conn, numbers);
        REQUIRE(numbers_back.has_value());
        REQUIRE(numbers_back->size() == numbers.size());
        for (std::size_t i = 0; i < numbers.size(); ++i) {
            CHECK((*numbers_back)[i].to_string() == numbers[i].to_string());
        }
        check_round_trip(conn, std::vector<std::optional<micro_time>>{
                                   at(2024y / 1 / 2, 3h + 4min + 5s + 123456us), std::nullopt,
                                   micro_time::max(), at(year{-43} / 3 / 15)});
        check_round_trip(conn, std::vector<nano_time>{nano_time{}, nano_time::min()});
        check_round_trip(conn, std::vector<year_month_day>{2024y / 1 / 2, year{0} / 1 / 1});
        check_round_trip(conn,
                         std::vector<bytes>{all_byte_values(), bytes{}, bytes{std::byte{'"'}}});
        check_round_trip(
            conn, std::vector<pgkit::json>{pgkit::json{R"({"a": "b,\"c\"}"})"}, pgkit::json{"[]"}});
        const std::vector<double> floats{0.1, -0.0, std::numeric_limits<double>::infinity(),
                                         std::numeric_limits<double>::denorm_min()};
        auto floats_back = echo(conn, floats);
        REQUIRE(floats_back.has_value());
        CHECK(*floats_back == floats);
        CHECK(std::signbit((*floats_back)[1]));
        auto nan_back = echo(conn, std::vector<double>{std::nan("")});
        REQUIRE(nan_back.has_value());
        CHECK(std::isnan(nan_back->at(0)));
        CHECK(server_says(conn,
                          "SELECT $1::timestamptz[] = "
                          "ARRAY['2024-01-02 03:04:05.123456+00']::timestamptz[]",
                          std::vector<micro_time>{at(2024y / 1 / 2, 3h + 4min + 5s + 123456us)}));
    }

    // ---- enums
    // -----------------------------------------------------------------------------------

    TEST_CASE("type mapping: a mapped enum round-trips through CREATE TYPE ... AS ENUM") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE TYPE mood AS ENUM ('sad', 'o''k \"fine\"', 'happy', 'ecstatic');"
            "CREATE TABLE diary (id int8 PRIMARY KEY, feeling mood, history mood[])"));
        for (const mood value : {mood::sad, mood::ok, mood::happy}) {
            check_round_trip(conn, value);
        }
        CHECK(server_says(conn, "SELECT $1::mood = 'o''k \"fine\"'::mood", mood::ok));
        CHECK(server_says(conn, "SELECT $1::mood > 'sad'::mood", mood::happy));
        check_round_trip(conn, std::vector<mood>{mood::happy, mood::ok, mood::sad});
        check_round_trip(conn, std::vector<std::optional<mood>>{std::nullopt, mood::ok});

        REQUIRE(conn.execute("INSERT INTO diary VALUES ($1, $2, $3)", std::int64_t{1}, mood::ok,
                             std::vector<mood>{mood::sad, mood::happy}));
        auto row = conn.execute("SELECT feeling, history FROM diary WHERE id = 1");
        REQUIRE(row.has_value());
        auto fields = row->one().and_then(
            [](const pgkit::row& r) { return r.as<mood, std::vector<mood>>(); });
        REQUIRE(fields.has_value());
        CHECK(std::get<0>(*fields) == mood::ok);
        CHECK(std::get<1>(*fields) == std::vector<mood>{mood::sad, mood::happy});

        // A label the mapping does not know, and an enumerator with no label.
        const auto unknown = query_error<mood>(conn, "SELECT 'ecstatic'::mood");
        CHECK(unknown.code() == errc::type_mismatch);
        CHECK(unknown.message().find("ecstatic") != std::string::npos);
        auto unlabelled = conn.execute("SELECT $1::mood", mood::unlabelled);
        REQUIRE_FALSE(unlabelled.has_value());
        CHECK(unlabelled.error().code() == errc::invalid_argument);
    }
}
