// Expand -> backfill -> contract plans: each step, the gates, and where a plan stands. A plan
// keeps no progress of its own: the history table says whether its expand and contract are
// applied, the backfill's runs table whether its backfill is done, and pg_constraint whether its
// constraints are validated; pgkit_migration_plans (plan_table.hpp) only records which versions
// belong to which plan. docs/migrations.md, "Plans".

#include "pgkit/migration_plan.hpp"
#include "pgkit/pool.hpp"

#include "migrate/history.hpp"
#include "migrate/lock_discipline.hpp"
#include "migrate/plan_table.hpp"
#include "migrate/runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace pgkit {
namespace {

namespace dm = detail::migrate;

/// The most NULLs a failing no_nulls gate counts before it says "more than".
constexpr std::int64_t null_count_limit = 100'000;

tl::unexpected<error> invalid(const migration_plan& plan, std::string_view what) {
    return make_error(errc::invalid_argument, fmt::format("plan {}: {}", plan.name, what));
}

/// The plan's table, quoted (schema-qualified when backfill.schema is set).
result<std::string> gate_table(const migration_plan& plan) {
    auto table = connection::quote_identifier(plan.backfill.table);
    if (!table) {
        return tl::unexpected(table.error());
    }
    if (plan.backfill.schema.empty()) {
        return *table;
    }
    auto schema = connection::quote_identifier(plan.backfill.schema);
    if (!schema) {
        return tl::unexpected(schema.error());
    }
    return *schema + "." + *table;
}

result<void> check_plan(const migration_plan& plan) {
    if (plan.name.empty()) {
        return make_error(errc::invalid_argument, "plan: a plan needs a name");
    }
    if (plan.expand.version <= 0 || plan.contract.version <= plan.expand.version) {
        return invalid(plan, fmt::format("the contract's version ({}) must be above the "
                                         "expand's ({}), and both above 0",
                                         plan.contract.version, plan.expand.version));
    }
    if (plan.backfill.name.empty() || plan.backfill.table.empty()) {
        return invalid(plan, "the backfill needs a name and a table");
    }
    if (auto table = gate_table(plan); !table) {
        return invalid(plan, table.error().message());
    }
    for (const auto* names : {&plan.no_nulls, &plan.validate_checks}) {
        for (const auto& name : *names) {
            if (auto quoted = connection::quote_identifier(name); !quoted) {
                return invalid(plan, quoted.error().message());
            }
        }
    }
    return {};
}

dm::plan_row row_of(const migration_plan& plan) {
    return {plan.name, plan.expand.version, plan.contract.version, plan.backfill.name};
}

/// A migration's state as the history records it (the checksum compared).
migration_state state_of(const std::vector<dm::history_row>& history, const migration& m) {
    auto row = std::find_if(history.begin(), history.end(),
                            [&](const dm::history_row& r) { return r.version == m.version; });
    if (row == history.end()) {
        return migration_state::pending;
    }
    if (row->checksum != migration_checksum(m)) {
        return migration_state::changed;
    }
    if (row->state == "partial") {
        return migration_state::partial;
    }
    if (row->state == "reverting") {
        return migration_state::reverting;
    }
    return migration_state::applied;
}

/// The first value of `sql` as text; nullopt for no row or NULL.
result<std::optional<std::string>> first_value(connection& conn,
                                               std::string_view sql,
                                               const parameters& params = {}) {
    auto r = conn.execute_params(sql, params);
    if (!r) {
        return tl::unexpected(r.error());
    }
    if (r->empty()) {
        return std::optional<std::string>{};
    }
    return (*r)[0].get<std::optional<std::string>>(0);
}

plan_gate no_nulls_gate(connection& conn, const std::string& table, const std::string& column) {
    plan_gate gate{fmt::format("no_nulls({})", column), false, {}};
    auto quoted = connection::quote_identifier(column);
    if (!quoted) {
        gate.detail = quoted.error().message();
        return gate;
    }
    auto nulls = conn.execute(fmt::format("SELECT count(*) FROM (SELECT FROM {} WHERE {} IS NULL "
                                          "LIMIT {}) AS n",
                                          table, *quoted, null_count_limit + 1))
                     .and_then(&query_result::scalar<std::int64_t>);
    if (!nulls) {
        gate.detail = nulls.error().message();
        return gate;
    }
    gate.passed = *nulls == 0;
    gate.detail = *nulls > null_count_limit
                      ? fmt::format("more than {} NULLs left", null_count_limit)
                      : fmt::format("{} NULL{} left", *nulls, *nulls == 1 ? "" : "s");
    return gate;
}

plan_gate validated_gate(connection& conn, const std::string& table, const std::string& name) {
    plan_gate gate{fmt::format("validated({})", name), false, {}};
    auto valid = first_value(conn,
                             "SELECT c.convalidated FROM pg_catalog.pg_constraint c "
                             "WHERE c.conrelid = to_regclass($1) AND c.conname = $2",
                             parameters{table, name});
    if (!valid) {
        gate.detail = valid.error().message();
    } else if (!*valid) {
        gate.detail = fmt::format("no constraint {} on {}", name, table);
    } else {
        gate.passed = **valid == "t";
        gate.detail = gate.passed ? "validated" : "not validated (NOT VALID)";
    }
    return gate;
}

plan_gate user_gate(connection& conn, const std::string& sql) {
    plan_gate gate{"user", false, {}};
    auto value = first_value(conn, sql);
    if (!value) {
        gate.detail = value.error().message();
    } else {
        gate.passed = *value && (**value == "t" || **value == "true");
        gate.detail = fmt::format("gave {}", *value ? **value : std::string{"no value"});
    }
    return gate;
}

/// Every gate, on `conn` (outside any transaction).
std::vector<plan_gate> evaluate_gates(connection& conn,
                                      const migration_plan& plan,
                                      const backfill_state& backfill) {
    std::vector<plan_gate> gates;
    plan_gate verify{"verify", true, "no VERIFY section"};
    if (!plan.expand.verify.empty()) {
        auto ok = dm::verify_migration(conn, plan.expand);
        verify.passed = ok.has_value();
        verify.detail = ok ? "passed" : ok.error().message();
    }
    gates.push_back(std::move(verify));
    const bool filled = backfill.status == backfill_status::done;
    gates.push_back({"backfill_done", filled,
                     fmt::format("backfill {} is {} ({} rows done)", plan.backfill.name,
                                 to_string(backfill.status), backfill.rows_done)});
    auto table = gate_table(plan);
    for (const auto& column : plan.no_nulls) {
        gates.push_back(no_nulls_gate(conn, *table, column));
    }
    for (const auto& name : plan.validate_checks) {
        gates.push_back(validated_gate(conn, *table, name));
    }
    if (!plan.gate_sql.empty()) {
        gates.push_back(user_gate(conn, plan.gate_sql));
    }
    return gates;
}

bool all_pass(const std::vector<plan_gate>& gates) {
    return std::all_of(gates.begin(), gates.end(), [](const plan_gate& g) { return g.passed; });
}

/// Whether every constraint of validate_checks is validated now.
result<bool> all_validated(connection& conn, const migration_plan& plan) {
    auto table = gate_table(plan);
    for (const auto& name : plan.validate_checks) {
        if (!validated_gate(conn, *table, name).passed) {
            return false;
        }
    }
    return true;
}

/// The history, read without a lock (no table yet: none).
result<std::vector<dm::history_row>> read_history(connection& conn, const plan_options& options) {
    auto home = dm::locate_history(conn, options.migrate.history_schema);
    if (!home) {
        return tl::unexpected(home.error());
    }
    return dm::read_history(conn, *home);
}

/// The error of a step that cannot run yet.
tl::unexpected<error> not_yet(const migration_plan& plan,
                              plan_step step,
                              const migration_plan_status& status) {
    return make_error(errc::migration_refused,
                      fmt::format("plan {}: the {} step cannot run before the {} step is done "
                                  "(expand {}, backfill {}); nothing was applied",
                                  plan.name, to_string(step), to_string(status.next),
                                  to_string(status.expand), to_string(status.backfill.status)));
}

/// Where the plan stands, without its gates: the history, the backfill's run, pg_constraint.
result<migration_plan_status> read_progress(connection& conn,
                                            const migration_plan& plan,
                                            const plan_options& options,
                                            backfill_state backfill) {
    auto history = read_history(conn, options);
    if (!history) {
        return tl::unexpected(history.error());
    }
    migration_plan_status status;
    status.name = plan.name;
    status.expand = state_of(*history, plan.expand);
    status.contract = state_of(*history, plan.contract);
    status.backfill = std::move(backfill);
    if (status.contract == migration_state::applied) {
        status.next = plan_step::done;
    } else if (status.expand != migration_state::applied) {
        status.next = plan_step::expand;
    } else if (status.backfill.status != backfill_status::done) {
        status.next = plan_step::backfill;
    } else {
        auto validated = all_validated(conn, plan);
        if (!validated) {
            return tl::unexpected(validated.error());
        }
        status.next = *validated ? plan_step::contract : plan_step::validate;
    }
    return status;
}

/// read_progress on a connection of its own, and `with_gates`, the gates too. The backfill's
/// state is read first, so one connection of the pool is enough.
result<migration_plan_status> read_progress(pool& pool,
                                            const migration_plan& plan,
                                            const plan_options& options,
                                            bool with_gates = false) {
    if (auto ok = check_plan(plan); !ok) {
        return tl::unexpected(ok.error());
    }
    auto backfill = inspect_backfill(pool, plan.backfill);
    if (!backfill) {
        return tl::unexpected(backfill.error());
    }
    auto leased = pool.acquire();
    if (!leased) {
        return tl::unexpected(leased.error());
    }
    auto status = read_progress(**leased, plan, options, std::move(*backfill));
    if (status && with_gates && status->expand == migration_state::applied &&
        status->next != plan_step::done) {
        status->gates = evaluate_gates(**leased, plan, status->backfill);
        status->gates_pass = all_pass(status->gates);
    }
    return status;
}

}  // namespace

