// libFuzzer target: keyset-pagination cursors (src/pagination/cursor_codec.hpp) under a fixed
// test key whose clock the target sets. Oracles:
//   - the input, read as a cursor, never crashes decode_cursor: it is accepted (then it is
//     canonical base64url, and another key, another query or another value count refuses it)
//     or refused with invalid_cursor;
//   - values built from the input survive encode_cursor -> decode_cursor, accepted exactly when
//     the decoding clock is within the skew and max_age of the issuing one;
//   - changing any character of a valid cursor, any byte under its base64url, cutting it short
//     or extending it is refused;
//   - a cursor signed by the key with any 64-bit issue time is accepted exactly when that time
//     (two's complement Unix seconds) lies within [now - max_age, now + 300 s].
#include "pgkit/cursor_key.hpp"

#include "fuzz_check.hpp"
#include "pagination/cursor_codec.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using pgkit::detail::cursor_values;
using pgkit::detail::decode_cursor;
using pgkit::detail::encode_cursor;
using pgkit::fuzz::printable;
using clock_type = std::chrono::system_clock;

/// The seed corpus's cursors were issued at this instant by `signing_key()` for `query()`.
constexpr auto issue_instant = std::chrono::sys_days{std::chrono::year{2030} / 1 / 1};
constexpr std::chrono::seconds max_age{86400};
constexpr std::int64_t skew_seconds = 300;

clock_type::time_point current_time = issue_instant;

const pgkit::cursor_key& signing_key() {
    static const auto key =
        pgkit::cursor_key::create("pgkit fuzz cursor key: not a real secret",
                                  {.max_age = max_age, .clock = [] { return current_time; }})
            .value();
    return key;
}

/// The same secret without max_age: cursors do not expire.
const pgkit::cursor_key& lasting_key() {
    static const auto key = pgkit::cursor_key::create("pgkit fuzz cursor key: not a real secret",
                                                      {.clock = [] { return current_time; }})
                                .value();
    return key;
}

const pgkit::cursor_key& foreign_key() {
    static const auto key = pgkit::cursor_key::create("another pgkit fuzz key, not the signing one",
                                                      {.clock = [] { return current_time; }})
                                .value();
    return key;
}

const std::string& query() {
    static const std::string fingerprint = pgkit::detail::fingerprint_of("fuzz;id desc;filter");
    return fingerprint;
}

std::string describe(const cursor_values& values) {
    std::string out = "{";
    for (const auto& value : values) {
        out += value ? printable(*value) : "NULL";
        out += ", ";
    }
    return out + "}";
}

void check_refused(const pgkit::result<cursor_values>& decoded, const std::string& what) {
    PGKIT_FUZZ_CHECK(!decoded, what + " was accepted as " + describe(*decoded));
    PGKIT_FUZZ_CHECK(
        decoded.error().code() == pgkit::errc::invalid_cursor,
        what + " was refused with another code than invalid_cursor: " + decoded.error().message());
}

/// The input as a cursor: accepted only when genuine, refused as invalid_cursor otherwise.
void decode_input(std::string_view cursor) {
    current_time = issue_instant;
    for (std::size_t expected = 0; expected < 5; ++expected) {
        const auto decoded = decode_cursor(signing_key(), query(), cursor, expected);
        if (!decoded) {
            PGKIT_FUZZ_CHECK(decoded.error().code() == pgkit::errc::invalid_cursor,
                             printable(cursor) + ": " + decoded.error().message());
            continue;
        }
        const auto where =
            printable(cursor) + " (accepted with " + std::to_string(expected) + " values)";
        PGKIT_FUZZ_CHECK(decoded->size() == expected, where);
        const auto bytes = pgkit::detail::base64url_decode(cursor);
        PGKIT_FUZZ_CHECK(bytes && pgkit::detail::base64url_encode(*bytes) == cursor,
                         where + " is not canonical base64url");
        check_refused(decode_cursor(foreign_key(), query(), cursor, expected),
                      where + " under another key");
        check_refused(decode_cursor(signing_key(), pgkit::detail::fingerprint_of("other query"),
                                    cursor, expected),
                      where + " for another query");
        check_refused(decode_cursor(signing_key(), query(), cursor, expected + 1),
                      where + " with one value more");
    }
}

/// The signed body of a one-value cursor ("x") issued at `issued`, as encode_cursor lays it out.
std::string cursor_issued_at(std::uint64_t issued) {
    std::string body;
    body.push_back('\1');  // format version
    body.append(query());
    for (int shift = 56; shift >= 0; shift -= 8) {
        body.push_back(static_cast<char>((issued >> static_cast<unsigned>(shift)) & 0xffU));
    }
    body += "\1\1\1x";  // one value, present, one byte long
    return pgkit::detail::base64url_encode(body + signing_key().sign(body));
}

