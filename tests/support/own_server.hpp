#pragma once

// A cluster of a test's own, for cases that restart the server: started with scripts/pg-server
// in a temporary directory, never the shared test server, which other cases use in parallel.
// Needs the compile definition PGKIT_SOURCE_DIR.

#include <fmt/format.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgkit::test {

/// A throwaway cluster started in a temporary directory, stopped and removed on destruction.
class own_server {
  public:
    own_server() {
        const std::filesystem::path root{PGKIT_SOURCE_DIR};  // compile definition
        script_ = root / "scripts" / "pg-server";
        if (!std::filesystem::exists(script_)) {
            throw std::runtime_error("cannot find scripts/pg-server in " + root.string());
        }
        char pattern[] = "/tmp/pgkit-own-server.XXXXXX";
        if (::mkdtemp(pattern) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        state_ = pattern;
        run("start");
        std::ifstream in{state_ / "url"};
        std::getline(in, url_);
        if (url_.empty()) {
            throw std::runtime_error("pg-server wrote no URL");
        }
    }
    ~own_server() {
        try {
            run("stop");
        } catch (...) {
        }
        std::error_code ignored;
        std::filesystem::remove_all(state_, ignored);
    }
    own_server(const own_server&) = delete;
    own_server& operator=(const own_server&) = delete;

    void restart() { run("restart"); }
    [[nodiscard]] const std::string& url() const { return url_; }

  private:
    void run(std::string_view command) {
        const std::string line = fmt::format("'{}' {} '{}' > '{}/{}.log' 2>&1", script_.string(),
                                             command, state_.string(), state_.string(), command);
        if (std::system(line.c_str()) != 0) {
            throw std::runtime_error(fmt::format("pg-server {} failed", command));
        }
    }

    std::filesystem::path script_;
    std::filesystem::path state_;
    std::string url_;
};

}  // namespace pgkit::test
