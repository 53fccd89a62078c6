// Repositories without a server: the SQL built once per entity, the compile-time checks on
// entity descriptions, filter rendering, and the statements built from run-time input
// (update_where, update by key, multi-row VALUES, upsert targets).
#include "pgkit/detail/entity_mapping.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/detail/repository_statements.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/repository.hpp"
#include "pgkit/upsert.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>

namespace {

struct note {
    std::int64_t id = 0;
    std::string body;
    std::int32_t version = 0;
    std::optional<std::chrono::system_clock::time_point> removed;
};

struct pair_key {
    std::int32_t a = 0;
    std::string b;
    double value = 0;
};

}  // namespace

template <>
struct pgkit::entity<note> {
    static constexpr std::string_view schema = "app";
    static constexpr std::string_view table = "notes";
    static constexpr auto columns = std::tuple{
        pgkit::column(&note::id, "id", pgkit::generated),
        pgkit::column(&note::body, "body"),
        pgkit::column(&note::version, "version"),
        pgkit::column(&note::removed, "removed at"),
    };
    static constexpr auto primary_key = pgkit::key(&note::id);
    static constexpr auto version = &note::version;
    static constexpr auto soft_delete = &note::removed;
};

template <>
struct pgkit::entity<pair_key> {
    static constexpr std::string_view table = "pairs";
    static constexpr auto columns = std::tuple{
        pgkit::column(&pair_key::a, "a"),
        pgkit::column(&pair_key::b, "b"),
        pgkit::column(&pair_key::value, "value"),
    };
    static constexpr auto primary_key = pgkit::key(&pair_key::a, &pair_key::b);
};

static_assert(std::is_same_v<pgkit::key_t<note>, std::int64_t>);
static_assert(std::is_same_v<pgkit::key_t<pair_key>, std::tuple<std::int32_t, std::string>>);
static_assert(pgkit::detail::index_of<note>(&note::removed) == 3);
static_assert(pgkit::repository<note>::has_version && pgkit::repository<note>::has_soft_delete);
static_assert(!pgkit::repository<pair_key>::has_version);

