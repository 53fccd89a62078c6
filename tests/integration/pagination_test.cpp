// Keyset and offset pages against a real server: page walks in both directions, NULL
// placement, mixed directions, filters and scopes, counts, and has_next/has_previous.
// (pagination_property_test.cpp compares random walks with ORDER BY; pagination_cursor_test.cpp
// attacks the cursors.)
#include "pgkit/pagination.hpp"

#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"
#include "pgkit/round_trips.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using pgkit::errc;
using namespace pgkit::filters;

struct post {
    std::int64_t id = 0;
    std::int64_t author = 0;
    std::optional<std::int64_t> score;
    std::string title;
    std::optional<std::chrono::sys_time<std::chrono::microseconds>> deleted_at;
};

}  // namespace

template <>
struct pgkit::entity<post> {
    static constexpr std::string_view table = "posts";
    static constexpr auto columns = std::tuple{
        pgkit::column(&post::id, "id"),
        pgkit::column(&post::author, "author"),
        pgkit::column(&post::score, "score"),
        pgkit::column(&post::title, "title"),
        pgkit::column(&post::deleted_at, "deleted_at"),
    };
    static constexpr auto primary_key = pgkit::key(&post::id);
    static constexpr auto soft_delete = &post::deleted_at;
};

namespace {

struct fixture {
    pgkit::test::scratch_schema schema;
    std::shared_ptr<pgkit::pool> pool;
    pgkit::repository<post> posts{nullptr};

    fixture() {
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE TABLE posts (id int8 PRIMARY KEY, author int8 NOT NULL, score int8, "
            "title text NOT NULL, deleted_at timestamptz)"));
        pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 2));
        posts = pgkit::repository<post>{pool, pgkit::cursor_key::generate().value()};
    }

    /// id 1..n; author id % 3; score NULL for every fourth row, else (id * 7) % 10 (ties).
    void seed(int n) {
        std::vector<post> rows;
        for (int i = 1; i <= n; ++i) {
            post p;
            p.id = i;
            p.author = i % 3;
            if (i % 4 != 0) {
                p.score = (i * 7) % 10;
            }
            p.title = "post " + std::to_string(i);
            rows.push_back(p);
        }
        REQUIRE(posts.insert_many(rows).value() == static_cast<std::uint64_t>(n));
    }
};

std::vector<std::int64_t> ids(const std::vector<post>& rows) {
    std::vector<std::int64_t> out;
    for (const auto& r : rows) {
        out.push_back(r.id);
    }
    return out;
}

/// Every id, walking forward page by page from the beginning.
std::vector<std::int64_t> walk_forward(const pgkit::repository<post>& repo,
                                       const pgkit::where<post>& filter,
                                       std::vector<pgkit::order_term> order,
                                       std::size_t size) {
    std::vector<std::int64_t> seen;
    pgkit::page_request request{.order_by = std::move(order), .first = size};
    for (int guard = 0; guard < 10'000; ++guard) {
        auto page = repo.page(filter, request);
        REQUIRE(page);
        for (auto id : ids(page->items)) {
            seen.push_back(id);
        }
        if (!page->has_next) {
            break;
        }
        request.after = page->next_cursor;
    }
    return seen;
}

/// Every id, walking backward from the end; returned in forward order.
std::vector<std::int64_t> walk_backward(const pgkit::repository<post>& repo,
                                        const pgkit::where<post>& filter,
                                        std::vector<pgkit::order_term> order,
                                        std::size_t size) {
    std::vector<std::int64_t> seen;
    pgkit::page_request request{.order_by = std::move(order), .last = size};
    for (int guard = 0; guard < 10'000; ++guard) {
        auto page = repo.page(filter, request);
        REQUIRE(page);
        auto chunk = ids(page->items);
        seen.insert(seen.begin(), chunk.begin(), chunk.end());
        if (!page->has_previous) {
            break;
        }
        request.before = page->previous_cursor;
    }
    return seen;
}

std::vector<std::int64_t> ordered(const pgkit::repository<post>& repo,
                                  const pgkit::where<post>& filter,
                                  std::vector<pgkit::order_term> order) {
    order.push_back(order.empty() || !order.back().descending ? asc(&post::id) : desc(&post::id));
    return ids(repo.find_where(filter, {.order_by = order}).value());
}

}  // namespace

