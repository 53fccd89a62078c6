#pragma once

// Reading pgbench's report, for the benchmarks that run pgbench beside pgkit (header-only).

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace pgkit::bench {

/// The figure of pgbench's "tps = N (without initial connection time)" line.
inline std::optional<double> pgbench_tps(const std::string& output) {
    constexpr std::string_view prefix = "tps = ";
    constexpr std::string_view suffix = " (without initial connection time)";
    for (std::size_t at = output.find(prefix); at != std::string::npos;
         at = output.find(prefix, at + 1)) {
        const char* first = output.data() + at + prefix.size();
        const char* last = output.data() + output.size();
        double tps = 0;
        const auto [end, ec] = std::from_chars(first, last, tps);
        if (ec == std::errc{} &&
            std::string_view{end, static_cast<std::size_t>(last - end)}.starts_with(suffix)) {
            return tps;
        }
    }
    return std::nullopt;
}

}  // namespace pgkit::bench
