#pragma once

// A throwaway PostgreSQL cluster for commands run without a database (the embedded default of
// `pgkit bench pagination`): started with pgkit's scripts/pg-server (installed as
// libexec/pgkit/pg-server) and stopped, data deleted, on destruction.

#include "pgkit/error.hpp"

#include <memory>
#include <string>

namespace pgkit::cli {

class throwaway_cluster {
  public:
    /// initdb and start (a few seconds); connection_failed naming the script when it fails.
    [[nodiscard]] static result<std::unique_ptr<throwaway_cluster>> start();
    ~throwaway_cluster();
    throwaway_cluster(const throwaway_cluster&) = delete;
    throwaway_cluster& operator=(const throwaway_cluster&) = delete;

    [[nodiscard]] const std::string& url() const noexcept { return url_; }

  private:
    throwaway_cluster() = default;
    std::string script_;
    std::string state_;
    std::string url_;
};

}  // namespace pgkit::cli
