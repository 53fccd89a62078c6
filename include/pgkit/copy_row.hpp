#pragma once

/// One row of `COPY (query) TO STDOUT` output as connection::copy_out delivers it: the fields
/// of one line of the text format, unescaped. Valid only during the call that receives it.

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit {

class connection;

namespace detail {
struct copy_field;
struct row_fields;
}  // namespace detail

class copy_row {
  public:
    [[nodiscard]] std::size_t size() const noexcept;
    /// The text of field `column` (nullopt for NULL): what the server's text output function
    /// wrote, as a plain SELECT reads it. Precondition: column < size().
    [[nodiscard]] std::optional<std::string_view> field(std::size_t column) const noexcept;
    /// Field `column` decoded as T by the same decoders as row::get (std::optional<T> to accept
    /// NULL); invalid_argument for a column out of range, type_mismatch as for row::get (the
    /// message names the column's position).
    template <sql_field T>
    [[nodiscard]] result<T> get(std::size_t column) const {
        if (column >= size()) {
            return make_error(errc::invalid_argument, "COPY row has no such column");
        }
        auto value = decode_value<T>(field(column));
        if (!value) {
            return tl::unexpected(with_column(std::move(value).error(), column));
        }
        return value;
    }
    /// The line as the server sent it (escaped, newline included).
    [[nodiscard]] std::string_view line() const noexcept { return line_; }

  private:
    friend class connection;
    friend struct detail::row_fields;
    copy_row(std::string_view line,
             const std::string& storage,
             const std::vector<detail::copy_field>& fields) noexcept
        : line_(line), storage_(&storage), fields_(&fields) {}

    /// field(c) of the first out.size() columns (out.size() <= size()).
    void fields(std::span<std::optional<std::string_view>> out) const noexcept;
    [[nodiscard]] static error with_column(error e, std::size_t column) {
        e.with_context("column " + std::to_string(column));
        return e;
    }

    std::string_view line_;
    const std::string* storage_;
    const std::vector<detail::copy_field>* fields_;
};

/// Receives each row: true to go on, false to stop (connection::copy_out then ends the COPY and
/// returns), an error to stop and fail with it.
using copy_row_sink = std::function<result<bool>(const copy_row&)>;

}  // namespace pgkit
