// `pgkit migrate lint | plan`: the migration linter and the dry run of `up`
// (pgkit/migration_lint.hpp) on a directory of migration files. Exit 3 when a finding is not
// acknowledged in its file (`-- pgkit:allow <rule> <reason>`). docs/migrations.md.
#include "pgkit/migration_lint.hpp"

#include "database_command.hpp"
#include "migrate_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgkit::cli {

namespace {

struct lint_command {
    migrate_args args;
    std::optional<std::int64_t> to;
};

std::size_t unacknowledged(const std::vector<lint_finding>& findings) {
    return static_cast<std::size_t>(std::count_if(
        findings.begin(), findings.end(), [](const lint_finding& f) { return !f.acknowledged; }));
}

void write_findings(json_writer& out, const std::vector<lint_finding>& findings) {
    out.key("findings").begin_array();
    for (const auto& f : findings) {
        out.begin_object()
            .key("rule")
            .value(f.rule)
            .key("version")
            .value(f.version)
            .key("source")
            .value(f.source)
            .key("section")
            .value(f.section)
            .key("line")
            .value(static_cast<std::uint64_t>(f.line))
            .key("statement")
            .value(f.statement)
            .key("message")
            .value(f.message)
            .key("version_fact")
            .value(f.version_fact)
            .key("acknowledged")
            .value(f.acknowledged)
            .key("reason")
            .value(f.reason)
            .end_object();
    }
    out.end_array();
}

void print_findings(const std::vector<lint_finding>& findings, std::string_view indent) {
    for (const auto& f : findings) {
        const std::string where =
            f.line > 0 ? fmt::format("{}:{}", f.source, f.line) : std::string{f.source};
        std::cout << fmt::format("{}{}: [{}]{} {}\n", indent, where, f.rule,
                                 f.acknowledged ? " (acknowledged: " + f.reason + ")" : "",
                                 f.message);
        if (!f.statement.empty()) {
            std::cout << fmt::format("{}    {}\n", indent, f.statement);
        }
        if (!f.version_fact.empty()) {
            std::cout << fmt::format("{}    PostgreSQL: {}\n", indent, f.version_fact);
        }
    }
}

int lint(const lint_command& c) {
    const std::string_view command = "migrate lint";
    auto prepared = prepare_migrate(c.args, command);
    if (!prepared) {
        return report_failure(c.args.db, command, prepared.error());
    }
    auto found =
        lint_migrations(*prepared->database, prepared->migrations, prepared->options, c.to);
    if (!found) {
        return report_failure(c.args.db, command, found.error());
    }
    const std::size_t open = unacknowledged(*found);
    const int code = open > 0 ? findings : success;
    if (c.args.db.json) {
        json_writer out = begin_report(command, true, code);
        write_findings(out, *found);
        out.key("unacknowledged").value(static_cast<std::uint64_t>(open)).end_object();
        std::cout << out.str();
        return code;
    }
    print_findings(*found, "");
    std::cout << fmt::format("{} finding{}, {} not acknowledged\n", found->size(),
                             found->size() == 1 ? "" : "s", open);
    return code;
}

int plan(const lint_command& c) {
    const std::string_view command = "migrate plan";
    auto prepared = prepare_migrate(c.args, command);
    if (!prepared) {
        return report_failure(c.args.db, command, prepared.error());
    }
    auto planned =
        plan_migrate_up(*prepared->database, prepared->migrations, prepared->options, c.to);
    if (!planned) {
        return report_failure(c.args.db, command, planned.error());
    }
    std::size_t open = 0;
    for (const auto& m : *planned) {
        open += unacknowledged(m.findings);
    }
    const int code = open > 0 ? findings : success;
    if (c.args.db.json) {
        json_writer out = begin_report(command, true, code);
        out.key("migrations").begin_array();
        for (const auto& m : *planned) {
            out.begin_object()
                .key("version")
                .value(m.version)
                .key("name")
                .value(m.name)
                .key("source")
                .value(m.source)
                .key("transactional")
                .value(m.transactional)
                .key("resume_at")
                .value(m.resume_at)
                .key("statements")
                .begin_array();
            for (const auto& st : m.statements) {
                out.begin_object()
                    .key("section")
                    .value(st.section)
                    .key("line")
                    .value(static_cast<std::uint64_t>(st.line))
                    .key("text")
                    .value(st.text)
                    .key("in_transaction")
                    .value(st.in_transaction)
                    .key("lock_timeout_ms")
                    .value(static_cast<std::int64_t>(st.lock_timeout.count()))
                    .end_object();
            }
            out.end_array();
            write_findings(out, m.findings);
            out.end_object();
        }
        out.end_array().key("unacknowledged").value(static_cast<std::uint64_t>(open)).end_object();
        std::cout << out.str();
        return code;
    }
    if (planned->empty()) {
        std::cout << "nothing to apply\n";
    }
    for (const auto& m : *planned) {
        std::cout << fmt::format(
            "{} (version {}): {}{}\n", m.source, m.version,
            m.transactional ? "one transaction" : "statement by statement",
            m.resume_at ? fmt::format(", resuming at statement {}", *m.resume_at + 1) : "");
        for (const auto& st : m.statements) {
            std::cout << fmt::format("  line {:>4}  {:<14} lock_timeout {:>6} ms  {}\n", st.line,
                                     st.in_transaction ? "in transaction" : "alone",
                                     st.lock_timeout.count(), st.text);
        }
        print_findings(m.findings, "  ");
    }
    return code;
}

void add_migrate_lint(CLI::App& app, int& code) {
    auto& migrate = subcommand_group(app, "migrate", "Versioned schema migrations");
    auto c = std::make_shared<lint_command>();

    auto* l = migrate.add_subcommand(
        "lint",
        "Lint the migrations up would apply against the live catalog and server "
        "version. Exit 3 when a finding is not acknowledged (-- pgkit:allow RULE REASON).");
    add_migrate_options(*l, c->args);
    l->add_option("--to", c->to, "the last version up would apply (default: all)");
    l->callback([c, &code] { code = lint(*c); });

    auto* p = migrate.add_subcommand(
        "plan",
        "The dry run of up: each statement, in a transaction or alone, its "
        "lock_timeout, and the lint findings. Writes nothing. Exit 3 as lint does.");
    add_migrate_options(*p, c->args);
    p->add_option("--to", c->to, "the last version to plan (default: all)");
    p->callback([c, &code] { code = plan(*c); });
}

const command_registration registration{&add_migrate_lint};

}  // namespace

}  // namespace pgkit::cli
