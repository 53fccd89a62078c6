// Benchmarks against the test topologies, each started by scripts/bench for its phase and found
// through an environment variable (a benchmark whose variable is unset reports an error):
//
// - formation_planned_failover (PGKIT_BENCH_FORMATION_DIR: scripts/pg-formation's state
//   directory). One planned failover per repetition (`pg-formation failover`), while eight
//   writer threads insert rows through one pgkit pool on the formation's multi-host URL and,
//   beside them, a bare libpq probe inserts through psql with the same URL
//   (target_session_attrs=read-write), one fresh connection per insert, in a tight loop. The
//   iteration time is pgkit's write gap: from the failover command to the first insert
//   acknowledged on the new primary. Counters: pgkit_gap_ms, probe_gap_ms (the same for the
//   probe, in the same failover), gap_over_probe, probe_inserts and probe_period_ms (how often
//   the probe wrote: its resolution), acknowledged, lost_acknowledged (acknowledged
//   inserts missing on the new primary afterwards), lost_while_asynchronous (those of them a node
//   acknowledged after pg_auto_failover's monitor had switched off its synchronous replication),
//   errors_<code> (every error value the writers saw, by code).
// - standby_reads_90_10 (PGKIT_BENCH_STANDBY_DIR: scripts/pg-standby's state directory). Eight
//   threads on one pool on the primary-and-standby URL, nine point reads through acquire_read()
//   for every single-row update through acquire(). Counters: replica_reads and fallback_reads
//   (pool_metrics: the nodes' reads_served, read_fallbacks), replica_read_share, max_lag_ms (the
//   standby's lag as the pool's probe saw it, sampled during the run).
// - pgbouncer_pgkit_point_select and pgbouncer_pgbench (PGKIT_BENCH_PGBOUNCER_URL: PgBouncer in
//   transaction mode in front of the benchmark server, which holds pgbench's tables). pgkit: 8
//   threads, a pool of 8 with connection_options::pooler = transaction, `SELECT abalance FROM
//   pgbench_accounts WHERE aid = $1` (unnamed statements: the pool caches none behind a
//   transaction-mode pooler). pgbench: `pgbench -n -S -M extended -c 8 -j 2 -T
//   PGKIT_BENCH_PGBENCH_SECONDS` through the same PgBouncer, run by this program so that random
//   interleaving alternates the two; counter tps.
//
// PGKIT_BENCH_PSQL and PGKIT_BENCH_PGBENCH name the client programs (default: from PATH);
// PGKIT_SOURCE_DIR/scripts/pg-formation drives the formation.
#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"

#include "pgbench_output.hpp"
#include "support/failover_writer.hpp"
#include "support/run_command.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using pgkit::bench::pgbench_tps;
using pgkit::test::acknowledgement;
using pgkit::test::command_result;
using pgkit::test::run_command;
using pgkit::test::server_clock;
using pgkit::test::write_rows;
using std::chrono::milliseconds;

// ---- helpers ----------------------------------------------------------------------------------

std::optional<std::string> environment(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == 0) {
        return std::nullopt;
    }
    return std::string{value};
}

std::string first_line(const std::filesystem::path& file) {
    std::ifstream in{file};
    std::string line;
    std::getline(in, line);
    return line;
}

