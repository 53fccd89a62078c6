#pragma once

/// The rows a statement returned, read through the type mapping.

#include "pgkit/error.hpp"
#include "pgkit/value_traits.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>

namespace pgkit {

namespace detail {
class result_data;  // the server's result; defined by the driver layer
struct row_fields;

/// A field as the server sent it: its bytes (nullopt for NULL), whether they are in binary
/// format, and the column's type OID.
struct raw_field {
    std::optional<std::string_view> bytes;
    bool binary = false;
    std::uint32_t type = 0;
};
}  // namespace detail

/// The format a statement's fields come in. Text is PostgreSQL's text output, what row::text
/// returns. Binary is each type's binary form, which row::get<T> and entity decoding read for
/// the types with a binary decoder (value_traits.hpp); it spares the server the formatting and
/// the client the parsing, and is what repositories ask for when every column has one
/// (statement_cache.hpp).
enum class row_format : std::uint8_t { text, binary };

/// Whether rows with these column types (type OIDs, in column order) may come in binary format:
/// true only when the caller reads every such column in binary, as detail::entity_reads_binary
/// does for an entity (statement_cache.hpp).
using binary_rows_filter = bool (*)(std::span<const std::uint32_t> column_types) noexcept;

class query_result;

/// One row of a query_result. It shares the result with the query_result it came from, as
/// libpqxx's row holds its result: a row stays valid after the query_result is moved or
/// destroyed (`auto r = conn.execute(...)->one();` is safe). Copying a row is cheap.
class row {
  public:
    /// Raw text of a field; nullopt for NULL. Out-of-range index: invalid_argument; so is a
    /// field of a result in binary format (read it with get<T>).
    [[nodiscard]] result<std::optional<std::string_view>> text(std::size_t column) const;
    [[nodiscard]] result<std::optional<std::string_view>> text(std::string_view column) const;

    /// The field decoded as T (std::optional<T> to accept NULL), from text or binary format.
    /// Fails with type_mismatch when the value does not fit T (or T has no binary decoder for a
    /// binary field), invalid_argument for an unknown column.
    template <sql_field T>
    [[nodiscard]] result<T> get(std::size_t column) const {
        auto raw = field(column);
        if (!raw) {
            return tl::unexpected(std::move(raw).error());
        }
        if (raw->binary) {
            return annotate(decode_binary_value<T>(raw->bytes, raw->type), column);
        }
        return annotate(decode_value<T>(raw->bytes), column);
    }
    template <sql_field T>
    [[nodiscard]] result<T> get(std::string_view column) const {
        auto index = column_index(column);
        if (!index) {
            return tl::unexpected(std::move(index).error());
        }
        return get<T>(*index);
    }

    /// All fields, in order, as a tuple: `auto [id, name] = *row.as<int64_t, std::string>();`.
    template <sql_field... Ts>
    [[nodiscard]] result<std::tuple<Ts...>> as() const {
        return as_impl<Ts...>(std::index_sequence_for<Ts...>{});
    }

    [[nodiscard]] std::size_t size() const noexcept;
    [[nodiscard]] std::size_t index() const noexcept { return row_; }

  private:
    friend class query_result;
    friend struct detail::row_fields;
    row(std::shared_ptr<const detail::result_data> data, std::size_t index) noexcept
        : data_(std::move(data)), row_(index) {}

    /// The bytes of the first out.size() fields, in one call and without the range checks: for
    /// decoders that checked size() once.
    void fields(std::span<std::optional<std::string_view>> out) const noexcept;
    /// The column types when the fields are in binary format; empty for text.
    [[nodiscard]] std::span<const std::uint32_t> binary_column_types() const noexcept;
    /// Field `column` as sent; invalid_argument out of range.
    [[nodiscard]] result<detail::raw_field> field(std::size_t column) const;

    [[nodiscard]] result<std::size_t> column_index(std::string_view name) const;
    template <class T>
    [[nodiscard]] result<T> annotate(result<T> value, std::size_t column) const {
        if (!value) {
            return tl::unexpected(with_column(std::move(value).error(), column));
        }
        return value;
    }
    [[nodiscard]] error with_column(error e, std::size_t column) const;

