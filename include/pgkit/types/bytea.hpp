#pragma once

/// Binary data: std::vector<std::byte> (and, for parameters, std::span<const std::byte>) mapped
/// to PostgreSQL's bytea.

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

/// Bytes <-> bytea. Encoded in hex format (`\x0a1b...`). Decoding accepts the hex format (what
/// pgkit's sessions receive, bytea_output=hex; whitespace between digit pairs allowed) and the
/// legacy escape format (`abc\000\\`); anything else fails with errc::type_mismatch.
template <>
struct value_traits<std::vector<std::byte>> {
    static constexpr std::string_view pg_type = "bytea";
    static result<void> encode(std::span<const std::byte> value, std::string& out);
    static result<std::vector<std::byte>> decode(std::string_view text);
};

/// Parameter-only view of bytes, encoded like std::vector<std::byte>.
template <>
struct value_traits<std::span<const std::byte>> {
    static constexpr std::string_view pg_type = "bytea";
    static result<void> encode(std::span<const std::byte> value, std::string& out);
};

}  // namespace pgkit
