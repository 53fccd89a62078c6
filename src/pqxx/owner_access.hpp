#pragma once

// The libpqxx connection inside a pooled session's owner (driver/pqxx_adapter.hpp), typed, for
// the interop code in src/pqxx/. Private to pgkit.

#include "pgkit/pqxx.hpp"

#include "driver/pqxx_adapter.hpp"

namespace pgkit::detail {

struct pqxx_owner_access {
    [[nodiscard]] static pqxx_connection& connection(pqxx_owner& owner) noexcept;
};

}  // namespace pgkit::detail
