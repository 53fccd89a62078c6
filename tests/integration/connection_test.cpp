// Opening sessions, pinned settings, statements, prepared statements and COPY against a real
// server.
#include "pgkit/connection.hpp"

#include "pgkit/types/bytea.hpp"
#include "pgkit/types/chrono.hpp"

#include "support/scalar_query.hpp"
#include "support/silent_listener.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace {

using pgkit::test::scalar;
using pgkit::test::show;

}  // namespace

TEST_SUITE("connection") {
    TEST_CASE("connection: sends no options of its own and decodes what the server uses") {
        auto options = pgkit::test::server_options();
        options.application_name = "pgkit-settings-test";
        auto plain = pgkit::connection::open(options);
        REQUIRE(plain);
        CHECK(show(*plain, "client_encoding") == "UTF8");
        CHECK(show(*plain, "application_name") == "pgkit-settings-test");
        // Nothing pinned: the server's own defaults stay (a proxy that refuses the options
        // startup parameter accepts this session).
        CHECK(scalar<std::string>(
                  *plain, "SELECT source FROM pg_settings WHERE name = 'TimeZone'") != "client");
        CHECK(plain->server_version() >= 100000);
        CHECK(plain->backend_pid() > 0);
        CHECK(plain->is_open());
        CHECK(plain->status() == pgkit::transaction_status::idle);

        // Whatever TimeZone, IntervalStyle, bytea_output and extra_float_digits the session
        // uses, values decode to the same thing; the caller's own -c settings are kept.
        options.parameters.emplace_back(
            "options",
            "-c TimeZone=Asia/Kolkata -c bytea_output=escape -c extra_float_digits=0 "
            "-c IntervalStyle=sql_standard -c work_mem=8MB");
        auto odd = pgkit::connection::open(options);
        REQUIRE(odd);
        CHECK(show(*odd, "work_mem") == "8MB");
        using micros_time = std::chrono::sys_time<std::chrono::microseconds>;
        const micros_time instant = std::chrono::sys_days{std::chrono::year{2024} / 3 / 10} +
                                    std::chrono::hours{21} + std::chrono::minutes{30};
        for (auto* conn : {&*plain, &*odd}) {
            auto row = conn->execute(
                               "SELECT $1::timestamptz, '\\x00ff5c27'::bytea, 0.1::float8, "
                               "1e-300::float8",
                               instant)
                           ->one();
            REQUIRE(row);
            auto fields = row->template as<micros_time, std::vector<std::byte>, double, double>();
            REQUIRE(fields);
            auto [when, bytes, tenth, tiny] = *fields;
            CHECK(when == instant);
            CHECK(bytes == std::vector<std::byte>{std::byte{0x00}, std::byte{0xff}, std::byte{0x5c},
                                                  std::byte{0x27}});
            CHECK(tenth == 0.1);
            CHECK(tiny == 1e-300);
        }

        // A DateStyle whose output pgkit cannot read is refused when connecting, naming it.
        auto sql_style = pgkit::test::server_options();
        sql_style.parameters.emplace_back("options", "-c DateStyle=SQL,DMY");
        auto refused = pgkit::connection::open(sql_style);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == pgkit::errc::connection_failed);
        CHECK(refused.error().message().find("DateStyle") != std::string::npos);
    }

    TEST_CASE("connection: a refused port is connection_failed, with the target redacted") {
        auto options = pgkit::test::server_options();
        options.hosts = {{"127.0.0.1", std::uint16_t{1}}};  // nothing listens on port 1
        options.password = "hunter2-very-secret";
        auto conn = pgkit::connection::open(options);
        REQUIRE_FALSE(conn);
        CHECK(conn.error().code() == pgkit::errc::connection_failed);
        CHECK(conn.error().message().find("hunter2") == std::string::npos);
        CHECK(conn.error().message().find("127.0.0.1") != std::string::npos);
        CHECK(conn.error().sqlstate().empty());
        CHECK(conn.error().is_retryable());  // a server that is down may come back
    }

    TEST_CASE("connection: several hosts share one connect budget, a silent one only its part") {
        pgkit::test::silent_listener hung;  // swallows the connect: only a timeout ends it
        auto options = pgkit::test::server_options();
        const auto server = options.hosts.at(0);
        options.hosts = {{"127.0.0.1", hung.port()}, server};
        options.connect_timeout = std::chrono::seconds{4};
        const auto start = std::chrono::steady_clock::now();
        auto conn = pgkit::connection::open(options);
        REQUIRE(conn.has_value());
        // The silent host had half the budget; the server behind it got the rest.
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds{4});
        CHECK(conn->connected_host() == server);

        // Every host silent: one budget for all, and each host named in the message.
        pgkit::test::silent_listener other;
        options.hosts = {{"127.0.0.1", hung.port()}, {"127.0.0.1", other.port()}};
        options.connect_timeout = std::chrono::seconds{2};
        const auto both_start = std::chrono::steady_clock::now();
        auto refused = pgkit::connection::open(options);
        REQUIRE_FALSE(refused.has_value());
        CHECK(std::chrono::steady_clock::now() - both_start < std::chrono::seconds{3});
        CHECK(refused.error().code() == pgkit::errc::connection_failed);
        CHECK(refused.error().message().find(std::to_string(other.port())) != std::string::npos);
    }

    TEST_CASE("connection: load_balance_hosts=random spreads connects over the hosts") {
        auto options = pgkit::test::server_options();
        const auto port = options.hosts.at(0).port;
        options.hosts = {{"127.0.0.1", port}, {"localhost", port}};  // one server, two names
        std::set<std::string> reached;
        for (int i = 0; i < 10; ++i) {
            auto conn = pgkit::connection::open(options);
            REQUIRE(conn.has_value());
            reached.insert(conn->connected_host().host);
        }
        CHECK(reached == std::set<std::string>{"127.0.0.1"});  // in order without it
        options.parameters.emplace_back("load_balance_hosts", "random");
        reached.clear();
        for (int i = 0; i < 60 && reached.size() < 2; ++i) {
            auto conn = pgkit::connection::open(options);
            REQUIRE(conn.has_value());
            reached.insert(conn->connected_host().host);
        }
        CHECK(reached == std::set<std::string>{"127.0.0.1", "localhost"});
    }

    TEST_CASE("connection: a server that never answers fails within connect_timeout") {
        pgkit::test::silent_listener hung;
        auto options = pgkit::test::server_options();
        options.hosts = {{"127.0.0.1", hung.port()}};
        options.connect_timeout = std::chrono::milliseconds{200};
        const auto started = std::chrono::steady_clock::now();
        auto conn = pgkit::connection::open(options);
        const auto waited = std::chrono::steady_clock::now() - started;
        REQUIRE_FALSE(conn);
        CHECK(conn.error().code() == pgkit::errc::connection_failed);
        CHECK(conn.error().message().find("timed out") != std::string::npos);
        CHECK(waited < std::chrono::seconds{10});  // bounded: never a hang
    }

    TEST_CASE("connection: a wrong password is refused without echoing it") {
        auto admin = pgkit::test::connect_to_server();
        REQUIRE(admin.execute_script(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
            "'pgkit_password_user') THEN CREATE ROLE pgkit_password_user LOGIN PASSWORD "
            "'right-password'; END IF; END $$"));
        auto options = pgkit::test::server_options();
        options.user = "pgkit_password_user";
        options.password = "Wr0ng-p4ss'word";
        auto refused = pgkit::connection::open(options);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == pgkit::errc::connection_failed);
        CHECK(refused.error().sqlstate() == "28P01");
        CHECK_FALSE(refused.error().is_retryable());  // the same password will fail again
        CHECK(refused.error().message().find("Wr0ng") == std::string::npos);
        CHECK(refused.error().to_string().find("Wr0ng") == std::string::npos);

        options.password = "right-password";
        auto accepted = pgkit::connection::open(options);
        REQUIRE(accepted);
        CHECK(show(*accepted, "session_authorization") == "pgkit_password_user");
    }

    TEST_CASE("connection: an unknown database is connection_failed with its SQLSTATE") {
        auto options = pgkit::test::server_options();
        options.dbname = "pgkit_no_such_database";
        auto conn = pgkit::connection::open(options);
        REQUIRE_FALSE(conn);
        CHECK(conn.error().code() == pgkit::errc::connection_failed);
        CHECK(conn.error().sqlstate() == "3D000");
        CHECK_FALSE(conn.error().is_retryable());
        CHECK(conn.error().message().find("pgkit_no_such_database") != std::string::npos);
        CHECK(conn.error().message().find("LOCATION") == std::string::npos);
    }

    TEST_CASE("connection: bound parameters are data, never SQL") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script("CREATE TABLE notes (body text)"));
        const std::vector<std::string> hostile{
            "'; DROP TABLE notes; --", "$1", "\\", "\"", "/* comment", "O'Reilly", "\xe2\x80\x8b",
            std::string(100'000, 'x')};
        for (const auto& body : hostile) {
            REQUIRE(conn.execute("INSERT INTO notes VALUES ($1)", body));
            auto back = conn.execute("SELECT body FROM notes WHERE body = $1", body)
                            .and_then(&pgkit::query_result::scalar<std::string>);
            REQUIRE(back);
            CHECK(*back == body);
        }
        auto count = conn.execute("SELECT count(*) FROM notes")
                         .and_then(&pgkit::query_result::scalar<std::int64_t>);
        REQUIRE(count);
        CHECK(*count == static_cast<std::int64_t>(hostile.size()));
    }

    TEST_CASE("connection: a row keeps its result alive after the statement and after moves") {
        auto conn = pgkit::test::connect_to_server();
        // The result of execute() is a temporary: the row must not dangle.
        auto only = conn.execute("SELECT 7::int4 AS n, repeat('x', 100) AS s")->one();
        REQUIRE(only);
        const pgkit::row kept = *only;
        CHECK(kept.get<std::int32_t>("n").value() == 7);
        CHECK(kept.get<std::string>(1).value() == std::string(100, 'x'));

        auto chained = conn.execute("SELECT 'chained'::text").and_then(&pgkit::query_result::one);
        REQUIRE(chained);
        CHECK(chained->get<std::string>(0).value() == "chained");

        // Rows taken before a move of the query_result still read the same values.
        auto rows = conn.execute("SELECT g FROM generate_series(1, 3) g");
        REQUIRE(rows);
        pgkit::query_result original = std::move(*rows);
        std::vector<pgkit::row> taken;
        for (const pgkit::row& r : original) {
            taken.push_back(r);
        }
        pgkit::query_result moved = std::move(original);
        CHECK(original.size() == 0);
        REQUIRE(taken.size() == 3);
        CHECK(taken[2].get<std::int32_t>(0).value() == 3);
        CHECK(moved[1].get<std::int32_t>(0).value() == 2);
    }

    TEST_CASE("connection: reads rows by index, by name and as tuples") {
        auto conn = pgkit::test::connect_to_server();
        auto rows = conn.execute(
            "SELECT g AS n, 'row ' || g AS label, CASE WHEN g % 2 = 0 THEN NULL ELSE g END AS odd "
            "FROM generate_series(1, 4) g ORDER BY g");
        REQUIRE(rows);
        CHECK(rows->size() == 4);
        CHECK(rows->columns() == 3);
        CHECK(rows->column_name(1) == "label");
        std::int64_t sum = 0;
        for (const pgkit::row& r : *rows) {
            auto fields = r.as<std::int32_t, std::string, std::optional<std::int32_t>>();
            REQUIRE(fields);
            auto [n, label, odd] = *fields;
            CHECK(label == fmt::format("row {}", n));
            CHECK(odd.has_value() == (n % 2 == 1));
            sum += n;
        }
        CHECK(sum == 10);
        CHECK((*rows)[2].get<std::string>("label").value() == "row 3");
        auto unknown = (*rows)[0].get<std::string>("no_such_column");
        REQUIRE_FALSE(unknown);
        CHECK(unknown.error().code() == pgkit::errc::invalid_argument);
        auto out_of_range = (*rows)[0].get<std::string>(7);
        REQUIRE_FALSE(out_of_range);
        CHECK(out_of_range.error().code() == pgkit::errc::invalid_argument);
        CHECK_FALSE((*rows)[0].as<std::int32_t>());  // wrong column count
        auto several = rows->one();
        REQUIRE_FALSE(several);
        CHECK(several.error().code() == pgkit::errc::invalid_argument);
    }

    TEST_CASE("connection: prepared statements run with parameters") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE TABLE items (id int PRIMARY KEY, name text);"
            "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g"));
        REQUIRE(conn.prepare("item_by_id", "SELECT name FROM items WHERE id = $1"));
        for (std::int32_t id : {1, 5, 10}) {
            auto name = conn.execute_prepared("item_by_id", id)
                            .and_then(&pgkit::query_result::scalar<std::string>);
            REQUIRE(name);
            CHECK(*name == fmt::format("item {}", id));
        }
        auto missing = conn.execute_prepared("no_such_statement", 1);
        REQUIRE_FALSE(missing);
        CHECK(missing.error().sqlstate() == "26000");
        auto duplicate = conn.prepare("item_by_id", "SELECT 1");
        REQUIRE_FALSE(duplicate);
        CHECK(duplicate.error().sqlstate() == "42P05");
        auto update = conn.execute("UPDATE items SET name = name || '!' WHERE id <= $1", 3);
        REQUIRE(update);
        CHECK(update->affected_rows() == 3);
    }

    TEST_CASE("connection: COPY stores special characters and NULLs verbatim") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script("CREATE TABLE lines (id int PRIMARY KEY, body text)"));
        const std::vector<std::optional<std::string>> bodies{"tab\there",
                                                             "new\nline",
                                                             "back\\slash",
                                                             "\\N",
                                                             "carriage\rreturn",
                                                             std::nullopt,
                                                             "",
                                                             "unicode \xf0\x9f\x98\x80"};
        auto copy = conn.copy_in("lines", {"id", "body"});
        REQUIRE(copy);
        for (std::size_t i = 0; i < bodies.size(); ++i) {
            REQUIRE(copy->write_row(static_cast<std::int32_t>(i), bodies[i]));
        }
        auto stored = copy->finish();
        REQUIRE(stored);
        CHECK(*stored == bodies.size());
        auto rows = conn.execute("SELECT body FROM lines ORDER BY id");
        REQUIRE(rows);
        REQUIRE(rows->size() == bodies.size());
        for (std::size_t i = 0; i < bodies.size(); ++i) {
            CHECK((*rows)[i].get<std::optional<std::string>>(0).value() == bodies[i]);
        }
    }

    TEST_CASE("connection: a failed COPY reports the constraint and leaves the session usable") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        REQUIRE(conn.execute_script("CREATE TABLE ids (id int CONSTRAINT ids_pk PRIMARY KEY)"));
        auto copy = conn.copy_in("ids", {"id"});
        REQUIRE(copy);
        REQUIRE(copy->write_row(1));
        REQUIRE(copy->write_row(1));
        auto stored = copy->finish();
        REQUIRE_FALSE(stored);
        CHECK(stored.error().code() == pgkit::errc::unique_violation);
        CHECK(stored.error().constraint_name() == "ids_pk");
        CHECK(conn.execute("SELECT 1"));

        {
            auto abandoned = conn.copy_in("ids", {"id"});
            REQUIRE(abandoned);
            REQUIRE(abandoned->write_row(7));
        }  // destroyed without finish(): the COPY is aborted, nothing is stored
        auto count = conn.execute("SELECT count(*) FROM ids")
                         .and_then(&pgkit::query_result::scalar<std::int64_t>);
        REQUIRE(count);
        CHECK(*count == 0);

        auto bad_table = conn.copy_in("", {"id"});
        REQUIRE_FALSE(bad_table);
        CHECK(bad_table.error().code() == pgkit::errc::invalid_argument);
        auto missing = conn.copy_in("no_such_table", {"id"});
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code() == pgkit::errc::undefined_table);
    }

    TEST_CASE("connection: quoted identifiers survive hostile names") {
        pgkit::test::scratch_schema schema;
        auto conn = schema.connect();
        for (std::string name : {"Mixed Case", "with\"quote", "semi;colon --", "ünïcödé"}) {
            auto quoted = pgkit::connection::quote_identifier(name);
            REQUIRE(quoted);
            REQUIRE(conn.execute_script(fmt::format("CREATE TABLE {} (v int)", *quoted)));
            auto found = conn.execute(
                                 "SELECT count(*) FROM pg_tables WHERE tablename = $1 AND "
                                 "schemaname = $2",
                                 name, schema.name())
                             .and_then(&pgkit::query_result::scalar<std::int64_t>);
            REQUIRE(found);
            CHECK(*found == 1);
        }
    }

    TEST_CASE("connection: a moved-from connection reports an error instead of crashing") {
        auto conn = pgkit::test::connect_to_server();
        pgkit::connection moved = std::move(conn);
        CHECK(moved.execute("SELECT 1"));
        auto empty = conn.execute("SELECT 1");  // NOLINT(bugprone-use-after-move): on purpose
        REQUIRE_FALSE(empty);
        CHECK(empty.error().code() == pgkit::errc::invalid_argument);
        CHECK_FALSE(conn.is_open());
        CHECK(conn.description().empty());
        CHECK_FALSE(conn.cancel());
    }
}
