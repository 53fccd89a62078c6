// Repositories: typed filters, the raw escape hatch, update_where / remove_where, partial
// updates, insert_many (VALUES and COPY) and streaming through server-side cursors.
#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/repository.hpp"
#include "pgkit/types/chrono.hpp"

#include "integration/pool_test_support.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <vector>

namespace {

using pgkit::errc;
using time_point = std::chrono::system_clock::time_point;

struct item {
    std::int64_t id = 0;
    std::string name;
    std::int64_t price = 0;
    std::optional<std::string> tag;
    std::int64_t version = 0;
    std::optional<time_point> deleted_at;
};

}  // namespace

template <>
struct pgkit::entity<item> {
    static constexpr std::string_view table = "items";
    static constexpr auto columns = std::tuple{
        pgkit::column(&item::id, "id", pgkit::generated),
        pgkit::column(&item::name, "name"),
        pgkit::column(&item::price, "price"),
        pgkit::column(&item::tag, "tag"),
        pgkit::column(&item::version, "version"),
        pgkit::column(&item::deleted_at, "deleted_at"),
    };
    static constexpr auto primary_key = pgkit::key(&item::id);
    static constexpr auto version = &item::version;
    static constexpr auto soft_delete = &item::deleted_at;
};

namespace {
/// An entity in a named schema that no test connection has on its search_path.
struct ledger_line {
    std::int64_t id = 0;
    std::string memo;
};
constexpr std::string_view ledger_schema = "pgkit_test_ledger";
}  // namespace

template <>
struct pgkit::entity<ledger_line> {
    static constexpr std::string_view schema = ledger_schema;
    static constexpr std::string_view table = "ledger lines";  // needs quoting, too
    static constexpr auto columns = std::tuple{
        pgkit::column(&ledger_line::id, "id"),
        pgkit::column(&ledger_line::memo, "memo"),
    };
    static constexpr auto primary_key = pgkit::key(&ledger_line::id);
};

namespace {

struct fixture {
    pgkit::test::scratch_schema schema;
    std::shared_ptr<pgkit::pool> pool;
    pgkit::repository<item> items{nullptr};

    fixture() {
        auto conn = schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "name text NOT NULL, price int8 NOT NULL, tag text, version int8 NOT NULL, "
            "deleted_at timestamptz)"));
        pool = pgkit::test::make_pool(pgkit::test::test_pool_options(schema, 4));
        items = pgkit::repository<item>{pool};
    }

    void seed(int n) {
        std::vector<item> rows;
        for (int i = 1; i <= n; ++i) {
            item it;
            it.name = "item " + std::to_string(i);
            it.price = i;
            if (i % 2 == 0) {
                it.tag = i % 4 == 0 ? "four" : "two";
            }
            rows.push_back(it);
        }
        REQUIRE(items.insert_many(rows).value() == static_cast<std::uint64_t>(n));
    }
};

std::vector<std::int64_t> prices(const std::vector<item>& rows) {
    std::vector<std::int64_t> out;
    for (const auto& r : rows) {
        out.push_back(r.price);
    }
    return out;
}

}  // namespace

