// Failover tests against the pg_auto_failover formation (scripts/pg-formation): eight writer
// threads insert rows, each with an id of its own, through one pool on the formation's multi-host
// URL while the primary moves to the other node, planned (pg_autoctl perform failover) or not
// (the primary's keeper and server stopped). The writers retry the way an application would:
// every error is counted by code; a retryable one (error::is_retryable) is retried after a
// backoff; an unknown outcome (commit_unknown, or a connection that vanished outside a
// transaction block) is settled by looking the row up on the primary before the insert is tried
// again. Afterwards, on the primary:
// - every insert pgkit acknowledged is there (no acknowledged write is lost);
// - every failure was one of the error values a failover explains (listed below);
// - the same pool, on connections of its own, wrote to the new primary within a bound;
// - no write was acknowledged on the old primary after one committed on the new one (server
//   clock: both nodes run on this machine);
// - the pool's metrics counted the sessions it closed because their node went away or changed
//   role, and its probe shows the new roles.
// Each case prints its figures (write gap per failover, error codes) on standard output.
//
// They change which node is primary, so CTest runs them under a resource lock on the formation,
// and each case waits until the formation is healthy again (one primary, one secondary) before it
// returns, whatever happened.
#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"

#include "integration/topology_test_support.hpp"
#include "support/failover_writer.hpp"
#include "support/run_command.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using pgkit::test::acknowledgement;
using pgkit::test::command_result;
using pgkit::test::eventually;
using pgkit::test::first_line;
using pgkit::test::run_command;
using pgkit::test::server_clock;
using pgkit::test::write_rows;
using std::chrono::milliseconds;

