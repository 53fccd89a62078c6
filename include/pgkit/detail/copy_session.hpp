#pragma once

/// COPY on an executor's connection: FROM STDIN (repository<E>::insert_many) and (query) TO
/// STDOUT (repository<E>::export_where). Internal to pgkit.

#include "pgkit/connection.hpp"
#include "pgkit/copy_row.hpp"
#include "pgkit/detail/executor.hpp"
#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgkit::detail {

/// Streams `select_sql`'s rows through connection::copy_out, inside the executor's
/// transaction or on a connection leased for reading (pool::acquire_read); the number of rows
/// the sink received.
[[nodiscard]] result<std::uint64_t> copy_out_rows(const executor& exec,
                                                  std::string_view select_sql,
                                                  const parameters& params,
                                                  const copy_row_sink& sink);

/// Writes rows on a connection leased for the session, or on the executor's transaction's
/// connection. Destroyed before finish(), the COPY is aborted.
class copy_session {
  public:
    /// invalid_argument for a bad name; the pool's and the server's errors.
    [[nodiscard]] static result<copy_session> open(const executor& exec,
                                                   std::string_view schema,
                                                   std::string_view table,
                                                   std::span<const std::string> columns);
    /// Writes one row of these values (see copy_writer::write_row); invalid_argument for none.
    template <sql_parameter... Args>
    [[nodiscard]] result<void> write(const Args&... values) {
        if constexpr (sizeof...(Args) == 0) {
            return make_error(errc::invalid_argument, "a COPY row needs at least one value");
        } else {
            return writer_->write_row(values...);
        }
    }
    /// The number of rows stored.
    [[nodiscard]] result<std::uint64_t> finish() { return writer_->finish(); }

  private:
    copy_session() = default;
    std::optional<lease> lease_;
    std::optional<copy_writer> writer_;
};

}  // namespace pgkit::detail
