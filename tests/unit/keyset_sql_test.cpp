// The SQL of keyset pages without a server: total_ordering (the key appended in the last term's
// direction, duplicates refused) and the forms of seek_condition (row-value comparison, the
// expanded disjunction with its leading bound, NULL positions, the inclusive form).
#include "pagination/keyset_sql.hpp"

#include "pgkit/detail/entity_mapping.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace {

struct ks_row {
    std::int64_t id = 0;
    std::optional<std::int64_t> a;
    std::optional<std::string> b;
};

struct ks_pair {
    std::int64_t x = 0;
    std::string y;
    std::optional<std::int64_t> v;
};

}  // namespace

template <>
struct pgkit::entity<ks_row> {
    static constexpr std::string_view table = "ks_rows";
    static constexpr auto columns = std::tuple{
        pgkit::column(&ks_row::id, "id"),
        pgkit::column(&ks_row::a, "a"),
        pgkit::column(&ks_row::b, "b"),
    };
    static constexpr auto primary_key = pgkit::key(&ks_row::id);
};

template <>
struct pgkit::entity<ks_pair> {
    static constexpr std::string_view table = "ks_pairs";
    static constexpr auto columns = std::tuple{
        pgkit::column(&ks_pair::x, "x"),
        pgkit::column(&ks_pair::y, "y"),
        pgkit::column(&ks_pair::v, "v"),
    };
    static constexpr auto primary_key = pgkit::key(&ks_pair::x, &ks_pair::y);
};

namespace {

using pgkit::detail::keyset_term;
using namespace pgkit::filters;

const pgkit::detail::entity_sql& rows_sql() {
    return pgkit::detail::sql_of<ks_row>();
}

std::string seek(const std::vector<keyset_term>& terms,
                 const std::vector<bool>& not_null,
                 const pgkit::detail::cursor_values& values,
                 bool inclusive,
                 pgkit::parameters& params) {
    return pgkit::detail::seek_condition(rows_sql(), terms, not_null, values, inclusive, params);
}

std::vector<std::optional<std::string>> texts(const pgkit::parameters& params) {
    std::vector<std::optional<std::string>> out;
    for (std::size_t i = 0; i < params.size(); ++i) {
        auto v = params.value(i);
        out.push_back(v ? std::optional<std::string>{std::string{*v}} : std::nullopt);
    }
    return out;
}

bool same(const std::vector<keyset_term>& got, const std::vector<keyset_term>& want) {
    if (got.size() != want.size()) {
        return false;
    }
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i].column != want[i].column || got[i].descending != want[i].descending ||
            got[i].nulls_first != want[i].nulls_first) {
            return false;
        }
    }
    return true;
}

constexpr std::size_t id_col = 0;
constexpr std::size_t a_col = 1;
constexpr std::size_t b_col = 2;
const std::vector<bool> all_not_null{true, true, true};
const std::vector<bool> only_id_not_null{true, false, false};

}  // namespace

