#pragma once

// Counting what a walk over pages got wrong while rows were inserted and deleted under it: rows
// returned twice and rows that existed throughout the walk but were never returned.

#include <cstdint>
#include <string>
#include <vector>

namespace pgkit::tools {

struct anomaly_count {
    std::uint64_t duplicates = 0;  ///< returns of a row beyond its first
    std::uint64_t skips = 0;       ///< rows present throughout the walk, never returned
    [[nodiscard]] std::uint64_t total() const noexcept { return duplicates + skips; }
};

/// `at_start`: the rows' keys when the walk began; `removed`: keys deleted while it ran (a key
/// may be one inserted during the walk); `returned`: every key the walk returned, in order.
/// Rows inserted during the walk may be returned or not without counting as anomalies, and so
/// may rows deleted during it.
[[nodiscard]] anomaly_count count_anomalies(const std::vector<std::string>& at_start,
                                            const std::vector<std::string>& removed,
                                            const std::vector<std::string>& returned);

}  // namespace pgkit::tools
