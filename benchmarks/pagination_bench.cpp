// Keyset pages against OFFSET pages on 1M rows, page size 20, ordered by
// (created_at DESC, id DESC), at depths 0, 1k, 10k, 100k, 500k and the last page:
//   offset_page_<depth>         repository::page_at (LIMIT 21 OFFSET depth)
//   keyset_page_<depth>         repository::page, `after` a cursor positioned at depth (none at 0)
//   libpq_keyset_page_<depth>   the statement repository::page sends, through raw libpq
//                               (PQexecPrepared, text parameters, hand-written decoding, no HMAC)
// Every benchmark reports counters depth (rows skipped) and rows (items returned); the summary
// (scripts/lib/bench_summary.py) and the chart (scripts/lib/plot_pagination.py) read them. And
// round_trips, per page: counted on the pool's connection (connection::round_trips(), through
// bench_support's pool_round_trips; a benchmark holds one lease at a time), or for libpq by
// bench_support's round_trip_count.
// PGKIT_BENCH_DATABASE_URL names the server (scripts/bench sets it).
#include "pgkit/pgkit.hpp"

#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace {

using micros_time = std::chrono::sys_time<std::chrono::microseconds>;

struct clip {
    std::int64_t id = 0;
    micros_time created_at{};
    std::int64_t author_id = 0;
    std::string title;
    std::int32_t score = 0;
};

}  // namespace

template <>
struct pgkit::entity<clip> {
    static constexpr std::string_view table = "bench_clips";
    static constexpr auto columns = std::tuple{
        pgkit::column(&clip::id, "id"),
        pgkit::column(&clip::created_at, "created_at"),
        pgkit::column(&clip::author_id, "author_id"),
        pgkit::column(&clip::title, "title"),
        pgkit::column(&clip::score, "score"),
    };
    static constexpr auto primary_key = pgkit::key(&clip::id);
};

namespace {

using namespace pgkit::filters;

const std::int64_t clip_rows = pgkit::bench::dataset_rows();
constexpr std::size_t page_size = 20;
const std::int64_t last_page_depth = clip_rows - static_cast<std::int64_t>(page_size);
/// Bumped whenever the generated data changes, so a stale table is rebuilt.
const std::string table_marker = fmt::format("pgkit pagination bench v1, {} rows", clip_rows);

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "pagination benchmark set-up failed: %s\n", message.c_str());
    std::exit(2);
}

template <class T>
T need(pgkit::result<T> value, std::string_view what) {
    if (!value) {
        die(fmt::format("{}: {}", what, value.error().to_string()));
    }
    return std::move(*value);
}

/// bench_clips: 1M rows in creation order, four rows per created_at value (so the id tie-break
/// decides the order within a timestamp), an index on (created_at DESC, id DESC), vacuumed and
/// analyzed. Built once; kept across runs while its marker comment matches.
void ensure_clips_table() {
    static std::once_flag once;
    std::call_once(once, [] {
        auto conn = pgkit::bench::connect();
        auto marker = need(conn.execute("SELECT coalesce(obj_description("
                                        "to_regclass('bench_clips'), 'pg_class'), '')"),
                           "reading the table marker");
        if (need(marker.scalar<std::string>(), "reading the table marker") == table_marker) {
            return;
        }
        std::fprintf(stderr, "pagination benchmark: building bench_clips (%lld rows)\n",
                     static_cast<long long>(clip_rows));
        need(conn.execute_script(fmt::format(
                 "DROP TABLE IF EXISTS bench_clips;"
                 "CREATE TABLE bench_clips (id int8 PRIMARY KEY, created_at timestamptz NOT NULL, "
                 "author_id int8 NOT NULL, title text NOT NULL, score int4 NOT NULL);"
                 "INSERT INTO bench_clips SELECT g, "
                 "timestamptz '2024-01-01 00:00:00+00' + (g / 4) * interval '61.25 seconds', "
                 "(g * 7919) % 5000, 'clip number ' || g, (g * 37) % 1000 "
                 "FROM generate_series(1::int8, {}) g;"
                 "CREATE INDEX bench_clips_feed ON bench_clips (created_at DESC, id DESC);"
                 "COMMENT ON TABLE bench_clips IS '{}'",
                 clip_rows, table_marker)),
             "creating bench_clips");
        // VACUUM cannot run inside the implicit transaction of a multi-statement script.
        need(conn.execute_script("VACUUM ANALYZE bench_clips"), "vacuuming bench_clips");
    });
}

