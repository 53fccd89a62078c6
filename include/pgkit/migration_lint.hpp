#pragma once

/// The migration linter (docs/migrations.md, "Lint"): reads the pending migrations' statements
/// with the live catalog and the server's version (whether a table exists and has rows, a
/// default's volatility, a validated CHECK (c IS NOT NULL), invalid indexes) and reports the
/// operations that would lock or rewrite a live table, each with the safe alternative and the
/// PostgreSQL version fact behind the verdict. A finding is acknowledged in the file with
/// `-- pgkit:allow <rule> <reason>`. plan_migrate_up is the dry run of migrate_up: what would
/// run, how, and the findings.

#include "pgkit/error.hpp"
#include "pgkit/migrations.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pgkit {

class pool;

/// One finding of one rule on one statement.
struct lint_finding {
    std::string rule;          ///< the rule's stable id (docs/migrations.md lists them)
    std::int64_t version = 0;  ///< the migration
    std::string source;        ///< its file (or label)
    std::string section;       ///< "UP" or "DOWN" ("" for findings about the whole migration)
    std::size_t line = 0;      ///< 1-based line in the source (0: the whole migration)
    std::string statement;     ///< the statement, shortened
    std::string message;       ///< what goes wrong on a live table, and the safe alternative
    std::string version_fact;  ///< the PostgreSQL version fact behind the verdict
    /// Acknowledged in the file (`-- pgkit:allow <rule> <reason>`): reported, not counted.
    bool acknowledged = false;
    std::string reason;  ///< the acknowledgement's reason
};

/// Lints the migrations migrate_up would apply (pending, and partial ones from their resume
/// point) up to `to_version`, against the live catalog. Writes nothing and takes no lock.
/// Fails like migrations_status (pool, server, a malformed source); findings are values.
[[nodiscard]] result<std::vector<lint_finding>> lint_migrations(
    pool& pool,
    std::span<const migration> migrations,
    const migrate_options& options = {},
    std::optional<std::int64_t> to_version = {});

/// One statement as migrate_up would run it.
struct planned_statement {
    std::string section;  ///< "UP"
    std::size_t line = 0;
    std::string text;
    bool in_transaction = true;  ///< false: sent alone, in autocommit
    std::chrono::milliseconds lock_timeout{0};
};

/// One migration migrate_up would apply, with its lint findings.
struct planned_migration {
    std::int64_t version = 0;
    std::string name;
    std::string source;
    bool transactional = true;              ///< one transaction for the whole migration
    std::optional<std::int32_t> resume_at;  ///< a partial migration: the statement it resumes at
    std::vector<planned_statement> statements;
    std::vector<lint_finding> findings;
};

/// The dry run of migrate_up with the same arguments: the history checks migrate_up makes
/// (checksum_mismatch, migration_refused), then what it would apply and how, with the lint
/// findings. Writes nothing and takes no lock.
[[nodiscard]] result<std::vector<planned_migration>> plan_migrate_up(
    pool& pool,
    std::span<const migration> migrations,
    const migrate_options& options = {},
    std::optional<std::int64_t> to_version = {});

}  // namespace pgkit
