// libpqxx interop (pgkit/pqxx.hpp): a pgkit repository get inside a pqxx::work against the
// hand-written libpqxx code it replaces, exec_prepared in the same kind of work. Each iteration
// is one transaction (BEGIN, the read, COMMIT) on one libpqxx connection the benchmark opens.
// PGKIT_BENCH_DATABASE_URL names the server (scripts/bench sets it).
#include "pgkit/pgkit.hpp"
#include "pgkit/pqxx.hpp"

#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <tuple>

namespace {

struct pqxx_bench_row {
    std::int64_t id = 0;
    std::string name;
    std::int32_t score = 0;
};

}  // namespace

template <>
struct pgkit::entity<pqxx_bench_row> {
    static constexpr std::string_view table = "bench_items";
    static constexpr auto columns = std::tuple{pgkit::column(&pqxx_bench_row::id, "id"),
                                               pgkit::column(&pqxx_bench_row::name, "name"),
                                               pgkit::column(&pqxx_bench_row::score, "score")};
    static constexpr auto primary_key = pgkit::key(&pqxx_bench_row::id);
};

namespace {

const std::int64_t item_rows = pgkit::bench::dataset_rows();

std::int64_t next_key(std::int64_t& i) {
    return 1 + (i++ * 7919) % item_rows;
}

void repository_get_in_pqxx_work(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pqxx::connection conn{pgkit::bench::database_url()};
    const pgkit::repository<pqxx_bench_row> items{nullptr};
    std::int64_t i = 0;
    for (auto _ : state) {
        pqxx::work w{conn};
        auto row = items.in(w).get(next_key(i));
        if (!row) {
            state.SkipWithError(row.error().to_string().c_str());
            break;
        }
        benchmark::DoNotOptimize(row->score);
        w.commit();
    }
}
BENCHMARK(repository_get_in_pqxx_work)->UseRealTime();

void raw_pqxx_get_in_work(benchmark::State& state) {
    pgkit::bench::ensure_items_table(item_rows);
    pqxx::connection conn{pgkit::bench::database_url()};
    conn.prepare("get_item", "SELECT id, name, score FROM bench_items WHERE id = $1");
    std::int64_t i = 0;
    for (auto _ : state) {
        pqxx::work w{conn};
#if PQXX_VERSION_MAJOR > 7 || (PQXX_VERSION_MAJOR == 7 && PQXX_VERSION_MINOR >= 10)
        pqxx::result r = w.exec(pqxx::prepped{"get_item"}, pqxx::params{next_key(i)});
#else
        pqxx::result r = w.exec_prepared("get_item", next_key(i));
#endif
        if (r.size() != 1) {
            state.SkipWithError("row missing");
            break;
        }
        pqxx_bench_row row{r[0][0].as<std::int64_t>(), r[0][1].as<std::string>(),
                           r[0][2].as<std::int32_t>()};
        benchmark::DoNotOptimize(row.score);
        w.commit();
    }
}
BENCHMARK(raw_pqxx_get_in_work)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
