#pragma once

// The driver layer's view of a pgkit::connection: its session, and whether a pipeline holds it.
// Private to pgkit.

#include "pgkit/connection.hpp"

#include "driver/pq_session.hpp"

#include <memory>
#include <utility>

namespace pgkit::detail {

struct session_access {
    /// The session; nullptr on a moved-from connection.
    [[nodiscard]] static pq_session* session(connection& conn) noexcept {
        return conn.session_.get();
    }
    /// A connection around a session the driver opened or adopted.
    [[nodiscard]] static connection wrap(std::unique_ptr<pq_session> session,
                                         pooler_mode pooler) noexcept {
        return connection{std::move(session), pooler};
    }
    [[nodiscard]] static bool pipeline_open(const connection& conn) noexcept {
        return conn.pipeline_open_;
    }
    /// Statements ran that pgkit did not send (libpqxx code on a lent session): like any
    /// statement, they call for the session check when the lease returns.
    static void note_foreign_statements(connection& conn) noexcept {
        conn.ran_since_baseline_ = true;
    }
    /// A cached statement's execution as a key read of `table` (statement_cache.hpp).
    [[nodiscard]] static result<query_result> execute_key_read(connection& conn,
                                                               std::string_view name,
                                                               const parameters& params,
                                                               row_format format,
                                                               std::uint32_t& table) {
        return conn.execute_key_read(name, params, format, table);
    }
};

}  // namespace pgkit::detail