std::string_view to_string(plan_step step) noexcept {
    switch (step) {
        case plan_step::expand:
            return "expand";
        case plan_step::backfill:
            return "backfill";
        case plan_step::validate:
            return "validate";
        case plan_step::contract:
            return "contract";
        case plan_step::done:
            return "done";
    }
    return "unknown";
}

result<migration_plan_status> inspect_plan(pool& pool,
                                           const migration_plan& plan,
                                           const plan_options& options) {
    return read_progress(pool, plan, options, true);
}

result<bool> run_plan_expand(pool& pool, const migration_plan& plan, const plan_options& options) {
    if (auto ok = check_plan(plan); !ok) {
        return tl::unexpected(ok.error());
    }
    return dm::apply_one(pool, plan.expand, options.migrate,
                         [&](connection& conn, const detail::runs_table& home) {
                             return dm::register_plan(conn, home, row_of(plan));
                         });
}

result<backfill_report> run_plan_backfill(pool& pool,
                                          const migration_plan& plan,
                                          const plan_options& options) {
    auto status = read_progress(pool, plan, options);
    if (!status) {
        return tl::unexpected(status.error());
    }
    if (status->expand != migration_state::applied) {
        return not_yet(plan, plan_step::backfill, *status);
    }
    auto report = run_backfill(pool, plan.backfill, options.backfill);
    if (!report) {
        return tl::unexpected(
            error{report.error()}.with_context(fmt::format("plan {}: backfill step", plan.name)));
    }
    return report;
}

