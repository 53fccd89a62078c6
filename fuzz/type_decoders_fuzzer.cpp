// libFuzzer target: every value_traits<T>::decode of pgkit's mapped types (include/pgkit/types/
// and value_traits.hpp), scalars and arrays, on the same input text. Oracles:
//   - a decode either succeeds or fails with type_mismatch (no other code, no crash);
//   - decode -> encode -> decode is stable: when the first decode succeeds, encoding the value
//     succeeds (unless the text holds a NUL byte, which PostgreSQL text cannot store: then
//     invalid_argument), the second decode succeeds and gives the same value (floating point
//     bit for bit, numeric with the same scale), and encoding that gives the same text;
//   - decoders agree with each other: int16 -> int32 -> int64 -> numeric accept the same
//     values, each integer's inline decode with its checked decoder (decode_checked),
//     sys_time<nanoseconds> agrees with sys_time<microseconds>, and a uuid prints back as the
//     lowercase of its text;
//   - binary decoders (decode_binary), on the input and its first 1, 2, 4 and 8 bytes read as a
//     field of each column type: they succeed only for a type reads_binary accepts, fail only
//     with type_mismatch, and agree with the text decoder on the text the server prints for the
//     same value (the integer's decimal, the float's shortest form, the timestamp in ISO form,
//     't'/'f', the text itself): both accept it or both refuse it, with the same value.
#include "pgkit/types/array.hpp"
#include "pgkit/types/bytea.hpp"
#include "pgkit/types/chrono.hpp"
#include "pgkit/types/enum_mapping.hpp"
#include "pgkit/types/json.hpp"
#include "pgkit/types/numeric.hpp"
#include "pgkit/types/uuid.hpp"
#include "pgkit/value_traits.hpp"

#include "fuzz_check.hpp"

#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace fuzz_types {
enum class mood { sad, fine, happy };
}  // namespace fuzz_types

/// Labels that need quoting inside an array literal, so arrays of the enum exercise escapes.
template <>
struct pgkit::enum_mapping<fuzz_types::mood> {
    static constexpr std::string_view pg_type = "mood";
    static constexpr std::array values{
        std::pair{fuzz_types::mood::sad, std::string_view{"sad"}},
        std::pair{fuzz_types::mood::fine, std::string_view{"fine, \"really\""}},
        std::pair{fuzz_types::mood::happy, std::string_view{"{happy}\\"}},
    };
};

namespace {

using pgkit::fuzz::printable;
using micro_time = std::chrono::sys_time<std::chrono::microseconds>;
using nano_time = std::chrono::sys_time<std::chrono::nanoseconds>;
using bytes = std::vector<std::byte>;

template <class T>
bool same(const T& a, const T& b) {
    return a == b;
}

template <class Float>
bool same_float(Float a, Float b) {
    if (std::isnan(a) || std::isnan(b)) {
        return std::isnan(a) && std::isnan(b);
    }
    return std::memcmp(&a, &b, sizeof a) == 0;  // -0.0 is not 0.0
}

bool same(const float& a, const float& b) {
    return same_float(a, b);
}

bool same(const double& a, const double& b) {
    return same_float(a, b);
}

bool same(const pgkit::numeric& a, const pgkit::numeric& b) {
    return a == b && a.scale() == b.scale() && a.to_string() == b.to_string();
}

template <class T>
bool same(const std::optional<T>& a, const std::optional<T>& b) {
    return a.has_value() == b.has_value() && (!a || same(*a, *b));
}

template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!same(static_cast<const T&>(a[i]), static_cast<const T&>(b[i]))) {
            return false;
        }
    }
    return true;
}

bool same(const std::vector<bool>& a, const std::vector<bool>& b) {
    return a == b;
}

