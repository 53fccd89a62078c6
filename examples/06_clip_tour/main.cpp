// The tour: a clip-sharing site (users, clips with a hot score, comments, votes, favorites,
// tags; soft delete and version columns) with about a million clips generated from a seed, and
// every pgkit capability used on it: typed CRUD, a feed paged with signed cursors, a tampered
// cursor, find_many against N+1, a conflicting edit, soft delete/restore/purge, a backfill
// stopped and resumed, the pool's metrics. Each step checks its own result; the program exits
// non-zero when one is not what it should be.
//
//   pgkit_example_clip_tour postgresql://user@localhost/db [--clips N] [--seed S]
#include <pgkit/pgkit.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <ranges>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using micros_time = std::chrono::sys_time<std::chrono::microseconds>;

struct user {
    std::int64_t id = 0;
    std::string name;
    micros_time joined_at{};
};

struct clip {
    std::int64_t id = 0;
    std::int64_t user_id = 0;
    std::string title;
    std::int64_t view_count = 0;
    std::int64_t vote_score = 0;
    double hot_score = 0;
    micros_time created_at{};
    std::int64_t version = 0;
    std::optional<micros_time> deleted_at;
};

struct comment {
    std::int64_t id = 0;
    std::int64_t clip_id = 0;
    std::int64_t user_id = 0;
    std::string body;
};

struct vote {
    std::int64_t user_id = 0;
    std::int64_t clip_id = 0;
    std::int16_t value = 0;
};

struct favorite {
    std::int64_t user_id = 0;
    std::int64_t clip_id = 0;
};

struct tag {
    std::int64_t id = 0;
    std::string name;
};

struct clip_tag {
    std::int64_t clip_id = 0;
    std::int64_t tag_id = 0;
};

template <>
struct pgkit::entity<user> {
    static constexpr std::string_view table = "tour_users";
    static constexpr auto columns =
        std::tuple{pgkit::column(&user::id, "id"), pgkit::column(&user::name, "name"),
                   pgkit::column(&user::joined_at, "joined_at")};
    static constexpr auto primary_key = pgkit::key(&user::id);
};

template <>
struct pgkit::entity<clip> {
    static constexpr std::string_view table = "tour_clips";
    static constexpr auto columns = std::tuple{
        pgkit::column(&clip::id, "id"),
        pgkit::column(&clip::user_id, "user_id"),
        pgkit::column(&clip::title, "title"),
        pgkit::column(&clip::view_count, "view_count"),
        pgkit::column(&clip::vote_score, "vote_score"),
        pgkit::column(&clip::hot_score, "hot_score"),
        pgkit::column(&clip::created_at, "created_at"),
        pgkit::column(&clip::version, "version"),
        pgkit::column(&clip::deleted_at, "deleted_at"),
    };
    static constexpr auto primary_key = pgkit::key(&clip::id);
    static constexpr auto version = &clip::version;
    static constexpr auto soft_delete = &clip::deleted_at;
};

template <>
struct pgkit::entity<comment> {
    static constexpr std::string_view table = "tour_comments";
    static constexpr auto columns = std::tuple{
        pgkit::column(&comment::id, "id"), pgkit::column(&comment::clip_id, "clip_id"),
        pgkit::column(&comment::user_id, "user_id"), pgkit::column(&comment::body, "body")};
    static constexpr auto primary_key = pgkit::key(&comment::id);
};

template <>
struct pgkit::entity<vote> {
    static constexpr std::string_view table = "tour_votes";
    static constexpr auto columns =
        std::tuple{pgkit::column(&vote::user_id, "user_id"),
                   pgkit::column(&vote::clip_id, "clip_id"), pgkit::column(&vote::value, "value")};
    static constexpr auto primary_key = pgkit::key(&vote::user_id, &vote::clip_id);
};

template <>
struct pgkit::entity<favorite> {
    static constexpr std::string_view table = "tour_favorites";
    static constexpr auto columns = std::tuple{pgkit::column(&favorite::user_id, "user_id"),
                                               pgkit::column(&favorite::clip_id, "clip_id")};
    static constexpr auto primary_key = pgkit::key(&favorite::user_id, &favorite::clip_id);
};

template <>
struct pgkit::entity<tag> {
    static constexpr std::string_view table = "tour_tags";
    static constexpr auto columns =
        std::tuple{pgkit::column(&tag::id, "id"), pgkit::column(&tag::name, "name")};
    static constexpr auto primary_key = pgkit::key(&tag::id);
};

