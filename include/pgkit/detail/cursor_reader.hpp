#pragma once

/// A server-side cursor over one SELECT, read in chunks so memory stays bounded whatever the
/// number of rows (repository<E>::for_each_where). Internal to pgkit.

#include "pgkit/connection.hpp"
#include "pgkit/detail/executor.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/transaction.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgkit::detail {

/// DECLAREs the cursor inside the executor's transaction, or inside a transaction of its own on
/// a connection it leases; FETCHes FORWARD `chunk` rows at a time. Move-only; a reader destroyed
/// before close() closes the cursor in the caller's transaction, or leaves its own lease to roll
/// back when it goes back to the pool.
class cursor_reader {
  public:
    /// The pool's and the statement's errors; the parameters' encoding error.
    [[nodiscard]] static result<cursor_reader> open(const executor& exec,
                                                    std::string_view select_sql,
                                                    const parameters& params,
                                                    std::size_t chunk);
    cursor_reader(cursor_reader&&) noexcept;
    cursor_reader& operator=(cursor_reader&&) noexcept;
    cursor_reader(const cursor_reader&) = delete;
    cursor_reader& operator=(const cursor_reader&) = delete;
    ~cursor_reader();

    /// The next chunk; empty at the end.
    [[nodiscard]] result<query_result> next();
    /// Moves past the next `rows` rows without reading them (MOVE FORWARD): how many it passed.
    [[nodiscard]] result<std::uint64_t> skip(std::uint64_t rows);
    /// Closes the cursor (and commits its own transaction).
    [[nodiscard]] result<void> close();

  private:
    cursor_reader() = default;
    [[nodiscard]] result<query_result> run(std::string_view sql, const parameters& params);
    std::optional<lease> lease_;
    transaction* tx_ = nullptr;
    std::string name_;
    std::string fetch_;
    bool open_ = false;
};

}  // namespace pgkit::detail
