// `pgkit migrate status | up | down | verify | repair`: the migrations library
// (pgkit/migrations.hpp) on a directory of migration files. docs/migrations.md, "The pgkit
// command". `lint` and `plan` are in migrate_lint_command.cpp.
#include "migrate_command.hpp"

#include "pgkit/migrations.hpp"

#include "database_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgkit::cli {

void add_migrate_options(CLI::App& cmd, migrate_args& args) {
    add_database_options(cmd, args.db);
    cmd.add_option("--dir", args.dir, "the directory of migration files (NNNN_name.sql)")
        ->required();
    cmd.add_option("--history-schema", args.history_schema,
                   "the schema of the history table pgkit_migrations (default: current_schema())");
    cmd.add_option("--lock-timeout", args.lock_timeout_ms,
                   "lock_timeout of blocking DDL, in milliseconds (retried with backoff)")
        ->capture_default_str()
        ->check(CLI::Range(1, 3'600'000));
    cmd.add_flag("--require-down", args.require_down,
                 "refuse the directory when a migration has no DOWN section (exit 2)");
    cmd.add_flag("--allow-out-of-order", args.allow_out_of_order,
                 "apply a pending version lower than an applied one instead of refusing");
}

result<prepared_migrate> prepare_migrate(const migrate_args& args, std::string_view command) {
    // The files first: a malformed one is reported before anything connects.
    auto loaded = load_migrations(args.dir, {.require_down = args.require_down});
    if (!loaded) {
        return tl::unexpected(loaded.error());
    }
    prepared_migrate out;
    out.migrations = std::move(*loaded);
    out.options.history_schema = args.history_schema;
    out.options.lock_timeout = std::chrono::milliseconds{args.lock_timeout_ms};
    out.options.allow_out_of_order = args.allow_out_of_order;
    auto opened = open_database(args.db, fmt::format("pgkit {}", command));
    if (!opened) {
        return tl::unexpected(opened.error());
    }
    out.database = std::move(*opened);
    return out;
}

