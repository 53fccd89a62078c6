// The dry run of migrate_up: the same history checks and pending selection (migrate/pending.hpp),
// then each migration's statements as the runner would send them, with the lint findings. It
// takes no runner lock and creates nothing (a missing history table is an empty history).

#include "pgkit/migration_lint.hpp"
#include "pgkit/pool.hpp"

#include "migrate/history.hpp"
#include "migrate/lint.hpp"
#include "migrate/pending.hpp"
#include "migrate/statements.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pgkit {
namespace {

namespace dm = detail::migrate;

planned_statement plan_statement(const dm::section_statement& st,
                                 const migrate_options& options,
                                 bool behind_transaction_pooler) {
    planned_statement out;
    out.section = "UP";
    out.line = st.line;
    out.text = st.text;
    out.in_transaction = st.kind != dm::statement_class::non_transactional;
    out.lock_timeout = st.long_timeout ? options.long_lock_timeout : options.lock_timeout;
    if (!out.in_transaction && behind_transaction_pooler) {
        out.lock_timeout = std::chrono::milliseconds{0};  // the role's setting applies
    }
    return out;
}

}  // namespace

result<std::vector<planned_migration>> plan_migrate_up(pool& pool,
                                                       std::span<const migration> migrations,
                                                       const migrate_options& options,
                                                       std::optional<std::int64_t> to_version) {
    if (auto ok = dm::check_options(options); !ok) {
        return tl::unexpected(ok.error());
    }
    auto all = dm::checked(migrations);
    if (!all) {
        return tl::unexpected(all.error());
    }
    auto leased = pool.acquire();
    if (!leased) {
        return tl::unexpected(error{leased.error()}.with_context(
            fmt::format("migration plan ({} migrations)", all->size())));
    }
    connection& conn = **leased;
    auto home = dm::locate_history(conn, options.history_schema);
    if (!home) {
        return tl::unexpected(home.error());
    }
    auto history = dm::read_history(conn, *home);
    if (!history) {
        return tl::unexpected(history.error());
    }
    if (auto left = dm::leave_plans_out(conn, *home, *all, *history); !left) {
        return tl::unexpected(left.error());
    }
    if (auto ok = dm::check_history(*all, *history, *home); !ok) {
        return tl::unexpected(ok.error());
    }
    auto pending = dm::select_pending(*all, *history, options, to_version);
    if (!pending) {
        return tl::unexpected(pending.error());
    }
    const bool transaction_pooler = pool.options().connection.pooler == pooler_mode::transaction;
    dm::lint_context context;
    context.server_version = conn.server_version();
    std::vector<planned_migration> out;
    for (const dm::pending_migration& p : *pending) {
        const migration& m = *p.m;
        auto up = dm::split_section(m.up, context.server_version);
        if (!up) {
            return make_error(
                errc::migration_source_invalid,
                fmt::format("{}:{}: {}", m.source, dm::file_line(m.up_line, up.error().line),
                            up.error().reason));
        }
        planned_migration planned;
        planned.version = m.version;
        planned.name = m.name;
        planned.source = m.source;
        planned.transactional = std::none_of(up->begin(), up->end(), [](const auto& st) {
            return st.kind == dm::statement_class::non_transactional;
        });
        std::size_t from = 0;
        if (p.partial != nullptr) {
            planned.resume_at = std::max(p.partial->next_statement, 0);
            from = std::min(static_cast<std::size_t>(*planned.resume_at), up->size());
        }
        for (std::size_t i = from; i < up->size(); ++i) {
            planned.statements.push_back(plan_statement((*up)[i], options, transaction_pooler));
            planned.statements.back().line = dm::file_line(m.up_line, (*up)[i].line);
        }
        auto findings = dm::lint_migration(conn, m, *up, from, context);
        if (!findings) {
            return tl::unexpected(findings.error());
        }
        planned.findings = std::move(*findings);
        out.push_back(std::move(planned));
    }
    return out;
}

}  // namespace pgkit
