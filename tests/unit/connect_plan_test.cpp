// How a connect to several hosts is planned: one attempt per host with its own role demand, the
// budget shared, prefer-standby in two passes, load_balance_hosts shuffling. No server needed.
#include "driver/connect_plan.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

using pgkit::connection_options;
using pgkit::detail::attempt_budget;
using pgkit::detail::plan_connect;

namespace {

std::vector<std::string> targets(const std::vector<pgkit::detail::connect_attempt>& attempts) {
    std::vector<std::string> out;
    for (const auto& attempt : attempts) {
        out.push_back(attempt.target);
    }
    return out;
}

std::string value(const pgkit::detail::connect_attempt& attempt, std::string_view keyword) {
    for (const auto& [name, v] : attempt.keywords) {
        if (name == keyword) {
            return v;
        }
    }
    return "(none)";
}

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE("connection: one attempt per host, each for that host alone") {
        auto options = connection_options::parse(
                           "postgresql://u@a:1,b:2/db?target_session_attrs=read-write"
                           "&hostaddr=10.0.0.1,10.0.0.2")
                           .value();
        const auto attempts = plan_connect(options, options.to_keywords());
        CHECK(targets(attempts) == std::vector<std::string>{"a:1", "b:2"});
        CHECK(value(attempts[0], "host") == "a");
        CHECK(value(attempts[0], "port") == "1");
        CHECK(value(attempts[1], "hostaddr") == "10.0.0.2");
        CHECK(value(attempts[1], "target_session_attrs") == "read-write");
        CHECK(value(attempts[1], "user") == "u");
        CHECK(value(attempts[1], "dbname") == "db");
    }

    TEST_CASE("connection: prefer-standby tries standbys first, then any host") {
        auto options =
            connection_options::parse("postgresql://a:1,b:2/db?target_session_attrs=prefer-standby")
                .value();
        const auto attempts = plan_connect(options, options.to_keywords());
        REQUIRE(attempts.size() == 4);
        CHECK(value(attempts[0], "target_session_attrs") == "standby");
        CHECK(value(attempts[1], "target_session_attrs") == "standby");
        CHECK(value(attempts[2], "target_session_attrs") == "any");
        CHECK(targets(attempts) == std::vector<std::string>{"a:1", "b:2", "a:1", "b:2"});
    }

    TEST_CASE("connection: a single host is one attempt with the keywords as they are") {
        auto options = connection_options::parse("postgresql://a:1/db?sslmode=disable").value();
        const auto attempts = plan_connect(options, options.to_keywords());
        REQUIRE(attempts.size() == 1);
        CHECK(value(attempts[0], "sslmode") == "disable");
        CHECK(value(attempts[0], "host") == "a");
    }

    TEST_CASE("connection: load_balance_hosts=random shuffles, and is not passed to libpq") {
        auto options =
            connection_options::parse("postgresql://a:1,b:2,c:3/db?load_balance_hosts=random")
                .value();
        std::set<std::string> firsts;
        for (int i = 0; i < 200 && firsts.size() < 3; ++i) {
            const auto attempts = plan_connect(options, options.to_keywords());
            REQUIRE(attempts.size() == 3);
            auto sorted = targets(attempts);
            std::sort(sorted.begin(), sorted.end());
            CHECK(sorted == std::vector<std::string>{"a:1", "b:2", "c:3"});
            CHECK(value(attempts[0], "load_balance_hosts") == "(none)");
            firsts.insert(attempts[0].target);
        }
        CHECK(firsts.size() == 3);
    }

    TEST_CASE("connection: each attempt gets an equal share of what is left") {
        using std::chrono::milliseconds;
        CHECK(attempt_budget(milliseconds{6000}, 3) == milliseconds{2000});
        CHECK(attempt_budget(milliseconds{6000}, 1) == milliseconds{6000});
        CHECK(attempt_budget(milliseconds{5}, 2) == milliseconds{2});
    }
}
