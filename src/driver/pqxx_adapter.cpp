#include "driver/pqxx_adapter.hpp"

#include "pqxx/owner_access.hpp"
#include "pqxx/statement_names.hpp"

#include <libpq-fe.h>
#include <pqxx/connection>
#include <pqxx/except>
#include <pqxx/version>

#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#if PQXX_VERSION_MAJOR < 7
#include <pqxx/connectionpolicy>
#endif

namespace pgkit::detail {

#if PQXX_VERSION_MAJOR >= 7

// libpqxx 7 and later adopt a raw handle through a documented entry point.
struct pqxx_owner::state {
    explicit state(PGconn* raw) : conn(pqxx::connection::seize_raw_connection(raw)) {}
    pqxx::connection conn;
};

#else

namespace {

// libpqxx 6 builds every connection through a connectionpolicy; this one hands over a handle
// that is already connected instead of opening a new one, and never reconnects behind pgkit's
// back (a lost session must surface as connection_lost, not be silently replaced).
class adopting_policy final : public pqxx::connectionpolicy {
  public:
    explicit adopting_policy(PGconn* raw) : pqxx::connectionpolicy(std::string{}), raw_(raw) {}
    handle do_startconnect(handle orig) override {
        return orig != nullptr ? orig : std::exchange(raw_, nullptr);
    }
    handle do_completeconnect(handle orig) override { return orig; }
    ~adopting_policy() noexcept override {
        if (raw_ != nullptr) {
            PQfinish(raw_);
        }
    }

  private:
    PGconn* raw_;
};

class adopted_connection final : public pqxx::connection_base {
  public:
    explicit adopted_connection(PGconn* raw) : pqxx::connection_base(policy_), policy_(raw) {
        init();
        // A lost session must stay lost: libpqxx 6 would otherwise "reactivate" it when code
        // given this connection (pgkit/pqxx.hpp) starts a transaction on it, and close the
        // handle pgkit's session still holds. Deprecated in 6.4, with no replacement there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        inhibit_reactivation(true);
#pragma GCC diagnostic pop
    }
    ~adopted_connection() noexcept {
        close();
    }

  private:
    adopting_policy policy_;
};

}  // namespace

struct pqxx_owner::state {
    explicit state(PGconn* raw) : conn(raw) {}
    adopted_connection conn;
};

#endif

pqxx_owner::pqxx_owner(std::unique_ptr<state> owned, pg_conn* handle) noexcept
    : state_(std::move(owned)), handle_(handle) {}

pqxx_owner::~pqxx_owner() {
    if (state_) {
        pqxx_statements::forget(&state_->conn);
    }
}

pqxx_connection& pqxx_owner_access::connection(pqxx_owner& owner) noexcept {
    return owner.state_->conn;
}

result<void> pqxx_owner::forget_lent_statements() noexcept {
    lent_ = false;
    std::vector<std::string> names;
    {
        const std::unique_ptr<PGresult, void (*)(PGresult*)> listed{
            PQexec(handle_,
                   "SELECT name FROM pg_prepared_statements WHERE name NOT LIKE 'pgkit\\_%'"),
            PQclear};
        if (!listed || PQresultStatus(listed.get()) != PGRES_TUPLES_OK) {
            return make_error(errc::connection_lost,
                              "cannot list the statements libpqxx code prepared");
        }
        try {
            for (int i = 0; i < PQntuples(listed.get()); ++i) {
                names.emplace_back(PQgetvalue(listed.get(), i, 0));
            }
        } catch (...) {
            return tl::unexpected(error_from_current_exception());
        }
    }
    try {
        for (const auto& name : names) {
            state_->conn.unprepare(name);
        }
    } catch (...) {
        return tl::unexpected(error_from_current_exception());
    }
    return {};
}

result<std::unique_ptr<pqxx_owner>> pqxx_owner::adopt(pg_conn* raw) noexcept {
    // Memory first: while libpqxx has not seen the handle, closing it is still pgkit's job.
    void* memory = ::operator new(sizeof(state), std::nothrow);
    if (memory == nullptr) {
        PQfinish(raw);
        return make_error(errc::internal, "out of memory");
    }
    std::unique_ptr<state> owned;
    try {
        // From here libpqxx owns the handle (6.4: the policy closes it if init() never takes
        // it). libpqxx 6 would try to "reactivate" a broken session only when one of its own
        // transaction objects starts; pgkit never creates any, so a lost session stays lost.
        owned.reset(new (memory) state(raw));
    } catch (...) {
        ::operator delete(memory);
        return tl::unexpected(error_from_current_exception());
    }
    auto* owner = new (std::nothrow) pqxx_owner(std::move(owned), raw);
    if (owner == nullptr) {
        return make_error(errc::internal, "out of memory");  // `owned` closed the session
    }
    return std::unique_ptr<pqxx_owner>{owner};
}

const char* pqxx_owner::library_version() noexcept {
    return PQXX_VERSION;
}

error error_from_current_exception() noexcept {
    try {
        throw;
    } catch (const pqxx::broken_connection& e) {
        return error{errc::connection_lost, std::string{"connection broken: "} + e.what()};
    } catch (const pqxx::sql_error& e) {
        return error{errc_from_sqlstate(e.sqlstate(), e.what()), e.what()}.with_sqlstate(
            e.sqlstate());
    } catch (const std::bad_alloc&) {
        return error{errc::internal, "out of memory"};
    } catch (const std::exception& e) {
        return error{errc::internal, e.what()};
    } catch (...) {
        return error{errc::internal, "unknown exception in the driver layer"};
    }
}

}  // namespace pgkit::detail
