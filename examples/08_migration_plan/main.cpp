// An expand -> backfill -> contract plan: adds a NOT NULL phone column to a 200k-row table while
// a writer keeps inserting and updating rows, one step at a time, printing where the plan stands
// and its gates after each. The contract's SET NOT NULL finds the validated CHECK and skips its
// scan (PostgreSQL 12 and later). Run it again: the plan reads done and does nothing.
//
//   pgkit_example_migration_plan postgresql://user@localhost/db
#include <pgkit/pgkit.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
}

/// The phone a row gets, from its id (the backfill and the writer compute the same).
constexpr const char* phone_sql = "'+1-555-' || lpad(id::text, 7, '0')";

pgkit::migration_plan phone_plan() {
    pgkit::migration_plan plan;
    plan.name = "example_plan.customers_phone";
    plan.expand.version = 8001;
    plan.expand.name = "customers_phone_expand";
    // New rows and updated rows must carry a phone from now on (NOT VALID: old rows unchecked).
    plan.expand.up =
        "ALTER TABLE example_plan.customers ADD COLUMN phone text;\n"
        "ALTER TABLE example_plan.customers ADD CONSTRAINT customers_phone_nn "
        "CHECK (phone IS NOT NULL) NOT VALID";
    plan.expand.down = "ALTER TABLE example_plan.customers DROP COLUMN phone";
    plan.expand.verify = "SELECT NOT EXISTS (SELECT FROM example_plan.customers WHERE phone = '')";
    plan.backfill = {.name = "customers_phone",
                     .runs_schema = "example_plan",
                     .table = "customers",
                     .schema = "example_plan",
                     .key = {"id"},
                     .set = std::string{"phone = "} + phone_sql,
                     .predicate = "phone IS NULL"};
    plan.validate_checks = {"customers_phone_nn"};
    plan.no_nulls = {"phone"};
    plan.contract.version = 8002;
    plan.contract.name = "customers_phone_contract";
    plan.contract.up =
        "ALTER TABLE example_plan.customers ALTER COLUMN phone SET NOT NULL;\n"
        "ALTER TABLE example_plan.customers DROP CONSTRAINT customers_phone_nn";
    plan.contract.down = "ALTER TABLE example_plan.customers ALTER COLUMN phone DROP NOT NULL";
    return plan;
}

