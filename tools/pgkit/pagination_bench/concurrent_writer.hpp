#pragma once

// The writer of the anomaly test: inserts and deletes rows at random positions of a table's
// ordering while a walk pages through it. An insert copies a random live row under a new key
// (so it lands beside that row in any ordering); a delete removes a random live row. Only ever
// used on a generated table or a scratch copy.

#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"

#include "pagination_bench/table_model.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace pgkit::tools {

class concurrent_writer {
  public:
    /// `live`: the keys of the table's rows now. invalid_argument unless the key is a single
    /// integer column (new keys are numbers past the largest).
    [[nodiscard]] static result<std::unique_ptr<concurrent_writer>> create(
        std::shared_ptr<pool> writes,
        const table_model& model,
        std::vector<std::string> live,
        std::uint64_t seed);
    ~concurrent_writer();
    concurrent_writer(const concurrent_writer&) = delete;
    concurrent_writer& operator=(const concurrent_writer&) = delete;

    /// One write, from the calling thread: an insert and a delete in turn.
    [[nodiscard]] result<void> write_once();
    /// Writes `per_second` times a second on a thread of its own until stop().
    void start(double per_second);
    /// Stops the thread; its first error, if any.
    [[nodiscard]] result<void> stop();

    /// Keys deleted so far (read after stop()).
    [[nodiscard]] const std::vector<std::string>& removed() const noexcept { return removed_; }
    [[nodiscard]] std::uint64_t writes() const noexcept { return writes_.load(); }

  private:
    concurrent_writer(std::shared_ptr<pool> writes, const table_model& model);

    std::shared_ptr<pool> pool_;
    std::string insert_sql_;
    std::string delete_sql_;
    std::vector<std::string> live_;
    std::vector<std::string> removed_;
    std::int64_t next_key_ = 0;
    std::mt19937_64 random_;
    std::atomic<std::uint64_t> writes_{0};
    std::atomic<bool> stopping_{false};
    std::optional<error> failure_;
    std::thread thread_;
};

}  // namespace pgkit::tools
