#include "pgkit/types/chrono.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace pgkit {
namespace {

using detail::excerpt;
using detail::is_digit;

constexpr std::int64_t micros_per_second = 1'000'000;
constexpr std::int64_t micros_per_day = 86'400 * micros_per_second;

// Proleptic Gregorian civil <-> day conversions over the whole int64 range of years we need
// (std::chrono::year stops at 32767; PostgreSQL's timestamps reach 294276). These are Howard
// Hinnant's algorithms (the ones behind <chrono>'s sys_days <-> year_month_day), with
// astronomical years: year 0 is 1 BC.

/// Days since 1970-01-01 of the civil date y-m-d.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil_date {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

/// The civil date of a day count since 1970-01-01.
constexpr civil_date civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {y + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool is_leap(std::int64_t y) noexcept {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
    constexpr unsigned lengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : lengths[m - 1];
}

/// PostgreSQL's first day, 4714-11-24 BC (Julian day 0), in days since 1970.
constexpr std::int64_t pg_first_day = days_from_civil(-4713, 11, 24);
using detail::pg_first_micros;
static_assert(pg_first_micros == pg_first_day * micros_per_day);
static_assert(civil_from_days(0).year == 1970 && civil_from_days(-1).month == 12);

/// The largest |days| for which days * micros_per_day fits in int64.
constexpr std::int64_t max_abs_days = std::numeric_limits<std::int64_t>::max() / micros_per_day;

/// Writes `value` as exactly `width` decimal digits (value < 10^width); returns the end.
char* write_fixed_digits(char* out, std::uint32_t value, int width) noexcept {
    for (int i = width - 1; i >= 0; --i) {
        out[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    return out + width;
}

/// The most characters write_date writes: a year of up to 19 digits, "-MM-DD".
constexpr std::size_t max_date_chars = 19 + 6;

/// Writes "YYYY-MM-DD" (at least four year digits) for an astronomical year; returns the end.
/// `bc` tells whether the " BC" suffix is due.
char* write_date(char* out, std::int64_t year, unsigned month, unsigned day, bool& bc) noexcept {
    bc = year <= 0;
    const std::int64_t shown = bc ? 1 - year : year;
    if (shown < 10'000) {
        out = write_fixed_digits(out, static_cast<std::uint32_t>(shown), 4);
    } else {
        out = std::to_chars(out, out + 19, shown).ptr;
    }
    *out++ = '-';
    out = write_fixed_digits(out, month, 2);
    *out++ = '-';
    return write_fixed_digits(out, day, 2);
}

/// Reads exactly `count` digits at `pos`; -1 when they are not all digits.
int read_fixed_digits(std::string_view text, std::size_t& pos, std::size_t count) {
    if (text.size() - pos < count) {
        return -1;
    }
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const char c = text[pos + i];
        if (!is_digit(c)) {
            return -1;
        }
        value = value * 10 + (c - '0');
    }
    pos += count;
    return value;
}

struct parsed_date {
    std::int64_t year;  ///< as written (before BC is applied)
    unsigned month;
    unsigned day;
};

/// Parses "Y...Y-MM-DD" at the start of `text` (4 to 9 year digits).
bool parse_date_part(std::string_view text, std::size_t& pos, parsed_date& date) {
    std::size_t digits = 0;
    std::int64_t year = 0;
    while (pos < text.size() && is_digit(text[pos])) {
        if (++digits > 9) {
            return false;
        }
        year = year * 10 + (text[pos] - '0');
        ++pos;
    }
    if (digits < 4 || pos >= text.size() || text[pos] != '-') {
        return false;
    }
    ++pos;
    const int month = read_fixed_digits(text, pos, 2);
    if (month < 1 || month > 12 || pos >= text.size() || text[pos] != '-') {
        return false;
    }
    ++pos;
    const int day = read_fixed_digits(text, pos, 2);
    if (day < 1) {
        return false;
    }
    date = {year, static_cast<unsigned>(month), static_cast<unsigned>(day)};
    return true;
}

/// Consumes a trailing " BC"; true when it was there.
bool consume_bc(std::string_view text, std::size_t& pos) {
    if (text.substr(pos) == " BC") {
        pos = text.size();
        return true;
    }
    return false;
}

/// Turns the year as written into an astronomical year and checks the day of month.
bool resolve_date(parsed_date& date, bool bc) {
    if (date.year == 0) {
        return false;  // there is no year 0 in AD/BC notation
    }
    if (bc) {
        date.year = 1 - date.year;
    }
    return date.day <= days_in_month(date.year, date.month);
}

/// The shape a UTC session prints for a timestamptz of years 1 to 9999:
/// "YYYY-MM-DD HH:MM:SS[.f{1,6}]+00". Reads it with fixed offsets, for the decoding of every
/// row that holds one; nullopt for any other text, which the general parser then reads (or
/// rejects) as before.
std::optional<std::int64_t> decode_plain_utc_timestamp(std::string_view text) noexcept {
    constexpr std::size_t whole_seconds = 19;  // "YYYY-MM-DD HH:MM:SS"
    constexpr std::string_view utc = "+00";
    if (text.size() < whole_seconds + utc.size() || text.size() > whole_seconds + 7 + utc.size() ||
        text.substr(text.size() - utc.size()) != utc) {
        return std::nullopt;
    }
    const char* p = text.data();
    if (p[4] != '-' || p[7] != '-' || p[10] != ' ' || p[13] != ':' || p[16] != ':') {
        return std::nullopt;
    }
    constexpr std::size_t digit_positions[] = {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18};
    for (const std::size_t at : digit_positions) {
        if (!is_digit(p[at])) {
            return std::nullopt;
        }
    }
    const auto two = [p](std::size_t at) {
        return static_cast<unsigned>((p[at] - '0') * 10 + (p[at + 1] - '0'));
    };
    const unsigned year = two(0) * 100 + two(2);
    const unsigned month = two(5);
    const unsigned day = two(8);
    const unsigned hour = two(11);
    const unsigned minute = two(14);
    const unsigned second = two(17);
    if (year == 0 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59) {
        return std::nullopt;
    }
    std::int64_t fraction = 0;
    const std::size_t end = text.size() - utc.size();
    if (end != whole_seconds) {
        if (p[whole_seconds] != '.' || end == whole_seconds + 1) {
            return std::nullopt;
        }
        for (std::size_t i = whole_seconds + 1; i < end; ++i) {
            if (!is_digit(p[i])) {
                return std::nullopt;
            }
            fraction = fraction * 10 + (p[i] - '0');
        }
        for (std::size_t digits = end - whole_seconds - 1; digits < 6; ++digits) {
            fraction *= 10;
        }
    }
    return days_from_civil(year, month, day) * micros_per_day +
           static_cast<std::int64_t>(hour * 3600 + minute * 60 + second) * micros_per_second +
           fraction;
}

tl::unexpected<error> not_a_timestamp(std::string_view text) {
    return make_error(errc::type_mismatch, fmt::format("'{}' is not a timestamp", excerpt(text)));
}

tl::unexpected<error> not_a_date(std::string_view text) {
    return make_error(errc::type_mismatch, fmt::format("'{}' is not a date", excerpt(text)));
}

}  // namespace

namespace detail {

error timestamp_before_first_instant() {
    return error{errc::invalid_argument,
                 "time point precedes 4714-11-24 00:00:00 UTC BC, PostgreSQL's earliest "
                 "timestamp"};
}

void append_timestamp(std::int64_t micros, std::string& out) {
    // Floor division: the time of day is never negative.
    std::int64_t days = micros / micros_per_day;
    std::int64_t time_of_day = micros % micros_per_day;
    if (time_of_day < 0) {
        time_of_day += micros_per_day;
        --days;
    }
    const civil_date date = civil_from_days(days);
    // Formatted by hand into one buffer and appended once: encoding sits on the path of every
    // COPY row and parameter that holds a time point.
    char text[max_date_chars + 32];
    bool bc = false;
    char* end = write_date(text, date.year, date.month, date.day, bc);
    const auto seconds = static_cast<std::uint32_t>(time_of_day / micros_per_second);
    auto fraction = static_cast<std::uint32_t>(time_of_day % micros_per_second);
    *end++ = ' ';
    end = write_fixed_digits(end, seconds / 3600, 2);
    *end++ = ':';
    end = write_fixed_digits(end, seconds / 60 % 60, 2);
    *end++ = ':';
    end = write_fixed_digits(end, seconds % 60, 2);
    if (fraction != 0) {
        *end++ = '.';
        int digits = 6;
        while (fraction % 10 == 0) {
            fraction /= 10;
            --digits;
        }
        end = write_fixed_digits(end, fraction, digits);
    }
    constexpr std::string_view utc = "+00";
    end = std::copy(utc.begin(), utc.end(), end);
    if (bc) {
        constexpr std::string_view suffix = " BC";
        end = std::copy(suffix.begin(), suffix.end(), end);
    }
    out.append(text, end);
}

result<pg_timestamp> decode_timestamp(std::string_view text) {
    if (const auto plain = decode_plain_utc_timestamp(text)) {
        return pg_timestamp{pg_timestamp::kind::finite, *plain};
    }
    if (text == "infinity") {
        return pg_timestamp{pg_timestamp::kind::infinity, 0};
    }
    if (text == "-infinity") {
        return pg_timestamp{pg_timestamp::kind::minus_infinity, 0};
    }
    std::size_t pos = 0;
    parsed_date date{};
    if (!parse_date_part(text, pos, date) || pos >= text.size() ||
        (text[pos] != ' ' && text[pos] != 'T')) {
        return not_a_timestamp(text);
    }
    ++pos;
    const int hour = read_fixed_digits(text, pos, 2);
    if (hour < 0 || hour > 23 || pos >= text.size() || text[pos] != ':') {
        return not_a_timestamp(text);
    }
    ++pos;
    const int minute = read_fixed_digits(text, pos, 2);
    if (minute < 0 || minute > 59 || pos >= text.size() || text[pos] != ':') {
        return not_a_timestamp(text);
    }
    ++pos;
    const int second = read_fixed_digits(text, pos, 2);
    if (second < 0 || second > 59) {
        return not_a_timestamp(text);
    }
    std::int64_t fraction = 0;
    if (pos < text.size() && text[pos] == '.') {
        ++pos;
        std::size_t digits = 0;
        while (pos < text.size() && is_digit(text[pos])) {
            if (++digits > 6) {
                return not_a_timestamp(text);  // finer than PostgreSQL's microseconds
            }
            fraction = fraction * 10 + (text[pos] - '0');
            ++pos;
        }
        if (digits == 0) {
            return not_a_timestamp(text);
        }
        for (std::size_t i = digits; i < 6; ++i) {
            fraction *= 10;
        }
    }
    std::int64_t offset_seconds = 0;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
        const bool negative = text[pos] == '-';
        ++pos;
        const int hours = read_fixed_digits(text, pos, 2);
        if (hours < 0 || hours > 23) {
            return not_a_timestamp(text);
        }
        int minutes = 0;
        int seconds = 0;
        if (pos < text.size() && text[pos] == ':') {
            ++pos;
            minutes = read_fixed_digits(text, pos, 2);
            if (minutes < 0 || minutes > 59) {
                return not_a_timestamp(text);
            }
            if (pos < text.size() && text[pos] == ':') {
                ++pos;
                seconds = read_fixed_digits(text, pos, 2);
                if (seconds < 0 || seconds > 59) {
                    return not_a_timestamp(text);
                }
            }
        }
        offset_seconds = hours * 3600 + minutes * 60 + seconds;
        if (negative) {
            offset_seconds = -offset_seconds;
        }
    } else if (pos < text.size() && text[pos] == 'Z') {
        ++pos;
    }
    const bool bc = consume_bc(text, pos);
    if (pos != text.size() || !resolve_date(date, bc)) {
        return not_a_timestamp(text);
    }

    const std::int64_t days = days_from_civil(date.year, date.month, date.day);
    // Local time minus the offset is UTC. |rest| < 2 days, so only `base` can be huge.
    const std::int64_t rest =
        (hour * 3600 + minute * 60 + second - offset_seconds) * micros_per_second + fraction;
    constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
    const bool fits = days >= -max_abs_days && days <= max_abs_days && [&] {
        const std::int64_t base = days * micros_per_day;
        return rest >= 0 ? base <= int64_max - rest : base >= int64_min - rest;
    }();
    if (!fits) {
        return make_error(errc::type_mismatch,
                          fmt::format("timestamp '{}' is beyond the range of 64-bit "
                                      "microseconds since 1970 (294247 AD)",
                                      excerpt(text)));
    }
    const std::int64_t micros = days * micros_per_day + rest;
    if (micros < pg_first_micros) {
        // No server sends it, and encode_timestamp could not send it back.
        return make_error(errc::type_mismatch,
                          fmt::format("timestamp '{}' precedes 4714-11-24 00:00:00 UTC BC, "
                                      "PostgreSQL's earliest timestamp",
                                      excerpt(text)));
    }
    return pg_timestamp{pg_timestamp::kind::finite, micros};
}

result<pg_timestamp> decode_binary_timestamp(std::string_view bytes, std::uint32_t type) {
    if ((type != type_oid::timestamptz && type != type_oid::timestamp) || bytes.size() != 8) {
        return tl::unexpected(binary_field_error(type, bytes.size(), "a time point"));
    }
    const auto since_2000 = static_cast<std::int64_t>(load_big_endian<std::uint64_t>(bytes.data()));
    constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
    // PostgreSQL's infinities are the extremes of its int64 (DT_NOEND, DT_NOBEGIN).
    if (since_2000 == int64_max) {
        return pg_timestamp{pg_timestamp::kind::infinity, 0};
    }
    if (since_2000 == int64_min) {
        return pg_timestamp{pg_timestamp::kind::minus_infinity, 0};
    }
    constexpr std::int64_t epoch_2000 = 10'957 * micros_per_day;  // 2000-01-01 since 1970
    if (since_2000 > int64_max - epoch_2000) {
        return make_error(errc::type_mismatch,
                          fmt::format("timestamp {} microseconds after 2000-01-01 is beyond the "
                                      "range of 64-bit microseconds since 1970 (294247 AD)",
                                      since_2000));
    }
    const std::int64_t micros = since_2000 + epoch_2000;
    if (micros < pg_first_micros) {
        return make_error(errc::type_mismatch,
                          fmt::format("timestamp {} microseconds after 2000-01-01 precedes "
                                      "4714-11-24 00:00:00 UTC BC, PostgreSQL's earliest timestamp",
                                      since_2000));
    }
    return pg_timestamp{pg_timestamp::kind::finite, micros};
}

error timestamp_out_of_range(std::int64_t micros, std::string_view type_name) {
    std::string text;
    (void)encode_timestamp(micros, text);
    return error{
        errc::type_mismatch,
        fmt::format("timestamp {} is out of the range of std::chrono::{}{}", text, type_name,
                    type_name == "sys_time<nanoseconds>"
                        ? " (years 1677..2262); read it as "
                          "std::chrono::sys_time<std::chrono::microseconds>"
                        : "")};
}

}  // namespace detail

result<void> value_traits<std::chrono::year_month_day>::encode(
    const std::chrono::year_month_day& value, std::string& out) {
    if (!value.ok()) {
        return make_error(
            errc::invalid_argument,
            fmt::format("{}-{}-{} is not a valid date", static_cast<int>(value.year()),
                        static_cast<unsigned>(value.month()), static_cast<unsigned>(value.day())));
    }
    const std::int64_t year = static_cast<int>(value.year());
    const unsigned month = static_cast<unsigned>(value.month());
    const unsigned day = static_cast<unsigned>(value.day());
    if (days_from_civil(year, month, day) < pg_first_day) {
        return make_error(errc::invalid_argument,
                          "date precedes 4714-11-24 BC, PostgreSQL's earliest date");
    }
    char text[max_date_chars + 3];
    bool bc = false;
    char* end = write_date(text, year, month, day, bc);
    if (bc) {
        constexpr std::string_view suffix = " BC";
        end = std::copy(suffix.begin(), suffix.end(), end);
    }
    out.append(text, end);
    return success();
}

result<std::chrono::year_month_day> value_traits<std::chrono::year_month_day>::decode(
    std::string_view text) {
    if (text == "infinity" || text == "-infinity") {
        return make_error(errc::type_mismatch,
                          fmt::format("the date '{}' has no std::chrono::year_month_day value; "
                                      "read it as text",
                                      text));
    }
    std::size_t pos = 0;
    parsed_date date{};
    if (!parse_date_part(text, pos, date)) {
        return not_a_date(text);
    }
    const bool bc = consume_bc(text, pos);
    if (pos != text.size() || !resolve_date(date, bc)) {
        return not_a_date(text);
    }
    if (date.year < -32767 || date.year > 32767) {
        return make_error(errc::type_mismatch,
                          fmt::format("the date '{}' is beyond std::chrono::year's range "
                                      "(-32767..32767)",
                                      excerpt(text)));
    }
    if (days_from_civil(date.year, date.month, date.day) < pg_first_day) {
        // No server sends it, and encode could not send it back.
        return make_error(errc::type_mismatch,
                          fmt::format("the date '{}' precedes 4714-11-24 BC, PostgreSQL's "
                                      "earliest date",
                                      excerpt(text)));
    }
    return std::chrono::year_month_day{std::chrono::year{static_cast<int>(date.year)},
                                       std::chrono::month{date.month}, std::chrono::day{date.day}};
}

}  // namespace pgkit
