// pooler_mode::transaction against a real PgBouncer in transaction mode (scripts/pgbouncer, with
// PgBouncer's defaults for everything a client sees): what a connection refuses before sending,
// what stays allowed because it ends with its transaction, and a pool under load whose client
// connections share server sessions, beside the same pool without the mode, which breaks.
//
// Each case works as a role of its own (a schema of the same name, search_path pinned with ALTER
// ROLE), so PgBouncer gives it a server pool of its own: no other test's clients take or release
// its server sessions. PgBouncer hands out idle server sessions last-in, first-out (its default,
// server_round_robin = 0), so statements a test runs one after another, from whichever client
// connection, run on the same server session: that makes the sharing below deterministic.
//
// Environment (set by CTest, see tests/CMakeLists.txt): PGKIT_TEST_PGBOUNCER_URL_FILE names the
// file holding PgBouncer's URL, PGKIT_TEST_URL_FILE the server behind it.
#include "pgkit/connection.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/listener.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"

#include "integration/topology_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;

struct note {
    std::int64_t id = 0;
    std::string body;
    std::int64_t version = 0;
};

}  // namespace

template <>
struct pgkit::entity<note> {
    static constexpr std::string_view table = "notes";
    static constexpr auto columns = std::tuple{
        pgkit::column(&note::id, "id", pgkit::generated),
        pgkit::column(&note::body, "body"),
        pgkit::column(&note::version, "version"),
    };
    static constexpr auto primary_key = pgkit::key(&note::id);
    static constexpr auto version = &note::version;
};

namespace {

using pgkit::test::bouncer_url;
using pgkit::test::run;
using pgkit::test::scalar;

std::string error_text(const pgkit::error& e) {
    return e.to_string();
}

/// A scratch_role to log in as through PgBouncer.
class bouncer_role {
  public:
    explicit bouncer_role(std::string_view stem)
        : role_(fmt::format("pgkit_bouncer_{}_{}_{}", stem, ::getpid(), counter()++)) {}

    [[nodiscard]] const std::string& name() const { return role_.name(); }

    /// Logs in as this role through PgBouncer, with the given pooler mode.
    [[nodiscard]] pgkit::connection_options options(pgkit::pooler_mode pooler) const {
        auto options = pgkit::connection_options::parse(bouncer_url());
        REQUIRE(options);
        options->user = name();
        options->application_name = "pgkit-topology-tests";
        options->connect_timeout = 10s;
        options->pooler = pooler;
        return *options;
    }

    [[nodiscard]] pgkit::connection connect(pgkit::pooler_mode pooler) const {
        auto conn = pgkit::connection::open(options(pooler));
        REQUIRE_MESSAGE(conn, "cannot connect through PgBouncer: ",
                        conn ? std::string{} : error_text(conn.error()));
        return std::move(*conn);
    }

    [[nodiscard]] pgkit::pool_options pool_options(pgkit::pooler_mode pooler,
                                                   std::size_t max_size) const {
        pgkit::pool_options options;
        options.connection = this->options(pooler);
        options.name = name();
        options.max_size = max_size;
        options.acquire_timeout = 10s;
        options.connect_timeout = 10s;
        return options;
    }

