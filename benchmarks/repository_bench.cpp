// Repositories against hand-written clients on the same server in the same run:
//   get by primary key: repository.get vs libpqxx (prepared) vs raw libpq
//   loading 100 rows by key: N+1 get loop vs find_many vs a hand-written join
//   inserting 100k rows: row by row vs multi-row VALUES vs insert_many vs raw COPY
//   count() vs estimated_count() on 1M rows
//   peak resident memory growth: for_each_where and export_where (COPY out) over 1M rows,
//   insert_many of 1M generated rows
//   streaming 1M rows: for_each_where (cursor) vs export_where (COPY out), wall time
// Each reports the counter round_trips, per iteration: counted on the pool's connection
// (connection::round_trips(), bench_support's pool_round_trips) or, for the hand-written
// libpqxx and libpq code, by bench_support's round_trip_count.
// PGKIT_BENCH_DATABASE_URL names the server (scripts/bench sets it).
#include "pgkit/pgkit.hpp"

#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <pqxx/pqxx>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <ranges>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

struct bench_row {
    std::int64_t id = 0;
    std::string name;
    std::int32_t score = 0;
};

struct gen_row {
    std::int64_t id = 0;
    std::string name;
    std::int64_t value = 0;
};

}  // namespace

template <>
struct pgkit::entity<bench_row> {
    static constexpr std::string_view table = "bench_items";
    static constexpr auto columns =
        std::tuple{pgkit::column(&bench_row::id, "id"), pgkit::column(&bench_row::name, "name"),
                   pgkit::column(&bench_row::score, "score")};
    static constexpr auto primary_key = pgkit::key(&bench_row::id);
};

template <>
struct pgkit::entity<gen_row> {
    static constexpr std::string_view table = "bench_repo_insert";
    static constexpr auto columns =
        std::tuple{pgkit::column(&gen_row::id, "id"), pgkit::column(&gen_row::name, "name"),
                   pgkit::column(&gen_row::value, "value")};
    static constexpr auto primary_key = pgkit::key(&gen_row::id);
};

namespace {

const std::int64_t item_rows = pgkit::bench::dataset_rows();
constexpr std::int64_t insert_rows = 100'000;

std::shared_ptr<pgkit::pool> bench_pool() {
    static std::shared_ptr<pgkit::pool> pool = [] {
        auto options = pgkit::connection_options::parse(pgkit::bench::database_url());
        if (!options) {
            std::fprintf(stderr, "%s\n", options.error().to_string().c_str());
            std::abort();
        }
        auto created = pgkit::pool::create({.connection = *options, .max_size = 2});
        if (!created) {
            std::fprintf(stderr, "%s\n", created.error().to_string().c_str());
            std::abort();
        }
        return *created;
    }();
    return pool;
}

void reset_insert_table() {
    auto conn = pgkit::bench::connect();
    auto done = conn.execute_script(
        "DROP TABLE IF EXISTS bench_repo_insert;"
        "CREATE UNLOGGED TABLE bench_repo_insert (id int8 PRIMARY KEY, name text NOT NULL, "
        "value int8 NOT NULL)");
    if (!done) {
        std::fprintf(stderr, "%s\n", done.error().to_string().c_str());
        std::abort();
    }
}

gen_row make_row(std::int64_t i) {
    return {i, "row number " + std::to_string(i), i * 7};
}

std::int64_t key_for(std::int64_t i) {
    return 1 + (i * 7919) % item_rows;
}

/// Counts the round trips on the pool's connection: every benchmark here holds one lease at a time.
pgkit::bench::pool_round_trips count_round_trips() {
    return {*bench_pool(), 1};
}

// ---- get by primary key -------------------------------------------------------------------

void repository_get(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pgkit::repository<bench_row> items{bench_pool()};
    std::int64_t i = 0;
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        auto row = items.get(key_for(i++));
        if (!row) {
            state.SkipWithError(row.error().to_string().c_str());
            break;
        }
        benchmark::DoNotOptimize(row->score);
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
}
BENCHMARK(repository_get)->UseRealTime();

void libpqxx_get(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pqxx::connection conn{pgkit::bench::database_url()};
    pgkit::bench::round_trip_count trips;
    trips(
        [&] { conn.prepare("get_item", "SELECT id, name, score FROM bench_items WHERE id = $1"); });
    pqxx::nontransaction tx{conn};  // sends nothing: no BEGIN
    std::int64_t i = 0;
    const std::uint64_t round_trips_before = trips.total();
    for (auto _ : state) {
        pqxx::result r = trips([&] {
#if PQXX_VERSION_MAJOR > 7 || (PQXX_VERSION_MAJOR == 7 && PQXX_VERSION_MINOR >= 10)
            return tx.exec(pqxx::prepped{"get_item"}, pqxx::params{key_for(i++)});
#else
            return tx.exec_prepared("get_item", key_for(i++));
#endif
        });
        if (r.size() != 1) {
            state.SkipWithError("row missing");
            break;
        }
        bench_row row{r[0][0].as<std::int64_t>(), r[0][1].as<std::string>(),
                      r[0][2].as<std::int32_t>()};
        benchmark::DoNotOptimize(row.score);
    }
    pgkit::bench::report_round_trips(state, trips.total() - round_trips_before);
}
BENCHMARK(libpqxx_get)->UseRealTime();

void libpq_get(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    PGconn* conn = PQconnectdb(pgkit::bench::database_url().c_str());
    pgkit::bench::round_trip_count trips;
    PQclear(trips([&] {
        return PQprepare(conn, "get_item", "SELECT id, name, score FROM bench_items WHERE id = $1",
                         1, nullptr);
    }));
    std::int64_t i = 0;
    const std::uint64_t round_trips_before = trips.total();
    for (auto _ : state) {
        const std::string id = std::to_string(key_for(i++));
        const char* values[] = {id.c_str()};
        PGresult* res =
            trips([&] { return PQexecPrepared(conn, "get_item", 1, values, nullptr, nullptr, 0); });
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            state.SkipWithError("row missing");
            PQclear(res);
            break;
        }
        bench_row row{
            std::strtoll(PQgetvalue(res, 0, 0), nullptr, 10),
            std::string{PQgetvalue(res, 0, 1), static_cast<std::size_t>(PQgetlength(res, 0, 1))},
            static_cast<std::int32_t>(std::strtol(PQgetvalue(res, 0, 2), nullptr, 10))};
        benchmark::DoNotOptimize(row.score);
        PQclear(res);
    }
    PQfinish(conn);
    pgkit::bench::report_round_trips(state, trips.total() - round_trips_before);
}
BENCHMARK(libpq_get)->UseRealTime();

