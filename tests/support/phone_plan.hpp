#pragma once

// The plan of the migration plan tests (migration_plan_test.cpp) and of their worker process
// (migration_worker.cpp --plan): the seed's "add column phone, backfill, then SET NOT NULL" on
// users (id bigint PRIMARY KEY, name text, visits int). Both build it here, so the worker
// records the same checksums the test checks.

#include "pgkit/migration_plan.hpp"

#include <string>

namespace pgkit::test {

/// The phone every row gets, as SQL of the row's id.
inline constexpr const char* phone_of_id = "'+1-555-' || lpad(id::text, 7, '0')";

inline migration_plan phone_plan() {
    migration_plan plan;
    plan.name = "users_phone";
    plan.expand.version = 100;
    plan.expand.name = "users_phone_expand";
    plan.expand.source = "users_phone (expand)";
    plan.expand.up =
        "ALTER TABLE users ADD COLUMN phone text;\n"
        "ALTER TABLE users ADD CONSTRAINT users_phone_not_null CHECK (phone IS NOT NULL) NOT "
        "VALID";
    plan.expand.down = "ALTER TABLE users DROP COLUMN phone";
    // Holds after the expand, and again at the contract unless someone stored an empty phone.
    plan.expand.verify = "SELECT NOT EXISTS (SELECT FROM users WHERE phone = '')";
    plan.backfill.name = "users_phone";
    plan.backfill.table = "users";
    plan.backfill.key = {"id"};
    plan.backfill.set = std::string{"phone = "} + phone_of_id;
    plan.backfill.predicate = "phone IS NULL";
    plan.validate_checks = {"users_phone_not_null"};
    plan.no_nulls = {"phone"};
    plan.contract.version = 101;
    plan.contract.name = "users_phone_contract";
    plan.contract.source = "users_phone (contract)";
    // SET NOT NULL finds the validated CHECK and skips its scan (PostgreSQL 12 and later).
    plan.contract.up =
        "ALTER TABLE users ALTER COLUMN phone SET NOT NULL;\n"
        "ALTER TABLE users DROP CONSTRAINT users_phone_not_null";
    plan.contract.down = "ALTER TABLE users ALTER COLUMN phone DROP NOT NULL";
    return plan;
}

}  // namespace pgkit::test
