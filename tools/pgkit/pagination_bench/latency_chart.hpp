#pragma once

// `pgkit bench pagination --chart FILE.svg`: median page latency against depth, one line per
// measured strategy, drawn by gnuplot (svg terminal).

#include "pgkit/error.hpp"

#include "pagination_bench/pagination_bench.hpp"

#include <string>

namespace pgkit::tools {

/// The gnuplot script (data inline) that draws `report` into `svg_path`.
[[nodiscard]] std::string latency_chart_script(const bench_report& report,
                                               const std::string& svg_path);

/// Runs gnuplot on latency_chart_script(): internal naming the problem when gnuplot is missing
/// or fails.
[[nodiscard]] result<void> write_latency_chart(const bench_report& report,
                                               const std::string& svg_path);

}  // namespace pgkit::tools