result<void> run_plan_validate(pool& pool,
                               const migration_plan& plan,
                               const plan_options& options) {
    auto status = read_progress(pool, plan, options);
    if (!status) {
        return tl::unexpected(status.error());
    }
    if (status->next == plan_step::done) {
        return {};
    }
    if (status->expand != migration_state::applied ||
        status->backfill.status != backfill_status::done) {
        return not_yet(plan, plan_step::validate, *status);
    }
    auto table = gate_table(plan);
    for (const auto& name : plan.validate_checks) {
        // VALIDATE takes SHARE UPDATE EXCLUSIVE (reads and writes go on) and scans the table:
        // the long lock_timeout, as the runner gives it.
        auto quoted = connection::quote_identifier(name);
        auto done = pool.with_transaction([&](transaction& tx) -> result<void> {
            auto ran =
                tx.execute_script(dm::set_lock_timeout_sql(options.migrate.long_lock_timeout, true))
                    .and_then([&](const query_result&) {
                        return tx.execute_script(
                            fmt::format("ALTER TABLE {} VALIDATE CONSTRAINT {}", *table, *quoted));
                    });
            if (!ran) {
                return tl::unexpected(ran.error());
            }
            return {};
        });
        if (!done) {
            return tl::unexpected(error{done.error()}.with_context(
                fmt::format("plan {}: validate step: VALIDATE CONSTRAINT {}", plan.name, name)));
        }
    }
    return {};
}

