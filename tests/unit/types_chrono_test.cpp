#include "pgkit/types/chrono.hpp"

#include "type_codec.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

using pgkit::test::decode;
using pgkit::test::decode_error;
using pgkit::test::encode;

using namespace std::chrono;
using micro_time = sys_time<microseconds>;
using nano_time = system_clock::time_point;

micro_time at(year_month_day date, microseconds time_of_day = microseconds{0}) {
    return micro_time{sys_days{date}} + time_of_day;
}

}  // namespace

TEST_SUITE("types") {
    TEST_CASE("chrono: timestamp pg_type is timestamptz and date is date") {
        static_assert(std::same_as<nano_time, sys_time<nanoseconds>>);
        static_assert(pgkit::mappable<nano_time>);
        static_assert(pgkit::mappable<micro_time>);
        static_assert(pgkit::mappable<year_month_day>);
        static_assert(!pgkit::encodable<sys_time<seconds>>);
        CHECK(pgkit::value_traits<nano_time>::pg_type == "timestamptz");
        CHECK(pgkit::value_traits<micro_time>::pg_type == "timestamptz");
        CHECK(pgkit::value_traits<year_month_day>::pg_type == "date");
    }

    TEST_CASE("chrono: encodes ISO 8601 with an explicit +00 offset") {
        CHECK(encode(micro_time{}) == "1970-01-01 00:00:00+00");
        const auto t = at(2024y / 1 / 2, 3h + 4min + 5s + 123456us);
        CHECK(encode(t) == "2024-01-02 03:04:05.123456+00");
        CHECK(encode(at(2024y / 1 / 2, 500ms)) == "2024-01-02 00:00:00.5+00");
        CHECK(encode(at(2024y / 2 / 29, 23h + 59min + 59s + 10us)) ==
              "2024-02-29 23:59:59.00001+00");
        CHECK(encode(nano_time{t.time_since_epoch()}) == "2024-01-02 03:04:05.123456+00");
    }

    TEST_CASE("chrono: encoding truncates nanoseconds toward negative infinity") {
        CHECK(encode(nano_time{nanoseconds{1999}}) == "1970-01-01 00:00:00.000001+00");
        CHECK(encode(nano_time{nanoseconds{-1}}) == "1969-12-31 23:59:59.999999+00");
        CHECK(encode(nano_time{nanoseconds{-1000}}) == "1969-12-31 23:59:59.999999+00");
        CHECK(encode(nano_time{nanoseconds{-1001}}) == "1969-12-31 23:59:59.999998+00");
        CHECK(encode(micro_time{microseconds{-1}}) == "1969-12-31 23:59:59.999999+00");
    }

    TEST_CASE("chrono: encodes BC years and years beyond 9999 like PostgreSQL") {
        CHECK(encode(at(year{99} / 3 / 4)) == "0099-03-04 00:00:00+00");
        CHECK(encode(at(year{1} / 1 / 1)) == "0001-01-01 00:00:00+00");
        CHECK(encode(at(year{0} / 12 / 31, 23h)) == "0001-12-31 23:00:00+00 BC");
        CHECK(encode(at(year{-43} / 3 / 15)) == "0044-03-15 00:00:00+00 BC");
        CHECK(encode(at(year{-4713} / 11 / 24)) == "4714-11-24 00:00:00+00 BC");
        CHECK(encode(at(year{10000} / 1 / 1)) == "10000-01-01 00:00:00+00");
        // Beyond std::chrono::year: 294247-01-10 04:00:54.775806 (max() - 1 us).
        CHECK(encode(micro_time::max() - 1us) == "294247-01-10 04:00:54.775806+00");
    }

    TEST_CASE("chrono: min and max are the infinities, both ways") {
        CHECK(encode(micro_time::max()) == "infinity");
        CHECK(encode(micro_time::min()) == "-infinity");
        CHECK(encode(nano_time::max()) == "infinity");
        CHECK(encode(nano_time::min()) == "-infinity");
        CHECK(decode<micro_time>("infinity") == micro_time::max());
        CHECK(decode<micro_time>("-infinity") == micro_time::min());
        CHECK(decode<nano_time>("infinity") == nano_time::max());
        CHECK(decode<nano_time>("-infinity") == nano_time::min());
    }

    TEST_CASE("chrono: binary timestamps count microseconds from 2000, extremes the infinities") {
        namespace oid = pgkit::detail::type_oid;
        const auto field = [](std::int64_t since_2000) {
            std::string bytes(8, '\0');
            for (int i = 7; i >= 0; --i) {
                bytes[static_cast<std::size_t>(i)] = static_cast<char>(since_2000 & 0xff);
                since_2000 = static_cast<std::int64_t>(static_cast<std::uint64_t>(since_2000) >> 8);
            }
            return bytes;
        };
        using traits = pgkit::value_traits<micro_time>;
        CHECK(traits::decode_binary(field(0), oid::timestamptz).value() == at(year{2000} / 1 / 1));
        CHECK(traits::decode_binary(field(-1), oid::timestamp).value() ==
              at(year{1999} / 12 / 31, 86'399'999'999us));
        CHECK(traits::decode_binary(field(INT64_MAX), oid::timestamptz).value() ==
              micro_time::max());
        CHECK(traits::decode_binary(field(INT64_MIN), oid::timestamptz).value() ==
              micro_time::min());
        CHECK(pgkit::value_traits<nano_time>::decode_binary(field(INT64_MIN), oid::timestamptz)
                  .value() == nano_time::min());
        // Beyond 64-bit microseconds since 1970, before 4714-11-24 BC, out of nanoseconds'
        // range, the wrong length or type: type_mismatch, as in text.
        for (const auto& refused :
             {traits::decode_binary(field(INT64_MAX - 1), oid::timestamptz),
              traits::decode_binary(field(-211'813'488'000'000'001), oid::timestamptz),
              traits::decode_binary(field(0).substr(1), oid::timestamptz),
              traits::decode_binary(field(0), pgkit::detail::type_oid::int8)}) {
            REQUIRE_FALSE(refused);
            CHECK(refused.error().code() == pgkit::errc::type_mismatch);
        }
        CHECK(pgkit::value_traits<nano_time>::decode_binary(field(INT64_MAX / 2), oid::timestamptz)
                  .error()
                  .code() == pgkit::errc::type_mismatch);
    }

    TEST_CASE("chrono: a time point before 4714-11-24 BC cannot be sent") {
        std::string out;
        const auto encoded =
            pgkit::value_traits<micro_time>::encode(at(year{-4713} / 11 / 24) - 1us, out);
        REQUIRE_FALSE(encoded.has_value());
        CHECK(encoded.error().code() == pgkit::errc::invalid_argument);
        CHECK(out.empty());
    }

    TEST_CASE("chrono: text before 4714-11-24 BC does not decode, so every decoded value encodes") {
        // Decoding these used to succeed, and encoding the result then failed.
        for (const char* text :
             {"4714-11-23 23:59:59.999999+00 BC", "4714-10-24 00:00:00+00 BC",
              "4714-11-24 00:00:00+01 BC", "5000-01-01 00:00:00+00 BC", "4714-11-23 12:00:00 BC"}) {
            CAPTURE(text);
            CHECK(decode_error<micro_time>(text).code() == pgkit::errc::type_mismatch);
        }
        for (const char* text : {"4714-11-23 BC", "4714-10-24 BC", "5000-01-01 BC"}) {
            CAPTURE(text);
            CHECK(decode_error<year_month_day>(text).code() == pgkit::errc::type_mismatch);
        }
        // The first instant and day themselves, also written with another offset.
        CHECK(encode(decode<micro_time>("4714-11-24 00:00:00+00 BC")) ==
              "4714-11-24 00:00:00+00 BC");
        CHECK(decode<micro_time>("4714-11-24 00:30:00+00:30 BC") == at(year{-4713} / 11 / 24));
        CHECK(encode(decode<year_month_day>("4714-11-24 BC")) == "4714-11-24 BC");
    }

    TEST_CASE("chrono: decodes PostgreSQL's ISO output") {
        const auto expected = at(2024y / 1 / 2, 3h + 4min + 5s + 123456us);
        CHECK(decode<micro_time>("2024-01-02 03:04:05.123456+00") == expected);
        CHECK(decode<nano_time>("2024-01-02 03:04:05.123456+00") ==
              nano_time{expected.time_since_epoch()});
        CHECK(decode<micro_time>("2024-01-02 03:04:05+00") == at(2024y / 1 / 2, 3h + 4min + 5s));
        CHECK(decode<micro_time>("2024-01-02 03:04:05.1+00") ==
              at(2024y / 1 / 2, 3h + 4min + 5s + 100ms));
        CHECK(decode<micro_time>("2024-01-02 03:04:05.000001+00") ==
              at(2024y / 1 / 2, 3h + 4min + 5s + 1us));
        CHECK(decode<micro_time>("2024-01-02T03:04:05Z") == at(2024y / 1 / 2, 3h + 4min + 5s));
    }

    TEST_CASE("chrono: the UTC layout read by fixed offsets decodes like the other offset forms") {
        // "...+00" takes the fixed-offset reading; "...+00:00" the general parser.
        for (const char* stem : {
                 "0001-01-01 00:00:00",
                 "1969-12-31 23:59:59.999999",
                 "1970-01-01 00:00:00.5",
                 "2000-02-29 12:34:56.12",
                 "2024-02-29 23:59:59.123",
                 "2024-12-31 00:00:01.1234",
                 "2100-03-01 07:08:09.12345",
                 "9999-12-31 23:59:59.999999",
             }) {
            CAPTURE(stem);
            const std::string plain = std::string{stem} + "+00";
            const std::string general = std::string{stem} + "+00:00";
            CHECK(decode<micro_time>(plain) == decode<micro_time>(general));
            // Years outside 1677..2262 do not fit nanoseconds: the same error either way.
            const auto plain_nanos = pgkit::value_traits<nano_time>::decode(plain);
            const auto general_nanos = pgkit::value_traits<nano_time>::decode(general);
            REQUIRE(plain_nanos.has_value() == general_nanos.has_value());
            if (plain_nanos) {
                CHECK(*plain_nanos == *general_nanos);
            } else {
                CHECK(plain_nanos.error() == general_nanos.error());
            }
            CHECK(encode(decode<micro_time>(plain)) == plain);
        }
        CHECK(decode<micro_time>("2024-02-29 23:59:59.123+00") ==
              at(2024y / 2 / 29, 23h + 59min + 59s + 123ms));
        for (const char* text : {
                 "2024-0a-02 03:04:05+00",
                 "2024-01-02 03:04:0x+00",
                 "2024-01-02x03:04:05+00",
                 "2024-01-02 03:04:05.12a+00",
                 "2024-01-02 03:04:05,123+00",
                 "2024-01-02 03:04:05.+00",
                 "2024-01-02 03:04:05.1234567+00",
                 "2100-02-29 03:04:05+00",
                 "0000-12-31 03:04:05+00",
             }) {
            CAPTURE(text);
            CHECK(decode_error<micro_time>(text).code() == pgkit::errc::type_mismatch);
        }
    }

    TEST_CASE("chrono: decodes every offset form PostgreSQL prints") {
        const auto utc = at(2024y / 1 / 2, 3h);
        CHECK(decode<micro_time>("2024-01-02 08:30:00+05:30") == utc);
        CHECK(decode<micro_time>("2024-01-02 00:00:00-03") == utc);
        CHECK(decode<micro_time>("2024-01-02 03:00:12+00:00:12") == utc);
        CHECK(decode<micro_time>("2024-01-01 23:59:48-03:00:12") == utc);
        CHECK(decode<micro_time>("2024-01-03 02:00:00+23") == utc);
        // Offsets move across midnight, month and year boundaries.
        CHECK(decode<micro_time>("2025-01-01 01:00:00+02") == at(2024y / 12 / 31, 23h));
    }

    TEST_CASE("chrono: a timestamp without offset is taken as UTC") {
        CHECK(decode<micro_time>("2024-01-02 03:04:05.5") ==
              at(2024y / 1 / 2, 3h + 4min + 5s + 500ms));
        CHECK(decode<micro_time>("0044-03-15 12:00:00 BC") == at(year{-43} / 3 / 15, 12h));
    }

    TEST_CASE("chrono: decodes BC and far-future timestamps") {
        CHECK(decode<micro_time>("4714-11-24 00:00:00+00 BC") == at(year{-4713} / 11 / 24));
        CHECK(decode<micro_time>("0001-12-31 23:00:00+00 BC") == at(year{0} / 12 / 31, 23h));
        CHECK(decode<micro_time>("0001-02-29 00:00:00+00 BC") == at(year{0} / 2 / 29));
        CHECK(decode<micro_time>("10000-01-01 00:00:00+00") == at(year{10000} / 1 / 1));
        CHECK(decode<micro_time>("294247-01-10 04:00:54.775806+00") == micro_time::max() - 1us);
    }

    TEST_CASE("chrono: values the C++ type cannot hold are type_mismatch, never wrapped") {
        using pgkit::errc;
        // PostgreSQL's last instant is beyond int64 microseconds since 1970.
        CHECK(decode_error<micro_time>("294276-12-31 23:59:59.999999+00").code() ==
              errc::type_mismatch);
        CHECK(decode_error<micro_time>("294247-01-10 04:00:54.775808+00").code() ==
              errc::type_mismatch);
        // Exactly max(): would read back as infinity.
        CHECK(decode_error<micro_time>("294247-01-10 04:00:54.775807+00").code() ==
              errc::type_mismatch);
        // Nanosecond ticks: 1677-09-21 00:12:43.145224192 .. 2262-04-11 23:47:16.854775807.
        CHECK(decode<nano_time>("2262-04-11 23:47:16.854775+00").time_since_epoch() ==
              nanoseconds{9223372036854775000});
        CHECK(decode_error<nano_time>("2262-04-11 23:47:16.854776+00").code() ==
              errc::type_mismatch);
        CHECK(decode<nano_time>("1677-09-21 00:12:43.145225+00").time_since_epoch() ==
              nanoseconds{-9223372036854775000});
        CHECK(decode_error<nano_time>("1677-09-21 00:12:43.145224+00").code() ==
              errc::type_mismatch);
        CHECK(decode_error<nano_time>("3000-01-01 00:00:00+00").code() == errc::type_mismatch);
        CHECK(decode<micro_time>("3000-01-01 00:00:00+00") == at(year{3000} / 1 / 1));
        CHECK(decode_error<nano_time>("4714-11-24 00:00:00+00 BC").code() == errc::type_mismatch);
        CHECK(decode_error<nano_time>("999999999-01-01 00:00:00+00").code() == errc::type_mismatch);
    }

    TEST_CASE("chrono: round-trips microsecond time points across the whole range") {
        const std::int64_t first = -210'866'803'200'000'000;  // 4714-11-24 BC
        const std::int64_t last = micro_time::max().time_since_epoch().count() - 1;
        const std::int64_t step = last / 997 - first / 997;  // (last - first) would overflow
        for (std::int64_t us = first; us <= last - step; us += step) {
            for (const std::int64_t value : {us, us + 1, us + 999'999, us + 86'399'999'999}) {
                const micro_time t{microseconds{value}};
                const auto text = encode(t);
                CAPTURE(text);
                CHECK(decode<micro_time>(text) == t);
            }
        }
        CHECK(decode<micro_time>(encode(micro_time{microseconds{last}})) ==
              micro_time{microseconds{last}});
        CHECK(decode<micro_time>(encode(micro_time{microseconds{first}})) ==
              micro_time{microseconds{first}});
    }

    TEST_CASE("chrono: rejects malformed timestamps with type_mismatch") {
        for (const char* text : {
                 "",
                 "2024-01-02",
                 "2024-01-02 03:04",
                 "24-01-02 03:04:05+00",
                 "2024-1-02 03:04:05+00",
                 "2024-01-2 03:04:05+00",
                 "2024-13-02 03:04:05+00",
                 "2024-00-02 03:04:05+00",
                 "2024-02-30 03:04:05+00",
                 "2023-02-29 03:04:05+00",
                 "0002-02-29 00:00:00+00 BC",
                 "2024-01-02 24:00:00+00",
                 "2024-01-02 03:60:00+00",
                 "2024-01-02 03:04:60+00",
                 "2024-01-02 03:04:05.+00",
                 "2024-01-02 03:04:05.1234567+00",
                 "2024-01-02 03:04:05+0",
                 "2024-01-02 03:04:05+00:",
                 "2024-01-02 03:04:05+00:6",
                 "2024-01-02 03:04:05+24",
                 "2024-01-02 03:04:05+00 AD",
                 "2024-01-02 03:04:05+00 BC ",
                 "2024-01-02 03:04:05+00x",
                 "0000-01-01 00:00:00+00",
                 "Infinity",
                 "infinityx",
                 "-2024-01-02 03:04:05+00",
                 "2024-01-02  03:04:05+00",
             }) {
            CAPTURE(text);
            CHECK(decode_error<micro_time>(text).code() == pgkit::errc::type_mismatch);
            CHECK(decode_error<nano_time>(text).code() == pgkit::errc::type_mismatch);
        }
    }

    TEST_CASE("chrono: dates encode as YYYY-MM-DD with BC and long years") {
        CHECK(encode(2024y / 1 / 2) == "2024-01-02");
        CHECK(encode(year{1} / 1 / 1) == "0001-01-01");
        CHECK(encode(year{0} / 1 / 1) == "0001-01-01 BC");
        CHECK(encode(year{-4713} / 11 / 24) == "4714-11-24 BC");
        CHECK(encode(year{32767} / 12 / 31) == "32767-12-31");
    }

    TEST_CASE("chrono: invalid or too early dates cannot be sent") {
        for (const year_month_day date : {2023y / 2 / 29, 2024y / 13 / 1, 2024y / 4 / 31,
                                          year{-4713} / 11 / 23, year{-32767} / 1 / 1}) {
            std::string out;
            const auto encoded = pgkit::value_traits<year_month_day>::encode(date, out);
            REQUIRE_FALSE(encoded.has_value());
            CHECK(encoded.error().code() == pgkit::errc::invalid_argument);
        }
    }

    TEST_CASE("chrono: dates decode including BC and long years") {
        CHECK(decode<year_month_day>("2024-01-02") == 2024y / 1 / 2);
        CHECK(decode<year_month_day>("0001-01-01 BC") == year{0} / 1 / 1);
        CHECK(decode<year_month_day>("4714-11-24 BC") == year{-4713} / 11 / 24);
        CHECK(decode<year_month_day>("32767-12-31") == year{32767} / 12 / 31);
        CHECK(decode<year_month_day>("2000-02-29") == 2000y / 2 / 29);
    }

    TEST_CASE("chrono: infinite, out-of-range and malformed dates are type_mismatch") {
        for (const char* text : {"infinity", "-infinity", "32768-01-01", "5874897-12-31", "",
                                 "2024-01-02 00:00:00", "2024-02-30", "1900-02-29", "2024/01/02",
                                 "0000-01-01", "2024-01-02 BC ", "2024-01-02BC"}) {
            CAPTURE(text);
            CHECK(decode_error<year_month_day>(text).code() == pgkit::errc::type_mismatch);
        }
    }
}
