#include "driver/connect_plan.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace pgkit::detail {
namespace {

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> parts;
    for (;;) {
        const auto comma = text.find(',');
        parts.emplace_back(text.substr(0, comma));
        if (comma == std::string_view::npos) {
            return parts;
        }
        text.remove_prefix(comma + 1);
    }
}

}  // namespace

std::vector<connect_attempt> plan_connect(const connection_options& options,
                                          const std::vector<connection_parameter>& keywords) {
    const std::size_t hosts = options.hosts.size();
    const auto balance = options.parameter("load_balance_hosts");
    const bool shuffle = balance && iequals(*balance, "random");
    std::vector<connection_parameter> common;
    std::vector<std::string> hostaddrs;
    std::string attrs = "any";
    for (const auto& keyword : keywords) {
        if (keyword.first == "host" || keyword.first == "port" ||
            keyword.first == "load_balance_hosts") {
            continue;
        }
        if (keyword.first == "hostaddr") {
            hostaddrs = split_list(keyword.second);
            continue;
        }
        if (keyword.first == "target_session_attrs") {
            attrs = keyword.second.empty() ? "any" : keyword.second;
            continue;
        }
        common.push_back(keyword);
    }
    if (hosts <= 1) {
        std::vector<connection_parameter> one;
        for (const auto& keyword : keywords) {
            if (keyword.first != "load_balance_hosts") {
                one.push_back(keyword);
            }
        }
        return {connect_attempt{std::move(one), hosts == 1 ? options.hosts[0].host : ""}};
    }

    std::vector<std::size_t> order(hosts);
    std::iota(order.begin(), order.end(), std::size_t{0});
    if (shuffle) {
        thread_local std::mt19937_64 random{std::random_device{}()};
        std::shuffle(order.begin(), order.end(), random);
    }
    // prefer-standby: libpq's two passes, standbys first, then any host.
    const std::vector<std::string> passes = iequals(attrs, "prefer-standby")
                                                ? std::vector<std::string>{"standby", "any"}
                                                : std::vector<std::string>{attrs};
    std::vector<connect_attempt> attempts;
    for (const auto& pass : passes) {
        for (const std::size_t i : order) {
            const host_address& address = options.hosts[i];
            connect_attempt attempt;
            attempt.keywords = common;
            if (!address.host.empty()) {
                attempt.keywords.emplace_back("host", address.host);
            }
            if (address.port) {
                attempt.keywords.emplace_back("port", std::to_string(*address.port));
            }
            if (i < hostaddrs.size() && !hostaddrs[i].empty()) {
                attempt.keywords.emplace_back("hostaddr", hostaddrs[i]);
            }
            attempt.keywords.emplace_back("target_session_attrs", pass);
            attempt.target =
                address.port ? fmt::format("{}:{}", address.host, *address.port) : address.host;
            attempts.push_back(std::move(attempt));
        }
    }
    return attempts;
}

std::chrono::milliseconds attempt_budget(std::chrono::milliseconds remaining,
                                         std::size_t attempts_left) noexcept {
    if (attempts_left <= 1) {
        return remaining;
    }
    return remaining / static_cast<std::chrono::milliseconds::rep>(attempts_left);
}

}  // namespace pgkit::detail
