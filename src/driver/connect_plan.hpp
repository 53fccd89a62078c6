#pragma once

// How a connection is opened when it names several hosts (private): one attempt per host, each
// given its share of what is left of the whole connect_timeout, so a host that swallows packets
// cannot use up the budget of the hosts after it (libpq applies connect_timeout to each host
// separately, and only in its blocking connect). target_session_attrs is checked per host by
// libpq; prefer-standby makes two passes (standbys, then any). load_balance_hosts=random
// shuffles the hosts for each connect, whatever libpq is linked (libpq 15 lacks it).

#include "pgkit/connection_options.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace pgkit::detail {

struct connect_attempt {
    /// libpq keywords for this host alone (host, port, hostaddr, target_session_attrs set).
    std::vector<connection_parameter> keywords;
    /// "host:port", for messages.
    std::string target;
};

/// The attempts for `options`, in order, from `keywords` (to_keywords() with pgkit's own
/// adjustments already made). A single host, or none, gives one attempt with `keywords` as
/// they are.
[[nodiscard]] std::vector<connect_attempt> plan_connect(
    const connection_options& options, const std::vector<connection_parameter>& keywords);

/// The share of `remaining` one of `attempts_left` attempts gets: an equal share.
[[nodiscard]] std::chrono::milliseconds attempt_budget(std::chrono::milliseconds remaining,
                                                       std::size_t attempts_left) noexcept;

}  // namespace pgkit::detail
