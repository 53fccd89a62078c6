// The terminal progress display for backfills.
#include "pgkit/progress_bar.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace pgkit {

namespace {

std::string duration_text(std::chrono::seconds s) {
    const auto total = s.count();
    if (total >= 3600) {
        return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
    }
    if (total >= 60) {
        return fmt::format("{}m{:02}s", total / 60, total % 60);
    }
    return fmt::format("{}s", total);
}

}  // namespace

progress_bar::progress_bar(progress_bar_options options)
    : options_(options),
      live_(options.live.value_or(options.out != nullptr && ::isatty(::fileno(options.out)) != 0)) {
}

std::string progress_bar::format(const backfill_progress& progress, bool with_bar, int width) {
    const double total = static_cast<double>(std::max<std::uint64_t>(progress.estimated_total, 1));
    const double fraction = std::min(1.0, static_cast<double>(progress.rows_done) / total);
    const std::string eta = progress.eta ? ", ETA " + duration_text(*progress.eta) : "";
    if (with_bar) {
        const int filled = static_cast<int>(fraction * width);
        return fmt::format("[{}{}] {:5.1f}% {}/{} rows, {:.0f} rows/s{}",
                           std::string(static_cast<std::size_t>(filled), '#'),
                           std::string(static_cast<std::size_t>(width - filled), ' '),
                           fraction * 100, progress.rows_done, progress.estimated_total,
                           progress.rows_per_second, eta);
    }
    return fmt::format("{}: {}/{} rows ({:.1f}%), {} batches, {:.0f} rows/s{}", progress.name,
                       progress.rows_done, progress.estimated_total, fraction * 100,
                       progress.batches, progress.rows_per_second, eta);
}

void progress_bar::update(const backfill_progress& progress) {
    last_text_ = format(progress, live_, options_.width);
    if (options_.out == nullptr) {
        return;
    }
    if (live_) {
        std::fprintf(options_.out, "\r%s\x1b[K", last_text_.c_str());
        std::fflush(options_.out);
        printed_ = true;
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!printed_ || now - last_line_ >= options_.line_interval) {
        std::fprintf(options_.out, "%s\n", last_text_.c_str());
        std::fflush(options_.out);
        printed_ = true;
        pending_ = false;
        last_line_ = now;
    } else {
        pending_ = true;
    }
}

void progress_bar::finish() {
    if (options_.out == nullptr) {
        return;
    }
    if (live_ && printed_) {
        std::fputc('\n', options_.out);
    } else if (!live_ && pending_) {
        std::fprintf(options_.out, "%s\n", last_text_.c_str());
        pending_ = false;
    }
    std::fflush(options_.out);
}

std::function<void(const backfill_progress&)> progress_bar::callback() {
    return [this](const backfill_progress& progress) { update(progress); };
}

}  // namespace pgkit
