// The pagination benchmark's pure parts: the anomaly counter on constructed walks whose answer
// is known, and the --order parser.
#include "pagination_bench/anomalies.hpp"
#include "pagination_bench/table_model.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using pgkit::tools::count_anomalies;

TEST_CASE("pagination bench: a clean walk has no anomalies") {
    const std::vector<std::string> rows{"1", "2", "3", "4"};
    const auto n = count_anomalies(rows, {}, rows);
    CHECK(n.duplicates == 0);
    CHECK(n.skips == 0);
    CHECK(n.total() == 0);
}

TEST_CASE("pagination bench: OFFSET after an insert repeats and after a delete skips") {
    // Pages of 2 over 1..6. After page 1 (1, 2), row 0 is inserted before them: OFFSET 2 now
    // returns 2 again, then 3. After page 2, row 1 is deleted: OFFSET 4 returns 5, 6, skipping 4.
    const std::vector<std::string> at_start{"1", "2", "3", "4", "5", "6"};
    const std::vector<std::string> removed{"1"};
    const std::vector<std::string> returned{"1", "2", "2", "3", "5", "6"};
    const auto n = count_anomalies(at_start, removed, returned);
    CHECK(n.duplicates == 1);  // 2
    CHECK(n.skips == 1);       // 4 (1 was deleted, so it does not count)
    CHECK(n.total() == 2);
}

TEST_CASE("pagination bench: rows inserted or deleted during the walk are never anomalies") {
    const std::vector<std::string> at_start{"1", "2", "3"};
    // 9 was inserted during the walk and returned; 3 was deleted and never returned; 2 was
    // deleted after it had been returned.
    const auto n = count_anomalies(at_start, {"3", "2"}, {"1", "9", "2"});
    CHECK(n.total() == 0);
    // A row returned three times counts twice.
    CHECK(count_anomalies(at_start, {}, {"1", "1", "1", "2", "3"}).duplicates == 2);
}

TEST_CASE("pagination bench: --order terms, quoting and errors") {
    const std::vector<std::string> columns{"id", "created_at", "Score"};
    auto parsed =
        pgkit::tools::parse_ordering("created_at DESC, \"Score\" asc nulls first", columns);
    REQUIRE(parsed);
    REQUIRE(parsed->size() == 2);
    CHECK((*parsed)[0].column == 1);
    CHECK((*parsed)[0].descending);
    CHECK((*parsed)[0].nulls == pgkit::nulls_order::standard);
    CHECK((*parsed)[1].column == 2);
    CHECK_FALSE((*parsed)[1].descending);
    CHECK((*parsed)[1].nulls == pgkit::nulls_order::first);
    CHECK(pgkit::tools::parse_ordering("CREATED_AT", columns).value().at(0).column == 1);
    CHECK(pgkit::tools::parse_ordering("", columns).value().empty());

    auto unknown = pgkit::tools::parse_ordering("created_at DESC, nope", columns);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code() == pgkit::errc::invalid_argument);
    CHECK(unknown.error().message().find("no column 'nope'") != std::string::npos);
    // Unquoted names fold to lower case, as in SQL: Score needs quotes.
    CHECK_FALSE(pgkit::tools::parse_ordering("Score", columns));
    CHECK_FALSE(pgkit::tools::parse_ordering("id DESC sideways", columns));
    CHECK_FALSE(pgkit::tools::parse_ordering("id, id DESC", columns));
    CHECK_FALSE(pgkit::tools::parse_ordering("id,", columns));
    CHECK_FALSE(pgkit::tools::parse_ordering("\"id", columns));
}
