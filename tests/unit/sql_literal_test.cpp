// String literals written into SQL text (COPY cannot take parameters): the quoter, read back by
// the one SQL lexer as exactly one string token under either standard_conforming_strings, and
// $n replaced only where the lexer sees a parameter. No server needed.
#include "pgkit/connection.hpp"

#include "sql/lexer.hpp"
#include "sql/literal.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

using pgkit::errc;
using pgkit::detail::sql::escape_literal;
using pgkit::detail::sql::inline_parameters;
using pgkit::detail::sql::lexer;
using pgkit::detail::sql::token_kind;

TEST_CASE("sql literal: quotes and backslashes are doubled inside E'...', one string token") {
    for (const std::string_view value :
         {std::string_view{""}, std::string_view{"plain"}, std::string_view{"o'k"},
          std::string_view{"\\"}, std::string_view{"\\'"}, std::string_view{"''\\\\'"},
          std::string_view{"'; DROP TABLE t; --"}, std::string_view{"$1 $$ /* -- */"},
          std::string_view{"\xC3\xA9\xF0\x9F\x98\x80"}}) {
        const std::string literal = escape_literal(value);
        for (const bool conforming : {true, false}) {
            lexer tokens{literal, {.standard_conforming_strings = conforming}};
            auto only = tokens.next();
            REQUIRE(only);
            CHECK(only->kind == token_kind::string);
            CHECK(only->end == literal.size());
            CHECK_FALSE(tokens.next());
        }
    }
    CHECK(escape_literal("a'b\\c") == "E'a''b\\\\c'");
}

TEST_CASE("sql literal: inline_parameters replaces only real parameter tokens") {
    pgkit::parameters params{std::string{"it's"}, std::int64_t{5}, std::optional<std::int64_t>{}};
    auto sql = inline_parameters(
        "SELECT $1, '$1', \"$2\", col$2, $$ $3 $$, /* $3 */ $2::int8 -$2, $3 -- $1\n", params);
    REQUIRE(sql);
    CHECK(*sql ==
          "SELECT  E'it''s' , '$1', \"$2\", col$2, $$ $3 $$, /* $3 */  E'5' ::int8 - E'5' ,  "
          "NULL  -- $1\n");

    CHECK(inline_parameters("SELECT $2", params).error().code() == errc::invalid_argument);
    CHECK(inline_parameters("SELECT $1, $4", params).error().code() == errc::invalid_argument);
    CHECK(inline_parameters("SELECT $1, $2", params).error().code() == errc::invalid_argument);
    CHECK(inline_parameters("SELECT '$1", params).error().code() == errc::invalid_argument);
    CHECK(inline_parameters("SELECT 1", pgkit::parameters{}).value() == "SELECT 1");
    pgkit::parameters bad{std::string{"nul\0byte", 8}};
    CHECK(inline_parameters("SELECT $1", bad).error().code() == errc::invalid_argument);
}
