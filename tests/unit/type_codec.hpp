#pragma once

// Test helpers: run one value_traits encode or decode and fail the test case on the wrong outcome.

#include "pgkit/value_traits.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

namespace pgkit::test {

template <class T>
std::string encode(const T& value) {
    std::string out;
    auto encoded = pgkit::value_traits<T>::encode(value, out);
    REQUIRE_MESSAGE(encoded.has_value(), encoded.error().message());
    return out;
}

template <class T>
T decode(std::string_view text) {
    auto decoded = pgkit::value_traits<T>::decode(text);
    REQUIRE_MESSAGE(decoded.has_value(), text, ": ", decoded.error().message());
    return *decoded;
}

/// The error decoding `text` must produce.
template <class T>
pgkit::error decode_error(std::string_view text) {
    auto decoded = pgkit::value_traits<T>::decode(text);
    REQUIRE_FALSE_MESSAGE(decoded.has_value(), text);
    return decoded.error();
}

}  // namespace pgkit::test
