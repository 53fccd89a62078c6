#include "pagination_bench/concurrent_writer.hpp"

#include "pgkit/detail/executor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace pgkit::tools {

namespace {

bool integer_type(const std::string& type) {
    return type == "bigint" || type == "integer" || type == "smallint";
}

}  // namespace

concurrent_writer::concurrent_writer(std::shared_ptr<pool> writes, const table_model& model)
    : pool_(std::move(writes)) {
    const auto& s = model.sql;
    const std::size_t key = model.key[0];
    std::string copied;
    for (std::size_t c = 0; c < s.quoted_columns.size(); ++c) {
        copied += c == 0 ? "" : ", ";
        copied += c == key ? fmt::format("$1::{}", s.column_types[c]) : s.quoted_columns[c];
    }
    insert_sql_ = fmt::format("INSERT INTO {} ({}) SELECT {} FROM {} WHERE {} = $2::{}",
                              s.qualified_table, s.select_list, copied, s.qualified_table,
                              s.quoted_columns[key], s.column_types[key]);
    delete_sql_ = fmt::format("DELETE FROM {} WHERE {} = $1::{}", s.qualified_table,
                              s.quoted_columns[key], s.column_types[key]);
}

result<std::unique_ptr<concurrent_writer>> concurrent_writer::create(std::shared_ptr<pool> writes,
                                                                     const table_model& model,
                                                                     std::vector<std::string> live,
                                                                     std::uint64_t seed) {
    if (model.key.size() != 1 || !integer_type(model.types[model.key[0]])) {
        return make_error(
            errc::invalid_argument,
            "the concurrent-write test needs a table whose key is one integer column");
    }
    if (live.empty()) {
        return make_error(errc::invalid_argument, "the concurrent-write test needs rows to write");
    }
    std::unique_ptr<concurrent_writer> out{new concurrent_writer(std::move(writes), model)};
    for (const auto& key : live) {
        std::int64_t value = 0;
        std::from_chars(key.data(), key.data() + key.size(), value);
        out->next_key_ = std::max(out->next_key_, value + 1);
    }
    out->live_ = std::move(live);
    out->random_.seed(seed);
    return out;
}

concurrent_writer::~concurrent_writer() {
    (void)stop();
}

result<void> concurrent_writer::write_once() {
    if (live_.empty()) {
        return {};
    }
    std::uniform_int_distribution<std::size_t> pick(0, live_.size() - 1);
    const std::size_t at = pick(random_);
    if (writes_.load() % 2 == 0) {
        const std::string key = fmt::format("{}", next_key_++);
        auto inserted = detail::executor{pool_}.run(insert_sql_, parameters{key, live_[at]});
        if (!inserted) {
            return tl::unexpected(std::move(inserted).error());
        }
        live_.push_back(key);
    } else {
        auto deleted = detail::executor{pool_}.run(delete_sql_, parameters{live_[at]});
        if (!deleted) {
            return tl::unexpected(std::move(deleted).error());
        }
        removed_.push_back(live_[at]);
        live_[at] = std::move(live_.back());
        live_.pop_back();
    }
    ++writes_;
    return {};
}

void concurrent_writer::start(double per_second) {
    stopping_ = false;
    thread_ = std::thread([this, per_second] {
        const auto interval = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(1.0 / std::max(per_second, 0.001)));
        auto due = std::chrono::steady_clock::now();
        while (!stopping_.load()) {
            if (auto written = write_once(); !written) {
                failure_ = written.error();
                return;
            }
            // Pacing to the rate (not synchronisation): the next write is due one interval on.
            due += interval;
            std::this_thread::sleep_until(due);
        }
    });
}

result<void> concurrent_writer::stop() {
    stopping_ = true;
    if (thread_.joinable()) {
        thread_.join();
    }
    if (failure_) {
        return tl::unexpected(*failure_);
    }
    return {};
}

}  // namespace pgkit::tools