TEST_SUITE("keyset sql") {
    TEST_CASE("keyset sql: total_ordering appends the key in the last term's direction") {
        using pgkit::detail::total_ordering;
        const auto& s = rows_sql();
        CHECK(same(total_ordering(s, {}).value(), {{id_col, false, false}}));
        CHECK(same(total_ordering(s, {desc(&ks_row::a)}).value(),
                   {{a_col, true, true}, {id_col, true, true}}));
        CHECK(same(total_ordering(s, {asc(&ks_row::a)}).value(),
                   {{a_col, false, false}, {id_col, false, false}}));
        CHECK(same(total_ordering(s, {desc(&ks_row::a).nulls_last(), asc(&ks_row::b)}).value(),
                   {{a_col, true, false}, {b_col, false, false}, {id_col, false, false}}));
        CHECK(same(total_ordering(s, {asc(&ks_row::b).nulls_first(), desc(&ks_row::a)}).value(),
                   {{b_col, false, true}, {a_col, true, true}, {id_col, true, true}}));
        // The key already in the ordering (in the middle): nothing appended.
        CHECK(same(total_ordering(s, {asc(&ks_row::a), desc(&ks_row::id), asc(&ks_row::b)}).value(),
                   {{a_col, false, false}, {id_col, true, true}, {b_col, false, false}}));

        auto twice = total_ordering(s, {asc(&ks_row::a), desc(&ks_row::a)});
        REQUIRE_FALSE(twice);
        CHECK(twice.error().code() == pgkit::errc::invalid_argument);
        CHECK(twice.error().message().find("'a'") != std::string::npos);
        auto key_twice = total_ordering(s, {asc(&ks_row::id), asc(&ks_row::id)});
        CHECK(key_twice.error().code() == pgkit::errc::invalid_argument);
        pgkit::order_term bogus{.column = 7, .descending = false, .valid = true};
        CHECK(total_ordering(s, {bogus}).error().code() == pgkit::errc::invalid_argument);
        pgkit::order_term invalid{.column = 0, .descending = false, .valid = false};
        CHECK(total_ordering(s, {invalid}).error().code() == pgkit::errc::invalid_argument);

        // A composite key: only the key columns the ordering lacks are appended, in key order.
        const auto& pairs = pgkit::detail::sql_of<ks_pair>();
        CHECK(same(total_ordering(pairs, {desc(&ks_pair::y)}).value(),
                   {{1, true, true}, {0, true, true}}));
        CHECK(same(total_ordering(pairs, {asc(&ks_pair::v)}).value(),
                   {{2, false, false}, {0, false, false}, {1, false, false}}));
        CHECK(same(total_ordering(pairs, {}).value(), {{0, false, false}, {1, false, false}}));
    }

    TEST_CASE("keyset sql: reversed, ORDER BY and the ordering's description") {
        const auto& s = rows_sql();
        const std::vector<keyset_term> terms{{a_col, true, false}, {id_col, false, false}};
        CHECK(pgkit::detail::order_by_clause(s, terms) ==
              " ORDER BY \"a\" DESC NULLS LAST, \"id\" ASC NULLS LAST");
        CHECK(pgkit::detail::order_by_clause(s, pgkit::detail::reversed(terms)) ==
              " ORDER BY \"a\" ASC NULLS FIRST, \"id\" DESC NULLS FIRST");
        CHECK(pgkit::detail::describe_ordering(s, terms) ==
              "\"a\" DESC NULLS LAST;\"id\" ASC NULLS LAST;");
        CHECK(pgkit::detail::describe_ordering(s, terms) !=
              pgkit::detail::describe_ordering(s, pgkit::detail::reversed(terms)));
    }

    TEST_CASE("keyset sql: a forced form, and where the row-value form is exact") {
        using pgkit::detail::seek_form;
        const std::vector<keyset_term> terms{{a_col, true, true}, {id_col, true, true}};
        pgkit::parameters expanded;
        CHECK(pgkit::detail::seek_condition(rows_sql(), terms, all_not_null, {"5", "9"}, false,
                                            expanded, seek_form::expanded) ==
              "\"a\" <= $1::int8 AND ((\"a\" < $1::int8) OR (\"a\" = $1::int8 AND \"id\" < "
              "$2::int8))");
        pgkit::parameters row_value;
        CHECK(pgkit::detail::seek_condition(rows_sql(), terms, all_not_null, {"5", "9"}, false,
                                            row_value, seek_form::row_value) ==
              "(\"a\", \"id\") < ($1::int8, $2::int8)");
        CHECK(pgkit::detail::row_value_exact(terms, all_not_null));
        CHECK_FALSE(pgkit::detail::row_value_exact(terms, only_id_not_null));
        CHECK_FALSE(pgkit::detail::row_value_exact({{a_col, true, true}, {id_col, false, false}},
                                                   all_not_null));
    }

    TEST_CASE("keyset sql: one direction over NOT NULL columns is a row-value comparison") {
        pgkit::parameters params;
        CHECK(seek({{a_col, true, true}, {id_col, true, true}}, all_not_null, {"5", "9"}, false,
                   params) == "(\"a\", \"id\") < ($1::int8, $2::int8)");
        CHECK(texts(params) == std::vector<std::optional<std::string>>{"5", "9"});

        pgkit::parameters inclusive;
        CHECK(seek({{a_col, false, false}, {id_col, false, false}}, all_not_null, {"5", "9"}, true,
                   inclusive) == "(\"a\", \"id\") >= ($1::int8, $2::int8)");
        pgkit::parameters down;
        CHECK(seek({{a_col, true, true}, {id_col, true, true}}, all_not_null, {"5", "9"}, true,
                   down) == "(\"a\", \"id\") <= ($1::int8, $2::int8)");

        pgkit::parameters single;
        CHECK(seek({{id_col, false, false}}, all_not_null, {"42"}, false, single) ==
              "\"id\" > $1::int8");

        // Numbering continues after the parameters already there (the filter's).
        pgkit::parameters after_filter;
        after_filter.add(std::int64_t{3});
        CHECK(seek({{b_col, false, false}, {id_col, false, false}}, all_not_null, {"x", "9"}, false,
                   after_filter) == "(\"b\", \"id\") > ($2::text, $3::int8)");
        CHECK(after_filter.size() == 3);
    }

    TEST_CASE("keyset sql: mixed directions or nullable columns expand, with a leading bound") {
        pgkit::parameters mixed;
        CHECK(seek({{a_col, false, false}, {id_col, true, true}}, all_not_null, {"5", "9"}, false,
                   mixed) ==
              "\"a\" >= $1::int8 AND ((\"a\" > $1::int8) OR (\"a\" = $1::int8 AND \"id\" < "
              "$2::int8))");
        CHECK(mixed.size() == 2);  // each value bound once, referenced twice

        // Nullable, NULLs last: NULLs come after every value, so no bound on "a".
        pgkit::parameters last;
        CHECK(seek({{a_col, false, false}, {id_col, false, false}}, only_id_not_null, {"5", "9"},
                   false, last) ==
              "(((\"a\" > $1::int8 OR \"a\" IS NULL)) OR (\"a\" = $1::int8 AND \"id\" > "
              "$2::int8))");

        // Nullable, NULLs first: every row after a value has a value, so the bound applies.
        pgkit::parameters first;
        CHECK(seek({{a_col, false, true}, {id_col, false, false}}, only_id_not_null, {"5", "9"},
                   false, first) ==
              "\"a\" >= $1::int8 AND ((\"a\" > $1::int8) OR (\"a\" = $1::int8 AND \"id\" > "
              "$2::int8))");

        // Descending with NULLs last on a nullable column.
        pgkit::parameters desc_last;
        CHECK(seek({{b_col, true, false}, {id_col, true, true}}, only_id_not_null, {"m", "9"},
                   false, desc_last) ==
              "(((\"b\" < $1::text OR \"b\" IS NULL)) OR (\"b\" = $1::text AND \"id\" < "
              "$2::int8))");

        // The same direction but a nullable column: not the row-value form.
        pgkit::parameters nullable;
        const auto expanded = seek({{a_col, true, true}, {id_col, true, true}}, only_id_not_null,
                                   {"5", "9"}, false, nullable);
        CHECK(expanded.find("(\"a\", \"id\")") == std::string::npos);
        CHECK(expanded ==
              "\"a\" <= $1::int8 AND ((\"a\" < $1::int8) OR (\"a\" = $1::int8 AND \"id\" < "
              "$2::int8))");
    }

    TEST_CASE("keyset sql: NULL cursor values under NULLS FIRST and NULLS LAST") {
        // NULLs last, position on a NULL: only NULLs follow (then by id); the NULL is no
        // parameter.
        pgkit::parameters last;
        CHECK(seek({{a_col, false, false}, {id_col, false, false}}, only_id_not_null,
                   {std::nullopt, "9"}, false,
                   last) == "\"a\" IS NULL AND \"a\" IS NULL AND \"id\" > $1::int8");
        CHECK(texts(last) == std::vector<std::optional<std::string>>{"9"});

        // NULLs first, position on a NULL: every value follows, and later NULLs by id.
        pgkit::parameters first;
        CHECK(seek({{a_col, true, true}, {id_col, true, true}}, only_id_not_null,
                   {std::nullopt, "9"}, false,
                   first) == "((\"a\" IS NOT NULL) OR (\"a\" IS NULL AND \"id\" < $1::int8))");

        // Two nullable terms, the second NULL under NULLs last.
        pgkit::parameters two;
        CHECK(seek({{a_col, false, true}, {b_col, false, false}, {id_col, false, false}},
                   only_id_not_null, {"1", std::nullopt, "9"}, false, two) ==
              "\"a\" >= $1::int8 AND ((\"a\" > $1::int8) OR (\"a\" = $1::int8 AND \"b\" IS NULL "
              "AND \"id\" > $2::int8))");

        // Nothing can follow the last NULL of a sole NULLs-last term.
        pgkit::parameters none;
        CHECK(seek({{a_col, false, false}}, only_id_not_null, {std::nullopt}, false, none) ==
              "FALSE");
    }

    TEST_CASE("keyset sql: the inclusive form adds the position itself") {
        pgkit::parameters with_null;
        CHECK(seek({{a_col, false, false}, {id_col, false, false}}, only_id_not_null,
                   {std::nullopt, "9"}, true, with_null) ==
              "\"a\" IS NULL AND ((\"a\" IS NULL AND \"id\" > $1::int8) OR (\"a\" IS NULL AND "
              "\"id\" = $1::int8))");
        pgkit::parameters with_value;
        CHECK(seek({{a_col, false, true}, {id_col, true, true}}, only_id_not_null, {"4", "9"}, true,
                   with_value) ==
              "\"a\" >= $1::int8 AND ((\"a\" > $1::int8) OR (\"a\" = $1::int8 AND \"id\" < "
              "$2::int8) OR (\"a\" = $1::int8 AND \"id\" = $2::int8))");
        pgkit::parameters sole;
        CHECK(seek({{a_col, false, false}}, only_id_not_null, {std::nullopt}, true, sole) ==
              "\"a\" IS NULL AND \"a\" IS NULL");
    }
}
