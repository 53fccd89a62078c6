#include "driver/session_check.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

TEST_SUITE("session check") {
    TEST_CASE("session check: the guard's seed is a fresh decimal in (-1 1)") {
        std::set<std::string> seen;
        bool negative = false;
        bool positive = false;
        for (int i = 0; i < 200; ++i) {
            char text[pgkit::detail::fresh_seed_chars];
            pgkit::detail::write_fresh_seed(text);
            const std::string_view seed{text};
            CAPTURE(seed);
            const bool minus = seed.starts_with('-');
            const std::string_view digits = seed.substr(minus ? 3 : 2);
            CHECK(seed.substr(minus ? 1 : 0, 2) == "0.");
            CHECK(digits.size() == 17);
            CHECK(digits.find_first_not_of("0123456789") == std::string_view::npos);
            char* end = nullptr;
            const double value = std::strtod(text, &end);
            CHECK(end == text + seed.size());
            CHECK(value > -1.0);
            CHECK(value < 1.0);
            negative = negative || minus;
            positive = positive || !minus;
            seen.emplace(seed);
        }
        // 63 random bits a draw: a repeat or a missing sign in 200 draws would be a broken source.
        CHECK(seen.size() == 200);
        CHECK(negative);
        CHECK(positive);
    }
}