std::shared_ptr<pgkit::pool> bench_pool() {
    static std::shared_ptr<pgkit::pool> pool = [] {
        auto options = need(pgkit::connection_options::parse(pgkit::bench::database_url()),
                            "parsing PGKIT_BENCH_DATABASE_URL");
        return need(pgkit::pool::create({.connection = options, .max_size = 2}),
                    "creating the pool");
    }();
    return pool;
}

const pgkit::repository<clip>& clips() {
    static const pgkit::repository<clip> repo{
        bench_pool(),
        need(pgkit::cursor_key::create("pgkit pagination benchmark secret, 32+ bytes"),
             "creating the cursor key")};
    return repo;
}

const std::vector<pgkit::order_term>& feed_order() {
    static const std::vector<pgkit::order_term> order{desc(&clip::created_at)};  // id appended
    return order;
}

/// Everything a benchmark at one depth needs, computed untimed and once per depth.
struct depth_fixture {
    std::string cursor;      ///< pgkit cursor after the first `depth` rows (empty at depth 0)
    std::string created_at;  ///< the cursor's position as the server prints it (depth > 0)
    std::string id;
    std::int64_t first_id = 0;  ///< the id of the page's first row
    bool index_served = false;  ///< repository::explain_page at this depth
};

const depth_fixture& fixture_at(std::int64_t depth) {
    static std::mutex mutex;
    static std::map<std::int64_t, depth_fixture> cache;
    std::lock_guard lock{mutex};
    if (auto found = cache.find(depth); found != cache.end()) {
        return found->second;
    }
    ensure_clips_table();
    depth_fixture f;
    if (depth > 0) {
        if (depth % static_cast<std::int64_t>(page_size) != 0) {
            die("depths must be multiples of the page size");
        }
        // The numbered page that ends at row `depth`: its next_cursor continues from there.
        auto numbered =
            need(clips().page_at({.order_by = feed_order(),
                                  .page_number = depth / static_cast<std::int64_t>(page_size),
                                  .page_size = page_size,
                                  .max_offset = clip_rows}),
                 "positioning a cursor");
        f.cursor = numbered.next_cursor;
    }
    // The row at the position, and the page's first row, read independently of pgkit's pages.
    auto lease = need(bench_pool()->acquire(), "acquiring a connection");
    auto rows =
        need(lease->execute(fmt::format("SELECT created_at::text, id::text AS id_text, id FROM "
                                        "bench_clips ORDER BY created_at DESC, id DESC "
                                        "LIMIT 2 OFFSET {}",
                                        depth > 0 ? depth - 1 : 0)),
             "reading the position");
    if (rows.size() != 2) {
        die("bench_clips has too few rows");
    }
    auto [created_at, id, position_id] =
        need(rows[0].as<std::string, std::string, std::int64_t>(), "decoding the position");
    f.created_at = std::move(created_at);
    f.id = std::move(id);
    f.first_id =
        depth > 0 ? need(rows[1].get<std::int64_t>(2), "decoding the first row") : position_id;
    auto plan = need(
        clips().explain_page({.order_by = feed_order(), .first = page_size, .after = f.cursor}),
        "explaining the page");
    f.index_served = plan.index_served();
    return cache.emplace(depth, std::move(f)).first->second;
}

void set_counters(benchmark::State& state,
                  std::int64_t depth,
                  std::size_t rows,
                  std::uint64_t round_trips) {
    state.counters["depth"] = static_cast<double>(depth);
    state.counters["rows"] = static_cast<double>(rows);
    pgkit::bench::report_round_trips(state, round_trips);
}

/// Counts the round trips on the connection the repository's pages use.
pgkit::bench::pool_round_trips count_round_trips() {
    return {*bench_pool(), 1};
}

// ---- OFFSET pages -------------------------------------------------------------------------

