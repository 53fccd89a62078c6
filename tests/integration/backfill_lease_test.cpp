// The lease mode of the runner lock (backfill_runner_lock::lease), against the real server: one
// runner among several racing, fencing (a runner whose lease was taken over commits nothing
// more), renewal while a runner waits, inspect and reset with live and expired leases, the two
// modes excluding each other, and the automatic choice behind a transaction-mode pooler (the
// pooler_mode flag on a pool that reaches the server directly: every statement that would leave
// session state is refused before it is sent, so the run shows it needs none). The SIGKILL test
// is in backfill_kill_test.cpp.
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "integration/backfill_test_support.hpp"
#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::backfill_options;
using pgkit::backfill_runner_lock;
using pgkit::backfill_spec;
using pgkit::backfill_status;
using pgkit::errc;
using pgkit::test::count_where;
using pgkit::test::counter_spec;
using pgkit::test::create_items;
using pgkit::test::eventually;
using pgkit::test::fixed_batches;
using pgkit::test::make_pool;
using pgkit::test::run_lease;
using pgkit::test::run_name;
using pgkit::test::run_rows_done;
using pgkit::test::run_status;
using pgkit::test::runner_lock_holders;
using pgkit::test::test_pool_options;

/// Lease mode, batches of exactly `size`, leases of `lease`.
backfill_options leased(std::size_t size, std::chrono::milliseconds lease = 30s) {
    backfill_options options = fixed_batches(size);
    options.runner_lock = backfill_runner_lock::lease;
    options.lease_duration = lease;
    return options;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// A run on a thread of its own, with a pool of its own (whose sessions carry its own
/// application_name), cancellable.
class runner_thread {
  public:
    runner_thread(const pgkit::test::scratch_schema& schema,
                  backfill_spec spec,
                  backfill_options options)
        : pool_options_(test_pool_options(schema)), pool_(make_pool(pool_options_)) {
        options.cancel = &cancel_;
        auto user_progress = options.on_progress;
        options.on_progress = [this, user_progress](const pgkit::backfill_progress& p) {
            ++batches_;
            if (user_progress) {
                user_progress(p);
            }
        };
        thread_ = std::thread{[this, spec = std::move(spec), options] {
            report_ = pgkit::run_backfill(*pool_, spec, options);
            finished_ = true;
        }};
    }
    ~runner_thread() { stop(); }
    runner_thread(const runner_thread&) = delete;
    runner_thread& operator=(const runner_thread&) = delete;

    /// Whether `n` batches committed within the bound.
    [[nodiscard]] bool committed(int n, std::chrono::milliseconds limit = 10s) const {
        return eventually([&] { return batches_.load() >= n; }, limit);
    }
    [[nodiscard]] int batches() const noexcept { return batches_.load(); }
    [[nodiscard]] bool finished() const noexcept { return finished_.load(); }
    [[nodiscard]] const std::string& application_name() const noexcept {
        return pool_options_.name;
    }
    /// Waits for the run to end by itself; its report.
    const pgkit::result<pgkit::backfill_report>& join() {
        if (thread_.joinable()) {
            thread_.join();
        }
        return report_;
    }
    /// Cancels the run and waits for the runner; its report.
    const pgkit::result<pgkit::backfill_report>& stop() {
        cancel_.cancel();
        return join();
    }

  private:
    pgkit::pool_options pool_options_;
    std::shared_ptr<pgkit::pool> pool_;
    pgkit::backfill_cancel_token cancel_;
    std::atomic<int> batches_{0};
    std::atomic<bool> finished_{false};
    pgkit::result<pgkit::backfill_report> report_ = pgkit::make_error(errc::internal, "not run");
    std::thread thread_;
};

/// Sessions of `application_name` waiting for a lock now.
std::int64_t waiting_for_lock(pgkit::connection& conn, const std::string& application_name) {
    auto n = conn.execute(
                     "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND "
                     "wait_event_type = 'Lock'",
                     application_name)
                 .and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(n, n.error().to_string());
    return *n;
}

/// A pool flagged as behind a transaction-mode pooler (it reaches the server directly).
std::shared_ptr<pgkit::pool> pooler_pool(const pgkit::test::scratch_schema& schema) {
    auto options = test_pool_options(schema);
    options.connection.pooler = pgkit::pooler_mode::transaction;
    return make_pool(options);
}

}  // namespace

