#include "pgkit/detail/executor.hpp"

#include <utility>

namespace pgkit::detail {

result<query_result> executor::run(std::string_view sql,
                                   const parameters& params,
                                   bool cached) const {
    return execute(false, sql, params, cached);
}

result<query_result> executor::read(std::string_view sql,
                                    const parameters& params,
                                    bool cached) const {
    return execute(true, sql, params, cached);
}

result<query_result> executor::execute(bool read_only,
                                       std::string_view sql,
                                       const parameters& params,
                                       bool cached) const {
    if (params.encoding_error()) {
        return tl::unexpected(*params.encoding_error());
    }
    if (tx_ != nullptr) {
        return cached ? tx_->execute_cached_params(sql, params) : tx_->execute_params(sql, params);
    }
    if (!pool_) {
        return make_error(errc::invalid_argument, "no pool to run the statement on");
    }
    auto leased = read_only ? pool_->acquire_read(read_) : pool_->acquire();
    if (!leased) {
        return tl::unexpected(std::move(leased).error());
    }
    if (cached) {
        return leased->execute_cached_params(sql, params);
    }
    return (*leased)->execute_params(sql, params);
}

}  // namespace pgkit::detail
