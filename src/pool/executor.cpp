#include "pgkit/detail/executor.hpp"

#include <utility>

namespace pgkit::detail {

result<query_result> executor::run(std::string_view sql,
                                   const parameters& params,
                                   bool cached) const {
    return execute(false, sql, params, cached);
}

result<query_result> executor::run_rows(std::string_view sql,
                                        const parameters& params,
                                        binary_rows_filter binary) const {
    return execute(false, sql, params, true, binary);
}

result<query_result> executor::read_rows(std::string_view sql,
                                         const parameters& params,
                                         binary_rows_filter binary) const {
    return execute(true, sql, params, true, binary);
}

result<query_result> executor::read(std::string_view sql,
                                    const parameters& params,
                                    bool cached) const {
    return execute(true, sql, params, cached);
}

result<query_result> executor::execute(bool read_only,
                                       std::string_view sql,
                                       const parameters& params,
                                       bool cached,
                                       binary_rows_filter binary) const {
    if (params.encoding_error()) {
        return tl::unexpected(*params.encoding_error());
    }
    if (runner_.run != nullptr) {
        return runner_.run(runner_.target, sql, params, cached);
    }
    if (tx_ != nullptr) {
        return cached ? tx_->execute_cached_params(sql, params, binary)
                      : tx_->execute_params(sql, params);
    }
    if (!pool_) {
        return make_error(errc::invalid_argument, "no pool to run the statement on");
    }
    auto leased = read_only ? pool_->acquire_read(read_) : pool_->acquire();
    if (!leased) {
        return tl::unexpected(std::move(leased).error());
    }
    if (cached) {
        return leased->execute_cached_params(sql, params, binary);
    }
    return (*leased)->execute_params(sql, params);
}

result<std::pair<result<query_result>, result<query_result>>> executor::read_pair(
    std::string_view first,
    const parameters& first_params,
    std::string_view second,
    const parameters& second_params) const {
    for (const parameters* params : {&first_params, &second_params}) {
        if (params->encoding_error()) {
            return tl::unexpected(*params->encoding_error());
        }
    }
    auto both = [&](pipeline& p) -> result<std::pair<result<query_result>, result<query_result>>> {
        if (auto added = p.add_cached_params(first, first_params); !added) {
            return tl::unexpected(std::move(added).error());
        }
        if (auto added = p.add_cached_params(second, second_params); !added) {
            return tl::unexpected(std::move(added).error());
        }
        auto one = p.next();
        auto two = p.next();
        (void)p.finish();  // each statement's error is in its own result
        return std::pair{std::move(one), std::move(two)};
    };
    if (runner_.run != nullptr) {
        auto one = runner_.run(runner_.target, first, first_params, true);
        auto two = runner_.run(runner_.target, second, second_params, true);
        return std::pair{std::move(one), std::move(two)};
    }
    if (tx_ != nullptr) {
        auto p = tx_->start_pipeline();
        if (!p) {
            return tl::unexpected(std::move(p).error());
        }
        return both(*p);
    }
    if (!pool_) {
        return make_error(errc::invalid_argument, "no pool to run the statements on");
    }
    auto leased = pool_->acquire_read(read_);
    if (!leased) {
        return tl::unexpected(std::move(leased).error());
    }
    auto p = leased->start_pipeline();
    if (!p) {
        return tl::unexpected(std::move(p).error());
    }
    return both(*p);
}

}  // namespace pgkit::detail
