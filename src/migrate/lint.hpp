#pragma once

// The migration linter's driver (private): one migration's UP statements, recognised, checked
// against the catalog and the rules, with the section's acknowledgements applied.

#include "pgkit/migration_lint.hpp"

#include "migrate/lint_rules.hpp"
#include "migrate/statements.hpp"

#include <cstddef>
#include <vector>

namespace pgkit {
class connection;
}

namespace pgkit::detail::migrate {

/// The file line of line `line` of a section whose text starts on file line `first_line` (0: not
/// from a file, the section's own line).
[[nodiscard]] std::size_t file_line(std::size_t first_line, std::size_t line) noexcept;

/// Lints `m`'s UP statements `up` from `from` (the resume point of a partial migration) against
/// the catalog. `context` carries what the migrations before it in the run did, and is updated.
[[nodiscard]] result<std::vector<lint_finding>> lint_migration(
    connection& conn,
    const migration& m,
    const std::vector<section_statement>& up,
    std::size_t from,
    lint_context& context);

}  // namespace pgkit::detail::migrate