/// Prints where the plan stands and its gates.
bool show(pgkit::pool& pool,
          const pgkit::migration_plan& plan,
          const pgkit::plan_options& options,
          const char* after) {
    auto status = pgkit::inspect_plan(pool, plan, options);
    if (!status) {
        fail(status.error());
        return false;
    }
    std::printf("after %-8s next step: %-8s expand %s, backfill %s (%llu rows), contract %s\n",
                after, std::string{pgkit::to_string(status->next)}.c_str(),
                std::string{pgkit::to_string(status->expand)}.c_str(),
                std::string{pgkit::to_string(status->backfill.status)}.c_str(),
                static_cast<unsigned long long>(status->backfill.rows_done),
                std::string{pgkit::to_string(status->contract)}.c_str());
    for (const auto& gate : status->gates) {
        std::printf("    gate %-36s %s  %s\n", gate.name.c_str(), gate.passed ? "pass" : "FAIL",
                    gate.detail.c_str());
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    auto target = argc > 1 ? pgkit::connection_options::parse(argv[1])
                           : pgkit::connection_options::from_environment();
    if (!target) {
        return fail(target.error());
    }
    // Two connections for the plan (the backfill's runner lock and its batches), one for the
    // writer.
    auto pool = pgkit::pool::create({.connection = *target, .max_size = 2});
    auto writer_pool = pgkit::pool::create({.connection = *target, .max_size = 1});
    if (!pool || !writer_pool) {
        return fail(pool ? writer_pool.error() : pool.error());
    }
    {
        auto conn = (*pool)->acquire();
        if (!conn) {
            return fail(conn.error());
        }
        // A schema of its own holds the table, the history and the backfill's runs table.
        auto setup = (*conn)->execute_script(
            "DROP SCHEMA IF EXISTS example_plan CASCADE;"
            "CREATE SCHEMA example_plan;"
            "CREATE TABLE example_plan.customers (id bigint PRIMARY KEY, name text NOT NULL, "
            "visits int NOT NULL DEFAULT 0);"
            "INSERT INTO example_plan.customers (id, name) "
            "SELECT g, 'customer ' || g FROM generate_series(1, 200000) g;"
            "ANALYZE example_plan.customers");
        if (!setup) {
            return fail(setup.error());
        }
    }
    const auto plan = phone_plan();
    pgkit::plan_options options;
    options.migrate.history_schema = "example_plan";
    options.backfill.target_batch_duration = 50ms;

    if (!show(**pool, plan, options, "setup")) {
        return 1;
    }
    auto expanded = pgkit::run_plan_expand(**pool, plan, options);
    if (!expanded) {
        return fail(expanded.error());
    }
    if (!show(**pool, plan, options, "expand")) {
        return 1;
    }

    // The new code, deployed with the expand: writes phone on every insert and update.
    std::atomic<bool> stop{false};
    std::atomic<std::int64_t> writes{0};
    std::atomic<std::int64_t> writer_errors{0};
    std::thread writer([&] {
        for (std::int64_t n = 0; !stop.load(); ++n) {
            auto conn = (*writer_pool)->acquire();
            if (!conn) {
                writer_errors.fetch_add(1);
                continue;
            }
            const std::string sql =
                n % 2 == 0 ? std::string{"INSERT INTO example_plan.customers (id, name, phone) SELECT "
                                         "id, 'new', "} +
                                 phone_sql + " FROM (SELECT 1000000 + $1::bigint AS id) s"
                           : std::string{"UPDATE example_plan.customers SET visits = visits + 1, "
                                         "phone = COALESCE(phone, "} +
                                 phone_sql + ") WHERE id = 1 + $1::bigint * 7919 % 200000";
            auto r = (*conn)->execute(sql, n);
            (r ? writes : writer_errors).fetch_add(1);
        }
    });

    auto filled = pgkit::run_plan_backfill(**pool, plan, options);
    bool ok = filled.has_value();
    if (ok) {
        std::printf("backfill: %llu rows in %lld ms, longest batch %lld ms\n",
                    static_cast<unsigned long long>(filled->rows_this_run),
                    static_cast<long long>(filled->elapsed.count()),
                    static_cast<long long>(filled->longest_batch.count()));
        ok = show(**pool, plan, options, "backfill");
    }
    auto validated = ok ? pgkit::run_plan_validate(**pool, plan, options) : pgkit::result<void>{};
    ok = ok && validated && show(**pool, plan, options, "validate");
    auto contracted = ok ? pgkit::run_plan_contract(**pool, plan, options) : pgkit::result<bool>{};
    ok = ok && contracted && show(**pool, plan, options, "contract");

    stop.store(true);
    writer.join();
    if (!filled) {
        return fail(filled.error());
    }
    if (!validated) {
        return fail(validated.error());
    }
    if (!contracted) {
        return fail(contracted.error());
    }
    std::printf("writer: %lld statements, %lld errors\n", static_cast<long long>(writes.load()),
                static_cast<long long>(writer_errors.load()));

    // Check the outcome: the column is NOT NULL, every row has its phone, the writer never failed,
    // and running the plan again does nothing.
    pgkit::result<bool> not_null = false;
    pgkit::result<std::int64_t> wrong = std::int64_t{-1};
    {
        auto conn = (*pool)->acquire();
        if (!conn) {
            return fail(conn.error());
        }
        not_null = (*conn)
                       ->execute(
                           "SELECT attnotnull FROM pg_attribute WHERE attrelid = "
                           "'example_plan.customers'::regclass AND attname = 'phone'")
                       .and_then(&pgkit::query_result::scalar<bool>);
        wrong = (*conn)
                    ->execute(std::string{"SELECT count(*) FROM example_plan.customers WHERE "
                                          "phone IS DISTINCT FROM "} +
                              phone_sql)
                    .and_then(&pgkit::query_result::scalar<std::int64_t>);
    }
    auto again = pgkit::run_plan(**pool, plan, options);
    if (!not_null || !wrong || !again) {
        return fail(!not_null ? not_null.error() : !wrong ? wrong.error() : again.error());
    }
    std::printf("phone NOT NULL: %s, rows without their phone: %lld, run again: %zu steps\n",
                *not_null ? "yes" : "no", static_cast<long long>(*wrong), again->ran.size());
    const bool passed = *not_null && *wrong == 0 && writer_errors.load() == 0 &&
                        writes.load() > 0 && again->ran.empty() &&
                        again->reached == pgkit::plan_step::done;
    std::printf("%s\n", passed ? "ok" : "FAILED");
    return passed ? 0 : 1;
}