// ---- loading 100 rows by key --------------------------------------------------------------

std::vector<std::int64_t> hundred_keys(std::int64_t round) {
    std::vector<std::int64_t> keys;
    for (std::int64_t k = 0; k < 100; ++k) {
        keys.push_back(key_for(round * 100 + k));
    }
    return keys;
}

void loading_n_plus_1(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pgkit::repository<bench_row> items{bench_pool()};
    std::int64_t round = 0;
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        std::vector<bench_row> out;
        for (std::int64_t key : hundred_keys(round++)) {
            out.push_back(items.get(key).value());
        }
        benchmark::DoNotOptimize(out.data());
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
}
BENCHMARK(loading_n_plus_1)->UseRealTime();

void loading_find_many(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pgkit::repository<bench_row> items{bench_pool()};
    std::int64_t round = 0;
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        auto out = items.find_many(hundred_keys(round++)).value();
        benchmark::DoNotOptimize(out.data());
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
}
BENCHMARK(loading_find_many)->UseRealTime();

void loading_join(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    auto lease = bench_pool()->acquire().value();
    std::int64_t round = 0;
    const std::uint64_t round_trips_before = lease->round_trips();
    for (auto _ : state) {
        auto rows = lease
                        .execute_cached(
                            "SELECT i.id, i.name, i.score FROM unnest($1::int8[]) AS k(id) "
                            "JOIN bench_items i ON i.id = k.id",
                            hundred_keys(round++))
                        .value();
        std::vector<bench_row> out;
        for (const auto& r : rows) {
            auto [id, name, score] = r.as<std::int64_t, std::string, std::int32_t>().value();
            out.push_back({id, std::move(name), score});
        }
        benchmark::DoNotOptimize(out.data());
    }
    pgkit::bench::report_round_trips(state, lease->round_trips() - round_trips_before);
}
BENCHMARK(loading_join)->UseRealTime();

// ---- inserting 100k rows ------------------------------------------------------------------

