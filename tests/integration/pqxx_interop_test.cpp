// libpqxx interop (pgkit/pqxx.hpp): unchanged libpqxx code on pooled leases, pgkit repositories
// inside libpqxx transactions (pooled and on a plain pqxx connection), libpqxx errors as pgkit
// errors, and a pool that recovers whatever state libpqxx code left a session in. Runs on
// libpqxx 6.4 and 7.x.
#include "pgkit/entity.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/pqxx.hpp"
#include "pgkit/repository.hpp"
#include "pgkit/types/chrono.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
#include <doctest/doctest.h>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/stream_to>
#include <pqxx/transaction>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

// The libpqxx code under test uses APIs libpqxx 7 deprecates, as existing code does.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

using pgkit::errc;
using time_point = std::chrono::system_clock::time_point;

struct wallet {
    std::int64_t id = 0;
    std::string owner;
    std::int64_t balance = 0;
    std::int64_t version = 0;
    std::optional<time_point> deleted_at;
};

}  // namespace

template <>
struct pgkit::entity<wallet> {
    static constexpr std::string_view table = "wallets";
    static constexpr auto columns = std::tuple{
        pgkit::column(&wallet::id, "id", pgkit::generated),
        pgkit::column(&wallet::owner, "owner"),
        pgkit::column(&wallet::balance, "balance"),
        pgkit::column(&wallet::version, "version"),
        pgkit::column(&wallet::deleted_at, "deleted_at"),
    };
    static constexpr auto primary_key = pgkit::key(&wallet::id);
    static constexpr auto version = &wallet::version;
    static constexpr auto soft_delete = &wallet::deleted_at;
};

namespace {

wallet make_wallet(std::string owner, std::int64_t balance = 0) {
    wallet w;
    w.owner = std::move(owner);
    w.balance = balance;
    return w;
}

constexpr std::string_view schema_sql = R"sql(
CREATE TABLE wallets (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner text NOT NULL CONSTRAINT wallets_owner_key UNIQUE,
    balance int8 NOT NULL CHECK (balance >= 0),
    version int8 NOT NULL,
    deleted_at timestamptz);
CREATE TABLE ledger (worker int4 NOT NULL, seq int4 NOT NULL, note text NOT NULL,
                     PRIMARY KEY (worker, seq));
CREATE TABLE audit (what text NOT NULL);
)sql";

struct fixture {
    pgkit::test::scratch_schema schema;
    pgkit::connection observer;
    std::shared_ptr<pgkit::pool> pool;
    pgkit::repository<wallet> wallets{nullptr};

    explicit fixture(std::size_t pool_size = 1) : observer(schema.connect()) {
        REQUIRE(observer.execute_script(schema_sql));
        pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, pool_size));
        wallets = pgkit::repository<wallet>{pool};
    }

    std::int64_t count(std::string_view sql) {
        auto n = observer.execute(sql).and_then(&pgkit::query_result::scalar<std::int64_t>);
        REQUIRE(n);
        return *n;
    }
};

/// libpqxx code as an application has it: prepares, runs a transaction with a prepared
/// statement, a parameterised statement and a COPY (stream_to). Written against the API both
/// libpqxx 6.4 and 7.x have (7.x deprecates some of it, which such code still uses: this file
/// ignores those warnings); only stream_to's construction changed between them.
void legacy_record(pgkit::pqxx_connection& c, int worker, int seq) {
    c.prepare("legacy_insert", "INSERT INTO ledger (worker, seq, note) VALUES ($1, $2, $3)");
    pqxx::work w{c};
    w.exec_prepared("legacy_insert", worker, seq, "prepared");
    w.exec_params("UPDATE ledger SET note = $1 WHERE worker = $2 AND seq = $3", "updated", worker,
                  seq);
    {
#if PQXX_VERSION_MAJOR >= 7
        auto copy = pqxx::stream_to::table(w, {"ledger"}, {"worker", "seq", "note"});
#else
        pqxx::stream_to copy{w, "ledger", std::vector<std::string>{"worker", "seq", "note"}};
#endif
        copy << std::make_tuple(worker, seq + 100000, std::string{"streamed"});
        copy.complete();
    }
    w.commit();
}

pgkit::pqxx_connection& pqxx_of(pgkit::lease& l) {
    auto c = pgkit::pqxx_connection_of(l);
    REQUIRE(c);
    return c->get();
}

}  // namespace