template <>
struct pgkit::entity<clip_tag> {
    static constexpr std::string_view table = "tour_clip_tags";
    static constexpr auto columns = std::tuple{pgkit::column(&clip_tag::clip_id, "clip_id"),
                                               pgkit::column(&clip_tag::tag_id, "tag_id")};
    static constexpr auto primary_key = pgkit::key(&clip_tag::clip_id, &clip_tag::tag_id);
};

namespace {

using clock_type = std::chrono::steady_clock;

/// The step that is running, for failure messages.
const char* current_step = "start";

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "\nFAILED in \"%s\": %s\n", current_step, e.to_string().c_str());
    return 1;
}

int fail(const char* what) {
    std::fprintf(stderr, "\nFAILED in \"%s\": %s\n", current_step, what);
    return 1;
}

void step(const char* title) {
    current_step = title;
    std::printf("\n== %s\n", title);
    std::fflush(stdout);
}

double ms_since(clock_type::time_point start) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

/// splitmix64: the same numbers on every platform for a seed (the standard library's
/// distributions are implementation-defined, so they are not used).
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
std::uint64_t draw(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
    return mix(mix(seed ^ (stream * 0x100000001b3ULL)) + i);
}

const micros_time epoch = micros_time{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}};

const char* const words[] = {"epic",  "clutch", "insane", "funny", "speedrun", "ace",
                             "fail",  "combo",  "snipe",  "rage",  "dance",    "boss",
                             "retro", "glitch", "win",    "lucky", "no-scope", "chaos"};
constexpr std::uint64_t word_count = sizeof(words) / sizeof(words[0]);

struct sizes {
    std::int64_t clips;
    std::int64_t users;
    std::int64_t comments;
    std::int64_t tags = 64;
};

/// The hot score of the clip-sharing schema's update_hot_score() (the design documents' database
/// example, ../shared/seeds/000): votes over age, decaying with time.
double hot_score(std::int64_t votes, micros_time created) {
    const double hours =
        std::chrono::duration<double, std::ratio<3600>>(epoch + std::chrono::days{30} - created)
            .count();
    return static_cast<double>(votes) / std::max(1.0, hours + 2.0);
}

