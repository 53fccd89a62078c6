// COPY (query) TO STDOUT: connection::copy_out and repository::export_where against the real
// server. Exported rows equal a plain SELECT's for every mapped type, parameters become
// literals that stay values, a sink that stops leaves the connection (and the pool's next lease)
// usable, and a session terminated midway is connection_lost without a hang.
#include "pgkit/connection.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"
#include "pgkit/types/array.hpp"
#include "pgkit/types/bytea.hpp"
#include "pgkit/types/chrono.hpp"
#include "pgkit/types/enum_mapping.hpp"
#include "pgkit/types/json.hpp"
#include "pgkit/types/numeric.hpp"
#include "pgkit/types/uuid.hpp"

#include "integration/pool_test_support.hpp"
#include "support/scalar_query.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace copy_out_test {
enum class shade { light, dark };
}

template <>
struct pgkit::enum_mapping<copy_out_test::shade> {
    static constexpr std::string_view pg_type = "shade";
    static constexpr std::array values{
        std::pair{copy_out_test::shade::light, std::string_view{"light\tgrey"}},
        std::pair{copy_out_test::shade::dark, std::string_view{"dark \\ \"deep\""}}};
};

namespace {

using namespace std::chrono_literals;
using copy_out_test::shade;
using pgkit::errc;
using pgkit::test::scalar;
using time_point = std::chrono::system_clock::time_point;

struct everything {
    std::int64_t id = 0;
    bool flag = false;
    std::int16_t small = 0;
    std::int32_t medium = 0;
    std::int64_t big = 0;
    float real = 0;
    double dbl = 0;
    std::string text;
    std::vector<std::byte> blob;
    time_point at{};
    std::chrono::year_month_day day{};
    pgkit::numeric amount{std::int64_t{0}};
    pgkit::uuid ident{};
    pgkit::json doc{"null"};
    std::vector<std::int64_t> numbers;
    std::vector<std::optional<std::string>> words;
    shade tone = shade::light;
    std::optional<std::string> maybe_text;
    std::optional<time_point> maybe_at;

    bool operator==(const everything&) const = default;
};

}  // namespace

template <>
struct pgkit::entity<everything> {
    static constexpr std::string_view table = "everything";
    static constexpr auto columns = std::tuple{
        pgkit::column(&everything::id, "id"),
        pgkit::column(&everything::flag, "flag"),
        pgkit::column(&everything::small, "small"),
        pgkit::column(&everything::medium, "medium"),
        pgkit::column(&everything::big, "big"),
        pgkit::column(&everything::real, "real"),
        pgkit::column(&everything::dbl, "dbl"),
        pgkit::column(&everything::text, "text"),
        pgkit::column(&everything::blob, "blob"),
        pgkit::column(&everything::at, "at"),
        pgkit::column(&everything::day, "day"),
        pgkit::column(&everything::amount, "amount"),
        pgkit::column(&everything::ident, "ident"),
        pgkit::column(&everything::doc, "doc"),
        pgkit::column(&everything::numbers, "numbers"),
        pgkit::column(&everything::words, "words"),
        pgkit::column(&everything::tone, "tone"),
        pgkit::column(&everything::maybe_text, "maybe_text"),
        pgkit::column(&everything::maybe_at, "maybe_at"),
    };
    static constexpr auto primary_key = pgkit::key(&everything::id);
};

namespace {

constexpr std::string_view schema_sql = R"sql(
CREATE TYPE shade AS ENUM (E'light\tgrey', 'dark \ "deep"');
CREATE TABLE everything (
    id int8 PRIMARY KEY, flag bool, small int2, medium int4, big int8, "real" float4,
    dbl float8, text text, blob bytea, at timestamptz, day date, amount numeric, ident uuid,
    doc jsonb, numbers int8[], words text[], tone shade, maybe_text text, maybe_at timestamptz);
)sql";

std::vector<std::byte> every_byte() {
    std::vector<std::byte> out;
    for (int i = 0; i < 256; ++i) {
        out.push_back(static_cast<std::byte>(i));
    }
    return out;
}