TEST_CASE("pqxx interop: unchanged libpqxx code runs on pooled leases from 8 threads") {
    fixture f{4};
    constexpr int workers = 8;
    constexpr int rounds = 15;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int worker = 0; worker < workers; ++worker) {
        threads.emplace_back([&, worker] {
            for (int seq = 0; seq < rounds; ++seq) {
                auto lease = f.pool->acquire();
                if (!lease) {
                    ++failures;
                    continue;
                }
                auto c = pgkit::pqxx_connection_of(*lease);
                auto done = c ? pgkit::try_pqxx([&] { legacy_record(c->get(), worker, seq); })
                              : pgkit::result<void>{tl::unexpected(c.error())};
                if (!done) {
                    ++failures;
                    MESSAGE(done.error().to_string());
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(failures == 0);
    CHECK(f.count("SELECT count(*) FROM ledger WHERE note = 'updated'") == workers * rounds);
    CHECK(f.count("SELECT count(*) FROM ledger WHERE note = 'streamed'") == workers * rounds);
    // pgkit's own statements still work on the pooled sessions libpqxx code used.
    for (int i = 0; i < 8; ++i) {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        auto n =
            lease->execute_cached("SELECT count(*) FROM ledger WHERE worker = $1", std::int32_t{i})
                .and_then(&pgkit::query_result::scalar<std::int64_t>);
        REQUIRE(n);
        CHECK(*n == 2 * rounds);
    }
}

TEST_CASE("pqxx interop: one libpqxx transaction mixes libpqxx statements and repository calls") {
    fixture f;
    std::int64_t committed_id = 0;
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        pqxx::work w{pqxx_of(*lease)};
        w.exec("INSERT INTO audit VALUES ('opened')");
        auto saved = f.wallets.in(w).insert(make_wallet("ada", 10));
        REQUIRE(saved);
        committed_id = saved->id;
        w.exec("UPDATE wallets SET balance = balance + 5 WHERE id = " + w.quote(saved->id));
        auto seen = f.wallets.in(w).get(saved->id);  // sees libpqxx's update: same transaction
        REQUIRE(seen);
        CHECK(seen->balance == 15);
        auto counted = f.wallets.in(w).count();
        REQUIRE(counted);
        CHECK(*counted == 1);
        // A backfill-style batch (multi-row INSERT) in the same transaction.
        std::vector<wallet> batch{make_wallet("b1", 1), make_wallet("b2", 2)};
        auto stored = f.wallets.in(w).insert_many(batch);
        REQUIRE(stored);
        CHECK(*stored == 2);
        auto page = f.wallets.in(w).page_at(pgkit::offset_page_request{.page_size = 2});
        REQUIRE(page);
        CHECK(page->items.size() == 2);
        // Not visible outside before the commit.
        CHECK(f.count("SELECT count(*) FROM wallets") == 0);
        w.commit();
    }
    CHECK(f.count("SELECT count(*) FROM wallets") == 3);
    CHECK(f.count("SELECT count(*) FROM audit") == 1);
    CHECK(f.count(("SELECT balance FROM wallets WHERE id = " + std::to_string(committed_id))) ==
          15);

    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        pqxx::work w{pqxx_of(*lease)};
        w.exec("INSERT INTO audit VALUES ('rolled back')");
        REQUIRE(f.wallets.in(w).insert(make_wallet("grace", 1)));
        REQUIRE(f.wallets.in(w).remove(committed_id));
        w.abort();
    }
    CHECK(f.count("SELECT count(*) FROM wallets WHERE owner = 'grace'") == 0);
    CHECK(f.count("SELECT count(*) FROM wallets WHERE deleted_at IS NULL") == 3);
    CHECK(f.count("SELECT count(*) FROM audit") == 1);
}

TEST_CASE("pqxx interop: repositories run in a transaction on a plain libpqxx connection") {
    fixture f;
    pqxx::connection plain{pgkit::test::server_url()};
    auto schema = pgkit::connection::quote_identifier(f.schema.name());
    REQUIRE(schema);
    pqxx::nontransaction{plain}.exec("SET search_path TO " + *schema);
    pgkit::repository<wallet> wallets{nullptr};  // no pool at all
    std::int64_t id = 0;
    for (int round = 0; round < 3; ++round) {  // the second round reuses the prepared statements
        pqxx::work w{plain};
        auto saved = wallets.in(w).insert(make_wallet("plain" + std::to_string(round)));
        REQUIRE(saved);
        id = saved->id;
        auto again = wallets.in(w).get(id);
        REQUIRE(again);
        CHECK(again->owner == "plain" + std::to_string(round));
        w.commit();
    }
    CHECK(f.count("SELECT count(*) FROM wallets") == 3);
    // Streams need a pool: a clear error, not a crash.
    pqxx::work w{plain};
    std::vector<wallet> many(300, make_wallet("x"));
    for (std::size_t i = 0; i < many.size(); ++i) {
        many[i].owner = "many" + std::to_string(i);
    }
    auto copied = wallets.in(w).insert_many(many);  // more than a small batch: COPY
    REQUIRE_FALSE(copied);
    CHECK(copied.error().code() == errc::invalid_argument);
}

TEST_CASE("pqxx interop: optimistic locking and soft-delete scopes inside a libpqxx transaction") {
    fixture f;
    auto lease = f.pool->acquire();
    REQUIRE(lease);
    pqxx::work w{pqxx_of(*lease)};
    auto repo = f.wallets.in(w);
    auto saved = repo.insert(make_wallet("lin", 3));
    REQUIRE(saved);
    wallet next = *saved;
    next.balance = 4;
    auto updated = repo.update(next);
    REQUIRE(updated);
    CHECK(updated->version == saved->version + 1);
    wallet stale = *saved;  // the old version
    stale.balance = 99;
    std::optional<wallet> current;
    auto conflict = repo.update(stale, &current);
    REQUIRE_FALSE(conflict);
    CHECK(conflict.error().code() == errc::version_conflict);
    REQUIRE(current);
    CHECK(current->balance == 4);

    REQUIRE(repo.remove(saved->id));  // soft delete
    auto gone = repo.get(saved->id);
    REQUIRE_FALSE(gone);
    CHECK(gone.error().code() == errc::not_found);
    auto deleted = repo.only_deleted().get(saved->id);
    REQUIRE(deleted);
    CHECK(deleted->deleted_at.has_value());
    auto any = repo.with_deleted().count();
    REQUIRE(any);
    CHECK(*any == 1);
    auto live = repo.count();
    REQUIRE(live);
    CHECK(*live == 0);
    w.commit();
    CHECK(f.count("SELECT count(*) FROM wallets WHERE deleted_at IS NOT NULL") == 1);
}

TEST_CASE("pqxx interop: errors inside libpqxx code surface as pgkit errors") {
    fixture f;
    auto lease = f.pool->acquire();
    REQUIRE(lease);
    auto& c = pqxx_of(*lease);
    {
        pqxx::work w{c};
        REQUIRE(f.wallets.in(w).insert(make_wallet("dup")));
        // libpqxx code raising: the exception as a pgkit error.
        auto raised = pgkit::try_pqxx([&] {
            return w.exec(
                "INSERT INTO wallets (owner, balance, version) VALUES "
                "('dup', 0, 1)");
        });
        REQUIRE_FALSE(raised);
        CHECK(raised.error().code() == errc::unique_violation);
        CHECK(raised.error().sqlstate() == "23505");
        CHECK(raised.error().message().find("wallets_owner_key") != std::string::npos);
#if PQXX_VERSION_MAJOR >= 7
        // pgkit in the now failed transaction: the server's 25P02, through libpqxx. (libpqxx 6
        // closes the transaction object on the error instead; docs/libpqxx.md.)
        auto after = f.wallets.in(w).get(1);
        REQUIRE_FALSE(after);
        CHECK(after.error().code() == errc::transaction_aborted);
        CHECK(after.error().sqlstate() == "25P02");
        CHECK(after.error().in_transaction());
#endif
    }
    {
        pqxx::work w{c};
        // pgkit's statement failing inside libpqxx: constraint error with its SQLSTATE.
        auto negative = f.wallets.in(w).insert(make_wallet("neg", -1));
        REQUIRE_FALSE(negative);
        CHECK(negative.error().code() == errc::check_violation);
        CHECK(negative.error().sqlstate() == "23514");
    }
    {
        pqxx::work w{c};
        auto bad = pgkit::try_pqxx([&] { return w.exec("SELEC 1"); });
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code() == errc::syntax_error);
    }
}

TEST_CASE("pqxx interop: a lease returned with an open or failed transaction comes back clean") {
    fixture f;
    int pid = 0;
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        pid = (*lease)->backend_pid();
        pqxx::nontransaction n{pqxx_of(*lease)};
        n.exec("BEGIN");
        n.exec("INSERT INTO audit VALUES ('never committed')");
    }
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        CHECK((*lease)->backend_pid() == pid);
        CHECK((*lease)->status() == pgkit::transaction_status::idle);
        pqxx::nontransaction n{pqxx_of(*lease)};
        n.exec("BEGIN");
        CHECK_FALSE(pgkit::try_pqxx([&] { return n.exec("SELECT 1 / 0"); }));
    }
    CHECK(f.pool->metrics().rollbacks == 2);
    auto lease = f.pool->acquire();
    REQUIRE(lease);
    CHECK((*lease)->backend_pid() == pid);
    CHECK((*lease)->status() == pgkit::transaction_status::idle);
    auto n = (*lease)
                 ->execute("SELECT count(*) FROM audit")
                 .and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE(n);
    CHECK(*n == 0);
}

