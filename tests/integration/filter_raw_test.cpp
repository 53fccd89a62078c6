// Raw filter fragments embedded after typed filters: their $n are renumbered by pgkit's SQL
// lexer, so a comment, string or name that looks like a parameter can never bind another
// filter's value (a tenant id, say).
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace {

struct payment {
    std::int64_t id = 0;
    std::int64_t tenant = 0;
    std::int64_t amount = 0;
    std::string note;
};

}  // namespace

template <>
struct pgkit::entity<payment> {
    static constexpr std::string_view table = "payments";
    static constexpr auto columns = std::tuple{
        pgkit::column(&payment::id, "id"),
        pgkit::column(&payment::tenant, "tenant"),
        pgkit::column(&payment::amount, "amount"),
        pgkit::column(&payment::note, "note"),
    };
    static constexpr auto primary_key = pgkit::key(&payment::id);
};

namespace {

std::vector<std::int64_t> ids_of(const std::vector<payment>& rows) {
    std::vector<std::int64_t> ids;
    for (const auto& row : rows) {
        ids.push_back(row.id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace

TEST_SUITE("repository") {
    TEST_CASE("repository: raw filters after typed ones bind their own values, however written") {
        pgkit::test::scratch_schema schema;
        auto setup = schema.connect();
        REQUIRE(setup.execute_script(
            "CREATE TABLE payments (id int8 PRIMARY KEY, tenant int8 NOT NULL, amount int8 NOT "
            "NULL, note text NOT NULL, \"col$1\" int8 NOT NULL DEFAULT 0);"
            "INSERT INTO payments VALUES (1, 7, 50, 'a', 0), (2, 7, 500, 'it''s $1', 0), "
            "(3, 8, 900, 'b', 0), (4, 7, 5, '$1', 0)"));
        auto pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 2));
        pgkit::repository<payment> payments{pool};
        using namespace pgkit::filters;
        const auto tenant_7 = eq(&payment::tenant, std::int64_t{7});
        // Each fragment's $1 is "amount > 100"; bound to the tenant's 7 instead, rows 1 and 2
        // (amounts 50 and 500 > 7) would come back.
        for (const std::string fragment : {
                 "/* it's */ amount > $1",
                 "amount > $1 -- it's the floor",
                 "amount > $1 AND note <> E'\\''",
                 "amount > $1 AND note <> $q$ $1 $q$ /* $1 */",
                 "\"col$1\" = 0 AND amount > $1",
             }) {
            CAPTURE(fragment);
            auto found = payments.find_where(tenant_7 && raw<payment>(fragment, std::int64_t{100}));
            REQUIRE(found);
            CHECK(ids_of(*found) == std::vector<std::int64_t>{2});
        }
        // Text that does not lex is refused before anything reaches the server.
        auto open = payments.find_where(tenant_7 && raw<payment>("note = 'open", std::int64_t{1}));
        REQUIRE_FALSE(open);
        CHECK(open.error().code() == pgkit::errc::invalid_argument);
        auto too_few = payments.find_where(raw<payment>("amount > $2", std::int64_t{1}));
        REQUIRE_FALSE(too_few);
        CHECK(too_few.error().code() == pgkit::errc::invalid_argument);
    }
}
