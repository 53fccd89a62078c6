#pragma once

// How the `pgkit` command line is put together: each command group (bench_pagination.cpp,
// later migrate and backfill) is a file that registers a function adding its subcommands, so a
// new group is a new file and one line in CMakeLists.txt.
//
// Exit codes (every command): 0 success; 1 failure (the server or the measurement failed, a
// migration failed); 2 usage or bad input (unknown option, unknown table or column, malformed
// ordering or migration file, a run or version that does not exist); 3 findings: the command
// ran, and what it found needs attention (a VERIFY that fails, a status with changed, partial
// or missing migrations or a failed backfill, unacknowledged lint findings). Nothing is written
// before the input has been checked.

#include <CLI/CLI.hpp>

#include <string_view>
#include <vector>

namespace pgkit::cli {

enum exit_code : int { success = 0, failure = 1, bad_input = 2, findings = 3 };

/// Adds a group's subcommands to `app`; their callbacks set `code`.
using command_adder = void (*)(CLI::App& app, int& code);

/// The adders registered so far, in registration order.
[[nodiscard]] std::vector<command_adder>& registered_commands();

/// A static object of this type registers a command group.
struct command_registration {
    explicit command_registration(command_adder adder);
};

/// The subcommand `name` of `app`, created with `description` when it does not exist yet (so
/// groups share `pgkit bench`).
[[nodiscard]] CLI::App& subcommand_group(CLI::App& app,
                                         const std::string& name,
                                         const std::string& description);

}  // namespace pgkit::cli
