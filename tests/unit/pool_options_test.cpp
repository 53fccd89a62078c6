// Pool option validation, session initialisation plans and BEGIN statements: no server needed.
#include "pgkit/pool_options.hpp"

#include "pgkit/pool.hpp"
#include "pgkit/transaction.hpp"

#include "pool/session_init.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace std::chrono_literals;
using pgkit::errc;

namespace {

void check_rejected(const pgkit::pool_options& options, std::string_view mentions) {
    auto outcome = pgkit::validate(options);
    REQUIRE_FALSE(outcome);
    INFO(outcome.error().message());
    CHECK(outcome.error().code() == errc::invalid_argument);
    CHECK(outcome.error().message().find(mentions) != std::string::npos);
}

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("pool: the default options are valid and documented values") {
        const pgkit::pool_options options;
        CHECK(pgkit::validate(options));
        CHECK(options.max_size == 10);
        CHECK(options.min_idle == 0);
        CHECK(options.acquire_timeout == 30s);
        CHECK(options.connect_timeout == 5s);
        CHECK(options.idle_timeout == 10min);
        CHECK(options.max_lifetime == 30min);
        CHECK(options.validation_after_idle == 500ms);
        CHECK(options.leak_detection_threshold == 0ms);
        CHECK(options.max_concurrent_connects == 2);
        CHECK(options.reset == pgkit::reset_policy::when_dirty);
        CHECK(options.prepared_statements);
        CHECK(options.statement_cache_size == 100);
    }

    TEST_CASE("pool: invalid options are rejected with invalid_argument naming the option") {
        check_rejected({.max_size = 0}, "max_size");
        check_rejected({.max_size = 2, .min_idle = 3}, "min_idle");
        check_rejected({.acquire_timeout = 0ms}, "acquire_timeout");
        check_rejected({.connect_timeout = -1ms}, "connect_timeout");
        check_rejected({.idle_timeout = -1ms}, "idle_timeout");
        check_rejected({.max_lifetime = -5ms}, "max_lifetime");
        check_rejected({.max_lifetime_jitter = 0.9}, "max_lifetime_jitter");
        check_rejected({.max_lifetime_jitter = -0.1}, "max_lifetime_jitter");
        check_rejected({.validation_after_idle = -1ms}, "validation_after_idle");
        check_rejected({.leak_detection_threshold = -1ms}, "leak_detection_threshold");
        check_rejected({.max_concurrent_connects = 0}, "max_concurrent_connects");
        check_rejected({.session = {.statement_timeout = -1ms}}, "timeouts");
        check_rejected({.session = {.settings = {{"work mem", "1MB"}}}}, "setting name");
        check_rejected({.session = {.settings = {{"a.b.c", "1"}}}}, "setting name");
        check_rejected({.session = {.settings = {{"x", std::string{"a\0b", 3}}}}}, "NUL");
        check_rejected({.session = {.search_path = {""}}}, "search_path");
        auto refused = pgkit::pool::create({.max_size = 0});
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::invalid_argument);
        CHECK(pgkit::validate({.max_size = 1,
                               .min_idle = 1,
                               .idle_timeout = 0ms,
                               .max_lifetime = 0ms,
                               .validation_after_idle = 0ms}));
    }

    TEST_CASE("pool: session settings go into the startup options, escaped, after the caller's") {
        pgkit::pool_options options{.session = {.application_name = "billing",
                                                .statement_timeout = 1500ms,
                                                .lock_timeout = 200ms,
                                                .idle_in_transaction_session_timeout = 10s,
                                                .search_path = {"My Schema", "public"},
                                                .settings = {{"pgkit.note", "a b\\c"}}}};
        options.connection.parameters.emplace_back("options", "-c work_mem=8MB");
        options.connect_timeout = 1234ms;
        auto plan = pgkit::detail::plan_session(options);
        REQUIRE(plan);
        CHECK(plan->connect.application_name == "billing");
        CHECK(plan->connect.connect_timeout == 1234ms);
        REQUIRE(plan->connect.parameters.size() == 1);
        CHECK(plan->connect.parameters[0].first == "options");
        CHECK(plan->connect.parameters[0].second ==
              "-c work_mem=8MB -c statement_timeout=1500 -c lock_timeout=200 "
              "-c idle_in_transaction_session_timeout=10000 "
              "-c search_path=\"My\\ Schema\",\"public\" -c pgkit.note=a\\ b\\\\c");
        CHECK(plan->init_sql.empty());
        CHECK(plan->reset_sql.find("RESET ALL") != std::string::npos);
    }

    TEST_CASE("pool: behind a transaction-mode pooler session settings are refused") {
        pgkit::pool_options options;
        options.connection.pooler = pgkit::pooler_mode::transaction;
        CHECK(pgkit::validate(options));
        options.session.application_name = "billing";  // a startup parameter poolers track
        CHECK(pgkit::validate(options));
        check_rejected(
            [] {
                pgkit::pool_options o;
                o.connection.pooler = pgkit::pooler_mode::transaction;
                o.session.statement_timeout = 5s;
                return o;
            }(),
            "transaction-mode pooler");
        check_rejected(
            [] {
                pgkit::pool_options o;
                o.connection.pooler = pgkit::pooler_mode::transaction;
                o.session.search_path = {"app"};
                o.session.mode = pgkit::session_init_mode::set_statements;
                return o;
            }(),
            "ALTER ROLE");
    }

    TEST_CASE("pool: in set_statements mode session settings become one set_config statement") {
        pgkit::pool_options options{.session = {.statement_timeout = 5s,
                                                .settings = {{"pgkit.note", "it's \\ here"}},
                                                .mode = pgkit::session_init_mode::set_statements}};
        auto plan = pgkit::detail::plan_session(options);
        REQUIRE(plan);
        CHECK(plan->connect.parameters.empty());
        CHECK(plan->init_sql ==
              "SELECT set_config(E'statement_timeout', E'5000', false), "
              "set_config(E'pgkit.note', E'it''s \\\\ here', false)");
        // A reset (RESET ALL) would drop them, so the reset applies them again.
        CHECK(plan->reset_sql.ends_with(plan->init_sql));
    }

    TEST_CASE("pool: setting names are identifiers or dotted custom names") {
        using pgkit::detail::is_valid_setting_name;
        CHECK(is_valid_setting_name("work_mem"));
        CHECK(is_valid_setting_name("myapp.tenant_id"));
        CHECK_FALSE(is_valid_setting_name(""));
        CHECK_FALSE(is_valid_setting_name("1abc"));
        CHECK_FALSE(is_valid_setting_name("a;DROP"));
        CHECK_FALSE(is_valid_setting_name("a."));
        CHECK_FALSE(is_valid_setting_name(std::string(64, 'a')));
    }

    TEST_CASE("pool: BEGIN statements carry isolation, read-only and deferrable") {
        using pgkit::isolation_level;
        CHECK(pgkit::begin_statement({}) == "BEGIN");
        CHECK(pgkit::begin_statement({.isolation = isolation_level::serializable,
                                      .read_only = true,
                                      .deferrable = true}) ==
              "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE");
        CHECK(pgkit::begin_statement({.isolation = isolation_level::repeatable_read}) ==
              "BEGIN ISOLATION LEVEL REPEATABLE READ");
        CHECK(pgkit::begin_statement({.read_only = true}) == "BEGIN READ ONLY");
    }
}
