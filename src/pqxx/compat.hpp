#pragma once

// How pgkit's interop calls libpqxx 6.4 and 7.x: the statement calls whose signatures differ.
// With PQXX_VERSION_MAJOR in pgkit/pqxx.hpp (the connection type), the only version checks of
// src/pqxx/. Private to pgkit.

#include "pgkit/connection.hpp"
#include "pgkit/pqxx.hpp"

#include <pqxx/connection>
#include <pqxx/result>
#include <pqxx/transaction_base>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#if PQXX_VERSION_MAJOR >= 7
#include <pqxx/params>
#else
#include <pqxx/prepared_statement>
#endif

namespace pgkit::detail::pqxx_compat {

#if PQXX_VERSION_MAJOR >= 7

inline pqxx::params to_params(const parameters& params) {
    pqxx::params out;
    out.reserve(static_cast<int>(params.size()));
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto text = params.value(i);
        if (text) {
            out.append(pqxx::zview{params.c_str(i), text->size()});
        } else {
            out.append();
        }
    }
    return out;
}

/// Runs `sql` with `params` bound (extended protocol, unnamed statement).
inline pqxx::result exec_params(pqxx::transaction_base& tx,
                                std::string_view sql,
                                const parameters& params) {
    return tx.exec(sql, to_params(params));
}

/// Runs the statement prepared as `name`.
inline pqxx::result exec_prepared(pqxx::transaction_base& tx,
                                  const std::string& name,
                                  const parameters& params) {
    return tx.exec(pqxx::prepped{name}, to_params(params));
}

/// libpqxx 7 gives up the session it opened: pgkit takes the libpq handle over, so whatever
/// the application's code did on it (settings, SET) stays. Unsupported by libpqxx ("Do not do
/// this"): docs/libpqxx.md says why pgkit relies on it.
inline result<opened_session> hand_over(std::unique_ptr<pqxx::connection> conn) {
    return opened_session{.handle = std::move(*conn).release_raw_connection()};
}

#else

/// libpqxx 6 binds a run-time list of values through dynamic_params: null pointers are NULL.
inline std::vector<const char*> to_params(const parameters& params) {
    std::vector<const char*> out;
    out.reserve(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        out.push_back(params.c_str(i));
    }
    return out;
}

inline pqxx::result exec_params(pqxx::transaction_base& tx,
                                std::string_view sql,
                                const parameters& params) {
    const auto values = to_params(params);
    return tx.exec_params(std::string{sql}, pqxx::prepare::make_dynamic_params(values));
}

inline pqxx::result exec_prepared(pqxx::transaction_base& tx,
                                  const std::string& name,
                                  const parameters& params) {
    const auto values = to_params(params);
    return tx.exec_prepared(name, pqxx::prepare::make_dynamic_params(values));
}

/// libpqxx 6 cannot give a session up: pgkit connects itself with the connection string the
/// application's connection was built from, and the application's connection is closed.
inline result<opened_session> hand_over(std::unique_ptr<pqxx::connection> conn) {
    const std::string conninfo = conn->options();
    conn.reset();
    auto where = connection_options::parse(conninfo);
    if (!where) {
        return make_error(errc::connection_failed,
                          "the libpqxx connection's connection string cannot be used: " +
                              where.error().message());
    }
    return opened_session{.connect = std::move(*where)};
}

#endif

}  // namespace pgkit::detail::pqxx_compat
