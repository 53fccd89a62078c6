#include "pgkit/types/numeric.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <system_error>

namespace pgkit {
namespace {

using detail::excerpt;
using detail::iequals;
using detail::is_digit;

/// PostgreSQL's numeric capacity: 131072 digits before the decimal point, 16383 after.
constexpr std::int64_t max_integer_digits = 131072;
constexpr std::int64_t max_scale = 16383;
/// Exponents beyond this cannot produce a storable value (or only zero): rejected before any
/// arithmetic so huge exponents cannot overflow or allocate.
constexpr std::int64_t max_exponent = 1'000'000;

tl::unexpected<error> malformed(std::string_view text) {
    return make_error(errc::type_mismatch,
                      fmt::format("'{}' is not a numeric value", excerpt(text)));
}

}  // namespace

numeric::numeric(std::int64_t value) : negative_(value < 0) {
    // The magnitude as unsigned, so INT64_MIN is fine.
    const std::uint64_t magnitude =
        negative_ ? 0 - static_cast<std::uint64_t>(value) : static_cast<std::uint64_t>(value);
    if (magnitude != 0) {
        char buffer[24];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, magnitude);
        digits_.assign(buffer, end);
    }
}

result<numeric> numeric::parse(std::string_view text) {
    if (iequals(text, "nan")) {
        return nan();
    }
    std::string_view rest = text;
    bool negative = false;
    if (!rest.empty() && (rest.front() == '+' || rest.front() == '-')) {
        negative = rest.front() == '-';
        rest.remove_prefix(1);
    }
    if (iequals(rest, "infinity") || iequals(rest, "inf")) {
        return negative ? negative_infinity() : infinity();
    }

    std::size_t pos = 0;
    const std::size_t integer_begin = pos;
    while (pos < rest.size() && is_digit(rest[pos])) {
        ++pos;
    }
    const std::string_view integer_part = rest.substr(integer_begin, pos - integer_begin);
    std::string_view fraction_part;
    if (pos < rest.size() && rest[pos] == '.') {
        const std::size_t fraction_begin = ++pos;
        while (pos < rest.size() && is_digit(rest[pos])) {
            ++pos;
        }
        fraction_part = rest.substr(fraction_begin, pos - fraction_begin);
    }
    if (integer_part.empty() && fraction_part.empty()) {
        return malformed(text);
    }
    std::int64_t exponent = 0;
    if (pos < rest.size() && (rest[pos] == 'e' || rest[pos] == 'E')) {
        ++pos;
        bool exponent_negative = false;
        if (pos < rest.size() && (rest[pos] == '+' || rest[pos] == '-')) {
            exponent_negative = rest[pos] == '-';
            ++pos;
        }
        if (pos == rest.size() || !is_digit(rest[pos])) {
            return malformed(text);
        }
        while (pos < rest.size() && is_digit(rest[pos])) {
            exponent = exponent * 10 + (rest[pos] - '0');
            if (exponent > max_exponent) {
                return make_error(
                    errc::type_mismatch,
                    fmt::format("the exponent of '{}' is out of numeric's range", excerpt(text)));
            }
            ++pos;
        }
        if (exponent_negative) {
            exponent = -exponent;
        }
    }
    if (pos != rest.size()) {
        return malformed(text);
    }

    // value = coefficient * 10^-(fraction digits - exponent)
    std::string coefficient;
    coefficient.reserve(integer_part.size() + fraction_part.size());
    coefficient.append(integer_part);
    coefficient.append(fraction_part);
    const auto first_nonzero = coefficient.find_first_not_of('0');
    coefficient.erase(0, std::min(first_nonzero, coefficient.size()));

    std::int64_t scale = static_cast<std::int64_t>(fraction_part.size()) - exponent;
    std::int64_t padding = 0;  // zeros appended when the exponent moves the point right
    if (scale < 0) {
        padding = -scale;
        scale = 0;
    }
    if (scale > max_scale) {
        return make_error(errc::type_mismatch,
                          fmt::format("'{}' has more than {} digits after the decimal point, "
                                      "beyond numeric's range",
                                      excerpt(text), max_scale));
    }
    numeric value;
    value.scale_ = static_cast<int>(scale);
    if (!coefficient.empty()) {
        const std::int64_t integer_digits =
            static_cast<std::int64_t>(coefficient.size()) + padding - scale;
        if (integer_digits > max_integer_digits) {
            return make_error(errc::type_mismatch,
                              fmt::format("'{}' has more than {} digits before the decimal "
                                          "point, beyond numeric's range",
                                          excerpt(text), max_integer_digits));
        }
        coefficient.append(static_cast<std::size_t>(padding), '0');
        value.digits_ = std::move(coefficient);
        value.negative_ = negative;
    }
    return value;
}

