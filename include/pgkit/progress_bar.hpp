#pragma once

/// A ready-made progress display for backfills: a live bar redrawn in place (`\r`) when the output
/// is a terminal, plain periodic lines otherwise (logs, CI).
///
/// ```cpp
/// pgkit::progress_bar bar;                       // stderr
/// auto report = pgkit::run_backfill(*pool, spec, {.on_progress = bar.callback()});
/// bar.finish();
/// ```

#include "pgkit/backfill.hpp"

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>

namespace pgkit {

struct progress_bar_options {
    /// Where to draw; must stay open while the bar is used.
    std::FILE* out = stderr;
    /// nullopt: live when `out` is a terminal (isatty), plain lines otherwise.
    std::optional<bool> live{};
    /// Plain mode: at most one line per interval (the first update always prints).
    std::chrono::milliseconds line_interval{std::chrono::seconds{5}};
    /// Live mode: characters of the bar itself.
    int width = 30;
};

/// Not thread-safe: feed it from the runner's thread (on_progress is called there).
class progress_bar {
  public:
    explicit progress_bar(progress_bar_options options = {});

    /// Draws (live) or prints a line when due (plain).
    void update(const backfill_progress& progress);
    /// Ends the live line with a newline, or prints the last state in plain mode.
    void finish();
    /// A callback for backfill_options::on_progress that updates this bar; the bar must outlive
    /// the run.
    [[nodiscard]] std::function<void(const backfill_progress&)> callback();

    [[nodiscard]] bool live() const noexcept { return live_; }
    /// The text of the last update (without `\r` or newline), for tests.
    [[nodiscard]] const std::string& last_text() const noexcept { return last_text_; }

    /// One line describing `progress`, e.g. "[#####     ] 50.0% 1000/2000 rows, 500 rows/s, ETA
    /// 2s" (live, with the bar) or "name: 1000/2000 rows (50.0%), 500 rows/s, ETA 2s".
    [[nodiscard]] static std::string format(const backfill_progress& progress,
                                            bool with_bar,
                                            int width);

  private:
    progress_bar_options options_;
    bool live_;
    bool printed_ = false;
    bool pending_ = false;
    std::chrono::steady_clock::time_point last_line_{};
    std::string last_text_;
};

}  // namespace pgkit
