#pragma once

/// libpqxx interop (docs/libpqxx.md). The only pgkit header that names libpqxx types: include it
/// where libpqxx code and pgkit meet, and link libpqxx (pgkit_deps::libpqxx) yourself.
///
/// ```cpp
/// auto lease = pool->acquire();                       // pgkit pool, pgkit lease
/// auto conn = pgkit::pqxx_connection_of(*lease);      // libpqxx's view of the same session
/// pqxx::work w{conn->get()};                          // unchanged libpqxx code
/// w.exec("UPDATE ...");
/// auto saved = accounts.in(w).insert(account);        // a pgkit repository in that transaction
/// w.commit();
/// ```
///
/// Works with libpqxx 6.4 (pqxx::connection_base) and 7.x (pqxx::connection).

#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"

#include <pqxx/connection>
#include <pqxx/transaction_base>
#include <pqxx/version>

#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace pgkit {

// The one place that tells libpqxx 6 and 7 apart for pgkit's interop.
#if PQXX_VERSION_MAJOR >= 7
using pqxx_connection = pqxx::connection;
#else
using pqxx_connection = pqxx::connection_base;
#endif

/// What libpqxx code is going to do to a leased session.
enum class pqxx_session_use {
    /// It may change session state (SET, temporary tables, LISTEN, prepared statements, ...):
    /// the pool resets the session when the lease returns, as reset_policy says.
    may_change_state,
    /// It only runs statements that leave nothing behind once their transaction ends: the pool
    /// treats the session as it treats one that pgkit alone used.
    keeps_state,
};

/// The libpqxx connection that owns `l`'s session, for libpqxx code to run on (pqxx::work,
/// nontransaction, exec_params, exec_prepared, stream_to ...). Valid while the lease holds the
/// session. What the code leaves behind is handled when the lease returns: an open or failed
/// transaction is rolled back, an active COPY or a broken session is closed, statements libpqxx
/// prepared are deallocated (through libpqxx, so it forgets them too), and the session is reset
/// unless `use` is keeps_state. Errors: invalid_argument on an empty lease, busy while a
/// pipeline is open on it, the error of the session check pgkit still owed the session.
[[nodiscard]] result<std::reference_wrapper<pqxx_connection>> pqxx_connection_of(
    lease& l, pqxx_session_use use = pqxx_session_use::may_change_state);

/// Opens a libpqxx connection as the application configures them centrally.
using pqxx_connection_factory = std::function<std::unique_ptr<pqxx::connection>()>;

/// A pool_options::open_session that opens every pooled session through `make`:
/// `pool_options{.open_session = pgkit::pqxx_session_opener(make), ...}`. libpqxx 7.x: the
/// session `make` opened is taken over (what it set on the session, a SET included, holds until
/// the pool's reset). libpqxx 6.4 cannot give a session up: pgkit connects with the connection
/// string `make`'s connection was built with (pqxx::connection::options()), so its parameters
/// (application_name, options=-c ...) hold but SET statements run by `make` do not. An
/// exception from `make` or a null connection is a failed connect (connection_failed, no
/// password in its message). `make` is called from the pool's connector threads.
[[nodiscard]] session_opener pqxx_session_opener(pqxx_connection_factory make);

/// The exception being handled (call from a catch block) as a pgkit error: libpqxx's SQL errors
/// keep their SQLSTATE (and pgkit's code for it) and message; broken connections become
/// connection_lost; anything else internal. libpqxx's exceptions do not carry the constraint,
/// table or column names (docs/libpqxx.md).
[[nodiscard]] error error_from_pqxx_exception() noexcept;

/// Runs `fn` (libpqxx code) and returns its value, or the exception it threw as an error.
template <class F>
[[nodiscard]] auto try_pqxx(F&& fn) noexcept -> result<std::invoke_result_t<F&>> {
    try {
        if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
            std::invoke(fn);
            return {};
        } else {
            return std::invoke(fn);
        }
    } catch (...) {
        return tl::unexpected(error_from_pqxx_exception());
    }
}

/// Forgets the statements pgkit prepared on `conn` (after code ran DEALLOCATE ALL or DISCARD ALL
/// on it). Sessions a pool owns never need it.
void forget_pqxx_statements(const pqxx_connection& conn) noexcept;

namespace detail {

/// Runs pgkit's statements through libpqxx inside `tx` (exec and prepared statements named
/// pgkit_pqxx_*), turning libpqxx's results and exceptions into pgkit's.
[[nodiscard]] foreign_runner pqxx_runner(pqxx::transaction_base& tx) noexcept;

/// Lets repository::in() take any libpqxx transaction.
template <class T>
struct foreign_transaction<T, std::enable_if_t<std::is_base_of_v<pqxx::transaction_base, T>>> {
    static foreign_runner runner(T& tx) noexcept { return pqxx_runner(tx); }
};

}  // namespace detail

}  // namespace pgkit
