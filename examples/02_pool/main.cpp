// A pool shared by worker threads: leases, a retried serializable transaction, a concurrent
// counter that loses no update, and the pool's metrics at the end.
//
//   pgkit_example_pool postgresql://user@localhost/db
#include <pgkit/pgkit.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    auto target = argc > 1 ? pgkit::connection_options::parse(argv[1])
                           : pgkit::connection_options::from_environment();
    if (!target) {
        return fail(target.error());
    }
    auto created = pgkit::pool::create({.connection = *target,
                                        .name = "example",
                                        .max_size = 4,
                                        .min_idle = 1,
                                        .acquire_timeout = 5s,
                                        .session = {.statement_timeout = 10s}});
    if (!created) {
        return fail(created.error());
    }
    std::shared_ptr<pgkit::pool> pool = *created;

    {
        auto lease = pool->acquire();
        if (!lease) {
            return fail(lease.error());
        }
        auto ready = (*lease)->execute_script(
            "DROP TABLE IF EXISTS example_counters;"
            "CREATE TABLE example_counters (id int PRIMARY KEY, hits bigint NOT NULL);"
            "INSERT INTO example_counters VALUES (1, 0)");
        if (!ready) {
            return fail(ready.error());
        }
    }  // the lease goes back to the pool here

    // 8 threads share 4 connections; each increments the counter 50 times in a serializable
    // transaction. Conflicts are serialization failures, retried by with_transaction.
    constexpr int threads = 8;
    constexpr int increments = 50;
    std::vector<std::thread> workers;
    std::atomic<int> failures{0};
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&] {
            for (int i = 0; i < increments; ++i) {
                auto done = pool->with_transaction(
                    [](pgkit::transaction& tx) -> pgkit::result<void> {
                        auto hits =
                            tx.execute_cached("SELECT hits FROM example_counters WHERE id = 1")
                                .and_then(&pgkit::query_result::scalar<std::int64_t>);
                        if (!hits) {
                            return tl::unexpected(hits.error());
                        }
                        auto written = tx.execute_cached(
                            "UPDATE example_counters SET hits = $1 WHERE id = 1", *hits + 1);
                        if (!written) {
                            return tl::unexpected(written.error());
                        }
                        return {};
                    },
                    {.isolation = pgkit::isolation_level::serializable,
                     .retry = {.max_attempts = 200, .initial_backoff = 1ms, .max_backoff = 20ms}});
                if (!done) {
                    std::fprintf(stderr, "gave up: %s\n", done.error().to_string().c_str());
                    ++failures;
                }
            }
        });
    }
    for (auto& worker : workers) {
        worker.join();
    }

    auto lease = pool->acquire();
    if (!lease) {
        return fail(lease.error());
    }
    auto hits = (*lease)
                    ->execute("SELECT hits FROM example_counters WHERE id = 1")
                    .and_then(&pgkit::query_result::scalar<std::int64_t>);
    if (!hits) {
        return fail(hits.error());
    }
    std::printf(
        "%d threads x %d read-modify-write increments on 4 pooled connections: "
        "counter = %lld (expected %d), %d gave up\n",
        threads, increments, static_cast<long long>(*hits), threads * increments, failures.load());
    (void)(*lease)->execute_script("DROP TABLE example_counters");
    lease->release();

    const pgkit::pool_metrics m = pool->metrics();
    std::printf(
        "pool: %zu open, %zu idle, %llu acquires, %llu connections created, "
        "acquire wait p50 %lld us, p99 %lld us, max %lld us\n",
        m.size, m.idle, static_cast<unsigned long long>(m.acquired),
        static_cast<unsigned long long>(m.created),
        static_cast<long long>(m.acquire_wait_p50.count()),
        static_cast<long long>(m.acquire_wait_p99.count()),
        static_cast<long long>(m.acquire_wait_max.count()));
    std::printf("--- Prometheus exposition (excerpt) ---\n");
    const std::string exposition = pgkit::to_prometheus(m);
    std::fwrite(exposition.data(), 1, std::min<std::size_t>(exposition.size(), 600), stdout);
    std::printf("...\n");
    pool->close(2s);
    return *hits == threads * increments && failures == 0 ? 0 : 1;
}
