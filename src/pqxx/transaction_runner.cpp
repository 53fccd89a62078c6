// repository::in(pqxx_tx): pgkit's statements run through libpqxx, inside the caller's
// transaction (pgkit/pqxx.hpp).

#include "pgkit/pqxx.hpp"

#include "driver/pq_session.hpp"
#include "driver/pqxx_adapter.hpp"
#include "pqxx/compat.hpp"
#include "pqxx/statement_names.hpp"

#include <pqxx/result>

#include <charconv>
#include <memory>
#include <optional>
#include <utility>

namespace pgkit {
namespace detail {
namespace {

/// A pqxx::result read as a query_result.
class pqxx_rows final : public foreign_rows {
  public:
    explicit pqxx_rows(pqxx::result rows) noexcept : rows_(std::move(rows)) {}

    std::optional<std::string_view> text(std::size_t row,
                                         std::size_t column) const noexcept override {
        const auto field = rows_[static_cast<pqxx::result::size_type>(row)]
                                [static_cast<pqxx::row::size_type>(column)];
        if (field.is_null()) {
            return std::nullopt;
        }
        return std::string_view{field.c_str(), field.size()};
    }

    std::string_view column_name(std::size_t column) const noexcept override {
        try {
            const char* name = rows_.column_name(static_cast<pqxx::row::size_type>(column));
            return name != nullptr ? std::string_view{name} : std::string_view{};
        } catch (...) {
            return {};
        }
    }

    std::uint64_t affected_rows() const noexcept override {
        try {
            return static_cast<std::uint64_t>(rows_.affected_rows());
        } catch (...) {
            return 0;
        }
    }

  private:
    pqxx::result rows_;
};

result<query_result> run_in_pqxx(void* target,
                                 std::string_view sql,
                                 const parameters& params,
                                 bool cached) {
    auto& tx = *static_cast<pqxx::transaction_base*>(target);
    try {
        pqxx_connection& conn = tx.conn();
        std::optional<pqxx_statements::use> how;
        if (cached) {
            how = pqxx_statements::lookup(&conn, conn.backendpid(), sql);
        }
        pqxx::result rows;
        if (how) {
            if (how->prepare) {
                // Prepared statements outlive the transaction (they are not transactional), so
                // the next transaction on this session finds it.
                conn.prepare(how->name, std::string{sql});
                pqxx_statements::prepared(&conn, conn.backendpid(), how->name, sql);
            }
            rows = pqxx_compat::exec_prepared(tx, how->name, params);
        } else {
            rows = pqxx_compat::exec_params(tx, sql, params);
        }
        const auto height = static_cast<std::size_t>(rows.size());
        const auto width = static_cast<std::size_t>(rows.columns());
        return query_result{std::make_shared<const result_data>(
            std::make_unique<const pqxx_rows>(std::move(rows)), height, width)};
    } catch (...) {
        return tl::unexpected(error_from_current_exception().with_in_transaction(true));
    }
}

}  // namespace

foreign_runner pqxx_runner(pqxx::transaction_base& tx) noexcept {
    return foreign_runner{&tx, &run_in_pqxx};
}

}  // namespace detail

error error_from_pqxx_exception() noexcept {
    return detail::error_from_current_exception();
}

void forget_pqxx_statements(const pqxx_connection& conn) noexcept {
    detail::pqxx_statements::forget(&conn);
}

}  // namespace pgkit