result<bool> run_plan_contract(pool& pool,
                               const migration_plan& plan,
                               const plan_options& options) {
    if (auto ok = check_plan(plan); !ok) {
        return tl::unexpected(ok.error());
    }
    auto backfill = inspect_backfill(pool, plan.backfill);
    if (!backfill) {
        return tl::unexpected(backfill.error());
    }
    return dm::apply_one(
        pool, plan.contract, options.migrate,
        [&](connection& conn, const detail::runs_table& home) -> result<void> {
            auto history = dm::read_history(conn, home);
            if (!history) {
                return tl::unexpected(history.error());
            }
            if (state_of(*history, plan.contract) == migration_state::applied) {
                return {};  // done already: apply_one reports it
            }
            const auto expand = state_of(*history, plan.expand);
            if (expand != migration_state::applied) {
                return make_error(errc::migration_refused,
                                  fmt::format("plan {}: the contract cannot run while the "
                                              "expand (version {}) is {}; nothing was applied",
                                              plan.name, plan.expand.version, to_string(expand)));
            }
            if (auto registered = dm::register_plan(conn, home, row_of(plan)); !registered) {
                return registered;
            }
            const auto gates = evaluate_gates(conn, plan, *backfill);
            std::string failing;
            for (const auto& g : gates) {
                if (!g.passed) {
                    failing +=
                        fmt::format("{}{}: {}", failing.empty() ? "" : "; ", g.name, g.detail);
                }
            }
            if (!failing.empty()) {
                return make_error(errc::migration_refused,
                                  fmt::format("plan {}: contract refused, gate failed: {}; "
                                              "nothing was applied",
                                              plan.name, failing));
            }
            return {};
        });
}

result<plan_report> run_plan(pool& pool, const migration_plan& plan, const plan_options& options) {
    plan_report report;
    auto expanded = run_plan_expand(pool, plan, options);
    if (!expanded) {
        return tl::unexpected(expanded.error());
    }
    if (*expanded) {
        report.ran.push_back(plan_step::expand);
    }
    auto status = read_progress(pool, plan, options);
    if (!status) {
        return tl::unexpected(status.error());
    }
    if (status->next == plan_step::done) {
        report.reached = plan_step::done;
        return report;
    }
    if (status->next == plan_step::backfill) {
        auto filled = run_plan_backfill(pool, plan, options);
        if (!filled) {
            return tl::unexpected(filled.error());
        }
        report.ran.push_back(plan_step::backfill);
        report.backfill = *filled;
        if (filled->status != backfill_status::done) {
            report.reached = plan_step::backfill;
            return report;
        }
    }
    if (!plan.validate_checks.empty()) {
        if (auto validated = run_plan_validate(pool, plan, options); !validated) {
            return tl::unexpected(validated.error());
        }
        report.ran.push_back(plan_step::validate);
    }
    auto contracted = run_plan_contract(pool, plan, options);
    if (!contracted) {
        return tl::unexpected(contracted.error());
    }
    if (*contracted) {
        report.ran.push_back(plan_step::contract);
    }
    report.reached = plan_step::done;
    return report;
}

}  // namespace pgkit