clip make_clip(std::uint64_t seed, const sizes& n, std::int64_t i) {
    const std::uint64_t r = draw(seed, 1, static_cast<std::uint64_t>(i));
    clip c;
    c.id = i;
    c.user_id = static_cast<std::int64_t>(r % static_cast<std::uint64_t>(n.users)) + 1;
    c.title = std::string{words[(r >> 16) % word_count]} + " " + words[(r >> 24) % word_count] +
              " #" + std::to_string(i);
    c.view_count = static_cast<std::int64_t>((r >> 32) % 100'000);
    // Votes per clip: 0-2 (tour_votes holds them); the score is their sum.
    c.created_at = epoch + std::chrono::days{30} -
                   std::chrono::seconds{static_cast<std::int64_t>((r >> 40) % (30 * 86'400))};
    c.version = 1;
    return c;
}

/// The votes of clip i: 0-2, from distinct users.
std::vector<vote> votes_of(std::uint64_t seed, const sizes& n, std::int64_t i) {
    const std::uint64_t r = draw(seed, 2, static_cast<std::uint64_t>(i));
    std::vector<vote> out;
    const auto users = static_cast<std::uint64_t>(n.users);
    for (std::uint64_t k = 0; k < r % 3 && k < users; ++k) {
        out.push_back({static_cast<std::int64_t>(((r >> 8) + k * (users / 3 + 1)) % users) + 1, i,
                       static_cast<std::int16_t>(((r >> (16 + k)) & 3) == 0 ? -1 : 1)});
    }
    return out;
}

template <class E, class Range>
pgkit::result<std::uint64_t> load(const std::shared_ptr<pgkit::pool>& pool,
                                  const char* what,
                                  Range&& rows) {
    const auto start = clock_type::now();
    pgkit::repository<E> repo{pool};
    auto stored = repo.insert_many(std::forward<Range>(rows));
    if (stored) {
        const double ms = ms_since(start);
        std::printf("  %-10s %9llu rows  %7.0f ms  (%.0f rows/s, COPY through insert_many)\n", what,
                    static_cast<unsigned long long>(*stored), ms,
                    static_cast<double>(*stored) / (ms / 1000.0));
        std::fflush(stdout);
    }
    return stored;
}

/// Creates the tables and loads the dataset for (seed, clips) unless it is already there.
pgkit::result<void> prepare(const std::shared_ptr<pgkit::pool>& pool,
                            std::uint64_t seed,
                            const sizes& n) {
    auto lease = pool->acquire();
    if (!lease) {
        return tl::unexpected(lease.error());
    }
    auto loaded = (*lease)->execute(
        "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'tour_dataset'");
    if (!loaded) {
        return tl::unexpected(loaded.error());
    }
    if ((*loaded)[0].get<std::int64_t>(0).value_or(0) == 1) {
        auto same =
            (*lease)->execute("SELECT count(*) FROM tour_dataset WHERE seed = $1 AND clips = $2",
                              std::to_string(seed), n.clips);
        if (!same) {
            return tl::unexpected(same.error());
        }
        if ((*same)[0].get<std::int64_t>(0).value_or(0) == 1) {
            std::printf("  dataset for seed %llu with %lld clips already loaded\n",
                        static_cast<unsigned long long>(seed), static_cast<long long>(n.clips));
            return {};
        }
    }
    auto created = (*lease)->execute_script(
        "DROP TABLE IF EXISTS tour_dataset, tour_clip_tags, tour_tags, tour_favorites,"
        " tour_votes, tour_comments, tour_clips, tour_users;"
        "CREATE TABLE tour_users (id int8 PRIMARY KEY, name text NOT NULL,"
        " joined_at timestamptz NOT NULL);"
        "CREATE TABLE tour_clips (id int8 PRIMARY KEY, user_id int8 NOT NULL,"
        " title text NOT NULL, view_count int8 NOT NULL, vote_score int8 NOT NULL,"
        " hot_score float8 NOT NULL, created_at timestamptz NOT NULL,"
        " version int8 NOT NULL, deleted_at timestamptz);"
        "CREATE TABLE tour_comments (id int8 PRIMARY KEY, clip_id int8 NOT NULL,"
        " user_id int8 NOT NULL, body text NOT NULL);"
        "CREATE TABLE tour_votes (user_id int8 NOT NULL, clip_id int8 NOT NULL,"
        " value int2 NOT NULL, PRIMARY KEY (user_id, clip_id));"
        "CREATE TABLE tour_favorites (user_id int8 NOT NULL, clip_id int8 NOT NULL,"
        " PRIMARY KEY (user_id, clip_id));"
        "CREATE TABLE tour_tags (id int8 PRIMARY KEY, name text NOT NULL UNIQUE);"
        "CREATE TABLE tour_clip_tags (clip_id int8 NOT NULL, tag_id int8 NOT NULL,"
        " PRIMARY KEY (clip_id, tag_id));"
        "CREATE TABLE tour_dataset (seed text NOT NULL, clips int8 NOT NULL)");
    if (!created) {
        return tl::unexpected(created.error());
    }
    std::printf("  generating %lld clips from seed %llu\n", static_cast<long long>(n.clips),
                static_cast<unsigned long long>(seed));
    using std::views::iota;
    using std::views::transform;
    auto users = load<user>(
        pool, "users",
        iota(std::int64_t{1}, n.users + 1) | transform([&](std::int64_t i) {
            const auto r = draw(seed, 3, i);
            return user{i, "user" + std::to_string(i), epoch - std::chrono::hours{r % 8760}};
        }));
    if (!users) {
        return tl::unexpected(users.error());
    }
    auto clips = load<clip>(pool, "clips",
                            iota(std::int64_t{1}, n.clips + 1) | transform([&](std::int64_t i) {
                                clip c = make_clip(seed, n, i);
                                for (const auto& v : votes_of(seed, n, i)) {
                                    c.vote_score += v.value;
                                }
                                c.hot_score = hot_score(c.vote_score, c.created_at);
                                return c;
                            }));
    if (!clips) {
        return tl::unexpected(clips.error());
    }
    auto comments = load<comment>(
        pool, "comments",
        iota(std::int64_t{1}, n.comments + 1) | transform([&](std::int64_t i) {
            const auto r = draw(seed, 4, i);
            return comment{
                i, static_cast<std::int64_t>(r % static_cast<std::uint64_t>(n.clips)) + 1,
                static_cast<std::int64_t>((r >> 24) % static_cast<std::uint64_t>(n.users)) + 1,
                std::string{"so "} + words[(r >> 48) % word_count] + "!"};
        }));
    if (!comments) {
        return tl::unexpected(comments.error());
    }
    // Votes: clip by clip, each clip's voters distinct.
    std::vector<vote> votes;
    for (std::int64_t i = 1; i <= n.clips; ++i) {
        for (const auto& v : votes_of(seed, n, i)) {
            votes.push_back(v);
        }
    }
    if (auto stored = load<vote>(pool, "votes", votes); !stored) {
        return tl::unexpected(stored.error());
    }
    votes = {};
    auto favorites = load<favorite>(
        pool, "favorites",
        iota(std::int64_t{1}, n.clips + 1) | std::views::filter([&](std::int64_t i) {
            return draw(seed, 5, i) % 4 == 0;
        }) | transform([&](std::int64_t i) {
            return favorite{static_cast<std::int64_t>((draw(seed, 5, i) >> 8) %
                                                      static_cast<std::uint64_t>(n.users)) +
                                1,
                            i};
        }));
    if (!favorites) {
        return tl::unexpected(favorites.error());
    }
    auto tags =
        load<tag>(pool, "tags",
                  iota(std::int64_t{1}, n.tags + 1) | transform([&](std::int64_t i) {
                      return tag{i, std::string{words[i % word_count]} + "-" + std::to_string(i)};
                  }));
    if (!tags) {
        return tl::unexpected(tags.error());
    }
    auto clip_tags = load<clip_tag>(
        pool, "clip_tags", iota(std::int64_t{0}, 2 * n.clips) | transform([&](std::int64_t j) {
                               const std::int64_t i = j / 2 + 1;
                               const auto r = draw(seed, 6, i);
                               const auto tags = static_cast<std::uint64_t>(n.tags);
                               const auto first = static_cast<std::int64_t>(r % tags);
                               const auto other =
                                   (first + 1 + static_cast<std::int64_t>((r >> 16) % (tags - 1))) %
                                   n.tags;
                               return clip_tag{i, (j % 2 == 0 ? first : other) + 1};
                           }));
    if (!clip_tags) {
        return tl::unexpected(clip_tags.error());
    }
    const auto start = clock_type::now();
    // The feed's index serves live clips only (the repository's default scope).
    auto indexed = (*lease)->execute_script(
        "CREATE INDEX tour_clips_hot ON tour_clips (hot_score DESC, id DESC)"
        " WHERE deleted_at IS NULL;"
        "CREATE INDEX tour_clips_user ON tour_clips (user_id);"
        "CREATE INDEX tour_comments_clip ON tour_comments (clip_id)");
    if (!indexed) {
        return tl::unexpected(indexed.error());
    }
    // VACUUM (alone: not in a transaction block) sets the visibility map; ANALYZE the
    // statistics the planner uses.
    auto vacuumed = (*lease)->execute(
        "VACUUM ANALYZE tour_users, tour_clips, tour_comments, tour_votes, tour_favorites,"
        " tour_tags, tour_clip_tags");
    if (!vacuumed) {
        return tl::unexpected(vacuumed.error());
    }
    auto recorded = (*lease)->execute("INSERT INTO tour_dataset VALUES ($1, $2)",
                                      std::to_string(seed), n.clips);
    if (!recorded) {
        return tl::unexpected(recorded.error());
    }
    std::printf("  indexes and VACUUM ANALYZE %.0f ms\n", ms_since(start));
    return {};
}

std::vector<std::int64_t> ids_of(const std::vector<clip>& clips) {
    std::vector<std::int64_t> out;
    for (const auto& c : clips) {
        out.push_back(c.id);
    }
    return out;
}

void show_page(const char* label, const pgkit::page<clip>& page) {
    std::printf("  %-14s", label);
    for (std::size_t i = 0; i < page.items.size() && i < 5; ++i) {
        std::printf(" #%lld (%.2f)", static_cast<long long>(page.items[i].id),
                    page.items[i].hot_score);
    }
    std::printf(" ...  has_previous=%s has_next=%s\n", page.has_previous ? "yes" : "no",
                page.has_next ? "yes" : "no");
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t clip_count = 1'000'000;
    std::uint64_t seed = 20260101;
    const char* url = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--clips") == 0 && i + 1 < argc) {
            clip_count = std::strtoll(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = std::strtoull(argv[++i], nullptr, 10);
        } else {
            url = argv[i];
        }
    }
    if (clip_count < 1000) {
        return fail("--clips must be at least 1000");
    }
    const sizes n{.clips = clip_count,
                  .users = std::max<std::int64_t>(clip_count / 20, 100),
                  .comments = clip_count / 2};
    auto target = url != nullptr ? pgkit::connection_options::parse(url)
                                 : pgkit::connection_options::from_environment();
    if (!target) {
        return fail(target.error());
    }
    auto created = pgkit::pool::create({.connection = *target, .max_size = 4});
    if (!created) {
        return fail(created.error());
    }
    std::shared_ptr<pgkit::pool> pool = *created;
    const auto tour_start = clock_type::now();

    step("0. the dataset");
    if (auto ready = prepare(pool, seed, n); !ready) {
        return fail(ready.error());
    }

    // The key that signs feed cursors: in production, a secret from the configuration,
    // the same in every process serving the feed.
    auto key = pgkit::cursor_key::generate();
    if (!key) {
        return fail(key.error());
    }
    pgkit::repository<clip> clips{pool, *key};
    pgkit::repository<user> users{pool};
    using namespace pgkit::filters;

    step("1. typed CRUD on a clip");
    clip fresh;
    fresh.id = n.clips + 1'000'001;  // beyond the generated ids
    fresh.user_id = 1;
    fresh.title = "my first clip";
    fresh.created_at = epoch;
    fresh.version = 1;
    // A rerun of the tour finds the clip of the previous run: purge it first.
    if (auto old = clips.purge(fresh.id); !old && old.error().code() != pgkit::errc::not_found) {
        return fail(old.error());
    }
    auto inserted = clips.insert(fresh);
    if (!inserted) {
        return fail(inserted.error());
    }
    std::printf("  insert  -> clip #%lld \"%s\" version %lld\n",
                static_cast<long long>(inserted->id), inserted->title.c_str(),
                static_cast<long long>(inserted->version));
    auto fetched = clips.get(fresh.id);
    if (!fetched || fetched->title != "my first clip") {
        return fetched ? fail("get returned another clip") : fail(fetched.error());
    }
    fetched->title = "my first clip (edited)";
    auto updated = clips.update(*fetched);
    if (!updated || updated->version != inserted->version + 1) {
        return updated ? fail("update did not bump the version") : fail(updated.error());
    }
    std::printf("  update  -> \"%s\" version %lld\n", updated->title.c_str(),
                static_cast<long long>(updated->version));
    if (auto purged = clips.purge(fresh.id); !purged) {
        return fail(purged.error());
    }
    auto gone = clips.with_deleted().get(fresh.id);
    if (gone || gone.error().code() != pgkit::errc::not_found) {
        return fail("a purged clip is still there");
    }
    std::printf("  purge   -> get says %s\n",
                std::string{pgkit::to_string(gone.error().code())}.c_str());

    step("2. the hot feed, paged with signed cursors");
    const pgkit::page_request feed{.order_by = {desc(&clip::hot_score)}, .first = 20};
    auto page1 = clips.page(feed);
    if (!page1) {
        return fail(page1.error());
    }
    show_page("page 1", *page1);
    auto next = feed;
    next.after = page1->next_cursor;
    auto page2 = clips.page(next);
    if (!page2) {
        return fail(page2.error());
    }
    show_page("page 2", *page2);
    next.after = page2->next_cursor;
    auto page3 = clips.page(next);
    if (!page3) {
        return fail(page3.error());
    }
    show_page("page 3", *page3);
    auto back =
        clips.page({.order_by = feed.order_by, .last = 20, .before = page3->previous_cursor});
    if (!back) {
        return fail(back.error());
    }
    show_page("back to 2", *back);
    if (ids_of(back->items) != ids_of(page2->items)) {
        return fail("paging back did not return page 2");
    }
    std::printf("  cursor: %.48s... (%zu characters, base64url, HMAC-SHA-256 signed)\n",
                page1->next_cursor.c_str(), page1->next_cursor.size());
    auto plan = clips.explain_page(next);
    if (!plan || !plan->index_served()) {
        return plan ? fail("the feed's page is not served by an index") : fail(plan.error());
    }
    std::printf("  explain_page: served by the index, no Sort, no Seq Scan\n");

    // Deep: the same depth through OFFSET and through a cursor.
    const std::int64_t depth = std::min<std::int64_t>(100'000, n.clips / 2) / 20 * 20;
    auto start = clock_type::now();
    auto offset_page = clips.page_at({.order_by = feed.order_by,
                                      .page_number = depth / 20 + 1,
                                      .page_size = 20,
                                      .max_offset = depth});
    const double offset_ms = ms_since(start);
    if (!offset_page) {
        return fail(offset_page.error());
    }
    // The row before the deep page gives the cursor the keyset page continues from.
    auto before_deep = clips.page_at({.order_by = feed.order_by,
                                      .page_number = depth / 20,
                                      .page_size = 20,
                                      .max_offset = depth});
    if (!before_deep) {
        return fail(before_deep.error());
    }
    next.after = before_deep->next_cursor;
    start = clock_type::now();
    auto deep = clips.page(next);
    const double keyset_ms = ms_since(start);
    if (!deep) {
        return fail(deep.error());
    }
    if (ids_of(deep->items) != ids_of(offset_page->items)) {
        return fail("the keyset page and the OFFSET page at the same depth differ");
    }
    std::printf("  %lld rows deep: OFFSET %.2f ms, keyset %.2f ms (same 20 clips; %.0fx)\n",
                static_cast<long long>(depth), offset_ms, keyset_ms, offset_ms / keyset_ms);

    step("3. a tampered cursor is refused");
    std::string tampered = page1->next_cursor;
    tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
    auto refused = clips.page({.order_by = feed.order_by, .first = 20, .after = tampered});
    if (refused || refused.error().code() != pgkit::errc::invalid_cursor) {
        return fail("a tampered cursor was accepted");
    }
    std::printf("  one character changed -> %s: %s\n",
                std::string{pgkit::to_string(refused.error().code())}.c_str(),
                refused.error().message().c_str());
    auto foreign = clips.page(
        {.order_by = {desc(&clip::created_at)}, .first = 20, .after = page1->next_cursor});
    if (foreign || foreign.error().code() != pgkit::errc::invalid_cursor) {
        return fail("a cursor of another ordering was accepted");
    }
    std::printf("  a genuine cursor under another ordering -> %s\n",
                std::string{pgkit::to_string(foreign.error().code())}.c_str());

    step("4. the authors of a page: N+1 queries vs one find_many");
    std::vector<std::int64_t> author_ids;
    for (const auto& c : page1->items) {
        author_ids.push_back(c.user_id);
    }
    // Each way runs twice and the second run is timed: both statements are then prepared and
    // the rows cached, so the difference is the round trips.
    double n_plus_1_ms = 0;
    double batched_ms = 0;
    std::vector<user> one_by_one;
    pgkit::result<std::vector<user>> batched;
    for (int pass = 0; pass < 2; ++pass) {
        one_by_one.clear();
        start = clock_type::now();
        for (const auto id : author_ids) {
            auto author = users.get(id);
            if (!author) {
                return fail(author.error());
            }
            one_by_one.push_back(*author);
        }
        n_plus_1_ms = ms_since(start);
        start = clock_type::now();
        batched = users.find_many(author_ids);
        batched_ms = ms_since(start);
        if (!batched) {
            return fail(batched.error());
        }
    }
    std::vector<std::int64_t> distinct = author_ids;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    if (batched->size() != distinct.size()) {
        return fail("find_many did not return every author");
    }
    std::printf(
        "  N+1: %zu round trips, %.2f ms;  find_many: 1 round trip, %.2f ms (%zu authors)\n",
        page1->items.size(), n_plus_1_ms, batched_ms, batched->size());

    step("5. two editors, one clip: optimistic locking");
    const std::int64_t target_id = page1->items.front().id;
    auto alice = clips.get(target_id);
    auto bob = clips.get(target_id);
    if (!alice || !bob) {
        return fail(!alice ? alice.error() : bob.error());
    }
    alice->title += " [alice]";
    auto saved = clips.update(*alice);
    if (!saved) {
        return fail(saved.error());
    }
    bob->title += " [bob]";
    auto stale = clips.update(*bob);
    if (stale || stale.error().code() != pgkit::errc::version_conflict) {
        return fail("bob's stale edit was not refused");
    }
    std::printf("  alice saved version %lld; bob's edit of version %lld -> %s\n",
                static_cast<long long>(saved->version), static_cast<long long>(bob->version),
                std::string{pgkit::to_string(stale.error().code())}.c_str());
    auto retried = clips.update_with_retry(target_id, [](clip& c) { c.title += " [bob]"; });
    if (!retried || retried->title.find("[alice] [bob]") == std::string::npos) {
        return retried ? fail("the retried edit lost alice's change") : fail(retried.error());
    }
    std::printf("  bob retried on the fresh row -> \"%s\" version %lld\n", retried->title.c_str(),
                static_cast<long long>(retried->version));
    // Two threads bump the view count 50 times each, concurrently: no update is lost.
    const std::int64_t views_before = retried->view_count;
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 50; ++i) {
                // The default policy (update_retry_defaults) rides out this contention.
                if (!clips.update_with_retry(target_id, [](clip& c) { ++c.view_count; })) {
                    ++errors;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    auto counted = clips.get(target_id);
    if (!counted) {
        return fail(counted.error());
    }
    if (errors.load() != 0 || counted->view_count != views_before + 100) {
        return fail("concurrent increments were lost");
    }
    std::printf("  2 threads x 50 increments with update_with_retry: views %lld -> %lld\n",
                static_cast<long long>(views_before), static_cast<long long>(counted->view_count));

    step("6. soft delete, restore, purge");
    const std::int64_t victim = page1->items[1].id;
    if (auto removed = clips.remove(victim); !removed) {
        return fail(removed.error());
    }
    auto hidden = clips.get(victim);
    auto in_trash = clips.only_deleted().get(victim);
    if (hidden || hidden.error().code() != pgkit::errc::not_found || !in_trash) {
        return fail("the soft-deleted clip is not where it should be");
    }
    auto feed_now = clips.page(feed);
    if (!feed_now) {
        return fail(feed_now.error());
    }
    const auto now_ids = ids_of(feed_now->items);
    if (std::find(now_ids.begin(), now_ids.end(), victim) != now_ids.end()) {
        return fail("the feed still shows the deleted clip");
    }
    std::printf(
        "  removed #%lld: get -> not_found, only_deleted().get -> found, gone from the "
        "feed\n",
        static_cast<long long>(victim));
    auto restored = clips.restore(victim);
    if (!restored || restored->deleted_at) {
        return restored ? fail("the restored clip is still deleted") : fail(restored.error());
    }
    auto feed_back = clips.page(feed);
    if (!feed_back) {
        return fail(feed_back.error());
    }
    const auto back_ids = ids_of(feed_back->items);
    if (std::find(back_ids.begin(), back_ids.end(), victim) == back_ids.end()) {
        return fail("the restored clip is not back in the feed");
    }
    std::printf("  restored #%lld: back in the feed\n", static_cast<long long>(victim));
    clip doomed = fresh;
    doomed.title = "to be purged";
    if (auto added = clips.insert(doomed); !added) {
        return fail(added.error());
    }
    if (auto removed = clips.remove(doomed.id); !removed) {
        return fail(removed.error());
    }
    if (auto purged = clips.purge(doomed.id); !purged) {
        return fail(purged.error());
    }
    auto after_purge = clips.with_deleted().get(doomed.id);
    if (after_purge || after_purge.error().code() != pgkit::errc::not_found) {
        return fail("the purged clip is still stored");
    }
    std::printf("  purged #%lld: not even with_deleted() finds it\n",
                static_cast<long long>(doomed.id));

    step("7. a backfill: recompute every hot score, stopped and resumed");
    {
        auto lease = pool->acquire();
        if (!lease) {
            return fail(lease.error());
        }
        // A fresh column each tour (instant: no table rewrite).
        auto reset = (*lease)->execute_script(
            "ALTER TABLE tour_clips DROP COLUMN IF EXISTS hot_score_v2;"
            "ALTER TABLE tour_clips ADD COLUMN hot_score_v2 float8");
        if (!reset) {
            return fail(reset.error());
        }
    }
    const pgkit::backfill_spec spec{
        .name = "tour_hot_score_v2",
        .table = "tour_clips",
        .key = {"id"},
        .set =
            "hot_score_v2 = (vote_score + ln(1 + view_count::float8) / $1::float8)"
            " / greatest(1, extract(epoch FROM $2::timestamptz - created_at)::float8 / 3600 + 2)",
        .predicate = "hot_score_v2 IS NULL",
        .parameters = {"10", "2026-01-31 00:00:00+00"}};
    // No saved run: forget the previous tour's (refused, already_running, while a runner holds it).
    if (auto forgot = pgkit::reset_backfill(*pool, spec); !forgot) {
        return fail(forgot.error());
    }
    // Batch bounds scale with the table, so a small tour still stops part way.
    const auto rows = static_cast<std::size_t>(n.clips);
    pgkit::backfill_options options{.min_batch_size = std::max<std::size_t>(100, rows / 200),
                                    .max_batch_size = std::max<std::size_t>(1'000, rows / 20),
                                    .initial_batch_size = std::max<std::size_t>(100, rows / 100),
                                    .target_batch_duration = 150ms};
    pgkit::backfill_cancel_token stop;
    options.cancel = &stop;
    std::printf(
        "  every one of the %lld clips gets hot_score_v2, in batches sized for ~150 ms each\n"
        "  (a lock is held only per batch); the operator stops the run at 40 %%, then resumes it\n",
        static_cast<long long>(n.clips));
    {
        std::fflush(stdout);
        pgkit::progress_bar bar{{.out = stdout, .line_interval = 1s}};
        auto draw_bar = bar.callback();
        options.on_progress = [&](const pgkit::backfill_progress& p) {
            draw_bar(p);
            // The operator stops the run at 40 % (a deploy, a busy hour...).
            if (p.rows_done * 10 >= static_cast<std::uint64_t>(n.clips) * 4) {
                stop.cancel();
            }
        };
        auto first_run = pgkit::run_backfill(*pool, spec, options);
        bar.finish();
        if (!first_run) {
            return fail(first_run.error());
        }
        if (first_run->status != pgkit::backfill_status::cancelled ||
            first_run->rows_done >= static_cast<std::uint64_t>(n.clips)) {
            return fail("the backfill was not stopped part way");
        }
        std::printf(
            "  stopped: %s after %llu rows in %llu batches (%lld ms, longest batch "
            "%lld ms)\n",
            std::string{pgkit::to_string(first_run->status)}.c_str(),
            static_cast<unsigned long long>(first_run->rows_done),
            static_cast<unsigned long long>(first_run->batches),
            static_cast<long long>(first_run->elapsed.count()),
            static_cast<long long>(first_run->longest_batch.count()));
        // What any process reads about the run: stopped, where, and that no runner holds it.
        auto state = pgkit::inspect_backfill(*pool, spec);
        if (!state) {
            return fail(state.error());
        }
        if (state->status != pgkit::backfill_status::cancelled || state->runner_pid ||
            state->rows_done != first_run->rows_done) {
            return fail("the runs table does not show the stopped run");
        }
        std::printf("  recorded: %s after key %s, no runner holds it\n",
                    std::string{pgkit::to_string(state->status)}.c_str(),
                    state->last_key.empty() ? "(none)" : state->last_key.front().c_str());
        auto plan_left = pgkit::plan_backfill(*pool, spec, options);
        if (!plan_left) {
            return fail(plan_left.error());
        }
        std::printf("  dry run: %llu rows left\n",
                    static_cast<unsigned long long>(plan_left->rows));
        pgkit::backfill_cancel_token never;
        options.cancel = &never;
        std::fflush(stdout);
        pgkit::progress_bar resumed_bar{{.out = stdout, .line_interval = 1s}};
        options.on_progress = resumed_bar.callback();
        auto second_run = pgkit::run_backfill(*pool, spec, options);
        resumed_bar.finish();
        if (!second_run) {
            return fail(second_run.error());
        }
        const auto total = static_cast<std::uint64_t>(n.clips);
        if (second_run->status != pgkit::backfill_status::done || second_run->rows_done != total ||
            second_run->rows_this_run != total - first_run->rows_done) {
            return fail("the resumed backfill did not finish exactly the rows left");
        }
        std::printf("  resumed: %s, %llu rows this run + %llu before = %llu (%lld ms)\n",
                    std::string{pgkit::to_string(second_run->status)}.c_str(),
                    static_cast<unsigned long long>(second_run->rows_this_run),
                    static_cast<unsigned long long>(first_run->rows_done),
                    static_cast<unsigned long long>(second_run->rows_done),
                    static_cast<long long>(second_run->elapsed.count()));
    }
    {
        auto lease = pool->acquire();
        if (!lease) {
            return fail(lease.error());
        }
        auto missing =
            (*lease)->execute("SELECT count(*) FROM tour_clips WHERE hot_score_v2 IS NULL");
        if (!missing) {
            return fail(missing.error());
        }
        if ((*missing)[0].get<std::int64_t>(0).value_or(-1) != 0) {
            return fail("rows were left without a new hot score");
        }
    }

    step("8. the pool");
    const auto m = pool->metrics();
    std::printf("  max %zu connections, %zu open (%zu idle, %zu in use)\n", m.max_size, m.size,
                m.idle, m.in_use);
    std::printf("  %llu acquires, %llu connections opened in all, %llu acquire timeouts\n",
                static_cast<unsigned long long>(m.acquired),
                static_cast<unsigned long long>(m.created),
                static_cast<unsigned long long>(m.acquire_timeouts));
    std::printf(
        "  time to acquire: p50 %lld us, p99 %lld us, max %lld us (the max: the first "
        "connects)\n",
        static_cast<long long>(m.acquire_wait_p50.count()),
        static_cast<long long>(m.acquire_wait_p99.count()),
        static_cast<long long>(m.acquire_wait_max.count()));
    if (m.acquire_timeouts != 0 || m.size > m.max_size) {
        return fail("the pool timed out or held more connections than its maximum");
    }

    std::printf("\ntour complete in %.1f s: every step got the result it expected\n",
                ms_since(tour_start) / 1000.0);
    return 0;
}