/// Decodes `text` as T and checks decode -> encode -> decode; returns the first decode.
template <class T>
pgkit::result<T> round_trip(std::string_view text, std::string_view type) {
    using traits = pgkit::value_traits<T>;
    const auto where = [&](std::string_view what) {
        return std::string{type} + ": " + std::string{what} + " for " + printable(text);
    };
    auto first = traits::decode(text);
    if (!first) {
        PGKIT_FUZZ_CHECK(first.error().code() == pgkit::errc::type_mismatch,
                         where("decode failed with another code than type_mismatch: " +
                               first.error().message()));
        return first;
    }
    std::string encoded;
    auto stored = traits::encode(*first, encoded);
    if (!stored) {
        PGKIT_FUZZ_CHECK(stored.error().code() == pgkit::errc::invalid_argument &&
                             text.find('\0') != std::string_view::npos,
                         where("a decoded value does not encode: " + stored.error().message()));
        return first;
    }
    auto second = traits::decode(encoded);
    PGKIT_FUZZ_CHECK(second.has_value(), where("its encoding " + printable(encoded) +
                                               " does not decode: " + second.error().message()));
    PGKIT_FUZZ_CHECK(same(*first, *second),
                     where("its encoding " + printable(encoded) + " decodes to another value"));
    std::string again;
    PGKIT_FUZZ_CHECK(
        traits::encode(*second, again).has_value() && again == encoded,
        where("encoding is not stable: " + printable(encoded) + " then " + printable(again)));
    return first;
}

template <class T>
void round_trip_arrays(std::string_view text, std::string_view type) {
    (void)round_trip<std::vector<T>>(text, std::string{type} + "[]");
    (void)round_trip<std::vector<std::optional<T>>>(text, std::string{type} + "[] with NULLs");
}