void insert_row_by_row(benchmark::State& state) {
    pgkit::repository<gen_row> rows{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        state.PauseTiming();
        reset_insert_table();
        state.ResumeTiming();
        for (std::int64_t i = 0; i < insert_rows; ++i) {
            if (!rows.insert(make_row(i))) {
                state.SkipWithError("insert failed");
                return;
            }
        }
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
    state.SetItemsProcessed(state.iterations() * insert_rows);
}
BENCHMARK(insert_row_by_row)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void insert_multi_values(benchmark::State& state) {
    pgkit::repository<gen_row> rows{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        state.PauseTiming();
        reset_insert_table();
        state.ResumeTiming();
        std::vector<gen_row> batch;
        for (std::int64_t i = 0; i < insert_rows; ++i) {
            batch.push_back(make_row(i));
            if (batch.size() == 1000 || i + 1 == insert_rows) {
                if (!rows.insert_many(batch, 1000)) {  // <= small_batch: one multi-row VALUES
                    state.SkipWithError("insert failed");
                    return;
                }
                batch.clear();
            }
        }
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
    state.SetItemsProcessed(state.iterations() * insert_rows);
}
BENCHMARK(insert_multi_values)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

void insert_many_copy(benchmark::State& state) {
    pgkit::repository<gen_row> rows{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        state.PauseTiming();
        reset_insert_table();
        state.ResumeTiming();
        auto stored = rows.insert_many(std::views::iota(std::int64_t{0}, insert_rows) |
                                       std::views::transform(make_row));
        if (!stored || *stored != static_cast<std::uint64_t>(insert_rows)) {
            state.SkipWithError("insert_many failed");
            return;
        }
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
    state.SetItemsProcessed(state.iterations() * insert_rows);
}
BENCHMARK(insert_many_copy)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);

/// The floor: hand-written libpq COPY (text rows built with to_chars, sent in 256 KiB chunks).
void insert_raw_copy(benchmark::State& state) {
    // One warm session for all iterations, as the repository's pooled one is.
    PGconn* conn = PQconnectdb(pgkit::bench::database_url().c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        state.SkipWithError(PQerrorMessage(conn));
        PQfinish(conn);
        return;
    }
    pgkit::bench::round_trip_count trips;
    for (auto _ : state) {
        state.PauseTiming();
        reset_insert_table();
        state.ResumeTiming();
        PGresult* started = trips(
            [&] { return PQexec(conn, "COPY bench_repo_insert (id, name, value) FROM STDIN"); });
        const bool copying = PQresultStatus(started) == PGRES_COPY_IN;
        PQclear(started);
        bool ok = copying;
        std::string buffer;
        buffer.reserve(300 * 1024);
        char number[24];
        for (std::int64_t i = 0; ok && i < insert_rows; ++i) {
            const gen_row row = make_row(i);  // names need no COPY escaping
            buffer.append(number, std::to_chars(number, number + sizeof number, row.id).ptr);
            buffer += '\t';
            buffer += row.name;
            buffer += '\t';
            buffer.append(number, std::to_chars(number, number + sizeof number, row.value).ptr);
            buffer += '\n';
            if (buffer.size() >= 256 * 1024) {
                ok = PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) == 1;
                buffer.clear();
            }
        }
        ok = ok && PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) == 1;
        // The data went without waiting; the end of the COPY waits for the server's answer.
        ok = ok && trips([&] {
                 bool stored = PQputCopyEnd(conn, nullptr) == 1;
                 PGresult* finished = PQgetResult(conn);
                 stored = stored && PQresultStatus(finished) == PGRES_COMMAND_OK;
                 PQclear(finished);
                 while (PGresult* extra = PQgetResult(conn)) {
                     PQclear(extra);
                 }
                 return stored;
             });
        if (!ok) {
            state.SkipWithError("raw COPY failed");
            break;
        }
    }
    PQfinish(conn);
    pgkit::bench::report_round_trips(state, trips.total());
    state.SetItemsProcessed(state.iterations() * insert_rows);
}
BENCHMARK(insert_raw_copy)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- counts ---------------------------------------------------------------------------------