std::vector<everything> awkward_rows() {
    using namespace std::chrono;
    std::vector<everything> rows;
    everything a;
    a.id = 1;
    a.flag = true;
    a.small = -32768;
    a.medium = 2147483647;
    a.big = -9223372036854775807 - 1;
    a.real = 3.4028235e38F;
    a.dbl = 0.1 + 0.2;
    a.text =
        "tab\there, newline\nhere, cr\rhere, back\\slash, \\N, quote's \"q\" "
        "\xC3\xA9\xF0\x9F\x98\x80";
    a.blob = every_byte();
    a.at = time_point{sys_days{2026y / 12 / 2}} + 14h + 5min + 1s + 123456us;
    a.day = year_month_day{2026y / 2 / 28};
    a.amount = pgkit::numeric::parse("-12345678901234567890.000123400").value();
    a.ident = pgkit::uuid::parse("123e4567-e89b-12d3-a456-426614174000").value();
    a.doc = pgkit::json{R"({"a": [1, "x\ty\\z\n"], "b": null})"};
    a.numbers = {1, -2, 9223372036854775807};
    a.words = {std::string{"a\tb"}, std::nullopt, std::string{"NULL"}, std::string{"{,}\"\\"},
               std::string{""}};
    a.tone = shade::light;
    a.maybe_text = std::string{"\\N"};
    a.maybe_at = time_point::max();
    rows.push_back(a);

    everything b;
    b.id = 2;
    b.text = "";
    b.blob = {};
    b.at = time_point{sys_days{1970y / 1 / 1}} - 1us;
    b.day = year_month_day{year{-44} / 3 / 15};
    b.amount = pgkit::numeric::parse("0").value();
    b.doc = pgkit::json{"[]"};
    b.tone = shade::dark;
    b.dbl = -0.0;
    rows.push_back(b);
    for (std::int64_t i = 3; i <= 50; ++i) {
        everything c = a;
        c.id = i;
        c.medium = static_cast<std::int32_t>(i);
        c.text = std::string(static_cast<std::size_t>(i), '\t') + "row " + std::to_string(i);
        c.maybe_text = std::nullopt;
        c.maybe_at = std::nullopt;
        rows.push_back(c);
    }
    return rows;
}

struct fixture {
    pgkit::test::scratch_schema schema;
    pgkit::connection conn = schema.connect();
    std::shared_ptr<pgkit::pool> pool;
    pgkit::repository<everything> repo{nullptr};

    explicit fixture(std::size_t pool_size = 2) {
        REQUIRE(conn.execute_script(schema_sql));
        pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, pool_size));
        repo = pgkit::repository<everything>{pool};
    }

    void seed_series(std::int64_t rows) {
        REQUIRE(conn.execute_script("CREATE TABLE series (n int8 PRIMARY KEY, label text)"));
        REQUIRE(
            conn.execute("INSERT INTO series SELECT n, 'label ' || n FROM "
                         "generate_series(1, $1::int8) AS n",
                         rows));
    }
};

/// The text of every field of every row `sql` returns, through a plain SELECT.
std::vector<std::vector<std::optional<std::string>>> selected(pgkit::connection& conn,
                                                              std::string_view sql) {
    auto rows = conn.execute(sql);
    REQUIRE_MESSAGE(rows, sql);
    std::vector<std::vector<std::optional<std::string>>> out;
    for (const auto& r : *rows) {
        auto& fields = out.emplace_back();
        for (std::size_t i = 0; i < r.size(); ++i) {
            auto text = r.text(i).value();
            fields.push_back(text ? std::optional<std::string>{std::string{*text}} : std::nullopt);
        }
    }
    return out;
}

}  // namespace

