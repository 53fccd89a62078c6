// Attacks on keyset cursors: every way a cursor can be wrong is invalid_cursor and runs no query
// (the pool hands out no connection), expiry and clock skew by an injected clock, key rotation,
// and secrets that never appear in an error message.
#include "pgkit/cursor_key.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pagination.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"

#include "integration/pool_test_support.hpp"
#include "pagination/cursor_codec.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

using pgkit::errc;
using namespace pgkit::filters;
using namespace std::chrono_literals;

struct note {
    std::int64_t id = 0;
    std::int64_t author = 0;
    std::optional<std::int64_t> score;
    std::string title;
    std::optional<std::chrono::sys_time<std::chrono::microseconds>> deleted_at;
};

/// The same shape in another table.
struct memo {
    std::int64_t id = 0;
    std::int64_t author = 0;
    std::optional<std::int64_t> score;
    std::string title;
    std::optional<std::chrono::sys_time<std::chrono::microseconds>> deleted_at;
};

}  // namespace

template <>
struct pgkit::entity<note> {
    static constexpr std::string_view table = "cursor_notes";
    static constexpr auto columns = std::tuple{
        pgkit::column(&note::id, "id"),
        pgkit::column(&note::author, "author"),
        pgkit::column(&note::score, "score"),
        pgkit::column(&note::title, "title"),
        pgkit::column(&note::deleted_at, "deleted_at"),
    };
    static constexpr auto primary_key = pgkit::key(&note::id);
    static constexpr auto soft_delete = &note::deleted_at;
};

template <>
struct pgkit::entity<memo> {
    static constexpr std::string_view table = "cursor_memos";
    static constexpr auto columns = std::tuple{
        pgkit::column(&memo::id, "id"),
        pgkit::column(&memo::author, "author"),
        pgkit::column(&memo::score, "score"),
        pgkit::column(&memo::title, "title"),
        pgkit::column(&memo::deleted_at, "deleted_at"),
    };
    static constexpr auto primary_key = pgkit::key(&memo::id);
    static constexpr auto soft_delete = &memo::deleted_at;
};

namespace {

constexpr std::string_view secret = "cursor-test-secret-SIGNING-0123456789";
constexpr std::string_view old_secret = "cursor-test-secret-RETIRED-9876543210";

/// A clock the test moves by hand.
struct manual_clock {
    std::shared_ptr<std::chrono::system_clock::time_point> now =
        std::make_shared<std::chrono::system_clock::time_point>(
            std::chrono::sys_days{std::chrono::year{2031} / 3 / 14});
    [[nodiscard]] std::function<std::chrono::system_clock::time_point()> fn() const {
        return [now = now] { return *now; };
    }
};

pgkit::cursor_key make_key(std::string_view s, pgkit::cursor_key_options options = {}) {
    auto key = pgkit::cursor_key::create(s, std::move(options));
    REQUIRE(key);
    return std::move(*key);
}

struct fixture {
    pgkit::test::scratch_schema schema;
    std::shared_ptr<pgkit::pool> pool;
    manual_clock clock;
    pgkit::repository<note> notes{nullptr};
    pgkit::repository<memo> memos{nullptr};
    std::vector<std::string> messages;  ///< of every error seen, checked for the secrets