TEST_SUITE("repository") {
    TEST_CASE("repository: statements are built once per entity, quoted and parameterised") {
        const pgkit::detail::entity_sql& built = pgkit::detail::sql_of<note>();
        CHECK(&built == &pgkit::detail::sql_of<note>());  // static storage, built once
        CHECK(built.qualified_table == "\"app\".\"notes\"");
        CHECK(built.find[0] ==
              "SELECT \"id\", \"body\", \"version\", \"removed at\" FROM \"app\".\"notes\" WHERE "
              "\"id\" = $1 AND \"removed at\" IS NULL");
        CHECK(built.find[1].find("IS NULL") == std::string::npos);
        CHECK(built.find[2].find("\"removed at\" IS NOT NULL") != std::string::npos);
        CHECK(built.insert ==
              "INSERT INTO \"app\".\"notes\" (\"body\", \"version\", \"removed at\") VALUES ($1, "
              "1, $2) RETURNING \"id\", \"body\", \"version\", \"removed at\"");
        CHECK(built.update ==
              "UPDATE \"app\".\"notes\" SET \"body\" = $1, \"version\" = \"version\" + 1 WHERE "
              "\"id\" = $2 AND \"version\" = $3 AND \"removed at\" IS NULL RETURNING \"id\", "
              "\"body\", \"version\", \"removed at\"");
        CHECK(built.remove_checked.rfind("UPDATE \"app\".\"notes\" SET \"removed at\" = now()",
                                         0) == 0);
        CHECK(built.purge == "DELETE FROM \"app\".\"notes\" WHERE \"id\" = $1");
        CHECK(built.copy_schema == "app");  // COPY "app"."notes" (...) FROM STDIN
        CHECK(built.copy_table == "notes");

        const auto& pairs = pgkit::detail::sql_of<pair_key>();
        CHECK(pairs.find_many[0] ==
              "SELECT \"a\", \"b\", \"value\" FROM \"pairs\" WHERE (\"a\", \"b\") IN (SELECT * "
              "FROM unnest($1::int4[], $2::text[]))");
        CHECK(pairs.remove_by_key.rfind("DELETE FROM \"pairs\" WHERE \"a\" = $1 AND \"b\" = $2",
                                        0) == 0);
    }

    TEST_CASE("repository: names are checked at compile time, UTF-8 strictly") {
        using pgkit::detail::is_valid_utf8;
        static_assert(is_valid_utf8("plain_name"));
        static_assert(is_valid_utf8("caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80"));
        static_assert(!is_valid_utf8("\xC3"));              // truncated
        static_assert(!is_valid_utf8("\xE4\xB8"));          // truncated
        static_assert(!is_valid_utf8("\x80"));              // a stray continuation byte
        static_assert(!is_valid_utf8("\xC0\xAF"));          // overlong '/'
        static_assert(!is_valid_utf8("\xE0\x80\xAF"));      // overlong '/'
        static_assert(!is_valid_utf8("\xED\xA0\x80"));      // a surrogate
        static_assert(!is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
        static_assert(!is_valid_utf8("\xFF"));
        static_assert(pgkit::detail::has_nul(std::string_view{"a\0b", 3}));
        static_assert(!pgkit::detail::has_nul("ab"));
        // The described entities pass every check; the failures are compile-fail tests
        // (tests/compile_fail, listed in tests/CMakeLists.txt).
        static_assert(pgkit::detail::check_entity<note>());
        static_assert(pgkit::detail::column_names_distinct<note>());
        static_assert(pgkit::detail::roles_distinct<note>());
        static_assert(pgkit::detail::key_members_distinct<pair_key>());
        // upsert(row) needs a key that insert writes.
        static_assert(!pgkit::detail::key_is_inserted<note>());
        static_assert(pgkit::detail::key_is_inserted<pair_key>());
        CHECK(pgkit::detail::max_name_bytes == 63);
    }

    TEST_CASE("repository: filters render to parameterised SQL with stable shapes") {
        using namespace pgkit::filters;
        const auto& columns = pgkit::detail::sql_of<note>().quoted_columns;
        std::string out;
        std::vector<std::optional<std::string>> params;
        auto f = (eq(&note::body, "x'y") || in(&note::id, {1, 2, 3})) && !is_null(&note::removed) &&
                 raw<note>("length(body) > $1 AND $2 = '$3'", 3, "z");
        REQUIRE(pgkit::detail::render_filter(f.node(), columns, out, params));
        CHECK(out ==
              "(((\"body\" = $1::text OR \"id\" = ANY($2::int8[])) AND NOT (\"removed at\" IS "
              "NULL)) AND (length(body) > $3 AND $4 = '$3'))");
        REQUIRE(params.size() == 4);
        CHECK(params[0] == std::optional<std::string>{"x'y"});
        CHECK(params[1] == std::optional<std::string>{"{1,2,3}"});
        CHECK(params[3] == std::optional<std::string>{"z"});

        auto order = pgkit::detail::render_options(
            {.order_by = {desc(&note::version), asc(&note::id)}, .limit = 5}, columns);
        CHECK(order.value() == " ORDER BY \"version\" DESC, \"id\" ASC LIMIT 5");

        auto nul = eq(&note::body, std::string{"a\0b", 3});
        out.clear();
        params.clear();
        CHECK(pgkit::detail::render_filter(nul.node(), columns, out, params).error().code() ==
              pgkit::errc::invalid_argument);
    }

    TEST_CASE("repository: a version_conflict carries the stored version") {
        auto e = pgkit::detail::version_conflict_error("t", 42);
        CHECK(e.code() == pgkit::errc::version_conflict);
        CHECK(e.current_version() == 42);
        CHECK_FALSE(pgkit::error{pgkit::errc::not_found, "x"}.current_version());
    }

    TEST_CASE("repository: statements built from filters and assignments") {
        using namespace pgkit::filters;
        const auto& notes = pgkit::detail::sql_of<note>();
        const auto body = set(&note::body, std::string{"new"});
        const pgkit::detail::column_assignment* sets[] = {&body};

        auto changed = pgkit::detail::update_where_statement(notes, eq(&note::id, 7).node(), sets);
        REQUIRE(changed);
        CHECK(changed->sql ==
              "UPDATE \"app\".\"notes\" SET \"body\" = $1::text, \"version\" = \"version\" + 1 "
              "WHERE \"id\" = $2::int8 AND \"removed at\" IS NULL");
        REQUIRE(changed->params.size() == 2);
        CHECK(changed->params.value(0) == std::optional<std::string_view>{"new"});

        auto by_key = pgkit::detail::update_by_key_statement(notes, sets);
        REQUIRE(by_key);
        CHECK(by_key->sql ==
              "UPDATE \"app\".\"notes\" SET \"body\" = $1::text, \"version\" = \"version\" + 1 "
              "WHERE \"id\" = $2 AND \"removed at\" IS NULL RETURNING \"id\", \"body\", "
              "\"version\", \"removed at\"");
        CHECK(by_key->params.size() == 1);  // the caller appends the key

        auto removed = pgkit::detail::remove_where_statement(notes, gt(&note::version, 3).node());
        REQUIRE(removed);
        CHECK(removed->sql ==
              "UPDATE \"app\".\"notes\" SET \"removed at\" = now(), \"version\" = \"version\" + 1 "
              "WHERE \"version\" > $1::int4 AND \"removed at\" IS NULL");

        auto counted = pgkit::detail::count_where_statement(notes, pgkit::where<note>{}.node(),
                                                            pgkit::detail::row_scope::deleted);
        REQUIRE(counted);
        CHECK(counted->sql ==
              "SELECT count(*) FROM \"app\".\"notes\" WHERE TRUE AND \"removed at\" IS NOT NULL");

        CHECK(pgkit::detail::insert_values_sql(notes, 2) ==
              "INSERT INTO \"app\".\"notes\" (\"body\", \"version\", \"removed at\") VALUES ($1, "
              "1, $2), ($3, 1, $4)");

        const auto bad = set(&note::body, std::string{"a\0b", 3});
        const pgkit::detail::column_assignment* bad_sets[] = {&body, &bad};
        CHECK(pgkit::detail::update_by_key_statement(notes, bad_sets).error().code() ==
              pgkit::errc::invalid_argument);
    }

    TEST_CASE("repository: upsert targets, update lists and generated keys") {
        const auto& notes = pgkit::detail::sql_of<note>();
        const std::string returning =
            " RETURNING \"id\", \"body\", \"version\", \"removed at\", (xmax = 0)";

        // The generated key is never sent: no row could conflict on it.
        auto on_key = pgkit::detail::upsert_sql(notes, {});
        REQUIRE_FALSE(on_key);
        CHECK(on_key.error().code() == pgkit::errc::invalid_argument);
        CHECK(on_key.error().message().find("'id'") != std::string::npos);
        CHECK(pgkit::detail::upsert_sql(notes, {.columns = {&note::id}}).error().code() ==
              pgkit::errc::invalid_argument);

        // Another unique key: the live-rows predicate lets a partial unique index be inferred.
        auto on_body = pgkit::detail::upsert_sql(notes, {.columns = {&note::body}});
        REQUIRE(on_body);
        CHECK(*on_body ==
              "INSERT INTO \"app\".\"notes\" (\"body\", \"version\", \"removed at\") VALUES ($1, "
              "1, $2) ON CONFLICT (\"body\") WHERE \"removed at\" IS NULL DO UPDATE SET \"body\" = "
              "EXCLUDED.\"body\", \"version\" = \"app\".\"notes\".\"version\" + 1 WHERE "
              "\"app\".\"notes\".\"removed at\" IS NULL" +
                  returning);

        auto named = pgkit::detail::upsert_sql(
            notes, {.constraint = "notes_body_key", .columns = {}, .do_nothing = true});
        REQUIRE(named);
        CHECK(*named ==
              "INSERT INTO \"app\".\"notes\" (\"body\", \"version\", \"removed at\") VALUES ($1, "
              "1, $2) ON CONFLICT ON CONSTRAINT \"notes_body_key\" DO NOTHING" +
                  returning);

        auto invalid = [&](const pgkit::on_conflict& options) {
            auto built = pgkit::detail::upsert_sql(notes, options);
            return !built && built.error().code() == pgkit::errc::invalid_argument;
        };
        CHECK(invalid({.constraint = "notes_body_key", .columns = {&note::body}}));  // both
        CHECK(invalid({.constraint = std::string_view{"a\0b", 3}}));
        CHECK(invalid({.columns = {&note::body}, .update = {&note::version}}));  // pgkit's
        CHECK(invalid({.columns = {&note::body}, .update = {&note::removed}}));  // soft delete
        CHECK(invalid({.columns = {&note::body}, .update = {&note::id}}));       // the key
        CHECK(invalid({.columns = {pgkit::column_ref{9, true}}}));               // not a column

        // A key insert writes: the primary key is the default target.
        const auto& pairs = pgkit::detail::sql_of<pair_key>();
        auto on_pair = pgkit::detail::upsert_sql(pairs, {});
        REQUIRE(on_pair);
        CHECK(*on_pair ==
              "INSERT INTO \"pairs\" (\"a\", \"b\", \"value\") VALUES ($1, $2, $3) ON CONFLICT "
              "(\"a\", \"b\") DO UPDATE SET \"value\" = EXCLUDED.\"value\" RETURNING \"a\", "
              "\"b\", \"value\", (xmax = 0)");
        auto only_key =
            pgkit::detail::upsert_sql(pairs, {.update = {pgkit::filters::col(&pair_key::value)}});
        REQUIRE(only_key);
        CHECK(*on_pair == *only_key);
    }
}
