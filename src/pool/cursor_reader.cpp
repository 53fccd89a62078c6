#include "pgkit/detail/cursor_reader.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <utility>

namespace pgkit::detail {

result<cursor_reader> cursor_reader::open(const executor& exec,
                                          std::string_view select_sql,
                                          const parameters& params,
                                          std::size_t chunk) {
    static std::atomic<std::uint64_t> next_id{1};
    cursor_reader reader;
    reader.name_ = fmt::format("pgkit_cursor_{}", next_id.fetch_add(1));
    reader.fetch_ = fmt::format("FETCH FORWARD {} FROM {}", chunk, reader.name_);
    if (params.encoding_error()) {
        return tl::unexpected(*params.encoding_error());
    }
    if (exec.tx() != nullptr) {
        reader.tx_ = exec.tx();
    } else {
        if (!exec.owner()) {
            return make_error(errc::invalid_argument, "no pool to lease a connection from");
        }
        // A cursor only reads: a replica may serve it (pool::acquire_read).
        auto leased = exec.owner()->acquire_read(exec.reads());
        if (!leased) {
            return tl::unexpected(std::move(leased).error());
        }
        reader.lease_.emplace(std::move(*leased));
        auto begun = reader.run("BEGIN", parameters{});
        if (!begun) {
            return tl::unexpected(std::move(begun).error());
        }
    }
    auto declared = reader.run(
        fmt::format("DECLARE {} NO SCROLL CURSOR FOR {}", reader.name_, select_sql), params);
    if (!declared) {
        return tl::unexpected(std::move(declared).error());
    }
    reader.open_ = true;
    return reader;
}

cursor_reader::cursor_reader(cursor_reader&& other) noexcept
    : lease_(std::move(other.lease_)),
      tx_(other.tx_),
      name_(std::move(other.name_)),
      fetch_(std::move(other.fetch_)),
      open_(std::exchange(other.open_, false)) {
    other.lease_.reset();
    other.tx_ = nullptr;
}

cursor_reader& cursor_reader::operator=(cursor_reader&& other) noexcept {
    if (this != &other) {
        lease_ = std::move(other.lease_);
        other.lease_.reset();
        tx_ = std::exchange(other.tx_, nullptr);
        name_ = std::move(other.name_);
        fetch_ = std::move(other.fetch_);
        open_ = std::exchange(other.open_, false);
    }
    return *this;
}

cursor_reader::~cursor_reader() {
    if (open_ && tx_ != nullptr) {
        (void)tx_->execute_params("CLOSE " + name_, parameters{});
    }
    // A lease of our own rolls back its open transaction when it goes back to the pool.
}

result<query_result> cursor_reader::run(std::string_view sql, const parameters& params) {
    if (tx_ != nullptr) {
        return tx_->execute_params(sql, params);
    }
    return (*lease_)->execute_params(sql, params);
}

result<query_result> cursor_reader::next() {
    if (!open_) {
        return query_result{};
    }
    return run(fetch_, parameters{});
}

result<std::uint64_t> cursor_reader::skip(std::uint64_t rows) {
    if (!open_ || rows == 0) {
        return 0;
    }
    auto moved = run(fmt::format("MOVE FORWARD {} IN {}", rows, name_), parameters{});
    if (!moved) {
        return tl::unexpected(std::move(moved).error());
    }
    return moved->affected_rows();
}

result<void> cursor_reader::close() {
    if (!open_) {
        return {};
    }
    open_ = false;
    auto closed = run("CLOSE " + name_, parameters{});
    if (!closed) {
        return tl::unexpected(std::move(closed).error());
    }
    if (lease_) {
        auto committed = run("COMMIT", parameters{});
        if (!committed) {
            return tl::unexpected(std::move(committed).error());
        }
    }
    return {};
}

}  // namespace pgkit::detail
