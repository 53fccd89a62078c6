#pragma once

/// pgkit::uuid, mapped to PostgreSQL's uuid type.

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <array>
#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace pgkit {

/// A 128-bit UUID as 16 bytes in network (big-endian) order, the order PostgreSQL compares in.
/// A default-constructed uuid is the nil UUID (all zero bytes).
class uuid {
  public:
    using bytes_type = std::array<std::byte, 16>;

    constexpr uuid() noexcept = default;
    constexpr explicit uuid(const bytes_type& bytes) noexcept : bytes_(bytes) {}

    /// Parses the canonical 8-4-4-4-12 form ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), hex digits
    /// in either case. Anything else (braces, missing hyphens, wrong length, non-hex digits)
    /// fails with errc::type_mismatch.
    [[nodiscard]] static result<uuid> parse(std::string_view text);

    /// The canonical lowercase form, as PostgreSQL prints it.
    [[nodiscard]] std::string to_string() const;

    [[nodiscard]] constexpr const bytes_type& bytes() const noexcept { return bytes_; }
    [[nodiscard]] constexpr bool is_nil() const noexcept { return *this == uuid{}; }

    /// Byte-wise order: the same order as PostgreSQL's uuid comparison.
    friend constexpr auto operator<=>(const uuid&, const uuid&) noexcept = default;
    friend constexpr bool operator==(const uuid&, const uuid&) noexcept = default;

  private:
    bytes_type bytes_{};
};

/// uuid <-> uuid. Decoding fails with errc::type_mismatch unless the text is a canonical UUID.
template <>
struct value_traits<uuid> {
    static constexpr std::string_view pg_type = "uuid";
    static result<void> encode(const uuid& value, std::string& out);
    static result<uuid> decode(std::string_view text);
};

}  // namespace pgkit

/// Hashes all 16 bytes, so uuids can key unordered containers.
template <>
struct std::hash<pgkit::uuid> {
    [[nodiscard]] std::size_t operator()(const pgkit::uuid& value) const noexcept;
};