TEST_SUITE("repository") {
    using namespace pgkit::filters;

    TEST_CASE("repository: typed filters, ordering and limits") {
        fixture f;
        f.seed(20);
        auto& items = f.items;
        auto asc_price = pgkit::query_options{.order_by = {asc(&item::price)}};
        CHECK(prices(items.find_where(eq(&item::price, 3), asc_price).value()) ==
              std::vector<std::int64_t>{3});
        CHECK(items.count_where(ne(&item::price, 3)).value() == 19);
        CHECK(items.count_where(lt(&item::price, 5)).value() == 4);
        CHECK(items.count_where(le(&item::price, 5)).value() == 5);
        CHECK(items.count_where(gt(&item::price, 15)).value() == 5);
        CHECK(items.count_where(ge(&item::price, 15)).value() == 6);
        CHECK(prices(items.find_where(in(&item::price, {7, 3, 99}), asc_price).value()) ==
              std::vector<std::int64_t>{3, 7});
        CHECK(items.count_where(in(&item::price, {})).value() == 0);
        CHECK(items.count_where(is_null(&item::tag)).value() == 10);
        CHECK(items.count_where(is_not_null(&item::tag)).value() == 10);
        CHECK(items.count_where(in(&item::tag, {"four"})).value() == 5);
        CHECK(items.count_where(like(&item::name, "item 1%")).value() == 11);
        CHECK(items.count_where(ilike(&item::name, "ITEM 2%")).value() == 2);
        CHECK(items.count_where(gt(&item::price, 5) && lt(&item::price, 10)).value() == 4);
        CHECK(items.count_where(lt(&item::price, 3) || gt(&item::price, 18)).value() == 4);
        CHECK(items.count_where(!(lt(&item::price, 3) || gt(&item::price, 18))).value() == 16);
        CHECK(items.count_where(pgkit::where<item>{}).value() == 20);

        auto top = items.find_where(is_not_null(&item::tag),
                                    {.order_by = {desc(&item::price)}, .limit = 3, .offset = 1});
        CHECK(prices(top.value()) == std::vector<std::int64_t>{18, 16, 14});
        auto by_tag =
            items.find_where(is_not_null(&item::tag),
                             {.order_by = {asc(&item::tag), desc(&item::price)}, .limit = 2});
        CHECK(prices(by_tag.value()) == std::vector<std::int64_t>{20, 16});

        auto bad_limit = items.find_where({}, {.limit = -1});
        REQUIRE_FALSE(bad_limit);
        CHECK(bad_limit.error().code() == errc::invalid_argument);
    }

    TEST_CASE(
        "repository: a stored value its member cannot hold fails every read, naming the "
        "column") {
        fixture f;
        f.seed(3);
        // price becomes text, and one row's price no integer: its decoding must fail, the others'
        // not, on the query paths (which name the column) and the COPY path (its position).
        REQUIRE(f.schema.connect().execute_script(
            "ALTER TABLE items ALTER COLUMN price TYPE text USING price::text;"
            "UPDATE items SET price = 'twelve' WHERE name = 'item 2'"));
        auto& items = f.items;
        auto is_price_mismatch = [](const pgkit::error& e, std::string_view column) {
            CHECK(e.code() == errc::type_mismatch);
            CHECK_MESSAGE(e.message().find(column) != std::string::npos, e.message());
        };
        auto ids = items.find_where(is_not_null(&item::name), {.order_by = {asc(&item::name)}});
        REQUIRE_FALSE(ids);  // every row is read, so item 2's price fails the whole call
        is_price_mismatch(ids.error(), "column 'price'");
        auto one = items.find_where(eq(&item::name, "item 1"));
        REQUIRE(one);
        REQUIRE(one->size() == 1);
        CHECK(one->front().price == 1);
        CHECK(one->front().name == "item 1");
        const std::int64_t bad_id = 2;  // an identity, seeded in order
        auto got = items.get(bad_id);
        REQUIRE_FALSE(got);
        is_price_mismatch(got.error(), "column 'price'");
        CHECK(items.get(3).value().price == 3);
        const std::vector<std::int64_t> keys{1, bad_id, 3};
        auto many = items.find_many(keys);
        REQUIRE_FALSE(many);
        is_price_mismatch(many.error(), "column 'price'");
        std::int64_t exported = 0;
        auto copied = items.export_where({}, [&](const item&) { ++exported; },
                                         {.order_by = {asc(&item::name)}});
        REQUIRE_FALSE(copied);
        is_price_mismatch(copied.error(), "column 2");
        CHECK(exported == 1);  // item 1; item 2 stopped the export
    }

    TEST_CASE("repository: raw filters renumber their parameters and combine with typed ones") {
        fixture f;
        f.seed(20);
        auto& items = f.items;
        auto odd_cheap = raw<item>("price % $1 = $2", std::int64_t{2}, std::int64_t{1}) &&
                         lt(&item::price, 10) && raw<item>("name <> $1", "item 1");
        CHECK(items.count_where(odd_cheap).value() == 4);                 // 3, 5, 7, 9
        CHECK(items.count_where(raw<item>("name = '$1'")).value() == 0);  // quoted: not a param
        auto missing = items.count_where(raw<item>("price = $2", std::int64_t{1}));
        REQUIRE_FALSE(missing);
        CHECK(missing.error().code() == errc::invalid_argument);
        auto broken = items.count_where(raw<item>("price = = 1"));
        REQUIRE_FALSE(broken);
        CHECK(broken.error().code() == errc::syntax_error);
    }

    TEST_CASE("repository: update_where, remove_where and update by key respect the scope") {
        fixture f;
        f.seed(10);
        auto& items = f.items;
        CHECK(items
                  .update_where(lt(&item::price, 4),
                                set(&item::tag, std::optional<std::string>{"cheap"}),
                                set(&item::name, std::string{"renamed"}))
                  .value() == 3);
        CHECK(items.count_where(eq(&item::tag, std::optional<std::string>{"cheap"})).value() == 3);
        auto one = items.find_where(eq(&item::price, 1)).value().at(0);
        CHECK(one.name == "renamed");
        CHECK(one.version == 2);

        CHECK(items.remove_where(gt(&item::price, 7)).value() == 3);
        CHECK(items.count().value() == 7);
        CHECK(items.only_deleted().count_where(gt(&item::price, 7)).value() == 3);
        CHECK(items.with_deleted().count_where(gt(&item::price, 0)).value() == 10);
        // Removed rows are out of reach of update_where and a second remove_where.
        CHECK(items.update_where(gt(&item::price, 7), set(&item::price, std::int64_t{0})).value() ==
              0);
        CHECK(items.remove_where(gt(&item::price, 7)).value() == 0);

        auto partial = items.update(one.id, set(&item::price, std::int64_t{100}));
        REQUIRE(partial);
        CHECK(partial->price == 100);
        CHECK(partial->name == "renamed");
        CHECK(partial->version == 3);
        auto deleted_id = items.only_deleted().find_where({}).value().at(0).id;
        auto gone = items.update(deleted_id, set(&item::price, std::int64_t{1}));
        REQUIRE_FALSE(gone);
        CHECK(gone.error().code() == errc::not_found);
    }

    TEST_CASE("repository: upsert reports inserted, updated, kept and soft_deleted") {
        fixture f;
        auto conn = f.schema.connect();
        REQUIRE(
            conn.execute_script("ALTER TABLE items ADD CONSTRAINT items_name_key UNIQUE (name)"));
        auto& items = f.items;
        using pgkit::upsert_outcome;
        item a;
        a.name = "a";
        a.price = 1;
        auto first = items.upsert(a, {.constraint = "items_name_key"});
        REQUIRE(first);
        CHECK(first->outcome == upsert_outcome::inserted);
        REQUIRE(first->row);
        CHECK(first->row->version == 1);
        const auto id = first->row->id;

        a.price = 2;
        a.tag = "t";
        auto second =
            items.upsert(a, {.constraint = "items_name_key", .update = {col(&item::price)}});
        REQUIRE(second);
        CHECK(second->outcome == upsert_outcome::updated);
        REQUIRE(second->row);
        CHECK(second->row->id == id);
        CHECK(second->row->price == 2);
        CHECK_FALSE(second->row->tag.has_value());  // not in the update list
        CHECK(second->row->version == 2);           // every write moves the version on

        a.price = 3;
        auto kept = items.upsert(a, {.constraint = "items_name_key", .do_nothing = true});
        REQUIRE(kept);
        CHECK(kept->outcome == upsert_outcome::kept);
        CHECK_FALSE(kept->row.has_value());
        CHECK(items.get(id)->price == 2);

        // The unique key by its columns; the default update list: every plain non-key column.
        auto all = items.upsert(a, {.columns = {&item::name}});
        REQUIRE(all);
        CHECK(all->outcome == upsert_outcome::updated);
        CHECK(all->row->id == id);
        CHECK(all->row->price == 3);
        CHECK(all->row->tag == std::optional<std::string>{"t"});
        CHECK(all->row->version == 3);
        CHECK(items.count().value() == 1);

        auto fresh = items.upsert(
            item{.id = 0, .name = "b", .price = 5, .tag = {}, .version = 0, .deleted_at = {}},
            {.columns = {&item::name}, .do_nothing = true});
        REQUIRE(fresh);
        CHECK(fresh->outcome == upsert_outcome::inserted);
        CHECK(fresh->row->name == "b");
        CHECK(items.count().value() == 2);

        auto bad = items.upsert(a, {.constraint = "no_such_constraint"});
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code() != errc::unique_violation);
        auto bad_name = items.upsert(a, {.constraint = std::string_view{"a\0b", 3}});
        REQUIRE_FALSE(bad_name);
        CHECK(bad_name.error().code() == errc::invalid_argument);

        // A soft-deleted conflicting row is neither overwritten nor resurrected, and says so.
        REQUIRE(items.remove(id));
        a.price = 99;
        for (const pgkit::on_conflict& target : {pgkit::on_conflict{.constraint = "items_name_key"},
                                                 pgkit::on_conflict{.columns = {&item::name}}}) {
            auto on_deleted = items.upsert(a, target);
            REQUIRE(on_deleted);
            CHECK(on_deleted->outcome == upsert_outcome::soft_deleted);
            CHECK_FALSE(on_deleted->row.has_value());
        }
        auto deleted = items.only_deleted().get(id);
        REQUIRE(deleted);
        CHECK(deleted->price == 3);
        CHECK(deleted->version == 4);  // the remove's write only
        CHECK(items.count().value() == 1);
    }

    TEST_CASE("repository: upsert refuses a generated key instead of inserting a duplicate") {
        fixture f;
        auto& items = f.items;
        item a;
        a.name = "a";
        a.price = 1;
        auto stored = items.insert(a);
        REQUIRE(stored);
        // The identity key is never sent, so ON CONFLICT (id) could never fire and every call
        // would insert another row. (upsert(row) without options does not compile here.)
        stored->price = 2;
        auto refused = items.upsert(*stored, {});
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::invalid_argument);
        auto by_id = items.upsert(*stored, {.columns = {&item::id}});
        REQUIRE_FALSE(by_id);
        CHECK(by_id.error().code() == errc::invalid_argument);
        auto version_column = items.upsert(*stored, {.columns = {&item::version}});
        REQUIRE_FALSE(version_column);
        CHECK(version_column.error().code() == errc::invalid_argument);
        CHECK(items.with_deleted().count().value() == 1);
        CHECK(items.get(stored->id)->price == 1);
    }

    TEST_CASE("repository: upsert on the columns of a partial unique index over live rows") {
        fixture f;
        auto conn = f.schema.connect();
        REQUIRE(conn.execute_script(
            "CREATE UNIQUE INDEX items_name_live ON items (name) WHERE deleted_at IS NULL"));
        auto& items = f.items;
        item a;
        a.name = "same";
        a.price = 1;
        auto first = items.upsert(a, {.columns = {&item::name}});
        REQUIRE(first);
        CHECK(first->outcome == pgkit::upsert_outcome::inserted);
        a.price = 2;
        auto second = items.upsert(a, {.columns = {&item::name}});
        REQUIRE(second);
        CHECK(second->outcome == pgkit::upsert_outcome::updated);
        CHECK(second->row->id == first->row->id);
        CHECK(second->row->price == 2);

        // Once the row is soft-deleted the index no longer holds its name: a new row is inserted.
        REQUIRE(items.remove(first->row->id));
        a.price = 3;
        auto third = items.upsert(a, {.columns = {&item::name}});
        REQUIRE(third);
        CHECK(third->outcome == pgkit::upsert_outcome::inserted);
        CHECK(third->row->id != first->row->id);
        CHECK(items.count().value() == 1);
        CHECK(items.with_deleted().count().value() == 2);
    }

    TEST_CASE("repository: injection strings through filters, sets and raw parameters") {
        fixture f;
        auto& items = f.items;
        const std::vector<std::string> nasty{"'; DELETE FROM items; --", "a\" OR \"1\"=\"1", "%_\\",
                                             "/* */ $1 ::text", "\u00fc\u20ac\U0001F680"};
        for (const auto& value : nasty) {
            item it;
            it.name = value;
            it.tag = value;
            REQUIRE(items.insert(it));
        }
        for (const auto& value : nasty) {
            CHECK(items.count_where(eq(&item::name, value)).value() == 1);
            CHECK(items.count_where(raw<item>("tag = $1", value)).value() == 1);
            CHECK(items.count_where(in(&item::tag, {value})).value() == 1);
            CHECK(items
                      .update_where(eq(&item::name, value),
                                    set(&item::tag, std::optional<std::string>{value + value}))
                      .value() == 1);
        }
        CHECK(items.count_where(like(&item::name, "%\\%\\_\\\\%")).value() == 1);
        CHECK(items.count().value() == static_cast<std::int64_t>(nasty.size()));
    }

    TEST_CASE("repository: insert_many picks VALUES for small batches and COPY for large ranges") {
        fixture f;
        auto& items = f.items;
        auto make = [](int i) {
            item it;
            it.name = "gen " + std::to_string(i) + (i % 7 == 0 ? "\t\\\n'\"" : "");
            it.price = i;
            if (i % 3 == 0) {
                it.tag = "t";
            }
            return it;
        };
        CHECK(items.insert_many(std::vector<item>{}).value() == 0);
        CHECK(items.insert_many(std::views::iota(0, 10) | std::views::transform(make)).value() ==
              10);
        CHECK(items.insert_many(std::views::iota(10, 5010) | std::views::transform(make)).value() ==
              5000);
        CHECK(items.insert_many(std::views::iota(5010, 5100) | std::views::transform(make), 16)
                  .value() == 90);
        CHECK(items.count().value() == 5100);
        auto special = items.find_where(eq(&item::price, 14)).value().at(0);
        CHECK(special.name == "gen 14\t\\\n'\"");
        CHECK(special.version == 1);
        CHECK(items.count_where(is_not_null(&item::tag)).value() == 1700);

        // Inside a transaction that rolls back, nothing stays.
        auto rolled = f.pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
            auto copied =
                items.in(tx).insert_many(std::views::iota(0, 1000) | std::views::transform(make));
            REQUIRE(copied);
            CHECK(items.in(tx).count().value() == 6100);
            return pgkit::make_error(errc::invalid_argument, "roll back");
        });
        REQUIRE_FALSE(rolled);
        CHECK(items.count().value() == 5100);

        // A bad row fails the whole COPY.
        auto bad = std::views::iota(0, 600) | std::views::transform([&](int i) {
                       auto it = make(i);
                       if (i == 555) {
                           it.name = std::string{"nul\0byte", 8};
                       }
                       return it;
                   });
        auto failed = items.insert_many(bad);
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code() == errc::invalid_argument);
        CHECK(items.count().value() == 5100);
    }

    TEST_CASE(
        "repository: for_each_where streams in chunks through a cursor, in and out of "
        "transactions") {
        fixture f;
        auto& items = f.items;
        REQUIRE(items
                    .insert_many(std::views::iota(1, 3001) | std::views::transform([](int i) {
                                     item it;
                                     it.name = "s";
                                     it.price = i;
                                     return it;
                                 }))
                    .value() == 3000);
        REQUIRE(items.remove_where(le(&item::price, 100)).value() == 100);
        const auto resets_before = f.pool->metrics().resets;
        std::int64_t sum = 0;
        std::int64_t last = 0;
        bool ordered = true;
        auto seen = items.for_each_where(
            gt(&item::price, 0),
            [&](const item& it) {
                sum += it.price;
                ordered = ordered && it.price > last;
                last = it.price;
            },
            {.order_by = {asc(&item::price)}}, 128);
        REQUIRE(seen);
        CHECK(*seen == 2900);
        CHECK(f.pool->metrics().resets == resets_before);  // a finished stream leaves no state
        CHECK(ordered);
        CHECK(sum == 3000 * 3001 / 2 - 100 * 101 / 2);

        // Stops at the callback's first error.
        int calls = 0;
        auto stopped = items.for_each_where(
            {},
            [&](const item&) -> pgkit::result<void> {
                if (++calls == 10) {
                    return pgkit::make_error(errc::invalid_argument, "enough");
                }
                return {};
            },
            {}, 4);
        REQUIRE_FALSE(stopped);
        CHECK(calls == 10);

        auto in_tx =
            f.pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<std::uint64_t> {
                return items.in(tx).only_deleted().for_each_where(
                    {}, [](const item&) {}, {}, 7);
            });
        REQUIRE_MESSAGE(in_tx, (in_tx ? std::string{} : in_tx.error().to_string()));
        CHECK(*in_tx == 100);
        CHECK(f.pool->metrics().in_use == 0);
    }

    TEST_CASE("repository: insert_many copies into a schema-qualified table") {
        // Only this case uses the schema; it is created and dropped here.
        auto admin = pgkit::test::connect_to_server();
        REQUIRE(
            admin.execute_script("DROP SCHEMA IF EXISTS pgkit_test_ledger CASCADE;"
                                 "CREATE SCHEMA pgkit_test_ledger;"
                                 "CREATE TABLE pgkit_test_ledger.\"ledger lines\" "
                                 "(id int8 PRIMARY KEY, memo text NOT NULL)"));
        {
            pgkit::test::scratch_schema elsewhere;  // search_path: its own schema, then public
            auto pool = pgkit::test::make_pool(pgkit::test::test_pool_options(elsewhere, 2));
            pgkit::repository<ledger_line> lines{pool};
            auto make = [](int i) { return ledger_line{i, "line " + std::to_string(i)}; };
            CHECK(lines.insert_many(std::views::iota(1, 2001) | std::views::transform(make))
                      .value() == 2000);  // COPY "pgkit_test_ledger"."ledger lines"
            CHECK(lines.insert_many(std::views::iota(2001, 2004) | std::views::transform(make))
                      .value() == 3);  // VALUES
            CHECK(lines.count().value() == 2003);
            CHECK(lines.get(1500).value().memo == "line 1500");
        }
        CHECK(admin.execute("SELECT count(*) FROM pgkit_test_ledger.\"ledger lines\"")
                  .and_then(&pgkit::query_result::scalar<std::int64_t>)
                  .value() == 2003);
        REQUIRE(admin.execute_script("DROP SCHEMA pgkit_test_ledger CASCADE"));
    }
}
