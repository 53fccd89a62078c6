#pragma once

/// pgkit::numeric: an exact decimal, mapped to PostgreSQL's numeric type.

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgkit {

/// An exact decimal number with a display scale, like PostgreSQL's numeric: a sign, a decimal
/// coefficient and a scale (the number of digits after the decimal point), or one of the special
/// values NaN, Infinity and -Infinity. Arithmetic is not provided; the type carries values to and
/// from the server without any rounding (there is no floating point inside).
///
/// The scale is kept: "1.50" prints back as "1.50". Comparison is by value: 1.5 == 1.50,
/// -0 == 0; NaN equals NaN and is greater than every other value, as in PostgreSQL. There is no
/// negative zero: "-0.00" is stored (and printed) as "0.00".
class numeric {
  public:
    /// Zero, scale 0.
    numeric() = default;
    /// The integer `value`, scale 0.
    explicit numeric(std::int64_t value);

    /// Parses `[+-]digits[.digits][e[+-]digits]` (".5" and "5." included), "NaN", "Infinity",
    /// "-Infinity", "+Infinity", "inf" and "-inf" (special values case-insensitively). An
    /// exponent is normalised away as PostgreSQL does: "1.5e3" is 1500 (scale 0), "1.50e-1" is
    /// 0.150 (scale 3). Leading zeros are dropped, trailing fractional zeros kept. No whitespace.
    /// Fails with errc::type_mismatch on malformed text and on values beyond what PostgreSQL's
    /// numeric can store (more than 131072 digits before the point or 16383 after).
    [[nodiscard]] static result<numeric> parse(std::string_view text);

    [[nodiscard]] static numeric nan() noexcept { return numeric{kind::nan, false}; }
    [[nodiscard]] static numeric infinity() noexcept {
        return numeric{kind::positive_infinity, false};
    }
    [[nodiscard]] static numeric negative_infinity() noexcept {
        return numeric{kind::negative_infinity, true};
    }

    /// PostgreSQL's canonical text: "-12.340", "0.001", "NaN", "Infinity", "-Infinity". Never
    /// uses an exponent.
    [[nodiscard]] std::string to_string() const;

    [[nodiscard]] bool is_nan() const noexcept { return kind_ == kind::nan; }
    /// True for Infinity and -Infinity.
    [[nodiscard]] bool is_infinite() const noexcept {
        return kind_ == kind::positive_infinity || kind_ == kind::negative_infinity;
    }
    [[nodiscard]] bool is_finite() const noexcept { return kind_ == kind::finite; }
    /// True for values below zero, -Infinity included (never for zero or NaN).
    [[nodiscard]] bool is_negative() const noexcept { return negative_; }
    [[nodiscard]] bool is_zero() const noexcept { return is_finite() && digits_.empty(); }
    /// Digits after the decimal point (0 for NaN and the infinities).
    [[nodiscard]] int scale() const noexcept { return scale_; }

    /// The nearest double (correctly rounded). Approximate by nature: 0.1 is not a double.
    /// Values beyond double's range become +/-infinity, values too small for it +/-0.0; NaN and
    /// the infinities map to their double counterparts.
    [[nodiscard]] double to_double() const;

    friend bool operator==(const numeric& a, const numeric& b) noexcept {
        return compare(a, b) == 0;
    }
    friend std::weak_ordering operator<=>(const numeric& a, const numeric& b) noexcept {
        return compare(a, b) <=> 0;
    }

  private:
    enum class kind : std::uint8_t { finite, nan, positive_infinity, negative_infinity };
    numeric(kind k, bool negative) noexcept : kind_(k), negative_(negative) {}
    /// -1, 0 or 1.
    static int compare(const numeric& a, const numeric& b) noexcept;

    kind kind_ = kind::finite;
    bool negative_ = false;
    int scale_ = 0;
    /// The coefficient's decimal digits without leading zeros; empty for zero. The value is
    /// (negative_ ? -1 : 1) * digits_ * 10^-scale_.
    std::string digits_;
};

/// numeric <-> numeric, exactly. Decoding fails with errc::type_mismatch on malformed text.
template <>
struct value_traits<numeric> {
    static constexpr std::string_view pg_type = "numeric";
    static result<void> encode(const numeric& value, std::string& out);
    static result<numeric> decode(std::string_view text);
};

}  // namespace pgkit