/// libpqxx 6.4 leaks the PGresult of the statement that finds its session broken (2
/// allocations, about 2 KiB): connection_base::make_result asks the connection for its client
/// encoding before it wraps the PGresult, which throws broken_connection on a broken session,
/// and nothing frees the result. No pointer to it reaches pgkit or the application; libpqxx 7
/// wraps the result first (docs/libpqxx.md). Under LeakSanitizer with libpqxx 6.4, allocations
/// this thread makes while one of these lives are not reported: it guards only the libpqxx calls
/// that meet a broken session, so pgkit's part (the lease, the pool closing and replacing the
/// session) stays checked, and with libpqxx 7 nothing is exempt.
struct libpqxx64_broken_session_leak_exempt {
#if defined(__SANITIZE_ADDRESS__) && PQXX_VERSION_MAJOR < 7
    libpqxx64_broken_session_leak_exempt() {
        __lsan_disable();
    }
    ~libpqxx64_broken_session_leak_exempt() {
        __lsan_enable();
    }
    libpqxx64_broken_session_leak_exempt(const libpqxx64_broken_session_leak_exempt&) = delete;
    libpqxx64_broken_session_leak_exempt& operator=(const libpqxx64_broken_session_leak_exempt&) =
        delete;
#endif
};

TEST_CASE("pqxx interop: a lease returned during COPY or with a broken session is replaced") {
    fixture f;
    int pid = 0;
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        pid = (*lease)->backend_pid();
        pqxx::nontransaction n{pqxx_of(*lease)};
        // COPY left open (as a stream_to that never completed leaves it).
        (void)pgkit::try_pqxx([&] { return n.exec("COPY ledger FROM STDIN"); });
        CHECK((*lease)->status() != pgkit::transaction_status::idle);
    }
    int second = 0;
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        second = (*lease)->backend_pid();
        CHECK(second != pid);
        CHECK((*lease)->status() == pgkit::transaction_status::idle);
        pgkit::test::terminate_backend(f.observer, second);
        auto& c = pqxx_of(*lease);
        auto broken = pgkit::try_pqxx([&] {
            [[maybe_unused]] const libpqxx64_broken_session_leak_exempt libpqxx_leaks_here;
            pqxx::work w{c};
            return w.exec("SELECT 1");
        });
        REQUIRE_FALSE(broken);
        CHECK(broken.error().code() == errc::connection_lost);
        // Later libpqxx calls on the lost session are refused before anything is sent: no
        // further PGresult, so no further leak on libpqxx 6.4 (leak checks on here).
        auto again = pgkit::try_pqxx([&] {
            pqxx::work w{c};
            return w.exec("SELECT 1");
        });
        REQUIRE_FALSE(again);
        CHECK(again.error().code() == errc::connection_lost);
    }
    auto lease = f.pool->acquire();
    REQUIRE(lease);
    CHECK((*lease)->backend_pid() != second);
    CHECK((*lease)->status() == pgkit::transaction_status::idle);
    REQUIRE((*lease)->execute("SELECT 1"));
    CHECK(f.count("SELECT count(*) FROM ledger") == 0);
}