TEST_CASE("keyset pages walk a nullable, mixed-direction ordering both ways like ORDER BY") {
    fixture f;
    f.seed(57);
    const std::vector<std::vector<pgkit::order_term>> orderings = {
        {},
        {desc(&post::id)},
        {asc(&post::score)},
        {desc(&post::score)},
        {asc(&post::score).nulls_first()},
        {desc(&post::score).nulls_last()},
        {asc(&post::author), desc(&post::score)},
        {desc(&post::author), asc(&post::score).nulls_first(), desc(&post::id)},
    };
    for (std::size_t o = 0; o < orderings.size(); ++o) {
        CAPTURE(o);
        const auto expected = ordered(f.posts, {}, orderings[o]);
        REQUIRE(expected.size() == 57);
        for (std::size_t size : {1U, 5U, 57U, 100U}) {
            CAPTURE(size);
            CHECK(walk_forward(f.posts, {}, orderings[o], size) == expected);
            CHECK(walk_backward(f.posts, {}, orderings[o], size) == expected);
        }
    }
}

TEST_CASE("keyset pages obey filters and soft-delete scopes") {
    fixture f;
    f.seed(40);
    REQUIRE(f.posts.remove_where(eq(&post::author, std::int64_t{1})).value() > 0);
    const auto filter = gt(&post::id, std::int64_t{5});
    const auto expected = ordered(f.posts, filter, {desc(&post::score)});
    CHECK(walk_forward(f.posts, filter, {desc(&post::score)}, 3) == expected);
    CHECK(walk_backward(f.posts, filter, {desc(&post::score)}, 3) == expected);
    for (auto id : expected) {
        CHECK(id % 3 != 1);
    }
    const auto deleted = f.posts.only_deleted();
    const auto gone = ordered(deleted, {}, {asc(&post::title)});
    CHECK(!gone.empty());
    CHECK(walk_forward(deleted, {}, {asc(&post::title)}, 4) == gone);
}

TEST_CASE("a page reports has_next, has_previous and cursors at both ends") {
    fixture f;
    f.seed(10);
    pgkit::page_request request{.order_by = {asc(&post::id)}, .first = 4};
    auto first = f.posts.page(request).value();
    CHECK(ids(first.items) == std::vector<std::int64_t>{1, 2, 3, 4});
    CHECK(first.has_next);
    CHECK_FALSE(first.has_previous);

    request.after = first.next_cursor;
    auto second = f.posts.page(request).value();
    CHECK(ids(second.items) == std::vector<std::int64_t>{5, 6, 7, 8});
    CHECK(second.has_next);
    CHECK(second.has_previous);

    pgkit::page_request back{
        .order_by = {asc(&post::id)}, .last = 4, .before = second.previous_cursor};
    auto again = f.posts.page(back).value();
    CHECK(ids(again.items) == std::vector<std::int64_t>{1, 2, 3, 4});
    CHECK_FALSE(again.has_previous);
    CHECK(again.has_next);

    pgkit::page_request end{.order_by = {asc(&post::id)}, .last = 3};
    auto tail = f.posts.page(end).value();
    CHECK(ids(tail.items) == std::vector<std::int64_t>{8, 9, 10});
    CHECK_FALSE(tail.has_next);
    CHECK(tail.has_previous);

    // Past the end: empty, keeps the cursor so a client can poll for new rows.
    request.after = tail.next_cursor;
    auto past = f.posts.page(request).value();
    CHECK(past.items.empty());
    CHECK_FALSE(past.has_next);
    CHECK(past.has_previous);
    CHECK(past.next_cursor == tail.next_cursor);
    REQUIRE(f.posts.insert(post{11, 2, 5, "late", std::nullopt}));
    auto polled = f.posts.page(request).value();
    CHECK(ids(polled.items) == std::vector<std::int64_t>{11});
}

TEST_CASE("an empty table gives one empty page in each direction") {
    fixture f;
    auto forward = f.posts.page({.order_by = {desc(&post::score)}, .first = 10}).value();
    CHECK(forward.items.empty());
    CHECK_FALSE(forward.has_next);
    CHECK_FALSE(forward.has_previous);
    CHECK(forward.next_cursor.empty());
    auto backward = f.posts.page({.order_by = {desc(&post::score)}, .last = 10}).value();
    CHECK(backward.items.empty());
    CHECK_FALSE(backward.has_previous);
}