/// Any 64-bit issue time under a genuine MAC, judged against a clock anywhere in
/// system_clock's range. The input picks the clock, then an issue time: a small distance from
/// one of the values where the checks change (now, now + skew, now - max_age, the ends of the
/// int64 range) or any 64-bit value.
void check_issue_time(pgkit::fuzz::byte_reader& in) {
    // Within +/- 2^32 s of 2030 (about 136 years), inside system_clock's nanosecond range.
    const auto offset = static_cast<std::int64_t>(in.integer(5) & 0x1'ffff'ffffULL) - (1LL << 32);
    current_time = clock_type::time_point{issue_instant} + std::chrono::seconds{offset};
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(current_time.time_since_epoch()).count();
    const auto unsigned_now = static_cast<std::uint64_t>(now);
    const std::uint8_t form = in.byte();
    const auto distance = static_cast<std::int32_t>(static_cast<std::uint32_t>(in.integer(4)));
    std::uint64_t base = 0;
    switch (form % 6) {
        case 0:
            base = in.integer(8);
            break;
        case 1:
            base = unsigned_now;
            break;
        case 2:
            base = unsigned_now + static_cast<std::uint64_t>(skew_seconds);
            break;
        case 3:
            base = unsigned_now - static_cast<std::uint64_t>(max_age.count());
            break;
        case 4:
            base = 1ULL << 63U;  // INT64_MIN
            break;
        default:
            base = (1ULL << 63U) - 1;  // INT64_MAX
            break;
    }
    // Wrapping on purpose: every 64-bit pattern is a possible issue time.
    const std::uint64_t issued_raw = base + static_cast<std::uint64_t>(std::int64_t{distance});
    const auto issued = static_cast<std::int64_t>(issued_raw);

    const std::string cursor = cursor_issued_at(issued_raw);
    const bool not_future = issued <= now + skew_seconds;
    const bool fresh = issued >= now - max_age.count();
    const auto where =
        "a cursor issued at " + std::to_string(issued) + " s, now " + std::to_string(now) + " s";

    const auto expiring = decode_cursor(signing_key(), query(), cursor, 1);
    PGKIT_FUZZ_CHECK(expiring.has_value() == (not_future && fresh),
                     where + (expiring ? ": accepted" : ": " + expiring.error().message()));
    const auto lasting = decode_cursor(lasting_key(), query(), cursor, 1);
    PGKIT_FUZZ_CHECK(
        lasting.has_value() == not_future,
        where + " without max_age" + (lasting ? ": accepted" : ": " + lasting.error().message()));
    if (lasting) {
        PGKIT_FUZZ_CHECK(*lasting == cursor_values{std::string{"x"}}, where);
    }
}

/// Values from the input, encoded, decoded at another time, then altered.
void check_round_trip(pgkit::fuzz::byte_reader& in) {
    cursor_values values(in.byte() % 6);
    for (auto& value : values) {
        if (in.byte() % 4 != 0) {
            value = std::string{in.piece()};
        }
    }
    current_time = issue_instant;
    const std::string cursor = encode_cursor(signing_key(), query(), values);
    const auto where = "values " + describe(values) + ", cursor " + printable(cursor);
    if (cursor.size() > pgkit::detail::max_cursor_chars) {
        check_refused(decode_cursor(signing_key(), query(), cursor, values.size()),
                      where + " (too long)");
        return;
    }

    // Decoded later (or earlier: another server's clock) by up to about a day and a half.
    const auto delta = static_cast<std::int64_t>(in.integer(3) & 0x1ffffU) - 0x8000;
    current_time = issue_instant + std::chrono::seconds{delta};
    const auto decoded = decode_cursor(signing_key(), query(), cursor, values.size());
    const bool in_time = delta >= -skew_seconds && delta <= max_age.count();
    PGKIT_FUZZ_CHECK(decoded.has_value() == in_time,
                     where + " decoded " + std::to_string(delta) +
                         " s later: " + (decoded ? "accepted" : decoded.error().message()));
    if (decoded) {
        PGKIT_FUZZ_CHECK(*decoded == values, where + " decoded to " + describe(*decoded));
    }

    current_time = issue_instant;
    const auto exact = decode_cursor(signing_key(), query(), cursor, values.size());
    PGKIT_FUZZ_CHECK(exact && *exact == values, where + " does not decode");

    // Any character changed, any bit under the base64url flipped, cut short or extended.
    const auto bytes = pgkit::detail::base64url_decode(cursor);
    PGKIT_FUZZ_CHECK(bytes.has_value(), where);
    for (int i = 0; i < 4 && !in.empty(); ++i) {
        const std::size_t at = in.integer(2) % cursor.size();
        std::string altered = cursor;
        const char replacement = static_cast<char>(in.byte());
        altered[at] =
            replacement == altered[at] ? static_cast<char>(replacement ^ 0x20) : replacement;
        check_refused(decode_cursor(signing_key(), query(), altered, values.size()),
                      where + " with character " + std::to_string(at) + " changed to " +
                          printable(altered.substr(at, 1)));

        std::string flipped = *bytes;
        const std::size_t bit = in.integer(2) % (flipped.size() * 8);
        flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
        check_refused(decode_cursor(signing_key(), query(),
                                    pgkit::detail::base64url_encode(flipped), values.size()),
                      where + " with bit " + std::to_string(bit) + " flipped");

        const std::size_t length = in.integer(2) % cursor.size();
        check_refused(
            decode_cursor(signing_key(), query(), cursor.substr(0, length), values.size()),
            where + " cut to " + std::to_string(length) + " characters");
        check_refused(
            decode_cursor(signing_key(), query(), cursor + "ABCD"[in.byte() % 4], values.size()),
            where + " with a character appended");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input{reinterpret_cast<const char*>(data), size};
    decode_input(input);
    pgkit::fuzz::byte_reader issue_time{input};
    check_issue_time(issue_time);
    pgkit::fuzz::byte_reader values{input};
    check_round_trip(values);
    return 0;
}
