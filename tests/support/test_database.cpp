#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string_view>

namespace pgkit::test {
namespace {

const char* environment(const char* variable) {
    const char* value = std::getenv(variable);
    return value != nullptr && *value != 0 ? value : nullptr;
}

/// The URL in `url_variable`, else the first line of the file `file_variable` names.
std::string read_url(const char* url_variable, const char* file_variable) {
    if (const char* url = environment(url_variable)) {
        return url;
    }
    const char* file = environment(file_variable);
    if (file == nullptr) {
        throw std::runtime_error(
            fmt::format("no test server: run the tests through ctest (which starts one), or set {}",
                        url_variable));
    }
    std::ifstream in{file};
    std::string url;
    if (!std::getline(in, url) || url.empty()) {
        throw std::runtime_error(fmt::format("no test server: {} is missing or empty", file));
    }
    return url;
}

connection_options parse_url(const std::string& url) {
    auto options = connection_options::parse(url);
    if (!options) {
        throw std::runtime_error("test server URL is malformed: " + options.error().message());
    }
    options->application_name = "pgkit-tests";
    return *options;
}

std::string unique_schema_name() {
    static std::atomic<unsigned> counter{0};
    std::random_device entropy;
    return fmt::format("pgkit_test_{}_{}_{:08x}", ::getpid(), counter++, entropy());
}

void run_or_throw(connection& conn, const std::string& sql, std::string_view what) {
    auto done = conn.execute_script(sql);
    if (!done) {
        throw std::runtime_error(fmt::format("cannot {}: {}", what, done.error().to_string()));
    }
}

}  // namespace

pooler_mode test_pooler_mode() {
    const char* value = environment("PGKIT_TEST_POOLER");
    if (value == nullptr || std::string_view{value} == "none") {
        return pooler_mode::none;
    }
    if (std::string_view{value} == "transaction") {
        return pooler_mode::transaction;
    }
    throw std::runtime_error(
        fmt::format("PGKIT_TEST_POOLER={} is not understood (transaction, none or unset)", value));
}

bool behind_transaction_pooler() {
    return test_pooler_mode() == pooler_mode::transaction;
}

std::string server_url() {
    return read_url("PGKIT_TEST_DATABASE_URL", "PGKIT_TEST_URL_FILE");
}

connection_options server_options() {
    auto options = parse_url(read_url("PGKIT_TEST_DATABASE_URL", "PGKIT_TEST_URL_FILE"));
    options.pooler = test_pooler_mode();
    return options;
}

connection_options direct_server_options() {
    if (!behind_transaction_pooler()) {
        return server_options();
    }
    return parse_url(read_url("PGKIT_TEST_DIRECT_DATABASE_URL", "PGKIT_TEST_DIRECT_URL_FILE"));
}

connection connect_to_server() {
    auto conn = connection::open(server_options());
    if (!conn) {
        throw std::runtime_error("cannot connect to the test server: " + conn.error().to_string());
    }
    return std::move(*conn);
}

connection connect_directly() {
    auto conn = connection::open(direct_server_options());
    if (!conn) {
        throw std::runtime_error("cannot connect to the test server: " + conn.error().to_string());
    }
    return std::move(*conn);
}

scratch_schema::scratch_schema() : name_(unique_schema_name()) {
    auto conn = connect_directly();
    if (!behind_transaction_pooler()) {
        run_or_throw(conn, "CREATE SCHEMA " + name_, "create test schema");
        return;
    }
    // A role per schema, because a role's settings are the one way to give every server
    // session the pooler picks this search_path. SUPERUSER: the cluster is a throwaway, and the
    // suites were written for the superuser the direct run connects as (they create schemas,
    // use schemas other cases' roles made, terminate and inspect other sessions), so the run
    // through the pooler differs from the direct one in the pooler only.
    run_or_throw(conn,
                 fmt::format("CREATE ROLE {0} LOGIN SUPERUSER; "
                             "ALTER ROLE {0} SET search_path = {0}, public; "
                             "CREATE SCHEMA {0} AUTHORIZATION {0}",
                             name_),
                 "create test schema and role");
}

scratch_schema::~scratch_schema() {
    auto conn = connection::open(direct_server_options());
    if (!conn) {
        return;
    }
    if (behind_transaction_pooler()) {
        // The pooler keeps the role's server sessions after the test's clients have gone; end
        // them, so a run of many cases does not pile up idle sessions of dropped roles.
        (void)conn->execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name_);
    }
    (void)conn->execute_script("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
    if (behind_transaction_pooler()) {
        (void)conn->execute_script(fmt::format("DROP OWNED BY {0}; DROP ROLE {0}", name_));
    }
}

connection_options scratch_schema::options() const {
    auto options = server_options();
    if (options.pooler == pooler_mode::transaction) {
        // The pooler refuses the `options` startup parameter; the role pins the search_path.
        options.user = name_;
    } else {
        options.parameters.emplace_back("options", "-c search_path=" + name_ + ",public");
    }
    return options;
}

connection scratch_schema::connect() const {
    auto conn = connection::open(options());
    if (!conn) {
        throw std::runtime_error("cannot connect to the test server: " + conn.error().to_string());
    }
    return std::move(*conn);
}

}  // namespace pgkit::test
