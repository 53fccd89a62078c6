#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace pgkit::test {
namespace {

std::string read_server_url() {
    if (const char* url = std::getenv("PGKIT_TEST_DATABASE_URL"); url != nullptr && *url != 0) {
        return url;
    }
    const char* file = std::getenv("PGKIT_TEST_URL_FILE");
    if (file == nullptr) {
        throw std::runtime_error(
            "no test server: run the tests through ctest (which starts one), or set "
            "PGKIT_TEST_DATABASE_URL");
    }
    std::ifstream in{file};
    std::string url;
    if (!std::getline(in, url) || url.empty()) {
        throw std::runtime_error(fmt::format("no test server: {} is missing or empty", file));
    }
    return url;
}

std::string unique_schema_name() {
    static std::atomic<unsigned> counter{0};
    std::random_device entropy;
    return fmt::format("pgkit_test_{}_{}_{:08x}", ::getpid(), counter++, entropy());
}

}  // namespace

connection_options server_options() {
    auto options = connection_options::parse(read_server_url());
    if (!options) {
        throw std::runtime_error("test server URL is malformed: " + options.error().message());
    }
    options->application_name = "pgkit-tests";
    return *options;
}

connection connect_to_server() {
    auto conn = connection::open(server_options());
    if (!conn) {
        throw std::runtime_error("cannot connect to the test server: " + conn.error().to_string());
    }
    return std::move(*conn);
}

scratch_schema::scratch_schema() : name_(unique_schema_name()) {
    auto conn = connect_to_server();
    auto created = conn.execute_script("CREATE SCHEMA " + name_);
    if (!created) {
        throw std::runtime_error("cannot create test schema: " + created.error().to_string());
    }
}

scratch_schema::~scratch_schema() {
    auto conn = connection::open(server_options());
    if (conn) {
        (void)conn->execute_script("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
    }
}

connection_options scratch_schema::options() const {
    auto options = server_options();
    options.parameters.emplace_back("options", "-c search_path=" + name_ + ",public");
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
