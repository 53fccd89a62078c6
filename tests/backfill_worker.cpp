// A backfill in a process of its own, for the kill -9 tests: increments `counter` on every row of
// a table, in small batches. Usage: pgkit_backfill_worker URL SCHEMA TABLE NAME BATCH PAUSE_MS
// [LEASE_MS]; with LEASE_MS the runner uses the lease mode with leases of that many
// milliseconds, otherwise the advisory lock. Exits 0 when the run is done, 1 on any error.
#include "pgkit/backfill.hpp"
#include "pgkit/pool.hpp"

#include "support/worker_pool.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
    if (argc != 7 && argc != 8) {
        std::fprintf(stderr, "usage: %s URL SCHEMA TABLE NAME BATCH PAUSE_MS [LEASE_MS]\n",
                     argv[0]);
        return 2;
    }
    auto pool = pgkit::test::worker_pool(argv[1], argv[2], "pgkit-backfill-worker");
    if (!pool) {
        return 1;
    }
    const auto batch = static_cast<std::size_t>(std::strtoull(argv[5], nullptr, 10));
    pgkit::backfill_options run;
    run.min_batch_size = batch / 2;
    run.max_batch_size = batch * 2;
    run.initial_batch_size = batch;
    run.target_batch_duration = std::chrono::milliseconds{5};
    run.pause_between_batches = std::chrono::milliseconds{std::atoi(argv[6])};
    if (argc == 8) {
        run.runner_lock = pgkit::backfill_runner_lock::lease;
        run.lease_duration = std::chrono::milliseconds{std::atoi(argv[7])};
    }
    auto report = pgkit::run_backfill(
        *pool, {.name = argv[4], .table = argv[3], .key = {"id"}, .set = "counter = counter + 1"},
        run);
    if (!report) {
        std::fprintf(stderr, "%s\n", report.error().to_string().c_str());
        return 1;
    }
    std::printf("%s %llu\n", std::string{pgkit::to_string(report->status)}.c_str(),
                static_cast<unsigned long long>(report->rows_done));
    return report->status == pgkit::backfill_status::done ? 0 : 1;
}
