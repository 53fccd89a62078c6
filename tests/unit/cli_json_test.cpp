// The pgkit tool's JSON writer (tools/pgkit/json_writer.hpp): escaping and document structure.
#include "json_writer.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using pgkit::cli::json_quote;
using pgkit::cli::json_writer;

TEST_CASE("cli json: strings are escaped per RFC 8259") {
    CHECK(json_quote("plain") == R"("plain")");
    CHECK(json_quote(R"(say "hi")") == R"("say \"hi\"")");
    CHECK(json_quote(R"(C:\dir\file)") == R"("C:\\dir\\file")");
    CHECK(json_quote("a\nb\rc\td") == R"("a\nb\rc\td")");
    CHECK(json_quote(std::string{"nul\0bell\x07"
                                 "esc\x1b"
                                 "del\x7f",
                                 17}) == R"("nul\u0000bell\u0007esc\u001bdel\u007f")");
    // Valid UTF-8 passes through as it is.
    CHECK(json_quote("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x90\x98") ==
          "\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x90\x98\"");
    // Bytes that are not UTF-8 (a lone continuation byte, a truncated sequence, an overlong
    // form, a surrogate) become U+FFFD, so the document stays valid.
    CHECK(json_quote("a\x80z") == R"("a\ufffdz")");
    CHECK(json_quote("\xE2\x82") == R"("\ufffd\ufffd")");
    CHECK(json_quote("\xC0\xAF") == R"("\ufffd\ufffd")");
    CHECK(json_quote("\xED\xA0\x80") == R"("\ufffd\ufffd\ufffd")");
    CHECK(json_quote("") == R"("")");
}

TEST_CASE("cli json: a document is written in order with separators") {
    json_writer out;
    out.begin_object()
        .key("name")
        .value("x\"y")
        .key("n")
        .value(std::int64_t{-3})
        .key("u")
        .value(std::uint64_t{7})
        .key("ok")
        .value(true)
        .key("none")
        .value(std::optional<std::int64_t>{})
        .key("some")
        .value(std::optional<std::int64_t>{4})
        .key("list")
        .value(std::vector<std::string>{"a", "b"})
        .key("empty")
        .begin_array()
        .end_array()
        .key("objects")
        .begin_array()
        .begin_object()
        .key("k")
        .value(1)
        .end_object()
        .begin_object()
        .end_object()
        .end_array()
        .end_object();
    CHECK(out.str() ==
          "{\"name\":\"x\\\"y\",\"n\":-3,\"u\":7,\"ok\":true,\"none\":null,\"some\":4,"
          "\"list\":[\"a\",\"b\"],\"empty\":[],\"objects\":[{\"k\":1},{}]}\n");
}
