// pqxx_session_opener: a pool whose sessions the application opens with libpqxx
// (pgkit/pqxx.hpp). How a libpqxx connection is handed over differs by version (compat.hpp).

#include "pgkit/connection_options.hpp"
#include "pgkit/pqxx.hpp"

#include "pqxx/compat.hpp"

#include <exception>
#include <string>
#include <utility>

namespace pgkit {

namespace {

/// A failed connect, with the factory's reason, secrets removed.
error connect_failure(std::string_view reason) {
    return error{errc::connection_failed,
                 "the libpqxx connection factory failed: " + redact_secrets(reason)};
}

}  // namespace

session_opener pqxx_session_opener(pqxx_connection_factory make) {
    return [make = std::move(make)]() -> result<opened_session> {
        try {
            auto conn = make();
            if (!conn) {
                return tl::unexpected(connect_failure("it returned no connection"));
            }
            return detail::pqxx_compat::hand_over(std::move(conn));
        } catch (...) {
            auto e = error_from_pqxx_exception();
            auto failed = connect_failure(e.message());
            if (!e.sqlstate().empty()) {
                failed.with_sqlstate(e.sqlstate());
            }
            return tl::unexpected(std::move(failed));
        }
    };
}

}  // namespace pgkit
