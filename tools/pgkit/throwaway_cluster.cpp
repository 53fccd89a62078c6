#include "throwaway_cluster.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

namespace pgkit::cli {

namespace {

/// The pg-server script: installed beside the binary's prefix, else the source tree's.
std::string find_script() {
    std::error_code ec;
    const auto exe = std::filesystem::canonical("/proc/self/exe", ec);
    if (!ec) {
        const auto installed = exe.parent_path().parent_path() / "libexec" / "pgkit" / "pg-server";
        if (std::filesystem::exists(installed, ec)) {
            return installed.string();
        }
    }
    return PGKIT_SOURCE_PG_SERVER;
}

/// 'text' for a POSIX shell.
std::string shell_quoted(std::string_view text) {
    std::string out = "'";
    for (char c : text) {
        out += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
    }
    return out + "'";
}

}  // namespace

result<std::unique_ptr<throwaway_cluster>> throwaway_cluster::start() {
    std::unique_ptr<throwaway_cluster> out{new throwaway_cluster};
    out->script_ = find_script();
    std::string state = (std::filesystem::temp_directory_path() / "pgkit-cli.XXXXXX").string();
    if (::mkdtemp(state.data()) == nullptr) {
        return make_error(errc::connection_failed, "cannot create a temporary directory");
    }
    out->state_ = state;
    const std::string command =
        fmt::format("{} start {} >{} 2>&1", shell_quoted(out->script_), shell_quoted(state),
                    shell_quoted(state + "/start.log"));
    if (std::system(command.c_str()) != 0) {
        return make_error(
            errc::connection_failed,
            fmt::format("could not start a throwaway cluster with {} (see {}/start.log)",
                        out->script_, state));
    }
    std::ifstream url_file{state + "/url"};
    std::getline(url_file, out->url_);
    if (out->url_.empty()) {
        return make_error(errc::connection_failed, "the throwaway cluster wrote no URL");
    }
    return out;
}

throwaway_cluster::~throwaway_cluster() {
    if (state_.empty()) {
        return;
    }
    // Also after a failed start: pg-server stop deletes whatever it had created.
    const std::string command =
        fmt::format("{} stop {} >/dev/null 2>&1", shell_quoted(script_), shell_quoted(state_));
    (void)std::system(command.c_str());
    std::error_code ec;
    std::filesystem::remove_all(state_, ec);
}

}  // namespace pgkit::cli
