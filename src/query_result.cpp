#include "pgkit/query_result.hpp"

#include "driver/pq_session.hpp"

#include <fmt/format.h>

namespace pgkit {

query_result::query_result(std::shared_ptr<const detail::result_data> data) noexcept
    : data_(std::move(data)) {}

std::size_t query_result::size() const noexcept {
    return data_ ? data_->rows() : 0;
}

std::size_t query_result::columns() const noexcept {
    return data_ ? data_->columns() : 0;
}

std::string_view query_result::column_name(std::size_t column) const noexcept {
    return data_ && column < data_->columns() ? data_->column_name(column) : std::string_view{};
}

std::uint64_t query_result::affected_rows() const noexcept {
    return data_ ? data_->affected_rows() : 0;
}

result<row> query_result::one() const {
    if (size() == 0) {
        return make_error(errc::not_found, "the query returned no row");
    }
    if (size() > 1) {
        return make_error(errc::invalid_argument,
                          fmt::format("the query returned {} rows where one was expected", size()));
    }
    return (*this)[0];
}

std::size_t row::size() const noexcept {
    return data_ ? data_->columns() : 0;
}

std::uint32_t query_result::column_type(std::size_t column) const noexcept {
    return data_ ? data_->column_type(column) : 0;
}

row_format query_result::format() const noexcept {
    return data_ && data_->binary() ? row_format::binary : row_format::text;
}

result<std::optional<std::string_view>> row::text(std::size_t column) const {
    auto raw = field(column);
    if (!raw) {
        return tl::unexpected(std::move(raw).error());
    }
    if (raw->binary) {
        return make_error(errc::invalid_argument,
                          fmt::format("column '{}' came in binary format: read it with get<T>()",
                                      data_->column_name(column)));
    }
    return raw->bytes;
}

std::span<const std::uint32_t> row::binary_column_types() const noexcept {
    return data_ ? data_->binary_column_types() : std::span<const std::uint32_t>{};
}

result<detail::raw_field> row::field(std::size_t column) const {
    const std::size_t rows = data_ ? data_->rows() : 0;
    if (row_ >= rows) {
        return make_error(errc::invalid_argument,
                          fmt::format("row {} out of range (the result has {} rows)", row_, rows));
    }
    if (column >= data_->columns()) {
        return make_error(errc::invalid_argument,
                          fmt::format("column {} out of range (the result has {} columns)", column,
                                      data_->columns()));
    }
    // A binary result read its column types once; a text field needs none.
    const std::span<const std::uint32_t> types = data_->binary_column_types();
    const bool binary = !types.empty();
    return detail::raw_field{data_->text(row_, column), binary, binary ? types[column] : 0};
}

void row::fields(std::span<std::optional<std::string_view>> out) const noexcept {
    data_->texts(row_, out);
}

result<std::optional<std::string_view>> row::text(std::string_view column) const {
    return column_index(column).and_then([this](std::size_t index) { return text(index); });
}

result<std::size_t> row::column_index(std::string_view name) const {
    if (data_) {
        if (auto index = data_->column_index(name)) {
            return *index;
        }
    }
    return make_error(errc::invalid_argument,
                      fmt::format("the result has no column named '{}'", name.substr(0, 64)));
}

error row::with_column(error e, std::size_t column) const {
    const std::string_view name =
        data_ && column < data_->columns() ? data_->column_name(column) : std::string_view{};
    return error{e.code(), fmt::format("column '{}': {}", name, e.message())};
}

}  // namespace pgkit
