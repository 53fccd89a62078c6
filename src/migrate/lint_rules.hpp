#pragma once

// The migration linter's rules (private): given one recognised statement, the catalog facts
// about what it touches, and what the migrations before it in the same run did, which rules it
// breaks. Pure: the facts come from lint_catalog, so the version-dependent verdicts are tested
// with any server version.

#include "migrate/lint_recognizer.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgkit::detail::migrate {

struct lint_rule_info {
    std::string_view id;
    std::string_view what;          ///< what goes wrong on a live table
    std::string_view alternative;   ///< the safe way
    std::string_view version_fact;  ///< the PostgreSQL version fact behind the verdict
};

/// Every rule, in the order docs/migrations.md lists them.
[[nodiscard]] const std::vector<lint_rule_info>& lint_rules();
[[nodiscard]] const lint_rule_info* find_lint_rule(std::string_view id);

/// A table (or the table of an index) as the catalog has it.
struct table_facts {
    bool exists = false;  ///< in the live catalog
    bool has_rows =
        false;  ///< a row exists (or the statistics say so when the probe could not run)
    bool new_in_run = false;  ///< created by a statement before this one in the same run
    /// Exists, was not created in this run, has rows: where a lock or a rewrite hurts.
    [[nodiscard]] bool live() const noexcept { return exists && !new_in_run && has_rows; }
    [[nodiscard]] bool existing() const noexcept { return exists && !new_in_run; }
};

/// Facts about one ALTER TABLE action's column.
struct action_facts {
    std::string column_type;  ///< format_type of the column; empty when unknown
    bool validated_not_null_check = false;
    std::optional<bool> default_volatile;  ///< nullopt: a function the catalog does not know
    /// VALIDATE CONSTRAINT of a live CHECK (c IS NOT NULL) NOT VALID: that column.
    std::string validates_not_null_column;
};

struct statement_facts {
    table_facts table;
    std::vector<action_facts> actions;  ///< parallel to recognized_statement::actions
};

struct not_valid_check {
    std::int64_t version = 0;  ///< the migration that added it
    std::string name;
    std::string table;   ///< relation name
    std::string column;  ///< CHECK (column IS NOT NULL); empty for other checks and FKs
};

/// What the statements before this one did.
struct lint_context {
    int server_version = 0;
    // The whole run:
    std::vector<std::string> created_tables;                              ///< relation names
    std::vector<std::pair<std::string, std::string>> validated_not_null;  ///< (relation, column)
    std::vector<not_valid_check> not_valid;  ///< constraints added NOT VALID
    // The current migration:
    std::int64_t version = 0;
    bool transactional = true;  ///< runs in one transaction
    bool has_ddl = false;       ///< some statement of it locks a table (ALTER, index, DROP)
    std::vector<std::string> enum_values;  ///< added by ALTER TYPE ... ADD VALUE earlier in it

    /// Starts a migration: forgets what was per migration.
    void begin_migration(std::int64_t migration_version, bool one_transaction, bool with_ddl);
};

/// True when the statement locks a table the way DDL does (for unbatched-dml-with-ddl).
[[nodiscard]] bool is_ddl(const recognized_statement& st) noexcept;

struct rule_hit {
    std::string_view rule;
    std::string message;
    std::string_view version_fact;
};

/// The rules `st` breaks.
[[nodiscard]] std::vector<rule_hit> check_statement(const recognized_statement& st,
                                                    const statement_facts& facts,
                                                    const lint_context& context);

/// Records what `st` did (tables created, constraints added or validated, enum values added).
void note_statement(const recognized_statement& st,
                    const statement_facts& facts,
                    lint_context& context);

/// True when changing a column of type `from` (format_type) to `to` (as written) needs no table
/// rewrite: varchar(n) to a longer varchar, to varchar or text; text to varchar; numeric(p,s) to
/// numeric(q,s) with q >= p or to numeric; the same type.
[[nodiscard]] bool type_change_without_rewrite(std::string_view from, std::string_view to);

}  // namespace pgkit::detail::migrate
