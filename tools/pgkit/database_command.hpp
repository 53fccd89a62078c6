#pragma once

// What the commands that work on the user's database (migrate, backfill) share: where to
// connect (--url, else DATABASE_URL or the PG* variables), a small pool, the exit code an error
// maps to, and how a failure is reported (stderr, and with --json one document on stdout).

#include "pgkit/error.hpp"
#include "pgkit/pool.hpp"

#include "command_registry.hpp"
#include "json_writer.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace pgkit::cli {

/// The options every database command takes.
struct database_args {
    std::string url;
    bool json = false;
};

/// Adds --url and --json to `cmd`.
void add_database_options(CLI::App& cmd, database_args& args);

/// A pool on --url or the environment, `connections` wide, its sessions named `application`.
[[nodiscard]] result<std::shared_ptr<pool>> open_database(const database_args& args,
                                                          std::string_view application,
                                                          std::size_t connections = 2);

/// bad_input for errors in what the user gave (an option, a file, a run or version that does
/// not exist), failure otherwise.
[[nodiscard]] int exit_code_for(const error& e) noexcept;

/// Writes `"error": {"code", "sqlstate", "message"}` into an open object.
void write_error(json_writer& out, const error& e);

/// Reports `e` for `command`: a line on stderr, and with --json a document on stdout
/// ({"command", "ok": false, "exit_code", "error": {"code", "sqlstate", "message"}}). Returns
/// the exit code.
int report_failure(const database_args& args, std::string_view command, const error& e);

/// A time as ISO 8601 in UTC (`2026-12-02T21:55:00Z`).
[[nodiscard]] std::string iso_time(std::chrono::system_clock::time_point t);

/// Starts the JSON document of a command that ran: {"command": ..., "ok": ok, "exit_code": ...
[[nodiscard]] json_writer begin_report(std::string_view command, bool ok, int exit_code);

}  // namespace pgkit::cli
