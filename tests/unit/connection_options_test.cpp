#include "pgkit/connection_options.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using pgkit::connection_options;
using pgkit::connection_parameter;
using pgkit::errc;
using pgkit::host_address;

namespace {

connection_options parse_ok(std::string_view text) {
    auto parsed = connection_options::parse(text);
    INFO("input: ", std::string{text});
    const std::string error = parsed ? "" : parsed.error().message();
    INFO("error: ", error);
    REQUIRE(parsed.has_value());
    return *parsed;
}

std::string parse_error(std::string_view text) {
    auto parsed = connection_options::parse(text);
    INFO("input: ", std::string{text});
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code() == errc::invalid_argument);
    CHECK_FALSE(parsed.error().message().empty());
    return parsed.error().message();
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

/// What parse(opts.redacted()) must give back: everything but the secrets.
connection_options without_secrets(connection_options options) {
    options.password.clear();
    std::erase_if(options.parameters,
                  [](const connection_parameter& p) { return p.first == "sslpassword"; });
    return options;
}

void check_round_trip(const connection_options& options) {
    const std::string url = options.redacted();
    INFO("redacted: ", url);
    auto reparsed = connection_options::parse(url);
    const std::string error = reparsed ? "" : reparsed.error().message();
    INFO("error: ", error);
    REQUIRE(reparsed.has_value());
    CHECK(reparsed->password == (options.password.empty() ? "" : "***"));
    CHECK(without_secrets(*reparsed) == without_secrets(options));
}

/// Unsets every variable from_environment() reads, restoring them all on destruction.
class scoped_environment {
  public:
    scoped_environment() {
        for (const char* name : names) {
            const char* value = std::getenv(name);
            saved_.emplace_back(name, value ? std::optional<std::string>{value} : std::nullopt);
            ::unsetenv(name);
        }
    }
    ~scoped_environment() {
        for (const auto& [name, value] : saved_) {
            if (value) {
                ::setenv(name, value->c_str(), 1);
            } else {
                ::unsetenv(name);
            }
        }
    }
    scoped_environment(const scoped_environment&) = delete;
    scoped_environment& operator=(const scoped_environment&) = delete;

    void set(const char* name, const char* value) { ::setenv(name, value, 1); }

  private:
    // clang-format off
    static constexpr std::array names{
        "DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD",
        "PGAPPNAME", "PGCONNECT_TIMEOUT", "PGSSLMODE", "PGTARGETSESSIONATTRS", "PGOPTIONS",
        "PGCLIENTENCODING", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGPASSFILE", "PGSERVICE",
        "PGCHANNELBINDING", "PGGSSENCMODE"};
    // clang-format on
    std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

/// Deterministic generator for the no-crash property tests.
class lcg {
  public:
    explicit lcg(std::uint64_t seed) : state_(seed) {}
    std::size_t next(std::size_t bound) {
        state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<std::size_t>((state_ >> 33U) % bound);
    }

