#pragma once

// libpq's `options` connection parameter, read the way the server reads it (private). The
// server splits the value into arguments with pg_split_opts: blanks separate arguments, and a
// backslash makes the next byte part of the argument whatever it is. pgkit never concatenates
// raw text into it: the caller's value is split into its arguments, and every argument pgkit
// adds (`-c name=value`) is escaped so that it comes back as exactly one argument. A value that
// contains a blank of any kind, or ends in a backslash, can therefore neither start a `-c` of its
// own nor swallow the next one.

#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail {

/// The arguments of an `options` value, as the server splits them (a trailing lone backslash
/// escapes nothing and is dropped, as the server drops it; no argument is empty).
[[nodiscard]] std::vector<std::string> split_startup_options(std::string_view options);

/// Appends `argument` (after a blank when `options` is not empty), escaped so that the server
/// reads it back as exactly this one argument.
void append_startup_argument(std::string& options, std::string_view argument);

/// The arguments joined into one `options` value: split_startup_options' inverse.
[[nodiscard]] std::string join_startup_options(const std::vector<std::string>& arguments);

/// Appends `-c name=value`.
void append_startup_setting(std::string& options, std::string_view name, std::string_view value);

}  // namespace pgkit::detail