TEST_CASE("page counts: none, exact, capped and estimated") {
    fixture f;
    f.seed(30);
    const auto filter = eq(&post::author, std::int64_t{0});  // ids 3, 6, ..., 30: 10 rows
    auto none = f.posts.page(filter, {.first = 2}).value();
    CHECK(none.total_is == pgkit::total_kind::none);
    auto exact = f.posts.page(filter, {.first = 2, .count = pgkit::count_policy::exact}).value();
    CHECK(exact.total_is == pgkit::total_kind::exact);
    CHECK(exact.total == 10);
    // The page and its count travel together: one round trip (the table's facts, read by the
    // first page above, are cached).
    pgkit::round_trip_budget budget{1};
    auto capped =
        f.posts.page(filter, {.first = 2, .count = pgkit::count_policy::capped, .count_cap = 4})
            .value();
    CHECK(budget.check());
    CHECK(capped.total_is == pgkit::total_kind::at_least);
    CHECK(capped.total == 5);
    auto roomy =
        f.posts.page(filter, {.first = 2, .count = pgkit::count_policy::capped, .count_cap = 50})
            .value();
    CHECK(roomy.total_is == pgkit::total_kind::exact);
    CHECK(roomy.total == 10);
    auto conn = f.schema.connect();
    REQUIRE(conn.execute_script("ANALYZE posts"));
    auto estimated = f.posts.page({.first = 2, .count = pgkit::count_policy::estimated}).value();
    CHECK(estimated.total_is == pgkit::total_kind::estimated);
    CHECK(estimated.total == 30);  // fresh statistics of a 30-row table are exact
}

TEST_CASE("offset pages number the rows, stop at max_offset, and hand over to keyset pages") {
    fixture f;
    f.seed(25);
    auto third = f.posts
                     .page_at({.order_by = {desc(&post::id)},
                               .page_number = 3,
                               .page_size = 5,
                               .count = pgkit::count_policy::exact})
                     .value();
    CHECK(ids(third.items) == std::vector<std::int64_t>{15, 14, 13, 12, 11});
    CHECK(third.has_next);
    CHECK(third.has_previous);
    CHECK(third.total == 25);
    auto last =
        f.posts.page_at({.order_by = {desc(&post::id)}, .page_number = 5, .page_size = 5}).value();
    CHECK_FALSE(last.has_next);
    auto next =
        f.posts.page({.order_by = {desc(&post::id)}, .first = 3, .after = third.next_cursor})
            .value();
    CHECK(ids(next.items) == std::vector<std::int64_t>{10, 9, 8});

    auto too_deep = f.posts.page_at({.page_number = 101, .page_size = 10, .max_offset = 999});
    REQUIRE_FALSE(too_deep);
    CHECK(too_deep.error().code() == errc::invalid_argument);
    CHECK(too_deep.error().message().find("keyset") != std::string::npos);
    CHECK(f.posts.page_at({.page_number = 100, .page_size = 10, .max_offset = 990}));
    CHECK(f.posts.page_at({.page_number = 0}).error().code() == errc::invalid_argument);
    CHECK(f.posts.page_at({.page_size = 0}).error().code() == errc::invalid_argument);
}

TEST_CASE("bad page requests are invalid_argument before any query") {
    fixture f;
    f.seed(3);
    auto code = [](const auto& r) { return r ? errc{} : r.error().code(); };
    CHECK(code(f.posts.page({})) == errc::invalid_argument);
    CHECK(code(f.posts.page({.first = 2, .last = 2})) == errc::invalid_argument);
    CHECK(code(f.posts.page({.first = pgkit::max_page_size + 1})) == errc::invalid_argument);
    CHECK(code(f.posts.page({.first = 2, .before = "x"})) == errc::invalid_argument);
    CHECK(code(f.posts.page({.after = "x", .last = 2})) == errc::invalid_argument);
    CHECK(code(f.posts.page({.order_by = {asc(&post::id), desc(&post::id)}, .first = 2})) ==
          errc::invalid_argument);
    pgkit::repository<post> unsigned_repo{f.pool};
    auto no_key = unsigned_repo.page({.first = 2});
    REQUIRE_FALSE(no_key);
    CHECK(no_key.error().code() == errc::invalid_argument);
    CHECK(no_key.error().message().find("cursor_key") != std::string::npos);
    // Offset pages need no key; they just carry no cursor.
    auto numbered = unsigned_repo.page_at({.page_size = 2}).value();
    CHECK(numbered.items.size() == 2);
    CHECK(numbered.next_cursor.empty());
}

