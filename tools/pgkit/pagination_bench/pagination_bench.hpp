#pragma once

// The pagination-strategy benchmark: for each strategy, latency (median, p99), round trips,
// rows read and plan by depth, and optionally the anomalies of a full walk under concurrent
// writes and what a server cursor costs the server. `pgkit bench pagination` prints it;
// docs/pagination-benchmarks.md explains every number.

#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"

#include "pagination_bench/anomalies.hpp"
#include "pagination_bench/strategies.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::tools {

/// A depth meaning "the last page".
inline constexpr std::uint64_t last_page = std::numeric_limits<std::uint64_t>::max();

struct bench_options {
    std::size_t page_size = 20;
    /// Rows before the first measured page (rounded down to a page); last_page for the end.
    std::vector<std::uint64_t> depths{0, 1'000, 10'000, 100'000, last_page};
    std::vector<strategy> strategies{all_strategies.begin(), all_strategies.end()};
    std::size_t samples = 15;  ///< consecutive pages timed at each depth
    /// The anomaly test: a full walk per strategy while `writes` inserts and deletes rows.
    /// Only on a generated table or a scratch copy: the caller decides.
    std::shared_ptr<pool> writes;
    double writes_per_second = 200;
    std::size_t anomaly_pages =
        100;  ///< the walk's page size is rows / anomaly_pages (at least page_size)
    std::uint64_t seed = 1;
    /// Called after each measured step: steps done, steps in all, what was measured.
    std::function<void(std::size_t, std::size_t, std::string_view)> on_progress;
};

struct depth_result {
    std::uint64_t start_row = 0;
    std::size_t samples = 0;
    double median_ms = 0;
    double p99_ms = 0;
    double round_trips = 0;     ///< per page, mean
    std::int64_t buffers = -1;  ///< shared buffers of the first page (EXPLAIN ANALYZE), -1: n/a
    double rows_scanned = -1;   ///< rows its scans read, -1: n/a
    std::vector<std::string> plan_nodes;
    bool index_served = false;
};

struct anomaly_result {
    anomaly_count count;
    std::uint64_t writes = 0;  ///< writes made during the walk
    std::uint64_t pages = 0;
    std::size_t page_size = 0;
    double walk_ms = 0;
};

struct strategy_result {
    strategy which = strategy::offset;
    std::string skipped;  ///< why the strategy was not measured ("" when it was)
    std::vector<depth_result> depths;
    std::optional<anomaly_result> anomalies;
    std::optional<server_cost> cost;  ///< server cursor: at the end of its longest walk
};

struct bench_report {
    std::string table;  ///< schema.table
    std::string ordering;
    std::vector<std::string> appended_key;
    std::uint64_t rows = 0;
    std::size_t page_size = 0;
    std::vector<strategy_result> strategies;
};

[[nodiscard]] result<bench_report> run_pagination_bench(const bench_target& target,
                                                        const bench_options& options);

/// Every key of the table's rows that match the filter.
[[nodiscard]] result<std::vector<std::string>> all_keys(const bench_target& target);

/// The ratios scripts/bench reports (nullopt when a strategy is missing).
struct bench_summary {
    std::optional<double> deferred_join_over_keyset_deepest;
    std::optional<double> server_cursor_over_keyset_deepest;
    std::optional<std::uint64_t> offset_anomalies_under_writes;
    std::optional<std::uint64_t> keyset_anomalies_under_writes;
    std::size_t strategies_measured = 0;
};
[[nodiscard]] bench_summary summarize(const bench_report& report);

[[nodiscard]] std::string to_json(const bench_report& report);
/// A plain-text table of the report.
[[nodiscard]] std::string to_text(const bench_report& report);

/// Creates (replacing it) `name` with `rows` rows: id bigint key, created_at (three rows per
/// second), author_id, title; an index on (created_at, id); vacuumed and analyzed.
[[nodiscard]] result<void> create_generated_table(const std::shared_ptr<pool>& writes,
                                                  std::string_view name,
                                                  std::uint64_t rows);

}  // namespace pgkit::tools
