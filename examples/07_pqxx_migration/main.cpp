// Migrating a libpqxx program to pgkit step by step (docs/libpqxx.md). The "legacy" functions
// below are the program as it was, and stay unchanged:
//   step 1: its connections come from a pgkit pool (leases lent to the libpqxx code);
//   step 2: a pgkit repository runs inside the program's existing pqxx::work;
//   step 3: the pool opens its sessions through the program's central libpqxx factory.
// Checks its own results and exits non-zero on any failure. Works with libpqxx 6.4 and 7.x.
//
//   pgkit_example_pqxx_migration postgresql://user@localhost/db
#include <pgkit/pgkit.hpp>
#include <pgkit/pqxx.hpp>

#include <pqxx/nontransaction>
#include <pqxx/transaction>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

// The legacy code uses libpqxx calls that libpqxx 7 deprecates, as existing programs do.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

struct order_row {
    std::int64_t id = 0;
    std::string item;
    std::int64_t quantity = 0;
};

template <>
struct pgkit::entity<order_row> {
    static constexpr std::string_view table = "example_pqxx_orders";
    static constexpr auto columns = std::tuple{
        pgkit::column(&order_row::id, "id", pgkit::generated),
        pgkit::column(&order_row::item, "item"),
        pgkit::column(&order_row::quantity, "quantity"),
    };
    static constexpr auto primary_key = pgkit::key(&order_row::id);
};

namespace {

// ---- the program as it was: plain libpqxx ------------------------------------------------------

void legacy_create_schema(pgkit::pqxx_connection& c) {
    pqxx::work w{c};
    w.exec("DROP TABLE IF EXISTS example_pqxx_orders");
    w.exec(
        "CREATE TABLE example_pqxx_orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "item text NOT NULL, quantity int8 NOT NULL)");
    w.commit();
}

void legacy_add_order(pgkit::pqxx_connection& c, const std::string& item, int quantity) {
    pqxx::work w{c};
    w.exec_params("INSERT INTO example_pqxx_orders (item, quantity) VALUES ($1, $2)", item,
                  quantity);
    w.commit();
}

std::int64_t legacy_total(pgkit::pqxx_connection& c) {
    pqxx::nontransaction n{c};
    return n.exec("SELECT coalesce(sum(quantity), 0) FROM example_pqxx_orders")[0][0]
        .as<std::int64_t>();
}

// ---- helpers -----------------------------------------------------------------------------------

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
}

int fail(const char* what) {
    std::fprintf(stderr, "unexpected: %s\n", what);
    return 1;
}

/// Step 1's pattern: lease a pooled session and run libpqxx code `fn` on it, its exceptions
/// as errors. The lease returns when this does.
template <class F>
auto on_leased_pqxx(pgkit::pool& pool, F&& fn)
    -> pgkit::result<decltype(fn(std::declval<pgkit::pqxx_connection&>()))> {
    auto lease = pool.acquire();
    if (!lease) {
        return tl::unexpected(lease.error());
    }
    auto conn = pgkit::pqxx_connection_of(*lease);
    if (!conn) {
        return tl::unexpected(conn.error());
    }
    return pgkit::try_pqxx([&] { return fn(conn->get()); });
}

}  // namespace

int main(int argc, char** argv) {
    auto target = argc > 1 ? pgkit::connection_options::parse(argv[1])
                           : pgkit::connection_options::from_environment();
    if (!target) {
        return fail(target.error());
    }

    // Step 1: a pgkit pool replaces `pqxx::connection c{url}`; the libpqxx code is unchanged.
    auto created = pgkit::pool::create({.connection = *target, .max_size = 2});
    if (!created) {
        return fail(created.error());
    }
    std::shared_ptr<pgkit::pool> pool = *created;
    auto done = on_leased_pqxx(*pool, [](pgkit::pqxx_connection& c) {
        legacy_create_schema(c);
        legacy_add_order(c, "apples", 3);
        legacy_add_order(c, "pears", 4);
    });
    if (!done) {
        return fail(done.error());
    }  // the lease has returned: what the libpqxx code left on the session is cleaned up
    std::printf("step 1: legacy libpqxx code ran on a pooled lease\n");

    // Step 2: a repository inside the program's existing transaction.
    pgkit::repository<order_row> orders{pool};
    auto outcome = on_leased_pqxx(*pool, [&](pgkit::pqxx_connection& c) {
        pqxx::work w{c};
        w.exec("UPDATE example_pqxx_orders SET quantity = quantity + 1 WHERE item = 'apples'");
        auto counted = orders.in(w)
                           .insert(order_row{.item = "plums", .quantity = 5})
                           .and_then([&](const order_row&) { return orders.in(w).count(); });
        if (counted) {
            w.commit();  // otherwise the transaction rolls back with `w`
        }
        return counted;
    });
    if (!outcome) {
        return fail(outcome.error());
    }
    if (!*outcome) {
        return fail(outcome->error());
    }
    if (**outcome != 3) {
        return fail("three orders inside the libpqxx transaction");
    }
    auto total = on_leased_pqxx(*pool, legacy_total);
    if (!total) {
        return fail(total.error());
    }
    if (*total != 4 + 4 + 5) {
        return fail("the total after step 2");
    }
    std::printf("step 2: a repository inserted and counted inside a pqxx::work\n");

    // Step 3: the program configures pqxx::connection centrally; the pool opens through it.
    const std::string url = argc > 1 ? argv[1] : "";
    auto central = pgkit::pool::create({
        .connection = *target,
        .max_size = 2,
        .open_session =
            pgkit::pqxx_session_opener([url] { return std::make_unique<pqxx::connection>(url); }),
    });
    if (!central) {
        return fail(central.error());
    }
    pgkit::repository<order_row> central_orders{*central};
    auto n = central_orders.count();
    if (!n) {
        return fail(n.error());
    }
    if (*n != 3) {
        return fail("three orders through the factory's pool");
    }
    std::printf("step 3: a pool opened through the libpqxx factory counted %lld orders\n",
                static_cast<long long>(*n));

    auto dropped = (*pool->acquire())->execute("DROP TABLE example_pqxx_orders");
    if (!dropped) {
        return fail(dropped.error());
    }
    std::printf("ok\n");
    return 0;
}
