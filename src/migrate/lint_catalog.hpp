#pragma once

// The migration linter's catalog facts (private): what the live catalog says about the tables,
// columns, defaults and constraints a recognised statement touches. Every value is a bound
// parameter; the one probe that names a table (EXISTS (SELECT 1 FROM t)) quotes the catalog's
// own names and runs read-only under a short lock_timeout and statement_timeout.

#include "pgkit/error.hpp"

#include "migrate/lint_rules.hpp"

namespace pgkit {
class connection;
}

namespace pgkit::detail::migrate {

/// The facts check_statement needs about `st`. A name the catalog does not know (a table a
/// pending migration creates) gives facts that flag nothing. Fails only when the connection does.
[[nodiscard]] result<statement_facts> read_statement_facts(connection& conn,
                                                           const recognized_statement& st,
                                                           const lint_context& context);

}  // namespace pgkit::detail::migrate