    fixture() {
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE TABLE cursor_notes (id int8 PRIMARY KEY, author int8 NOT NULL, score int8, "
            "title text NOT NULL, deleted_at timestamptz);"
            "CREATE TABLE cursor_memos (LIKE cursor_notes INCLUDING ALL);"
            "INSERT INTO cursor_notes SELECT i, i % 3, CASE WHEN i % 4 = 0 THEN NULL ELSE i % 5 "
            "END, 'n' || i, CASE WHEN i % 7 = 0 THEN now() END FROM generate_series(1, 30) i;"
            "INSERT INTO cursor_memos SELECT * FROM cursor_notes;"));
        pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 2));
        notes = pgkit::repository<note>{pool, make_key(secret, {.clock = clock.fn()})};
        memos = pgkit::repository<memo>{pool, make_key(secret, {.clock = clock.fn()})};
        // A repository's first page reads the catalog once (NOT NULL facts and the table's
        // identity, which the cursor fingerprint names); after that a bad cursor takes no
        // connection at all, which expect_refused checks.
        REQUIRE(notes.page({.first = 1}));
        REQUIRE(memos.page({.first = 1}));
    }

    [[nodiscard]] std::uint64_t acquired() const { return pool->metrics().acquired; }

    /// Fails unless `page` is invalid_cursor and took no connection from the pool.
    template <class Call>
    void expect_refused(Call&& page) {
        const auto before = acquired();
        auto got = page();
        REQUIRE_FALSE(got.has_value());
        CHECK(got.error().code() == errc::invalid_cursor);
        CHECK(acquired() == before);
        messages.push_back(got.error().message());
    }

    ~fixture() {
        for (const auto& m : messages) {
            CHECK(m.find(secret) == std::string::npos);
            CHECK(m.find(old_secret) == std::string::npos);
            CHECK(m.find("SIGNING") == std::string::npos);
        }
    }
};

const std::vector<pgkit::order_term> by_score{desc(&note::score)};

/// A real cursor: after the third row of the live notes by score, authored by 1.
std::string real_cursor(const pgkit::repository<note>& repo,
                        const pgkit::where<note>& filter = eq(&note::author, std::int64_t{1})) {
    auto page = repo.page(filter, {.order_by = by_score, .first = 3});
    REQUIRE(page);
    REQUIRE(page->has_next);
    return page->next_cursor;
}

}  // namespace

TEST_CASE("a genuine cursor continues the walk and the pool shows the query it ran") {
    fixture f;
    const auto filter = eq(&note::author, std::int64_t{1});
    const auto cursor = real_cursor(f.notes);
    const auto before = f.acquired();
    auto next = f.notes.page(filter, {.order_by = by_score, .first = 3, .after = cursor});
    REQUIRE(next);
    CHECK(next->items.size() == 3);
    CHECK(next->has_previous);
    CHECK(f.acquired() > before);  // so "no connection taken" below can fail
    // Used as `before` (backward) it is just as valid.
    auto back = f.notes.page(filter, {.order_by = by_score, .last = 3, .before = cursor});
    REQUIRE(back);
    CHECK(back->items.size() == 2);  // the two rows before the third
    CHECK_FALSE(back->has_previous);
    CHECK(back->has_next);
    // An empty cursor means "no cursor": the first page, not an error.
    auto start = f.notes.page(filter, {.order_by = by_score, .first = 3, .after = ""});
    REQUIRE(start);
    CHECK_FALSE(start->has_previous);
}

TEST_CASE("every flipped bit, changed character and truncation of a cursor is invalid_cursor") {
    fixture f;
    const auto filter = eq(&note::author, std::int64_t{1});
    const auto cursor = real_cursor(f.notes);
    auto use = [&](const std::string& c) {
        return [&f, &filter, c] {
            return f.notes.page(filter, {.order_by = by_score, .first = 3, .after = c});
        };
    };
    REQUIRE(f.notes.page(filter, {.order_by = by_score, .first = 3, .after = cursor}));

    const auto bytes = pgkit::detail::base64url_decode(cursor);
    REQUIRE(bytes);
    for (std::size_t bit = 0; bit < bytes->size() * 8; ++bit) {
        CAPTURE(bit);
        std::string flipped = *bytes;
        flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
        f.expect_refused(use(pgkit::detail::base64url_encode(flipped)));
        CHECK(f.notes
                  .page(filter, {.order_by = by_score,
                                 .last = 1,
                                 .before = pgkit::detail::base64url_encode(flipped)})
                  .error()
                  .code() == errc::invalid_cursor);
    }

    const std::string replacements =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= .%\n";
    for (std::size_t at = 0; at < cursor.size(); ++at) {
        for (char c : replacements) {
            if (c == cursor[at]) {
                continue;
            }
            CAPTURE(at);
            CAPTURE(c);
            std::string changed = cursor;
            changed[at] = c;
            f.expect_refused(use(changed));
        }
    }

    for (std::size_t length = 1; length < cursor.size(); ++length) {
        CAPTURE(length);
        f.expect_refused(use(cursor.substr(0, length)));
        f.expect_refused(use(cursor.substr(cursor.size() - length)));
    }
    f.expect_refused(use(cursor + "A"));
    f.expect_refused(use(cursor + "AA"));
    f.expect_refused(use(cursor + cursor));
}

