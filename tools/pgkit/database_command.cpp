#include "database_command.hpp"

#include "pgkit/connection_options.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <iostream>

namespace pgkit::cli {

void add_database_options(CLI::App& cmd, database_args& args) {
    cmd.add_option("--url", args.url,
                   "postgresql:// URL or conninfo (default: DATABASE_URL or the PG* variables)");
    cmd.add_flag("--json", args.json,
                 "print one JSON document on stdout (progress and messages stay on stderr)");
}

result<std::shared_ptr<pool>> open_database(const database_args& args,
                                            std::string_view application,
                                            std::size_t connections) {
    auto connection = args.url.empty() ? connection_options::from_environment()
                                       : connection_options::parse(args.url);
    if (!connection) {
        return tl::unexpected(connection.error());
    }
    pool_options options;
    options.connection = std::move(*connection);
    options.connection.application_name = std::string{application};
    options.max_size = connections;
    return pool::create(std::move(options));
}

int exit_code_for(const error& e) noexcept {
    return e.code() == errc::invalid_argument || e.code() == errc::migration_source_invalid ||
                   e.code() == errc::not_found
               ? bad_input
               : failure;
}

void write_error(json_writer& out, const error& e) {
    out.key("error")
        .begin_object()
        .key("code")
        .value(to_string(e.code()))
        .key("sqlstate")
        .value(e.sqlstate())
        .key("message")
        .value(e.message())
        .end_object();
}

std::string iso_time(std::chrono::system_clock::time_point t) {
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(t)));
}

int report_failure(const database_args& args, std::string_view command, const error& e) {
    const int code = exit_code_for(e);
    std::cerr << "pgkit " << command << ": " << e.message() << '\n';
    if (args.json) {
        json_writer out = begin_report(command, false, code);
        write_error(out, e);
        out.end_object();
        std::cout << out.str();
    }
    return code;
}

json_writer begin_report(std::string_view command, bool ok, int exit_code) {
    json_writer out;
    out.begin_object()
        .key("command")
        .value(command)
        .key("ok")
        .value(ok)
        .key("exit_code")
        .value(exit_code);
    return out;
}

}  // namespace pgkit::cli
