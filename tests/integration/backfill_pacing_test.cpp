// Backfill pacing by writers' waits (backfill_options::contended_batch_duration): a batch that
// blocks another session is seen by the runner (sampled with its cursor update), counted, and the
// next batches aim at the contended duration; with sampling off the same batch changes nothing.
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "integration/backfill_test_support.hpp"
#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::backfill_options;
using pgkit::backfill_progress;
using pgkit::backfill_spec;
using pgkit::backfill_status;
using pgkit::errc;
using pgkit::test::count_where;
using pgkit::test::create_items;
using pgkit::test::make_pool;
using pgkit::test::run_name;
using pgkit::test::test_pool_options;

/// What one run recorded: every batch's progress report, and whether the blocked writer got its
/// update through in the end.
struct paced_run {
    pgkit::result<pgkit::backfill_report> report = pgkit::backfill_report{};
    std::vector<backfill_progress> batches{};
    bool writer_blocked_seen = false;
    bool writer_done = false;
};

/// Backfills `table` (1000 rows) with callback work whose second batch, after updating its rows,
/// lets a writer on another connection try to update the batch's last row, and waits (bounded)
/// until that writer is blocked on the batch's row lock before it returns.
paced_run run_with_blocked_writer(pgkit::test::scratch_schema& schema,
                                  const std::string& table,
                                  backfill_options options) {
    auto conn = schema.connect();
    create_items(conn, 1000, table);
    auto pool = make_pool(test_pool_options(schema));
    auto writer_conn = schema.connect();
    paced_run out;
    std::optional<std::thread> writer;
    std::atomic<bool> writer_ok{false};
    int calls = 0;
    backfill_spec spec{.name = run_name(schema, table), .table = table, .key = {"id"}};
    spec.work = [&](const pgkit::backfill_batch& batch,
                    pgkit::transaction& tx) -> pgkit::result<std::uint64_t> {
        pgkit::parameters params;
        for (const std::string& v : batch.range_values()) {
            params.add(v);
        }
        auto updated = tx.execute_params(fmt::format("UPDATE {} SET counter = counter + 1 WHERE {}",
                                                     table, batch.range_condition(1)),
                                         params);
        if (!updated) {
            return tl::unexpected(updated.error());
        }
        if (++calls == 2) {
            const std::string row = batch.up_to.at(0);
            writer.emplace([&, row] {
                auto done = writer_conn.execute(
                    fmt::format("UPDATE {} SET note = 'writer' WHERE id = $1::bigint", table), row);
                writer_ok = done.has_value();
            });
            // Poll (bounded) until the writer waits on this batch's lock.
            const auto deadline = std::chrono::steady_clock::now() + 20s;
            while (std::chrono::steady_clock::now() < deadline) {
                auto waiting = tx.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY "
                    "(pg_blocking_pids(pid))");
                if (!waiting) {
                    return tl::unexpected(waiting.error());
                }
                if (auto n = waiting->scalar<std::int64_t>(); n && *n > 0) {
                    out.writer_blocked_seen = true;
                    break;
                }
                std::this_thread::sleep_for(5ms);
            }
        }
        return updated->affected_rows();
    };
    options.on_progress = [&](const backfill_progress& p) { out.batches.push_back(p); };
    out.report = pgkit::run_backfill(*pool, spec, options);
    if (writer) {
        writer->join();
    }
    out.writer_done = writer_ok.load();
    return out;
}

/// What both runs must show whatever the pacing: the writer was blocked by the second batch and
/// got through after it, the run ended done, every row was processed once.
void check_completed(pgkit::test::scratch_schema& schema, const paced_run& run) {
    REQUIRE_MESSAGE(run.report, run.report.error().to_string());
    CHECK(run.writer_blocked_seen);
    CHECK(run.writer_done);
    CHECK(run.report->status == backfill_status::done);
    CHECK(run.report->rows_done == 1000);
    auto conn = schema.connect();
    CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 1") == 0);
    CHECK(count_where(conn, "SELECT count(*) FROM items WHERE note = 'writer'") == 1);
}

/// Batches start at 100 rows and would double for a long while: the target is 10 s.
backfill_options slow_target(std::chrono::milliseconds contended) {
    backfill_options options;
    options.min_batch_size = 10;
    options.max_batch_size = 100'000;
    options.initial_batch_size = 100;
    options.target_batch_duration = 10s;
    options.batch_timeout_factor = 0;  // the blocked batch must not be cut by the time guard
    options.contended_batch_duration = contended;
    return options;
}

}  // namespace

TEST_SUITE("backfill") {
    TEST_CASE(
        "backfill pacing: a batch that blocks a writer makes the next ones aim at the "
        "contended duration") {
        pgkit::test::scratch_schema schema;
        const auto run = run_with_blocked_writer(schema, "items", slow_target(1ms));
        check_completed(schema, run);
        // The runner saw exactly the one batch that blocked the writer.
        CHECK(run.report->contended_batches == 1);
        REQUIRE(run.batches.size() >= 3);
        CHECK(run.batches[0].blocked_sessions == 0);
        CHECK(run.batches[1].blocked_sessions == 1);
        for (std::size_t i = 2; i < run.batches.size(); ++i) {
            CHECK(run.batches[i].blocked_sessions == 0);
        }
        // Batch 1 (100 rows, far under 10 s) doubles; batch 2 (200 rows, held until the writer
        // waited) sizes the next one for 0.7 x 1 ms at its cost, not for 10 s.
        CHECK(run.batches[0].batch_size == 200);
        const auto took_ms = std::max<std::int64_t>(1, run.batches[1].last_batch_duration.count());
        const auto bound =
            static_cast<std::size_t>(std::ceil(0.7 * 1.0 * 200.0 / static_cast<double>(took_ms)));
        CHECK(run.batches[1].batch_size <= std::max<std::size_t>(10, bound));
        CHECK(run.batches[1].batch_size < 200);
    }

    TEST_CASE(
        "backfill pacing: with contended_batch_duration 0 nothing is sampled and the size "
        "keeps growing") {
        pgkit::test::scratch_schema schema;
        const auto run = run_with_blocked_writer(schema, "items", slow_target(0ms));
        check_completed(schema, run);
        CHECK(run.report->contended_batches == 0);
        REQUIRE(run.batches.size() >= 2);
        CHECK(run.batches[1].blocked_sessions == 0);
        // Batch 2 took well under a quarter of the 10 s target: the ramp doubles it.
        CHECK(run.batches[1].last_batch_duration < 2500ms);
        CHECK(run.batches[1].batch_size == 400);
    }

    TEST_CASE("backfill pacing: a negative contended_batch_duration is rejected") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        create_items(conn, 10);
        auto pool = make_pool(test_pool_options(schema));
        backfill_options options;
        options.contended_batch_duration = -1ms;
        auto report =
            pgkit::run_backfill(*pool, pgkit::test::counter_spec(run_name(schema, "neg")), options);
        REQUIRE_FALSE(report);
        CHECK(report.error().code() == errc::invalid_argument);
        CHECK(report.error().message().find("contended_batch_duration") != std::string::npos);
        CHECK(count_where(conn, "SELECT count(*) FROM items WHERE counter <> 0") == 0);
    }
}