TEST_CASE("pqxx interop: session state and statements libpqxx code leaves are cleared") {
    fixture f;
    int pid = 0;
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        pid = (*lease)->backend_pid();
        REQUIRE(lease->execute_cached("SELECT count(*) FROM audit"));  // pgkit_<n>
        auto& c = pqxx_of(*lease);
        c.prepare("mine", "SELECT 1");
        pqxx::work w{c};
        w.exec("SET statement_timeout = '4321ms'");
        w.exec("SET SESSION application_name = 'changed by pqxx'");
        (void)w.exec_prepared("mine");
        w.commit();
    }
    auto lease = f.pool->acquire();
    REQUIRE(lease);
    CHECK((*lease)->backend_pid() == pid);
    auto timeout = (*lease)
                       ->execute("SHOW statement_timeout")
                       .and_then(&pgkit::query_result::scalar<std::string>);
    REQUIRE(timeout);
    CHECK(*timeout != "4321ms");
    auto names = (*lease)
                     ->execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'mine'")
                     .and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE(names);
    CHECK(*names == 0);
    // The same libpqxx code again on the same session: the name is free, in libpqxx too.
    auto& c = pqxx_of(*lease);
    c.prepare("mine", "SELECT 2");
    pqxx::work w{c};
    auto two = pgkit::try_pqxx([&] { return w.exec_prepared("mine")[0][0].as<int>(); });
    REQUIRE(two);
    CHECK(*two == 2);
}

