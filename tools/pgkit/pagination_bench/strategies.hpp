#pragma once

// The pagination strategies the benchmark compares, each a walker over the pages of one
// table_model, built on pgkit's own code paths: page_at (OFFSET, with or without a deferred
// join), keyset pages (the seek condition's row-value and expanded forms), a server-side cursor
// (cursor_reader) and page_at handing over to keyset cursors.

#include "pgkit/connection_options.hpp"
#include "pgkit/cursor_key.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pagination.hpp"
#include "pgkit/pool.hpp"

#include "pagination_bench/table_model.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::tools {

enum class strategy {
    offset,            ///< OFFSET/LIMIT (page_at)
    deferred_join,     ///< OFFSET over the key alone, then the rows by key
    keyset_row_value,  ///< keyset, (a, b) < ($1, $2)
    keyset_expanded,   ///< keyset, the expanded NULL-safe disjunction
    server_cursor,     ///< DECLARE ... CURSOR / FETCH in one transaction
    page_at_handover,  ///< page_at up to its max_offset, then keyset cursors
};

inline constexpr std::array all_strategies{
    strategy::offset,          strategy::deferred_join, strategy::keyset_row_value,
    strategy::keyset_expanded, strategy::server_cursor, strategy::page_at_handover,
};

[[nodiscard]] std::string_view name_of(strategy s) noexcept;
[[nodiscard]] std::optional<strategy> strategy_named(std::string_view name) noexcept;

/// What every walker reads.
struct bench_target {
    std::shared_ptr<pool> reads;    ///< the sessions pages are read on
    connection_options connection;  ///< for the server cursor's own session
    table_model model;
    std::shared_ptr<const cursor_key> key;  ///< signs the keyset strategies' cursors
};

struct fetched_page {
    std::vector<std::string> keys;  ///< key_of_row of each row, in page order
    std::uint64_t round_trips = 0;  ///< this thread's round trips for the page
    double ms = 0;                  ///< wall-clock time of the page
};

/// What a server-side cursor costs the server while it is open.
struct server_cost {
    double open_ms = 0;         ///< how long its transaction has been open
    std::int64_t xmin_age = 0;  ///< age(backend_xmin): transactions vacuum cannot clean up after
};

/// Walks pages forward from a starting row. Not thread-safe.
class walker {
  public:
    virtual ~walker() = default;
    /// The next page; no keys at the end.
    [[nodiscard]] virtual result<fetched_page> next() = 0;
    /// The plan of the next page's statement (EXPLAIN ANALYZE, BUFFERS where it can run alone:
    /// not for a cursor's FETCH, where it is the cursor's plan without ANALYZE). Does not move.
    [[nodiscard]] virtual result<page_plan> explain_next() = 0;
    /// The server cursor's cost; nullopt for the other strategies.
    [[nodiscard]] virtual result<std::optional<server_cost>> cost() { return std::nullopt; }
    /// Ends the walk (commits the cursor's transaction).
    [[nodiscard]] virtual result<void> close() { return {}; }
};

/// The largest OFFSET the benchmark lets page_at use (its max_offset otherwise refuses deep
/// pages: the benchmark measures exactly that cost).
inline constexpr std::int64_t unbounded_offset = std::int64_t{1} << 52;

/// A walker of `s` whose first page starts at row `start_row` (a multiple of page_size).
/// invalid_argument when the strategy cannot page this ordering exactly (the row-value form
/// with mixed directions or a nullable column).
[[nodiscard]] result<std::unique_ptr<walker>> open_walker(const bench_target& target,
                                                          strategy s,
                                                          std::size_t page_size,
                                                          std::uint64_t start_row);

}  // namespace pgkit::tools