std::string numeric::to_string() const {
    switch (kind_) {
        case kind::nan:
            return "NaN";
        case kind::positive_infinity:
            return "Infinity";
        case kind::negative_infinity:
            return "-Infinity";
        case kind::finite:
            break;
    }
    const std::string_view digits = digits_.empty() ? std::string_view{"0"} : digits_;
    const auto scale = static_cast<std::size_t>(scale_);
    std::string out;
    out.reserve(digits.size() + scale + 3);
    if (negative_) {
        out += '-';
    }
    if (digits.size() > scale) {
        out.append(digits.substr(0, digits.size() - scale));
        if (scale > 0) {
            out += '.';
            out.append(digits.substr(digits.size() - scale));
        }
    } else {
        out += '0';
        if (scale > 0) {
            out += '.';
            out.append(scale - digits.size(), '0');
            out.append(digits);
        }
    }
    return out;
}

double numeric::to_double() const {
    switch (kind_) {
        case kind::nan:
            return std::numeric_limits<double>::quiet_NaN();
        case kind::positive_infinity:
            return std::numeric_limits<double>::infinity();
        case kind::negative_infinity:
            return -std::numeric_limits<double>::infinity();
        case kind::finite:
            break;
    }
    if (digits_.empty()) {
        return 0.0;
    }
    const std::string text = to_string();
    double value = 0.0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range) {
        // Either too large (digits before the point) or too small for a double.
        const bool large = static_cast<int>(digits_.size()) > scale_;
        value = large ? std::numeric_limits<double>::infinity() : 0.0;
        return negative_ ? -value : value;
    }
    return value;
}

int numeric::compare(const numeric& a, const numeric& b) noexcept {
    // -Infinity < finite < Infinity < NaN; NaN equals NaN (PostgreSQL's order).
    auto rank = [](const numeric& n) {
        switch (n.kind_) {
            case kind::negative_infinity:
                return 0;
            case kind::finite:
                return 1;
            case kind::positive_infinity:
                return 2;
            case kind::nan:
                return 3;
        }
        return 3;
    };
    const int rank_a = rank(a);
    const int rank_b = rank(b);
    if (rank_a != rank_b) {
        return rank_a < rank_b ? -1 : 1;
    }
    if (!a.is_finite()) {
        return 0;
    }
    auto sign = [](const numeric& n) { return n.digits_.empty() ? 0 : (n.negative_ ? -1 : 1); };
    const int sign_a = sign(a);
    const int sign_b = sign(b);
    if (sign_a != sign_b) {
        return sign_a < sign_b ? -1 : 1;
    }
    if (sign_a == 0) {
        return 0;
    }
    // Same sign, both nonzero: compare magnitudes. Without leading zeros, the number of digits
    // before the point decides first; then the digits, the shorter padded with zeros.
    int magnitude = 0;
    const long integer_a = static_cast<long>(a.digits_.size()) - a.scale_;
    const long integer_b = static_cast<long>(b.digits_.size()) - b.scale_;
    if (integer_a != integer_b) {
        magnitude = integer_a < integer_b ? -1 : 1;
    } else {
        const std::size_t length = std::max(a.digits_.size(), b.digits_.size());
        for (std::size_t i = 0; i < length && magnitude == 0; ++i) {
            const char da = i < a.digits_.size() ? a.digits_[i] : '0';
            const char db = i < b.digits_.size() ? b.digits_[i] : '0';
            if (da != db) {
                magnitude = da < db ? -1 : 1;
            }
        }
    }
    return sign_a > 0 ? magnitude : -magnitude;
}

result<void> value_traits<numeric>::encode(const numeric& value, std::string& out) {
    out += value.to_string();
    return success();
}

result<numeric> value_traits<numeric>::decode(std::string_view text) {
    return numeric::parse(text);
}

}  // namespace pgkit