TEST_CASE("pqxx interop: a lease promised to keep state is not reset") {
    fixture f;
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        auto c = pgkit::pqxx_connection_of(*lease, pgkit::pqxx_session_use::keeps_state);
        REQUIRE(c);
        pqxx::work w{c->get()};
        w.exec("SELECT 1");
        w.commit();
    }
    CHECK(f.pool->metrics().resets == 0);
    {
        auto lease = f.pool->acquire();
        REQUIRE(lease);
        // Not reset, but checked: what the libpqxx code ran may have called functions.
        CHECK((*lease)->session_check_pending());
        CHECK_FALSE((*lease)->key_read_proof_pending());
        REQUIRE(pgkit::pqxx_connection_of(*lease));
    }
    CHECK(f.pool->metrics().resets == 1);
    pgkit::lease empty = std::move(*f.pool->acquire());
    empty.release();
    auto none = pgkit::pqxx_connection_of(empty);
    REQUIRE_FALSE(none);
    CHECK(none.error().code() == errc::invalid_argument);
}

namespace {

/// `options` as a libpq connection string, each value quoted, as an application's central
/// libpqxx configuration would hold it.
std::string conninfo_of(const pgkit::connection_options& options) {
    std::string out;
    for (const auto& [key, value] : options.to_keywords()) {
        out += key + "='";
        for (const char ch : value) {
            if (ch == '\'' || ch == '\\') {
                out += '\\';
            }
            out += ch;
        }
        out += "' ";
    }
    return out;
}

/// Pool options whose sessions an application's libpqxx factory opens (with `tag` as its
/// application_name); `broken` makes the factory throw, `opened` counts its calls.
pgkit::pool_options factory_pool_options(const pgkit::test::scratch_schema& schema,
                                         std::size_t size,
                                         const std::string& tag,
                                         std::atomic<bool>& broken,
                                         std::atomic<int>& opened) {
    auto options = pgkit::test::test_pool_options(schema, size);
    auto where = options.connection;
    where.application_name = tag;
    const std::string conninfo = conninfo_of(where);
    options.open_session = pgkit::pqxx_session_opener(
        [conninfo, &broken, &opened]() -> std::unique_ptr<pqxx::connection> {
            ++opened;
            if (broken) {
                throw pqxx::broken_connection{
                    "central config: server unreachable password=hunter2"};
            }
            auto c = std::make_unique<pqxx::connection>(conninfo);
#if PQXX_VERSION_MAJOR >= 7
            // libpqxx 7 hands this very session over: a SET here is visible on the first lease.
            pqxx::nontransaction n{*c};
            n.exec("SET lock_timeout = '1234ms'");
#endif
            return c;
        });
    return options;
}

std::string show(pgkit::lease& l, std::string_view setting) {
    auto value = l->execute("SELECT current_setting($1)", std::string{setting})
                     .and_then(&pgkit::query_result::scalar<std::string>);
    REQUIRE(value);
    return *value;
}

}  // namespace

