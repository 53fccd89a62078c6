#include "pgkit/detail/copy_session.hpp"

#include <utility>

namespace pgkit::detail {

result<std::uint64_t> copy_out_rows(const executor& exec,
                                    std::string_view select_sql,
                                    const parameters& params,
                                    const copy_row_sink& sink) {
    if (exec.tx() != nullptr) {
        return exec.tx()->conn().copy_out(select_sql, params, sink);
    }
    if (!exec.owner()) {
        return make_error(errc::invalid_argument, "no pool to lease a connection from");
    }
    // COPY TO only reads: a replica may serve it.
    auto leased = exec.owner()->acquire_read(exec.reads());
    if (!leased) {
        return tl::unexpected(std::move(leased).error());
    }
    return (*leased)->copy_out(select_sql, params, sink);
}

result<copy_session> copy_session::open(const executor& exec,
                                        std::string_view schema,
                                        std::string_view table,
                                        std::span<const std::string> columns) {
    copy_session session;
    connection* conn = nullptr;
    if (exec.tx() != nullptr) {
        conn = &exec.tx()->conn();
    } else {
        if (!exec.owner()) {
            return make_error(errc::invalid_argument, "no pool to lease a connection from");
        }
        auto leased = exec.owner()->acquire();
        if (!leased) {
            return tl::unexpected(std::move(leased).error());
        }
        session.lease_.emplace(std::move(*leased));
        conn = &session.lease_->get();
    }
    auto writer = conn->copy_in(schema, table, columns);
    if (!writer) {
        return tl::unexpected(std::move(writer).error());
    }
    session.writer_.emplace(std::move(*writer));
    return session;
}

}  // namespace pgkit::detail
