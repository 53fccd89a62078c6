#pragma once

// The only place pgkit talks to libpqxx. Nothing outside src/driver/ includes this header, and
// it names no pqxx type, so the rest of pgkit builds the same against libpqxx 6.4, 7.x and 8.x.
//
// Division of labour: libpqxx owns each session's lifetime (adoption, close, library-version
// checks); statements run through the libpq handle it owns (see pq_session.hpp), because
// libpqxx turns server errors into exceptions that keep the SQLSTATE but drop the constraint,
// table and column names pgkit's errors carry.

#include "pgkit/error.hpp"

#include <memory>

struct pg_conn;

namespace pgkit::detail {

/// A libpqxx connection that has taken ownership of a connected libpq handle.
class pqxx_owner {
  public:
    /// Hands `raw` (connected, CONNECTION_OK) to libpqxx. On failure `raw` is closed.
    [[nodiscard]] static result<std::unique_ptr<pqxx_owner>> adopt(pg_conn* raw) noexcept;

    pqxx_owner(const pqxx_owner&) = delete;
    pqxx_owner& operator=(const pqxx_owner&) = delete;
    /// Closes the session (libpqxx calls PQfinish).
    ~pqxx_owner();

    /// The libpq handle, owned by libpqxx; valid until destruction.
    [[nodiscard]] pg_conn* handle() const noexcept { return handle_; }

    /// The libpqxx version pgkit was compiled against, e.g. "6.4.4".
    [[nodiscard]] static const char* library_version() noexcept;

    /// Records that libpqxx code was given this connection (pgkit/pqxx.hpp).
    void lend() noexcept { lent_ = true; }
    [[nodiscard]] bool lent() const noexcept { return lent_; }
    /// After libpqxx code used the session: deallocates, through libpqxx (so that it forgets
    /// them too), the statements whose names are not pgkit's (pgkit_*). The session must be
    /// idle. Its error, if that failed.
    [[nodiscard]] result<void> forget_lent_statements() noexcept;

  private:
    struct state;
    pqxx_owner(std::unique_ptr<state> owned, pg_conn* handle) noexcept;
    friend struct pqxx_owner_access;
    std::unique_ptr<state> state_;
    pg_conn* handle_;
    bool lent_ = false;
};

/// Maps an exception thrown by libpqxx (or the standard library) inside the driver to an error.
/// Call only from a catch block.
[[nodiscard]] error error_from_current_exception() noexcept;

}  // namespace pgkit::detail
