// Read replicas against a real primary and its streaming standby (scripts/pg-standby; the
// pg_standby fixture, PGKIT_TEST_STANDBY_DIR): reads go to the standby and writes to the primary,
// a standby past max_lag gets no reads, a read carrying a read-your-writes token never sees data
// older than the token, and an unreachable replica costs the primary nothing. Replay is paused
// and resumed here with pg_wal_replay_pause(), never by waiting for time to pass.
#include "pgkit/entity.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"

#include "integration/topology_test_support.hpp"
#include "support/silent_listener.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct note {
    std::int64_t id = 0;
    std::string body;
};

}  // namespace

template <>
struct pgkit::entity<note> {
    static constexpr std::string_view table = "pgkit_topology_notes";
    static constexpr auto columns = std::tuple{
        pgkit::column(&note::id, "id"),
        pgkit::column(&note::body, "body"),
    };
    static constexpr auto primary_key = pgkit::key(&note::id);
};

namespace {

using pgkit::test::eventually;
using pgkit::test::first_line;
using pgkit::test::open;
using pgkit::test::options_from;
using pgkit::test::run;
using pgkit::test::scalar;

std::filesystem::path standby_dir() {
    return pgkit::test::path_from_environment("PGKIT_TEST_STANDBY_DIR");
}

/// The primary and the standby, a table of notes on the primary (replicated), and replay
/// resumed whatever happens.
class standby_pair {
  public:
    standby_pair()
        : primary_url_(first_line(standby_dir() / "primary_url")),
          standby_url_(first_line(standby_dir() / "standby_url")),
          primary_(open(primary_url_)),
          standby_(open(standby_url_)) {
        run(primary_, fmt::format("DROP TABLE IF EXISTS {0}; CREATE TABLE {0} (id int8 PRIMARY "
                                  "KEY, body text NOT NULL)",
                                  pgkit::entity<note>::table));
        REQUIRE(caught_up());
    }
    ~standby_pair() {
        (void)standby_.execute("SELECT pg_wal_replay_resume()");
        (void)primary_.execute_script(
            fmt::format("DROP TABLE IF EXISTS {}", pgkit::entity<note>::table));
    }
    standby_pair(const standby_pair&) = delete;
    standby_pair& operator=(const standby_pair&) = delete;

    /// A pool writing to the primary and reading from the standby.
    [[nodiscard]] pgkit::pool_options pool_options(std::chrono::milliseconds max_lag) const {
        pgkit::pool_options options;
        options.connection = options_from(primary_url_);
        options.name = fmt::format("pgkit-replicas-{}", ::getpid());
        options.max_size = 4;
        options.acquire_timeout = 10s;
        options.replicas.hosts = options_from(standby_url_).hosts;
        options.replicas.max_lag = max_lag;
        options.replicas.probe_interval = 100ms;
        return options;
    }

    pgkit::connection& primary() { return primary_; }
    pgkit::connection& standby() { return standby_; }

    /// Waits until the standby has replayed everything the primary wrote so far.
    bool caught_up() {
        const auto lsn = scalar<std::string>(primary_, "SELECT pg_current_wal_insert_lsn()::text");
        return eventually([&] {
            return scalar<bool>(standby_, fmt::format("SELECT coalesce(pg_last_wal_replay_lsn() >= "
                                                      "'{}'::pg_lsn, false)",
                                                      lsn));
        });
    }

    void pause_replay() {
        run(standby_, "SELECT pg_wal_replay_pause()");
        REQUIRE(eventually([&] {
            return scalar<std::string>(standby_, "SELECT pg_get_wal_replay_pause_state()") ==
                   "paused";
        }));
    }
    void resume_replay() { run(standby_, "SELECT pg_wal_replay_resume()"); }

  private:
    std::string primary_url_;
    std::string standby_url_;
    pgkit::connection primary_;
    pgkit::connection standby_;
};

std::shared_ptr<pgkit::pool> make_pool(const pgkit::pool_options& options) {
    auto created = pgkit::pool::create(options);
    REQUIRE_MESSAGE(created.has_value(), (created ? std::string{} : created.error().to_string()));
    REQUIRE((*created)->wait_for_probe(10s));
    return *created;
}

/// Whether the node a read lease lands on is in recovery (a standby).
bool read_lands_on_standby(pgkit::pool& pool, const pgkit::read_options& options = {}) {
    auto leased = pool.acquire_read(options);
    REQUIRE_MESSAGE(leased.has_value(), (leased ? std::string{} : leased.error().to_string()));
    return scalar<bool>(**leased, "SELECT pg_is_in_recovery()");
}

const pgkit::node_metrics& node_in_role(const pgkit::pool_metrics& m, pgkit::node_role role) {
    for (const auto& node : m.nodes) {
        if (node.role == role) {
            return node;
        }
    }
    FAIL("no node in role " << pgkit::to_string(role));
    throw std::logic_error("unreachable");
}

}  // namespace