/// Polls `condition` every 10 ms until it holds or `limit` passes.
bool eventually(const std::function<bool()>& condition, milliseconds limit) {
    const auto deadline = steady::now() + limit;
    while (steady::now() < deadline) {
        if (condition()) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return condition();
}

std::string describe(const pgkit::error& e) {
    return e.to_string();
}

// ---- the formation: planned failovers ---------------------------------------------------------

/// What the writers (or the probe) saw.
class ledger {
  public:
    void acknowledged(const acknowledgement& ack) {
        std::lock_guard guard{mutex_};
        acks_.push_back(ack);
    }
    void failed(const pgkit::error& e) {
        std::lock_guard guard{mutex_};
        ++errors_[std::string{pgkit::to_string(e.code())}];
    }
    // How the writers settled unknown outcomes is the failover tests' concern; the benchmark
    // counts acknowledgements and error codes only (an insert never acknowledged cannot be lost).
    void settled(bool /*present*/) {}
    void undecided(std::int64_t /*id*/, const std::string& /*why*/) {}
    void gave_up() {}
    [[nodiscard]] std::size_t count() const {
        std::lock_guard guard{mutex_};
        return acks_.size();
    }
    [[nodiscard]] std::optional<steady::time_point> first_on(std::int32_t port,
                                                             steady::time_point since) const {
        std::lock_guard guard{mutex_};
        std::optional<steady::time_point> first;
        for (const auto& ack : acks_) {
            if (ack.port == port && ack.at >= since && (!first || ack.at < *first)) {
                first = ack.at;
            }
        }
        return first;
    }
    [[nodiscard]] std::vector<acknowledgement> acks() const {
        std::lock_guard guard{mutex_};
        return acks_;
    }
    [[nodiscard]] std::map<std::string, std::size_t> errors() const {
        std::lock_guard guard{mutex_};
        return errors_;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<acknowledgement> acks_;
    std::map<std::string, std::size_t> errors_;
};

/// The bare libpq probe: psql with the formation's URL, a new connection per insert, until
/// `stop`; each success is recorded with the port that took it.
void probe_with_psql(const std::string& psql,
                     const std::string& url,
                     const std::string& table,
                     const std::atomic<bool>& stop,
                     ledger& seen) {
    const auto sql =
        fmt::format("INSERT INTO {} DEFAULT VALUES RETURNING inet_server_port()", table);
    // The pool's connect timeout; a fresh process per insert, as a shell loop would.
    const auto target =
        url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=5";
    while (!stop.load(std::memory_order_relaxed)) {
        const auto answer =
            run_command({psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", target, "-c", sql},
                        std::chrono::seconds{30}, true);
        const auto now = steady::now();
        if (answer.status == 0) {
            try {
                seen.acknowledged({0, std::stoi(answer.output), 0, now});
            } catch (const std::exception&) {
            }
        }
    }
}

struct formation {
    std::filesystem::path dir;
    std::filesystem::path script;

    command_result run(const std::string& command, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args{script.string(), command, dir.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_command(args, std::chrono::seconds{300});
    }
    [[nodiscard]] std::int32_t port(const std::string& node) const {
        return std::stoi(first_line(dir / (node + "_port")));
    }
};

/// Runs one statement on a connection of its own to `url`; the error text when it fails.
std::optional<std::string> run_sql(const std::string& url, const std::string& sql) {
    auto options = pgkit::connection_options::parse(url);
    if (!options) {
        return describe(options.error());
    }
    auto conn = pgkit::connection::open(*options);
    if (!conn) {
        return describe(conn.error());
    }
    auto done = conn->execute_script(sql);
    if (!done) {
        return describe(done.error());
    }
    return std::nullopt;
}

void formation_planned_failover(benchmark::State& state) {
    const auto dir = environment("PGKIT_BENCH_FORMATION_DIR");
    if (!dir) {
        state.SkipWithError("PGKIT_BENCH_FORMATION_DIR is not set (scripts/bench sets it)");
        return;
    }
    const formation f{*dir, std::filesystem::path{PGKIT_SOURCE_DIR} / "scripts" / "pg-formation"};
    const auto url = first_line(f.dir / "url");
    const auto psql = environment("PGKIT_BENCH_PSQL").value_or("psql");
    const std::string table = "pgkit_bench_failover_writes";
    const std::string probe_table = "pgkit_bench_failover_probe";
    for (auto _ : state) {
        if (const auto healthy = f.run("wait-healthy", {"180"}); healthy.status != 0) {
            state.SkipWithError(("the formation is not healthy: " + healthy.output).c_str());
            return;
        }
        if (auto failed =
                run_sql(url, fmt::format("DROP TABLE IF EXISTS {0}, {1}; CREATE TABLE {0} (id int8 "
                                         "PRIMARY KEY, writer int4 NOT NULL); CREATE TABLE {1} (id "
                                         "bigserial PRIMARY KEY)",
                                         table, probe_table))) {
            state.SkipWithError(failed->c_str());
            return;
        }
        auto connection = pgkit::connection_options::parse(url);
        auto created = pgkit::pool::create({.connection = *connection,
                                            .name = "bench-failover",
                                            .max_size = 8,
                                            .acquire_timeout = 10s,
                                            .connect_timeout = 5s});
        if (!created) {
            state.SkipWithError(describe(created.error()).c_str());
            return;
        }
        auto pool = std::move(*created);
        const auto primary = f.run("primary");
        const std::string old_node = primary.output.substr(0, primary.output.find('\n'));
        const std::string new_node = old_node == "node1" ? "node2" : "node1";
        if (primary.status != 0 || (old_node != "node1" && old_node != "node2")) {
            state.SkipWithError(("pg-formation primary: " + primary.output).c_str());
            return;
        }
        const auto old_port = f.port(old_node);
        const auto new_port = f.port(new_node);

        std::atomic<bool> stop{false};
        ledger writes;
        ledger probes;
        std::vector<std::thread> threads;
        for (std::int32_t w = 1; w <= 8; ++w) {
            threads.emplace_back([&, w] { write_rows(*pool, table, w, stop, writes); });
        }
        const auto probing_since = steady::now();
        threads.emplace_back([&] { probe_with_psql(psql, url, probe_table, stop, probes); });
        const auto stop_all = [&] {
            stop.store(true);
            for (auto& t : threads) {
                t.join();
            }
        };
        if (!eventually([&] { return writes.count() >= 100 && probes.count() >= 3; }, 60s)) {
            stop_all();
            state.SkipWithError("writes did not flow before the failover");
            return;
        }
        // The monitor's clock at the command, for its event log.
        auto monitor_options = pgkit::connection_options::parse(first_line(f.dir / "monitor_url"));
        auto monitor = pgkit::connection::open(*monitor_options);
        auto started_micros = monitor
                                  ? monitor->execute(fmt::format("SELECT {}", server_clock))
                                        .and_then(&pgkit::query_result::scalar<std::int64_t>)
                                  : pgkit::result<std::int64_t>{tl::unexpected(monitor.error())};

        const auto started = steady::now();
        auto command = std::async(std::launch::async, [&] { return f.run("failover"); });
        const bool both = eventually(
            [&] {
                return writes.first_on(new_port, started) && probes.first_on(new_port, started);
            },
            120s);
        const auto done = command.get();
        stop_all();
        const double probing_ms =
            std::chrono::duration<double, std::milli>(steady::now() - probing_since).count();
        if (!both || done.status != 0) {
            state.SkipWithError(
                fmt::format("no write on the new primary within 120 s, or pg-formation failed: {}",
                            done.output)
                    .c_str());
            return;
        }
        const auto pgkit_gap = *writes.first_on(new_port, started) - started;
        const auto probe_gap = *probes.first_on(new_port, started) - started;

        // Every acknowledged insert must be on the new primary.
        auto on_new = pgkit::connection::open(
            *pgkit::connection_options::parse(first_line(f.dir / (new_node + "_url"))));
        auto ids = on_new ? on_new->execute(fmt::format("SELECT id FROM {}", table))
                          : pgkit::result<pgkit::query_result>{tl::unexpected(on_new.error())};
        if (!ids || !started_micros) {
            state.SkipWithError(
                (ids ? describe(started_micros.error()) : describe(ids.error())).c_str());
            return;
        }
        std::set<std::int64_t> present;
        for (const auto& row : *ids) {
            present.insert(row.get<std::int64_t>(0).value_or(-1));
        }
        // When the monitor switched the old primary to wait_primary (no synchronous
        // replication) in this failover, if it did.
        auto asynchronous_from =
            monitor
                ->execute(
                    "SELECT min((extract(epoch FROM eventtime) * 1000000)::int8) FROM "
                    "pgautofailover.event WHERE nodename = $1 AND reportedstate = 'primary' "
                    "AND goalstate = 'wait_primary' AND eventtime >= to_timestamp($2 / 1e6)",
                    old_node, *started_micros)
                .and_then(&pgkit::query_result::scalar<std::optional<std::int64_t>>);
        std::size_t lost = 0;
        std::size_t lost_asynchronous = 0;
        const auto acks = writes.acks();
        for (const auto& ack : acks) {
            if (present.count(ack.id) != 0) {
                continue;
            }
            ++lost;
            if (asynchronous_from && *asynchronous_from && ack.port == old_port &&
                ack.server_micros >= **asynchronous_from) {
                ++lost_asynchronous;
            }
        }
        (void)run_sql(url, fmt::format("DROP TABLE IF EXISTS {}, {}", table, probe_table));

        const double pgkit_s = std::chrono::duration<double>(pgkit_gap).count();
        const double probe_s = std::chrono::duration<double>(probe_gap).count();
        state.SetIterationTime(pgkit_s);
        state.counters["pgkit_gap_ms"] = pgkit_s * 1e3;
        state.counters["probe_gap_ms"] = probe_s * 1e3;
        state.counters["gap_over_probe"] = pgkit_s / probe_s;
        state.counters["acknowledged"] = static_cast<double>(acks.size());
        // How often the probe wrote: its resolution (failures included in the time).
        state.counters["probe_inserts"] = static_cast<double>(probes.count());
        state.counters["probe_period_ms"] =
            probing_ms / static_cast<double>(std::max<std::size_t>(probes.count(), 1));
        state.counters["lost_acknowledged"] = static_cast<double>(lost);
        state.counters["lost_while_asynchronous"] = static_cast<double>(lost_asynchronous);
        state.counters["old_primary_made_asynchronous"] =
            asynchronous_from && *asynchronous_from ? 1 : 0;
        for (const auto& [code, count] : writes.errors()) {
            state.counters["errors_" + code] = static_cast<double>(count);
        }
        std::fprintf(stderr,
                     "failover %s -> %s: pgkit %.0f ms, psql probe %.0f ms; %zu acknowledged, "
                     "%zu lost (%zu after the old primary was made asynchronous)\n",
                     old_node.c_str(), new_node.c_str(), pgkit_s * 1e3, probe_s * 1e3, acks.size(),
                     lost, lost_asynchronous);
    }
}
BENCHMARK(formation_planned_failover)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---- the standby pair: replica reads ----------------------------------------------------------

constexpr std::int64_t replica_rows = 10'000;

struct replica_setup {
    std::shared_ptr<pgkit::pool> pool;
    std::string error;
};

/// One pool on the pair's URL, its table created on the primary and replayed on the standby.
replica_setup& standby_pool() {
    static replica_setup setup = [] {
        replica_setup s;
        const auto dir = environment("PGKIT_BENCH_STANDBY_DIR");
        if (!dir) {
            s.error = "PGKIT_BENCH_STANDBY_DIR is not set (scripts/bench sets it)";
            return s;
        }
        const std::filesystem::path state_dir{*dir};
        if (auto failed = run_sql(
                first_line(state_dir / "primary_url"),
                fmt::format("DROP TABLE IF EXISTS bench_replica_items; CREATE TABLE "
                            "bench_replica_items (id int8 PRIMARY KEY, name text NOT NULL, score "
                            "int4 NOT NULL); INSERT INTO bench_replica_items SELECT g, 'item ' || "
                            "g, g % 1000 FROM generate_series(1, {}) g; ANALYZE "
                            "bench_replica_items",
                            replica_rows))) {
            s.error = *failed;
            return s;
        }
        auto connection = pgkit::connection_options::parse(first_line(state_dir / "url"));
        auto created = pgkit::pool::create({.connection = *connection,
                                            .name = "bench-replicas",
                                            .max_size = 8,
                                            .min_idle = 8,
                                            .acquire_timeout = 10s});
        if (!created) {
            s.error = describe(created.error());
            return s;
        }
        s.pool = std::move(*created);
        // Until the standby has replayed the table and the probe says so.
        const auto token = s.pool->write_position();
        const bool replayed =
            token && eventually(
                         [&] {
                             s.pool->wait_for_probe(5s);
                             auto leased = s.pool->acquire_read({.after = *token});
                             return leased && (*leased)->reported_setting("in_hot_standby") == "on";
                         },
                         60s);
        if (!replayed) {
            s.error = "the standby did not replay the benchmark table within 60 s";
        }
        return s;
    }();
    return setup;
}

struct read_counts {
    std::uint64_t replica = 0;
    std::uint64_t fallback = 0;
};

read_counts count_reads(const pgkit::pool_metrics& m) {
    read_counts out{0, m.read_fallbacks};
    for (const auto& node : m.nodes) {
        out.replica += node.reads_served;
    }
    return out;
}

std::int64_t standby_lag_ms(const pgkit::pool_metrics& m) {
    std::int64_t lag = 0;
    for (const auto& node : m.nodes) {
        if (node.role == pgkit::node_role::standby && node.lag) {
            lag = std::max<std::int64_t>(lag, node.lag->count());
        }
    }
    return lag;
}

void standby_reads_90_10(benchmark::State& state) {
    auto& setup = standby_pool();
    if (!setup.pool) {
        state.SkipWithError(setup.error.c_str());
        return;
    }
    auto& pool = *setup.pool;
    read_counts before;
    if (state.thread_index() == 0) {
        before = count_reads(pool.metrics());  // before the start barrier: nobody reads yet
    }
    std::mt19937_64 random{static_cast<std::uint64_t>(state.thread_index()) + 1};
    std::uniform_int_distribution<std::int64_t> ids{1, replica_rows};
    std::int64_t max_lag = 0;
    std::uint64_t n = 0;
    for (auto _ : state) {
        const auto id = ids(random);
        if (++n % 10 == 0) {
            auto leased = pool.acquire();
            auto done = leased ? (*leased)->execute(
                                     "UPDATE bench_replica_items SET score = score + 1 WHERE "
                                     "id = $1",
                                     id)
                               : pgkit::result<pgkit::query_result>{tl::unexpected(leased.error())};
            if (!done) {
                state.SkipWithError(describe(done.error()).c_str());
                break;
            }
        } else {
            auto leased = pool.acquire_read();
            auto row = leased ? (*leased)
                                    ->execute(
                                        "SELECT id, name, score FROM bench_replica_items "
                                        "WHERE id = $1",
                                        id)
                                    .and_then(&pgkit::query_result::one)
                              : pgkit::result<pgkit::row>{tl::unexpected(leased.error())};
            if (!row) {
                state.SkipWithError(describe(row.error()).c_str());
                break;
            }
            benchmark::DoNotOptimize(row);
        }
        if (state.thread_index() == 0 && n % 1000 == 0) {
            max_lag = std::max(max_lag, standby_lag_ms(pool.metrics()));
        }
    }
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) {
        // After the stop barrier: every thread has finished its reads.
        const auto m = pool.metrics();
        const auto after = count_reads(m);
        max_lag = std::max(max_lag, standby_lag_ms(m));
        const auto replica = static_cast<double>(after.replica - before.replica);
        const auto fallback = static_cast<double>(after.fallback - before.fallback);
        state.counters["replica_reads"] = replica;
        state.counters["fallback_reads"] = fallback;
        state.counters["replica_read_share"] =
            replica + fallback > 0 ? replica / (replica + fallback) : 0.0;
        state.counters["max_lag_ms"] = static_cast<double>(max_lag);
        state.counters["max_lag_bound_ms"] =
            static_cast<double>(pool.options().replicas.max_lag.count());
    }
}
BENCHMARK(standby_reads_90_10)->UseRealTime()->Threads(8);

// ---- PgBouncer: pgkit against pgbench ---------------------------------------------------------

struct bouncer_setup {
    std::shared_ptr<pgkit::pool> pool;
    std::int64_t accounts = 0;
    std::string error;
};

bouncer_setup& bouncer_pool() {
    static bouncer_setup setup = [] {
        bouncer_setup s;
        const auto url = environment("PGKIT_BENCH_PGBOUNCER_URL");
        if (!url) {
            s.error = "PGKIT_BENCH_PGBOUNCER_URL is not set (scripts/bench sets it)";
            return s;
        }
        auto connection = pgkit::connection_options::parse(*url);
        if (!connection) {
            s.error = describe(connection.error());
            return s;
        }
        connection->pooler = pgkit::pooler_mode::transaction;
        auto created = pgkit::pool::create({.connection = *connection,
                                            .name = "bench-pgbouncer",
                                            .max_size = 8,
                                            .min_idle = 8,
                                            .acquire_timeout = 10s});
        if (!created) {
            s.error = describe(created.error());
            return s;
        }
        s.pool = std::move(*created);
        auto leased = s.pool->acquire();
        auto branches = leased ? (*leased)
                                     ->execute("SELECT count(*) FROM pgbench_branches")
                                     .and_then(&pgkit::query_result::scalar<std::int64_t>)
                               : pgkit::result<std::int64_t>{tl::unexpected(leased.error())};
        if (!branches || *branches == 0) {
            s.error = branches ? "pgbench_branches is empty (run pgbench -i first)"
                               : describe(branches.error());
            s.pool.reset();
            return s;
        }
        s.accounts = *branches * 100'000;  // pgbench's scale: 100 000 accounts per branch
        return s;
    }();
    return setup;
}

void pgbouncer_pgkit_point_select(benchmark::State& state) {
    auto& setup = bouncer_pool();
    if (!setup.pool) {
        state.SkipWithError(setup.error.c_str());
        return;
    }
    std::mt19937_64 random{static_cast<std::uint64_t>(state.thread_index()) + 7};
    std::uniform_int_distribution<std::int64_t> aids{1, setup.accounts};
    for (auto _ : state) {
        auto leased = setup.pool->acquire();
        if (!leased) {
            state.SkipWithError(describe(leased.error()).c_str());
            break;
        }
        auto balance = leased
                           ->execute_cached("SELECT abalance FROM pgbench_accounts WHERE aid = $1",
                                            aids(random))
                           .and_then(&pgkit::query_result::scalar<std::int32_t>);
        if (!balance) {
            state.SkipWithError(describe(balance.error()).c_str());
            break;
        }
        benchmark::DoNotOptimize(balance);
    }
    state.SetItemsProcessed(state.iterations());  // summed over threads: transactions per second
}
BENCHMARK(pgbouncer_pgkit_point_select)->UseRealTime()->Threads(8);

void pgbouncer_pgbench(benchmark::State& state) {
    const auto url = environment("PGKIT_BENCH_PGBOUNCER_URL");
    if (!url) {
        state.SkipWithError("PGKIT_BENCH_PGBOUNCER_URL is not set (scripts/bench sets it)");
        return;
    }
    const auto pgbench = environment("PGKIT_BENCH_PGBENCH").value_or("pgbench");
    const auto seconds = std::stoi(environment("PGKIT_BENCH_PGBENCH_SECONDS").value_or("5"));
    for (auto _ : state) {
        const auto run = run_command({pgbench, "-n", "-S", "-M", "extended", "-c", "8", "-j", "2",
                                      "-T", std::to_string(seconds), *url},
                                     std::chrono::seconds{seconds + 60});
        const auto tps = pgbench_tps(run.output);
        if (run.status != 0 || !tps) {
            state.SkipWithError(("pgbench failed: " + run.output).c_str());
            return;
        }
        state.SetIterationTime(seconds);
        state.counters["tps"] = *tps;
    }
}
BENCHMARK(pgbouncer_pgbench)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