TEST_SUITE("backfill") {
    TEST_CASE("backfill: lease mode: of runners racing on one name exactly one runs") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        constexpr std::int64_t rows = 3000;
        create_items(conn, rows);
        const std::string name = run_name(schema, "lease_race");
        constexpr int runners = 4;
        std::vector<std::shared_ptr<pgkit::pool>> pools;
        for (int i = 0; i < runners; ++i) {
            pools.push_back(make_pool(test_pool_options(schema)));
        }
        auto observer_pool = make_pool(test_pool_options(schema));

        for (int round = 1; round <= 3; ++round) {
            CAPTURE(round);
            // Whoever runs records the token of the lease it holds (read by SQL, from another
            // session) after its first batch.
            std::mutex seen_mutex;
            std::vector<std::string> holders_seen;
            auto options = leased(100);
            options.pause_between_batches = 10ms;  // 30 batches: the run outlasts the start
            options.on_progress = [&](const pgkit::backfill_progress& p) {
                if (p.batches == 1) {
                    auto observer = schema.connect();
                    auto lease = run_lease(observer, name);
                    std::lock_guard guard{seen_mutex};
                    holders_seen.push_back(lease ? lease->token : std::string{"none"});
                }
            };
            std::latch start{runners};
            std::vector<pgkit::result<pgkit::backfill_report>> reports(
                runners, pgkit::make_error(errc::internal, "not run"));
            std::vector<std::thread> threads;
            for (int i = 0; i < runners; ++i) {
                threads.emplace_back([&, i] {
                    start.arrive_and_wait();
                    reports[static_cast<std::size_t>(i)] = pgkit::run_backfill(
                        *pools[static_cast<std::size_t>(i)], counter_spec(name), options);
                });
            }
            for (auto& t : threads) {
                t.join();
            }

            int ran = 0;
            int refused = 0;
            for (const auto& report : reports) {
                if (report) {
                    CHECK(report->status == backfill_status::done);
                    CHECK(report->rows_this_run == static_cast<std::uint64_t>(rows));
                    ++ran;
                } else {
                    INFO(report.error().message());
                    CHECK(report.error().code() == errc::already_running);
                    ++refused;
                }
            }
            CHECK(ran == 1);
            CHECK(refused == runners - 1);
            REQUIRE(holders_seen.size() == 1);
            CHECK(holders_seen[0] != "none");
            // Each refusal named the holder: the winner's token and when its lease expires.
            for (const auto& report : reports) {
                if (!report) {
                    CHECK(contains(report.error().message(), holders_seen[0]));
                    CHECK(contains(report.error().message(), "holds its lease until"));
                }
            }
            // Every row exactly once per round; the lease is gone, no advisory lock was taken.
            CHECK(count_where(conn, fmt::format("SELECT count(*) FROM items WHERE counter <> {}",
                                                round)) == 0);
            CHECK_FALSE(run_lease(conn, name).has_value());
            CHECK(runner_lock_holders(conn, schema.name(), name) == 0);
            // Forget the run for the next round (reset sees no live lease).
            auto forgot = pgkit::reset_backfill(*observer_pool, {.name = name});
            REQUIRE_MESSAGE(forgot, forgot.error().to_string());
            CHECK(*forgot);
        }
    }

    TEST_CASE("backfill: lease mode: a runner whose lease was taken over cannot commit its batch") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        const std::string name = run_name(schema, "lease_fence");
        // Each runner writes its letter into the rows it processes.
        auto spec_of = [&](const std::string& letter) {
            backfill_spec spec = counter_spec(name);
            spec.set = "counter = counter + 1, note = $1";
            spec.parameters = {letter};
            return spec;
        };
        auto options = leased(100);
        options.lock_timeout = 0ms;  // wait for the row lock below as long as it is held
        options.batch_timeout_factor = 0;

        // Row 150 is locked: runner A commits its first batch (1..100) and blocks in its second.
        auto blocker = schema.connect();
        REQUIRE(blocker.execute_script("BEGIN; SELECT * FROM items WHERE id = 150 FOR UPDATE"));
        runner_thread a{schema, spec_of("A"), options};
        REQUIRE(a.committed(1));
        REQUIRE(eventually([&] { return waiting_for_lock(conn, a.application_name()) == 1; }));
        auto a_lease = run_lease(conn, name);
        REQUIRE(a_lease.has_value());
        CHECK(a_lease->live);

        // A's lease expires (by SQL, while it is blocked) and runner B takes it over: B's start
        // then waits for A's batch, which holds the run's row.
        REQUIRE(
            conn.execute("UPDATE pgkit_backfill_leases SET expires_at = clock_timestamp() - "
                         "interval '1 second' WHERE name = $1",
                         name));
        runner_thread b{schema, spec_of("B"), options};
        REQUIRE(eventually([&] {
            auto now = run_lease(conn, name);
            return now && now->token != a_lease->token && now->live;
        }));
        const std::string b_token = run_lease(conn, name)->token;

        // A's batch finishes its work, but its renewal no longer matches: it rolls back and A
        // stops with already_running naming B; B continues after A's last committed key.
        REQUIRE(blocker.execute_script("COMMIT"));
        const auto& a_report = a.join();
        REQUIRE_FALSE(a_report);
        CHECK(a_report.error().code() == errc::already_running);
        CHECK(contains(a_report.error().message(), "lost its lease"));
        CHECK(contains(a_report.error().message(), a_lease->token));
        CHECK(contains(a_report.error().message(), b_token));
        CHECK(contains(a_report.error().message(), "stopped after key (100)"));
        CHECK(a.batches() == 1);
        const auto& b_report = b.join();
        REQUIRE_MESSAGE(b_report, b_report.error().to_string());
        CHECK(b_report->status == backfill_status::done);
        CHECK(b_report->rows_this_run == 900);
        CHECK(b_report->rows_done == 1000);

        // Nothing of A's second batch was committed: rows 101..200 are B's, each done once.
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE note = 'A'") == 100);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE note = 'A' AND id > 100") == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE note = 'B'") == 900);
        CHECK(run_status(conn, name) == "done");
        CHECK_FALSE(run_lease(conn, name).has_value());
    }

    TEST_CASE("backfill: lease mode: a waiting runner keeps its lease, and stops once it is lost") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        const std::string name = run_name(schema, "lease_wait");
        // A pause far longer than the lease: the runner must renew it while it waits.
        auto options = leased(100, 1s);
        options.pause_between_batches = 60s;
        runner_thread runner{schema, counter_spec(name), options};
        REQUIRE(runner.committed(1));
        auto first = run_lease(conn, name);
        REQUIRE(first.has_value());

        // Renewed during the pause (every quarter of the lease): the expiry moves on and the
        // lease stays live for longer than one lease, with still one batch done.
        const auto start = std::chrono::steady_clock::now();
        std::string last_expiry = first->expires_at;
        int renewals = 0;
        bool held = true;  // every read found the runner's live lease
        CHECK(eventually(
            [&] {
                auto now = run_lease(conn, name);
                if (!now || !now->live || now->token != first->token) {
                    held = false;
                    return true;
                }
                if (now->expires_at != last_expiry) {
                    last_expiry = now->expires_at;
                    ++renewals;
                }
                return std::chrono::steady_clock::now() - start > 1500ms && renewals >= 3;
            },
            10s));
        CHECK(held);
        CHECK(renewals >= 3);
        CHECK(runner.batches() == 1);
        CHECK_FALSE(runner.finished());

        // Another runner's token replaces it (as a takeover would): the runner notices at its next
        // renewal, in the pause, and stops without a second batch and without writing a status.
        REQUIRE(
            conn.execute("UPDATE pgkit_backfill_leases SET token = 'intruder', expires_at = "
                         "clock_timestamp() + interval '1 minute' WHERE name = $1",
                         name));
        REQUIRE(eventually([&] { return runner.finished(); }, 10s));
        const auto& report = runner.join();
        REQUIRE_FALSE(report);
        CHECK(report.error().code() == errc::already_running);
        CHECK(contains(report.error().message(), "runner intruder holds its lease until"));
        CHECK(runner.batches() == 1);
        CHECK(run_rows_done(conn, name) == 100);
        CHECK(run_status(conn, name) == "running");
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter = 1") == 100);
        // The intruder's lease is left alone.
        auto after = run_lease(conn, name);
        REQUIRE(after.has_value());
        CHECK(after->token == "intruder");
    }

    TEST_CASE("backfill: lease mode: inspect and reset with a live and an expired lease") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        const std::string name = run_name(schema, "lease_reset");
        auto direct = make_pool(test_pool_options(schema));  // reset takes the advisory lock
        auto pooled = pooler_pool(schema);                   // reset takes a lease

        // A runner holds a live lease, parked in a long pause.
        {
            auto options = leased(100, 5s);
            options.pause_between_batches = 60s;
            runner_thread runner{schema, counter_spec(name), options};
            REQUIRE(runner.committed(1));
            auto lease = run_lease(conn, name);
            REQUIRE(lease.has_value());
            auto state = pgkit::inspect_backfill(*direct, {.name = name});
            REQUIRE_MESSAGE(state, state.error().to_string());
            CHECK(state->status == backfill_status::running);
            CHECK(state->rows_done == 100);
            CHECK_FALSE(state->runner_pid.has_value());
            REQUIRE(state->lease_token.has_value());
            CHECK(*state->lease_token == lease->token);
            CHECK(state->lease_live);
            REQUIRE(state->lease_expires_at.has_value());
            CHECK(*state->lease_expires_at > *state->updated_at);

            // Reset refuses in either mode, naming the holder; the run is untouched.
            for (auto* pool : {direct.get(), pooled.get()}) {
                auto refused = pgkit::reset_backfill(*pool, {.name = name});
                REQUIRE_FALSE(refused);
                CHECK(refused.error().code() == errc::already_running);
                CHECK(contains(refused.error().message(), lease->token));
                CHECK(contains(refused.error().message(), "before resetting"));
            }
            CHECK(run_rows_done(conn, name) == 100);
            auto still = run_lease(conn, name);
            REQUIRE(still.has_value());
            CHECK(still->token == lease->token);
            CHECK(runner_lock_holders(conn, schema.name(), name) == 0);

            auto stopped = runner.stop();
            REQUIRE_MESSAGE(stopped, stopped.error().to_string());
            CHECK(stopped->status == backfill_status::cancelled);
        }
        // The runner deleted its lease when it ended.
        auto ended = pgkit::inspect_backfill(*direct, {.name = name});
        REQUIRE_MESSAGE(ended, ended.error().to_string());
        CHECK(ended->status == backfill_status::cancelled);
        CHECK_FALSE(ended->lease_token.has_value());
        CHECK_FALSE(ended->lease_expires_at.has_value());
        CHECK_FALSE(ended->lease_live);

        // An expired lease, as a runner that died leaves it: inspect shows it expired, and reset
        // through the lease mode takes it over, forgets the run and deletes the lease.
        auto leave_lease = [&](const std::string& token, std::string_view expires) {
            REQUIRE(conn.execute(fmt::format("INSERT INTO pgkit_backfill_leases (name, token, "
                                             "expires_at) VALUES ($1, $2, clock_timestamp() + "
                                             "interval '{}')",
                                             expires),
                                 name, token));
        };
        leave_lease("dead-runner", "-1 second");
        auto dead = pgkit::inspect_backfill(*pooled, {.name = name});
        REQUIRE_MESSAGE(dead, dead.error().to_string());
        REQUIRE(dead->lease_token.has_value());
        CHECK(*dead->lease_token == "dead-runner");
        CHECK_FALSE(dead->lease_live);
        auto forgot = pgkit::reset_backfill(*pooled, {.name = name});
        REQUIRE_MESSAGE(forgot, forgot.error().to_string());
        CHECK(*forgot);
        CHECK(run_status(conn, name).empty());
        CHECK_FALSE(run_lease(conn, name).has_value());

        // Run it again (partly), leave another expired lease: reset through the advisory mode
        // deletes it with the run too.
        pgkit::backfill_cancel_token stop;
        auto options = leased(100);
        options.cancel = &stop;
        options.on_progress = [&stop](const pgkit::backfill_progress&) { stop.cancel(); };
        auto partial = pgkit::run_backfill(*direct, counter_spec(name), options);
        REQUIRE_MESSAGE(partial, partial.error().to_string());
        CHECK(partial->status == backfill_status::cancelled);
        leave_lease("another-dead-runner", "-1 second");
        auto forgot_again = pgkit::reset_backfill(*direct, {.name = name});
        REQUIRE_MESSAGE(forgot_again, forgot_again.error().to_string());
        CHECK(*forgot_again);
        CHECK_FALSE(run_lease(conn, name).has_value());

        // A live lease left by SQL (a runner elsewhere): both resets refuse until it expires.
        auto rerun = pgkit::run_backfill(*direct, counter_spec(name), leased(100));
        REQUIRE_MESSAGE(rerun, rerun.error().to_string());
        CHECK(rerun->status == backfill_status::done);
        leave_lease("elsewhere", "1 minute");
        for (auto* pool : {direct.get(), pooled.get()}) {
            auto refused = pgkit::reset_backfill(*pool, {.name = name});
            REQUIRE_FALSE(refused);
            CHECK(refused.error().code() == errc::already_running);
            CHECK(contains(refused.error().message(), "runner elsewhere holds its lease until"));
        }
        CHECK(run_status(conn, name) == "done");
        auto live = pgkit::inspect_backfill(*direct, {.name = name});
        REQUIRE_MESSAGE(live, live.error().to_string());
        CHECK(live->lease_live);
        CHECK(live->status == backfill_status::done);
    }

    TEST_CASE("backfill: runners in the advisory and the lease mode exclude each other") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        auto pool = make_pool(test_pool_options(schema));
        const std::string name = run_name(schema, "lease_modes");

        // A session holds the run's advisory lock (an advisory-mode runner): the lease runner
        // refuses, naming the session, and leaves no lease behind.
        auto other = schema.connect();
        const std::string keys = pgkit::test::runner_lock_keys();
        REQUIRE(
            other.execute(fmt::format("SELECT pg_advisory_lock({})", keys), schema.name(), name));
        auto refused = pgkit::run_backfill(*pool, counter_spec(name), leased(100));
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::already_running);
        CHECK(contains(refused.error().message(),
                       fmt::format("server process {}", other.backend_pid())));
        CHECK_FALSE(run_lease(conn, name).has_value());
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0") == 0);
        REQUIRE(
            other.execute(fmt::format("SELECT pg_advisory_unlock({})", keys), schema.name(), name));

        // A live lease (a lease-mode runner elsewhere): the advisory runner refuses, naming it.
        REQUIRE(
            conn.execute("INSERT INTO pgkit_backfill_leases (name, token, expires_at) VALUES "
                         "($1, 'lease-runner', clock_timestamp() + interval '1 minute')",
                         name));
        auto options = leased(100);
        options.runner_lock = backfill_runner_lock::advisory;
        auto blocked = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE_FALSE(blocked);
        CHECK(blocked.error().code() == errc::already_running);
        CHECK(contains(blocked.error().message(), "runner lease-runner holds its lease until"));
        CHECK(runner_lock_holders(conn, schema.name(), name) == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0") == 0);

        // Once expired, the advisory runner deletes the lease (its runner, were it only stalled,
        // could renew it no more) and runs.
        REQUIRE(
            conn.execute("UPDATE pgkit_backfill_leases SET expires_at = clock_timestamp() - "
                         "interval '1 second' WHERE name = $1",
                         name));
        auto ran = pgkit::run_backfill(*pool, counter_spec(name), options);
        REQUIRE_MESSAGE(ran, ran.error().to_string());
        CHECK(ran->status == backfill_status::done);
        CHECK_FALSE(run_lease(conn, name).has_value());
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    }

    TEST_CASE("backfill: behind a transaction-mode pooler the lease mode is chosen by itself") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 1000);
        auto pool = pooler_pool(schema);
        const std::string name = run_name(schema, "lease_pooler");
        // A parameter the SET expression uses alone, one the predicate uses.
        const backfill_spec spec{.name = name,
                                 .table = "items",
                                 .key = {"id"},
                                 .set = "counter = counter + $1",
                                 .predicate = "id > $2",
                                 .parameters = {"1", "100"}};

        // The dry run and the run need no session state (the pool would refuse it).
        auto plan = pgkit::plan_backfill(*pool, spec);
        REQUIRE_MESSAGE(plan, plan.error().to_string());
        CHECK(plan->rows == 900);
        std::optional<pgkit::test::lease_view> lease_seen;
        std::int64_t advisory_seen = -1;
        backfill_options options;
        options.initial_batch_size = 100;
        options.on_progress = [&](const pgkit::backfill_progress& p) {
            if (p.batches == 1) {
                auto observer = schema.connect();
                lease_seen = run_lease(observer, name);
                advisory_seen = runner_lock_holders(observer, schema.name(), name);
            }
        };
        auto report = pgkit::run_backfill(*pool, spec, options);
        REQUIRE_MESSAGE(report, report.error().to_string());
        CHECK(report->status == backfill_status::done);
        CHECK(report->rows_this_run == 900);
        REQUIRE(lease_seen.has_value());
        CHECK(lease_seen->live);
        // The default lease: twice statement_timeout (30 s), so about a minute left.
        CHECK(lease_seen->ms_left > 50'000);
        CHECK(lease_seen->ms_left <= 60'000);
        CHECK(advisory_seen == 0);
        CHECK_FALSE(run_lease(conn, name).has_value());
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1 AND id > 100") == 0);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0 AND id <= 100") ==
              0);

        // inspect and reset work there too.
        auto state = pgkit::inspect_backfill(*pool, spec);
        REQUIRE_MESSAGE(state, state.error().to_string());
        CHECK(state->status == backfill_status::done);
        CHECK_FALSE(state->lease_live);
        auto forgot = pgkit::reset_backfill(*pool, spec);
        REQUIRE_MESSAGE(forgot, forgot.error().to_string());
        CHECK(*forgot);

        // Validation still reports a SET expression the server cannot plan.
        backfill_spec broken = spec;
        broken.set = "no_such_column = 1";
        auto rejected = pgkit::run_backfill(*pool, broken);
        REQUIRE_FALSE(rejected);
        CHECK(rejected.error().code() == errc::undefined_column);
        CHECK(contains(rejected.error().message(), "does not prepare"));
        // A parameter nothing uses is the server's error there (its type cannot be deduced).
        backfill_spec unused = spec;
        unused.parameters.push_back("3");
        auto extra = pgkit::run_backfill(*pool, unused);
        REQUIRE_FALSE(extra);
        CHECK(extra.error().sqlstate() == "42P18");
        CHECK(contains(extra.error().message(), "could not determine data type of parameter $3"));

        // The advisory mode cannot work there; a lease shorter than 1 s is refused.
        backfill_options advisory;
        advisory.runner_lock = backfill_runner_lock::advisory;
        auto session_lock = pgkit::run_backfill(*pool, spec, advisory);
        REQUIRE_FALSE(session_lock);
        CHECK(session_lock.error().code() == errc::invalid_argument);
        CHECK(contains(session_lock.error().message(), "transaction-mode pooler"));
        backfill_options brief;
        brief.lease_duration = 500ms;
        auto too_short = pgkit::run_backfill(*pool, spec, brief);
        REQUIRE_FALSE(too_short);
        CHECK(too_short.error().code() == errc::invalid_argument);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter > 1") == 0);
    }
}
