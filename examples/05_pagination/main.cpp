// Keyset pagination: a feed of clips paged forward and back with signed cursors, a tampered
// cursor refused, an index check with EXPLAIN, and a numbered admin page that hands over to
// keyset pages. Exits non-zero on any failure.
//
//   pgkit_example_pagination postgresql://user@localhost/db
#include <pgkit/pgkit.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

struct clip {
    std::int64_t id = 0;
    std::int64_t author_id = 0;
    std::string title;
    std::chrono::sys_time<std::chrono::microseconds> created_at{};
};

template <>
struct pgkit::entity<clip> {
    static constexpr std::string_view table = "example_clips";
    static constexpr auto columns = std::tuple{
        pgkit::column(&clip::id, "id"),
        pgkit::column(&clip::author_id, "author_id"),
        pgkit::column(&clip::title, "title"),
        pgkit::column(&clip::created_at, "created_at"),
    };
    static constexpr auto primary_key = pgkit::key(&clip::id);
};

namespace {

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
}

int fail(const char* what) {
    std::fprintf(stderr, "unexpected: %s\n", what);
    return 1;
}

void show(const char* label, const pgkit::page<clip>& page) {
    std::printf("%-18s", label);
    for (const auto& c : page.items) {
        std::printf(" %lld", static_cast<long long>(c.id));
    }
    std::printf("   (has_previous=%d has_next=%d)\n", page.has_previous, page.has_next);
}

}  // namespace

int main(int argc, char** argv) {
    auto target = argc > 1 ? pgkit::connection_options::parse(argv[1])
                           : pgkit::connection_options::from_environment();
    if (!target) {
        return fail(target.error());
    }
    auto created = pgkit::pool::create({.connection = *target, .max_size = 2});
    if (!created) {
        return fail(created.error());
    }
    std::shared_ptr<pgkit::pool> pool = *created;
    {
        auto lease = pool->acquire();
        if (!lease) {
            return fail(lease.error());
        }
        // 100 000 clips, ten per second, so many share a created_at second with others:
        // the id appended to the ordering breaks the ties.
        auto ready = (*lease)->execute_script(
            "DROP TABLE IF EXISTS example_clips;"
            "CREATE TABLE example_clips (id int8 PRIMARY KEY, author_id int8 NOT NULL,"
            " title text NOT NULL, created_at timestamptz NOT NULL);"
            "INSERT INTO example_clips SELECT g, g % 100, 'clip ' || g,"
            " timestamptz '2026-01-01' + (g / 10) * interval '1 second'"
            " FROM generate_series(1, 100000) g;"
            "CREATE INDEX example_clips_feed ON example_clips (created_at DESC, id DESC);"
            "ANALYZE example_clips");
        if (!ready) {
            return fail(ready.error());
        }
    }

    // The key signs every cursor; in production it comes from configuration (>= 32 bytes),
    // the same in every process that serves the feed.
    auto key = pgkit::cursor_key::create("an example secret of at least 32 bytes, from config",
                                         {.max_age = std::chrono::hours{24}});
    if (!key) {
        return fail(key.error());
    }
    pgkit::repository<clip> clips{pool, *key};
    using namespace pgkit::filters;
    const std::vector order{desc(&clip::created_at)};  // newest first; id DESC is appended

    // The feed: forward twice, then back.
    auto first =
        clips.page({.order_by = order, .first = 5, .count = pgkit::count_policy::estimated});
    if (!first) {
        return fail(first.error());
    }
    show("newest 5:", *first);
    std::printf("%-18s about %lld clips (planner estimate)\n", "",
                static_cast<long long>(first->total));
    std::printf("%-18s %s\n", "next cursor:", first->next_cursor.c_str());
    auto second = clips.page({.order_by = order, .first = 5, .after = first->next_cursor});
    if (!second) {
        return fail(second.error());
    }
    show("next 5:", *second);
    auto back = clips.page({.order_by = order, .last = 5, .before = second->previous_cursor});
    if (!back) {
        return fail(back.error());
    }
    show("back 5:", *back);
    if (back->items.front().id != first->items.front().id || back->has_previous) {
        return fail("paging back did not return to the first page");
    }

    // A client that edits its cursor gets invalid_cursor, and no query runs.
    std::string tampered = second->next_cursor;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    auto refused = clips.page({.order_by = order, .first = 5, .after = tampered});
    if (refused || refused.error().code() != pgkit::errc::invalid_cursor) {
        return fail("a tampered cursor was accepted");
    }
    std::printf("tampered cursor:   %s\n", refused.error().message().c_str());

    // A cursor from another query (here: another filter) is refused too.
    auto foreign = clips.page(eq(&clip::author_id, std::int64_t{7}),
                              {.order_by = order, .first = 5, .after = second->next_cursor});
    if (foreign || foreign.error().code() != pgkit::errc::invalid_cursor) {
        return fail("a cursor from another query was accepted");
    }
    std::printf("foreign cursor:    %s\n", foreign.error().message().c_str());

    // Does an index serve the feed? EXPLAIN of the exact page statement, deep in the table.
    auto deep = clips.page_at(
        {.order_by = order, .page_number = 1000, .page_size = 10, .max_offset = 10'000});
    if (!deep) {
        return fail(deep.error());
    }
    auto plan = clips.explain_page({.order_by = order, .first = 20, .after = deep->next_cursor});
    if (!plan) {
        return fail(plan.error());
    }
    std::printf("index serves feed: %s (plan:", plan->index_served() ? "yes" : "NO");
    for (const auto& node : plan->node_types) {
        std::printf(" %s;", node.c_str());
    }
    std::printf(")\n");

    // Numbered pages stop at max_offset and point to keyset pages.
    auto too_deep = clips.page_at({.order_by = order, .page_number = 5000, .page_size = 10});
    if (too_deep || too_deep.error().code() != pgkit::errc::invalid_argument) {
        return fail("an offset past max_offset was accepted");
    }
    std::printf("page 5000 by OFFSET: %s\n", too_deep.error().message().c_str());
    auto continued = clips.page({.order_by = order, .first = 3, .after = deep->next_cursor});
    if (!continued) {
        return fail(continued.error());
    }
    show("after page 1000:", *continued);
    return plan->index_served() ? 0 : fail("no index serves the feed");
}
