// Repositories against the real server: CRUD, composite keys, every mapped type, constraint
// errors, optimistic locking (and no lost updates under contention), soft-delete scopes,
// transactions spanning repositories, and injection strings.
#include "pgkit/repository.hpp"

#include "pgkit/entity.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/types/array.hpp"
#include "pgkit/types/bytea.hpp"
#include "pgkit/types/chrono.hpp"
#include "pgkit/types/enum_mapping.hpp"
#include "pgkit/types/json.hpp"
#include "pgkit/types/numeric.hpp"
#include "pgkit/types/uuid.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using time_point = std::chrono::system_clock::time_point;

enum class tier { free, pro };

struct account {
    std::int64_t id = 0;
    std::string email;
    std::string name;
    std::int64_t credits = 0;
    std::int64_t version = 0;
    std::optional<time_point> deleted_at;
    time_point created_at{};
    time_point updated_at{};
};

struct membership {
    std::int32_t tenant = 0;
    std::int64_t user_id = 0;
    std::string role;
    std::optional<std::string> note;
};

struct sample {
    std::int64_t id = 0;
    bool flag = false;
    std::int16_t small = 0;
    std::int32_t medium = 0;
    std::int64_t big = 0;
    float real = 0;
    double dbl = 0;
    std::string text;
    std::vector<std::byte> blob;
    time_point at{};
    std::chrono::year_month_day day{};
    pgkit::numeric amount{std::int64_t{0}};
    pgkit::uuid ident{};
    pgkit::json doc{"null"};
    std::vector<std::int64_t> numbers;
    std::vector<std::optional<std::string>> words;
    tier level = tier::free;
    std::optional<std::string> maybe_text;
    std::optional<std::int64_t> maybe_int;
    std::optional<time_point> maybe_at;
};

struct counter {
    std::int64_t id = 0;
    std::int64_t value = 0;
    std::int32_t version = 0;
};

}  // namespace

template <>
struct pgkit::enum_mapping<tier> {
    static constexpr std::string_view pg_type = "tier";
    static constexpr std::array values{std::pair{tier::free, std::string_view{"free"}},
                                       std::pair{tier::pro, std::string_view{"pro"}}};
};

template <>
struct pgkit::entity<account> {
    static constexpr std::string_view table = "accounts";
    static constexpr auto columns = std::tuple{
        pgkit::column(&account::id, "id", pgkit::generated),
        pgkit::column(&account::email, "email"),
        pgkit::column(&account::name, "name"),
        pgkit::column(&account::credits, "credits"),
        pgkit::column(&account::version, "version"),
        pgkit::column(&account::deleted_at, "deleted_at"),
        pgkit::column(&account::created_at, "created_at"),
        pgkit::column(&account::updated_at, "updated_at"),
    };
    static constexpr auto primary_key = pgkit::key(&account::id);
    static constexpr auto version = &account::version;
    static constexpr auto soft_delete = &account::deleted_at;
    static constexpr auto created_at = &account::created_at;
    static constexpr auto updated_at = &account::updated_at;
};

template <>
struct pgkit::entity<membership> {
    static constexpr std::string_view table = "memberships";
    static constexpr auto columns = std::tuple{
        pgkit::column(&membership::tenant, "tenant"),
        pgkit::column(&membership::user_id, "user_id"),
        pgkit::column(&membership::role, "role"),
        pgkit::column(&membership::note, "note"),
    };
    static constexpr auto primary_key = pgkit::key(&membership::tenant, &membership::user_id);
};

template <>
struct pgkit::entity<sample> {
    static constexpr std::string_view table = "Samples Table";  // needs quoting
    static constexpr auto columns = std::tuple{
        pgkit::column(&sample::id, "id", pgkit::generated),
        pgkit::column(&sample::flag, "flag"),
        pgkit::column(&sample::small, "small"),
        pgkit::column(&sample::medium, "medium"),
        pgkit::column(&sample::big, "big"),
        pgkit::column(&sample::real, "real"),
        pgkit::column(&sample::dbl, "dbl"),
        pgkit::column(&sample::text, "select"),  // a reserved word as a column name
        pgkit::column(&sample::blob, "blob"),
        pgkit::column(&sample::at, "at"),
        pgkit::column(&sample::day, "day"),
        pgkit::column(&sample::amount, "amount"),
        pgkit::column(&sample::ident, "ident"),
        pgkit::column(&sample::doc, "doc"),
        pgkit::column(&sample::numbers, "numbers"),
        pgkit::column(&sample::words, "words"),
        pgkit::column(&sample::level, "level"),
        pgkit::column(&sample::maybe_text, "maybe_text"),
        pgkit::column(&sample::maybe_int, "maybe_int"),
        pgkit::column(&sample::maybe_at, "maybe_at"),
    };
    static constexpr auto primary_key = pgkit::key(&sample::id);
};