std::string lowercase(std::string_view text) {
    std::string out{text};
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

/// The inline decode (detail::decode_short_integer first) and the checked decoder accept the
/// same texts and give the same values.
template <class Int>
void check_fast_path_agrees(std::string_view text,
                            const pgkit::result<Int>& decoded,
                            std::string_view type_name) {
    const auto checked = pgkit::value_traits<Int>::decode_checked(text);
    PGKIT_FUZZ_CHECK(
        decoded.has_value() == checked.has_value() && (!checked || *decoded == *checked),
        std::string{type_name} + ": decode and decode_checked disagree for " + printable(text));
}

void check_integers_agree(std::string_view text,
                          const pgkit::result<std::int16_t>& i16,
                          const pgkit::result<std::int32_t>& i32,
                          const pgkit::result<std::int64_t>& i64) {
    const auto where = [&](std::string_view what) {
        return std::string{what} + " for " + printable(text);
    };
    if (i16) {
        PGKIT_FUZZ_CHECK(i32 && *i32 == *i16, where("int16 accepts, int32 disagrees"));
    }
    if (i32) {
        PGKIT_FUZZ_CHECK(i64 && *i64 == *i32, where("int32 accepts, int64 disagrees"));
    }
    if (i64) {
        PGKIT_FUZZ_CHECK(i32.has_value() == (*i64 >= INT32_MIN && *i64 <= INT32_MAX),
                         where("int32 and int64 disagree on range"));
        PGKIT_FUZZ_CHECK(i16.has_value() == (*i64 >= INT16_MIN && *i64 <= INT16_MAX),
                         where("int16 and int64 disagree on range"));
        const auto as_numeric = pgkit::numeric::parse(text);
        PGKIT_FUZZ_CHECK(
            as_numeric && *as_numeric == pgkit::numeric{*i64} && as_numeric->scale() == 0,
            where("int64 accepts, numeric disagrees"));
    }
}

/// Column types the binary oracles read fields as: every type a binary decoder knows, and two
/// it does not (numeric, and no type).
constexpr std::array<std::uint32_t, 14> binary_column_types{pgkit::detail::type_oid::boolean,
                                                            pgkit::detail::type_oid::name,
                                                            pgkit::detail::type_oid::int8,
                                                            pgkit::detail::type_oid::int2,
                                                            pgkit::detail::type_oid::int4,
                                                            pgkit::detail::type_oid::text,
                                                            pgkit::detail::type_oid::float4,
                                                            pgkit::detail::type_oid::float8,
                                                            pgkit::detail::type_oid::bpchar,
                                                            pgkit::detail::type_oid::varchar,
                                                            pgkit::detail::type_oid::timestamp,
                                                            pgkit::detail::type_oid::timestamptz,
                                                            1700,
                                                            0};

/// The text value_traits<Value> prints for the big-endian field `bytes` holding a Value (the
/// integer's decimal, the float's shortest exact form: what the server prints for it); nullopt
/// for a field of another length.
template <class Value>
std::optional<std::string> printed(std::string_view bytes) {
    using raw =
        std::conditional_t<sizeof(Value) == 2, std::uint16_t,
                           std::conditional_t<sizeof(Value) == 4, std::uint32_t, std::uint64_t>>;
    if (bytes.size() != sizeof(Value)) {
        return std::nullopt;
    }
    std::string out;
    const auto value = std::bit_cast<Value>(pgkit::detail::load_big_endian<raw>(bytes.data()));
    if (!pgkit::value_traits<Value>::encode(value, out)) {
        return std::nullopt;
    }
    return out;
}

/// The text the server prints (with pgkit's session settings) for the value whose binary form is
/// `bytes` in a column of type `type`; nullopt when the bytes are not such a value, or when the
/// value has no text pgkit's decoders could read (a timestamp beyond 64-bit microseconds since
/// 1970 or before 4714-11-24 BC: then every binary decode must refuse it too).
std::optional<std::string> server_text(std::string_view bytes, std::uint32_t type) {
    namespace oid = pgkit::detail::type_oid;
    using pgkit::detail::load_big_endian;
    std::string out;
    switch (type) {
        case oid::boolean:
            if (bytes.size() != 1 || (bytes[0] != 0 && bytes[0] != 1)) {
                return std::nullopt;
            }
            return std::string{bytes[0] == 1 ? "t" : "f"};
        case oid::int2:
            return printed<std::int16_t>(bytes);
        case oid::int4:
            return printed<std::int32_t>(bytes);
        case oid::int8:
            return printed<std::int64_t>(bytes);
        case oid::float4:
            return printed<float>(bytes);
        case oid::float8:
            return printed<double>(bytes);
        case oid::text:
        case oid::varchar:
        case oid::bpchar:
        case oid::name:
            return std::string{bytes};
        case oid::timestamp:
        case oid::timestamptz: {
            if (bytes.size() != 8) {
                return std::nullopt;
            }
            const auto since_2000 =
                static_cast<std::int64_t>(load_big_endian<std::uint64_t>(bytes.data()));
            if (since_2000 == INT64_MAX) {
                return std::string{"infinity"};
            }
            if (since_2000 == INT64_MIN) {
                return std::string{"-infinity"};
            }
            constexpr std::int64_t epoch_2000 = 946'684'800'000'000;
            if (since_2000 > INT64_MAX - epoch_2000 ||
                since_2000 + epoch_2000 < pgkit::detail::pg_first_micros) {
                return std::nullopt;
            }
            pgkit::detail::append_timestamp(since_2000 + epoch_2000, out);
            return out;
        }
        default:
            return std::nullopt;
    }
}

/// The binary oracles for T on `bytes` as a field of column type `type` (see the file comment).
template <class T>
void check_binary(std::string_view bytes, std::uint32_t type, std::string_view type_name) {
    using traits = pgkit::value_traits<T>;
    const auto where = [&](std::string_view what) {
        return std::string{type_name} + " from binary type " + std::to_string(type) + ": " +
               std::string{what} + " for " + printable(bytes);
    };
    const auto binary = traits::decode_binary(bytes, type);
    if (!binary) {
        PGKIT_FUZZ_CHECK(binary.error().code() == pgkit::errc::type_mismatch,
                         where("failed with another code than type_mismatch"));
    }
    if (!traits::reads_binary(type)) {
        PGKIT_FUZZ_CHECK(!binary, where("decoded a type reads_binary refuses"));
        return;
    }
    const auto text = server_text(bytes, type);
    if (!text) {
        PGKIT_FUZZ_CHECK(!binary, where("decoded bytes that are no value of the type"));
        return;
    }
    const auto from_text = traits::decode(*text);
    PGKIT_FUZZ_CHECK(from_text.has_value() == binary.has_value(),
                     where("binary and text (" + printable(*text) + ") disagree on success"));
    if (binary) {
        PGKIT_FUZZ_CHECK(same(*binary, *from_text),
                         where("binary and text (" + printable(*text) + ") give other values"));
    }
}

void check_binary_decoders(std::string_view bytes) {
    for (const std::uint32_t type : binary_column_types) {
        check_binary<bool>(bytes, type, "bool");
        check_binary<std::int16_t>(bytes, type, "int16");
        check_binary<std::int32_t>(bytes, type, "int32");
        check_binary<std::int64_t>(bytes, type, "int64");
        check_binary<float>(bytes, type, "float");
        check_binary<double>(bytes, type, "double");
        check_binary<std::string>(bytes, type, "text");
        check_binary<micro_time>(bytes, type, "sys_time<microseconds>");
        check_binary<nano_time>(bytes, type, "sys_time<nanoseconds>");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text{reinterpret_cast<const char*>(data), size};

    (void)round_trip<bool>(text, "bool");
    const auto i16 = round_trip<std::int16_t>(text, "int16");
    const auto i32 = round_trip<std::int32_t>(text, "int32");
    const auto i64 = round_trip<std::int64_t>(text, "int64");
    check_integers_agree(text, i16, i32, i64);
    check_fast_path_agrees(text, i16, "int16");
    check_fast_path_agrees(text, i32, "int32");
    check_fast_path_agrees(text, i64, "int64");
    (void)round_trip<float>(text, "float");
    (void)round_trip<double>(text, "double");
    (void)round_trip<std::string>(text, "text");
    (void)round_trip<std::string_view>(text, "text view");
    (void)round_trip<pgkit::json>(text, "json");
    (void)round_trip<bytes>(text, "bytea");
    (void)round_trip<pgkit::numeric>(text, "numeric");
    (void)round_trip<fuzz_types::mood>(text, "enum");
    (void)round_trip<std::chrono::year_month_day>(text, "date");

    if (const auto id = round_trip<pgkit::uuid>(text, "uuid")) {
        PGKIT_FUZZ_CHECK(id->to_string() == lowercase(text),
                         "uuid: " + id->to_string() + " for " + printable(text));
    }
    const auto micros = round_trip<micro_time>(text, "sys_time<microseconds>");
    if (const auto nanos = round_trip<nano_time>(text, "sys_time<nanoseconds>")) {
        const bool infinite = *nanos == nano_time::max() || *nanos == nano_time::min();
        PGKIT_FUZZ_CHECK(
            micros && (infinite ? (*nanos == nano_time::max()) == (*micros == micro_time::max())
                                : std::chrono::time_point_cast<std::chrono::microseconds>(*nanos) ==
                                      *micros),
            "sys_time<nanoseconds> and sys_time<microseconds> disagree for " + printable(text));
    }

    (void)round_trip<std::vector<bool>>(text, "bool[]");
    round_trip_arrays<std::int16_t>(text, "int16");
    round_trip_arrays<std::int32_t>(text, "int32");
    round_trip_arrays<std::int64_t>(text, "int64");
    round_trip_arrays<float>(text, "float");
    round_trip_arrays<double>(text, "double");
    round_trip_arrays<std::string>(text, "text");
    round_trip_arrays<pgkit::json>(text, "json");
    round_trip_arrays<bytes>(text, "bytea");
    round_trip_arrays<pgkit::numeric>(text, "numeric");
    round_trip_arrays<pgkit::uuid>(text, "uuid");
    round_trip_arrays<fuzz_types::mood>(text, "enum");
    round_trip_arrays<std::chrono::year_month_day>(text, "date");
    round_trip_arrays<micro_time>(text, "sys_time<microseconds>");
    round_trip_arrays<nano_time>(text, "sys_time<nanoseconds>");

    check_binary_decoders(text);
    for (const std::size_t width : {1, 2, 4, 8}) {
        if (text.size() > width) {
            check_binary_decoders(text.substr(0, width));
        }
    }
    return 0;
}
