// The pagination benchmark's strategies against a real server: each returns exactly the rows
// of the plain ORDER BY on a quiet table (from the start and from a depth); under concurrent
// writes OFFSET repeats or skips rows while keyset pages and a server cursor do not; a role
// that may only read runs the whole read-only benchmark.
#include "pgkit/cursor_key.hpp"
#include "pgkit/detail/executor.hpp"
#include "pgkit/pool.hpp"

#include "integration/pool_test_support.hpp"
#include "pagination_bench/concurrent_writer.hpp"
#include "pagination_bench/pagination_bench.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using pgkit::tools::strategy;

pgkit::tools::bench_target target_for(const pgkit::test::scratch_schema& schema,
                                      const std::shared_ptr<pgkit::pool>& pool,
                                      const std::string& table,
                                      const std::string& order,
                                      const std::string& where = {}) {
    pgkit::tools::bench_target target;
    target.reads = pool;
    target.connection = schema.options();
    target.key = std::make_shared<const pgkit::cursor_key>(pgkit::cursor_key::generate().value());
    auto model = pgkit::tools::load_table(pgkit::detail::executor{pool}, table, order, where);
    REQUIRE(model);
    target.model = std::move(*model);
    return target;
}

/// Every key a walk of `s` returns from `start_row` to the end.
std::vector<std::string> walk_all(const pgkit::tools::bench_target& target,
                                  strategy s,
                                  std::size_t page_size,
                                  std::uint64_t start_row = 0) {
    auto walk = pgkit::tools::open_walker(target, s, page_size, start_row);
    REQUIRE(walk);
    std::vector<std::string> keys;
    for (int pages = 0; pages < 100'000; ++pages) {
        auto page = (*walk)->next();
        REQUIRE(page);
        if (page->keys.empty()) {
            break;
        }
        CHECK(page->keys.size() <= page_size);
        CHECK(page->round_trips >= 1);
        keys.insert(keys.end(), page->keys.begin(), page->keys.end());
    }
    REQUIRE((*walk)->close());
    return keys;
}

/// The keys of the plain ORDER BY (with the key appended, as every strategy pages).
std::vector<std::string> ordered_keys(const pgkit::tools::bench_target& target) {
    const auto& m = target.model;
    auto rows = pgkit::detail::executor{target.reads}.read("SELECT " + m.key_list() + " FROM " +
                                                               m.sql.qualified_table + m.condition +
                                                               " ORDER BY " + m.ordering_text(),
                                                           m.condition_params, false);
    REQUIRE(rows);
    std::vector<std::string> out;
    for (const pgkit::row& r : *rows) {
        out.push_back(pgkit::tools::key_of_row(r, {0}));
    }
    return out;
}

void create_table(const pgkit::test::scratch_schema& schema) {
    auto conn = schema.connect();
    // 10,500 rows: past page_at's default max_offset (10,000), so the handover happens. score
    // is nullable and has ties; created_at has ties the key breaks.
    REQUIRE(conn.execute_script(
        "CREATE TABLE walk_rows (id int8 PRIMARY KEY, created_at timestamptz NOT NULL, "
        "score int4, title text NOT NULL);"
        "INSERT INTO walk_rows SELECT i, timestamptz '2026-01-01 00:00:00+00' + (i / 3) * "
        "interval '1 second', CASE WHEN i % 7 = 0 THEN NULL ELSE (i * 7919) % 50 END, "
        "'row ' || i FROM generate_series(1, 10500) i;"
        "CREATE INDEX ON walk_rows (created_at, id);"
        "CREATE INDEX ON walk_rows (score DESC NULLS LAST, created_at, id);"
        "ANALYZE walk_rows"));
}

}  // namespace

