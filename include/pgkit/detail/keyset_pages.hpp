#pragma once

/// The non-template half of repository<E>'s pages (see pagination.hpp): builds and runs the
/// page statements and signs their cursors; repository<E> only decodes the rows. Internal.

#include "pgkit/connection.hpp"
#include "pgkit/cursor_key.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/detail/executor.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pagination.hpp"
#include "pgkit/query_result.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail {

/// What the catalog says about an entity's table, read on first use and kept (shared by a
/// repository and its copies).
struct table_facts {
    std::string identity;        ///< database name and table OID: which table the name resolved to
    std::vector<bool> not_null;  ///< per column: declared NOT NULL
};

/// A kind of page request (ordering, scope, filter text, direction) with what every page of
/// that kind shares: the fingerprint text and the statement texts. Defined in keyset_pages.cpp.
struct page_shape;

/// What a repository's pages keep between requests (shared by the repository and its copies;
/// thread-safe): the table's catalog facts, read once, and the page shapes seen so far, so that
/// a page request of a known shape only decodes its cursor and binds values.
class keyset_cache {
  public:
    [[nodiscard]] result<std::shared_ptr<const table_facts>> facts(const executor& exec,
                                                                   const entity_sql& sql);
    /// The cached shape equal to `probe`, or nullptr.
    [[nodiscard]] std::shared_ptr<const page_shape> find(const page_shape& probe);
    /// Keeps `shape` (at most max_shapes: past that the oldest are dropped; pages holding them
    /// keep them alive).
    void keep(std::shared_ptr<const page_shape> shape);

    static constexpr std::size_t max_shapes = 64;

  private:
    std::mutex mutex_;
    std::shared_ptr<const table_facts> facts_;
    std::vector<std::shared_ptr<const page_shape>> shapes_;
};

/// Which form of the seek condition a keyset page uses (keyset_sql.hpp's seek_condition).
enum class seek_form {
    automatic,  ///< the row-value comparison where it is exact, else the expanded form
    row_value,  ///< always the row-value comparison: only exact when every term has the same
                ///< direction and every column is NOT NULL (refused otherwise)
    expanded,   ///< always the expanded, NULL-safe disjunction
};

/// What every page statement starts from.
struct page_query_input {
    const entity_sql& sql;
    row_scope scope;
    std::string_view condition;  ///< " WHERE <filter> AND <scope>"
    const parameters& params;    ///< the condition's parameters
    const cursor_key* key;       ///< nullptr when the repository has none
    keyset_cache& cache;
    seek_form form = seek_form::automatic;
};

/// A page before decoding: the rows as the server sent them and the order to read them in.
struct raw_page {
    query_result rows;
    std::vector<std::size_t> order;  ///< indices into rows, in page order
    bool has_next = false;
    bool has_previous = false;
    std::string next_cursor;
    std::string previous_cursor;
    total_kind total_is = total_kind::none;
    std::int64_t total = 0;
};

[[nodiscard]] result<raw_page> fetch_keyset_page(const executor& exec,
                                                 const page_query_input& input,
                                                 const page_request& request);
[[nodiscard]] result<raw_page> fetch_offset_page(const executor& exec,
                                                 const page_query_input& input,
                                                 const offset_page_request& request);
/// EXPLAIN (FORMAT JSON) of a read-only statement; with `analyze`, EXPLAIN (ANALYZE, BUFFERS,
/// FORMAT JSON), which runs it, and page_plan's buffers and rows_scanned.
[[nodiscard]] result<page_plan> explain_statement(const executor& exec,
                                                  std::string_view sql,
                                                  const parameters& params,
                                                  bool analyze);

/// EXPLAIN (FORMAT JSON) of the page's statement; with `analyze`, EXPLAIN (ANALYZE, BUFFERS,
/// FORMAT JSON), which runs it.
[[nodiscard]] result<page_plan> explain_keyset_page(const executor& exec,
                                                    const page_query_input& input,
                                                    const page_request& request,
                                                    bool analyze = false);
[[nodiscard]] result<page_plan> explain_offset_page(const executor& exec,
                                                    const page_query_input& input,
                                                    const offset_page_request& request,
                                                    bool analyze = false);

}  // namespace pgkit::detail