TEST_CASE("one repository serves pages to several threads at once") {
    fixture f;
    f.seed(60);
    // A fresh repository: the threads race to read the catalog's NOT NULL facts first.
    pgkit::repository<post> shared{f.pool, pgkit::cursor_key::generate().value()};
    const auto expected = ordered(f.posts, {}, {desc(&post::score)});
    std::vector<std::vector<std::int64_t>> seen(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < seen.size(); ++t) {
        threads.emplace_back([&, t] {
            pgkit::page_request request{.order_by = {desc(&post::score)}, .first = 7};
            for (int guard = 0; guard < 100; ++guard) {
                auto page = shared.page(request);
                if (!page) {
                    return;  // seen[t] stays short; the CHECK below fails
                }
                for (const auto& p : page->items) {
                    seen[t].push_back(p.id);
                }
                if (!page->has_next) {
                    return;
                }
                request.after = page->next_cursor;
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    for (const auto& ids_seen : seen) {
        CHECK(ids_seen == expected);
    }
}

TEST_CASE("more page shapes than a repository keeps still page like ORDER BY, cursors included") {
    fixture f;
    f.seed(57);
    // Every ordering of one or two of author, score and title, in each direction and NULL
    // placement: 12 + 96 orderings, each walked both ways, so the repository's cache of page
    // shapes (keyset_cache::max_shapes) fills and drops shapes many times over.
    using term_of = pgkit::order_term (*)(int variant);
    const std::vector<term_of> columns = {
        [](int v) {
            auto t = v % 2 == 0 ? asc(&post::author) : desc(&post::author);
            return v < 2 ? t : (v == 2 ? t.nulls_first() : t.nulls_last());
        },
        [](int v) {
            auto t = v % 2 == 0 ? asc(&post::score) : desc(&post::score);
            return v < 2 ? t : (v == 2 ? t.nulls_first() : t.nulls_last());
        },
        [](int v) {
            auto t = v % 2 == 0 ? asc(&post::title) : desc(&post::title);
            return v < 2 ? t : (v == 2 ? t.nulls_first() : t.nulls_last());
        },
    };
    std::vector<std::vector<pgkit::order_term>> orderings;
    for (std::size_t a = 0; a < columns.size(); ++a) {
        for (int va = 0; va < 4; ++va) {
            orderings.push_back({columns[a](va)});
            for (std::size_t b = 0; b < columns.size(); ++b) {
                for (int vb = 0; vb < 4 && b != a; ++vb) {
                    orderings.push_back({columns[a](va), columns[b](vb)});
                }
            }
        }
    }
    REQUIRE(orderings.size() > pgkit::detail::keyset_cache::max_shapes);
    // A cursor issued before its shape is dropped from the cache still continues the walk.
    pgkit::page_request early{.order_by = orderings.front(), .first = 10};
    auto first_page = f.posts.page(early);
    REQUIRE(first_page);
    for (std::size_t o = 0; o < orderings.size(); ++o) {
        CAPTURE(o);
        const auto expected = ordered(f.posts, {}, orderings[o]);
        REQUIRE(expected.size() == 57);
        CHECK(walk_forward(f.posts, {}, orderings[o], 20) == expected);
        CHECK(walk_backward(f.posts, {}, orderings[o], 20) == expected);
    }
    early.after = first_page->next_cursor;
    auto second_page = f.posts.page(early);
    REQUIRE(second_page);
    const auto expected = ordered(f.posts, {}, orderings.front());
    CHECK(ids(second_page->items) ==
          std::vector<std::int64_t>(expected.begin() + 10, expected.begin() + 20));
}
