#pragma once

/// Reading fields the server sent in PostgreSQL's binary format: the built-in type OIDs the
/// binary decoders know (PostgreSQL's pg_type.dat) and big-endian loads. Internal to pgkit.

#include "pgkit/error.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>

namespace pgkit::detail {

/// OIDs of the built-in types whose binary form pgkit reads.
namespace type_oid {
inline constexpr std::uint32_t boolean = 16;
inline constexpr std::uint32_t name = 19;
inline constexpr std::uint32_t int8 = 20;
inline constexpr std::uint32_t int2 = 21;
inline constexpr std::uint32_t int4 = 23;
inline constexpr std::uint32_t text = 25;
inline constexpr std::uint32_t float4 = 700;
inline constexpr std::uint32_t float8 = 701;
inline constexpr std::uint32_t bpchar = 1042;
inline constexpr std::uint32_t varchar = 1043;
inline constexpr std::uint32_t timestamp = 1114;
inline constexpr std::uint32_t timestamptz = 1184;
}  // namespace type_oid

/// The unsigned integer stored big-endian (network order) at `bytes`, which holds
/// sizeof(UInt) bytes.
template <class UInt>
[[nodiscard]] inline UInt load_big_endian(const char* bytes) noexcept {
    static_assert(sizeof(UInt) == 2 || sizeof(UInt) == 4 || sizeof(UInt) == 8);
    UInt value;
    std::memcpy(&value, bytes, sizeof value);
    if constexpr (std::endian::native == std::endian::little) {
        if constexpr (sizeof(UInt) == 2) {
            value = static_cast<UInt>(__builtin_bswap16(value));
        } else if constexpr (sizeof(UInt) == 4) {
            value = __builtin_bswap32(value);
        } else {
            value = __builtin_bswap64(value);
        }
    }
    return value;
}

/// type_mismatch: a binary field of column type `type`, `length` bytes long, that the C++ type
/// `cpp_type` does not read.
[[nodiscard]] error binary_field_error(std::uint32_t type,
                                       std::size_t length,
                                       std::string_view cpp_type);
/// type_mismatch: an integer the C++ type `cpp_type` cannot hold.
[[nodiscard]] error integer_out_of_range(std::int64_t value, std::string_view cpp_type);

/// Whether an integer member reads the binary form of column type `type`: int2, int4 and int8
/// (a value out of the member's range is then type_mismatch, as in text).
[[nodiscard]] constexpr bool reads_binary_integer(std::uint32_t type) noexcept {
    return type == type_oid::int2 || type == type_oid::int4 || type == type_oid::int8;
}

/// An int2, int4 or int8 field in binary format, as Int; type_mismatch for another type, a
/// field of the wrong length or a value out of Int's range.
template <class Int>
[[nodiscard]] result<Int> decode_binary_integer(std::string_view bytes,
                                                std::uint32_t type,
                                                std::string_view cpp_type) {
    std::int64_t value = 0;
    if (type == type_oid::int8 && bytes.size() == 8) {
        value = static_cast<std::int64_t>(load_big_endian<std::uint64_t>(bytes.data()));
    } else if (type == type_oid::int4 && bytes.size() == 4) {
        value = static_cast<std::int32_t>(load_big_endian<std::uint32_t>(bytes.data()));
    } else if (type == type_oid::int2 && bytes.size() == 2) {
        value = static_cast<std::int16_t>(load_big_endian<std::uint16_t>(bytes.data()));
    } else {
        return tl::unexpected(binary_field_error(type, bytes.size(), cpp_type));
    }
    if constexpr (sizeof(Int) < sizeof(std::int64_t)) {
        if (value < std::numeric_limits<Int>::min() || value > std::numeric_limits<Int>::max()) {
            return tl::unexpected(integer_out_of_range(value, cpp_type));
        }
    }
    return static_cast<Int>(value);
}

/// A float4 (Float = float) or float8 (double) field in binary format, bit for bit;
/// type_mismatch for another column type than `type_of_float` or a field of the wrong length.
template <class Float>
[[nodiscard]] result<Float> decode_binary_float(std::string_view bytes,
                                                std::uint32_t type,
                                                std::uint32_t type_of_float) {
    using raw = std::conditional_t<sizeof(Float) == 4, std::uint32_t, std::uint64_t>;
    if (type != type_of_float || bytes.size() != sizeof(Float)) {
        return tl::unexpected(
            binary_field_error(type, bytes.size(), sizeof(Float) == 4 ? "float" : "double"));
    }
    return std::bit_cast<Float>(load_big_endian<raw>(bytes.data()));
}

}  // namespace pgkit::detail
