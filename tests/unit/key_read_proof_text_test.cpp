// The text of the proof a key read carries (driver/session_check.hpp, "Key reads"): where it
// joins the read's text, which parameters it takes, and how its failure is told apart.
#include "driver/session_check.hpp"
#include "sql/key_read_shape.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

TEST_SUITE("session check") {
    TEST_CASE("key-read proof: appended to the WHERE clause, on the parameters after the text's") {
        const auto sql = std::string_view{"SELECT id FROM t WHERE id = ANY($2) AND k = $1 -- c\n;"};
        const auto shape = pgkit::detail::sql::read_key_read_shape(sql);
        REQUIRE(shape);
        const std::string proving = pgkit::detail::key_read_with_proof(sql, *shape);
        CHECK(proving.starts_with("SELECT id FROM t WHERE id = ANY($2) AND k = $1 AND ("));
        CHECK(proving.find("$3::pg_catalog.oid") != std::string::npos);
        CHECK(proving.find("$4::pg_catalog.xid") != std::string::npos);
        CHECK(proving.find("$5") == std::string::npos);
        CHECK(proving.find("-- c") == std::string::npos);
        CHECK(proving.ends_with(" IS NULL)"));
        CHECK(proving.find(pgkit::detail::key_read_proof_failure) != std::string::npos);
        // The proof's own error is told apart from a parameter the read's column rejected.
        CHECK(pgkit::detail::is_key_read_proof_failure(
            "22P02",
            "invalid input syntax for type integer: \"pgkit: a table that key reads used has "
            "changed (backend 4242)\"",
            4242));
        CHECK_FALSE(pgkit::detail::is_key_read_proof_failure(
            "22P02",
            "invalid input syntax for type integer: \"pgkit: a table that key reads used has "
            "changed (backend 4242)\"",
            424));
        CHECK_FALSE(pgkit::detail::is_key_read_proof_failure(
            "22P02", "invalid input syntax for type bigint: \"x\"", 4242));
        CHECK_FALSE(pgkit::detail::is_key_read_proof_failure(
            "42P01", "pgkit: a table that key reads used has changed (backend 4242)", 4242));
    }
}