namespace {

struct migrate_command {
    migrate_args args;
    std::optional<std::int64_t> to;
    std::int64_t version = 0;
};

int status(const migrate_args& args) {
    auto prepared = prepare_migrate(args, "migrate status");
    if (!prepared) {
        return report_failure(args.db, "migrate status", prepared.error());
    }
    auto rows = migrations_status(*prepared->database, prepared->migrations, prepared->options);
    if (!rows) {
        return report_failure(args.db, "migrate status", rows.error());
    }
    const bool problem = std::any_of(rows->begin(), rows->end(), [](const migration_status& r) {
        return r.state != migration_state::pending && r.state != migration_state::applied;
    });
    const int code = problem ? findings : success;
    if (args.db.json) {
        json_writer out = begin_report("migrate status", true, code);
        out.key("migrations").begin_array();
        for (const auto& r : *rows) {
            out.begin_object()
                .key("version")
                .value(r.version)
                .key("name")
                .value(r.name)
                .key("state")
                .value(to_string(r.state))
                .key("applied_at");
            if (r.applied_at) {
                out.value(iso_time(*r.applied_at));
            } else {
                out.null();
            }
            out.key("duration_ms")
                .value(r.duration_ms)
                .key("applied_by")
                .value(r.applied_by)
                .key("next_statement")
                .value(r.next_statement)
                .key("source")
                .value(r.source)
                .end_object();
        }
        out.end_array().end_object();
        std::cout << out.str();
        return code;
    }
    std::cout << fmt::format("{:>14}  {:<32} {:<9} {:<20} {:>9}  {}\n", "version", "name", "state",
                             "applied_at", "duration", "by");
    for (const auto& r : *rows) {
        std::string state{to_string(r.state)};
        if (r.next_statement) {
            state += fmt::format(" (next: statement {})", *r.next_statement + 1);
        }
        std::cout << fmt::format(
            "{:>14}  {:<32} {:<9} {:<20} {:>9}  {}\n", r.version, r.name, state,
            r.applied_at ? iso_time(*r.applied_at) : std::string{"-"},
            r.duration_ms ? fmt::format("{} ms", *r.duration_ms) : std::string{"-"},
            r.applied_by.empty() ? std::string{"-"} : r.applied_by);
    }
    if (problem) {
        std::cerr << "pgkit migrate status: some migrations need attention (changed, partial, "
                     "reverting or missing)\n";
    }
    return code;
}

/// Progress on stderr, one line per migration started and finished; the versions finished.
void report_progress(migrate_options& options,
                     std::string_view command,
                     std::vector<std::int64_t>& finished) {
    options.on_progress = [command, &finished](const migration_progress& p) {
        const char* section = p.up ? "UP" : "DOWN";
        switch (p.what) {
            case migration_progress::step::started:
                std::cerr << fmt::format("pgkit {}: {} (version {}) {} started\n", command,
                                         p.source, p.version, section);
                break;
            case migration_progress::step::finished:
                finished.push_back(p.version);
                std::cerr << fmt::format("pgkit {}: {} (version {}) {} done in {} ms\n", command,
                                         p.source, p.version, section, p.elapsed.count());
                break;
            case migration_progress::step::failed:
                std::cerr << fmt::format("pgkit {}: {} (version {}) {} failed after {} ms\n",
                                         command, p.source, p.version, section, p.elapsed.count());
                break;
        }
    };
}

/// The outcome of up or down: the versions applied or reverted, and the error if one stopped it.
int report_run(const migrate_args& args,
               std::string_view command,
               std::string_view done_key,
               const std::vector<std::int64_t>& done,
               const error* failed) {
    const int code = failed != nullptr ? exit_code_for(*failed) : success;
    if (failed != nullptr) {
        std::cerr << "pgkit " << command << ": " << failed->message() << '\n';
    }
    if (args.db.json) {
        json_writer out = begin_report(command, failed == nullptr, code);
        out.key(done_key).begin_array();
        for (auto v : done) {
            out.value(v);
        }
        out.end_array();
        if (failed != nullptr) {
            write_error(out, *failed);
        }
        out.end_object();
        std::cout << out.str();
    } else if (failed == nullptr) {
        std::string versions;
        for (auto v : done) {
            versions += (versions.empty() ? "" : ", ") + std::to_string(v);
        }
        std::cout << (done.empty() ? fmt::format("nothing to do ({} none)\n", done_key)
                                   : fmt::format("{}: {}\n", done_key, versions));
    }
    return code;
}

int up(const migrate_command& c) {
    const std::string_view command = "migrate up";
    auto prepared = prepare_migrate(c.args, command);
    if (!prepared) {
        return report_failure(c.args.db, command, prepared.error());
    }
    std::vector<std::int64_t> finished;
    report_progress(prepared->options, command, finished);
    auto ran = migrate_up(*prepared->database, prepared->migrations, prepared->options, c.to);
    return report_run(c.args, command, "applied", finished, ran ? nullptr : &ran.error());
}

int down(const migrate_command& c) {
    const std::string_view command = "migrate down";
    auto prepared = prepare_migrate(c.args, command);
    if (!prepared) {
        return report_failure(c.args.db, command, prepared.error());
    }
    std::int64_t to = 0;
    if (c.to) {
        to = *c.to;
    } else {
        // Without --to: the newest migration in the history only.
        auto rows = migrations_status(*prepared->database, prepared->migrations, prepared->options);
        if (!rows) {
            return report_failure(c.args.db, command, rows.error());
        }
        std::vector<std::int64_t> in_history;
        for (const auto& r : *rows) {
            if (r.state != migration_state::pending) {
                in_history.push_back(r.version);
            }
        }
        to = in_history.size() >= 2 ? in_history[in_history.size() - 2] : 0;
    }
    std::vector<std::int64_t> finished;
    report_progress(prepared->options, command, finished);
    auto ran = migrate_down(*prepared->database, prepared->migrations, to, prepared->options);
    return report_run(c.args, command, "reverted", finished, ran ? nullptr : &ran.error());
}

int verify(const migrate_args& args) {
    const std::string_view command = "migrate verify";
    auto prepared = prepare_migrate(args, command);
    if (!prepared) {
        return report_failure(args.db, command, prepared.error());
    }
    auto checks = verify_migrations(*prepared->database, prepared->migrations, prepared->options);
    if (!checks) {
        return report_failure(args.db, command, checks.error());
    }
    const bool all_passed = std::all_of(checks->begin(), checks->end(),
                                        [](const migration_verification& v) { return v.passed; });
    const int code = all_passed ? success : findings;
    if (args.db.json) {
        json_writer out = begin_report(command, true, code);
        out.key("verifications").begin_array();
        for (const auto& v : *checks) {
            out.begin_object()
                .key("version")
                .value(v.version)
                .key("name")
                .value(v.name)
                .key("source")
                .value(v.source)
                .key("passed")
                .value(v.passed)
                .key("message")
                .value(v.message)
                .end_object();
        }
        out.end_array().end_object();
        std::cout << out.str();
        return code;
    }
    for (const auto& v : *checks) {
        std::cout << fmt::format("{} {} ({}){}{}\n", v.passed ? "pass" : "FAIL", v.version,
                                 v.source, v.message.empty() ? "" : ": ", v.message);
    }
    std::cout << fmt::format(
        "{} of {} applied migrations passed VERIFY\n",
        std::count_if(checks->begin(), checks->end(),
                      [](const migration_verification& v) { return v.passed; }),
        checks->size());
    return code;
}

int repair(const migrate_command& c) {
    const std::string_view command = "migrate repair";
    auto prepared = prepare_migrate(c.args, command);
    if (!prepared) {
        return report_failure(c.args.db, command, prepared.error());
    }
    // A version no file has is a typo: bad input (the library calls it a refusal).
    if (std::none_of(prepared->migrations.begin(), prepared->migrations.end(),
                     [&](const migration& m) { return m.version == c.version; })) {
        return report_failure(
            c.args.db, command,
            error{errc::invalid_argument,
                  fmt::format("repair: no migration in {} has version {}", c.args.dir, c.version)});
    }
    auto repaired =
        repair_migration(*prepared->database, prepared->migrations, c.version, prepared->options);
    if (!repaired) {
        return report_failure(c.args.db, command, repaired.error());
    }
    if (c.args.db.json) {
        json_writer out = begin_report(command, true, success);
        out.key("repaired").value(c.version).end_object();
        std::cout << out.str();
    } else {
        std::cout << fmt::format("version {}: the history now records its current source\n",
                                 c.version);
    }
    return success;
}

void add_migrate(CLI::App& app, int& code) {
    auto& migrate = subcommand_group(
        app, "migrate",
        "Versioned schema migrations from a directory of NNNN_name.sql files "
        "(docs/migrations.md). Exit codes: 0 success, 1 failure (server, migration), 2 bad "
        "input (options, a malformed file: the message names file and line), 3 findings (failed "
        "VERIFY, a status with changed/partial/reverting/missing migrations, lint findings).");
    auto c = std::make_shared<migrate_command>();

    auto* st = migrate.add_subcommand(
        "status",
        "Every migration and history row: version, name, state, applied_at, duration, "
        "by. Exit 3 when one is changed, partial, reverting or missing.");
    add_migrate_options(*st, c->args);
    st->callback([c, &code] { code = status(c->args); });

    auto* u = migrate.add_subcommand(
        "up", "Apply the pending migrations (up to --to), one line per migration on stderr.");
    add_migrate_options(*u, c->args);
    u->add_option("--to", c->to, "the last version to apply (default: all)");
    u->callback([c, &code] { code = up(*c); });

    auto* d = migrate.add_subcommand(
        "down",
        "Revert applied migrations above --to with their DOWN sections (default: only "
        "the newest; --to 0 reverts all).");
    add_migrate_options(*d, c->args);
    d->add_option("--to", c->to, "the version to go back to (it stays applied)")
        ->check(CLI::NonNegativeNumber);
    d->callback([c, &code] { code = down(*c); });

    auto* v = migrate.add_subcommand(
        "verify",
        "Run the applied migrations' VERIFY sections (read-only). Exit 3 when one "
        "fails.");
    add_migrate_options(*v, c->args);
    v->callback([c, &code] { code = verify(c->args); });

    auto* r = migrate.add_subcommand(
        "repair", "Accept the current source of applied migration VERSION (its checksum changed).");
    add_migrate_options(*r, c->args);
    r->add_option("version", c->version, "the migration's version")->required();
    r->callback([c, &code] { code = repair(*c); });
}

const command_registration registration{&add_migrate};

}  // namespace

}  // namespace pgkit::cli