    template <class... Ts, std::size_t... Is>
    [[nodiscard]] result<std::tuple<Ts...>> as_impl(std::index_sequence<Is...>) const {
        if (size() != sizeof...(Ts)) {
            return make_error(errc::type_mismatch, "row has a different number of columns");
        }
        std::tuple<result<Ts>...> fields{get<Ts>(Is)...};
        std::optional<error> failure;
        auto keep_first_error = [&failure](const auto& field) {
            if (!failure && !field) {
                failure = field.error();
            }
        };
        (keep_first_error(std::get<Is>(fields)), ...);
        if (failure) {
            return tl::unexpected(std::move(*failure));
        }
        return std::tuple<Ts...>{std::move(*std::get<Is>(fields))...};
    }

    std::shared_ptr<const detail::result_data> data_;
    std::size_t row_;
};

/// Everything a statement produced. Movable, cheap to copy (shares the server's result).
/// Thread safety: a const query_result may be read from several threads.
class query_result {
  public:
    query_result() = default;
    explicit query_result(std::shared_ptr<const detail::result_data> data) noexcept;

    [[nodiscard]] std::size_t size() const noexcept;
    [[nodiscard]] bool empty() const noexcept { return size() == 0; }
    [[nodiscard]] std::size_t columns() const noexcept;
    [[nodiscard]] std::string_view column_name(std::size_t column) const noexcept;
    /// The format the fields came in.
    [[nodiscard]] row_format format() const noexcept;
    /// The column's type OID (pg_type.oid; 0 out of range, or for a result another library
    /// holds).
    [[nodiscard]] std::uint32_t column_type(std::size_t column) const noexcept;
    /// Rows inserted, updated, deleted or copied (the command tag's count; 0 when none).
    [[nodiscard]] std::uint64_t affected_rows() const noexcept;

    [[nodiscard]] row operator[](std::size_t index) const noexcept { return row{data_, index}; }
    /// The only row; not_found when there is none, invalid_argument when there are several.
    [[nodiscard]] result<row> one() const;
    /// The first field of the only row, decoded: `auto n = conn.execute("SELECT count(*) ...")
    /// .and_then(&query_result::scalar<int64_t>)`.
    template <sql_field T>
    [[nodiscard]] result<T> scalar() const {
        return one().and_then([](const row& r) { return r.get<T>(0); });
    }

    class iterator {
      public:
        using value_type = row;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        iterator(const query_result* owner, std::size_t index) : owner_(owner), index_(index) {}
        row operator*() const noexcept { return (*owner_)[index_]; }
        iterator& operator++() noexcept {
            ++index_;
            return *this;
        }
        iterator operator++(int) noexcept {
            auto copy = *this;
            ++index_;
            return copy;
        }
        friend bool operator==(const iterator&, const iterator&) = default;

      private:
        const query_result* owner_ = nullptr;
        std::size_t index_ = 0;
    };
    [[nodiscard]] iterator begin() const noexcept { return {this, 0}; }
    [[nodiscard]] iterator end() const noexcept { return {this, size()}; }

  private:
    friend class row;
    std::shared_ptr<const detail::result_data> data_;
};

namespace detail {

/// Field access for decoders that check a row's width once and then read every field (entity
/// decoding), for a query result's row and a row of COPY output (copy_row) alike: the fields'
/// texts read in one call, no per-field range checks. Internal.
struct row_fields {
    /// The bytes of the first out.size() fields of `r` (out.size() <= r.size()).
    template <class Row>
    static void read(const Row& r, std::span<std::optional<std::string_view>> out) noexcept {
        r.fields(out);
    }
    /// The column types of `r` when its fields are in binary format; empty for text (a row of
    /// COPY output always is).
    static std::span<const std::uint32_t> binary_column_types(const row& r) noexcept {
        return r.binary_column_types();
    }
    template <class Row>
    static std::span<const std::uint32_t> binary_column_types(const Row&) noexcept {
        return {};
    }
    /// Moves `r` to the next row of its result: a decoder that walks every row with one row
    /// shares the result once, instead of copying the shared pointer for each row.
    static void next(row& r) noexcept { ++r.row_; }
    /// `e`, the failure to decode field `column` of `r`, naming the column as r.get does.
    template <class Row>
    [[nodiscard]] static error with_column(const Row& r, error e, std::size_t column) {
        return r.with_column(std::move(e), column);
    }
};

}  // namespace detail

}  // namespace pgkit
