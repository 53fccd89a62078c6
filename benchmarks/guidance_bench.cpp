// Index rules from the design documents (../shared/seeds: "covering indexes for index-only
// scans", "expression indexes for functions in WHERE", "IN instead of OR chains"), measured side
// by side on one table of 1M clips (scripts/bench --rows): each pair answers the same question
// two ways. The set-up checks with EXPLAIN that each query gets the plan its label names, and
// refuses to measure otherwise. Each reports the counter round_trips: the round trips per query,
// counted by connection::round_trips().
//
//   select_star_by_user          SELECT * of a user's clips (index scan + heap fetches)
//   index_only_by_user           the columns of a covering index only (Index Only Scan)
//   function_on_plain_index      WHERE lower(email) = $1 with a plain index on email (Seq Scan)
//   function_on_expression_index WHERE lower(email) = $1 with an index on lower(email)
//   or_chain_10_keys             WHERE id = $1 OR ... OR id = $10
//   any_array_10_keys            WHERE id = ANY($1) with the same ten keys
#include "pgkit/types/array.hpp"

#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

const std::int64_t clip_rows = pgkit::bench::dataset_rows();
const std::int64_t users = clip_rows / 20;  // 20 clips each, scattered over the table

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "guidance benchmark set-up failed: %s\n", message.c_str());
    std::exit(2);
}

/// Waits, up to three minutes, until no other session holds a snapshot older than `table`'s
/// pg_class row (the transaction that made and filled it); dies naming the holders otherwise.
void wait_for_older_snapshots(pgkit::connection& conn, const char* table) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
    for (;;) {
        auto holders = conn.execute(
            "SELECT pg_catalog.string_agg(pg_catalog.concat(backend_type, ' ', pid, ': ', "
            "pg_catalog.left(query, 80)), '; ') FROM pg_catalog.pg_stat_activity "
            "WHERE pid <> pg_catalog.pg_backend_pid() AND backend_xmin IS NOT NULL "
            "AND pg_catalog.age(backend_xmin) >= (SELECT pg_catalog.age(xmin) "
            "FROM pg_catalog.pg_class WHERE relname = $1)",
            std::string{table});
        if (!holders) {
            die(holders.error().to_string());
        }
        const auto who = (*holders)[0].get<std::optional<std::string>>(0).value_or(std::nullopt);
        if (!who) {
            return;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            die(fmt::format("{}: snapshots older than its rows stayed open: {}", table, *who));
        }
        (void)conn.execute("SELECT pg_catalog.pg_sleep(0.2)");
    }
}

/// guide_clips with clip_rows rows, built once (kept between runs when complete), vacuumed so
/// the visibility map lets index-only scans skip the heap.
void ensure_table() {
    static std::once_flag once;
    std::call_once(once, [] {
        auto conn = pgkit::bench::connect();
        auto exists = conn.execute("SELECT to_regclass('guide_clips') IS NOT NULL");
        if (!exists) {
            die(exists.error().to_string());
        }
        if ((*exists)[0].get<bool>(0).value_or(false)) {
            auto rows = conn.execute("SELECT count(*) FROM guide_clips");
            if (rows && (*rows)[0].get<std::int64_t>(0).value_or(0) == clip_rows) {
                return;
            }
        }
        // Two copies of the e-mail address: one with a plain index, one with an expression
        // index on lower(); the description makes the row as wide as a real one.
        auto made = conn.execute_script(fmt::format(
            "DROP TABLE IF EXISTS guide_clips;"
            "CREATE TABLE guide_clips (id int8 PRIMARY KEY, user_id int8 NOT NULL,"
            " title text NOT NULL, description text NOT NULL, view_count int8 NOT NULL,"
            " created_at timestamptz NOT NULL, email_plain text NOT NULL,"
            " email_expr text NOT NULL);"
            "INSERT INTO guide_clips SELECT g, g % {users}, 'clip ' || g,"
            " repeat('a clip description ', 10) || g, (g * 7919) % 100000,"
            " timestamptz '2026-01-01' - g * interval '1 minute',"
            " 'User' || g || '@Example.com', 'User' || g || '@Example.com'"
            " FROM generate_series(1::int8, {rows}) g;"
            "CREATE INDEX guide_clips_user ON guide_clips (user_id) INCLUDE (created_at, "
            "view_count);"
            "CREATE INDEX guide_clips_email_plain ON guide_clips (email_plain);"
            "CREATE INDEX guide_clips_email_lower ON guide_clips (lower(email_expr));",
            fmt::arg("users", users), fmt::arg("rows", clip_rows)));
        if (!made) {
            die(made.error().to_string());
        }
        // A VACUUM marks a page all-visible only when no snapshot older than its rows is open
        // (an autovacuum ANALYZE of the earlier suites' large tables can hold one for a while):
        // wait for those to end, then repeat until every page is.
        for (int attempt = 0;; ++attempt) {
            wait_for_older_snapshots(conn, "guide_clips");
            if (auto vacuumed = conn.execute("VACUUM ANALYZE guide_clips"); !vacuumed) {
                die(vacuumed.error().to_string());
            }
            auto visible = conn.execute(
                "SELECT relallvisible >= relpages FROM pg_class WHERE relname = 'guide_clips'");
            if (!visible) {
                die(visible.error().to_string());
            }
            if ((*visible)[0].get<bool>(0).value_or(false)) {
                break;
            }
            if (attempt == 20) {
                die("VACUUM could not mark guide_clips all-visible (a long transaction is open?)");
            }
        }
    });
}