TEST_CASE("a cursor for another key, ordering, table, filter or scope is invalid_cursor") {
    fixture f;
    const auto filter = eq(&note::author, std::int64_t{1});
    const auto cursor = real_cursor(f.notes);

    // Another key.
    const auto other_key = f.notes.with_cursor_key(make_key("another-secret-of-32-bytes-or-more!"));
    f.expect_refused([&] {
        return other_key.page(filter, {.order_by = by_score, .first = 3, .after = cursor});
    });
    // A cursor the other key signed is no good to the first.
    auto foreign = other_key.page(filter, {.order_by = by_score, .first = 3});
    REQUIRE(foreign);
    f.expect_refused([&] {
        return f.notes.page(filter,
                            {.order_by = by_score, .first = 3, .after = foreign->next_cursor});
    });

    // Another ordering, with the same number of values, and with another number.
    for (const auto& order : std::vector<std::vector<pgkit::order_term>>{
             {asc(&note::score)},
             {desc(&note::score).nulls_last()},
             {desc(&note::author)},
             {desc(&note::score), desc(&note::id)},  // the same total ordering: accepted below
             {asc(&note::id)},
             {desc(&note::score), asc(&note::title)},
             {}}) {
        CAPTURE(order.size());
        const bool same_total = order.size() == 2 && order[1].column == 0 && order[1].descending;
        if (same_total) {
            CHECK(f.notes.page(filter, {.order_by = order, .first = 3, .after = cursor}));
            continue;
        }
        f.expect_refused(
            [&] { return f.notes.page(filter, {.order_by = order, .first = 3, .after = cursor}); });
    }

    // Another table with the same shape (and the same key).
    f.expect_refused([&] {
        return f.memos.page(eq(&memo::author, std::int64_t{1}),
                            {.order_by = {desc(&memo::score)}, .first = 3, .after = cursor});
    });

    // Another filter: the same shape with another value, another shape, none.
    for (const auto& other :
         {eq(&note::author, std::int64_t{2}), ge(&note::author, std::int64_t{1}),
          eq(&note::author, std::int64_t{1}) && is_not_null(&note::score), pgkit::where<note>{}}) {
        f.expect_refused([&] {
            return f.notes.page(other, {.order_by = by_score, .first = 3, .after = cursor});
        });
    }

    // Another scope.
    f.expect_refused([&] {
        return f.notes.with_deleted().page(filter,
                                           {.order_by = by_score, .first = 3, .after = cursor});
    });
    f.expect_refused([&] {
        return f.notes.only_deleted().page(filter,
                                           {.order_by = by_score, .first = 3, .after = cursor});
    });
    // ... and the other way round.
    const auto all_cursor = real_cursor(f.notes.with_deleted());
    f.expect_refused([&] {
        return f.notes.page(filter, {.order_by = by_score, .first = 3, .after = all_cursor});
    });
    CHECK(f.notes.with_deleted().page(filter,
                                      {.order_by = by_score, .first = 3, .after = all_cursor}));
}

