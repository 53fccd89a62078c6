#pragma once

/// Time points and dates, mapped to PostgreSQL's timestamptz (reading timestamp too) and date.
///
///   std::chrono::system_clock::time_point            <-> timestamptz (libstdc++: nanosecond
///                                                        ticks, years 1677..2262)
///   std::chrono::sys_time<std::chrono::microseconds> <-> timestamptz (4714 BC .. 294247 AD)
///   std::chrono::year_month_day                      <-> date (4714-11-24 BC .. 32767-12-31)
///
/// Precision: PostgreSQL stores microseconds. Encoding truncates sub-microsecond parts toward
/// negative infinity (floor), so 1 ns before an exact second is sent as x.999999.
///
/// Infinity: `time_point::max()` is sent as 'infinity' and `time_point::min()` as '-infinity',
/// and the server's infinities decode to max() and min(). A finite server value that would equal
/// max() or min() exactly (only possible for the microsecond type, at its very last
/// microsecond) fails with errc::type_mismatch rather than turning into an infinity.
///
/// Range: a server value the C++ type cannot hold fails with errc::type_mismatch, never wraps.
/// For system_clock::time_point (int64 nanoseconds) that is anything outside 1677-09-21 ..
/// 2262-04-11; read such columns as sys_time<microseconds>. sys_time<microseconds> (int64
/// microseconds since 1970) reaches 294247-01-10, slightly short of PostgreSQL's own limit of
/// 294276-12-31: the last 29 years of PostgreSQL's range are type_mismatch too. Sending a time
/// point earlier than PostgreSQL's first instant (4714-11-24 00:00:00 UTC BC) fails with
/// errc::invalid_argument; text for such an instant, which no server sends, fails to decode
/// with errc::type_mismatch, so whatever decodes can be sent back.
///
/// Text: encoded as ISO 8601 with an explicit offset ("2024-01-02 03:04:05.123456+00"),
/// fraction only when nonzero, years of five or more digits in full and years <= 0 with
/// PostgreSQL's " BC" suffix (year 0 is 1 BC, year -4713 is 4714 BC). Decoding accepts what the
/// server prints with DateStyle=ISO: a fraction of 1 to 6 digits, an offset of the form +HH,
/// +HH:MM or +HH:MM:SS (any sign and value; the time is converted to UTC), and the " BC" suffix.
/// Text without an offset (a `timestamp without time zone` column) is taken as UTC.

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <chrono>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgkit {

namespace detail {

/// A timestamp as PostgreSQL sees it: microseconds since 1970-01-01 00:00:00 UTC, or an infinity.
struct pg_timestamp {
    enum class kind : std::uint8_t { finite, infinity, minus_infinity };
    kind which = kind::finite;
    std::int64_t micros = 0;
};

/// PostgreSQL's first instant, 4714-11-24 00:00:00 UTC BC, in microseconds since 1970.
inline constexpr std::int64_t pg_first_micros = -210'866'803'200'000'000;

/// Appends a finite timestamp at or after pg_first_micros in ISO form with "+00".
void append_timestamp(std::int64_t micros, std::string& out);

/// invalid_argument: a time point before pg_first_micros.
[[nodiscard]] error timestamp_before_first_instant();

/// Appends a finite timestamp (microseconds since the epoch, UTC) in ISO form with "+00";
/// invalid_argument when it precedes PostgreSQL's first representable instant. Inline: it is on
/// the path of every COPY field and parameter that holds a time point.
[[nodiscard]] inline result<void> encode_timestamp(std::int64_t micros, std::string& out) {
    if (micros < pg_first_micros) {
        return tl::unexpected(timestamp_before_first_instant());
    }
    append_timestamp(micros, out);
    return success();
}

/// Parses timestamptz or timestamp output (see the file comment); type_mismatch when malformed
/// or beyond int64 microseconds since the epoch.
[[nodiscard]] result<pg_timestamp> decode_timestamp(std::string_view text);

/// A binary timestamptz or timestamp field (int64 microseconds since 2000-01-01, its extremes
/// the infinities); type_mismatch for another column type, a length other than 8 and the values
/// decode_timestamp refuses (beyond int64 microseconds since 1970, before 4714-11-24 BC).
[[nodiscard]] result<pg_timestamp> decode_binary_timestamp(std::string_view bytes,
                                                           std::uint32_t type);
/// type_mismatch for a finite server timestamp the C++ type `type_name` cannot hold.
[[nodiscard]] error timestamp_out_of_range(std::int64_t micros, std::string_view type_name);

/// The durations pgkit maps: nanoseconds (system_clock on libstdc++) and microseconds.
template <class Duration>
concept timestamp_duration = std::same_as<Duration, std::chrono::nanoseconds> ||
    std::same_as<Duration, std::chrono::microseconds>;

}  // namespace detail

/// std::chrono::sys_time<D> <-> timestamptz for D = nanoseconds (system_clock::time_point with
/// libstdc++) and D = microseconds. See the file comment for precision, infinity and range.
template <detail::timestamp_duration Duration>
struct value_traits<std::chrono::sys_time<Duration>> {
    using time_point = std::chrono::sys_time<Duration>;
    static constexpr std::string_view pg_type = "timestamptz";

    /// Floors to microseconds; max()/min() become 'infinity'/'-infinity'. invalid_argument
    /// before 4714-11-24 BC.
    static result<void> encode(const time_point& value, std::string& out) {
        if (value == time_point::max()) {
            out += "infinity";
            return success();
        }
        if (value == time_point::min()) {
            out += "-infinity";
            return success();
        }
        const auto micros =
            std::chrono::floor<std::chrono::microseconds>(value.time_since_epoch()).count();
        return detail::encode_timestamp(micros, out);
    }

    /// timestamptz or timestamp text; type_mismatch when malformed or out of the type's range.
    static result<time_point> decode(std::string_view text) {
        return detail::decode_timestamp(text).and_then(&from_server);
    }
    /// Binary timestamptz and timestamp (microseconds since 2000-01-01; a timestamp without
    /// time zone is taken as UTC, as in text).
    static constexpr bool reads_binary(std::uint32_t type) noexcept {
        return type == detail::type_oid::timestamptz || type == detail::type_oid::timestamp;
    }
    static result<time_point> decode_binary(std::string_view bytes, std::uint32_t type) {
        return detail::decode_binary_timestamp(bytes, type).and_then(&from_server);
    }

  private:
    /// The server's timestamp as a time point; type_mismatch out of the type's range.
    static result<time_point> from_server(const detail::pg_timestamp& parsed) {
        using kind = detail::pg_timestamp::kind;
        if (parsed.which == kind::infinity) {
            return time_point::max();
        }
        if (parsed.which == kind::minus_infinity) {
            return time_point::min();
        }
        constexpr auto type_name = std::same_as<Duration, std::chrono::nanoseconds>
                                       ? std::string_view{"sys_time<nanoseconds>"}
                                       : std::string_view{"sys_time<microseconds>"};
        constexpr std::int64_t lowest =
            std::chrono::ceil<std::chrono::microseconds>(Duration::min()).count();
        constexpr std::int64_t highest =
            std::chrono::floor<std::chrono::microseconds>(Duration::max()).count();
        if (parsed.micros < lowest || parsed.micros > highest) {
            return tl::unexpected(detail::timestamp_out_of_range(parsed.micros, type_name));
        }
        const time_point value{
            std::chrono::duration_cast<Duration>(std::chrono::microseconds{parsed.micros})};
        if (value == time_point::max() || value == time_point::min()) {
            // Would read back as an infinity: refuse rather than change its meaning.
            return tl::unexpected(detail::timestamp_out_of_range(parsed.micros, type_name));
        }
        return value;
    }
};

/// year_month_day <-> date ("2024-01-02", "0044-03-15 BC"). Encoding fails with
/// invalid_argument for an invalid date (!ok()) or one before 4714-11-24 BC. Decoding fails with
/// type_mismatch for malformed text, years beyond +/-32767, dates before 4714-11-24 BC (which no
/// server sends) and the dates 'infinity' and '-infinity', which year_month_day cannot represent
/// (read such columns as text).
template <>
struct value_traits<std::chrono::year_month_day> {
    static constexpr std::string_view pg_type = "date";
    static result<void> encode(const std::chrono::year_month_day& value, std::string& out);
    static result<std::chrono::year_month_day> decode(std::string_view text);
};

}  // namespace pgkit
