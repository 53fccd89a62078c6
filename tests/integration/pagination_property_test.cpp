// Keyset pages against ORDER BY over random data: many seeded datasets (empty to ~120 rows) with
// NULLs and duplicates in int8, text, float8 and timestamptz columns, random orderings (1-3
// terms, each direction and NULL placement, sometimes the key in the middle), single and
// composite keys, filters and soft-delete scopes. Walking forward to the end and backward to
// the start visits every row once, in exactly the order of one ORDER BY query written in raw
// SQL. A second part inserts and deletes rows between pages.
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pagination.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace pgkit::filters;
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

struct item {
    std::int64_t id = 0;
    std::optional<std::int64_t> a;
    std::optional<std::string> b;
    std::optional<double> c;
    std::optional<timestamp> t;
    std::int64_t g = 0;
    std::optional<timestamp> deleted_at;
};

/// A composite primary key (k1, k2).
struct line {
    std::int64_t k1 = 0;
    std::string k2;
    std::optional<std::int64_t> q;
    std::optional<std::string> s;
};

}  // namespace

template <>
struct pgkit::entity<item> {
    static constexpr std::string_view table = "prop_items";
    static constexpr auto columns = std::tuple{
        pgkit::column(&item::id, "id"),
        pgkit::column(&item::a, "a"),
        pgkit::column(&item::b, "b"),
        pgkit::column(&item::c, "c"),
        pgkit::column(&item::t, "t"),
        pgkit::column(&item::g, "g"),
        pgkit::column(&item::deleted_at, "deleted_at"),
    };
    static constexpr auto primary_key = pgkit::key(&item::id);
    static constexpr auto soft_delete = &item::deleted_at;
};

template <>
struct pgkit::entity<line> {
    static constexpr std::string_view table = "prop_lines";
    static constexpr auto columns = std::tuple{
        pgkit::column(&line::k1, "k1"),
        pgkit::column(&line::k2, "k2"),
        pgkit::column(&line::q, "q"),
        pgkit::column(&line::s, "s"),
    };
    static constexpr auto primary_key = pgkit::key(&line::k1, &line::k2);
};

