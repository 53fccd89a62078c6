#include "pgkit/types/json.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace std::string_literals;

TEST_SUITE("types") {
    TEST_CASE("json: holds the text it was given") {
        const pgkit::json doc{R"({"a": [1, 2, {"b": null}]})"};
        CHECK(doc.text() == R"({"a": [1, 2, {"b": null}]})");
        CHECK(pgkit::json{}.text() == "null");
        CHECK(pgkit::json{"\"caf\xc3\xa9\""}.text() == "\"caf\xc3\xa9\"");
        CHECK(std::move(pgkit::json{"[1]"}).text() == "[1]");
    }

    TEST_CASE("json: equality compares the text, not the document") {
        CHECK(pgkit::json{"[1,2]"} == pgkit::json{"[1,2]"});
        CHECK(pgkit::json{"[1,2]"} != pgkit::json{"[1, 2]"});
    }

    TEST_CASE("json: value_traits passes the text through both ways") {
        static_assert(pgkit::mappable<pgkit::json>);
        CHECK(pgkit::value_traits<pgkit::json>::pg_type == "jsonb");
        std::string out;
        REQUIRE(pgkit::value_traits<pgkit::json>::encode(pgkit::json{R"({"k":"v"})"}, out));
        CHECK(out == R"({"k":"v"})");
        const auto decoded = pgkit::value_traits<pgkit::json>::decode(R"({"k": "v"})");
        REQUIRE(decoded.has_value());
        CHECK(decoded->text() == R"({"k": "v"})");
        // Not validated here: the server does that.
        CHECK(pgkit::value_traits<pgkit::json>::decode("not json").has_value());
    }

    TEST_CASE("json: a NUL byte cannot be sent") {
        std::string out = "kept";
        const auto encoded =
            pgkit::value_traits<pgkit::json>::encode(pgkit::json{"\"a\0b\""s}, out);
        REQUIRE_FALSE(encoded.has_value());
        CHECK(encoded.error().code() == pgkit::errc::invalid_argument);
    }
}