TEST_CASE("garbage and oversized cursors are invalid_cursor") {
    fixture f;
    const auto filter = eq(&note::author, std::int64_t{1});
    auto use = [&](std::string c) {
        return [&f, &filter, c = std::move(c)] {
            return f.notes.page(filter, {.order_by = by_score, .first = 3, .after = c});
        };
    };
    for (const std::string& garbage : std::vector<std::string>{
             " ", "   ", "\t", "\n", "null", "not a cursor!", "AAAA", "AAAAAAAAAAAAAAAAAAAAAAAA",
             "eyJpZCI6IDF9", "%00", std::string(1, '\0'), std::string("A\0B", 3), "\xff\xfe"}) {
        CAPTURE(garbage);
        f.expect_refused(use(garbage));
    }
    // Random bytes of a plausible cursor's length, well-formed base64url.
    std::mt19937 rng{7};
    for (std::size_t n : {50U, 60U, 70U, 90U, 200U}) {
        std::string bytes(n, '\0');
        for (auto& c : bytes) {
            c = static_cast<char>(rng() & 0xff);
        }
        bytes[0] = 1;  // the format version
        f.expect_refused(use(pgkit::detail::base64url_encode(bytes)));
    }
    f.expect_refused(use(std::string(pgkit::detail::max_cursor_chars + 1, 'A')));
    f.expect_refused(use(std::string(100'000, 'A')));
    const auto cursor = real_cursor(f.notes);
    f.expect_refused(use(cursor + std::string(9000, 'A')));
}

TEST_CASE("cursors expire after max_age and are refused from beyond the allowed clock skew") {
    fixture f;
    const auto filter = eq(&note::author, std::int64_t{1});
    const auto repo =
        f.notes.with_cursor_key(make_key(secret, {.max_age = 10min, .clock = f.clock.fn()}));
    const auto issued = *f.clock.now;
    const auto cursor = real_cursor(repo);
    auto at = [&](std::chrono::seconds offset) {
        *f.clock.now = issued + offset;
        return repo.page(filter, {.order_by = by_score, .first = 3, .after = cursor});
    };
    CHECK(at(0s));
    CHECK(at(10min));
    f.expect_refused([&] { return at(10min + 1s); });
    f.expect_refused([&] { return at(24h); });
    // Without max_age the same cursor never expires (the same secret and clock).
    *f.clock.now = issued + std::chrono::hours{24 * 365 * 5};
    CHECK(f.notes.page(filter, {.order_by = by_score, .first = 3, .after = cursor}));

    // Issued in the future (a server whose clock runs ahead): fine within 5 minutes.
    CHECK(at(-300s));
    f.expect_refused([&] { return at(-301s); });
    f.expect_refused([&] { return at(-24h); });
}

TEST_CASE("key rotation: an old secret verifies while it is in previous_secrets") {
    fixture f;
    const auto filter = eq(&note::author, std::int64_t{1});
    const auto old_repo = f.notes.with_cursor_key(make_key(old_secret));
    const auto old_cursor = real_cursor(old_repo);

    const auto rotated =
        f.notes.with_cursor_key(make_key(secret, {.previous_secrets = {std::string{old_secret}}}));
    auto continued = rotated.page(filter, {.order_by = by_score, .first = 3, .after = old_cursor});
    REQUIRE(continued);
    CHECK(continued->items.size() == 3);
    // New cursors are signed with the new secret: the old key alone cannot read them.
    f.expect_refused([&] {
        return old_repo.page(filter,
                             {.order_by = by_score, .first = 3, .after = continued->next_cursor});
    });
    CHECK(
        f.notes.page(filter, {.order_by = by_score, .first = 3, .after = continued->next_cursor}));

    const auto retired = f.notes.with_cursor_key(make_key(secret));
    f.expect_refused([&] {
        return retired.page(filter, {.order_by = by_score, .first = 3, .after = old_cursor});
    });
}

TEST_CASE("cursor_key::create refuses short secrets and a non-positive max_age") {
    std::vector<std::string> messages;
    auto refused = [&](pgkit::result<pgkit::cursor_key> key) {
        REQUIRE_FALSE(key);
        CHECK(key.error().code() == errc::invalid_argument);
        messages.push_back(key.error().message());
    };
    const std::string short_secret = "SHORT-secret-31-bytes-long-xxxx";
    REQUIRE(short_secret.size() == 31);
    refused(pgkit::cursor_key::create(short_secret));
    refused(pgkit::cursor_key::create(""));
    CHECK(pgkit::cursor_key::create(short_secret + "y"));
    refused(pgkit::cursor_key::create(secret, {.previous_secrets = {short_secret}}));
    refused(pgkit::cursor_key::create(secret, {.previous_secrets = {std::string{old_secret}, ""}}));
    refused(pgkit::cursor_key::create(secret, {.max_age = 0s}));
    refused(pgkit::cursor_key::create(secret, {.max_age = -1s}));
    CHECK(pgkit::cursor_key::create(secret, {.max_age = 1s}));
    CHECK(pgkit::cursor_key::generate());
    for (const auto& m : messages) {
        CHECK(m.find("SHORT") == std::string::npos);
        CHECK(m.find(secret) == std::string::npos);
    }
}

TEST_CASE("a cursor too long to be accepted is never issued: the page fails instead") {
    fixture f;
    auto conn = f.schema.connect();
    // 'x...' sorts before every 'n<i>' title in descending order.
    REQUIRE(conn.execute("INSERT INTO cursor_notes VALUES (100, 1, 1, repeat('x', 5000), NULL)"));
    const std::vector<pgkit::order_term> by_title{desc(&note::title)};
    auto first = f.notes.page({.order_by = by_title, .first = 1});
    REQUIRE(first);
    REQUIRE(first->items.size() == 1);
    CHECK(first->items[0].id == 100);
    CHECK(first->next_cursor.size() > 6000);
    CHECK(first->next_cursor.size() <= pgkit::detail::max_cursor_chars);
    auto second = f.notes.page({.order_by = by_title, .first = 1, .after = first->next_cursor});
    REQUIRE(second);
    CHECK(second->items.size() == 1);
    CHECK(second->has_previous);

    // 7000 bytes need more than max_cursor_chars characters: refused when issued, with a reason,
    // not later as an "invalid cursor" the client did not cause.
    REQUIRE(conn.execute("UPDATE cursor_notes SET title = repeat('x', 7000) WHERE id = 100"));
    auto too_long = f.notes.page({.order_by = by_title, .first = 1});
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().code() == errc::invalid_argument);
    CHECK(too_long.error().message().find("shorter") != std::string::npos);
    // Pages that do not end on that row are fine.
    CHECK(f.notes.page({.order_by = {asc(&note::title)}, .first = 3}));
}

TEST_CASE("a cursor for the same table name in another schema is invalid_cursor") {
    fixture f;
    // A second schema with a table of the same name and rows, reached through search_path:
    // the cursor names the table the name resolved to, not just the name.
    pgkit::test::scratch_schema tenant_b;
    auto conn = tenant_b.connect();
    REQUIRE(conn.execute_script(
        "CREATE TABLE cursor_notes (id int8 PRIMARY KEY, author int8 NOT NULL, score int8, "
        "title text NOT NULL, deleted_at timestamptz);"
        "INSERT INTO cursor_notes SELECT i, i % 3, CASE WHEN i % 4 = 0 THEN NULL ELSE i % 5 "
        "END, 'n' || i, CASE WHEN i % 7 = 0 THEN now() END FROM generate_series(1, 30) i;"));
    auto pool_b = pgkit::test::make_pool(pgkit::test::test_pool_options(tenant_b, 2));
    pgkit::repository<note> notes_b{pool_b, make_key(secret)};
    const auto filter = eq(&note::author, std::int64_t{1});
    auto own = notes_b.page(filter, {.order_by = by_score, .first = 3});
    REQUIRE(own);
    REQUIRE(notes_b.page(filter, {.order_by = by_score, .first = 3, .after = own->next_cursor}));
    auto crossed = notes_b.page(
        filter, {.order_by = by_score, .first = 3, .after = real_cursor(f.notes, filter)});
    REQUIRE_FALSE(crossed);
    CHECK(crossed.error().code() == errc::invalid_cursor);
}
