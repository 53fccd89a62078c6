#pragma once

// The pool of a worker process (backfill_worker.cpp, migration_worker.cpp): the server at URL,
// two connections whose search_path is the test's schema, named so tests can find the worker's
// sessions in pg_stat_activity. No test framework here: workers are plain programs.

#include "pgkit/pool.hpp"

#include <cstdio>
#include <memory>

namespace pgkit::test {

/// The pool, or nullptr after printing why there is none.
inline std::shared_ptr<pool> worker_pool(const char* url,
                                         const char* schema,
                                         const char* application_name) {
    auto connection = connection_options::parse(url);
    if (!connection) {
        std::fprintf(stderr, "%s\n", connection.error().to_string().c_str());
        return nullptr;
    }
    pool_options options;
    options.connection = *connection;
    options.connection.application_name = application_name;
    options.session.search_path = {schema};
    options.max_size = 2;
    auto created = pool::create(options);
    if (!created) {
        std::fprintf(stderr, "%s\n", created.error().to_string().c_str());
        return nullptr;
    }
    return std::move(*created);
}

}  // namespace pgkit::test