TEST_SUITE("copy out") {
    using namespace pgkit::filters;

    TEST_CASE("copy out: exported rows equal a plain SELECT's, for every mapped type") {
        fixture f;
        const auto rows = awkward_rows();
        REQUIRE(f.repo.insert_many(rows, 1).value() == rows.size());

        const std::string query = "SELECT * FROM everything ORDER BY id";
        std::vector<std::vector<std::optional<std::string>>> copied;
        auto count = f.conn.copy_out(query, [&](const pgkit::copy_row& r) -> pgkit::result<bool> {
            auto& fields = copied.emplace_back();
            for (std::size_t i = 0; i < r.size(); ++i) {
                auto text = r.field(i);
                fields.push_back(text ? std::optional<std::string>{std::string{*text}}
                                      : std::nullopt);
            }
            return true;
        });
        REQUIRE_MESSAGE(count, (count ? std::string{} : count.error().to_string()));
        CHECK(*count == rows.size());
        CHECK(copied == selected(f.conn, query));

        // Typed: export_where decodes every column as the repository's reads do.
        std::vector<everything> exported;
        auto typed = f.repo.export_where({}, [&](const everything& e) { exported.push_back(e); },
                                         {.order_by = {asc(&everything::id)}});
        REQUIRE_MESSAGE(typed, (typed ? std::string{} : typed.error().to_string()));
        CHECK(*typed == rows.size());
        REQUIRE(exported.size() == rows.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            CHECK_MESSAGE(exported[i] == rows[i], "row ", rows[i].id);
        }

        // copy_row::get<T> reads a field as row::get<T> does.
        auto first = f.conn.copy_out(
            "SELECT text, numbers, maybe_text FROM everything WHERE id = 1",
            [&](const pgkit::copy_row& r) -> pgkit::result<bool> {
                CHECK(r.get<std::string>(0).value() == rows[0].text);
                CHECK(r.get<std::vector<std::int64_t>>(1).value() == rows[0].numbers);
                CHECK(r.get<std::optional<std::string>>(2).value() == rows[0].maybe_text);
                CHECK(r.get<std::int64_t>(0).error().code() == errc::type_mismatch);
                CHECK(r.get<std::string>(3).error().code() == errc::invalid_argument);
                CHECK(r.line().ends_with("\n"));
                return true;
            });
        REQUIRE(first);
        CHECK(*first == 1);
    }

    TEST_CASE("copy out: parameters become literals that stay values") {
        fixture f;
        const std::string nasty = "o'k \\' ); DROP TABLE everything; -- $1 \"x\"";
        std::vector<std::optional<std::string>> seen;
        pgkit::parameters params{nasty, std::int64_t{42}, std::optional<std::int64_t>{}};
        auto count = f.conn.copy_out(
            "SELECT $1::text, $2::int8 + 1, $3::int8, '$1' AS not_a_parameter", params,
            [&](const pgkit::copy_row& r) -> pgkit::result<bool> {
                for (std::size_t i = 0; i < r.size(); ++i) {
                    auto text = r.field(i);
                    seen.push_back(text ? std::optional<std::string>{*text} : std::nullopt);
                }
                return true;
            });
        REQUIRE_MESSAGE(count, (count ? std::string{} : count.error().to_string()));
        CHECK(*count == 1);
        CHECK(seen == std::vector<std::optional<std::string>>{nasty, "43", std::nullopt, "$1"});
        CHECK(scalar<std::int64_t>(f.conn, "SELECT count(*) FROM everything") == 0);

        auto unused = f.conn.copy_out("SELECT 1", pgkit::parameters{std::int64_t{1}},
                                      [](const pgkit::copy_row&) { return true; });
        REQUIRE_FALSE(unused);
        CHECK(unused.error().code() == errc::invalid_argument);
        auto missing = f.conn.copy_out("SELECT $2::int8", pgkit::parameters{std::int64_t{1}},
                                       [](const pgkit::copy_row&) { return true; });
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code() == errc::invalid_argument);
        auto not_a_query = f.conn.copy_out("SELECT 1; DROP TABLE everything",
                                           [](const pgkit::copy_row&) { return true; });
        REQUIRE_FALSE(not_a_query);
        CHECK(scalar<std::int64_t>(f.conn, "SELECT count(*) FROM everything") == 0);

        // The repository's filter values go the same way.
        REQUIRE(f.repo.insert_many(awkward_rows(), 1));
        std::vector<std::int64_t> ids;
        auto filtered = f.repo.export_where(
            (gt(&everything::medium, 40) && like(&everything::text, "%row 4%")) ||
                eq(&everything::text, awkward_rows()[0].text),
            [&](const everything& e) { ids.push_back(e.id); },
            {.order_by = {asc(&everything::id)}});
        REQUIRE_MESSAGE(filtered, (filtered ? std::string{} : filtered.error().to_string()));
        CHECK(ids == std::vector<std::int64_t>{1, 41, 42, 43, 44, 45, 46, 47, 48, 49});
    }

    TEST_CASE(
        "copy out: a sink that stops leaves the connection and the pool's next lease "
        "usable") {
        fixture f{1};
        f.seed_series(1'000'000);
        std::int64_t last = 0;
        auto stopped = f.conn.copy_out("SELECT n, label FROM series ORDER BY n",
                                       [&](const pgkit::copy_row& r) -> pgkit::result<bool> {
                                           last = r.get<std::int64_t>(0).value();
                                           return last < 10;
                                       });
        REQUIRE_MESSAGE(stopped, (stopped ? std::string{} : stopped.error().to_string()));
        CHECK(*stopped == 10);
        CHECK(last == 10);
        CHECK(f.conn.status() == pgkit::transaction_status::idle);
        CHECK(scalar<std::int64_t>(f.conn, "SELECT 7") == 7);

        // A sink's error stops it too, and is the result.
        int calls = 0;
        auto failed = f.conn.copy_out(
            "SELECT n FROM series", [&](const pgkit::copy_row&) -> pgkit::result<bool> {
                if (++calls == 3) {
                    return pgkit::make_error(errc::invalid_argument, "the sink had enough");
                }
                return true;
            });
        REQUIRE_FALSE(failed);
        CHECK(failed.error().message() == "the sink had enough");
        CHECK(calls == 3);
        CHECK(scalar<std::int64_t>(f.conn, "SELECT 8") == 8);

        // Inside a transaction block: no cancel (it would abort the transaction); the
        // transaction goes on and commits.
        REQUIRE(f.conn.execute_script("BEGIN; INSERT INTO series VALUES (0, 'zero')"));
        auto in_block = f.conn.copy_out("SELECT n FROM series WHERE n <= 50000",
                                        [](const pgkit::copy_row&) { return false; });
        REQUIRE(in_block);
        CHECK(*in_block == 1);
        CHECK(f.conn.status() == pgkit::transaction_status::in_transaction);
        REQUIRE(f.conn.execute_script("COMMIT"));
        CHECK(scalar<std::int64_t>(f.conn, "SELECT count(*) FROM series WHERE n = 0") == 1);

        // Through the pool (one connection): the same lease runs its next statement, and the
        // next lease finds the session idle, not still copying.
        int pid = 0;
        {
            auto leased = f.pool->acquire();
            REQUIRE(leased);
            pid = (*leased)->backend_pid();
            auto part = (*leased)->copy_out("SELECT n FROM series",
                                            [](const pgkit::copy_row&) { return false; });
            REQUIRE(part);
            CHECK(*part == 1);
            CHECK(scalar<std::int64_t>(**leased, "SELECT 9") == 9);
            auto again = (*leased)->copy_out("SELECT n FROM series",
                                             [](const pgkit::copy_row&) { return false; });
            REQUIRE(again);
        }
        auto next = f.pool->acquire();
        REQUIRE(next);
        CHECK((*next)->backend_pid() == pid);
        CHECK((*next)->status() == pgkit::transaction_status::idle);
        CHECK(scalar<std::int64_t>(**next, "SELECT 10") == 10);
        CHECK(f.pool->metrics().in_use == 1);
    }

    TEST_CASE("copy out: a session terminated midway is connection_lost, without a hang") {
        fixture f{1};
        f.seed_series(1'000'000);
        auto victim = f.schema.connect();
        std::uint64_t seen = 0;
        auto lost = victim.copy_out(
            "SELECT n, label FROM series", [&](const pgkit::copy_row&) -> pgkit::result<bool> {
                if (++seen == 1000) {
                    pgkit::test::terminate_backend(f.conn, victim.backend_pid());
                }
                return true;
            });
        REQUIRE_FALSE(lost);
        CHECK(lost.error().code() == errc::connection_lost);
        CHECK(seen >= 1000);
        CHECK(seen < 1'000'000);
        CHECK(victim.is_poisoned());

        // Through a pool: the error reaches the caller and the pool replaces the connection.
        int pid = 0;
        {
            auto leased = f.pool->acquire();
            REQUIRE(leased);
            pid = (*leased)->backend_pid();
        }
        std::uint64_t exported = 0;
        auto through_pool = f.repo.export_where({}, [&](const everything&) { ++exported; });
        REQUIRE(through_pool);  // empty table: nothing to terminate yet
        REQUIRE(f.repo.insert_many(awkward_rows(), 1));
        // Far more output than socket buffers hold, so the server is still sending.
        REQUIRE(f.conn.execute(
            "INSERT INTO everything SELECT g, flag, small, medium, big, \"real\", dbl, text, blob, "
            "at, day, amount, ident, doc, numbers, words, tone, maybe_text, maybe_at FROM "
            "everything, generate_series(100, 300000) AS g WHERE id = 2"));
        auto terminated = f.repo.export_where({}, [&](const everything&) -> pgkit::result<void> {
            if (++exported == 1) {
                pgkit::test::terminate_backend(f.conn, pid);
            }
            return {};
        });
        REQUIRE_FALSE(terminated);
        CHECK(terminated.error().code() == errc::connection_lost);
        auto next = f.pool->acquire();
        REQUIRE(next);
        CHECK((*next)->backend_pid() != pid);
        CHECK(scalar<std::int64_t>(**next, "SELECT 11") == 11);
    }

    TEST_CASE("copy out: export_where inside a transaction sees its writes and can stop early") {
        fixture f;
        REQUIRE(f.repo.insert_many(awkward_rows(), 1));
        auto outcome =
            f.pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<std::uint64_t> {
                auto repo = f.repo.in(tx);
                REQUIRE(repo.remove(std::int64_t{1}));
                std::vector<std::int64_t> ids;
                auto some = repo.export_where({},
                                              [&](const everything& e) {
                                                  ids.push_back(e.id);
                                                  return ids.size() < 3;
                                              },
                                              {.order_by = {asc(&everything::id)}});
                if (!some) {
                    return some;
                }
                CHECK(ids == std::vector<std::int64_t>{2, 3, 4});
                return repo.count().map(
                    [](std::int64_t n) { return static_cast<std::uint64_t>(n); });
            });
        REQUIRE_MESSAGE(outcome, (outcome ? std::string{} : outcome.error().to_string()));
        CHECK(*outcome == 49);
    }
}