TEST_CASE("pqxx interop: a pool built on a libpqxx connection factory serves 4 threads") {
    pgkit::test::scratch_schema schema;
    auto observer = schema.connect();
    REQUIRE(observer.execute_script(schema_sql));
    std::atomic<bool> broken{false};
    std::atomic<int> opened{0};
    auto pool = pgkit::test::make_pool(
        factory_pool_options(schema, 2, pgkit::test::unique_app_name(), broken, opened));
    pgkit::repository<wallet> wallets{pool};
    constexpr int workers = 4;
    constexpr int rounds = 10;
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int worker = 0; worker < workers; ++worker) {
        threads.emplace_back([&, worker] {
            for (int seq = 0; seq < rounds; ++seq) {
                pgkit::result<void> done;
                {
                    // A lease at a time (the pool has 2 sessions for 4 threads).
                    auto lease = pool->acquire();
                    auto c = lease ? pgkit::pqxx_connection_of(*lease)
                                   : decltype(pgkit::pqxx_connection_of(*lease)){
                                         tl::unexpected(lease.error())};
                    done = c ? pgkit::try_pqxx([&] { legacy_record(c->get(), worker, seq); })
                             : pgkit::result<void>{tl::unexpected(c.error())};
                }
                auto saved = wallets.insert(
                    make_wallet("w" + std::to_string(worker) + "-" + std::to_string(seq)));
                if (!done || !saved) {
                    ++failures;
                    MESSAGE((!done ? done.error() : saved.error()).to_string());
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(failures == 0);
    auto n = observer.execute("SELECT count(*) FROM ledger WHERE note = 'updated'")
                 .and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE(n);
    CHECK(*n == workers * rounds);
    auto count = wallets.count();
    REQUIRE(count);
    CHECK(*count == workers * rounds);
    CHECK(opened >= 1);
    CHECK(opened <= 2 * 2);  // at most max_size sessions, plus refills if one was replaced
}

TEST_CASE(
    "pqxx interop: a throwing connection factory gives connection_failed and the pool recovers") {
    pgkit::test::scratch_schema schema;
    std::atomic<bool> broken{true};
    std::atomic<int> opened{0};
    auto options = factory_pool_options(schema, 1, pgkit::test::unique_app_name(), broken, opened);
    options.acquire_timeout = std::chrono::milliseconds{1500};
    auto pool = pgkit::test::make_pool(std::move(options));
    auto failed = pool->acquire();
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code() == errc::connection_failed);
    CHECK(failed.error().message().find("server unreachable") != std::string::npos);
    CHECK(failed.error().message().find("hunter2") == std::string::npos);
    CHECK(opened >= 1);
    broken = false;
    // The pool's own retry and backoff open a session once the factory works again.
    std::optional<pgkit::lease> lease;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds{20};
    while (!lease && std::chrono::steady_clock::now() < give_up) {
        auto next = pool->acquire();
        if (next) {
            lease.emplace(std::move(*next));
        } else {
            CHECK(next.error().code() == errc::connection_failed);
        }
    }
    REQUIRE(lease);
    auto one = (*lease)->execute("SELECT 1").and_then(&pgkit::query_result::scalar<std::int32_t>);
    REQUIRE(one);
    CHECK(*one == 1);
}

TEST_CASE("pqxx interop: the connection factory's settings are visible on leases until a reset") {
    pgkit::test::scratch_schema schema;
    std::atomic<bool> broken{false};
    std::atomic<int> opened{0};
    const std::string tag = pgkit::test::unique_app_name() + "_factory";
    auto options = factory_pool_options(schema, 1, tag, broken, opened);
    options.session.statement_timeout = std::chrono::milliseconds{4321};
    auto pool = pgkit::test::make_pool(std::move(options));
    {
        auto lease = pool->acquire();
        REQUIRE(lease);
        // The factory's connection string (application_name) and the pool's session settings
        // (applied with SET, since the factory opened the session).
        CHECK(show(*lease, "application_name") == tag);
        CHECK(show(*lease, "statement_timeout") == "4321ms");
#if PQXX_VERSION_MAJOR >= 7
        CHECK(show(*lease, "lock_timeout") == "1234ms");  // the factory's own SET
#endif
        REQUIRE((*lease)->execute("SET work_mem = '7MB'"));  // makes the session dirty
    }
    auto lease = pool->acquire();
    REQUIRE(lease);
    CHECK(opened == 1);  // the same session, reset
    CHECK(show(*lease, "work_mem") != "7MB");
    // The reset keeps what the session started with (its connection string) and re-applies
    // the pool's settings; a SET the factory ran is a session change like any other: gone.
    CHECK(show(*lease, "application_name") == tag);
    CHECK(show(*lease, "statement_timeout") == "4321ms");
    CHECK(show(*lease, "lock_timeout") != "1234ms");
}
