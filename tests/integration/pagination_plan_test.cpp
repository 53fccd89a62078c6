// What PostgreSQL plans for keyset pages at scale: 1M rows with an index matching the ordering,
// a deep page (by cursor) in each direction is served by the index with no Sort; ordering by a
// column without an index is reported as a sort or sequential scan.
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pagination.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace pgkit::filters;

struct event {
    std::int64_t id = 0;
    std::chrono::sys_time<std::chrono::microseconds> created_at;
    std::int64_t score = 0;
};

}  // namespace

template <>
struct pgkit::entity<event> {
    static constexpr std::string_view table = "plan_events";
    static constexpr auto columns = std::tuple{
        pgkit::column(&event::id, "id"),
        pgkit::column(&event::created_at, "created_at"),
        pgkit::column(&event::score, "score"),
    };
    static constexpr auto primary_key = pgkit::key(&event::id);
};

namespace {

bool has_index_scan(const pgkit::page_plan& plan) {
    return std::any_of(plan.node_types.begin(), plan.node_types.end(), [](const auto& node) {
        return node == "Index Scan" || node == "Index Only Scan";
    });
}

std::string nodes(const pgkit::page_plan& plan) {
    std::string out;
    for (const auto& n : plan.node_types) {
        out += n + "; ";
    }
    return out;
}

}  // namespace

TEST_CASE("deep keyset pages over 1M rows are index scans both ways, and a sort without an index") {
    pgkit::test::scratch_schema schema;
    auto conn = schema.connect();
    // Three rows per second, so created_at has ties the key (id) breaks.
    REQUIRE(conn.execute_script(
        "CREATE TABLE plan_events (id int8 PRIMARY KEY, created_at timestamptz NOT NULL, "
        "score int8 NOT NULL);"
        "INSERT INTO plan_events SELECT i, timestamptz '2024-01-01 00:00:00+00' + (i / 3) * "
        "interval '1 second', (i::int8 * 7919) % 1000 FROM generate_series(1, 1000000) i;"
        "CREATE INDEX plan_events_recent ON plan_events (created_at DESC, id DESC);"
        "ANALYZE plan_events"));
    auto pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 2));
    const pgkit::repository<event> events{pool, pgkit::cursor_key::generate().value()};
    const std::vector order{desc(&event::created_at)};

    // A cursor half-way down: an offset page (allowed this deep for the test) hands over.
    auto deep = events.page_at(
        {.order_by = order, .page_number = 25'001, .page_size = 20, .max_offset = 600'000});
    REQUIRE(deep);
    REQUIRE(deep->items.size() == 20);
    REQUIRE_FALSE(deep->next_cursor.empty());
    CHECK(deep->items.front().id == 500'000);  // descending from id 1'000'000, offset 500'000

    const pgkit::page_request forward{.order_by = order, .first = 20, .after = deep->next_cursor};
    const pgkit::page_request backward{.order_by = order, .last = 20, .before = deep->next_cursor};
    for (const auto& request : {forward, backward}) {
        CAPTURE(request.first);
        auto plan = events.explain_page(request);
        REQUIRE(plan);
        CAPTURE(nodes(*plan));
        CHECK(plan->index_served());
        CHECK_FALSE(plan->sorts);
        CHECK_FALSE(plan->seq_scan);
        CHECK(has_index_scan(*plan));
        CHECK(plan->plan_json.find("plan_events_recent") != std::string::npos);

        // And the page is the right one.
        auto page = events.page(request);
        REQUIRE(page);
        REQUIRE(page->items.size() == 20);
        const auto boundary = deep->items.back().id;  // 499'981
        CHECK(page->items.front().id == (request.first > 0 ? boundary - 1 : boundary + 20));
        CHECK(page->has_next);
        CHECK(page->has_previous);
    }
    auto start = events.explain_page({.order_by = order, .first = 20});
    REQUIRE(start);
    CHECK(start->index_served());

    // Ordered by a column no index serves: the plan says so.
    const pgkit::page_request unindexed{.order_by = {desc(&event::score)}, .first = 20};
    auto first_unindexed = events.page(unindexed);
    REQUIRE(first_unindexed);
    auto plan = events.explain_page(
        {.order_by = {desc(&event::score)}, .first = 20, .after = first_unindexed->next_cursor});
    REQUIRE(plan);
    CAPTURE(nodes(*plan));
    CHECK_FALSE(plan->index_served());
    CHECK((plan->sorts || plan->seq_scan));
    auto plan_start = events.explain_page(unindexed);
    REQUIRE(plan_start);
    CHECK_FALSE(plan_start->index_served());
}
