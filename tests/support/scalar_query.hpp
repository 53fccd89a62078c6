#pragma once

// Reading one value from the test server, for the integration suites: the value a statement
// returns, and a setting as SHOW gives it.

#include "pgkit/connection.hpp"
#include "pgkit/query_result.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace pgkit::test {

/// The one value `sql` returns; fails the test, naming the statement and the error, otherwise.
template <typename T>
T scalar(connection& conn, std::string_view sql) {
    auto value = conn.execute(sql).and_then(&query_result::scalar<T>);
    REQUIRE_MESSAGE(value.has_value(), sql, ": ",
                    (value ? std::string{} : value.error().to_string()));
    return *value;
}

/// The session's value of `setting` (SHOW).
inline std::string show(connection& conn, std::string_view setting) {
    return scalar<std::string>(conn, fmt::format("SHOW {}", setting));
}

}  // namespace pgkit::test