  private:
    std::uint64_t state_;
};

}  // namespace

TEST_SUITE("connection_options") {
    // ---- defaults and dispatch -------------------------------------------------------------

    TEST_CASE("connection_options: empty string yields the defaults") {
        const auto options = parse_ok("");
        CHECK(options == connection_options{});
        CHECK(options.application_name == "pgkit");
        CHECK_FALSE(options.connect_timeout.has_value());
        CHECK(parse_ok(" \t\n ") == connection_options{});
        CHECK(parse_ok("postgresql://") == connection_options{});
        CHECK(parse_ok("postgres://") == connection_options{});
    }

    TEST_CASE("connection_options: parses a complete URL") {
        const auto options = parse_ok(
            "postgresql://alice:s3cret@db.example.com:6543/orders"
            "?application_name=billing&connect_timeout=7&sslmode=verify-full"
            "&target_session_attrs=read-write&options=-c%20statement_timeout%3D5s");
        CHECK(options.user == "alice");
        CHECK(options.password == "s3cret");
        REQUIRE(options.hosts.size() == 1);
        CHECK(options.hosts[0] == host_address{"db.example.com", 6543});
        CHECK(options.dbname == "orders");
        CHECK(options.application_name == "billing");
        CHECK(options.connect_timeout == std::chrono::milliseconds{7000});
        CHECK(options.parameters == std::vector<connection_parameter>{
                                        {"sslmode", "verify-full"},
                                        {"target_session_attrs", "read-write"},
                                        {"options", "-c statement_timeout=5s"},
                                    });
    }

    TEST_CASE("connection_options: accepts the postgres scheme") {
        const auto options = parse_ok("postgres://bob@localhost/app");
        CHECK(options.user == "bob");
        CHECK(options.password.empty());
        CHECK(options.hosts == std::vector<host_address>{{"localhost", std::nullopt}});
        CHECK(options.dbname == "app");
    }

    TEST_CASE("connection_options: URL parts are all optional") {
        CHECK(parse_ok("postgresql://host").hosts ==
              std::vector<host_address>{{"host", std::nullopt}});
        CHECK(parse_ok("postgresql://host/").dbname.empty());
        CHECK(parse_ok("postgresql:///db").dbname == "db");
        CHECK(parse_ok("postgresql:///db").hosts.empty());
        CHECK(parse_ok("postgresql://?sslmode=require").parameter("sslmode") == "require");
        CHECK(parse_ok("postgresql://host?sslmode=require").hosts.size() == 1);
        CHECK(parse_ok("postgresql://user@").user == "user");
        CHECK(parse_ok("postgresql://user:@host").password.empty());
        CHECK(parse_ok("postgresql://:pw@host").user.empty());
        CHECK(parse_ok("postgresql://:pw@host").password == "pw");
        // Everything after the first '/' up to '?' is the database name, slashes included.
        CHECK(parse_ok("postgresql://host/a/b").dbname == "a/b");
    }

    TEST_CASE("connection_options: rejects unsupported schemes") {
        CHECK(contains(parse_error("mysql://user@host/db"), "unsupported URL scheme 'mysql'"));
        CHECK(contains(parse_error("POSTGRESQL://host/db"), "unsupported URL scheme"));
        CHECK(contains(parse_error("postgresql:/host/db"), "missing '='"));
    }

    // ---- percent-encoding ------------------------------------------------------------------

    TEST_CASE("connection_options: decodes percent-encoding in every URL part") {
        const auto options = parse_ok(
            "postgresql://us%65r%40corp:p%40ss%3Aw%2Frd@h%6Fst:5432/my%20db"
            "?applic%61tion_name=a%26b%3Dc&options=%2Dc%20x%3D1");
        CHECK(options.user == "user@corp");
        CHECK(options.password == "p@ss:w/rd");
        CHECK(options.hosts == std::vector<host_address>{{"host", 5432}});
        CHECK(options.dbname == "my db");
        CHECK(options.application_name == "a&b=c");
        CHECK(options.parameter("options") == "-c x=1");
        // '+' is not a space in libpq URLs.
        CHECK(parse_ok("postgresql:///a+b").dbname == "a+b");
        // Lower- and upper-case hex digits are both fine.
        CHECK(parse_ok("postgresql:///%2f%2F").dbname == "//");
    }

    TEST_CASE("connection_options: decodes percent-encoded UTF-8 user and database names") {
        const auto options = parse_ok("postgresql://j%C3%BCrgen@host/%E6%97%A5%E6%9C%AC");
        CHECK(options.user == "j\xC3\xBCrgen");
        CHECK(options.dbname == "\xE6\x97\xA5\xE6\x9C\xAC");
        check_round_trip(options);
    }

    TEST_CASE("connection_options: rejects invalid percent-encoding naming the part") {
        CHECK(parse_error("postgresql://us%zzer@host") == "invalid percent-encoding in user name");
        CHECK(parse_error("postgresql://user:pa%zzss@host") ==
              "invalid percent-encoding in password");
        CHECK(parse_error("postgresql://user:pass%@host") ==
              "invalid percent-encoding in password");
        CHECK(parse_error("postgresql://user:pass%4@host") ==
              "invalid percent-encoding in password");
        CHECK(parse_error("postgresql://ho%st/db") == "invalid percent-encoding in host list");
        CHECK(parse_error("postgresql://host:54%3/db") == "invalid percent-encoding in host list");
        CHECK(parse_error("postgresql://host/d%b") == "invalid percent-encoding in database name");
        CHECK(parse_error("postgresql://host/db?ssl%mode=require") ==
              "invalid percent-encoding in URL query parameter name");
        CHECK(parse_error("postgresql://host/db?sslmode=re%qquire") ==
              "invalid percent-encoding in value of URL query parameter 'sslmode'");
        CHECK(parse_error("postgresql:///%") == "invalid percent-encoding in database name");
    }

    TEST_CASE("connection_options: rejects NUL bytes") {
        CHECK(contains(parse_error("postgresql://us%00er@host"), "NUL byte (%00) in user name"));
        CHECK(contains(parse_error("postgresql://u:pw%00@host"), "NUL byte (%00) in password"));
        CHECK(contains(parse_error("postgresql://h%00st"), "NUL byte (%00) in host list"));
        CHECK(contains(parse_error("postgresql:///d%00b"), "NUL byte (%00) in database name"));
        CHECK(contains(parse_error("postgresql:///db?options=%00"), "NUL byte"));
        CHECK(contains(parse_error("postgresql:///db?opt%00ions=x"), "NUL byte"));
        using namespace std::string_view_literals;
        CHECK(contains(parse_error("host=a\0b"sv), "NUL byte"));
        CHECK(contains(parse_error("postgresql://host/\0db"sv), "NUL byte"));
    }

    // ---- hosts and ports -------------------------------------------------------------------

    TEST_CASE("connection_options: parses IPv6 hosts with ports") {
        const auto options =
            parse_ok("postgresql://[::1]:5433,[2001:db8::7],[fe80::1%25eth0]:6000/db");
        CHECK(options.hosts == std::vector<host_address>{
                                   {"::1", 5433},
                                   {"2001:db8::7", std::nullopt},
                                   {"fe80::1%eth0", 6000},
                               });
        CHECK(options.dbname == "db");
        CHECK(parse_ok("postgresql://[::1]").hosts ==
              std::vector<host_address>{{"::1", std::nullopt}});
        CHECK(parse_ok("postgresql://[::1]?sslmode=disable").hosts.size() == 1);
        CHECK(parse_ok("postgresql://u:p@[::ffff:10.0.0.1]:1/x").hosts ==
              std::vector<host_address>{{"::ffff:10.0.0.1", 1}});
    }

    TEST_CASE("connection_options: rejects malformed IPv6 hosts") {
        CHECK(contains(parse_error("postgresql://["), "missing ']'"));
        CHECK(contains(parse_error("postgresql://[::1"), "missing ']'"));
        CHECK(contains(parse_error("postgresql://[::1/db"), "missing ']'"));
        CHECK(contains(parse_error("postgresql://[]:5432"), "empty IPv6 address"));
        CHECK(contains(parse_error("postgresql://[::1]x"), "after IPv6 address in host list"));
    }

    TEST_CASE("connection_options: parses several hosts with and without ports") {
        const auto options = parse_ok("postgresql://primary:5432,replica1,replica2:5434/app");
        CHECK(options.hosts == std::vector<host_address>{
                                   {"primary", 5432},
                                   {"replica1", std::nullopt},
                                   {"replica2", 5434},
                               });
        // Empty entries are libpq's defaults (Unix socket, port 5432).
        CHECK(parse_ok("postgresql://a,,b").hosts == std::vector<host_address>{
                                                         {"a", std::nullopt},
                                                         {"", std::nullopt},
                                                         {"b", std::nullopt},
                                                     });
        CHECK(parse_ok("postgresql://a:,b:").hosts ==
              std::vector<host_address>{{"a", std::nullopt}, {"b", std::nullopt}});
        // A percent-encoded comma splits hosts, as in libpq (which decodes the joined list).
        CHECK(parse_ok("postgresql://a%2Cb/db").hosts ==
              std::vector<host_address>{{"a", std::nullopt}, {"b", std::nullopt}});
    }

    TEST_CASE("connection_options: empty host means the default Unix socket") {
        CHECK(parse_ok("postgresql:///db").hosts.empty());
        CHECK(parse_ok("postgresql://:5433/db").hosts == std::vector<host_address>{{"", 5433}});
        CHECK(parse_ok("postgresql://user@/db").hosts.empty());
        CHECK(parse_ok("host=").hosts.empty());
    }

    TEST_CASE("connection_options: percent-encoded slash in host means a socket directory") {
        const auto options = parse_ok("postgresql://%2Fvar%2Frun%2Fpostgresql:5433/db");
        CHECK(options.hosts == std::vector<host_address>{{"/var/run/postgresql", 5433}});
        CHECK(options.dbname == "db");
        check_round_trip(options);
    }

    TEST_CASE("connection_options: host query parameter overrides and sets socket dirs") {
        CHECK(parse_ok("postgresql:///db?host=/var/run/postgresql").hosts ==
              std::vector<host_address>{{"/var/run/postgresql", std::nullopt}});
        CHECK(parse_ok("postgresql:///db?host=%2Ftmp&port=5433").hosts ==
              std::vector<host_address>{{"/tmp", 5433}});
        // Later values win, as in libpq: the query replaces the host list but keeps the ports.
        CHECK(parse_ok("postgresql://a:1,b:2/db?host=x,y").hosts ==
              std::vector<host_address>{{"x", 1}, {"y", 2}});
        CHECK(parse_ok("postgresql://a,b/db?port=6000").hosts ==
              std::vector<host_address>{{"a", 6000}, {"b", 6000}});
    }

    TEST_CASE("connection_options: port list must have one entry or one per host") {
        CHECK(parse_ok("host=a,b,c port=5433").hosts ==
              std::vector<host_address>{{"a", 5433}, {"b", 5433}, {"c", 5433}});
        CHECK(parse_ok("host=a,b port=1,2").hosts == std::vector<host_address>{{"a", 1}, {"b", 2}});
        CHECK(parse_ok("host=a,b port=,2").hosts ==
              std::vector<host_address>{{"a", std::nullopt}, {"b", 2}});
        CHECK(parse_error("host=a,b,c port=1,2") == "could not match 2 port numbers to 3 hosts");
        CHECK(parse_error("port=1,2") == "could not match 2 port numbers to 1 hosts");
        CHECK(parse_error("postgresql://a:1,b/db?port=1,2,3") ==
              "could not match 3 port numbers to 2 hosts");
        // Only a port: one default host on that port.
        CHECK(parse_ok("port=5433").hosts == std::vector<host_address>{{"", 5433}});
    }

    TEST_CASE("connection_options: validates ports") {
        CHECK(parse_error("postgresql://u@host:abc/db") ==
              "invalid port 'abc' in host list (expected 1 to 65535)");
        // Without '@' a bad port may be a misplaced password ("user:secret"): never echoed.
        CHECK(parse_error("postgresql://host:abc/db") ==
              "invalid port (redacted) in host list (expected 1 to 65535)");
        CHECK(contains(parse_error("postgresql://u@host:0"), "invalid port '0' in host list"));
        CHECK(contains(parse_error("postgresql://u@host:65536"), "invalid port '65536'"));
        CHECK(contains(parse_error("postgresql://u@host:99999999999999999999"), "invalid port"));
        CHECK(contains(parse_error("postgresql://u@host:-1"), "invalid port '-1'"));
        CHECK(contains(parse_error("postgresql://u@host:+5432"), "invalid port '+5432'"));
        CHECK(contains(parse_error("postgresql://u@host:5432x"), "invalid port '5432x'"));
        CHECK(contains(parse_error("port=' 5432'"), "invalid port ' 5432' in connection string"));
        CHECK(contains(parse_error("port=1.5"), "invalid port '1.5'"));
        CHECK(
            contains(parse_error("postgresql:///db?port=abc"), "invalid port 'abc' in URL query"));
        CHECK(parse_ok("port=1").hosts == std::vector<host_address>{{"", 1}});
        CHECK(parse_ok("port=65535").hosts == std::vector<host_address>{{"", 65535}});
        CHECK(parse_ok("port=05432").hosts == std::vector<host_address>{{"", 5432}});
    }

    TEST_CASE("connection_options: hostaddr is treated as a host") {
        CHECK(parse_ok("hostaddr=10.0.0.1,10.0.0.2 port=5433").hosts ==
              std::vector<host_address>{{"10.0.0.1", 5433}, {"10.0.0.2", 5433}});
        // With both, the names stay hosts and hostaddr goes to libpq unchanged.
        const auto both = parse_ok("host=db1,db2 hostaddr=10.0.0.1,10.0.0.2");
        CHECK(both.hosts ==
              std::vector<host_address>{{"db1", std::nullopt}, {"db2", std::nullopt}});
        CHECK(both.parameter("hostaddr") == "10.0.0.1,10.0.0.2");
        check_round_trip(both);
        CHECK(parse_error("host=a,b hostaddr=10.0.0.1") ==
              "could not match 2 host names to 1 hostaddr values");
    }

    // ---- query parameters ------------------------------------------------------------------

    TEST_CASE("connection_options: URL query syntax follows libpq") {
        CHECK(contains(parse_error("postgresql:///db?sslmode"), "missing '='"));
        CHECK(contains(parse_error("postgresql:///db?&"), "missing '='"));
        CHECK(contains(parse_error("postgresql:///db?a=1&&sslmode=require"), "missing '='"));
        CHECK(contains(parse_error("postgresql:///db?options=a=b"), "extra '='"));
        CHECK(parse_ok("postgresql:///db?").parameters.empty());
        CHECK(parse_ok("postgresql:///db?sslmode=require&").parameter("sslmode") == "require");
        CHECK(parse_ok("postgresql:///db?options=").parameter("options") == "");
        CHECK(parse_ok("postgresql:///db?application_name=").application_name.empty());
        CHECK(contains(parse_error("postgresql:///db?=x"), "unknown parameter ''"));
    }

    TEST_CASE("connection_options: ssl=true means sslmode=require") {
        CHECK(parse_ok("postgresql://h/db?ssl=true").parameters ==
              std::vector<connection_parameter>{{"sslmode", "require"}});
        CHECK(contains(parse_error("postgresql://h/db?ssl=false"), "unknown parameter 'ssl'"));
        CHECK(contains(parse_error("ssl=true"), "unknown parameter 'ssl'"));
    }

    TEST_CASE("connection_options: query fields override the URL authority") {
        const auto options =
            parse_ok("postgresql://a:b@h/db?user=carol&password=x&dbname=other&port=7");
        CHECK(options.user == "carol");
        CHECK(options.password == "x");
        CHECK(options.dbname == "other");
        CHECK(options.hosts == std::vector<host_address>{{"h", 7}});
    }

    TEST_CASE("connection_options: rejects unknown parameters by name") {
        CHECK(parse_error("postgresql://h/db?foo=1") == "unknown parameter 'foo' in URL query");
        CHECK(parse_error("host=h foo=1") == "unknown parameter 'foo' in connection string");
        // libpq keywords are case-sensitive.
        CHECK(contains(parse_error("HOST=h"), "unknown parameter 'HOST'"));
        CHECK(contains(parse_error("postgresql://h/db?SSLMODE=require"),
                       "unknown parameter 'SSLMODE'"));
    }

    TEST_CASE("connection_options: passes every other libpq keyword through in order") {
        const auto options = parse_ok(
            "keepalives=1 keepalives_idle=30 sslrootcert=/etc/ca.pem service=prod "
            "fallback_application_name=fb krbsrvname=postgres requirepeer=postgres "
            "replication=database sslsni=1 tcp_user_timeout=1000");
        CHECK(options.parameters == std::vector<connection_parameter>{
                                        {"keepalives", "1"},
                                        {"keepalives_idle", "30"},
                                        {"sslrootcert", "/etc/ca.pem"},
                                        {"service", "prod"},
                                        {"fallback_application_name", "fb"},
                                        {"krbsrvname", "postgres"},
                                        {"requirepeer", "postgres"},
                                        {"replication", "database"},
                                        {"sslsni", "1"},
                                        {"tcp_user_timeout", "1000"},
                                    });
    }

    TEST_CASE("connection_options: validates closed-set values") {
        for (const auto* mode :
             {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}) {
            CHECK(parse_ok(std::string{"sslmode="} + mode).parameter("sslmode") == mode);
        }
        CHECK(parse_error("sslmode=required") ==
              "invalid sslmode 'required' in connection string (expected one of: disable, "
              "allow, prefer, require, verify-ca, verify-full)");
        CHECK(contains(parse_error("sslmode=REQUIRE"), "invalid sslmode 'REQUIRE'"));
        for (const auto* attrs :
             {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}) {
            CHECK(parse_ok(std::string{"target_session_attrs="} + attrs).parameters.size() == 1);
        }
        CHECK(parse_ok("target_session_attrs=Read-Write").parameters.size() == 1);
        CHECK(contains(parse_error("target_session_attrs=master"),
                       "invalid target_session_attrs 'master'"));
        CHECK(parse_ok("gssencmode=prefer").parameter("gssencmode") == "prefer");
        CHECK(contains(parse_error("gssencmode=allow"), "invalid gssencmode 'allow'"));
        CHECK(parse_ok("channel_binding=require").parameter("channel_binding") == "require");
        CHECK(contains(parse_error("postgresql:///db?channel_binding=yes"),
                       "invalid channel_binding 'yes' in URL query"));
        CHECK(parse_ok("ssl_min_protocol_version=TLSv1.2").parameters.size() == 1);
        CHECK(contains(parse_error("ssl_max_protocol_version=SSLv3"),
                       "invalid ssl_max_protocol_version"));
        // An empty value means "not set".
        CHECK(parse_ok("sslmode=").parameter("sslmode") == "");
    }

    TEST_CASE("connection_options: repeated parameters keep libpq's last-one-wins rule") {
        const auto options = parse_ok("postgresql://h/db?sslmode=require&sslmode=disable");
        CHECK(options.parameters ==
              std::vector<connection_parameter>{{"sslmode", "require"}, {"sslmode", "disable"}});
        CHECK(options.parameter("sslmode") == "disable");
        const auto keywords = options.to_keywords();
        CHECK(std::count_if(keywords.begin(), keywords.end(),
                            [](const auto& p) { return p.first == "sslmode"; }) == 1);
        CHECK(std::find(keywords.begin(), keywords.end(),
                        connection_parameter{"sslmode", "disable"}) != keywords.end());
        CHECK(parse_ok("user=a user=b").user == "b");
        CHECK(parse_ok("host=a host=b").hosts == std::vector<host_address>{{"b", std::nullopt}});
        CHECK(parse_ok("host=a host=").hosts.empty());
    }

    // ---- connect_timeout -------------------------------------------------------------------

    TEST_CASE("connection_options: connect_timeout follows libpq's integer rules") {
        CHECK(parse_ok("connect_timeout=10").connect_timeout == std::chrono::milliseconds{10000});
        CHECK(parse_ok("connect_timeout=' 5 '").connect_timeout == 5s);
        CHECK(parse_ok("connect_timeout=+3").connect_timeout == 3s);
        CHECK(parse_ok("connect_timeout=0").connect_timeout == 0s);
        CHECK(parse_ok("connect_timeout=2147483647").connect_timeout == 2147483647s);
        CHECK_FALSE(parse_ok("connect_timeout=").connect_timeout.has_value());
        CHECK(parse_ok("postgresql:///db?connect_timeout=15").connect_timeout == 15s);
        CHECK(parse_error("connect_timeout=-1") ==
              "invalid connect_timeout '-1' in connection string (expected whole seconds, 0 or "
              "more)");
        CHECK(contains(parse_error("connect_timeout=abc"), "invalid connect_timeout 'abc'"));
        CHECK(contains(parse_error("connect_timeout=1.5"), "invalid connect_timeout"));
        CHECK(contains(parse_error("connect_timeout=10s"), "invalid connect_timeout"));
        CHECK(contains(parse_error("connect_timeout=2147483648"), "invalid connect_timeout"));
        CHECK(contains(parse_error("connect_timeout=+"), "invalid connect_timeout"));
        CHECK(contains(parse_error("postgresql:///db?connect_timeout=%20"),
                       "invalid connect_timeout"));
    }

    // ---- conninfo strings ------------------------------------------------------------------

    TEST_CASE("connection_options: parses key=value connection strings") {
        const auto options = parse_ok(
            "host=db.internal port=5433 dbname=app user=svc password=pw "
            "application_name=worker connect_timeout=3 sslmode=require");
        CHECK(options.hosts == std::vector<host_address>{{"db.internal", 5433}});
        CHECK(options.dbname == "app");
        CHECK(options.user == "svc");
        CHECK(options.password == "pw");
        CHECK(options.application_name == "worker");
        CHECK(options.connect_timeout == 3s);
        CHECK(options.parameters == std::vector<connection_parameter>{{"sslmode", "require"}});
    }

    TEST_CASE("connection_options: conninfo allows spaces around equals and any whitespace") {
        const auto options = parse_ok("  host = h1\tdbname=\n db \r\n user  =u  ");
        CHECK(options.hosts == std::vector<host_address>{{"h1", std::nullopt}});
        CHECK(options.dbname == "db");
        CHECK(options.user == "u");
    }

    TEST_CASE("connection_options: conninfo quoted values and backslash escapes") {
        CHECK(parse_ok(R"(password='it\'s a \\ secret')").password == R"(it's a \ secret)");
        CHECK(parse_ok("options='-c search_path=a,b'").parameter("options") ==
              "-c search_path=a,b");
        CHECK(parse_ok("dbname=''").dbname.empty());
        CHECK(parse_ok(R"(dbname=a\ b)").dbname == "a b");
        CHECK(parse_ok(R"(dbname=a\'b)").dbname == "a'b");
        CHECK(parse_ok(R"(dbname=a\)").dbname == "a");
        // libpq needs no space after a closing quote.
        const auto glued = parse_ok("dbname='a'user=b");
        CHECK(glued.dbname == "a");
        CHECK(glued.user == "b");
    }

    TEST_CASE("connection_options: conninfo syntax errors") {
        CHECK(parse_error("host") ==
              "missing '=' after the keyword at position 1 in connection string");
        CHECK(
            contains(parse_error("host=h dbname"), "missing '=' after the keyword at position 8"));
        CHECK(contains(parse_error("host=h db name=x"), "missing '='"));
        CHECK(contains(parse_error("user:secret@host"), "missing '='"));
        CHECK(contains(parse_error("password='abc"), "unterminated quoted value"));
        CHECK(contains(parse_error(R"(password='abc\')"), "unterminated quoted value"));
        CHECK(contains(parse_error(R"(password='abc\)"), "unterminated quoted value"));
        CHECK(contains(parse_error("=x"), "unknown parameter ''"));
    }

    TEST_CASE("connection_options: conninfo keeps raw UTF-8") {
        const auto options = parse_ok("user=j\xC3\xBCrgen dbname='\xE6\x97\xA5\xE6\x9C\xAC db'");
        CHECK(options.user == "j\xC3\xBCrgen");
        CHECK(options.dbname == "\xE6\x97\xA5\xE6\x9C\xAC db");
        check_round_trip(options);
    }

    // ---- hostile input ---------------------------------------------------------------------

    TEST_CASE("connection_options: injection-looking values stay inert data") {
        const auto quoted = parse_ok(R"(dbname='\'; DROP TABLE users; --' user=x)");
        CHECK(quoted.dbname == "'; DROP TABLE users; --");
        CHECK(quoted.user == "x");
        CHECK(quoted.parameters.empty());
        const auto encoded = parse_ok("postgresql://h/%27%3B%20DROP%20TABLE%20users%3B%20--");
        CHECK(encoded.dbname == "'; DROP TABLE users; --");
        check_round_trip(encoded);

        // A newline inside a URL is data, not a separator.
        const auto newline = parse_ok("postgresql://h/db\nsslmode=disable");
        CHECK(newline.dbname == "db\nsslmode=disable");
        CHECK(newline.parameters.empty());
        CHECK_FALSE(contains(newline.redacted(), "\n"));
        check_round_trip(newline);
        // In a conninfo string it is whitespace, exactly as in libpq.
        CHECK(parse_ok("dbname=db\nsslmode=disable").parameter("sslmode") == "disable");
        // A quoted value cannot smuggle in another keyword.
        const auto smuggled = parse_ok("application_name='x sslmode=disable'");
        CHECK(smuggled.application_name == "x sslmode=disable");
        CHECK(smuggled.parameters.empty());
        const auto encoded_amp =
            parse_ok("postgresql://h/db?application_name=x%26sslmode%3Ddisable");
        CHECK(encoded_amp.application_name == "x&sslmode=disable");
        CHECK(encoded_amp.parameters.empty());
    }

    TEST_CASE("connection_options: raw at-sign after the userinfo is rejected") {
        const auto message = parse_error("postgresql://user:pa@zz9@host/db");
        CHECK(contains(message, "unexpected '@' in host list"));
        CHECK_FALSE(contains(message, "zz9"));
        CHECK(parse_ok("postgresql://user:p%40ss@host/db").password == "p@ss");
        // After the first '/', '@' belongs to the database name...
        CHECK(parse_ok("postgresql://host/db@x").dbname == "db@x");
        CHECK(parse_ok("postgresql://u@host/db?application_name=a@b").application_name == "a@b");
        // ...unless a password came first: then it is the rest of an unencoded password.
        const auto in_dbname = parse_error("postgresql://u:p@ss/word@h/db");
        CHECK(contains(in_dbname, "unexpected '@' after the host list"));
        CHECK_FALSE(contains(in_dbname, "ss/w"));
        const auto in_query = parse_error("postgresql://u:se@cret?x@h=1");
        CHECK(contains(in_query, "unexpected '@' after the host list"));
        CHECK_FALSE(contains(in_query, "cret"));
        // A password read as a port is hidden decoded as well as written.
        const auto port = parse_error("postgresql://u:s%20cret");
        CHECK_FALSE(contains(port, "cret"));
    }

    TEST_CASE("connection_options: never crashes on odd input") {
        const std::vector<std::string> inputs{
            "",
            "[",
            "]",
            "@",
            "@@@",
            ":",
            "::",
            "=",
            "==",
            "'",
            "\\",
            "%",
            "?",
            "&",
            "/",
            ",",
            "postgresql://",
            "postgresql://@",
            "postgresql://@@@",
            "postgresql://:",
            "postgresql://:@",
            "postgresql://[",
            "postgresql://]",
            "postgresql://[]",
            "postgresql://[[::1]]",
            "postgresql://[::1]]",
            "postgresql://%",
            "postgresql://%%%",
            "postgresql://,,,,",
            "postgresql://:::",
            "postgresql:///?",
            "postgresql://?=",
            "postgresql://?&&",
            "postgresql://a:b:c@d:e:f/g?h=i",
            "postgresql://\xff\xfe",
            "postgresql://\xF0\x9F\x90\x98@\xF0\x9F\x90\x98/\xF0\x9F\x90\x98",
            "host=\xF0\x9F\x90\x98",
            "\xF0\x9F\x90\x98",
            "\xff=\xff",
            "host='",
            "host=\\",
            "host='\\",
            "a=b=c",
            "host==x",
            "postgres://x/y?z",
            std::string(100000, '['),
            std::string(100000, '@'),
            "postgresql://" + std::string(100000, ','),
            "postgresql://" + std::string(100000, '%'),
            "host=" + std::string(100000, 'x'),
            "postgresql://h:" + std::string(100000, '9'),
            std::string(100000, '\''),
            "host='" + std::string(100000, '\\'),
        };
        for (const auto& input : inputs) {
            auto parsed = connection_options::parse(input);
            if (!parsed) {
                CHECK(parsed.error().code() == errc::invalid_argument);
                CHECK(parsed.error().message().size() < 400);
            } else {
                check_round_trip(*parsed);
            }
            CHECK_NOTHROW((void)pgkit::redact_secrets(input));
        }
        // "host=x...x" is a fine host; its echo in later errors is truncated.
        CHECK(parse_ok("host=" + std::string(100000, 'x')).hosts.front().host.size() == 100000);
    }

    TEST_CASE("connection_options: random input never crashes and always round-trips") {
        static constexpr std::array<std::string_view, 44> tokens{
            "postgresql://",
            "postgres://",
            "@",
            ":",
            "/",
            "?",
            "&",
            "=",
            "[",
            "]",
            ",",
            "%",
            "%2F",
            "%00",
            "%4",
            "%40",
            "%E2%82%AC",
            "host",
            "hostaddr",
            "port",
            "5432",
            "0",
            "sslmode",
            "require",
            "verify-full",
            "'",
            "\\",
            " ",
            "\n",
            "\xC3\xA9",
            "\xff",
            "password",
            "sslpassword",
            "secret",
            "user",
            "dbname",
            "connect_timeout",
            "7",
            "-",
            "x",
            "::1",
            "1.2.3.4",
            "options",
            "application_name",
        };
        lcg random{20240611};
        int parsed_count = 0;
        for (int round = 0; round < 20000; ++round) {
            std::string input;
            const auto length = random.next(12);
            for (std::size_t i = 0; i < length; ++i) {
                input += tokens[random.next(tokens.size())];
            }
            auto parsed = connection_options::parse(input);
            if (!parsed) {
                INFO("input: ", std::string{input});
                CHECK(parsed.error().code() == errc::invalid_argument);
                for (const char c : parsed.error().message()) {
                    REQUIRE((c >= 0x20 && c <= 0x7e));  // echoes are escaped
                }
                continue;
            }
            ++parsed_count;
            INFO("input: ", std::string{input});
            check_round_trip(*parsed);
            if (!parsed->password.empty()) {
                CHECK(contains(parsed->redacted(), ":***@"));
            }
        }
        CHECK(parsed_count > 1000);
    }

    // ---- secrets in error messages ---------------------------------------------------------

    TEST_CASE("connection_options: error messages never contain the password") {
        struct hostile {
            std::string input;
            std::vector<std::string> secrets;
        };
        const std::vector<hostile> cases{
            {"postgresql://user:hunter2@host:hunter2/db", {"hunter2"}},
            {"postgresql://user:hunter2@host/db?hunter2=1", {"hunter2"}},
            {"postgresql://user:hunter2@host/db?sslmode=hunter2", {"hunter2"}},
            {"postgresql://user:hunter2@host/db?connect_timeout=hunter2", {"hunter2"}},
            {"postgresql://user:hunter2@host/db?target_session_attrs=xhunter2x", {"hunter2"}},
            {"postgresql://user:hunter2@host/db?hunter2=%zz", {"hunter2"}},
            {"postgresql://user:hunter2@host/db?port=hunt", {"hunter2", "hunt"}},
            {"postgresql://user:hunter2@[hunter2", {"hunter2"}},
            {"postgresql://user:hunter2@[::1]hunter2", {"hunter2"}},
            {"postgresql://user:hunter2", {"hunter2"}},
            {"postgresql://user:hunter2/db", {"hunter2"}},
            {"postgresql://user:12345678", {"12345678"}},
            {"postgresql://user:hun/ter2@host", {"hun", "ter2"}},
            {"postgresql://user:hunt%65r2@host:hunter2", {"hunter2", "hunt%65r2"}},
            {"postgresql://user:hunt%65r2@host:hunt%65r2", {"hunter2", "hunt%65r2"}},
            {"postgresql://user:hunter2%zz@host", {"hunter2"}},
            {"postgresql://user:hunter2%00@host", {"hunter2"}},
            {"postgresql://user:hun@ter2@host", {"hun", "ter2"}},
            {"postgresql://user:hunter2@host/db?password=x&port=hunter2", {"hunter2"}},
            {"postgresql://host/db?port=hunter2&password=hunter2", {"hunter2"}},
            {"postgresql://host/db?hunter2=1&password=hunter2", {"hunter2"}},
            {"postgresql://host/db?hunter2=1&pass%77ord=hunt%65r2", {"hunter2", "hunt%65r2"}},
            {"postgresql://host/db?hunter2=%zz&password=hunter2", {"hunter2"}},
            {"postgresql://host/db?sslmode=hunter2&sslpassword=hunter2", {"hunter2"}},
            {"password=hunter2 port=hunter2", {"hunter2"}},
            {"port=hunter2 password=hunter2", {"hunter2"}},
            {"hunter2=x password=hunter2", {"hunter2"}},
            {"password=hunter2 sslmode=hunter2", {"hunter2"}},
            {"password=hunter2 connect_timeout=xhunter2x", {"hunter2"}},
            {"password='hunter2", {"hunter2"}},
            {"hunter2 password=hunter2", {"hunter2"}},
            {"password=hunter2 hunter2", {"hunter2"}},
            {"password='hunter2' host=a,b port=hunter2,1", {"hunter2"}},
            {"sslpassword=hunter2 sslmode=hunter2", {"hunter2"}},
            {"password=hunter2 hostaddr=a host=hunter2,b", {"hunter2"}},
        };
        for (const auto& hostile_case : cases) {
            const auto message = parse_error(hostile_case.input);
            INFO("input: ", hostile_case.input, "\nmessage: ", message);
            for (const auto& secret : hostile_case.secrets) {
                CHECK_FALSE(contains(message, secret));
            }
        }
    }

    TEST_CASE("connection_options: error messages name the bad part") {
        CHECK(parse_error("postgresql://user:hunter2@host:hunter2/db") ==
              "invalid port (redacted) in host list (expected 1 to 65535)");
        CHECK(parse_error("postgresql://user:pw@host/db?foo=1") ==
              "unknown parameter 'foo' in URL query");
        CHECK(parse_error("postgresql://user:p%zz@host") == "invalid percent-encoding in password");
        // Without userinfo a non-numeric port may be a misplaced password: not echoed either.
        CHECK(parse_error("postgresql://user:secret") ==
              "invalid port (redacted) in host list (expected 1 to 65535)");
    }

    TEST_CASE("connection_options: error messages escape control bytes and truncate") {
        const auto message = parse_error("sslmode='a\nb\x1b[31m\xff'");
        CHECK(contains(message, R"('a\x0ab\x1b[31m\xff')"));
        const auto long_message = parse_error("sslmode=" + std::string(5000, 'z'));
        CHECK(long_message.size() < 300);
        CHECK(contains(long_message, std::string(64, 'z') + "...'"));
    }

    // ---- parameter() -----------------------------------------------------------------------

    TEST_CASE("connection_options: parameter looks up the last value") {
        connection_options options;
        CHECK_FALSE(options.parameter("sslmode").has_value());
        options.parameters = {{"sslmode", "require"}, {"options", ""}, {"sslmode", "disable"}};
        CHECK(options.parameter("sslmode") == "disable");
        CHECK(options.parameter("options") == "");
        CHECK_FALSE(options.parameter("SSLMODE").has_value());
        CHECK_FALSE(options.parameter("").has_value());
    }

    // ---- redacted() ------------------------------------------------------------------------

    TEST_CASE("connection_options: redacted hides the password") {
        const auto options =
            parse_ok("postgresql://alice:s3cret@db:5433/orders?sslmode=require&connect_timeout=5");
        CHECK(options.redacted() ==
              "postgresql://alice:***@db:5433/orders?application_name=pgkit&connect_timeout=5"
              "&sslmode=require");
        CHECK(parse_ok("postgresql://alice@db/orders").redacted() ==
              "postgresql://alice@db/orders?application_name=pgkit");
        CHECK(parse_ok("password=pw").redacted() == "postgresql://:***@?application_name=pgkit");
        CHECK(connection_options{}.redacted() == "postgresql://?application_name=pgkit");
    }

    TEST_CASE("connection_options: redacted brackets IPv6 and encodes what it must") {
        const connection_options options{
            .hosts = {{"::1", 5433},
                      {"fe80::1%eth0", std::nullopt},
                      {"/var/run/pg", 5432},
                      {"", 6000}},
            .dbname = "my db/x?",
            .user = "bob@corp:x",
            .password = "pw",
            .application_name = "a&b=c",
            .connect_timeout = 1500ms,
            .parameters = {{"options", "-c search_path=a,b"}, {"sslmode", "verify-full"}},
        };
        CHECK(options.redacted() ==
              "postgresql://bob%40corp%3Ax:***@[::1]:5433,[fe80::1%25eth0],%2Fvar%2Frun%2Fpg:5432,"
              ":6000/my%20db%2Fx%3F?application_name=a%26b%3Dc&connect_timeout=2"
              "&options=-c%20search_path%3Da%2Cb&sslmode=verify-full");
    }

    TEST_CASE("connection_options: redacted drops passwords put in parameters") {
        connection_options options;
        options.password = "top-secret-1";
        options.parameters = {{"password", "top-secret-2"},
                              {"sslpassword", "top-secret-3"},
                              {"PASSWORD", "top-secret-4"},
                              {"sslmode", "require"}};
        const auto url = options.redacted();
        CHECK_FALSE(contains(url, "top-secret"));
        CHECK(contains(url, "sslmode=require"));
        CHECK(contains(url, ":***@"));
    }

    TEST_CASE("connection_options: redacted rounds connect_timeout up to seconds") {
        connection_options options;
        options.connect_timeout = 1ms;
        CHECK(contains(options.redacted(), "connect_timeout=1"));
        options.connect_timeout = 2000ms;
        CHECK(contains(options.redacted(), "connect_timeout=2"));
        options.connect_timeout = 2001ms;
        CHECK(contains(options.redacted(), "connect_timeout=3"));
        options.connect_timeout = 0ms;
        CHECK(contains(options.redacted(), "connect_timeout=0"));
        options.connect_timeout.reset();
        CHECK_FALSE(contains(options.redacted(), "connect_timeout"));
    }

    TEST_CASE("connection_options: parse of redacted gives back everything but the password") {
        for (const auto* input : {
                 "postgresql://alice:s3cret@db.example.com:6543/orders?sslmode=verify-full",
                 "postgresql://[::1]:5433,[fe80::1%25eth0],h3/db?target_session_attrs=any",
                 "postgresql://%2Fvar%2Frun%2Fpostgresql/db",
                 "postgresql:///db?host=/tmp&port=5433&connect_timeout=0",
                 "postgresql://:5433",
                 "postgresql://,,",
                 "postgresql://u%3Ax%40y:p%40ss@h/d%2Fb?application_name=&options=-c%20a%3Db",
                 "host=a,b,c port=1,,3 user=x password='p w' dbname='d b' sslmode=require",
                 "host=db1 hostaddr=10.0.0.1 sslpassword=k sslkey=/k.pem",
                 "hostaddr=10.0.0.1,10.0.0.2 connect_timeout=30 application_name='\xC3\xA9'",
                 "sslmode=require sslmode=disable options=",
                 "",
             }) {
            INFO("input: ", std::string{input});
            check_round_trip(parse_ok(input));
        }
    }

    // ---- to_keywords() ---------------------------------------------------------------------

    TEST_CASE("connection_options: to_keywords lists everything libpq needs") {
        const auto options = parse_ok(
            "postgresql://alice:s3cret@[::1]:5433,db2,%2Ftmp:6000/orders"
            "?connect_timeout=5&sslmode=require&application_name=svc");
        CHECK(options.to_keywords() == std::vector<connection_parameter>{
                                           {"host", "::1,db2,/tmp"},
                                           {"port", "5433,,6000"},
                                           {"dbname", "orders"},
                                           {"user", "alice"},
                                           {"password", "s3cret"},
                                           {"application_name", "svc"},
                                           {"connect_timeout", "5"},
                                           {"sslmode", "require"},
                                       });
    }

    TEST_CASE("connection_options: to_keywords defaults and rounding") {
        CHECK(connection_options{}.to_keywords() == std::vector<connection_parameter>{
                                                        {"application_name", "pgkit"},
                                                        {"connect_timeout", "10"},
                                                    });
        connection_options options;
        options.application_name.clear();
        options.connect_timeout = 1200ms;
        CHECK(options.to_keywords() == std::vector<connection_parameter>{{"connect_timeout", "2"}});
        options.connect_timeout = 0ms;
        CHECK(options.to_keywords() == std::vector<connection_parameter>{{"connect_timeout", "0"}});
        options.hosts = {{"a", std::nullopt}, {"b", std::nullopt}};
        CHECK(options.to_keywords().front() == connection_parameter{"host", "a,b"});
        CHECK(options.to_keywords().size() == 2);  // no port list when no port is set
    }

    TEST_CASE("connection_options: to_keywords keeps hostaddr and drops shadowed duplicates") {
        const auto hostaddr_only = parse_ok("hostaddr=10.0.0.1");
        CHECK(hostaddr_only.to_keywords().front() == connection_parameter{"host", "10.0.0.1"});
        const auto both = parse_ok("host=db1 hostaddr=10.0.0.1");
        const auto keywords = both.to_keywords();
        CHECK(keywords.front() == connection_parameter{"host", "db1"});
        CHECK(keywords.back() == connection_parameter{"hostaddr", "10.0.0.1"});

        connection_options hand_built;
        hand_built.user = "real";
        hand_built.parameters = {
            {"user", "shadow"}, {"sslmode", "require"}, {"sslmode", "disable"}};
        const auto built = hand_built.to_keywords();
        CHECK(std::find(built.begin(), built.end(), connection_parameter{"user", "shadow"}) ==
              built.end());
        CHECK(built.back() == connection_parameter{"sslmode", "disable"});
    }

    // ---- redact_secrets() ------------------------------------------------------------------

    TEST_CASE("connection_options: redact_secrets removes conninfo passwords") {
        using pgkit::redact_secrets;
        CHECK(redact_secrets("host=h password=hunter2 user=u") == "host=h password=*** user=u");
        CHECK(redact_secrets("host=h PassWord = hunter2") == "host=h PassWord = ***");
        CHECK(redact_secrets(R"(password='hunter 2\'s' user=u)") == "password=*** user=u");
        CHECK(redact_secrets(R"(password=hun\ ter2 x)") == "password=*** x");
        CHECK(redact_secrets("password='unterminated hunter2") == "password=***");
        CHECK(redact_secrets("password=hunter2") == "password=***");
        CHECK(redact_secrets("sslpassword=hunter2 PGPASSWORD=hunter3") ==
              "sslpassword=*** PGPASSWORD=***");
        // As in libpq, blanks after '=' are skipped: the password here is "user=u".
        CHECK(redact_secrets("password= user=u") == "password= ***");
        CHECK(redact_secrets("password authentication failed for user \"u\"") ==
              "password authentication failed for user \"u\"");
        CHECK(redact_secrets("a password=x and password=y") == "a password=*** and password=***");
        CHECK(redact_secrets("") == "");
        CHECK(redact_secrets("password") == "password");
        CHECK(redact_secrets("password=") == "password=");
        CHECK(redact_secrets("trailing backslash password=abc\\") ==
              "trailing backslash password=***");
    }

    TEST_CASE("connection_options: redact_secrets removes URL userinfo passwords") {
        using pgkit::redact_secrets;
        CHECK(redact_secrets("connecting to postgresql://bob:hunter2@db:5432/app failed") ==
              "connecting to postgresql://bob:***@db:5432/app failed");
        CHECK(redact_secrets("postgres://bob@db/app") == "postgres://bob@db/app");
        CHECK(redact_secrets("postgresql://db:5432/app") == "postgresql://db:5432/app");
        CHECK(redact_secrets("redis://:hunter2@cache") == "redis://:***@cache");
        CHECK(redact_secrets("postgresql://bob:hun@ter2@db/app") == "postgresql://bob:***@db/app");
        CHECK(redact_secrets("postgresql://bob:hun/ter2@db/app") == "postgresql://bob:***@db/app");
        // Up to the last '@' on the line: a raw "://", blank or '@' in a password cannot leave a
        // part of it, at the price of hiding too much when a line holds two URLs.
        CHECK(redact_secrets("a postgresql://u:p1@h and postgresql://v:p2@k") ==
              "a postgresql://u:***@k");
        CHECK(redact_secrets("a postgresql://u:p1@h\nand postgresql://v:p2@k") ==
              "a postgresql://u:***@h\nand postgresql://v:***@k");
        CHECK(redact_secrets("postgresql://u:@h") == "postgresql://u:@h");
        CHECK(redact_secrets("postgresql://h/db?password=hunter2&sslmode=require") ==
              "postgresql://h/db?password=***&sslmode=require");
        // Raw blanks in a password are legal in a libpq URL.
        CHECK(redact_secrets("postgresql://bob:hun ter2@db/app") == "postgresql://bob:***@db/app");
        CHECK(redact_secrets("url postgresql://u:hunter2\t@h/x\nnext line a:b@c") ==
              "url postgresql://u:***@h/x\nnext line a:b@c");
        // libpq would read "h\nnext line a" as part of the password here: so do we.
        CHECK(redact_secrets("postgresql://u:hunter2\nnext line a:b@c") == "postgresql://u:***@c");
        CHECK(redact_secrets("postgresql://h/db?sslmode=require&password=hun ter2&x=1") ==
              "postgresql://h/db?sslmode=require&password=***&x=1");
        CHECK(redact_secrets("postgresql://h/db?sslpassword=k%20k&password=p") ==
              "postgresql://h/db?sslpassword=***&password=***");
        CHECK(redact_secrets("://") == "://");
        CHECK(redact_secrets("x://:@") == "x://:@");
        // A password that contains "password=" is removed whole; the pair reading hides the
        // rest of that token too (too much, never too little).
        CHECK(redact_secrets("postgresql://app:hunter2password=x@db.example.com/shop") ==
              "postgresql://app:***");
        CHECK(redact_secrets("see postgresql://app:a password=b@db/x and password=c") ==
              "see postgresql://app:*** and password=***");
        // "://" inside a password does not start another URL.
        CHECK(redact_secrets("postgresql://u:pass://word@h/db") == "postgresql://u:***@h/db");
        CHECK(redact_secrets("postgresql://u:hun ter2://x@h") == "postgresql://u:***@h");
        // No '@': libpq reads the password as a port, so a port that is not digits is hidden.
        CHECK(redact_secrets("postgresql://u:secret") == "postgresql://u:***");
        CHECK(redact_secrets("postgresql://h1:5432,[::1]:5433/db") ==
              "postgresql://h1:5432,[::1]:5433/db");
    }

    TEST_CASE("connection_options: redact_secrets hides what parse would accept") {
        for (const auto* input : {
                 "postgresql://u:hunter2@h/db",
                 "postgresql://u:hunter2@[::1]:5432,h2/db?sslmode=require",
                 "host=h password=hunter2",
                 "host=h password='hunter2'",
                 "password = hunter2 host=h",
                 "postgresql://h/db?password=hunter2",
                 "postgresql://h/db?password=hun%20ter2&sslmode=require",
                 "postgresql://u:hun ter2@h/db",
                 "postgresql://u:hun\tter2@h/db",
                 "postgresql://u:hun\nter2@h/db",
                 "postgresql://u:hun\rter2@h/db?password=x",
                 "password=\nhunter2",
                 "postgresql://h/db?password=hun%0Ater2",
                 "postgresql://h/db?password=hun\nter2",
                 "postgresql://h/db?password=hunter2&password=x",
                 "user=u password=hunter2\npassword=x",
                 "host=h password=hun\\ ter2",
                 "host=h password='hun ter2' sslmode=require",
             }) {
            INFO("input: ", std::string{input});
            // Every password in the input (even an overridden one) is "hunter2" split somehow.
            CHECK(parse_ok(input).password.size() > 0);
            const auto redacted = pgkit::redact_secrets(input);
            CHECK_FALSE(contains(redacted, "hun"));
            CHECK_FALSE(contains(redacted, "ter2"));
        }
    }

    // ---- from_environment() ----------------------------------------------------------------

    TEST_CASE("connection_options: from_environment with nothing set yields defaults") {
        scoped_environment env;
        auto options = connection_options::from_environment();
        REQUIRE(options.has_value());
        CHECK(*options == connection_options{});
    }

    TEST_CASE("connection_options: from_environment prefers DATABASE_URL") {
        scoped_environment env;
        env.set("DATABASE_URL", "postgresql://u:pw@db:6000/app?sslmode=require");
        env.set("PGHOST", "ignored");
        env.set("PGPORT", "not-a-port");
        auto options = connection_options::from_environment();
        REQUIRE(options.has_value());
        CHECK(options->hosts == std::vector<host_address>{{"db", 6000}});
        CHECK(options->user == "u");
        CHECK(options->password == "pw");
        CHECK(options->parameter("sslmode") == "require");

        env.set("DATABASE_URL", "host=h dbname=d");
        options = connection_options::from_environment();
        REQUIRE(options.has_value());
        CHECK(options->dbname == "d");
    }

    TEST_CASE("connection_options: from_environment reads PG variables") {
        scoped_environment env;
        env.set("DATABASE_URL", "");
        env.set("PGHOST", "h1,h2");
        env.set("PGPORT", "5433");
        env.set("PGDATABASE", "app");
        env.set("PGUSER", "svc");
        env.set("PGPASSWORD", "pw");
        env.set("PGAPPNAME", "worker");
        env.set("PGCONNECT_TIMEOUT", "4");
        env.set("PGSSLMODE", "verify-ca");
        env.set("PGTARGETSESSIONATTRS", "read-write");
        env.set("PGOPTIONS", "-c statement_timeout=5s");
        env.set("PGCLIENTENCODING", "UTF8");
        env.set("PGSSLROOTCERT", "/ca.pem");
        env.set("PGSSLCERT", "/c.pem");
        env.set("PGSSLKEY", "/k.pem");
        env.set("PGPASSFILE", "/pgpass");
        env.set("PGSERVICE", "svc");
        env.set("PGCHANNELBINDING", "prefer");
        env.set("PGGSSENCMODE", "disable");
        auto options = connection_options::from_environment();
        const std::string error = options ? "" : options.error().message();
        INFO("error: ", error);
        REQUIRE(options.has_value());
        CHECK(options->hosts == std::vector<host_address>{{"h1", 5433}, {"h2", 5433}});
        CHECK(options->dbname == "app");
        CHECK(options->user == "svc");
        CHECK(options->password == "pw");
        CHECK(options->application_name == "worker");
        CHECK(options->connect_timeout == 4s);
        CHECK(options->parameters == std::vector<connection_parameter>{
                                         {"sslmode", "verify-ca"},
                                         {"target_session_attrs", "read-write"},
                                         {"options", "-c statement_timeout=5s"},
                                         {"client_encoding", "UTF8"},
                                         {"sslrootcert", "/ca.pem"},
                                         {"sslcert", "/c.pem"},
                                         {"sslkey", "/k.pem"},
                                         {"passfile", "/pgpass"},
                                         {"service", "svc"},
                                         {"channel_binding", "prefer"},
                                         {"gssencmode", "disable"},
                                     });
    }

    TEST_CASE("connection_options: from_environment maps PGHOSTADDR") {
        scoped_environment env;
        env.set("PGHOSTADDR", "10.1.2.3");
        auto options = connection_options::from_environment();
        REQUIRE(options.has_value());
        CHECK(options->hosts == std::vector<host_address>{{"10.1.2.3", std::nullopt}});
        env.set("PGHOST", "db.internal");
        options = connection_options::from_environment();
        REQUIRE(options.has_value());
        CHECK(options->hosts == std::vector<host_address>{{"db.internal", std::nullopt}});
        CHECK(options->parameter("hostaddr") == "10.1.2.3");
    }

    TEST_CASE("connection_options: from_environment validates like parse") {
        scoped_environment env;
        env.set("PGPORT", "abc");
        auto options = connection_options::from_environment();
        REQUIRE_FALSE(options.has_value());
        CHECK(options.error().code() == errc::invalid_argument);
        CHECK(options.error().message() == "invalid port 'abc' in PGPORT (expected 1 to 65535)");

        env.set("PGPORT", "hunter2");
        env.set("PGPASSWORD", "hunter2");
        options = connection_options::from_environment();
        REQUIRE_FALSE(options.has_value());
        CHECK_FALSE(contains(options.error().message(), "hunter2"));

        env.set("PGPORT", "5432");
        env.set("PGSSLMODE", "bogus");
        options = connection_options::from_environment();
        REQUIRE_FALSE(options.has_value());
        CHECK(contains(options.error().message(), "invalid sslmode 'bogus' in PGSSLMODE"));

        env.set("PGSSLMODE", "require");
        env.set("PGCONNECT_TIMEOUT", "-5");
        options = connection_options::from_environment();
        REQUIRE_FALSE(options.has_value());
        CHECK(contains(options.error().message(), "PGCONNECT_TIMEOUT"));

        env.set("DATABASE_URL", "postgresql://u:hunter2@h:hunter2/db");
        options = connection_options::from_environment();
        REQUIRE_FALSE(options.has_value());
        CHECK(contains(options.error().message(), "invalid DATABASE_URL: invalid port"));
        CHECK_FALSE(contains(options.error().message(), "hunter2"));
    }

    // ---- is_libpq_keyword() ----------------------------------------------------------------

    TEST_CASE("connection_options: load_balance_hosts is accepted whatever libpq is linked") {
        const auto url = parse_ok("postgresql://a:1,b:2/db?load_balance_hosts=random");
        CHECK(url.parameter("load_balance_hosts") == "random");
        CHECK(url.hosts.size() == 2);
        const auto conninfo = parse_ok("host=a,b port=1,2 load_balance_hosts=disable");
        CHECK(conninfo.parameter("load_balance_hosts") == "disable");
        CHECK(contains(parse_error("host=a load_balance_hosts=sometimes"), "load_balance_hosts"));
        // Malformed host and port lists of a multi-host URL are refused, naming the part.
        CHECK(contains(parse_error("host=a,b port=1,2,3"), "could not match 3 port numbers"));
        CHECK(contains(parse_error("host=a,b,c port=1,2"), "could not match"));
        CHECK(contains(parse_error("postgresql://a:70000,b/db"), "invalid port"));
        CHECK(contains(parse_error("postgresql://a,[/db"), "']'"));
    }

    TEST_CASE("connection_options: the keyword list is the linked libpq's own") {
        // Every keyword PQconndefaults lists passes, whatever libpq version is linked.
        std::vector<std::string> listed;
        PQconninfoOption* defaults = PQconndefaults();
        REQUIRE(defaults != nullptr);
        for (const PQconninfoOption* option = defaults; option->keyword != nullptr; ++option) {
            listed.emplace_back(option->keyword);
        }
        PQconninfoFree(defaults);
        CHECK(listed.size() >= 30);
        for (const auto& keyword : listed) {
            CHECK_MESSAGE(pgkit::is_libpq_keyword(keyword), keyword);
            // Usable in a URL query unless it has a field of its own.
            auto parsed = connection_options::parse("postgresql://h/db?" + keyword + "=");
            CHECK_MESSAGE(parsed.has_value(), keyword);
        }
        for (const auto* keyword : {"", "HOST", "ssl", "foo", "host ", "sslmode\n", "db"}) {
            CHECK_FALSE_MESSAGE(pgkit::is_libpq_keyword(keyword), keyword);
        }
        // Keywords a libpq version does not list are refused at parse time, not at connect time
        // (libpq 15 dropped requiressl from its list; 16 added load_balance_hosts).
        for (const std::string keyword : {"requiressl", "load_balance_hosts", "require_auth"}) {
            const bool known = std::find(listed.begin(), listed.end(), keyword) != listed.end();
            CHECK(pgkit::is_libpq_keyword(keyword) == known);
            auto parsed = connection_options::parse("host=h " + keyword + "=1");
            CHECK_MESSAGE(parsed.has_value() == known, keyword);
            if (!known) {
                CHECK(parsed.error().code() == errc::invalid_argument);
                CHECK(contains(parsed.error().message(), keyword));
            }
        }
    }
}
