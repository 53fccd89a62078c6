// The migration linter: each pending migration's UP statements from its resume point, read by the
// recognizer, judged by the rules with the live catalog's facts, acknowledged by the section's
// `-- pgkit:allow <rule> <reason>` comments.

#include "migrate/lint.hpp"

#include "pgkit/connection.hpp"

#include "migrate/lint_catalog.hpp"
#include "migrate/lint_recognizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace pgkit::detail::migrate {
namespace {

/// The statement on one line, shortened.
std::string shorten(std::string_view text) {
    constexpr std::size_t limit = 120;
    std::string out;
    bool blank = false;
    for (char c : text) {
        const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        if (space) {
            blank = !out.empty();
            continue;
        }
        if (blank) {
            out.push_back(' ');
            blank = false;
        }
        out.push_back(c);
        if (out.size() >= limit) {
            out += "...";
            break;
        }
    }
    return out;
}

/// The statement an acknowledgement on section line `line` applies to: the first that starts
/// after it; up.size() when none does.
std::size_t target_of(const std::vector<section_statement>& up, std::size_t line) {
    auto it = std::find_if(up.begin(), up.end(),
                           [&](const section_statement& st) { return st.line > line; });
    return static_cast<std::size_t>(it - up.begin());
}

lint_finding finding_at(const migration& m, std::size_t line) {
    lint_finding f;
    f.version = m.version;
    f.source = m.source;
    f.section = "UP";
    f.line = file_line(m.up_line, line);
    return f;
}

}  // namespace

std::size_t file_line(std::size_t first_line, std::size_t line) noexcept {
    return first_line == 0 ? line : first_line + line - 1;
}

result<std::vector<lint_finding>> lint_migration(connection& conn,
                                                 const migration& m,
                                                 const std::vector<section_statement>& up,
                                                 std::size_t from,
                                                 lint_context& context) {
    std::vector<recognized_statement> read;
    read.reserve(up.size());
    for (const section_statement& st : up) {
        read.push_back(recognize_statement(st.text));
    }
    const bool one_transaction = std::none_of(up.begin(), up.end(), [](const auto& st) {
        return st.kind == statement_class::non_transactional;
    });
    const bool with_ddl =
        std::any_of(read.begin() + static_cast<std::ptrdiff_t>(std::min(from, read.size())),
                    read.end(), [](const recognized_statement& st) { return is_ddl(st); });
    context.begin_migration(m.version, one_transaction, with_ddl);

    std::vector<lint_finding> out;
    const std::vector<allow_comment> allows = find_allow_comments(m.up);
    for (const allow_comment& allow : allows) {
        if (target_of(up, allow.line) < from) {
            continue;  // before the resume point: linted when it ran
        }
        const bool no_reason = allow.rule.empty() || allow.reason.empty();
        if (!no_reason && find_lint_rule(allow.rule) != nullptr) {
            continue;
        }
        const lint_rule_info* rule =
            find_lint_rule(no_reason ? "allow-without-reason" : "allow-unknown-rule");
        lint_finding f = finding_at(m, allow.line);
        f.rule = std::string{rule->id};
        f.statement = shorten("-- pgkit:allow " + allow.rule + " " + allow.reason);
        f.message = std::string{rule->what} + "; instead: " + std::string{rule->alternative};
        f.version_fact = std::string{rule->version_fact};
        out.push_back(std::move(f));
    }

    for (std::size_t i = from; i < up.size(); ++i) {
        auto facts = read_statement_facts(conn, read[i], context);
        if (!facts) {
            return tl::unexpected(error{facts.error()}.with_context(
                fmt::format("lint of {} (version {}), statement {}", m.source, m.version, i + 1)));
        }
        for (rule_hit& hit : check_statement(read[i], *facts, context)) {
            lint_finding f = finding_at(m, up[i].line);
            f.rule = std::string{hit.rule};
            f.statement = shorten(up[i].text);
            f.message = std::move(hit.message);
            f.version_fact = std::string{hit.version_fact};
            for (const allow_comment& allow : allows) {
                if (allow.rule == f.rule && !allow.reason.empty() &&
                    target_of(up, allow.line) == i) {
                    f.acknowledged = true;
                    f.reason = allow.reason;
                }
            }
            out.push_back(std::move(f));
        }
        note_statement(read[i], *facts, context);
    }
    return out;
}

}  // namespace pgkit::detail::migrate

namespace pgkit {

result<std::vector<lint_finding>> lint_migrations(pool& pool,
                                                  std::span<const migration> migrations,
                                                  const migrate_options& options,
                                                  std::optional<std::int64_t> to_version) {
    auto plan = plan_migrate_up(pool, migrations, options, to_version);
    if (!plan) {
        return tl::unexpected(plan.error());
    }
    std::vector<lint_finding> out;
    for (planned_migration& m : *plan) {
        std::move(m.findings.begin(), m.findings.end(), std::back_inserter(out));
    }
    return out;
}

}  // namespace pgkit
