#pragma once

// The writer that the failover tests (integration/topology_failover_test.cpp) and the failover
// benchmark (benchmarks/topology_bench.cpp) run against the pg_auto_failover formation: inserts
// through one pool, written as an application would write them. Each records what it saw in a
// ledger of its own, which provides:
//
//   acknowledged(acknowledgement)       an insert the primary confirmed
//   failed(const pgkit::error&)         every error of every attempt
//   settled(bool present)               an unknown outcome settled by looking the row up
//   undecided(id, why)                  an unknown outcome the primary did not settle in 60 s
//   gave_up()                           an insert dropped after a non-retryable error

#include "pgkit/pool.hpp"
#include "pgkit/retry_policy.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>

namespace pgkit::test {

/// The server clock in microseconds since the epoch (the topologies' servers share this
/// machine's clock).
constexpr std::string_view server_clock = "(extract(epoch FROM clock_timestamp()) * 1000000)::int8";

/// One acknowledged insert: its id, the node's port, the node's clock at the insert and when the
/// writer got the answer.
struct acknowledgement {
    std::int64_t id = 0;
    std::int32_t port = 0;
    std::int64_t server_micros = 0;
    std::chrono::steady_clock::time_point at;
};

/// The application's pause between attempts: pgkit's own jittered exponential backoff, short
/// (10 ms doubling to 200 ms) so the write gap measures the failover rather than the sleep.
inline const pgkit::retry_policy writer_backoff{.max_attempts = 1'000'000,
                                                .initial_backoff = std::chrono::milliseconds{10},
                                                .max_backoff = std::chrono::milliseconds{200}};

/// Whether row `id` is in `table` on the primary, asked through the pool (a write acquire, so the
/// answer comes from the node that accepts writes now); nullopt when no answer came within 60 s.
template <class Ledger>
std::optional<bool> row_exists(pgkit::pool& pool,
                               const std::string& table,
                               std::int64_t id,
                               Ledger& ledger) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{60};
    const auto sql = fmt::format("SELECT count(*) FROM {} WHERE id = $1", table);
    for (std::uint32_t attempt = 1; std::chrono::steady_clock::now() < deadline; ++attempt) {
        auto leased = pool.acquire();
        auto count =
            leased
                ? (*leased)->execute(sql, id).and_then(&pgkit::query_result::scalar<std::int64_t>)
                : pgkit::result<std::int64_t>{tl::unexpected(leased.error())};
        if (count) {
            return *count > 0;
        }
        ledger.failed(count.error());
        std::this_thread::sleep_for(writer_backoff.backoff(attempt));
    }
    return std::nullopt;
}

/// One writer: inserts rows with ids of its own (`writer` * 10^9 + k) into `table` (columns id
/// and writer) until `stop`. It retries what error::is_retryable() allows and settles an unknown
/// outcome by looking the row up before inserting it again.
template <class Ledger>
void write_rows(pgkit::pool& pool,
                const std::string& table,
                std::int32_t writer,
                const std::atomic<bool>& stop,
                Ledger& ledger) {
    const auto insert =
        fmt::format("INSERT INTO {} (id, writer) VALUES ($1, $2) RETURNING inet_server_port(), {}",
                    table, server_clock);
    // Every attempt's error comes back here: pgkit retries nothing on its own.
    const pgkit::transaction_options once{.retry = {.max_attempts = 1}};
    for (std::int64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
        const std::int64_t id = std::int64_t{writer} * 1'000'000'000 + k;
        bool outcome_was_unknown = false;
        for (std::uint32_t attempt = 1;; ++attempt) {
            auto done = pool.with_transaction(
                [&](pgkit::transaction& tx)
                    -> pgkit::result<std::tuple<std::int32_t, std::int64_t>> {
                    return tx.execute(insert, id, writer)
                        .and_then(&pgkit::query_result::one)
                        .and_then(
                            [](const pgkit::row& r) { return r.as<std::int32_t, std::int64_t>(); });
                },
                once);
            if (done) {
                ledger.acknowledged(
                    {id, std::get<0>(*done), std::get<1>(*done), std::chrono::steady_clock::now()});
                break;
            }
            const pgkit::error& e = done.error();
            ledger.failed(e);
            if (e.code() == pgkit::errc::unique_violation && outcome_was_unknown) {
                ledger.settled(true);  // the attempt whose outcome was unknown did commit
                break;
            }
            const bool unknown = e.code() == pgkit::errc::commit_unknown ||
                                 (e.code() == pgkit::errc::connection_lost && !e.is_retryable());
            if (unknown) {
                outcome_was_unknown = true;
                const auto present = row_exists(pool, table, id, ledger);
                if (!present) {
                    ledger.undecided(id, e.to_string());
                    break;
                }
                ledger.settled(*present);
                if (*present) {
                    break;
                }
            } else if (!e.is_retryable()) {
                // Reported to whoever asked for the write; the next write comes after a pause.
                ledger.gave_up();
                std::this_thread::sleep_for(writer_backoff.backoff(attempt));
                break;
            } else if (stop.load(std::memory_order_relaxed)) {
                break;  // not acknowledged, never to be: nothing to check
            }
            std::this_thread::sleep_for(writer_backoff.backoff(attempt));
        }
    }
}

}  // namespace pgkit::test
