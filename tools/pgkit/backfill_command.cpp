// `pgkit backfill status [NAME] | pause NAME | resume NAME | cancel NAME | reset NAME`: the
// backfill API (pgkit/backfill.hpp) on the runs table of --runs-schema, from any process.
// docs/backfill.md, "The pgkit command".
#include "pgkit/backfill.hpp"

#include "database_command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace pgkit::cli {

namespace {

struct backfill_args {
    database_args db;
    std::string runs_schema;
    std::string name;
};

void add_backfill_options(CLI::App& cmd, backfill_args& args, bool name_required) {
    add_database_options(cmd, args.db);
    cmd.add_option("--runs-schema", args.runs_schema,
                   "the schema of the runs table pgkit_backfill_runs (default: current_schema())");
    auto* name = cmd.add_option("name", args.name, "the run's name");
    if (name_required) {
        name->required();
    }
}

std::string runner_text(const backfill_state& s) {
    if (s.runner_pid) {
        return fmt::format("pid {}", *s.runner_pid);
    }
    if (s.lease_live) {
        return "lease";
    }
    return "-";
}

void write_state(json_writer& out, const backfill_state& s) {
    out.begin_object()
        .key("name")
        .value(s.name)
        .key("status")
        .value(to_string(s.status))
        .key("table")
        .value(s.table)
        .key("key")
        .value(s.key)
        .key("rows_done")
        .value(s.rows_done)
        .key("batches")
        .value(s.batches)
        .key("last_key")
        .value(s.last_key)
        .key("last_batch_size")
        .value(s.last_batch_size)
        .key("busy_ms")
        .value(static_cast<std::int64_t>(s.busy.count()));
    const std::pair<const char*, const std::optional<std::chrono::system_clock::time_point>*>
        times[] = {{"started_at", &s.started_at},
                   {"updated_at", &s.updated_at},
                   {"finished_at", &s.finished_at},
                   {"lease_expires_at", &s.lease_expires_at}};
    for (const auto& [key, time] : times) {
        out.key(key);
        if (*time) {
            out.value(iso_time(**time));
        } else {
            out.null();
        }
    }
    out.key("last_error")
        .value(s.last_error)
        .key("runner_pid")
        .value(s.runner_pid)
        .key("lease_live")
        .value(s.lease_live)
        .end_object();
}

int status(const backfill_args& args) {
    const std::string_view command = "backfill status";
    auto database = open_database(args.db, "pgkit backfill");
    if (!database) {
        return report_failure(args.db, command, database.error());
    }
    result<std::vector<backfill_state>> runs = std::vector<backfill_state>{};
    if (args.name.empty()) {
        runs = list_backfills(**database, args.runs_schema);
    } else {
        auto one = inspect_backfill(**database, {args.name, args.runs_schema});
        if (one) {
            runs->push_back(std::move(*one));
        } else {
            runs = tl::unexpected(one.error());
        }
    }
    if (!runs) {
        return report_failure(args.db, command, runs.error());
    }
    const bool problem = std::any_of(runs->begin(), runs->end(), [](const backfill_state& s) {
        return s.status == backfill_status::failed;
    });
    const int code = problem ? findings : success;
    if (args.db.json) {
        json_writer out = begin_report(command, true, code);
        out.key("runs").begin_array();
        for (const auto& s : *runs) {
            write_state(out, s);
        }
        out.end_array().end_object();
        std::cout << out.str();
        return code;
    }
    if (runs->empty()) {
        std::cout << "no backfill runs\n";
        return code;
    }
    std::cout << fmt::format("{:<32} {:<11} {:>12} {:>8}  {:<20} {:<9} {}\n", "name", "status",
                             "rows_done", "batches", "updated_at", "runner", "last_key / error");
    for (const auto& s : *runs) {
        std::string last =
            s.last_key.empty() ? "-" : fmt::format("({})", fmt::join(s.last_key, ", "));
        if (!s.last_error.empty()) {
            last += " " + s.last_error;
        }
        std::cout << fmt::format("{:<32} {:<11} {:>12} {:>8}  {:<20} {:<9} {}\n", s.name,
                                 to_string(s.status), s.rows_done, s.batches,
                                 s.updated_at ? iso_time(*s.updated_at) : std::string{"-"},
                                 runner_text(s), last);
    }
    return code;
}

/// pause, resume, cancel, reset: one call on one run.
template <class Call>
int control(const backfill_args& args, std::string_view verb, Call&& call) {
    const std::string command = fmt::format("backfill {}", verb);
    auto database = open_database(args.db, "pgkit backfill");
    if (!database) {
        return report_failure(args.db, command, database.error());
    }
    result<std::string> done = call(**database, backfill_id{args.name, args.runs_schema});
    if (!done) {
        return report_failure(args.db, command, done.error());
    }
    if (args.db.json) {
        json_writer out = begin_report(command, true, success);
        out.key("name").value(args.name).key("result").value(*done).end_object();
        std::cout << out.str();
    } else {
        std::cout << fmt::format("{}: {}\n", args.name, *done);
    }
    return success;
}

void add_backfill(CLI::App& app, int& code) {
    auto& group = subcommand_group(
        app, "backfill",
        "Inspect and control batched backfills (run_backfill) from any process "
        "(docs/backfill.md). Exit codes: 0 success, 1 failure (server), 2 bad input (options, "
        "no such run), 3 findings (status shows a failed run).");
    auto args = std::make_shared<backfill_args>();

    auto* st = group.add_subcommand(
        "status",
        "The runs of the runs table (or the run NAME): status, rows, runner. Exit 3 "
        "when one failed.");
    add_backfill_options(*st, *args, false);
    st->callback([args, &code] { code = status(*args); });

    auto* pause = group.add_subcommand(
        "pause",
        "Pause run NAME: its runner stops after its current batch; later runs return "
        "paused until resumed.");
    add_backfill_options(*pause, *args, true);
    pause->callback([args, &code] {
        code = control(*args, "pause", [](pool& p, const backfill_id& id) -> result<std::string> {
            return pause_backfill(p, id).map([] { return std::string{"paused"}; });
        });
    });

    auto* resume = group.add_subcommand("resume",
                                        "Mark paused run NAME running again (run_backfill then "
                                        "resumes it from its cursor).");
    add_backfill_options(*resume, *args, true);
    resume->callback([args, &code] {
        code = control(*args, "resume", [](pool& p, const backfill_id& id) -> result<std::string> {
            return resume_backfill(p, id).map([] { return std::string{"running"}; });
        });
    });

    auto* cancel = group.add_subcommand(
        "cancel",
        "Cancel run NAME: its runner stops after its current batch with status "
        "cancelled (a later run resumes it from its cursor).");
    add_backfill_options(*cancel, *args, true);
    cancel->callback([args, &code] {
        code = control(*args, "cancel", [](pool& p, const backfill_id& id) -> result<std::string> {
            return cancel_backfill(p, id).map([] { return std::string{"cancelled"}; });
        });
    });

    auto* reset = group.add_subcommand(
        "reset",
        "Forget run NAME, so the next run starts from the first key (refused while a "
        "runner holds it).");
    add_backfill_options(*reset, *args, true);
    reset->callback([args, &code] {
        code = control(*args, "reset", [](pool& p, const backfill_id& id) -> result<std::string> {
            return reset_backfill(p, id).map([](bool deleted) {
                return std::string{deleted ? "reset" : "no such run (nothing to reset)"};
            });
        });
    });
}

const command_registration registration{&add_backfill};

}  // namespace

}  // namespace pgkit::cli