void count_exact(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pgkit::repository<bench_row> items{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        benchmark::DoNotOptimize(items.count().value());
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
}
BENCHMARK(count_exact)->UseRealTime()->Unit(benchmark::kMillisecond);

void count_estimated(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pgkit::repository<bench_row> items{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        benchmark::DoNotOptimize(items.estimated_count().value().rows);
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
}
BENCHMARK(count_estimated)->UseRealTime();

// ---- memory -------------------------------------------------------------------------------

/// Resident set size now, in kB (from /proc/self/statm).
long rss_kb() {
    std::ifstream statm{"/proc/self/statm"};
    long pages = 0;
    long resident = 0;
    statm >> pages >> resident;
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/// Samples the RSS every 2 ms while alive; peak_growth_mb() is the highest growth seen over the
/// RSS at construction.
class rss_sampler {
  public:
    rss_sampler() : base_(rss_kb()), peak_(base_) {
        thread_ = std::thread{[this] {
            while (!stop_.load()) {
                peak_.store(std::max(peak_.load(), rss_kb()));
                std::this_thread::sleep_for(std::chrono::milliseconds{2});
            }
        }};
    }
    ~rss_sampler() { finish(); }
    rss_sampler(const rss_sampler&) = delete;
    rss_sampler& operator=(const rss_sampler&) = delete;
    double peak_growth_mb() {
        finish();
        return static_cast<double>(std::max(peak_.load(), rss_kb()) - base_) / 1024.0;
    }

  private:
    void finish() {
        stop_.store(true);
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    long base_;
    std::atomic<long> peak_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

/// Reads every row of the items table as entities, the sum of their scores in `sum`: through a
/// cursor (for_each_where, 1000 rows a FETCH) or through COPY out (export_where). The rows read.
pgkit::result<std::uint64_t> read_all_rows(const pgkit::repository<bench_row>& items,
                                           bool through_copy,
                                           std::int64_t& sum) {
    auto add = [&](const bench_row& r) { sum += r.score; };
    return through_copy ? items.export_where({}, add) : items.for_each_where({}, add, {}, 1000);
}

/// Peak RSS growth while read_all_rows reads the 1M-row table.
void memory_read_1m_rows(benchmark::State& state, bool through_copy) {
    pgkit::bench::ensure_items_table(item_rows);
    pgkit::repository<bench_row> items{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        rss_sampler memory;
        std::int64_t sum = 0;
        auto seen = read_all_rows(items, through_copy, sum);
        if (!seen || *seen != static_cast<std::uint64_t>(item_rows)) {
            state.SkipWithError("reading the rows failed");
            return;
        }
        benchmark::DoNotOptimize(sum);
        state.counters["peak_rss_growth_mb"] = memory.peak_growth_mb();
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
}

void memory_stream_1m_rows(benchmark::State& state) {
    memory_read_1m_rows(state, false);
}
BENCHMARK(memory_stream_1m_rows)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

/// The same rows through COPY (SELECT ...) TO STDOUT (repository::export_where).
void memory_copy_out_1m_rows(benchmark::State& state) {
    memory_read_1m_rows(state, true);
}
BENCHMARK(memory_copy_out_1m_rows)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---- streaming wall time: the cursor (FETCH 1000 at a time) against COPY out ----------------

void stream_1m_rows(benchmark::State& state, bool through_copy) {
    pgkit::bench::ensure_items_table(item_rows);
    pgkit::repository<bench_row> items{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        std::int64_t sum = 0;
        if (!read_all_rows(items, through_copy, sum)) {
            state.SkipWithError("reading the rows failed");
            return;
        }
        benchmark::DoNotOptimize(sum);
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
    state.SetItemsProcessed(state.iterations() * item_rows);
}
void stream_1m_rows_cursor(benchmark::State& state) {
    stream_1m_rows(state, false);
}
BENCHMARK(stream_1m_rows_cursor)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);
void stream_1m_rows_copy_out(benchmark::State& state) {
    stream_1m_rows(state, true);
}
BENCHMARK(stream_1m_rows_copy_out)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

void memory_insert_many_1m_rows(benchmark::State& state) {
    pgkit::repository<gen_row> rows{bench_pool()};
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        state.PauseTiming();
        reset_insert_table();
        state.ResumeTiming();
        rss_sampler memory;
        auto stored = rows.insert_many(std::views::iota(std::int64_t{0}, std::int64_t{1'000'000}) |
                                       std::views::transform(make_row));
        if (!stored) {
            state.SkipWithError(stored.error().to_string().c_str());
            return;
        }
        state.counters["peak_rss_growth_mb"] = memory.peak_growth_mb();
    }
    pgkit::bench::report_round_trips(state, round_trips.since_start());
}
BENCHMARK(memory_insert_many_1m_rows)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
