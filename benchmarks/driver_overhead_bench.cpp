// What pgkit's driver layer costs over raw libpq: a prepared point select by primary key,
// decoded into C++ values, through pgkit::connection and through hand-written libpq, on the
// same server in the same run. Each reports the counter round_trips: the round trips per select,
// counted (connection::round_trips(), and bench_support's round_trip_count for libpq).
#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

constexpr std::int64_t table_rows = 10'000;
constexpr const char* point_select = "SELECT id, name, score FROM bench_items WHERE id = $1";

void pgkit_point_select(benchmark::State& state) {
    pgkit::bench::ensure_items_table(table_rows);
    auto conn = pgkit::bench::connect();
    if (!conn.prepare("point_select", point_select)) {
        state.SkipWithError("prepare failed");
        return;
    }
    std::int64_t id = 0;
    const std::uint64_t round_trips_before = conn.round_trips();
    for (auto _ : state) {
        id = id % table_rows + 1;
        auto rows = conn.execute_prepared("point_select", id);
        if (!rows) {
            state.SkipWithError(rows.error().to_string().c_str());
            return;
        }
        auto fields = (*rows)[0].as<std::int64_t, std::string, std::int32_t>();
        if (!fields) {
            state.SkipWithError(fields.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(fields);
    }
    pgkit::bench::report_round_trips(state, conn.round_trips() - round_trips_before);
}
BENCHMARK(pgkit_point_select)->UseRealTime();

void libpq_point_select(benchmark::State& state) {
    pgkit::bench::ensure_items_table(table_rows);
    PGconn* conn = PQconnectdb(pgkit::bench::database_url().c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        state.SkipWithError(PQerrorMessage(conn));
        PQfinish(conn);
        return;
    }
    pgkit::bench::round_trip_count trips;
    PQclear(trips([&] { return PQprepare(conn, "point_select", point_select, 1, nullptr); }));
    const std::uint64_t round_trips_before = trips.total();
    std::int64_t id = 0;
    char key[24];
    for (auto _ : state) {
        id = id % table_rows + 1;
        auto [end, ec] = std::to_chars(key, key + sizeof key - 1, id);
        *end = '\0';
        const char* values[] = {key};
        PGresult* res = trips(
            [&] { return PQexecPrepared(conn, "point_select", 1, values, nullptr, nullptr, 0); });
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            state.SkipWithError(PQresultErrorMessage(res));
            PQclear(res);
            break;
        }
        std::int64_t got_id = 0;
        std::int32_t score = 0;
        const char* id_text = PQgetvalue(res, 0, 0);
        std::from_chars(id_text, id_text + PQgetlength(res, 0, 0), got_id);
        std::string name{PQgetvalue(res, 0, 1), static_cast<std::size_t>(PQgetlength(res, 0, 1))};
        const char* score_text = PQgetvalue(res, 0, 2);
        std::from_chars(score_text, score_text + PQgetlength(res, 0, 2), score);
        benchmark::DoNotOptimize(got_id);
        benchmark::DoNotOptimize(name);
        benchmark::DoNotOptimize(score);
        PQclear(res);
    }
    PQfinish(conn);
    pgkit::bench::report_round_trips(state, trips.total() - round_trips_before);
}
BENCHMARK(libpq_point_select)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