TEST_CASE("pagination strategies: each returns exactly the rows of ORDER BY on a quiet table") {
    pgkit::test::scratch_schema schema;
    create_table(schema);
    auto pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 2));

    SUBCASE("one direction, NOT NULL columns: all six strategies") {
        const auto target = target_for(schema, pool, "walk_rows", "created_at DESC");
        CHECK(target.model.appended_key == std::vector<std::string>{"id"});
        const auto expected = ordered_keys(target);
        REQUIRE(expected.size() == 10'500);
        for (auto s : pgkit::tools::all_strategies) {
            CAPTURE(pgkit::tools::name_of(s));
            CHECK(walk_all(target, s, 250) == expected);
            // From a depth: the rows from that position on.
            const auto deep = walk_all(target, s, 250, 10'250);
            CHECK(deep == std::vector<std::string>(expected.begin() + 10'250, expected.end()));
        }
    }
    SUBCASE("mixed directions and a nullable column: the row-value form refuses") {
        const auto target = target_for(schema, pool, "walk_rows",
                                       "score DESC NULLS LAST, created_at ASC", "title <> 'row 5'");
        const auto expected = ordered_keys(target);
        REQUIRE(expected.size() == 10'499);
        for (auto s : pgkit::tools::all_strategies) {
            CAPTURE(pgkit::tools::name_of(s));
            if (s == strategy::keyset_row_value) {
                auto walk = pgkit::tools::open_walker(target, s, 100, 0);
                REQUIRE(walk);
                auto page = (*walk)->next();
                // The first page has no cursor; the second needs the seek condition.
                auto second = page ? (*walk)->next() : page;
                REQUIRE_FALSE(second);
                CHECK(second.error().code() == pgkit::errc::invalid_argument);
                continue;
            }
            CHECK(walk_all(target, s, 300) == expected);
        }
    }
}

TEST_CASE("pagination strategies: anomalies under writes between pages") {
    pgkit::test::scratch_schema schema;
    auto pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 3));
    REQUIRE(pgkit::tools::create_generated_table(pool, "gen_rows", 2'000));
    const auto target = target_for(schema, pool, "gen_rows", "created_at DESC, id DESC");
    REQUIRE(target.model.appended_key.empty());

    // The same writes (fixed seed) between every two pages of each strategy's full walk.
    auto walk_with_writes = [&](strategy s) {
        auto at_start = pgkit::tools::all_keys(target);
        REQUIRE(at_start);
        auto writer = pgkit::tools::concurrent_writer::create(pool, target.model, *at_start, 42);
        REQUIRE(writer);
        auto walk = pgkit::tools::open_walker(target, s, 100, 0);
        REQUIRE(walk);
        std::vector<std::string> returned;
        for (int pages = 0; pages < 1'000; ++pages) {
            auto page = (*walk)->next();
            REQUIRE(page);
            if (page->keys.empty()) {
                break;
            }
            returned.insert(returned.end(), page->keys.begin(), page->keys.end());
            for (int w = 0; w < 6; ++w) {
                REQUIRE((*writer)->write_once());
            }
        }
        REQUIRE((*walk)->close());
        CHECK((*writer)->writes() > 0);
        CHECK_FALSE((*writer)->removed().empty());
        return pgkit::tools::count_anomalies(*at_start, (*writer)->removed(), returned);
    };
    const auto offset = walk_with_writes(strategy::offset);
    CHECK(offset.total() > 0);
    CHECK(walk_with_writes(strategy::deferred_join).total() > 0);
    CHECK(walk_with_writes(strategy::keyset_row_value).total() == 0);
    CHECK(walk_with_writes(strategy::keyset_expanded).total() == 0);
    CHECK(walk_with_writes(strategy::server_cursor).total() == 0);
}

TEST_CASE("pagination strategies: the benchmark with a writer thread") {
    pgkit::test::scratch_schema schema;
    auto pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 3));
    REQUIRE(pgkit::tools::create_generated_table(pool, "bench_rows", 3'000));
    const auto target = target_for(schema, pool, "bench_rows", "created_at DESC, id DESC");
    pgkit::tools::bench_options options;
    options.page_size = 20;
    options.depths = {0, 1'000, pgkit::tools::last_page};
    options.samples = 3;
    options.writes = pool;
    options.writes_per_second = 2'000;
    options.anomaly_pages = 30;
    std::size_t progress_calls = 0;
    options.on_progress = [&](std::size_t done, std::size_t total, std::string_view) {
        ++progress_calls;
        CHECK(done <= total);
    };
    auto report = pgkit::tools::run_pagination_bench(target, options);
    REQUIRE(report);
    CHECK(report->rows == 3'000);
    CHECK(progress_calls == 6 * 4);
    for (const auto& r : report->strategies) {
        CAPTURE(pgkit::tools::name_of(r.which));
        CHECK(r.skipped.empty());
        REQUIRE(r.depths.size() == 3);
        CHECK(r.depths.back().start_row == 3'000 - 3 * 20);
        for (const auto& d : r.depths) {
            CHECK(d.samples == 3);
            CHECK(d.median_ms > 0);
            CHECK(d.p99_ms >= d.median_ms);
            CHECK_FALSE(d.plan_nodes.empty());
        }
        REQUIRE(r.anomalies);
        if (r.which == strategy::keyset_row_value || r.which == strategy::keyset_expanded ||
            r.which == strategy::server_cursor) {
            CHECK(r.anomalies->count.total() == 0);
        }
        CHECK(r.cost.has_value() == (r.which == strategy::server_cursor));
    }
    // OFFSET reads every skipped row: the last page reads far more than the first.
    const auto& offset = report->strategies.front();
    REQUIRE(offset.which == strategy::offset);
    CHECK(offset.depths.back().rows_scanned > 10 * offset.depths.front().rows_scanned);
    const auto& keyset = report->strategies[2];
    CHECK(keyset.depths.back().rows_scanned < 4 * (keyset.depths.front().rows_scanned + 1));

    const auto summary = pgkit::tools::summarize(*report);
    CHECK(summary.strategies_measured == 6);
    CHECK(summary.keyset_anomalies_under_writes == std::optional<std::uint64_t>{0});
    CHECK(summary.deferred_join_over_keyset_deepest.has_value());
    const auto json = pgkit::tools::to_json(*report);
    CHECK(json.find("\"pagination.strategies_measured\": 6") != std::string::npos);
}

TEST_CASE("pagination strategies: a role that may only read runs the read-only benchmark") {
    pgkit::test::scratch_schema schema;
    create_table(schema);
    const std::string role = schema.name() + "_reader";
    auto admin = pgkit::test::connect_directly();
    REQUIRE(
        admin.execute_script(fmt::format("CREATE ROLE {0} LOGIN; GRANT USAGE ON SCHEMA {1} TO {0}; "
                                         "GRANT SELECT ON {1}.walk_rows TO {0}",
                                         role, schema.name())));
    {
        auto options = pgkit::test::test_pool_options(schema, 2);
        options.connection.user = role;
        options.session.settings.emplace_back("default_transaction_read_only", "on");
        auto pool = pgkit::test::make_pool(options);
        auto target = target_for(schema, pool, "walk_rows", "created_at DESC");
        target.connection = options.connection;
        // The role cannot write, and the sessions refuse writes anyway.
        auto write = pgkit::detail::executor{pool}.run("DELETE FROM walk_rows", {}, false);
        REQUIRE_FALSE(write);

        pgkit::tools::bench_options bench;
        bench.depths = {0, pgkit::tools::last_page};
        bench.samples = 2;
        auto report = pgkit::tools::run_pagination_bench(target, bench);
        REQUIRE(report);
        CHECK(pgkit::tools::summarize(*report).strategies_measured == 6);
        for (const auto& r : report->strategies) {
            CHECK_FALSE(r.anomalies.has_value());
        }
        // Nothing was written: the table has its rows.
        CHECK(pgkit::tools::all_keys(target).value().size() == 10'500);
        pool->close();
    }
    REQUIRE(admin.execute_script(fmt::format("DROP OWNED BY {0}; DROP ROLE {0}", role)));
}