void offset_page(benchmark::State& state, std::int64_t depth) {
    const auto& f = fixture_at(depth);
    const pgkit::offset_page_request request{
        .order_by = feed_order(),
        .page_number = depth / static_cast<std::int64_t>(page_size) + 1,
        .page_size = page_size,
        .max_offset = clip_rows};
    std::size_t rows = 0;
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        auto page = clips().page_at(request);
        if (!page) {
            state.SkipWithError(page.error().to_string().c_str());
            return;
        }
        if (page->items.size() != page_size || page->items.front().id != f.first_id) {
            state.SkipWithError("page_at returned the wrong rows");
            return;
        }
        rows = page->items.size();
        benchmark::DoNotOptimize(page->items.data());
    }
    set_counters(state, depth, rows, round_trips.since_start());
}

// ---- keyset pages -------------------------------------------------------------------------

void keyset_page(benchmark::State& state, std::int64_t depth) {
    const auto& f = fixture_at(depth);
    const pgkit::page_request request{
        .order_by = feed_order(), .first = page_size, .after = f.cursor};
    std::size_t rows = 0;
    auto round_trips = count_round_trips();
    for (auto _ : state) {
        auto page = clips().page(request);
        if (!page) {
            state.SkipWithError(page.error().to_string().c_str());
            return;
        }
        if (page->items.size() != page_size || page->items.front().id != f.first_id ||
            page->has_previous != (depth > 0) || page->has_next != (depth < last_page_depth)) {
            state.SkipWithError("page returned the wrong rows");
            return;
        }
        rows = page->items.size();
        benchmark::DoNotOptimize(page->items.data());
        benchmark::DoNotOptimize(page->next_cursor.data());
    }
    set_counters(state, depth, rows, round_trips.since_start());
    state.counters["index_served"] = f.index_served ? 1 : 0;
}

// ---- the same keyset statement through raw libpq -------------------------------------------

/// The statement repository::page sends for `first = 20` after a cursor with this ordering
/// (src/pagination/keyset_pages.cpp and keyset_sql.cpp; checked against the server's statement
/// log): a row-value seek, and a scalar subquery probing the index on the cursor's other side
/// that answers has_previous in the same statement.
constexpr const char* keyset_sql =
    "SELECT \"id\", \"created_at\", \"author_id\", \"title\", \"score\", "
    "COALESCE((SELECT true FROM \"bench_clips\" WHERE TRUE AND "
    "(\"created_at\", \"id\") >= ($1::timestamptz, $2::int8) "
    "ORDER BY \"created_at\" ASC NULLS LAST, \"id\" ASC NULLS LAST LIMIT 1), false) "
    "FROM \"bench_clips\" WHERE TRUE AND (\"created_at\", \"id\") < ($3::timestamptz, $4::int8) "
    "ORDER BY \"created_at\" DESC NULLS FIRST, \"id\" DESC NULLS FIRST LIMIT 21";

std::int64_t parse_int(const char* text, int length) {
    std::int64_t value = 0;
    std::from_chars(text, text + length, value);
    return value;
}

/// "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (the session runs with TimeZone=UTC, DateStyle=ISO).
micros_time parse_timestamp(const char* text, int length) {
    using namespace std::chrono;
    auto number = [&](int from, int count) {
        return static_cast<int>(parse_int(text + from, count));
    };
    const sys_days day = year{number(0, 4)} / number(5, 2) / number(8, 2);
    std::int64_t micros = ((number(11, 2) * 60 + number(14, 2)) * 60 + number(17, 2)) * 1'000'000LL;
    if (length > 19 && text[19] == '.') {
        int digits = 0;
        std::int64_t fraction = 0;
        for (int i = 20; i < length && text[i] >= '0' && text[i] <= '9'; ++i, ++digits) {
            fraction = fraction * 10 + (text[i] - '0');
        }
        for (; digits < 6; ++digits) {
            fraction *= 10;
        }
        micros += fraction;
    }
    return micros_time{duration_cast<microseconds>(day.time_since_epoch()) + microseconds{micros}};
}