namespace {

using rng_t = std::mt19937;

/// PGKIT_TEST_SEED repeats a run (the seed is printed with every failure); else random.
std::uint32_t seed_for_run() {
    if (const char* fixed = std::getenv("PGKIT_TEST_SEED"); fixed != nullptr && *fixed != 0) {
        return static_cast<std::uint32_t>(std::strtoul(fixed, nullptr, 10));
    }
    return std::random_device{}();
}

int pick(rng_t& rng, int lo, int hi) {
    return std::uniform_int_distribution<int>{lo, hi}(rng);
}
bool chance(rng_t& rng, int percent) {
    return pick(rng, 0, 99) < percent;
}

/// A term of an ordering, as pgkit takes it and as raw SQL spells it.
struct term {
    pgkit::order_term order;
    std::string sql;
};

term make_term(rng_t& rng, pgkit::order_term base, std::string_view column) {
    switch (pick(rng, 0, 2)) {
        case 1:
            base = base.nulls_first();
            break;
        case 2:
            base = base.nulls_last();
            break;
        default:
            break;
    }
    return {base, fmt::format("{} {} NULLS {}", column, base.descending ? "DESC" : "ASC",
                              base.places_nulls_first() ? "FIRST" : "LAST")};
}

struct ordering {
    std::vector<pgkit::order_term> terms;
    std::string sql;  ///< " ORDER BY ..., <key> <last term's direction>"
    std::string text;
};

/// 1-3 distinct columns from `candidates` (member order term builders with their SQL names),
/// then the key columns in the last term's direction.
ordering random_ordering(
    rng_t& rng,
    std::vector<std::pair<std::function<pgkit::order_term(bool)>, std::string>> candidates,
    const std::vector<std::string>& key) {
    std::shuffle(candidates.begin(), candidates.end(), rng);
    const int n = pick(rng, 1, 3);
    ordering out;
    for (int i = 0; i < n; ++i) {
        const bool descending = chance(rng, 50);
        auto t = make_term(rng, candidates[static_cast<std::size_t>(i)].first(descending),
                           candidates[static_cast<std::size_t>(i)].second);
        out.terms.push_back(t.order);
        out.sql += (i == 0 ? " ORDER BY " : ", ") + t.sql;
    }
    out.text = out.sql;
    const bool descending = out.terms.back().descending;
    for (const auto& k : key) {
        out.sql += fmt::format(", {} {}", k, descending ? "DESC" : "ASC");
    }
    return out;
}

/// Column 0 of every row `sql` returns, as text. (Alias the text column: `SELECT id::text`
/// would be named "id", and ORDER BY id would then sort the text.)
std::vector<std::string> column_texts(pgkit::connection& conn, const std::string& sql) {
    auto rows = conn.execute(sql);
    REQUIRE_MESSAGE(rows, sql);
    std::vector<std::string> out;
    for (const auto& r : *rows) {
        out.push_back(std::string{r.text(0).value().value()});
    }
    return out;
}

std::string key_of(const item& i) {
    return std::to_string(i.id);
}
std::string key_of(const line& l) {
    return std::to_string(l.k1) + "|" + l.k2;
}

std::string joined(const std::vector<std::string>& keys) {
    std::string out;
    for (const auto& k : keys) {
        out += (out.empty() ? "" : " ") + k;
    }
    return out;
}

/// Between two page requests (mutations); does nothing by default.
using between_pages = std::function<void()>;

/// Every row's key, walking forward from the beginning (or backward from the end, returned in
/// forward order), checking each page's flags and size on the way.
template <class E>
std::vector<std::string> walk(const pgkit::repository<E>& repo,
                              const pgkit::where<E>& filter,
                              const std::vector<pgkit::order_term>& order,
                              std::size_t size,
                              bool forward,
                              const between_pages& between = {},
                              bool static_data = true) {
    std::vector<std::string> seen;
    pgkit::page_request request{.order_by = order};
    (forward ? request.first : request.last) = size;
    for (int pages = 0;; ++pages) {
        REQUIRE(pages < 1000);
        auto page = repo.page(filter, request);
        REQUIRE_MESSAGE(page, page.error().message());
        CHECK(page->items.size() <= size);
        std::vector<std::string> keys;
        for (const auto& e : page->items) {
            keys.push_back(key_of(e));
        }
        const bool more = forward ? page->has_next : page->has_previous;
        const bool behind = forward ? page->has_previous : page->has_next;
        if (static_data) {
            CHECK(behind == (pages > 0));
            if (more) {
                CHECK(page->items.size() == size);
            }
        }
        if (forward) {
            seen.insert(seen.end(), keys.begin(), keys.end());
        } else {
            seen.insert(seen.begin(), keys.begin(), keys.end());
        }
        if (!more) {
            break;
        }
        REQUIRE_FALSE(page->items.empty());
        if (forward) {
            request.after = page->next_cursor;
        } else {
            request.before = page->previous_cursor;
        }
        if (between) {
            between();
        }
    }
    return seen;
}

const std::vector<std::optional<std::string>> texts{"", "a", "A", "b", "ab", "a b", "zz", "é"};
const std::vector<double> doubles{-1.5,
                                  0.0,
                                  -0.0,
                                  0.1,
                                  2.5,
                                  1e300,
                                  std::numeric_limits<double>::infinity(),
                                  -std::numeric_limits<double>::infinity(),
                                  std::numeric_limits<double>::quiet_NaN()};
const std::vector<timestamp> instants{
    timestamp{std::chrono::microseconds{1'700'000'000'000'001}},
    timestamp{std::chrono::microseconds{1'700'000'000'000'002}},
    timestamp{std::chrono::microseconds{-86'400'000'000}},
    timestamp{std::chrono::microseconds{1'700'000'000'000'000}},
};

item random_item(rng_t& rng, std::int64_t id) {
    item i;
    i.id = id;
    if (!chance(rng, 30)) {
        i.a = pick(rng, 0, 3);
    }
    if (!chance(rng, 25)) {
        i.b = texts[static_cast<std::size_t>(pick(rng, 0, static_cast<int>(texts.size()) - 1))];
    }
    if (!chance(rng, 25)) {
        i.c = doubles[static_cast<std::size_t>(pick(rng, 0, static_cast<int>(doubles.size()) - 1))];
    }
    if (!chance(rng, 25)) {
        i.t = instants[static_cast<std::size_t>(pick(rng, 0, 3))];
    }
    i.g = pick(rng, 0, 4);
    return i;
}

std::vector<std::pair<std::function<pgkit::order_term(bool)>, std::string>> item_columns() {
    auto of = [](auto member) {
        return [member](bool d) { return d ? desc(member) : asc(member); };
    };
    return {{of(&item::a), "a"}, {of(&item::b), "b"}, {of(&item::c), "c"},
            {of(&item::t), "t"}, {of(&item::g), "g"}, {of(&item::id), "id"}};
}

struct fixture {
    pgkit::test::scratch_schema schema;
    pgkit::connection conn = schema.connect();
    std::shared_ptr<pgkit::pool> pool;
    pgkit::repository<item> items{nullptr};
    pgkit::repository<line> lines{nullptr};

    fixture() {
        REQUIRE(conn.execute_script(
            "CREATE TABLE prop_items (id int8 PRIMARY KEY, a int8, b text, c float8, "
            "t timestamptz, g int8 NOT NULL, deleted_at timestamptz);"
            "CREATE TABLE prop_lines (k1 int8, k2 text, q int8, s text, PRIMARY KEY (k1, k2));"
            "CREATE TABLE prop_items_ever (LIKE prop_items)"));
        pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 2));
        auto key = pgkit::cursor_key::generate().value();
        items = pgkit::repository<item>{pool, key};
        lines = pgkit::repository<line>{pool, key};
    }
};

}  // namespace

TEST_CASE("keyset walks over random data equal ORDER BY, forward and backward") {
    fixture f;
    const std::uint32_t base_seed = seed_for_run();
    INFO("base seed: " << base_seed);
    std::size_t walks = 0;
    for (std::uint32_t dataset = 0; dataset < 44; ++dataset) {
        const std::uint32_t seed = base_seed + dataset;
        CAPTURE(seed);
        rng_t rng{seed};
        const int n = dataset % 11 == 0 ? 0 : pick(rng, 1, 120);
        CAPTURE(n);
        REQUIRE(f.conn.execute_script("TRUNCATE prop_items"));
        std::vector<item> rows;
        std::vector<std::int64_t> deleted;
        for (int i = 0; i < n; ++i) {
            rows.push_back(random_item(rng, pick(rng, 1, 1000) * 1000 + i));
            if (chance(rng, 20)) {
                deleted.push_back(rows.back().id);
            }
        }
        if (n > 0) {
            REQUIRE(f.items.insert_many(rows).value() == static_cast<std::uint64_t>(n));
            REQUIRE(f.conn.execute("UPDATE prop_items SET deleted_at = now() WHERE id = ANY($1)",
                                   deleted));
        }

        for (int o = 0; o < 3; ++o) {
            const auto order = random_ordering(rng, item_columns(), {"id"});
            CAPTURE(order.text);
            CAPTURE(order.sql);
            // Scope and filter: plain in most iterations.
            pgkit::repository<item> repo = f.items;
            std::string condition = "deleted_at IS NULL";
            pgkit::where<item> filter;
            std::string scope_name = "live";
            switch (pick(rng, 0, 5)) {
                case 1:
                    repo = f.items.with_deleted();
                    condition = "TRUE";
                    scope_name = "all";
                    break;
                case 2:
                    repo = f.items.only_deleted();
                    condition = "deleted_at IS NOT NULL";
                    scope_name = "deleted";
                    break;
                default:
                    break;
            }
            switch (pick(rng, 0, 4)) {
                case 1: {
                    const std::int64_t g = pick(rng, 0, 4);
                    filter = gt(&item::g, g);
                    condition += fmt::format(" AND g > {}", g);
                    break;
                }
                case 2:
                    filter = is_not_null(&item::a) || eq(&item::g, std::int64_t{2});
                    condition += " AND (a IS NOT NULL OR g = 2)";
                    break;
                default:
                    break;
            }
            CAPTURE(scope_name);
            CAPTURE(condition);
            const auto expected =
                column_texts(f.conn, "SELECT id::text AS id_text FROM prop_items WHERE " +
                                         condition + order.sql);
            std::vector<std::size_t> sizes{
                static_cast<std::size_t>(pick(rng, 2, 9)),
                expected.size() + static_cast<std::size_t>(pick(rng, 1, 9))};
            if (o == 0) {
                sizes.push_back(1);
            }
            for (std::size_t size : sizes) {
                CAPTURE(size);
                CHECK(joined(walk(repo, filter, order.terms, size, false)) == joined(expected));
                walks += 2;
            }
        }
    }
    MESSAGE("walks compared with ORDER BY: " << walks);
    CHECK(walks > 300);
}

TEST_CASE("keyset walks over a composite primary key equal ORDER BY") {
    fixture f;
    const std::uint32_t base_seed = seed_for_run();
    INFO("base seed: " << base_seed);
    auto of = [](auto member) {
        return [member](bool d) { return d ? desc(member) : asc(member); };
    };
    for (std::uint32_t dataset = 0; dataset < 20; ++dataset) {
        const std::uint32_t seed = base_seed + dataset;
        CAPTURE(seed);
        rng_t rng{seed};
        const int n = dataset == 0 ? 0 : pick(rng, 1, 90);
        REQUIRE(f.conn.execute_script("TRUNCATE prop_lines"));
        std::vector<line> rows;
        std::set<std::pair<std::int64_t, std::string>> keys;
        while (static_cast<int>(rows.size()) < n) {
            line l;
            l.k1 = pick(rng, 0, 6);  // many duplicates in each key column
            l.k2 = std::string(static_cast<std::size_t>(pick(rng, 0, 3)), "xyXY"[pick(rng, 0, 3)]);
            if (!keys.emplace(l.k1, l.k2).second) {
                continue;
            }
            if (!chance(rng, 30)) {
                l.q = pick(rng, -2, 2);
            }
            if (!chance(rng, 30)) {
                l.s = texts[static_cast<std::size_t>(pick(rng, 0, 3))];
            }
            rows.push_back(l);
        }
        if (n > 0) {
            REQUIRE(f.lines.insert_many(rows).value() == static_cast<std::uint64_t>(n));
        }
        for (int o = 0; o < 3; ++o) {
            const auto order = random_ordering(rng,
                                               {{of(&line::q), "q"},
                                                {of(&line::s), "s"},
                                                {of(&line::k1), "k1"},
                                                {of(&line::k2), "k2"}},
                                               {"k1", "k2"});
            CAPTURE(order.text);
            pgkit::where<line> filter;
            std::string condition = "TRUE";
            if (chance(rng, 30)) {
                filter = ne(&line::k1, std::int64_t{3});
                condition = "k1 <> 3";
            }
            const auto expected = column_texts(
                f.conn, "SELECT k1::text || '|' || k2 AS key_text FROM prop_lines WHERE " +
                            condition + order.sql);
            // Pages of one row for the first ordering of each dataset only (they cost most).
            for (std::size_t size :
                 {o == 0 ? std::size_t{1} : static_cast<std::size_t>(pick(rng, 2, 4)),
                  static_cast<std::size_t>(pick(rng, 2, 7)), expected.size() + 1}) {
                CAPTURE(size);
                CHECK(joined(walk(f.lines, filter, order.terms, size, true)) == joined(expected));
                CHECK(joined(walk(f.lines, filter, order.terms, size, false)) == joined(expected));
            }
        }
    }
}

TEST_CASE("rows inserted and deleted between pages: survivors once each, in order, no repeats") {
    fixture f;
    const std::uint32_t base_seed = seed_for_run();
    INFO("base seed: " << base_seed);
    for (std::uint32_t run = 0; run < 16; ++run) {
        const std::uint32_t seed = base_seed + run;
        CAPTURE(seed);
        rng_t rng{seed};
        REQUIRE(f.conn.execute_script("TRUNCATE prop_items; TRUNCATE prop_items_ever"));
        const int n = pick(rng, 0, 100);
        std::int64_t next_id = 1;
        std::vector<item> rows;
        for (int i = 0; i < n; ++i) {
            rows.push_back(random_item(rng, next_id++));
        }
        if (n > 0) {
            REQUIRE(f.items.insert_many(rows).value() == static_cast<std::uint64_t>(n));
        }
        REQUIRE(f.conn.execute_script("INSERT INTO prop_items_ever SELECT * FROM prop_items"));
        std::set<std::string> initial;
        std::vector<std::int64_t> present;
        for (const auto& r : rows) {
            initial.insert(key_of(r));
            present.push_back(r.id);
        }
        std::set<std::string> deleted;
        int rounds = 0;
        auto mutate = [&] {
            // Bounded, so a walk with small pages cannot be outrun by inserts ahead of it.
            if (++rounds > 40) {
                return;
            }
            for (int k = pick(rng, 0, 3); k > 0; --k) {
                auto fresh = random_item(rng, next_id++);
                REQUIRE(f.items.insert(fresh));
                REQUIRE(
                    f.conn.execute("INSERT INTO prop_items_ever SELECT * FROM prop_items "
                                   "WHERE id = $1",
                                   fresh.id));
                present.push_back(fresh.id);
            }
            for (int k = pick(rng, 0, 3); k > 0 && !present.empty(); --k) {
                const auto at =
                    static_cast<std::size_t>(pick(rng, 0, static_cast<int>(present.size()) - 1));
                REQUIRE(f.conn.execute("DELETE FROM prop_items WHERE id = $1", present[at]));
                deleted.insert(std::to_string(present[at]));
                present.erase(present.begin() + static_cast<std::ptrdiff_t>(at));
            }
        };
        const auto order = random_ordering(rng, item_columns(), {"id"});
        CAPTURE(order.text);
        const bool forward = run % 2 == 0;
        CAPTURE(forward);
        const auto size = static_cast<std::size_t>(pick(rng, 1, 8));
        CAPTURE(size);
        const auto seen = walk(f.items, {}, order.terms, size, forward, mutate, false);

        // No row twice.
        const std::set<std::string> unique(seen.begin(), seen.end());
        CHECK(unique.size() == seen.size());
        // Every row present throughout the walk was seen.
        for (const auto& k : initial) {
            if (deleted.count(k) == 0) {
                CHECK_MESSAGE(unique.count(k) == 1, "missed row " << k);
            }
        }
        // In order: a subsequence of ORDER BY over every row that ever existed.
        const auto everyone = column_texts(
            f.conn,
            "SELECT id::text AS id_text FROM prop_items_ever WHERE deleted_at IS NULL" + order.sql);
        std::size_t at = 0;
        for (const auto& k : seen) {
            while (at < everyone.size() && everyone[at] != k) {
                ++at;
            }
            CHECK_MESSAGE(at < everyone.size(), "out of order: " << k);
            ++at;
        }
    }
}