template <>
struct pgkit::entity<counter> {
    static constexpr std::string_view table = "counters";
    static constexpr auto columns = std::tuple{
        pgkit::column(&counter::id, "id"),
        pgkit::column(&counter::value, "value"),
        pgkit::column(&counter::version, "version"),
    };
    static constexpr auto primary_key = pgkit::key(&counter::id);
    static constexpr auto version = &counter::version;
};

namespace {

constexpr std::string_view schema_sql = R"sql(
CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL CHECK (name <> ''),
    credits int8 NOT NULL DEFAULT 0,
    version int8 NOT NULL,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL);
CREATE UNIQUE INDEX accounts_email_live ON accounts (email) WHERE deleted_at IS NULL;
CREATE INDEX accounts_live ON accounts (id) WHERE deleted_at IS NULL;
CREATE TABLE memberships (
    tenant int4, user_id int8, role text NOT NULL, note text, PRIMARY KEY (tenant, user_id));
CREATE TYPE tier AS ENUM ('free', 'pro');
CREATE TABLE "Samples Table" (
    id bigserial PRIMARY KEY, flag bool, small int2, medium int4, big int8, "real" float4,
    dbl float8, "select" text, blob bytea, at timestamptz, day date, amount numeric,
    ident uuid, doc jsonb, numbers int8[], words text[], level tier, maybe_text text,
    maybe_int int8, maybe_at timestamptz);
CREATE TABLE counters (id int8 PRIMARY KEY, value int8 NOT NULL, version int4 NOT NULL);
)sql";

struct fixture {
    pgkit::test::scratch_schema schema;
    std::shared_ptr<pgkit::pool> pool;

    explicit fixture(std::size_t pool_size = 4) {
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(schema_sql));
        pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, pool_size));
    }
};

account new_account(std::string email, std::string name = "someone") {
    account a;
    a.email = std::move(email);
    a.name = std::move(name);
    return a;
}

/// A sample with a value in every mapped column, text that COPY must escape included; the
/// optional columns are NULL.
sample every_type_sample() {
    sample s;
    s.flag = true;
    s.small = -32768;
    s.medium = 2147483647;
    s.big = -9223372036854775807LL;
    s.real = 1.5F;
    s.dbl = 0.1;
    s.text = "text";
    s.blob = {std::byte{0}, std::byte{0xff}, std::byte{'\\'}};
    s.at = std::chrono::sys_days{std::chrono::year{2024} / 2 / 29} + 13h + 1us;
    s.day = std::chrono::year{1999} / 12 / 31;
    s.amount = pgkit::numeric::parse("-12345678901234567890.000001").value();
    s.ident = pgkit::uuid::parse("123e4567-e89b-12d3-a456-426614174000").value();
    s.doc = pgkit::json{R"({"a": [1, 2]})"};
    s.numbers = {1, -2, 3};
    s.words = {"x", std::nullopt, "a,b \"c\""};
    s.level = tier::pro;
    return s;
}

/// Every column of `back` but id and the optional ones equals the one of `s`.
void check_same_values(const sample& back, const sample& s) {
    CHECK(back.flag == s.flag);
    CHECK(back.small == s.small);
    CHECK(back.medium == s.medium);
    CHECK(back.big == s.big);
    CHECK(back.real == s.real);
    CHECK(back.dbl == s.dbl);
    CHECK(back.text == s.text);
    CHECK(back.blob == s.blob);
    CHECK(back.at == s.at);
    CHECK(back.day == s.day);
    CHECK(back.amount == s.amount);
    CHECK(back.ident == s.ident);
    CHECK(back.doc.text() == s.doc.text());
    CHECK(back.numbers == s.numbers);
    CHECK(back.words == s.words);
    CHECK(back.level == s.level);
}

}  // namespace

