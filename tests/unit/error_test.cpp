#include "pgkit/error.hpp"

#include "pgkit/connection.hpp"

#include <doctest/doctest.h>

#include <string>

using pgkit::errc;

TEST_SUITE("errors") {
    TEST_CASE("errors: every code has a stable name") {
        for (int code = 1; code <= static_cast<int>(errc::server_error); ++code) {
            CHECK(pgkit::to_string(static_cast<errc>(code)) != "unknown");
        }
        CHECK(pgkit::to_string(errc::unique_violation) == "unique_violation");
    }

    TEST_CASE("errors: SQLSTATEs map to codes by exact state, then by class") {
        CHECK(pgkit::errc_from_sqlstate("23505", "") == errc::unique_violation);
        CHECK(pgkit::errc_from_sqlstate("40P01", "") == errc::deadlock_detected);
        CHECK(pgkit::errc_from_sqlstate("08006", "") == errc::connection_lost);
        CHECK(pgkit::errc_from_sqlstate("22003", "") == errc::data_exception);
        CHECK(pgkit::errc_from_sqlstate("XX001", "") == errc::internal);
        CHECK(pgkit::errc_from_sqlstate("42883", "") == errc::server_error);
        CHECK(pgkit::errc_from_sqlstate("57014", "canceling statement due to statement timeout") ==
              errc::statement_timeout);
        CHECK(pgkit::errc_from_sqlstate("57014", "canceling statement due to user request") ==
              errc::query_canceled);
        CHECK(pgkit::errc_from_sqlstate("", "") == errc::server_error);
    }

    TEST_CASE("errors: retryable and poisoning predicates") {
        CHECK(pgkit::error{errc::serialization_failure, "x"}.is_retryable());
        CHECK(pgkit::error{errc::deadlock_detected, "x"}.is_retryable());
        CHECK(pgkit::error{errc::lock_timeout, "x"}.is_retryable());
        // A session that vanished mid-statement outside a transaction may have committed it.
        pgkit::error vanished{errc::connection_lost, "x"};
        CHECK_FALSE(vanished.is_retryable());
        CHECK(vanished.poisons_connection());
        // Inside a transaction block the server rolled the work back with the session.
        pgkit::error lost_in_tx{errc::connection_lost, "x"};
        lost_in_tx.with_in_transaction(true);
        CHECK(lost_in_tx.is_retryable());
        // The server said why it closed the session instead of answering: nothing committed.
        pgkit::error terminated{errc::connection_lost, "x"};
        terminated.with_sqlstate("57P01");
        CHECK(terminated.is_retryable());
        CHECK(pgkit::error{errc::pool_timeout, "x"}.is_retryable());
        CHECK(pgkit::error{errc::connection_failed, "refused"}.is_retryable());
        pgkit::error starting{errc::connection_failed, "x"};
        starting.with_sqlstate("57P03");
        CHECK(starting.is_retryable());
        pgkit::error bad_password{errc::connection_failed, "x"};
        bad_password.with_sqlstate("28P01");
        CHECK_FALSE(bad_password.is_retryable());
        pgkit::error no_database{errc::connection_failed, "x"};
        no_database.with_sqlstate("3D000");
        CHECK_FALSE(no_database.is_retryable());
        pgkit::error unknown{errc::commit_unknown, "x"};
        CHECK_FALSE(unknown.is_retryable());
        CHECK(unknown.poisons_connection());
        CHECK_FALSE(pgkit::error{errc::unique_violation, "x"}.is_retryable());
        CHECK_FALSE(pgkit::error{errc::unique_violation, "x"}.poisons_connection());
    }

    TEST_CASE("errors: to_string names the code, the SQLSTATE and the constraint") {
        pgkit::error e{errc::unique_violation, "duplicate key"};
        e.with_sqlstate("23505").with_location("public", "users", "", "users_email_key");
        CHECK(e.to_string() ==
              "unique_violation [23505]: duplicate key (constraint "
              "users_email_key)");
    }

    TEST_CASE("errors: identifiers are validated and quoted") {
        CHECK(pgkit::connection::quote_identifier("users").value() == "\"users\"");
        CHECK(pgkit::connection::quote_identifier("a\"b").value() == "\"a\"\"b\"");
        CHECK(pgkit::connection::quote_identifier("").error().code() == errc::invalid_argument);
        CHECK(pgkit::connection::quote_identifier(std::string(64, 'x')).error().code() ==
              errc::invalid_argument);
        CHECK(pgkit::connection::quote_identifier(std::string(63, 'x')));
        CHECK(pgkit::connection::quote_identifier(std::string{"a\0b", 3}).error().code() ==
              errc::invalid_argument);
        CHECK(pgkit::connection::quote_identifier("\xff\xfe").error().code() ==
              errc::invalid_argument);
        CHECK(pgkit::connection::quote_identifier("\xc3").error().code() == errc::invalid_argument);
        CHECK(pgkit::connection::quote_identifier("caf\xc3\xa9"));
    }

    TEST_CASE("errors: parameters keep the first encoding error") {
        pgkit::parameters params{std::string{"ok"}, std::string{"bad\0", 4}, 3};
        REQUIRE(params.encoding_error());
        CHECK(params.encoding_error()->code() == errc::invalid_argument);
        pgkit::parameters fine{1, std::optional<int>{}, "text"};
        CHECK_FALSE(fine.encoding_error());
        CHECK(fine.size() == 3);
        CHECK(fine.value(0) == std::optional<std::string_view>{"1"});
        CHECK_FALSE(fine.value(1).has_value());
        CHECK(fine.value(2) == std::optional<std::string_view>{"text"});
    }
}
