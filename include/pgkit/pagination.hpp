#pragma once

/// Pages of a repository's rows: keyset ("seek") pages with signed cursors, and offset pages
/// for small screens that need page numbers. docs/pagination.md explains the SQL.
///
/// ```cpp
/// using namespace pgkit::filters;
/// pgkit::repository<clip> clips{pool, cursor_key};
/// const std::vector order{desc(&clip::created_at)};        // the key (id) is appended
/// auto p1 = clips.page(eq(&clip::author_id, 7), {.order_by = order, .first = 20});
/// auto p2 = clips.page(eq(&clip::author_id, 7),
///                      {.order_by = order, .first = 20, .after = p1->next_cursor});
/// auto back = clips.page(eq(&clip::author_id, 7),
///                        {.order_by = order, .last = 20, .before = p2->previous_cursor});
/// ```

#include "pgkit/filter.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgkit {

/// How a page reports the number of matching rows (one extra statement unless `none`).
enum class count_policy {
    none,       ///< no count (default)
    exact,      ///< count(*): exact, costs a scan of every matching row
    capped,     ///< count up to count_cap + 1 rows: "1000+" screens
    estimated,  ///< the planner's estimate (EXPLAIN): instant, approximate
};

/// What page::total holds.
enum class total_kind {
    none,       ///< not counted
    exact,      ///< exactly this many rows match
    at_least,   ///< capped: more than count_cap rows match; total is count_cap + 1
    estimated,  ///< the planner's estimate
};

/// The largest page either kind of page request accepts.
inline constexpr std::size_t max_page_size = 10'000;

/// A keyset page request, in Relay's terms: `first` rows after `after` (forward; no cursor: from
/// the beginning) or `last` rows before `before` (backward; no cursor: from the end). Exactly
/// one of first and last is set.
struct page_request {
    /// Ordering; the primary key's columns are appended (in the last term's direction) when it
    /// does not already contain them all, so the order is total.
    std::vector<order_term> order_by{};
    std::size_t first = 0;
    std::string after{};
    std::size_t last = 0;
    std::string before{};
    count_policy count = count_policy::none;
    std::int64_t count_cap = 1000;  ///< for count_policy::capped
};

/// One page of rows, in the requested order (also for backward requests).
template <class E>
struct page {
    std::vector<E> items;
    bool has_next = false;      ///< rows follow the last item
    bool has_previous = false;  ///< rows precede the first item
    /// Continues after the last item (use as `after`); the request's own cursor when the page
    /// is empty, so a client polling the end of a feed keeps its place.
    std::string next_cursor;
    /// Continues before the first item (use as `before`); likewise.
    std::string previous_cursor;
    total_kind total_is = total_kind::none;
    std::int64_t total = 0;
};

/// A numbered page: OFFSET (page_number - 1) * page_size. Cost grows with the offset, so
/// offsets past max_offset are refused (invalid_argument): use keyset pages there.
struct offset_page_request {
    std::vector<order_term> order_by{};  ///< the primary key is appended as for page_request
    std::int64_t page_number = 1;        ///< 1-based
    std::size_t page_size = 20;
    std::int64_t max_offset = 10'000;
    count_policy count = count_policy::none;
    std::int64_t count_cap = 1000;
    /// Page the key alone with OFFSET (an index holding the ordering's columns and the key skips
    /// rows without visiting them), then read the page's rows by key: a "deferred join".
    bool deferred_join = false;
};

template <class E>
struct offset_page {
    std::vector<E> items;
    std::int64_t page_number = 1;
    bool has_next = false;
    bool has_previous = false;
    /// A keyset cursor after the last item (when the repository has a cursor key), to switch
    /// to keyset pages from here.
    std::string next_cursor;
    total_kind total_is = total_kind::none;
    std::int64_t total = 0;
};

/// What PostgreSQL plans for a page query (repository::explain_page).
struct page_plan {
    bool sorts = false;     ///< a Sort or Incremental Sort node: no index serves the ordering
    bool seq_scan = false;  ///< a sequential scan on some table
    std::vector<std::string> node_types;  ///< every plan node, depth-first
    std::string plan_json;                ///< EXPLAIN (FORMAT JSON)'s output
    /// Only when explained with ANALYZE (which runs the statement), else -1: the shared buffers
    /// the statement touched (hit + read), and the rows its scans read (the rows they returned
    /// and the rows their filters removed, over every loop).
    std::int64_t buffers = -1;
    double rows_scanned = -1;
    /// An index serves the page: no Sort and no sequential scan.
    [[nodiscard]] bool index_served() const noexcept { return !sorts && !seq_scan; }
};

}  // namespace pgkit
