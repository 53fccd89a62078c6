// pgkit: the command-line tool. Each command group registers itself (command_registry.hpp);
// `pgkit --help` lists them.
#include "pgkit/version.hpp"

#include "command_registry.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{
        "pgkit: tools for PostgreSQL applications built on pgkit.\n"
        "Exit codes: 0 success, 1 failure, 2 usage or bad input, 3 findings (the command ran and "
        "found something that needs attention: failed VERIFY, a problem in a status, lint "
        "findings).",
        "pgkit"};
    app.set_version_flag("--version", std::string{PGKIT_VERSION_STRING});
    app.require_subcommand(1);
    int code = pgkit::cli::success;
    for (auto adder : pgkit::cli::registered_commands()) {
        adder(app, code);
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int printed = app.exit(e);
        return printed == 0 ? pgkit::cli::success : pgkit::cli::bad_input;
    }
    return code;
}