/// Whether EXPLAIN of `sql` (with `args`) has a plan node of type `node`.
template <class... Args>
bool plan_has(pgkit::connection& conn,
              const std::string& sql,
              const std::string& node,
              const Args&... args) {
    auto plan = conn.execute("EXPLAIN (FORMAT JSON) " + sql, args...);
    if (!plan) {
        die(plan.error().to_string());
    }
    const auto text = (*plan)[0].template get<std::string>(0).value_or("");
    return text.find("\"Node Type\": \"" + node + "\"") != std::string::npos;
}

template <class... Args>
bool check_plan(benchmark::State& state,
                pgkit::connection& conn,
                const std::string& sql,
                const std::string& node,
                const Args&... args) {
    if (!plan_has(conn, sql, node, args...)) {
        state.SkipWithError(("the plan has no " + node + " node: " + sql).c_str());
        return false;
    }
    return true;
}

/// Runs `sql` with the arguments `next(i)` gives, expecting `rows` rows each time; reports rows and
/// the round trips per query.
template <class Next>
void measure(benchmark::State& state,
             pgkit::connection& conn,
             const std::string& sql,
             std::size_t rows,
             Next next) {
    std::int64_t i = 0;
    const std::uint64_t round_trips_before = conn.round_trips();
    for (auto _ : state) {
        auto result =
            std::apply([&](const auto&... args) { return conn.execute(sql, args...); }, next(i++));
        if (!result || result->size() != rows) {
            state.SkipWithError(result ? "wrong number of rows"
                                       : result.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(result);
    }
    state.counters["rows"] = static_cast<double>(rows);
    pgkit::bench::report_round_trips(state, conn.round_trips() - round_trips_before);
}

std::int64_t user_of(std::int64_t i) {
    return (i * 7907) % users;
}

const std::string star_sql = "SELECT * FROM guide_clips WHERE user_id = $1";
const std::string narrow_sql =
    "SELECT user_id, created_at, view_count FROM guide_clips WHERE user_id = $1";

void select_star_by_user(benchmark::State& state) {
    ensure_table();
    auto conn = pgkit::bench::connect();
    // Not "Index Only Scan": a SELECT * must read the heap.
    if (plan_has(conn, star_sql, "Index Only Scan", std::int64_t{1}) ||
        !(plan_has(conn, star_sql, "Index Scan", std::int64_t{1}) ||
          plan_has(conn, star_sql, "Bitmap Heap Scan", std::int64_t{1}))) {
        state.SkipWithError("SELECT * did not get an index scan with heap fetches");
        return;
    }
    measure(state, conn, star_sql, clip_rows / users,
            [](std::int64_t i) { return std::tuple{user_of(i)}; });
}
BENCHMARK(select_star_by_user)->UseRealTime()->Unit(benchmark::kMicrosecond);

void index_only_by_user(benchmark::State& state) {
    ensure_table();
    auto conn = pgkit::bench::connect();
    if (!check_plan(state, conn, narrow_sql, "Index Only Scan", std::int64_t{1})) {
        return;
    }
    measure(state, conn, narrow_sql, clip_rows / users,
            [](std::int64_t i) { return std::tuple{user_of(i)}; });
}
BENCHMARK(index_only_by_user)->UseRealTime()->Unit(benchmark::kMicrosecond);

std::string email_of(std::int64_t i) {
    return fmt::format("user{}@example.com", (i * 104'729) % clip_rows + 1);
}

const std::string lower_plain_sql = "SELECT id FROM guide_clips WHERE lower(email_plain) = $1";
const std::string lower_expr_sql = "SELECT id FROM guide_clips WHERE lower(email_expr) = $1";

void function_on_plain_index(benchmark::State& state) {
    ensure_table();
    auto conn = pgkit::bench::connect();
    // The index on email cannot serve lower(email): every row is read.
    if (plan_has(conn, lower_plain_sql, "Index Scan", email_of(1)) ||
        plan_has(conn, lower_plain_sql, "Bitmap Index Scan", email_of(1))) {
        state.SkipWithError("lower(email) used an index on email");
        return;
    }
    measure(state, conn, lower_plain_sql, 1,
            [](std::int64_t i) { return std::tuple{email_of(i)}; });
}
BENCHMARK(function_on_plain_index)->UseRealTime()->Unit(benchmark::kMicrosecond);

void function_on_expression_index(benchmark::State& state) {
    ensure_table();
    auto conn = pgkit::bench::connect();
    if (!(plan_has(conn, lower_expr_sql, "Index Scan", email_of(1)) ||
          plan_has(conn, lower_expr_sql, "Bitmap Index Scan", email_of(1)))) {
        state.SkipWithError("lower(email) did not use the expression index");
        return;
    }
    measure(state, conn, lower_expr_sql, 1, [](std::int64_t i) { return std::tuple{email_of(i)}; });
}
BENCHMARK(function_on_expression_index)->UseRealTime()->Unit(benchmark::kMicrosecond);

constexpr std::int64_t key_count = 10;

std::vector<std::int64_t> keys_of(std::int64_t i) {
    std::vector<std::int64_t> keys;
    for (std::int64_t k = 0; k < key_count; ++k) {
        keys.push_back(((i * key_count + k) * 15'485'863) % clip_rows + 1);
    }
    return keys;
}

std::string or_chain_sql() {
    std::string sql = "SELECT id, title FROM guide_clips WHERE ";
    for (std::int64_t k = 1; k <= key_count; ++k) {
        sql += fmt::format("{}id = ${}", k == 1 ? "" : " OR ", k);
    }
    return sql;
}

template <std::size_t... Is>
auto keys_tuple(const std::vector<std::int64_t>& keys, std::index_sequence<Is...>) {
    return std::tuple{keys[Is]...};
}

void or_chain_10_keys(benchmark::State& state) {
    ensure_table();
    auto conn = pgkit::bench::connect();
    const auto sql = or_chain_sql();
    auto args = [](std::int64_t i) {
        return keys_tuple(keys_of(i), std::make_index_sequence<key_count>{});
    };
    if (!std::apply([&](const auto&... a) { return plan_has(conn, sql, "BitmapOr", a...); },
                    args(0))) {
        state.SkipWithError("the OR chain did not get a BitmapOr of index scans");
        return;
    }
    measure(state, conn, sql, key_count, args);
}
BENCHMARK(or_chain_10_keys)->UseRealTime()->Unit(benchmark::kMicrosecond);

void any_array_10_keys(benchmark::State& state) {
    ensure_table();
    auto conn = pgkit::bench::connect();
    const std::string sql = "SELECT id, title FROM guide_clips WHERE id = ANY($1)";
    if (!check_plan(state, conn, sql, "Index Scan", keys_of(0))) {
        return;
    }
    measure(state, conn, sql, key_count, [](std::int64_t i) { return std::tuple{keys_of(i)}; });
}
BENCHMARK(any_array_10_keys)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