  private:
    static std::atomic<unsigned>& counter() {
        static std::atomic<unsigned> n{0};
        return n;
    }
    pgkit::test::scratch_role role_;
};

/// What the role's server sessions have run, as the server itself shows it: (pid, last
/// statement, when its state last changed), ordered by pid. A statement that reaches a session
/// changes its row.
using session_trace = std::vector<std::tuple<std::int32_t, std::string, std::string>>;

session_trace trace_of(pgkit::connection& admin, const std::string& role) {
    auto rows = admin.execute(
        "SELECT pid, query, state_change::text FROM pg_stat_activity WHERE usename = $1 "
        "ORDER BY pid",
        role);
    REQUIRE_MESSAGE(rows, error_text(rows.error()));
    session_trace trace;
    for (const auto& r : *rows) {
        trace.emplace_back(r.get<std::int32_t>(0).value(), r.get<std::string>(1).value(),
                           r.get<std::optional<std::string>>(2).value().value_or(""));
    }
    return trace;
}

std::int64_t count(pgkit::connection& admin, std::string_view sql, const std::string& role) {
    auto n = admin.execute(sql, role).and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(n, error_text(n.error()));
    return *n;
}

/// The server process behind a client connection's next statement.
std::int32_t backend_of(pgkit::connection& conn) {
    return scalar<std::int32_t>(conn, "SELECT pg_backend_pid()");
}

bool is_prepared_statement_error(const pgkit::error& e) {
    // 26000 "prepared statement ... does not exist", 42P05 "... already exists"
    return e.sqlstate() == "26000" || e.sqlstate() == "42P05" ||
           e.message().find("prepared statement") != std::string::npos;
}

/// Failures seen by the load test's threads (which must not REQUIRE).
class failure_log {
  public:
    void add(std::string what) {
        std::lock_guard guard{mutex_};
        ++count_;
        if (kept_.size() < 10) {
            kept_.push_back(std::move(what));
        }
    }
    void add(const pgkit::error& e, std::string_view where) {
        if (is_prepared_statement_error(e)) {
            prepared_statement_errors_.fetch_add(1);
        }
        add(fmt::format("{}: {}", where, error_text(e)));
    }
    [[nodiscard]] std::size_t count() const {
        std::lock_guard guard{mutex_};
        return count_;
    }
    [[nodiscard]] std::size_t prepared_statement_errors() const {
        return prepared_statement_errors_.load();
    }
    [[nodiscard]] std::string first() const {
        std::lock_guard guard{mutex_};
        std::string text;
        for (const auto& line : kept_) {
            text += line + "\n";
        }
        return text;
    }

  private:
    mutable std::mutex mutex_;
    std::size_t count_ = 0;
    std::atomic<std::size_t> prepared_statement_errors_{0};
    std::vector<std::string> kept_;
};

}  // namespace

