#include "pgkit/pool_options.hpp"

#include "pgkit/connection.hpp"

#include "driver/session_check.hpp"
#include "pool/session_init.hpp"
#include "startup_options.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <utility>
#include <vector>

namespace pgkit {
namespace detail {
namespace {

/// Sessions reset to a clean state but keep the statement cache's statements (pgkit_*): the
/// equivalent of DISCARD ALL minus DEALLOCATE of the cache and DISCARD PLANS. The settings given
/// at startup are the session's defaults, so RESET ALL keeps them. random()'s seed, which no
/// DISCARD resets, is re-randomised by reset_statement() (with_fresh_seed).
///
/// After a dirty lease, the reset travels with the next statement instead: the session check
/// (driver/session_check.hpp) clears settings, sequence state, cursors, advisory locks and the
/// seed, and these four statements do what it does not (it fails on a LISTEN, a temporary object
/// or a role it does not expect, and then the full reset runs).
constexpr std::array<std::string_view, 4> beyond_the_check{
    "SET SESSION AUTHORIZATION DEFAULT",
    "UNLISTEN *",
    "DISCARD TEMP",
    "DO $pgkit_reset$ DECLARE s record; BEGIN "
    "FOR s IN SELECT name FROM pg_prepared_statements WHERE name NOT LIKE 'pgkit\\_%' LOOP "
    "EXECUTE format('DEALLOCATE %I', s.name); END LOOP; END $pgkit_reset$",
};

/// The reset as one script, run when a lease returns (reset_policy::always, when_sql_dirty).
std::string reset_script() {
    return fmt::format(
        "CLOSE ALL; {}; RESET ALL; {}; SELECT pg_advisory_unlock_all(); {}; DISCARD SEQUENCES; {}",
        beyond_the_check[0], beyond_the_check[1], beyond_the_check[2], beyond_the_check[3]);
}

bool is_identifier(std::string_view part) noexcept {
    if (part.empty() || part.size() > 63) {
        return false;
    }
    auto start = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    };
    if (!start(part[0])) {
        return false;
    }
    for (char c : part) {
        if (!start(c) && !(c >= '0' && c <= '9') && c != '$') {
            return false;
        }
    }
    return true;
}

std::string milliseconds_value(std::chrono::milliseconds value) {
    return std::to_string(value.count());
}

}  // namespace

bool is_valid_setting_name(std::string_view name) noexcept {
    const auto dot = name.find('.');
    if (dot == std::string_view::npos) {
        return is_identifier(name);
    }
    return is_identifier(name.substr(0, dot)) && is_identifier(name.substr(dot + 1));
}

std::string reset_statement(const session_plan& plan) {
    return with_fresh_seed(plan.reset_sql);
}

result<session_plan> plan_session(const pool_options& options) {
    const session_options& session = options.session;
    std::vector<std::pair<std::string, std::string>> settings;
    if (session.statement_timeout) {
        settings.emplace_back("statement_timeout", milliseconds_value(*session.statement_timeout));
    }
    if (session.lock_timeout) {
        settings.emplace_back("lock_timeout", milliseconds_value(*session.lock_timeout));
    }
    if (session.idle_in_transaction_session_timeout) {
        settings.emplace_back("idle_in_transaction_session_timeout",
                              milliseconds_value(*session.idle_in_transaction_session_timeout));
    }
    if (!session.search_path.empty()) {
        std::string path;
        for (const std::string& schema : session.search_path) {
            auto quoted = connection::quote_identifier(schema);
            if (!quoted) {
                return make_error(errc::invalid_argument,
                                  fmt::format("session.search_path: {}", quoted.error().message()));
            }
            path += (path.empty() ? "" : ",") + *quoted;
        }
        settings.emplace_back("search_path", std::move(path));
    }
    for (const auto& [name, value] : session.settings) {
        if (!is_valid_setting_name(name)) {
            return make_error(errc::invalid_argument,
                              fmt::format("session.settings: '{}' is not a setting name", name));
        }
        if (value.find('\0') != std::string::npos) {
            return make_error(
                errc::invalid_argument,
                fmt::format("session.settings: the value of {} contains a NUL byte", name));
        }
        settings.emplace_back(name, value);
    }

    session_plan plan;
    plan.connect = options.connection;
    plan.connect.connect_timeout = options.connect_timeout;
    if (!session.application_name.empty()) {
        if (session.application_name.find('\0') != std::string::npos) {
            return make_error(errc::invalid_argument,
                              "session.application_name contains a NUL byte");
        }
        plan.connect.application_name = session.application_name;
    }
    if (session.mode == session_init_mode::startup_options) {
        if (!settings.empty()) {
            // One `options` value counts (the last); the pool's settings go after the caller's
            // own arguments, so they win for the same names (the server applies -c in order).
            auto& parameters = plan.connect.parameters;
            std::string startup;
            if (auto caller = plan.connect.parameter("options")) {
                startup = join_startup_options(split_startup_options(*caller));
            }
            for (const auto& [name, value] : settings) {
                append_startup_setting(startup, name, value);
            }
            std::erase_if(parameters, [](const auto& p) { return p.first == "options"; });
            parameters.emplace_back("options", std::move(startup));
        }
    } else if (!settings.empty()) {
        plan.init_sql = "SELECT ";
        bool first = true;
        for (const auto& [name, value] : settings) {
            plan.init_sql += fmt::format("{}set_config({}, {}, false)", first ? "" : ", ",
                                         escape_literal(name), escape_literal(value));
            first = false;
        }
    }
    plan.reset_sql = reset_script();
    if (!plan.init_sql.empty()) {
        plan.reset_sql += "; " + plan.init_sql;
    }
    plan.check_sql = std::make_shared<const session_check_sql>(
        session_check_sql{.restore = plan.init_sql, .full_reset = plan.reset_sql, .extra = {}});
    plan.reset_check_sql = std::make_shared<const session_check_sql>(
        session_check_sql{.restore = plan.init_sql,
                          .full_reset = plan.reset_sql,
                          .extra = {beyond_the_check.begin(), beyond_the_check.end()}});
    return plan;
}

}  // namespace detail

