#pragma once

// Shared set-up for benchmarks: the server URL and a seeded table.

#include "pgkit/connection.hpp"

#include <cstdint>
#include <string>

namespace pgkit::bench {

/// PGKIT_BENCH_DATABASE_URL (scripts/bench sets it); aborts with a message when unset.
[[nodiscard]] const std::string& database_url();

/// The size of the large tables (repository, pagination, guidance; backfill reads the same
/// variable): PGKIT_BENCH_ROWS (scripts/bench --rows), default 1 000 000, at least 200 000 (the
/// pagination depths go to 100k rows and beyond); aborts with a message otherwise.
[[nodiscard]] std::int64_t dataset_rows();

/// A connection to the benchmark server; aborts when it cannot connect.
[[nodiscard]] connection connect();

/// Creates (once per process) `bench_items(id bigint primary key, name text, score int4)` with
/// `rows` rows, and ANALYZEs it.
void ensure_items_table(std::int64_t rows);

}  // namespace pgkit::bench
