#include "pagination_bench/anomalies.hpp"

#include <unordered_map>
#include <unordered_set>

namespace pgkit::tools {

anomaly_count count_anomalies(const std::vector<std::string>& at_start,
                              const std::vector<std::string>& removed,
                              const std::vector<std::string>& returned) {
    anomaly_count out;
    std::unordered_map<std::string, std::uint64_t> seen;
    seen.reserve(returned.size());
    for (const auto& key : returned) {
        if (++seen[key] > 1) {
            ++out.duplicates;
        }
    }
    const std::unordered_set<std::string> gone(removed.begin(), removed.end());
    for (const auto& key : at_start) {
        if (!gone.contains(key) && !seen.contains(key)) {
            ++out.skips;
        }
    }
    return out;
}

}  // namespace pgkit::tools