void libpq_keyset_page(benchmark::State& state, std::int64_t depth) {
    const auto& f = fixture_at(depth);
    PGconn* conn = PQconnectdb(pgkit::bench::database_url().c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        state.SkipWithError(PQerrorMessage(conn));
        PQfinish(conn);
        return;
    }
    pgkit::bench::round_trip_count trips;
    PQclear(trips([&] { return PQexec(conn, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'"); }));
    PGresult* prepared =
        trips([&] { return PQprepare(conn, "keyset_page", keyset_sql, 4, nullptr); });
    const bool prepared_ok = PQresultStatus(prepared) == PGRES_COMMAND_OK;
    PQclear(prepared);
    if (!prepared_ok) {
        state.SkipWithError(PQerrorMessage(conn));
        PQfinish(conn);
        return;
    }
    const char* values[] = {f.created_at.c_str(), f.id.c_str(), f.created_at.c_str(), f.id.c_str()};
    std::size_t rows = 0;
    const std::uint64_t round_trips_before = trips.total();
    for (auto _ : state) {
        PGresult* res = trips(
            [&] { return PQexecPrepared(conn, "keyset_page", 4, values, nullptr, nullptr, 0); });
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            state.SkipWithError(PQresultErrorMessage(res));
            PQclear(res);
            break;
        }
        const int count = PQntuples(res);
        const int visible = std::min(count, static_cast<int>(page_size));
        std::vector<clip> items;
        items.reserve(static_cast<std::size_t>(visible));
        for (int r = 0; r < visible; ++r) {
            items.push_back({parse_int(PQgetvalue(res, r, 0), PQgetlength(res, r, 0)),
                             parse_timestamp(PQgetvalue(res, r, 1), PQgetlength(res, r, 1)),
                             parse_int(PQgetvalue(res, r, 2), PQgetlength(res, r, 2)),
                             std::string{PQgetvalue(res, r, 3),
                                         static_cast<std::size_t>(PQgetlength(res, r, 3))},
                             static_cast<std::int32_t>(
                                 parse_int(PQgetvalue(res, r, 4), PQgetlength(res, r, 4)))});
        }
        const bool has_next = count > static_cast<int>(page_size);
        const bool has_previous = count > 0 && *PQgetvalue(res, 0, 5) == 't';
        PQclear(res);
        if (items.size() != page_size || items.front().id != f.first_id || !has_previous ||
            has_next != (depth < last_page_depth)) {
            state.SkipWithError("the libpq page returned the wrong rows");
            break;
        }
        rows = items.size();
        benchmark::DoNotOptimize(items.data());
    }
    PQfinish(conn);
    set_counters(state, depth, rows, trips.total() - round_trips_before);
}

/// Registers offset_page_<label>, keyset_page_<label> and libpq_keyset_page_<label> (the last
/// only at the depths the summary compares).
bool register_benchmarks() {
    struct depth {
        const char* label;
        std::int64_t rows_skipped;
        bool libpq;
    };
    const depth depths[] = {{"0", 0, false},          {"1k", 1'000, false},
                            {"10k", 10'000, false},   {"100k", 100'000, true},
                            {"500k", 500'000, false}, {"last", last_page_depth, true}};
    // (RegisterBenchmark copies the name.)
    for (const auto& d : depths) {
        if (d.rows_skipped > last_page_depth) {
            continue;  // a smaller table (scripts/bench --rows) has no such depth
        }
        // Deep OFFSET pages take 30-100+ ms each: ten iterations measure them well enough and
        // keep a repetition set short whatever --benchmark_min_time says.
        auto* offset = benchmark::RegisterBenchmark(fmt::format("offset_page_{}", d.label).c_str(),
                                                    offset_page, d.rows_skipped);
        offset->UseRealTime()->Unit(benchmark::kMillisecond);
        if (d.rows_skipped >= 500'000) {
            offset->Iterations(10);
        }
        benchmark::RegisterBenchmark(fmt::format("keyset_page_{}", d.label).c_str(), keyset_page,
                                     d.rows_skipped)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        if (d.libpq) {
            benchmark::RegisterBenchmark(fmt::format("libpq_keyset_page_{}", d.label).c_str(),
                                         libpq_keyset_page, d.rows_skipped)
                ->UseRealTime()
                ->Unit(benchmark::kMillisecond);
        }
    }
    return true;
}

[[maybe_unused]] const bool registered = register_benchmarks();

}  // namespace

BENCHMARK_MAIN();
