#include "pagination_bench/latency_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

namespace pgkit::tools {

namespace {

/// 'text' for gnuplot: single quotes doubled, underscores not taken as subscripts.
std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        if (c == '\'') {
            out += "''";
        } else if (c == '_') {
            out += "\\_";
        } else {
            out += c;
        }
    }
    return out + "'";
}

}  // namespace

std::string latency_chart_script(const bench_report& report, const std::string& svg_path) {
    std::string script = "set terminal svg size 800,450 dynamic font 'sans,11'\n";
    script += fmt::format("set output {}\n", quoted(svg_path));
    script += fmt::format(
        "set title {}\n",
        quoted(fmt::format("{}: {} rows, {} a page", report.table, report.rows, report.page_size)));
    script +=
        "set logscale x\nset xlabel 'first row of the page (log)'\n"
        "set ylabel 'median page latency (ms)'\nset key top left\nset grid\n";
    std::string plot;
    std::size_t block = 0;
    for (const auto& r : report.strategies) {
        if (!r.skipped.empty() || r.depths.empty()) {
            continue;
        }
        script += fmt::format("$s{} << EOD\n", block);
        for (const auto& d : r.depths) {
            script += fmt::format("{} {}\n", std::max<std::uint64_t>(d.start_row, 1), d.median_ms);
        }
        script += "EOD\n";
        plot += fmt::format("{}$s{} using 1:2 with linespoints lw 2 pt 7 title {}",
                            plot.empty() ? "plot " : ", ", block,
                            quoted(std::string{name_of(r.which)}));
        ++block;
    }
    return script + plot + "\n";
}

result<void> write_latency_chart(const bench_report& report, const std::string& svg_path) {
    const std::string script = latency_chart_script(report, svg_path);
    std::FILE* gnuplot = ::popen("gnuplot 2>&1", "w");
    if (gnuplot == nullptr) {
        return make_error(errc::internal, "--chart: cannot run gnuplot");
    }
    const bool written = std::fwrite(script.data(), 1, script.size(), gnuplot) == script.size();
    const int status = ::pclose(gnuplot);
    if (!written || status != 0) {
        return make_error(
            errc::internal,
            fmt::format("--chart: gnuplot failed (is it installed?) drawing {}", svg_path));
    }
    return {};
}

}  // namespace pgkit::tools