TEST_SUITE("repository") {
    TEST_CASE("repository: insert returns generated columns, then find, get, exists and count") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        auto first = accounts.insert(new_account("a@example.com", "Ann"));
        REQUIRE(first);
        CHECK(first->id > 0);
        CHECK(first->version == 1);
        CHECK(first->created_at.time_since_epoch().count() != 0);
        CHECK(first->updated_at == first->created_at);
        auto second = accounts.insert(new_account("b@example.com", "Bob"));
        REQUIRE(second);
        CHECK(second->id != first->id);

        auto found = accounts.find(first->id);
        REQUIRE(found);
        REQUIRE(found->has_value());
        CHECK((*found)->email == "a@example.com");
        CHECK((*found)->name == "Ann");
        auto missing = accounts.find(-1);
        REQUIRE(missing);
        CHECK_FALSE(missing->has_value());

        auto got = accounts.get(second->id);
        REQUIRE(got);
        CHECK(got->name == "Bob");
        auto not_there = accounts.get(-1);
        REQUIRE_FALSE(not_there);
        CHECK(not_there.error().code() == errc::not_found);

        CHECK(accounts.exists(first->id).value());
        CHECK_FALSE(accounts.exists(12345).value());
        CHECK(accounts.count().value() == 2);
    }

    TEST_CASE("repository: find_many reads any number of keys in one statement") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        std::vector<std::int64_t> ids;
        for (int i = 0; i < 50; ++i) {
            auto a = accounts.insert(new_account("m" + std::to_string(i) + "@x", "m"));
            REQUIRE(a);
            ids.push_back(a->id);
        }
        std::vector<std::int64_t> wanted{ids[3], ids[7], ids[7], ids[49], -5};
        auto many = accounts.find_many(wanted);
        REQUIRE(many);
        CHECK(many->size() == 3);
        auto all = accounts.find_many(ids);
        REQUIRE(all);
        CHECK(all->size() == 50);
        auto none = accounts.find_many(std::vector<std::int64_t>{});
        REQUIRE(none);
        CHECK(none->empty());
    }

    TEST_CASE("repository: update writes every column and bumps the version") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        auto a = accounts.insert(new_account("u@example.com", "Old")).value();
        a.name = "New";
        a.credits = 42;
        auto saved = accounts.update(a);
        REQUIRE(saved);
        CHECK(saved->version == 2);
        CHECK(saved->name == "New");
        CHECK(saved->credits == 42);
        CHECK(saved->updated_at >= a.updated_at);
        CHECK(accounts.get(a.id)->credits == 42);
    }

    TEST_CASE(
        "repository: version_conflict carries the stored version and row, not_found otherwise") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        auto a = accounts.insert(new_account("v@example.com", "V")).value();
        auto stale = a;
        a.credits = 1;
        REQUIRE(accounts.update(a));  // version 2 stored

        stale.credits = 100;
        std::optional<account> current;
        auto conflict = accounts.update(stale, &current);
        REQUIRE_FALSE(conflict);
        CHECK(conflict.error().code() == errc::version_conflict);
        CHECK(conflict.error().current_version() == 2);
        REQUIRE(current);
        CHECK(current->credits == 1);
        CHECK(accounts.get(a.id)->credits == 1);  // nothing lost

        auto removed_stale = accounts.remove(stale);
        REQUIRE_FALSE(removed_stale);
        CHECK(removed_stale.error().code() == errc::version_conflict);

        account ghost = a;
        ghost.id = -7;
        auto missing = accounts.update(ghost);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code() == errc::not_found);
        CHECK_FALSE(missing.error().current_version());

        // A soft-deleted row is not_found for update, not a conflict.
        REQUIRE(accounts.remove(a.id));
        auto deleted = accounts.update(*current);
        REQUIRE_FALSE(deleted);
        CHECK(deleted.error().code() == errc::not_found);
    }

    TEST_CASE("repository: 16 threads x 200 update_with_retry increments lose nothing") {
        fixture f{16};
        pgkit::repository<counter> counters{f.pool};
        REQUIRE(counters.insert({.id = 1, .value = 0, .version = 0}));
        constexpr int threads = 16;
        constexpr int increments = 200;
        const pgkit::retry_policy policy{
            .max_attempts = 100000, .initial_backoff = 1ms, .max_backoff = 4ms};
        std::atomic<int> failures{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&] {
                for (int i = 0; i < increments; ++i) {
                    auto done = counters.update_with_retry(
                        1, [](counter& c) { c.value += 1; }, policy);
                    if (!done) {
                        failures.fetch_add(1);
                    }
                }
            });
        }
        for (auto& w : workers) {
            w.join();
        }
        CHECK(failures.load() == 0);
        auto final_row = counters.get(1);
        REQUIRE(final_row);
        CHECK(final_row->value == threads * increments);
        CHECK(final_row->version == 1 + threads * increments);
    }

    TEST_CASE(
        "repository: update_with_retry's default policy carries 8 threads x 250 increments of "
        "one row without a failure") {
        fixture f{8};
        pgkit::repository<counter> counters{f.pool};
        REQUIRE(counters.insert({.id = 1, .value = 0, .version = 0}));
        constexpr int threads = 8;
        constexpr int increments = 250;
        std::atomic<int> failures{0};
        std::atomic<std::int64_t> attempts{0};
        std::atomic<std::int64_t> most_attempts{0};
        const auto started = std::chrono::steady_clock::now();
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&] {
                for (int i = 0; i < increments; ++i) {
                    std::int64_t calls = 0;  // mutate runs once per attempt
                    auto done = counters.update_with_retry(1, [&calls](counter& c) {
                        ++calls;
                        c.value += 1;
                    });
                    if (!done) {
                        failures.fetch_add(1);
                    }
                    attempts.fetch_add(calls);
                    std::int64_t seen = most_attempts.load();
                    while (calls > seen && !most_attempts.compare_exchange_weak(seen, calls)) {
                    }
                }
            });
        }
        for (auto& w : workers) {
            w.join();
        }
        const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        MESSAGE("update_with_retry, 8 x 250: failures "
                << failures.load() << ", attempts " << attempts.load() << ", most in one call "
                << most_attempts.load() << ", " << elapsed.count() << " ms");
        CHECK(failures.load() == 0);
        auto conn = f.schema.connect();
        auto stored =
            conn.execute("SELECT value, version FROM counters WHERE id = 1")
                .and_then(&pgkit::query_result::one)
                .and_then([](const pgkit::row& r) { return r.as<std::int64_t, std::int64_t>(); });
        REQUIRE(stored);
        CHECK(std::get<0>(*stored) == threads * increments);
        CHECK(std::get<1>(*stored) == 1 + threads * increments);
    }

    TEST_CASE("repository: plain update under contention reports every conflict") {
        fixture f{16};
        pgkit::repository<counter> counters{f.pool};
        REQUIRE(counters.insert({.id = 1, .value = 0, .version = 0}));
        constexpr int threads = 16;
        constexpr int attempts = 50;
        std::atomic<int> succeeded{0};
        std::atomic<int> conflicts{0};
        std::atomic<int> other{0};
        std::vector<std::thread> workers;
        for (int t = 0; t < threads; ++t) {
            workers.emplace_back([&] {
                for (int i = 0; i < attempts; ++i) {
                    auto c = counters.get(1);
                    if (!c) {
                        other.fetch_add(1);
                        continue;
                    }
                    c->value += 1;
                    auto done = counters.update(*c);
                    if (done) {
                        succeeded.fetch_add(1);
                    } else if (done.error().code() == errc::version_conflict) {
                        conflicts.fetch_add(1);
                    } else {
                        other.fetch_add(1);
                    }
                }
            });
        }
        for (auto& w : workers) {
            w.join();
        }
        CHECK(other.load() == 0);
        CHECK(succeeded.load() + conflicts.load() == threads * attempts);
        // Every success is counted exactly once; every lost race was reported.
        CHECK(counters.get(1)->value == succeeded.load());
    }

    TEST_CASE("repository: upsert on a key that insert writes: inserted, updated, kept") {
        fixture f;
        pgkit::repository<counter> counters{f.pool};
        using pgkit::upsert_outcome;
        auto first = counters.upsert({.id = 5, .value = 1, .version = 0});
        REQUIRE(first);
        CHECK(first->outcome == upsert_outcome::inserted);
        REQUIRE(first->row);
        CHECK(first->row->version == 1);
        auto second = counters.upsert({.id = 5, .value = 7, .version = 0});
        REQUIRE(second);
        CHECK(second->outcome == upsert_outcome::updated);
        REQUIRE(second->row);
        CHECK(second->row->value == 7);
        CHECK(second->row->version == 2);
        auto kept = counters.upsert({.id = 5, .value = 9, .version = 0}, {.do_nothing = true});
        REQUIRE(kept);
        CHECK(kept->outcome == upsert_outcome::kept);
        CHECK_FALSE(kept->row.has_value());
        CHECK(counters.get(5)->value == 7);
        CHECK(counters.count().value() == 1);
    }

    TEST_CASE("repository: upsert by a unique key keeps created_at and moves updated_at on") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        auto stored = accounts.insert(new_account("up@x", "Before"));
        REQUIRE(stored);
        auto again = new_account("up@x", "After");
        again.credits = 5;
        // accounts_email_live is a partial unique index: found through its columns.
        auto saved = accounts.upsert(again, {.columns = {&account::email}});
        REQUIRE(saved);
        CHECK(saved->outcome == pgkit::upsert_outcome::updated);
        REQUIRE(saved->row);
        CHECK(saved->row->id == stored->id);
        CHECK(saved->row->name == "After");
        CHECK(saved->row->credits == 5);
        CHECK(saved->row->version == 2);
        CHECK(saved->row->created_at == stored->created_at);
        CHECK(saved->row->updated_at >= stored->updated_at);
        CHECK(accounts.count().value() == 1);
    }

    TEST_CASE("repository: soft delete scopes every read path, then restore and purge") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        auto live = accounts.insert(new_account("live@x", "L")).value();
        auto gone = accounts.insert(new_account("gone@x", "G")).value();
        REQUIRE(accounts.remove(gone));

        CHECK_FALSE(accounts.find(gone.id)->has_value());
        CHECK(accounts.get(gone.id).error().code() == errc::not_found);
        CHECK_FALSE(accounts.exists(gone.id).value());
        CHECK(accounts.find_many(std::vector{live.id, gone.id})->size() == 1);
        CHECK(accounts.count().value() == 1);

        auto all = accounts.with_deleted();
        CHECK(all.find(gone.id)->has_value());
        CHECK(all.exists(gone.id).value());
        CHECK(all.find_many(std::vector{live.id, gone.id})->size() == 2);
        CHECK(all.count().value() == 2);

        auto deleted = accounts.only_deleted();
        CHECK_FALSE(deleted.find(live.id)->has_value());
        auto g = deleted.get(gone.id);
        REQUIRE(g);
        CHECK(g->deleted_at.has_value());
        CHECK(g->version == 2);
        CHECK(deleted.count().value() == 1);
        CHECK(deleted.find_many(std::vector{live.id, gone.id})->size() == 1);

        CHECK(accounts.remove(gone.id).error().code() == errc::not_found);  // already removed
        auto restored = accounts.restore(gone.id);
        REQUIRE(restored);
        CHECK_FALSE(restored->deleted_at.has_value());
        CHECK(accounts.count().value() == 2);
        CHECK(accounts.restore(gone.id).error().code() == errc::not_found);  // not deleted

        REQUIRE(accounts.purge(gone.id));
        CHECK(accounts.with_deleted().count().value() == 1);
        CHECK(accounts.purge(gone.id).error().code() == errc::not_found);
    }

    TEST_CASE("repository: partial unique index frees a soft-deleted value and restore clashes") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        auto first = accounts.insert(new_account("same@x", "First")).value();
        auto dup = accounts.insert(new_account("same@x", "Dup"));
        REQUIRE_FALSE(dup);
        CHECK(dup.error().code() == errc::unique_violation);
        CHECK(dup.error().constraint_name() == "accounts_email_live");

        REQUIRE(accounts.remove(first));
        auto second = accounts.insert(new_account("same@x", "Second"));
        REQUIRE(second);  // the deleted row no longer holds the value

        auto clash = accounts.restore(first.id);
        REQUIRE_FALSE(clash);
        CHECK(clash.error().code() == errc::unique_violation);
        CHECK(clash.error().constraint_name() == "accounts_email_live");

        // The partial index that keeps the default scope fast is usable by the planner. SET
        // LOCAL: the setting ends with the transaction (this case also runs through PgBouncer
        // in transaction mode, where a session setting is refused).
        auto conn = f.schema.connect();
        REQUIRE(conn.execute_script("BEGIN; SET LOCAL enable_seqscan = off"));
        auto plan =
            conn.execute("EXPLAIN SELECT * FROM accounts WHERE id = 1 AND deleted_at IS NULL");
        REQUIRE(plan);
        REQUIRE(conn.execute_script("COMMIT"));
        std::string text;
        for (const auto& r : *plan) {
            text += std::string{r.get<std::string>(0).value()} + "\n";
        }
        CHECK(text.find("accounts_live") != std::string::npos);
    }

    TEST_CASE("repository: constraint violations carry code and constraint name") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        auto bad = accounts.insert(new_account("c@x", ""));
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code() == errc::check_violation);
        CHECK(bad.error().constraint_name() == "accounts_name_check");

        pgkit::repository<membership> members{f.pool};
        REQUIRE(members.insert({.tenant = 1, .user_id = 2, .role = "a", .note = std::nullopt}));
        auto dup = members.insert({.tenant = 1, .user_id = 2, .role = "b", .note = std::nullopt});
        REQUIRE_FALSE(dup);
        CHECK(dup.error().code() == errc::unique_violation);
        CHECK(dup.error().constraint_name() == "memberships_pkey");
    }

    TEST_CASE("repository: composite keys for every operation") {
        fixture f;
        pgkit::repository<membership> members{f.pool};
        for (int t = 1; t <= 3; ++t) {
            for (int u = 1; u <= 4; ++u) {
                REQUIRE(members.insert({.tenant = t, .user_id = u, .role = "r", .note = {}}));
            }
        }
        using key = std::tuple<std::int32_t, std::int64_t>;
        auto one = members.get(key{2, 3});
        REQUIRE(one);
        CHECK(one->role == "r");
        CHECK_FALSE(one->note.has_value());
        CHECK(members.exists(key{3, 4}).value());
        CHECK_FALSE(members.exists(key{4, 3}).value());
        auto many = members.find_many(std::vector<key>{{1, 1}, {2, 2}, {3, 3}, {9, 9}, {1, 2}});
        REQUIRE(many);
        CHECK(many->size() == 4);
        one->note = "hello";
        one->role = "admin";
        auto saved = members.update(*one);
        REQUIRE(saved);
        CHECK(saved->note == "hello");
        CHECK(members.get(key{2, 3})->role == "admin");
        REQUIRE(members.remove(key{2, 3}));  // hard delete: no soft-delete column
        CHECK_FALSE(members.find(key{2, 3})->has_value());
        CHECK(members.count().value() == 11);
        CHECK(members.purge(key{2, 3}).error().code() == errc::not_found);
    }

    TEST_CASE("repository: every mapped type and NULL round-trips") {
        fixture f;
        pgkit::repository<sample> samples{f.pool};
        const sample s = every_type_sample();
        auto stored = samples.insert(s);
        REQUIRE(stored);
        auto back = samples.get(stored->id);
        REQUIRE(back);
        check_same_values(*back, s);
        CHECK_FALSE(back->maybe_text.has_value());
        CHECK_FALSE(back->maybe_int.has_value());
        CHECK_FALSE(back->maybe_at.has_value());

        back->maybe_text = "";
        back->maybe_int = 0;
        back->maybe_at = s.at;
        REQUIRE(samples.update(*back));
        auto again = samples.get(stored->id).value();
        CHECK(again.maybe_text == std::optional<std::string>{""});
        CHECK(again.maybe_int == std::optional<std::int64_t>{0});
        CHECK(again.maybe_at == s.at);
    }

    TEST_CASE("repository: insert_many through COPY stores every mapped type and NULL") {
        fixture f;
        pgkit::repository<sample> samples{f.pool};
        // More rows than small_batch: the range goes through COPY, whose text escapes the
        // backslashes of bytea, arrays and json and the tabs and newlines of text.
        std::vector<sample> rows(300, every_type_sample());
        rows[7].text = "tab\there\nnew line\\back\rslash";
        rows[8].maybe_text = "\\N";
        rows[8].maybe_int = -1;
        rows[8].maybe_at = rows[8].at;
        REQUIRE(samples.insert_many(rows).value() == rows.size());
        auto back = samples.find_where(pgkit::filters::eq(&sample::small, std::int16_t{-32768}),
                                       {.order_by = {pgkit::filters::asc(&sample::id)}});
        REQUIRE(back);
        REQUIRE(back->size() == rows.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            check_same_values((*back)[i], rows[i]);
            CHECK((*back)[i].maybe_text == rows[i].maybe_text);
            CHECK((*back)[i].maybe_int == rows[i].maybe_int);
            CHECK((*back)[i].maybe_at == rows[i].maybe_at);
        }
    }

    TEST_CASE("repository: insert_many through COPY sets version and both timestamps") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        const auto before = std::chrono::system_clock::now();
        auto make = [](int i) {
            account a = new_account("copy" + std::to_string(i) + "@x", "name " + std::to_string(i));
            a.credits = i * 3;
            a.version = 42;  // ignored: a new row is version 1
            return a;
        };
        REQUIRE(
            accounts.insert_many(std::views::iota(0, 300) | std::views::transform(make)).value() ==
            300);
        auto stored =
            accounts.find_where(pgkit::filters::eq(&account::credits, std::int64_t{3 * 123}));
        REQUIRE(stored);
        REQUIRE(stored->size() == 1);
        const account& a = stored->front();
        CHECK(a.email == "copy123@x");
        CHECK(a.name == "name 123");
        CHECK(a.version == 1);
        CHECK_FALSE(a.deleted_at.has_value());
        CHECK(a.created_at == a.updated_at);
        CHECK(a.created_at >= std::chrono::floor<std::chrono::microseconds>(before));
    }

    TEST_CASE("repository: injection strings are stored and read back verbatim") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        const std::vector<std::string> nasty{
            "'; DROP TABLE accounts; --",
            "\"quoted\" 'single' \\backslash",
            "/* comment */ SELECT 1; -- trailing",
            "unicode: \u00e9\u4e2d\U0001F600 \u202e",
            "$1 $2 ::text ANY($1)",
            std::string(100000, 'x') + "'",
        };
        std::vector<std::int64_t> ids;
        for (const auto& value : nasty) {
            auto a = accounts.insert(new_account(value, value));
            REQUIRE(a);
            CHECK(a->email == value);
            ids.push_back(a->id);
        }
        auto all = accounts.find_many(ids);
        REQUIRE(all);
        REQUIRE(all->size() == nasty.size());
        for (const auto& a : *all) {
            CHECK(a.name == a.email);
        }
        auto one = accounts.get(ids[0]).value();
        one.name = nasty[2];
        REQUIRE(accounts.update(one));
        CHECK(accounts.get(ids[0])->name == nasty[2]);
        CHECK(accounts.count().value() == static_cast<std::int64_t>(nasty.size()));
        auto nul = accounts.insert(new_account(std::string{"a\0b", 3}));
        REQUIRE_FALSE(nul);
        CHECK(nul.error().code() == errc::invalid_argument);
    }

    TEST_CASE("repository: a transaction spans several repositories and rolls back together") {
        fixture f;
        pgkit::repository<account> accounts{f.pool};
        pgkit::repository<membership> members{f.pool};
        auto committed =
            f.pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<std::int64_t> {
                auto a = accounts.in(tx).insert(new_account("tx@x", "T"));
                if (!a) {
                    return tl::unexpected(a.error());
                }
                auto m = members.in(tx).insert(
                    {.tenant = 1, .user_id = a->id, .role = "owner", .note = {}});
                if (!m) {
                    return tl::unexpected(m.error());
                }
                CHECK(accounts.in(tx).count().value() == 1);
                return a->id;
            });
        REQUIRE(committed);
        CHECK(accounts.exists(*committed).value());

        auto rolled_back =
            f.pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
                REQUIRE(accounts.in(tx).insert(new_account("rb@x", "R")));
                auto dup = members.in(tx).insert(
                    {.tenant = 1, .user_id = *committed, .role = "again", .note = {}});
                if (!dup) {
                    return tl::unexpected(dup.error());
                }
                return {};
            });
        REQUIRE_FALSE(rolled_back);
        CHECK(rolled_back.error().code() == errc::unique_violation);
        CHECK(accounts.count().value() == 1);
        CHECK(members.count().value() == 1);
    }

    TEST_CASE("repository: estimated_count reports the planner's figure and its age") {
        fixture f;
        pgkit::repository<membership> members{f.pool};
        auto before = members.estimated_count();
        REQUIRE(before);
        CHECK_FALSE(before->statistics_age.has_value());
        auto conn = f.schema.connect();
        REQUIRE(conn.execute_script(
            "INSERT INTO memberships SELECT 1, g, 'r' FROM generate_series(1, 1000) g; "
            "ANALYZE memberships"));
        auto after = members.estimated_count();
        REQUIRE(after);
        CHECK(after->rows == 1000);
        REQUIRE(after->statistics_age.has_value());
        CHECK(after->statistics_age->count() < 60.0);
        CHECK(members.count().value() == 1000);
    }
}