TEST_SUITE("topology") {
    TEST_CASE(
        "topology: PgBouncer with pooler_mode::transaction refuses session state before "
        "sending it and runs what ends with the transaction") {
        const bouncer_role role{"refuse"};
        auto admin = pgkit::test::connect_directly();
        auto conn = role.connect(pgkit::pooler_mode::transaction);
        const auto default_search_path = role.name() + ", public";
        REQUIRE(scalar<std::string>(conn, "SELECT current_setting('search_path')") ==
                default_search_path);
        const auto before = trace_of(admin, role.name());
        REQUIRE_FALSE(before.empty());  // the session that ran the statement above

        struct refusal {
            std::string_view sql;
            std::string_view feature;  // as the error names it
        };
        const refusal refusals[] = {
            {"LISTEN pgkit_bouncer_channel", "LISTEN"},
            {"SET search_path = x", "a session setting"},
            {"SELECT pg_advisory_lock(1)", "a session-level advisory lock"},
            {"PREPARE q AS SELECT 1", "a named prepared statement (PREPARE)"},
            {"CREATE TEMP TABLE t (x int)", "a temporary table that outlives its transaction"},
            {"DECLARE c CURSOR WITH HOLD FOR SELECT 1", "a cursor WITH HOLD"},
        };
        for (const auto& r : refusals) {
            CAPTURE(r.sql);
            auto as_statement = conn.execute(r.sql);
            REQUIRE_FALSE(as_statement);
            CHECK(as_statement.error().code() == errc::invalid_argument);
            CHECK(as_statement.error().message().find(r.feature) != std::string::npos);
            CHECK(as_statement.error().message().find("transaction-mode pooler") !=
                  std::string::npos);
            auto as_script = conn.execute_script(r.sql);
            REQUIRE_FALSE(as_script);
            CHECK(as_script.error().code() == errc::invalid_argument);
            CHECK(as_script.error().message().find(r.feature) != std::string::npos);
        }
        // With bound parameters too, and hidden behind a harmless statement in a script.
        auto bound = conn.execute("SELECT pg_advisory_lock($1)", std::int64_t{1});
        REQUIRE_FALSE(bound);
        CHECK(bound.error().code() == errc::invalid_argument);
        auto hidden = conn.execute_script("SELECT 1; SET search_path = x");
        REQUIRE_FALSE(hidden);
        CHECK(hidden.error().code() == errc::invalid_argument);
        auto prepared = conn.prepare("q", "SELECT 1");
        REQUIRE_FALSE(prepared);
        CHECK(prepared.error().code() == errc::invalid_argument);
        CHECK(prepared.error().message().find("named prepared statements") != std::string::npos);

        // Nothing reached the server: no server session of the role ran a statement since
        // (each would show it as its last query, with a new state_change), nor holds a lock,
        // nor has a temporary table.
        CHECK(trace_of(admin, role.name()) == before);
        CHECK(count(admin,
                    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                    "WHERE l.locktype = 'advisory' AND a.usename = $1",
                    role.name()) == 0);
        CHECK(count(admin,
                    "SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND "
                    "relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)",
                    role.name()) == 0);
        CHECK(scalar<std::string>(conn, "SELECT current_setting('search_path')") ==
              default_search_path);

        // What ends with its transaction works: the transaction keeps one server session.
        run(conn, "BEGIN");
        run(conn, "SET LOCAL search_path = pg_catalog");
        CHECK(scalar<std::string>(conn, "SELECT current_setting('search_path')") == "pg_catalog");
        run(conn, "SET LOCAL statement_timeout = '1234ms'");
        CHECK(scalar<std::string>(conn, "SHOW statement_timeout") == "1234ms");
        CHECK(scalar<std::string>(conn, "SELECT set_config('pgkit.marker', 'on', true)") == "on");
        CHECK(scalar<std::string>(conn, "SELECT current_setting('pgkit.marker')") == "on");
        run(conn, "CREATE TEMP TABLE scratch (x int) ON COMMIT DROP");
        run(conn, "INSERT INTO scratch SELECT generate_series(1, 3)");
        CHECK(scalar<std::int64_t>(conn, "SELECT count(*) FROM scratch") == 3);
        CHECK(scalar<std::string>(conn,
                                  "SELECT relpersistence::text FROM pg_class WHERE oid = "
                                  "'scratch'::regclass") == "t");
        run(conn, "COMMIT");
        CHECK(scalar<std::string>(conn, "SELECT current_setting('search_path')") ==
              default_search_path);
        CHECK(scalar<std::string>(conn, "SHOW statement_timeout") == "0");
        CHECK(scalar<std::string>(
                  conn, "SELECT coalesce(current_setting('pgkit.marker', true), '')") == "");
        // Had the table outlived its transaction, the commit would have made it visible here.
        CHECK(count(admin,
                    "SELECT count(*) FROM pg_class WHERE relpersistence = 't' AND "
                    "relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)",
                    role.name()) == 0);
        // One statement's own transaction: set_config(..., true) outside BEGIN is allowed too.
        CHECK(scalar<std::string>(conn, "SELECT set_config('pgkit.marker', 'on', true)") == "on");
        CHECK(conn.status() == pgkit::transaction_status::idle);
    }

    TEST_CASE(
        "topology: PgBouncer shares server sessions between a pool's connections: the "
        "statement cache breaks without pooler_mode::transaction and is off with it") {
        // Two leases held at once are two client connections; run one after the other, their
        // statements land on the same server session (see the top of this file).
        SUBCASE("without the mode both caches name their first statement pgkit_1") {
            const bouncer_role role{"cache"};
            auto pool = pgkit::pool::create(role.pool_options(pgkit::pooler_mode::none, 2));
            REQUIRE(pool);
            auto a = (*pool)->acquire();
            auto b = (*pool)->acquire();
            REQUIRE(a);
            REQUIRE(b);
            REQUIRE(&a->get() != &b->get());
            REQUIRE(backend_of(a->get()) == backend_of(b->get()));

            auto first = a->execute_cached("SELECT $1::int8 * 2", std::int64_t{21});
            REQUIRE_MESSAGE(first, error_text(first.error()));
            CHECK(first->scalar<std::int64_t>().value() == 42);
            auto second = b->execute_cached("SELECT $1::int8 * 3", std::int64_t{14});
            REQUIRE_FALSE(second);
            CHECK(second.error().sqlstate() == "42P05");
            CHECK(second.error().message().find("already exists") != std::string::npos);
            CHECK(is_prepared_statement_error(second.error()));
        }
        SUBCASE("with the mode nothing is prepared and both leases get their answers") {
            const bouncer_role role{"nocache"};
            auto pool = pgkit::pool::create(role.pool_options(pgkit::pooler_mode::transaction, 2));
            REQUIRE(pool);
            auto a = (*pool)->acquire();
            auto b = (*pool)->acquire();
            REQUIRE(a);
            REQUIRE(b);
            REQUIRE(&a->get() != &b->get());
            const auto shared = backend_of(a->get());
            REQUIRE(backend_of(b->get()) == shared);

            for (int round = 0; round < 3; ++round) {
                auto first = a->execute_cached("SELECT $1::int8 * 2", std::int64_t{21});
                REQUIRE_MESSAGE(first, error_text(first.error()));
                CHECK(first->scalar<std::int64_t>().value() == 42);
                auto second = b->execute_cached("SELECT $1::int8 * 3", std::int64_t{14});
                REQUIRE_MESSAGE(second, error_text(second.error()));
                CHECK(second->scalar<std::int64_t>().value() == 42);
            }
            CHECK(backend_of(a->get()) == shared);
            CHECK(scalar<std::int64_t>(a->get(), "SELECT count(*) FROM pg_prepared_statements") ==
                  0);
        }
    }

    TEST_CASE(
        "topology: PgBouncer in transaction mode runs pipelines, segment by segment and "
        "inside transactions") {
        const bouncer_role role{"pipeline"};
        auto pool = pgkit::pool::create(role.pool_options(pgkit::pooler_mode::transaction, 2));
        REQUIRE(pool);
        {
            auto setup = (*pool)->acquire();
            REQUIRE(setup);
            REQUIRE((*setup)->execute_script("CREATE TABLE piped (id int PRIMARY KEY)"));
        }
        // Two client connections share the role's server session (see the top of this file):
        // each segment of one is a transaction PgBouncer may give to either.
        auto a = (*pool)->acquire();
        auto b = (*pool)->acquire();
        REQUIRE(a);
        REQUIRE(b);
        for (int round = 0; round < 3; ++round) {
            auto p = a->start_pipeline();
            REQUIRE(p);
            const int base = round * 10;
            REQUIRE(p->add("INSERT INTO piped VALUES ($1) RETURNING id", base + 1));
            REQUIRE(p->add_cached("SELECT count(*) FROM piped WHERE id > $1", base));
            REQUIRE(p->sync());
            REQUIRE(p->add("INSERT INTO piped VALUES ($1) RETURNING id", base + 1));  // duplicate
            REQUIRE(p->add("SELECT 1"));
            REQUIRE(p->sync());
            REQUIRE(p->add_command("INSERT INTO piped VALUES ($1)", base + 2));
            auto inserted = p->next();
            REQUIRE_MESSAGE(inserted, error_text(inserted.error()));
            CHECK(inserted->scalar<std::int32_t>() == base + 1);
            CHECK(p->next()->scalar<std::int64_t>() == 1);
            CHECK(p->next().error().code() == errc::unique_violation);
            CHECK(p->next().error().code() == errc::transaction_aborted);
            auto finished = p->finish();
            CHECK_MESSAGE(finished, error_text(finished.error()));
            // The other client connection, between pipelines, on the same server session.
            CHECK(scalar<std::int64_t>(b->get(), "SELECT count(*) FROM piped") == 2 * round + 2);
        }
        a->release();
        b->release();

        auto done = (*pool)->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            auto p = tx.start_pipeline();
            if (!p) {
                return tl::unexpected(p.error());
            }
            for (int id = 100; id < 103; ++id) {
                (void)p->add_command("INSERT INTO piped VALUES ($1)", id);
            }
            return p->finish();
        });
        REQUIRE_MESSAGE(done, error_text(done.error()));
        auto check = (*pool)->acquire();
        REQUIRE(check);
        CHECK(scalar<std::int64_t>(check->get(), "SELECT count(*) FROM piped WHERE id >= 100") ==
              3);
    }

    TEST_CASE(
        "topology: PgBouncer carries 8 threads of cached statements, transactions and "
        "repository calls through a pool with pooler_mode::transaction") {
        constexpr int threads = 8;
        constexpr int iterations = 120;
        const bouncer_role role{"load"};
        {
            auto setup = role.connect(pgkit::pooler_mode::transaction);
            run(setup,
                "CREATE TABLE counters (id int PRIMARY KEY, n int8 NOT NULL DEFAULT 0);"
                "INSERT INTO counters (id) SELECT generate_series(0, 7);"
                "CREATE TABLE notes (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "body text NOT NULL, version int8 NOT NULL)");
        }
        auto created =
            pgkit::pool::create(role.pool_options(pgkit::pooler_mode::transaction, threads));
        REQUIRE(created);
        const std::shared_ptr<pgkit::pool> pool = std::move(*created);
        const pgkit::repository<note> notes{pool};

        // Per thread its own SQL texts, so a statement of another thread's connection running
        // under a shared name would give a wrong answer, not just an error.
        const auto times = [](int t) { return fmt::format("SELECT $1::int8 * {}", t + 2); };

        // All 8 connections, one after another: the same server session serves them all.
        std::set<std::int32_t> sequential_backends;
        {
            std::vector<pgkit::lease> leases;
            for (int t = 0; t < threads; ++t) {
                auto leased = pool->acquire();
                REQUIRE(leased);
                leases.push_back(std::move(*leased));
            }
            for (int t = 0; t < threads; ++t) {
                auto product = leases[t].execute_cached(times(t), std::int64_t{10});
                REQUIRE_MESSAGE(product, error_text(product.error()));
                CHECK(product->scalar<std::int64_t>().value() == 10 * (t + 2));
                sequential_backends.insert(backend_of(leases[t].get()));
            }
        }
        CHECK(sequential_backends.size() == 1);

        failure_log failures;
        std::atomic<int> wrong_answers{0};
        std::mutex seen_mutex;
        std::map<const void*, std::set<std::int32_t>> backends_of_client;
        std::map<std::int32_t, std::set<const void*>> clients_of_backend;
        const auto seen = [&](const pgkit::connection& client, std::int32_t backend) {
            std::lock_guard guard{seen_mutex};
            backends_of_client[&client].insert(backend);
            clients_of_backend[backend].insert(&client);
        };

        const auto work = [&](int t) {
            for (int i = 0; i < iterations; ++i) {
                {
                    auto leased = pool->acquire();
                    if (!leased) {
                        failures.add(leased.error(), "acquire");
                        continue;
                    }
                    auto product = leased->execute_cached(times(t), std::int64_t{i});
                    if (!product) {
                        failures.add(product.error(), "execute_cached");
                    } else if (product->scalar<std::int64_t>().value_or(-1) != i * (t + 2)) {
                        ++wrong_answers;
                    }
                    auto backend = leased->execute_cached("SELECT pg_backend_pid()")
                                       .and_then(&pgkit::query_result::scalar<std::int32_t>);
                    if (!backend) {
                        failures.add(backend.error(), "pg_backend_pid");
                    } else {
                        seen(leased->get(), *backend);
                    }
                }
                auto counted = pool->with_transaction(
                    [&](pgkit::transaction& tx) -> pgkit::result<std::int64_t> {
                        auto marked = tx.execute_cached(
                            "SELECT set_config('pgkit.thread', $1, true)", std::to_string(t));
                        if (!marked) {
                            return tl::unexpected(marked.error());
                        }
                        auto bumped = tx.execute_cached(
                            "UPDATE counters SET n = n + 1 WHERE id = $1 RETURNING n",
                            std::int32_t{t});
                        if (!bumped) {
                            return tl::unexpected(bumped.error());
                        }
                        // The whole transaction ran on one server session: the setting is there.
                        auto mark = tx.execute_cached("SELECT current_setting('pgkit.thread')")
                                        .and_then(&pgkit::query_result::scalar<std::string>);
                        if (!mark) {
                            return tl::unexpected(mark.error());
                        }
                        if (*mark != std::to_string(t)) {
                            ++wrong_answers;
                        }
                        return bumped->scalar<std::int64_t>();
                    });
                if (!counted) {
                    failures.add(counted.error(), "with_transaction");
                } else if (*counted != i + 1) {
                    ++wrong_answers;
                }
                auto inserted = notes.insert(note{.body = fmt::format("{}-{}", t, i)});
                if (!inserted) {
                    failures.add(inserted.error(), "repository insert");
                    continue;
                }
                auto changed = *inserted;
                changed.body += "!";
                auto updated = notes.update(changed);
                if (!updated) {
                    failures.add(updated.error(), "repository update");
                    continue;
                }
                auto read = notes.get(inserted->id);
                if (!read) {
                    failures.add(read.error(), "repository get");
                } else if (read->body != fmt::format("{}-{}!", t, i) ||
                           read->version != inserted->version + 1) {
                    ++wrong_answers;
                }
            }
        };
        {
            std::vector<std::jthread> workers;
            for (int t = 0; t < threads; ++t) {
                workers.emplace_back(work, t);
            }
        }

        CHECK_MESSAGE(failures.count() == 0, failures.first());
        CHECK(failures.prepared_statement_errors() == 0);
        CHECK(wrong_answers.load() == 0);
        auto check = role.connect(pgkit::pooler_mode::transaction);
        CHECK(scalar<std::int64_t>(check, "SELECT count(*) FROM counters WHERE n <> " +
                                              std::to_string(iterations)) == 0);
        CHECK(scalar<std::int64_t>(check, "SELECT count(*) FROM notes WHERE body LIKE '%!'") ==
              threads * iterations);
        CHECK(scalar<std::int64_t>(check, "SELECT count(*) FROM pg_prepared_statements") == 0);
        // The load did move connections between server sessions and share them, so the cache
        // would have broken here too without the mode.
        std::size_t most_backends = 0;
        std::size_t most_clients = 0;
        for (const auto& [client, backends] : backends_of_client) {
            most_backends = std::max(most_backends, backends.size());
        }
        for (const auto& [backend, clients] : clients_of_backend) {
            most_clients = std::max(most_clients, clients.size());
        }
        MESSAGE("client connections: ", backends_of_client.size(),
                ", server sessions: ", clients_of_backend.size(),
                ", most server sessions one client used: ", most_backends,
                ", most clients one server session served: ", most_clients);
        CHECK(most_clients >= 2);
        CHECK(pool->metrics().in_use == 0);
    }

    TEST_CASE(
        "topology: PgBouncer: a pool with pooler_mode::transaction refuses session "
        "settings at creation") {
        const bouncer_role role{"settings"};
        const auto base = role.pool_options(pgkit::pooler_mode::transaction, 2);
        auto with = [&](auto&& change) {
            auto options = base;
            change(options.session);
            return pgkit::pool::create(options);
        };
        using pgkit::session_options;
        const std::vector<std::pair<std::string, pgkit::result<std::shared_ptr<pgkit::pool>>>>
            refused = {
                {"search_path", with([](session_options& s) { s.search_path = {"x"}; })},
                {"statement_timeout", with([](session_options& s) { s.statement_timeout = 5s; })},
                {"lock_timeout", with([](session_options& s) { s.lock_timeout = 1s; })},
                {"idle_in_transaction_session_timeout",
                 with([](session_options& s) { s.idle_in_transaction_session_timeout = 1min; })},
                {"settings", with([](session_options& s) {
                     s.settings = {{"work_mem", "64MB"}};
                 })},
                {"settings by SET statements", with([](session_options& s) {
                     s.settings = {{"work_mem", "64MB"}};
                     s.mode = pgkit::session_init_mode::set_statements;
                 })},
            };
        for (const auto& [what, created] : refused) {
            CAPTURE(what);
            REQUIRE_FALSE(created);
            CHECK(created.error().code() == errc::invalid_argument);
            CHECK(created.error().message().find("transaction-mode pooler") != std::string::npos);
        }
        // The same options without session settings make a pool that works through PgBouncer.
        auto plain = pgkit::pool::create(base);
        REQUIRE(plain);
        auto leased = (*plain)->acquire();
        REQUIRE_MESSAGE(leased, error_text(leased.error()));
        CHECK(scalar<std::string>(leased->get(), "SELECT current_user") == role.name());
    }

    TEST_CASE(
        "topology: PgBouncer in transaction mode cannot carry a listener, and notify() through "
        "it reaches a listener connected directly") {
        const bouncer_role role{"listen"};
        auto refused =
            pgkit::listener::create({.connection = role.options(pgkit::pooler_mode::transaction)});
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::invalid_argument);
        CHECK(refused.error().message().find("transaction-mode pooler") != std::string::npos);
        CHECK(refused.error().message().find("direct connection") != std::string::npos);

        auto direct = pgkit::listener::create({.connection = pgkit::test::server_options()});
        REQUIRE(direct);
        auto& listening = **direct;
        const std::string channel = fmt::format("Bouncer channel {}", ::getpid());
        REQUIRE(listening.listen(channel));
        auto started = listening.start();
        REQUIRE_MESSAGE(started, (started ? std::string{} : error_text(started.error())));

        auto through_pooler = role.connect(pgkit::pooler_mode::transaction);
        auto sent = pgkit::notify(through_pooler, channel, "through PgBouncer");
        REQUIRE_MESSAGE(sent, (sent ? std::string{} : error_text(sent.error())));
        auto event = listening.next(10s);
        REQUIRE(event);
        REQUIRE(event->has_value());
        const auto* received = std::get_if<pgkit::notification>(&**event);
        REQUIRE(received != nullptr);
        CHECK(received->channel == channel);
        CHECK(received->payload == "through PgBouncer");
        // The sender is whichever server session PgBouncer lent the client: one of the role's.
        auto admin = pgkit::test::connect_directly();
        auto senders =
            admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND pid = $2",
                          role.name(), std::int32_t{received->sender_pid});
        REQUIRE(senders);
        CHECK(senders->scalar<std::int64_t>().value() == 1);
    }

    TEST_CASE(
        "topology: PgBouncer in transaction mode runs savepoints and COPY out, and a stopped "
        "COPY leaves the client connection usable") {
        const bouncer_role role{"copyout"};
        auto conn = role.connect(pgkit::pooler_mode::transaction);
        run(conn, "CREATE TABLE notes (id int8 PRIMARY KEY, body text)");

        auto pool = pgkit::pool::create(role.pool_options(pgkit::pooler_mode::transaction, 1));
        REQUIRE(pool);
        auto done = (*pool)->with_transaction([](pgkit::transaction& tx) -> pgkit::result<void> {
            REQUIRE(tx.execute("INSERT INTO notes VALUES (1, 'kept')"));
            auto undone = tx.savepoint([&]() -> pgkit::result<void> {
                REQUIRE(tx.execute("INSERT INTO notes VALUES (2, 'undone')"));
                return tx.execute("INSERT INTO notes VALUES (1, 'clash')").map([](auto&&) {});
            });
            REQUIRE_FALSE(undone);
            CHECK(undone.error().code() == errc::unique_violation);
            return tx.savepoint([&]() {
                return tx.execute("INSERT INTO notes VALUES (3, 'released')").map([](auto&&) {});
            });
        });
        REQUIRE_MESSAGE(done, (done ? std::string{} : error_text(done.error())));
        CHECK(scalar<std::int64_t>(conn, "SELECT count(*) FROM notes WHERE id IN (1, 3)") == 2);
        CHECK(scalar<std::int64_t>(conn, "SELECT count(*) FROM notes WHERE id = 2") == 0);

        std::vector<std::string> bodies;
        auto exported = conn.copy_out("SELECT body FROM notes WHERE id = $1::int8 OR body = $2",
                                      pgkit::parameters{std::int64_t{1}, std::string{"released"}},
                                      [&](const pgkit::copy_row& r) -> pgkit::result<bool> {
                                          bodies.emplace_back(r.field(0).value_or("NULL"));
                                          return true;
                                      });
        REQUIRE_MESSAGE(exported, (exported ? std::string{} : error_text(exported.error())));
        CHECK(*exported == 2);
        std::sort(bodies.begin(), bodies.end());
        CHECK(bodies == std::vector<std::string>{"kept", "released"});
        auto stopped = conn.copy_out("SELECT g FROM generate_series(1, 1000000) AS g",
                                     [](const pgkit::copy_row& r) -> pgkit::result<bool> {
                                         return r.get<std::int64_t>(0).value() < 5;
                                     });
        REQUIRE_MESSAGE(stopped, (stopped ? std::string{} : error_text(stopped.error())));
        CHECK(*stopped == 5);
        CHECK(scalar<std::int64_t>(conn, "SELECT 12") == 12);
        run(conn, "DROP TABLE notes");
    }
}
