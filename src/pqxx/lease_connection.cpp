// pqxx_connection_of(lease&): libpqxx code on a pooled session (pgkit/pqxx.hpp). What it leaves
// behind is handled when the lease returns (pool.cpp, give_back).

#include "pgkit/pqxx.hpp"

#include "driver/pq_session.hpp"
#include "driver/session_access.hpp"
#include "pqxx/owner_access.hpp"

namespace pgkit {

result<std::reference_wrapper<pqxx_connection>> pqxx_connection_of(lease& l, pqxx_session_use use) {
    if (!l.valid()) {
        return make_error(errc::invalid_argument, "the lease holds no connection");
    }
    connection& conn = *l;
    detail::pq_session* session = detail::session_access::session(conn);
    if (session == nullptr) {
        return make_error(errc::invalid_argument, "the lease holds no connection");
    }
    if (detail::session_access::pipeline_open(conn)) {
        return make_error(errc::busy, "a pipeline is open on the connection");
    }
    // libpqxx sends its statements itself: what pgkit would have sent ahead of the next
    // statement (the session check, a reset) goes now.
    if (session->prelude_pending()) {
        if (auto sent = session->send_prelude_alone(); !sent) {
            return tl::unexpected(std::move(sent).error());
        }
    }
    session->owner().lend();
    if (use == pqxx_session_use::may_change_state) {
        conn.set_session_state_dirty(true);
    } else {
        // What libpqxx runs is not seen: the check follows the lease, as after any statement,
        // never only the proof of key reads that ran before.
        detail::session_access::note_foreign_statements(conn);
    }
    return std::ref(detail::pqxx_owner_access::connection(session->owner()));
}

}  // namespace pgkit