result<void> validate(const pool_options& options) {
    auto bad = [](std::string message) {
        return make_error(errc::invalid_argument, std::move(message));
    };
    if (options.max_size == 0) {
        return bad("max_size must be at least 1");
    }
    if (options.min_idle > options.max_size) {
        return bad(fmt::format("min_idle ({}) must not exceed max_size ({})", options.min_idle,
                               options.max_size));
    }
    if (options.acquire_timeout.count() <= 0) {
        return bad("acquire_timeout must be positive");
    }
    if (options.connect_timeout.count() <= 0) {
        return bad("connect_timeout must be positive");
    }
    if (options.idle_timeout.count() < 0) {
        return bad("idle_timeout must not be negative (0 turns it off)");
    }
    if (options.max_lifetime.count() < 0) {
        return bad("max_lifetime must not be negative (0 turns it off)");
    }
    if (!(options.max_lifetime_jitter >= 0.0 && options.max_lifetime_jitter <= 0.5)) {
        return bad("max_lifetime_jitter must be between 0 and 0.5");
    }
    if (options.validation_after_idle.count() < 0) {
        return bad("validation_after_idle must not be negative");
    }
    if (options.leak_detection_threshold.count() < 0) {
        return bad("leak_detection_threshold must not be negative (0 turns it off)");
    }
    if (options.max_concurrent_connects == 0) {
        return bad("max_concurrent_connects must be at least 1");
    }
    if (options.replicas.max_lag.count() < 0) {
        return bad("replicas.max_lag must not be negative (0 turns the bound off)");
    }
    if (options.replicas.probe_interval.count() <= 0) {
        return bad("replicas.probe_interval must be positive");
    }
    for (const auto& address : options.replicas.hosts) {
        if (address.host.empty()) {
            return bad("replicas.hosts: a replica needs a host");
        }
    }
    const session_options& session = options.session;
    for (const auto* timeout : {&session.statement_timeout, &session.lock_timeout,
                                &session.idle_in_transaction_session_timeout}) {
        if (*timeout && (*timeout)->count() < 0) {
            return bad("session timeouts must not be negative");
        }
    }
    if (options.connection.pooler == pooler_mode::transaction &&
        (session.statement_timeout || session.lock_timeout ||
         session.idle_in_transaction_session_timeout || !session.search_path.empty() ||
         !session.settings.empty())) {
        return bad(
            "session settings cannot be pinned behind a transaction-mode pooler (each "
            "transaction may run on another server session): set them for the role or database "
            "(ALTER ROLE ... SET), or per transaction with SET LOCAL");
    }
    auto plan = detail::plan_session(options);
    if (!plan) {
        return tl::unexpected(std::move(plan).error());
    }
    return {};
}

}  // namespace pgkit