/// Bounds on the write gap (failover command to the first write acknowledged on the new
/// primary). The failover itself takes most of it: pg_auto_failover's monitor checks every
/// second, waits out a 3 s demote timeout before the promoted node takes writes, and (unplanned)
/// declares a node unhealthy after 3 s. Measured on a 2-core machine: planned 3.7-4.1 s when
/// quiet, 9.7-12.6 s at load 8-9; unplanned 6.4 s quiet, 8.3 s at load 12. The absolute bounds
/// are about two and a half times the slowest of those, for a busier machine; they catch a pool
/// that stays on the old node (it would never write again) or waits out long timeouts.
constexpr milliseconds planned_gap_bound{30'000};
constexpr milliseconds unplanned_gap_bound{45'000};
/// And relative to the script's own probe (psql with the same URL every 0.2 s): pgkit's writers
/// add at most their backoff (200 ms) and a connect attempt (two hosts on loopback) to what a
/// fresh libpq connection sees; measured -0.5 to +0.9 s. Three seconds absorbs a loaded
/// machine's scheduling.
constexpr milliseconds gap_over_script_bound{3'000};

/// The error values a failover explains: sessions that broke, connects that found no writable
/// node, commits whose outcome was lost, writes that reached the demoted node, acquires that
/// waited for a connection that could not be opened, and write acquires refused while the probe
/// saw both nodes out of recovery (the promoted node before the old primary stopped).
const std::set<pgkit::errc> failover_errors{
    pgkit::errc::connection_lost, pgkit::errc::connection_failed, pgkit::errc::commit_unknown,
    pgkit::errc::read_only_node,  pgkit::errc::pool_timeout,      pgkit::errc::split_brain,
};

constexpr int writer_count = 8;

/// The formation CTest started (PGKIT_TEST_FORMATION_DIR) and its script.
class formation {
  public:
    formation()
        : dir_(pgkit::test::path_from_environment("PGKIT_TEST_FORMATION_DIR")),
          script_(std::filesystem::path{PGKIT_SOURCE_DIR} / "scripts" / "pg-formation") {}

    command_result run(const std::string& command, const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args{script_.string(), command, dir_.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_command(args, std::chrono::seconds{300});
    }

    void wait_healthy() {
        const auto done = run("wait-healthy", {"180"});
        REQUIRE_MESSAGE(done.status == 0, "the formation did not become healthy: ", done.output);
    }

    /// node1 or node2, as the monitor sees it.
    std::string primary() {
        const auto done = run("primary");
        REQUIRE_MESSAGE(done.status == 0, done.output);
        std::string name = done.output.substr(0, done.output.find('\n'));
        REQUIRE_MESSAGE((name == "node1" || name == "node2"),
                        "pg-formation primary: ", done.output);
        return name;
    }

    [[nodiscard]] std::int32_t port(const std::string& node) const {
        return std::stoi(first_line(dir_ / (node + "_port")));
    }
    [[nodiscard]] std::string url() const { return first_line(dir_ / "url"); }
    [[nodiscard]] std::string node_url(const std::string& node) const {
        return first_line(dir_ / (node + "_url"));
    }
    [[nodiscard]] std::string monitor_url() const { return first_line(dir_ / "monitor_url"); }

  private:
    std::filesystem::path dir_;
    std::filesystem::path script_;
};

std::string other_node(const std::string& node) {
    return node == "node1" ? "node2" : "node1";
}

/// Whatever a case did, the formation is left with one primary and one secondary: a stopped
/// node is started again (start-node refuses a node whose keeper runs: harmless), then the
/// formation is waited for.
class healthy_at_exit {
  public:
    explicit healthy_at_exit(formation& f) : formation_(f) {}
    healthy_at_exit(const healthy_at_exit&) = delete;
    healthy_at_exit& operator=(const healthy_at_exit&) = delete;
    ~healthy_at_exit() {
        for (const char* node : {"node1", "node2"}) {
            (void)formation_.run("start-node", {node});
        }
        const auto done = formation_.run("wait-healthy", {"180"});
        if (done.status != 0) {
            fmt::print(stderr, "topology failover test: the formation is not healthy: {}\n",
                       done.output);
        }
    }

  private:
    formation& formation_;
};

/// What the writers saw, shared by all of them.
class write_ledger {
  public:
    void acknowledged(acknowledgement ack) {
        std::lock_guard guard{mutex_};
        acks_.push_back(ack);
    }
    void failed(const pgkit::error& e) {
        std::lock_guard guard{mutex_};
        const auto now = steady::now();
        auto& seen = errors_[e.code()];
        if (seen.count++ == 0) {
            seen.example = e.to_string();
        }
        failures_.push_back({e.code(), now});
        if (failover_errors.count(e.code()) == 0 || e.message().empty()) {
            unexplained_.push_back(e.to_string());
        }
    }
    /// An unknown outcome settled by looking the row up: it was there, or it was not (and the
    /// insert was tried again).
    void settled(bool present) {
        std::lock_guard guard{mutex_};
        ++(present ? settled_present_ : settled_absent_);
    }
    /// An insert given up after an error that is neither retryable nor an unknown outcome.
    void gave_up() {
        std::lock_guard guard{mutex_};
        ++given_up_;
    }
    /// An unknown outcome that could not be settled in time (the primary did not answer).
    void undecided(std::int64_t id, const std::string& why) {
        std::lock_guard guard{mutex_};
        undecided_.push_back(fmt::format("id {}: {}", id, why));
    }

    [[nodiscard]] std::vector<acknowledgement> acks() const {
        std::lock_guard guard{mutex_};
        return acks_;
    }
    [[nodiscard]] std::size_t ack_count() const {
        std::lock_guard guard{mutex_};
        return acks_.size();
    }
    /// The first acknowledgement on `port` recorded at or after `since`.
    [[nodiscard]] std::optional<acknowledgement> first_on(std::int32_t port,
                                                          steady::time_point since) const {
        std::lock_guard guard{mutex_};
        std::optional<acknowledgement> first;
        for (const auto& ack : acks_) {
            if (ack.port == port && ack.at >= since && (!first || ack.at < first->at)) {
                first = ack;
            }
        }
        return first;
    }
    [[nodiscard]] std::size_t count_on(std::int32_t port, steady::time_point since) const {
        std::lock_guard guard{mutex_};
        return static_cast<std::size_t>(std::count_if(
            acks_.begin(), acks_.end(), [&](auto& a) { return a.port == port && a.at >= since; }));
    }

    struct code_seen {
        std::size_t count = 0;
        std::string example;
    };
    [[nodiscard]] std::map<pgkit::errc, code_seen> errors() const {
        std::lock_guard guard{mutex_};
        return errors_;
    }
    /// The errors seen at or after `since`, by code: how many, the first and the last.
    struct code_window {
        std::size_t count = 0;
        steady::time_point first;
        steady::time_point last;
    };
    [[nodiscard]] std::map<pgkit::errc, code_window> errors_since(steady::time_point since) const {
        std::lock_guard guard{mutex_};
        std::map<pgkit::errc, code_window> out;
        for (const auto& [code, at] : failures_) {
            if (at < since) {
                continue;
            }
            auto& window = out[code];
            if (window.count++ == 0) {
                window.first = at;
            }
            window.last = at;
        }
        return out;
    }
    [[nodiscard]] std::vector<std::string> unexplained() const {
        std::lock_guard guard{mutex_};
        return unexplained_;
    }
    [[nodiscard]] std::size_t given_up() const {
        std::lock_guard guard{mutex_};
        return given_up_;
    }
    [[nodiscard]] std::vector<std::string> undecided() const {
        std::lock_guard guard{mutex_};
        return undecided_;
    }
    [[nodiscard]] std::pair<std::size_t, std::size_t> settled_counts() const {
        std::lock_guard guard{mutex_};
        return {settled_present_, settled_absent_};
    }

  private:
    mutable std::mutex mutex_;
    std::vector<acknowledgement> acks_;
    std::map<pgkit::errc, code_seen> errors_;
    std::vector<std::pair<pgkit::errc, steady::time_point>> failures_;
    std::vector<std::string> unexplained_;
    std::size_t given_up_ = 0;
    std::vector<std::string> undecided_;
    std::size_t settled_present_ = 0;
    std::size_t settled_absent_ = 0;
};

/// Eight writers on one pool, started at construction, stopped and joined by stop().
class writers {
  public:
    writers(pgkit::pool& pool, const std::string& table) {
        for (std::int32_t w = 1; w <= writer_count; ++w) {
            threads_.emplace_back(
                [this, &pool, &table, w] { write_rows(pool, table, w, stop_, ledger_); });
        }
    }
    writers(const writers&) = delete;
    writers& operator=(const writers&) = delete;
    ~writers() { stop(); }
    void stop() {
        stop_.store(true);
        for (auto& t : threads_) {
            if (t.joinable()) {
                t.join();
            }
        }
    }
    [[nodiscard]] write_ledger& ledger() { return ledger_; }

  private:
    std::atomic<bool> stop_{false};
    write_ledger ledger_;
    std::vector<std::thread> threads_;
};

/// Sessions the pool closed because their node went away (broken, failed validation) or
/// changed role.
std::uint64_t closed_for_failover(const pgkit::pool_metrics& m) {
    return m.closed_for(pgkit::close_reason::broken) +
           m.closed_for(pgkit::close_reason::validation_failed) +
           m.closed_for(pgkit::close_reason::role_changed);
}

pgkit::node_role role_of(const pgkit::pool_metrics& m, std::int32_t port) {
    for (const auto& node : m.nodes) {
        if (node.port && *node.port == port) {
            return node.role;
        }
    }
    return pgkit::node_role::unknown;
}

/// "writes accepted after 4123 ms" from pg-formation's output: when its own psql probe (every
/// 0.2 s) first wrote through the formation URL to the new primary.
std::optional<milliseconds> script_write_gap(const std::string& output) {
    constexpr std::string_view prefix = "writes accepted after ";
    const auto at = output.find(prefix);
    if (at == std::string::npos) {
        return std::nullopt;
    }
    const char* first = output.data() + at + prefix.size();
    const char* last = output.data() + output.size();
    long long ms = 0;
    const auto [end, ec] = std::from_chars(first, last, ms);
    if (ec != std::errc{} ||
        !std::string_view{end, static_cast<std::size_t>(last - end)}.starts_with(" ms")) {
        return std::nullopt;
    }
    return milliseconds{ms};
}

pgkit::connection open_monitor(formation& f) {
    auto conn = pgkit::connection::open(*pgkit::connection_options::parse(f.monitor_url()));
    REQUIRE_MESSAGE(conn, (conn ? std::string{} : conn.error().to_string()));
    return std::move(*conn);
}

std::int64_t monitor_clock(pgkit::connection& monitor) {
    auto now = monitor.execute(fmt::format("SELECT {}", server_clock))
                   .and_then(&pgkit::query_result::scalar<std::int64_t>);
    REQUIRE_MESSAGE(now, (now ? std::string{} : now.error().to_string()));
    return *now;
}

/// When, at or after `since`, the monitor reassigned `node` from primary to wait_primary: the
/// node then runs without synchronous replication (pg_auto_failover's wait_primary), so what it
/// acknowledges from then on may be missing from the node promoted next. pg_auto_failover 2.0's
/// monitor does this in a planned failover when the primary reports in after the candidate has
/// left the secondary state (it then counts no healthy standby); later releases check for a
/// failover in progress first.
std::optional<std::int64_t> made_asynchronous(pgkit::connection& monitor,
                                              const std::string& node,
                                              std::int64_t since) {
    auto at = monitor
                  .execute(
                      "SELECT min((extract(epoch FROM eventtime) * 1000000)::int8) FROM "
                      "pgautofailover.event WHERE nodename = $1 AND reportedstate = 'primary' AND "
                      "goalstate = 'wait_primary' AND eventtime >= to_timestamp($2 / 1e6)",
                      node, since)
                  .and_then(&pgkit::query_result::scalar<std::optional<std::int64_t>>);
    REQUIRE_MESSAGE(at, (at ? std::string{} : at.error().to_string()));
    return *at;
}

struct failover_figures {
    std::string from;
    std::string to;
    std::int32_t old_port = 0;
    milliseconds write_gap{0};
    std::optional<milliseconds> script_gap;
    std::uint64_t broken = 0;
    std::uint64_t validation_failed = 0;
    std::uint64_t role_changed = 0;
    std::uint64_t opened = 0;
    std::map<pgkit::errc, write_ledger::code_window> errors;
    steady::time_point started;
    /// Server clock at the failover command and at the end of the round.
    std::int64_t started_micros = 0;
    std::int64_t ended_micros = 0;
    /// When the monitor switched the old primary to asynchronous replication in this round.
    std::optional<std::int64_t> asynchronous_from;
};

/// Moves the primary with `act` (a pg-formation command that returns once the other node
/// accepts writes) while the writers write, and checks what the pool did: the first write
/// acknowledged on the new primary within `bound` of the command, none on the old primary after
/// it, sessions to the old primary closed, the probe showing the new primary.
failover_figures fail_over(formation& f,
                           pgkit::pool& pool,
                           write_ledger& ledger,
                           const std::function<command_result()>& act,
                           milliseconds bound) {
    failover_figures out;
    out.from = f.primary();
    out.to = other_node(out.from);
    out.old_port = f.port(out.from);
    const auto new_port = f.port(out.to);
    auto monitor = open_monitor(f);
    // Writes flow before the failover starts.
    const auto flowing = ledger.ack_count() + 100;
    REQUIRE_MESSAGE(eventually([&] { return ledger.ack_count() >= flowing; }, 30s),
                    "the writers acknowledged fewer than 100 rows in 30 s before the failover");
    const auto before = pool.metrics();

    out.started_micros = monitor_clock(monitor);
    out.started = steady::now();
    const auto started = out.started;
    auto command = std::async(std::launch::async, act);
    const bool resumed =
        eventually([&] { return ledger.first_on(new_port, started).has_value(); }, 120s);
    const auto done = command.get();
    CHECK_MESSAGE(done.status == 0, "pg-formation failed: ", done.output);
    REQUIRE_MESSAGE(resumed, "no write was acknowledged on the new primary (", out.to,
                    ") within 120 s of the failover command");
    const auto first_new = *ledger.first_on(new_port, started);
    out.write_gap = std::chrono::duration_cast<milliseconds>(first_new.at - started);
    out.script_gap = script_write_gap(done.output);
    CHECK_MESSAGE(out.write_gap <= bound, "writes resumed on the new primary ",
                  out.write_gap.count(), " ms after the failover command; bound ", bound.count(),
                  " ms");
    REQUIRE_MESSAGE(out.script_gap,
                    "pg-formation did not say when writes were accepted: ", done.output);
    CHECK_MESSAGE(out.write_gap <= *out.script_gap + gap_over_script_bound,
                  "pgkit wrote to the new primary ", out.write_gap.count(),
                  " ms after the command, pg-formation's psql probe ", out.script_gap->count(),
                  " ms");

    // Writes keep flowing on the new primary, through the same pool.
    const auto settled_on_new = ledger.count_on(new_port, started) + 100;
    REQUIRE_MESSAGE(
        eventually([&] { return ledger.count_on(new_port, started) >= settled_on_new; }, 30s),
        "writes did not keep flowing on the new primary");

    // The old primary committed nothing after the new one took its first write.
    std::int64_t latest_old = 0;
    std::int64_t earliest_new = std::numeric_limits<std::int64_t>::max();
    for (const auto& ack : ledger.acks()) {
        if (ack.at < started) {
            continue;
        }
        if (ack.port == out.old_port) {
            latest_old = std::max(latest_old, ack.server_micros);
        } else if (ack.port == new_port) {
            earliest_new = std::min(earliest_new, ack.server_micros);
        }
    }
    CHECK_MESSAGE(latest_old < earliest_new,
                  "a write was acknowledged on the old primary after the new one took writes");

    const auto after = pool.metrics();
    using pgkit::close_reason;
    out.broken = after.closed_for(close_reason::broken) - before.closed_for(close_reason::broken);
    out.validation_failed = after.closed_for(close_reason::validation_failed) -
                            before.closed_for(close_reason::validation_failed);
    out.role_changed = after.closed_for(close_reason::role_changed) -
                       before.closed_for(close_reason::role_changed);
    out.opened = after.created - before.created;
    CHECK_MESSAGE(closed_for_failover(after) > closed_for_failover(before),
                  "the pool closed no session for breakage or a role change");
    CHECK(out.opened > 0);  // the writes on the new primary came on connections opened for it

    // The pool's probe sees the new primary, and one writable node only.
    CHECK(eventually(
        [&] {
            const auto m = pool.metrics();
            return role_of(m, new_port) == pgkit::node_role::primary && !m.split_brain;
        },
        15s));
    out.errors = ledger.errors_since(started);
    out.ended_micros = monitor_clock(monitor);
    out.asynchronous_from = made_asynchronous(monitor, out.from, out.started_micros);
    return out;
}

void print_figures(const char* kind, int round, const failover_figures& f) {
    fmt::print(
        "failover {} ({}, {} -> {}): write gap {} ms (pg-formation's psql probe: {}); pool "
        "closed {} broken, {} failed validation, {} role_changed; opened {}{}\n",
        round, kind, f.from, f.to, f.write_gap.count(),
        f.script_gap ? fmt::format("{} ms", f.script_gap->count()) : std::string{"not printed"},
        f.broken, f.validation_failed, f.role_changed, f.opened,
        f.asynchronous_from
            ? fmt::format("; the monitor switched {} to asynchronous replication {} ms after the "
                          "command",
                          f.from, (*f.asynchronous_from - f.started_micros) / 1000)
            : std::string{});
    for (const auto& [code, window] : f.errors) {
        const auto offset = [&](steady::time_point at) {
            return std::chrono::duration_cast<milliseconds>(at - f.started).count();
        };
        fmt::print("  {} x{} from +{} ms to +{} ms\n", pgkit::to_string(code), window.count,
                   offset(window.first), offset(window.last));
    }
}

/// Whether pg_auto_failover had given up synchronous replication on the node that acknowledged
/// `ack` when it did (then the formation, not pgkit, dropped the write if it is missing).
bool acknowledged_asynchronously(const acknowledgement& ack,
                                 const std::vector<failover_figures>& rounds) {
    return std::any_of(rounds.begin(), rounds.end(), [&](const failover_figures& r) {
        return r.asynchronous_from && ack.port == r.old_port &&
               ack.server_micros >= *r.asynchronous_from && ack.server_micros <= r.ended_micros;
    });
}

/// The checks at the end of a case: on the primary, every acknowledged row is there (but for
/// rows a node acknowledged after the monitor had switched off its synchronous replication,
/// which are counted and printed); every error was a failover's; every unknown outcome was
/// settled.
void check_outcome(formation& f,
                   write_ledger& ledger,
                   const std::string& table,
                   const std::vector<failover_figures>& rounds) {
    const auto primary = f.primary();
    auto conn = pgkit::connection::open(*pgkit::connection_options::parse(f.node_url(primary)));
    REQUIRE_MESSAGE(conn, (conn ? std::string{} : conn.error().to_string()));
    auto recovering =
        conn->execute("SELECT pg_is_in_recovery()").and_then(&pgkit::query_result::scalar<bool>);
    REQUIRE(recovering);
    REQUIRE_FALSE(*recovering);
    auto rows = conn->execute(fmt::format("SELECT id FROM {}", table));
    REQUIRE_MESSAGE(rows, (rows ? std::string{} : rows.error().to_string()));
    std::set<std::int64_t> present;
    for (const auto& row : *rows) {
        auto id = row.get<std::int64_t>(0);
        REQUIRE(id);
        present.insert(*id);
    }
    const auto acks = ledger.acks();
    std::size_t lost = 0;
    std::size_t lost_asynchronous = 0;
    std::string lost_ids;
    for (const auto& ack : acks) {
        if (present.count(ack.id) != 0) {
            continue;
        }
        if (acknowledged_asynchronously(ack, rounds)) {
            ++lost_asynchronous;
            continue;
        }
        ++lost;
        if (lost <= 5) {
            lost_ids += fmt::format(" {} (node port {}, server time {})", ack.id, ack.port,
                                    ack.server_micros);
        }
    }
    const auto [settled_present, settled_absent] = ledger.settled_counts();
    fmt::print(
        "writes: {} acknowledged, {} rows on the primary; lost: {} acknowledged under synchronous "
        "replication, {} acknowledged after the monitor had made their node asynchronous; unknown "
        "outcomes settled: {} committed, {} not (inserted again); {} inserts given up\n",
        acks.size(), present.size(), lost, lost_asynchronous, settled_present, settled_absent,
        ledger.given_up());
    std::string codes;
    for (const auto& [code, seen] : ledger.errors()) {
        fmt::print("error {} x{}, e.g. {}\n", pgkit::to_string(code), seen.count, seen.example);
        codes += fmt::format(" {}", pgkit::to_string(code));
    }
    MESSAGE("error codes seen:", codes);
    if (lost_asynchronous > 0) {
        MESSAGE(lost_asynchronous,
                " acknowledged writes are missing: their node acknowledged them after the "
                "pg_auto_failover monitor had switched it to wait_primary (no synchronous "
                "replication) during the failover");
    }
    CHECK_MESSAGE(lost == 0, lost, " acknowledged writes are missing, e.g.", lost_ids);
    const auto unexplained = ledger.unexplained();
    CHECK_MESSAGE(unexplained.empty(), "errors a failover does not explain: ",
                  (unexplained.empty() ? std::string{} : unexplained.front()));
    const auto undecided = ledger.undecided();
    CHECK_MESSAGE(undecided.empty(), "unknown outcomes the primary could not settle in 60 s: ",
                  (undecided.empty() ? std::string{} : undecided.front()));
    CHECK_FALSE(ledger.errors().empty());  // a failover with no error at all was not one
}

std::shared_ptr<pgkit::pool> formation_pool(formation& f) {
    auto connection = pgkit::connection_options::parse(f.url());
    REQUIRE(connection);
    connection->application_name = "pgkit-failover-test";
    pgkit::pool_options options{.connection = *connection,
                                .name = "failover-test",
                                .max_size = writer_count,
                                .acquire_timeout = 10s,
                                .connect_timeout = 5s};
    auto created = pgkit::pool::create(std::move(options));
    REQUIRE_MESSAGE(created, (created ? std::string{} : created.error().to_string()));
    return std::move(*created);
}

std::string make_table(pgkit::pool& pool) {
    const auto table = fmt::format("pgkit_failover_{}", ::getpid());
    auto leased = pool.acquire();
    REQUIRE_MESSAGE(leased, (leased ? std::string{} : leased.error().to_string()));
    auto made = (*leased)->execute_script(fmt::format(
        "DROP TABLE IF EXISTS {0}; CREATE TABLE {0} (id int8 PRIMARY KEY, writer int4 NOT NULL)",
        table));
    REQUIRE_MESSAGE(made, (made ? std::string{} : made.error().to_string()));
    return table;
}

void drop_table(pgkit::pool& pool, const std::string& table) {
    auto leased = pool.acquire();
    if (leased) {
        (void)(*leased)->execute_script(fmt::format("DROP TABLE IF EXISTS {}", table));
    }
}

}  // namespace

TEST_SUITE("topology") {
    TEST_CASE("topology: the formation loses no acknowledged write in three planned failovers") {
        formation f;
        healthy_at_exit restore{f};
        f.wait_healthy();
        auto pool = formation_pool(f);
        const auto table = make_table(*pool);
        {
            writers writing{*pool, table};
            std::vector<failover_figures> rounds;
            for (int round = 1; round <= 3; ++round) {
                CAPTURE(round);
                rounds.push_back(fail_over(
                    f, *pool, writing.ledger(), [&] { return f.run("failover"); },
                    planned_gap_bound));
                print_figures("planned", round, rounds.back());
                f.wait_healthy();  // the next failover needs a secondary to promote
            }
            writing.stop();
            check_outcome(f, writing.ledger(), table, rounds);
        }
        drop_table(*pool, table);
    }

    TEST_CASE("topology: the formation loses no acknowledged write when the primary stops") {
        formation f;
        healthy_at_exit restore{f};
        f.wait_healthy();
        auto pool = formation_pool(f);
        const auto table = make_table(*pool);
        {
            writers writing{*pool, table};
            const auto stopped = f.primary();
            const auto figures = fail_over(
                f, *pool, writing.ledger(), [&] { return f.run("stop-primary"); },
                unplanned_gap_bound);
            print_figures("unplanned", 1, figures);
            const std::vector<failover_figures> rounds{figures};
            // The stopped node comes back as a secondary while the writers carry on.
            const auto started = f.run("start-node", {stopped});
            REQUIRE_MESSAGE(started.status == 0, started.output);
            f.wait_healthy();
            const auto now = steady::now();
            const auto more = writing.ledger().count_on(f.port(figures.to), now) + 100;
            CHECK(eventually(
                [&] { return writing.ledger().count_on(f.port(figures.to), now) >= more; }, 30s));
            CHECK(eventually(
                [&] {
                    return role_of(pool->metrics(), f.port(stopped)) == pgkit::node_role::standby;
                },
                15s));
            writing.stop();
            check_outcome(f, writing.ledger(), table, rounds);
        }
        drop_table(*pool, table);
    }
}