/// A primary and standby of the test's own (scripts/pg-standby), stopped at scope exit: for
/// tests that promote the standby, which the shared fixture must never see.
class own_standby_pair {
  public:
    own_standby_pair()
        : state_(std::filesystem::temp_directory_path() /
                 fmt::format("pgkit-own-standby-{}", ::getpid())) {
        script("start");
    }
    ~own_standby_pair() { (void)std::system(command("stop").c_str()); }
    own_standby_pair(const own_standby_pair&) = delete;
    own_standby_pair& operator=(const own_standby_pair&) = delete;

    void script(std::string_view action, std::string_view node = {}) const {
        REQUIRE_MESSAGE(std::system(command(action, node).c_str()) == 0, "pg-standby ", action);
    }
    [[nodiscard]] std::string url(std::string_view file) const {
        return first_line(state_ / std::string{file});
    }

  private:
    [[nodiscard]] std::string command(std::string_view action, std::string_view node = {}) const {
        return fmt::format("{}/scripts/pg-standby {} '{}' {} >/dev/null", PGKIT_SOURCE_DIR, action,
                           state_.string(), node);
    }
    std::filesystem::path state_;
};

TEST_SUITE("topology") {
    TEST_CASE("topology: the standby serves a pool's reads and the primary its writes") {
        standby_pair pair;
        auto pool = make_pool(pair.pool_options(5s));
        REQUIRE(eventually([&] { return read_lands_on_standby(*pool); }));

        for (int i = 0; i < 20; ++i) {
            CHECK(read_lands_on_standby(*pool));
            auto written = pool->acquire();
            REQUIRE(written);
            CHECK_FALSE(scalar<bool>(**written, "SELECT pg_is_in_recovery()"));
        }
        // A read-only transaction is a read; any other is a write.
        auto in_read_only = pool->with_transaction(
            [](pgkit::transaction& tx) {
                return tx.execute("SELECT pg_is_in_recovery()")
                    .and_then(&pgkit::query_result::scalar<bool>);
            },
            {.read_only = true});
        REQUIRE(in_read_only);
        CHECK(*in_read_only);

        // Repository writes go to the primary; once replayed, its reads come from the standby.
        pgkit::repository<note> notes{pool};
        REQUIRE(notes.insert({.id = 1, .body = "first"}));
        REQUIRE(pair.caught_up());
        const auto served_before =
            node_in_role(pool->metrics(), pgkit::node_role::standby).reads_served;
        auto read = notes.get(1);
        REQUIRE(read);
        CHECK(read->body == "first");
        CHECK(node_in_role(pool->metrics(), pgkit::node_role::standby).reads_served >
              served_before);

        const auto m = pool->metrics();
        REQUIRE(m.nodes.size() == 2);
        const auto& primary = node_in_role(m, pgkit::node_role::primary);
        const auto& standby = node_in_role(m, pgkit::node_role::standby);
        CHECK(primary.position.has_value());
        CHECK(standby.lag.has_value());
        CHECK(standby.reads_served >= 21);
        CHECK_FALSE(m.split_brain);
        const auto text = pgkit::to_prometheus(m);
        CHECK(text.find("role=\"standby\"") != std::string::npos);
        CHECK(text.find("pgkit_pool_node_reads_total") != std::string::npos);
        CHECK(text.find("pgkit_pool_read_fallbacks_total") != std::string::npos);
    }

    TEST_CASE("topology: the standby past max_lag gets no reads until it catches up") {
        standby_pair pair;
        auto pool = make_pool(pair.pool_options(1s));
        REQUIRE(eventually([&] { return read_lands_on_standby(*pool); }));

        pair.pause_replay();
        // The primary keeps writing; the paused standby falls behind by more than a second.
        pgkit::repository<note> notes{pool};
        std::int64_t next_id = 100;
        REQUIRE(eventually(
            [&] {
                REQUIRE(notes.insert({.id = next_id++, .body = "while paused"}));
                const auto m = pool->metrics();
                const auto& standby = node_in_role(m, pgkit::node_role::standby);
                return standby.lag && *standby.lag > 1s;
            },
            30s));
        const auto fallbacks_before = pool->metrics().read_fallbacks;
        for (int i = 0; i < 10; ++i) {
            CHECK_FALSE(read_lands_on_standby(*pool));
        }
        CHECK(pool->metrics().read_fallbacks >= fallbacks_before + 10);

        pair.resume_replay();
        REQUIRE(pair.caught_up());
        CHECK(eventually([&] { return read_lands_on_standby(*pool); }));
    }

    TEST_CASE("topology: the standby never serves a read-your-writes read older than its token") {
        standby_pair pair;
        // No lag bound: without a token the paused standby would serve stale rows.
        auto pool = make_pool(pair.pool_options(0ms));
        REQUIRE(eventually([&] { return read_lands_on_standby(*pool); }));
        pgkit::repository<note> notes{pool};
        REQUIRE(notes.insert({.id = 1, .body = "before"}));
        REQUIRE(pair.caught_up());
        pair.pause_replay();

        REQUIRE(notes.upsert({.id = 1, .body = "after"}, {}));
        auto token = pool->write_position();
        REQUIRE(token);
        CHECK(token->to_string().find('/') != std::string::npos);
        CHECK(pgkit::wal_position::parse(token->to_string()) == *token);

        // Without the token the read may come from the paused standby, and does: stale.
        auto stale = notes.get(1);
        REQUIRE(stale);
        CHECK(stale->body == "before");
        // With it, never older than the write, however often it is asked.
        const auto after_token = notes.read_after(*token);
        for (int i = 0; i < 20; ++i) {
            auto fresh = after_token.get(1);
            REQUIRE(fresh);
            CHECK(fresh->body == "after");
        }
        CHECK_FALSE(read_lands_on_standby(*pool, {.after = *token}));
        auto in_transaction = pool->with_transaction(
            [](pgkit::transaction& tx) {
                return tx.execute("SELECT body FROM pgkit_topology_notes WHERE id = 1")
                    .and_then(&pgkit::query_result::scalar<std::string>);
            },
            {.read_only = true, .read_after = *token});
        REQUIRE(in_transaction);
        CHECK(*in_transaction == "after");

        // Once the standby has replayed the token, it serves those reads itself.
        pair.resume_replay();
        REQUIRE(pair.caught_up());
        REQUIRE(eventually([&] { return read_lands_on_standby(*pool, {.after = *token}); }));
        auto replayed = after_token.get(1);
        REQUIRE(replayed);
        CHECK(replayed->body == "after");
    }

    TEST_CASE("topology: the standby keeps serving while another replica never answers") {
        standby_pair pair;
        pgkit::test::silent_listener hung;  // accepts TCP, never speaks: connects can only time out
        auto options = pair.pool_options(5s);
        options.replicas.hosts.push_back({"127.0.0.1", hung.port()});
        options.connect_timeout = 1s;
        auto created = pgkit::pool::create(options);
        REQUIRE(created);
        auto pool = *created;
        pgkit::repository<note> notes{pool};
        // Primary traffic never waits for the silent node: each write is one short statement.
        const auto start = std::chrono::steady_clock::now();
        for (std::int64_t id = 1; id <= 100; ++id) {
            REQUIRE(notes.insert({.id = id, .body = "x"}));
        }
        const auto writes_took = std::chrono::steady_clock::now() - start;
        CHECK(writes_took < 10s);  // a hang per write would take 100 x connect_timeout
        REQUIRE(pair.caught_up());
        REQUIRE(eventually([&] { return read_lands_on_standby(*pool); }));
        for (int i = 0; i < 20; ++i) {
            auto found = notes.get(50);
            REQUIRE(found);
        }
        const auto m = pool->metrics();
        REQUIRE(m.nodes.size() == 3);
        for (const auto& node : m.nodes) {
            if (node.port == hung.port()) {
                CHECK(node.role != pgkit::node_role::standby);
                CHECK(node.reads_served == 0);
            }
        }
    }

    TEST_CASE(
        "topology: the standby promoted beside a live primary is a split brain: writes refused") {
        own_standby_pair pair;
        std::mutex events_mutex;
        std::vector<pgkit::pool_event_type> events;
        pgkit::pool_options options;
        options.connection = options_from(pair.url("url"));  // both hosts
        options.name = fmt::format("pgkit-split-{}", ::getpid());
        options.max_size = 2;
        options.replicas.probe_interval = 100ms;
        options.on_event = [&](const pgkit::pool_event& event) {
            std::lock_guard guard{events_mutex};
            events.push_back(event.type);
        };
        auto pool = make_pool(options);
        auto before = pool->acquire();
        REQUIRE(before.has_value());
        CHECK_FALSE(scalar<bool>(**before, "SELECT pg_is_in_recovery()"));
        before->release();

        // libpq would happily write to the first host that accepts writes; the pool refuses.
        pair.script("promote");
        REQUIRE(eventually([&] { return pool->metrics().split_brain; }));
        auto refused = pool->acquire();
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().code() == pgkit::errc::split_brain);
        CHECK(refused.error().message().find("127.0.0.1") != std::string::npos);
        CHECK_FALSE(refused.error().is_retryable());
        {
            std::lock_guard guard{events_mutex};
            CHECK(std::find(events.begin(), events.end(),
                            pgkit::pool_event_type::split_brain_detected) != events.end());
            CHECK(std::find(events.begin(), events.end(),
                            pgkit::pool_event_type::node_role_changed) != events.end());
        }
        // Reads change nothing: they are still served.
        auto read = pool->acquire_read();
        REQUIRE(read.has_value());
        // Fencing the old primary ends it: writes go to the one node that accepts them.
        pair.script("stop-node", "primary");
        REQUIRE(eventually([&] { return !pool->metrics().split_brain; }));
        auto after = pool->acquire();
        REQUIRE(after.has_value());
        CHECK_FALSE(scalar<bool>(**after, "SELECT pg_is_in_recovery()"));
        std::lock_guard guard{events_mutex};
        CHECK(std::find(events.begin(), events.end(),
                        pgkit::pool_event_type::split_brain_resolved) != events.end());
    }
}
