// A typed repository: describe a struct once, then insert, read, update, find_many, filter,
// handle a version conflict, soft-delete and restore, upsert on a unique key. Exits non-zero on
// any failure.
//
//   pgkit_example_repository postgresql://user@localhost/db
#include <pgkit/pgkit.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;

struct customer {
    std::int64_t id = 0;
    std::string email;
    std::string name;
    std::int64_t credits = 0;
    std::int64_t version = 0;
    std::optional<std::chrono::system_clock::time_point> deleted_at;
    std::chrono::system_clock::time_point created_at{};
    std::chrono::system_clock::time_point updated_at{};
};

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "example_customers";
    static constexpr auto columns = std::tuple{
        pgkit::column(&customer::id, "id", pgkit::generated),
        pgkit::column(&customer::email, "email"),
        pgkit::column(&customer::name, "name"),
        pgkit::column(&customer::credits, "credits"),
        pgkit::column(&customer::version, "version"),
        pgkit::column(&customer::deleted_at, "deleted_at"),
        pgkit::column(&customer::created_at, "created_at"),
        pgkit::column(&customer::updated_at, "updated_at"),
    };
    static constexpr auto primary_key = pgkit::key(&customer::id);
    static constexpr auto version = &customer::version;
    static constexpr auto soft_delete = &customer::deleted_at;
    static constexpr auto created_at = &customer::created_at;
    static constexpr auto updated_at = &customer::updated_at;
};

namespace {

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
}

int fail(const char* what) {
    std::fprintf(stderr, "unexpected: %s\n", what);
    return 1;
}

customer make(std::string email, std::string name) {
    customer c;
    c.email = std::move(email);
    c.name = std::move(name);
    return c;
}

}  // namespace

int main(int argc, char** argv) {
    auto target = argc > 1 ? pgkit::connection_options::parse(argv[1])
                           : pgkit::connection_options::from_environment();
    if (!target) {
        return fail(target.error());
    }
    auto created = pgkit::pool::create({.connection = *target, .max_size = 4});
    if (!created) {
        return fail(created.error());
    }
    std::shared_ptr<pgkit::pool> pool = *created;
    {
        auto lease = pool->acquire();
        if (!lease) {
            return fail(lease.error());
        }
        // The partial unique index lets a soft-deleted row give its email up; the partial
        // index on live rows keeps the default (live-only) reads fast.
        auto ready = (*lease)->execute_script(
            "DROP TABLE IF EXISTS example_customers;"
            "CREATE TABLE example_customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " email text NOT NULL, name text NOT NULL, credits int8 NOT NULL,"
            " version int8 NOT NULL, deleted_at timestamptz,"
            " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);"
            "CREATE UNIQUE INDEX example_customers_email ON example_customers (email)"
            " WHERE deleted_at IS NULL;"
            "CREATE INDEX example_customers_live ON example_customers (id)"
            " WHERE deleted_at IS NULL");
        if (!ready) {
            return fail(ready.error());
        }
    }

    pgkit::repository<customer> customers{pool};

    // Create: RETURNING fills in the id, version 1 and the timestamps.
    auto ann = customers.insert(make("ann@example.com", "Ann"));
    if (!ann) {
        return fail(ann.error());
    }
    auto bob = customers.insert(make("bob@example.com", "Bob"));
    if (!bob) {
        return fail(bob.error());
    }
    std::printf("inserted ann id=%lld version=%lld\n", static_cast<long long>(ann->id),
                static_cast<long long>(ann->version));

    // Read and update.
    auto fetched = customers.get(ann->id);
    if (!fetched) {
        return fail(fetched.error());
    }
    fetched->credits = 10;
    auto updated = customers.update(*fetched);
    if (!updated) {
        return fail(updated.error());
    }
    std::printf("updated ann: credits=%lld version=%lld\n",
                static_cast<long long>(updated->credits), static_cast<long long>(updated->version));

    // Many keys, one round trip.
    auto both = customers.find_many(std::vector{ann->id, bob->id});
    if (!both || both->size() != 2) {
        return both ? fail("find_many did not find both") : fail(both.error());
    }

    // A typed filter.
    using namespace pgkit::filters;
    auto rich = customers.find_where(gt(&customer::credits, 5), {.order_by = {asc(&customer::id)}});
    if (!rich || rich->size() != 1) {
        return rich ? fail("filter matched the wrong rows") : fail(rich.error());
    }

    // A stale copy (version 1) loses against the stored version 2: version_conflict.
    auto stale = *fetched;  // still version 1
    stale.credits = 999;
    auto conflict = customers.update(stale);
    if (conflict || conflict.error().code() != pgkit::errc::version_conflict) {
        return fail("expected a version conflict");
    }
    std::printf("stale update refused, stored version %lld\n",
                static_cast<long long>(conflict.error().current_version().value_or(-1)));

    // Read-modify-write that retries on conflicts.
    auto bumped = customers.update_with_retry(ann->id, [](customer& c) { c.credits += 1; });
    if (!bumped) {
        return fail(bumped.error());
    }

    // Soft delete: hidden from default reads, visible through with_deleted().
    if (auto removed = customers.remove(bob->id); !removed) {
        return fail(removed.error());
    }
    auto live = customers.count();
    auto all = customers.with_deleted().count();
    if (!live || !all || *live != 1 || *all != 2) {
        return fail("soft-delete scopes are wrong");
    }
    std::printf("after soft delete: %lld live, %lld with deleted\n", static_cast<long long>(*live),
                static_cast<long long>(*all));
    auto restored = customers.restore(bob->id);
    if (!restored) {
        return fail(restored.error());
    }
    std::printf("restored bob, version %lld\n", static_cast<long long>(restored->version));

    // Upsert on the unique email: the id is generated (insert never sends it), so it cannot be
    // the conflict target. Bob's row exists, so it is overwritten and its version moves on.
    auto upserted =
        customers.upsert(make("bob@example.com", "Robert"), {.columns = {&customer::email}});
    if (!upserted) {
        return fail(upserted.error());
    }
    if (upserted->outcome != pgkit::upsert_outcome::updated || upserted->row->id != bob->id) {
        return fail("the upsert did not update bob's row");
    }
    std::printf("upsert by email: %s, name %s, version %lld\n",
                std::string{pgkit::to_string(upserted->outcome)}.c_str(),
                upserted->row->name.c_str(), static_cast<long long>(upserted->row->version));

    // Transactions spanning repositories: in(tx).
    auto moved = pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
        auto in_tx = customers.in(tx);
        auto from = in_tx.update(ann->id, set(&customer::credits, std::int64_t{0}));
        if (!from) {
            return tl::unexpected(from.error());
        }
        auto to = in_tx.update(bob->id, set(&customer::credits, std::int64_t{11}));
        if (!to) {
            return tl::unexpected(to.error());
        }
        return {};
    });
    if (!moved) {
        return fail(moved.error());
    }
    if (auto purged = customers.purge(bob->id); !purged) {
        return fail(purged.error());
    }
    std::puts("ok");
    return 0;
}
