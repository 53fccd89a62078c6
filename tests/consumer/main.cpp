// Uses pgkit only through its installed interface: the umbrella header and pgkit::pgkit.
//
//   pgkit_consumer                          version and URL-parsing checks only
//   pgkit_consumer postgresql://user@host/db   also opens a connection and runs SELECT 1
//
// Prints one line per check and exits non-zero when any fails.
#include <pgkit/pgkit.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) {
        ++failures;
    }
}

void report(const pgkit::error& e, const char* what) {
    std::printf("FAILED: %s: %s\n", what, e.to_string().c_str());
    ++failures;
}

void check_version() {
    check(std::string_view{pgkit::version()} == PGKIT_VERSION_STRING,
          "pgkit::version() equals PGKIT_VERSION_STRING");
#ifdef PGKIT_CONSUMER_PACKAGE_VERSION
    check(std::string_view{PGKIT_CONSUMER_PACKAGE_VERSION} == PGKIT_VERSION_STRING,
          "the CMake package version equals PGKIT_VERSION_STRING");
#endif
    std::printf("pgkit %s\n", pgkit::version());
}

void check_parse() {
    auto parsed = pgkit::connection_options::parse(
        "postgresql://alice:s3cret@db.example.com:6543/orders?sslmode=require");
    if (!parsed) {
        report(parsed.error(), "connection_options::parse");
        return;
    }
    check(parsed->hosts.size() == 1 && parsed->hosts[0].host == "db.example.com" &&
              parsed->hosts[0].port == std::uint16_t{6543},
          "parse: host and port");
    check(parsed->dbname == "orders" && parsed->user == "alice" && parsed->password == "s3cret",
          "parse: database, user and password");
    check(parsed->parameter("sslmode") == std::string_view{"require"}, "parse: sslmode parameter");
    check(parsed->redacted().find("s3cret") == std::string::npos, "redacted() hides the password");

    auto bad = pgkit::connection_options::parse("postgresql://host:notaport/db");
    check(!bad && bad.error().code() == pgkit::errc::invalid_argument,
          "parse: a malformed URL is an invalid_argument error");

    // Pagination cursors are signed with OpenSSL's libcrypto: this links it.
    auto key = pgkit::cursor_key::generate();
    check(key.has_value() && key->verify("message", key->sign("message")) &&
              !key->verify("massage", key->sign("message")),
          "cursor_key signs and verifies (libcrypto linked)");
}

void check_database(const char* url) {
    auto conn = pgkit::connection::open(url);
    if (!conn) {
        report(conn.error(), "connection::open");
        return;
    }
    auto one = conn->execute("SELECT 1").and_then(&pgkit::query_result::scalar<std::int32_t>);
    if (!one) {
        report(one.error(), "SELECT 1");
        return;
    }
    check(*one == 1, "SELECT 1 returns 1");

    auto sum = conn->execute("SELECT $1::int4 + 1", std::int32_t{41})
                   .and_then(&pgkit::query_result::scalar<std::int32_t>);
    if (!sum) {
        report(sum.error(), "SELECT $1::int4 + 1");
        return;
    }
    check(*sum == 42, "a bound parameter round-trips");
}

}  // namespace

int main(int argc, char** argv) {
    check_version();
    check_parse();
    if (argc > 1 && argv[1][0] != '\0') {
        check_database(argv[1]);
    } else {
        std::printf("no database URL given: connection checks skipped\n");
    }
    if (failures != 0) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}
