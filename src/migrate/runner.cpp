// The migration runner: one runner at a time per history table (the runner lock, polled outside
// any transaction), the history checks before anything is applied, and each migration in its
// own transaction, or statement by statement with its progress recorded when a statement cannot
// run in a transaction. docs/migrations.md describes what this guarantees.

#include "migrate/runner.hpp"

#include "pgkit/migrations.hpp"
#include "pgkit/pool.hpp"

#include "backfill/runner_lock.hpp"
#include "migrate/history.hpp"
#include "migrate/lock_discipline.hpp"
#include "migrate/pending.hpp"
#include "migrate/plan_table.hpp"
#include "migrate/statements.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>
#include <thread>

namespace pgkit {
namespace {

namespace dm = detail::migrate;
using detail::runner_lock;
using detail::runs_table;
using clock_type = std::chrono::steady_clock;
using dm::check_history;
using dm::check_options;
using dm::checked;
using dm::find;
using dm::leave_plans_out;
using dm::refuse;

/// What the migrations are, for a message about all of them.
std::string sources_text(const std::vector<migration>& all) {
    if (all.empty()) {
        return "no migrations";
    }
    if (all.size() == 1) {
        return all.front().source;
    }
    return fmt::format("{} migrations, {} to {}", all.size(), all.front().source,
                       all.back().source);
}

/// A session that runs migrations: the leased connection, the history table, the runner lock.
class session {
  public:
    session(pool& pool, const migrate_options& options) : pool_(pool), options_(options) {}

    /// Leases a connection and resolves (and with `lock`, creates and locks) the history.
    result<void> open(const std::vector<migration>& all, bool lock) {
        auto leased = pool_.acquire();
        if (!leased) {
            return tl::unexpected(error{leased.error()}.with_context(
                fmt::format("migrations ({}): nothing was applied", sources_text(all))));
        }
        holder_.emplace(std::move(*leased));
        auto home = dm::locate_history(conn(), options_.history_schema);
        if (!home) {
            return tl::unexpected(home.error());
        }
        home_ = std::move(*home);
        if (!lock) {
            return {};
        }
        if (!home_.exists) {
            if (auto created = dm::create_history(conn(), home_); !created) {
                return created;
            }
        }
        return take_lock();
    }

    connection& conn() { return **holder_; }
    const runs_table& home() const { return home_; }
    const migrate_options& options() const { return options_; }
    runner_lock* lock() { return lock_ ? &*lock_ : nullptr; }
    pool& owner() { return pool_; }

    /// The watch on this session's blockers, started on first use.
    dm::blocker_watch& watch() {
        if (!watch_) {
            const auto every = std::clamp(options_.lock_timeout / 4, std::chrono::milliseconds{10},
                                          std::chrono::milliseconds{100});
            watch_ = std::make_unique<dm::blocker_watch>(pool_.options().connection,
                                                         conn().backend_pid(), every);
        }
        return *watch_;
    }

  private:
    /// Polls the runner lock, outside any transaction, until it is taken or runner_lock_wait
    /// has passed.
    result<void> take_lock() {
        const auto deadline = clock_type::now() + options_.runner_lock_wait;
        const auto mode = options_.runner_lock == migration_runner_lock::lease
                              ? runner_lock::kind::lease
                              : runner_lock::kind::advisory;
        while (true) {
            auto taken =
                runner_lock::try_acquire(*holder_, home_, dm::history_table_name,
                                         "not running migrations", mode, options_.lease_duration);
            if (taken) {
                lock_.emplace(std::move(*taken));
                return {};
            }
            if (taken.error().code() != errc::already_running ||
                clock_type::now() + options_.runner_lock_poll > deadline) {
                return tl::unexpected(taken.error());
            }
            std::this_thread::sleep_for(options_.runner_lock_poll);
        }
    }

    pool& pool_;
    const migrate_options& options_;
    std::optional<lease> holder_;
    runs_table home_;
    std::optional<runner_lock> lock_;
    std::unique_ptr<dm::blocker_watch> watch_;
};

error in_migration(error e, const migration& m, std::string_view what) {
    return std::move(e.with_context(fmt::format("{} (version {}){}", m.source, m.version, what)));
}

result<void> run_sql(connection& conn, std::string_view sql) {
    auto r = conn.execute_script(sql);
    if (!r) {
        return tl::unexpected(r.error());
    }
    return {};
}

/// Runs `attempt` until it succeeds, fails with something other than a lock timeout, or the
/// retry policy's attempts are spent; the last lock timeout names the blockers.
template <class F>
result<void> with_lock_retries(session& s, F&& attempt) {
    const retry_policy& policy = s.options().retry;
    for (std::uint32_t n = 1;; ++n) {
        s.watch().reset();
        auto outcome = attempt();
        if (outcome || outcome.error().code() != errc::lock_timeout) {
            return outcome;
        }
        if (n >= policy.max_attempts) {
            error e = outcome.error();
            e.with_context(fmt::format("gave up after {} attempt{} ({})", n, n == 1 ? "" : "s",
                                       dm::describe_blockers(s.watch().seen())));
            return tl::unexpected(std::move(e));
        }
        std::this_thread::sleep_for(policy.backoff(n));
        if (auto* lock = s.lock(); lock != nullptr) {
            if (auto renewed = lock->renew(); !renewed && lock->lost()) {
                return renewed;
            }
        }
    }
}

/// VERIFY: each statement must give a first value that is not false, NULL or 0.
result<void> run_verify(connection& conn, const std::vector<dm::section_statement>& verify) {
    for (std::size_t i = 0; i < verify.size(); ++i) {
        auto r = conn.execute_script(verify[i].text);
        if (!r) {
            return tl::unexpected(
                error{r.error()}.with_context(fmt::format("VERIFY statement {}", i + 1)));
        }
        std::optional<std::string> value;
        if (!r->empty()) {
            auto got = (*r)[0].get<std::optional<std::string>>(0);
            if (got) {
                value = *got;
            }
        }
        if (!value || *value == "f" || *value == "false" || *value == "0") {
            return make_error(
                errc::check_violation,
                fmt::format("VERIFY statement {} (line {} of the section) gave {}", i + 1,
                            verify[i].line, value ? *value : std::string{"no value"}));
        }
    }
    return {};
}

/// Drops what a failed CREATE INDEX CONCURRENTLY left: an index of that name that is invalid.
/// True when the index exists and is valid.
result<bool> settle_concurrent_index(connection& conn, const dm::section_statement& st) {
    if (st.concurrent_index.empty()) {
        return false;
    }
    auto valid = conn.execute(
        "SELECT i.indisvalid FROM pg_catalog.pg_index i WHERE i.indexrelid = to_regclass($1)",
        st.concurrent_index);
    if (!valid) {
        return tl::unexpected(valid.error());
    }
    if (valid->empty()) {
        return false;
    }
    auto is_valid = (*valid)[0].get<bool>(0);
    if (!is_valid) {
        return tl::unexpected(is_valid.error());
    }
    if (*is_valid) {
        return true;
    }
    // The name is SQL the migration's author wrote (as written in their statement).
    if (auto dropped =
            run_sql(conn, fmt::format("DROP INDEX CONCURRENTLY IF EXISTS {}", st.concurrent_index));
        !dropped) {
        return tl::unexpected(dropped.error());
    }
    return false;
}

/// One statement that cannot run in a transaction block: alone, in autocommit, under a session
/// lock_timeout reset right after it.
result<void> run_alone(session& s, const dm::section_statement& st) {
    connection& conn = s.conn();
    return with_lock_retries(s, [&]() -> result<void> {
        if (auto settled = settle_concurrent_index(conn, st); !settled) {
            return tl::unexpected(settled.error());
        }
        // Behind a pooler in transaction mode a session setting cannot be scoped to this
        // statement: the role's lock_timeout applies (docs/migrations.md).
        const bool session_settings =
            s.owner().options().connection.pooler != pooler_mode::transaction;
        const auto timeout =
            st.long_timeout ? s.options().long_lock_timeout : s.options().lock_timeout;
        if (session_settings) {
            if (auto set = run_sql(conn, dm::set_lock_timeout_sql(timeout, false)); !set) {
                return set;
            }
        }
        auto ran = run_sql(conn, st.text);
        auto reset = session_settings ? run_sql(conn, "RESET lock_timeout") : result<void>{};
        if (!ran) {
            return ran;
        }
        return reset;
    });
}

/// Statements inside the transaction that is open on the session: the short lock_timeout, and
/// the long one around statements that wait for older transactions.
result<void> run_in_transaction(session& s,
                                const std::vector<dm::section_statement>& statements,
                                std::size_t from,
                                std::size_t to) {
    connection& conn = s.conn();
    for (std::size_t i = from; i < to; ++i) {
        const auto& st = statements[i];
        if (st.long_timeout) {
            if (auto set =
                    run_sql(conn, dm::set_lock_timeout_sql(s.options().long_lock_timeout, true));
                !set) {
                return set;
            }
        }
        if (auto ran = run_sql(conn, st.text); !ran) {
            return tl::unexpected(error{ran.error()}.with_context(
                fmt::format("statement {} (line {} of the section)", i + 1, st.line)));
        }
        if (st.long_timeout) {
            if (auto set = run_sql(conn, dm::set_lock_timeout_sql(s.options().lock_timeout, true));
                !set) {
                return set;
            }
        }
    }
    return {};
}

/// BEGIN, SET LOCAL lock_timeout, `body`, COMMIT; ROLLBACK when anything fails.
template <class F>
result<void> in_transaction(session& s, F&& body) {
    connection& conn = s.conn();
    auto outcome =
        run_sql(conn, "BEGIN")
            .and_then([&] {
                return run_sql(conn, dm::set_lock_timeout_sql(s.options().lock_timeout, true));
            })
            .and_then([&] { return body(); })
            .and_then([&] { return run_sql(conn, "COMMIT"); });
    if (!outcome && conn.status() != transaction_status::idle) {
        (void)run_sql(conn, "ROLLBACK");
    }
    return outcome;
}

bool any_alone(const std::vector<dm::section_statement>& statements) {
    return std::any_of(statements.begin(), statements.end(), [](const auto& st) {
        return st.kind == dm::statement_class::non_transactional;
    });
}

/// Runs a section's statements starting at `from`. Transactional sections run whole in one
/// transaction together with `finish` (the history write) and the VERIFY statements; others
/// statement by statement, the history row's next_statement moved on after each.
template <class Finish>
result<void> run_section(session& s,
                         const migration& m,
                         const std::vector<dm::section_statement>& statements,
                         const std::vector<dm::section_statement>& verify,
                         std::size_t from,
                         std::string_view state,
                         Finish&& finish) {
    connection& conn = s.conn();
    const auto& home = s.home();
    if (!any_alone(statements)) {
        return with_lock_retries(s, [&] {
            return in_transaction(s, [&]() -> result<void> {
                if (auto ran = run_in_transaction(s, statements, 0, statements.size()); !ran) {
                    return ran;
                }
                if (auto checked = run_verify(conn, verify); !checked) {
                    return checked;
                }
                return finish();
            });
        });
    }
    const bool resuming = from > 0;
    for (std::size_t i = from; i < statements.size(); ++i) {
        const auto& st = statements[i];
        const auto next = static_cast<std::int32_t>(i + 1);
        result<void> ran;
        if (st.kind == dm::statement_class::non_transactional) {
            // Resuming at a concurrent build that completed before its progress was recorded:
            // its index is there and valid.
            if (resuming && i == from && !st.concurrent_index.empty()) {
                auto settled = settle_concurrent_index(conn, st);
                if (!settled) {
                    ran = tl::unexpected(settled.error());
                } else if (*settled) {
                    ran = dm::set_progress(conn, home, m.version, state, next);
                    if (!ran) {
                        return ran;
                    }
                    continue;
                }
            }
            if (ran) {
                ran = run_alone(s, st);
            }
            if (ran) {
                ran = dm::set_progress(conn, home, m.version, state, next);
            }
        } else {
            ran = with_lock_retries(s, [&] {
                return in_transaction(s, [&]() -> result<void> {
                    if (auto r = run_in_transaction(s, statements, i, i + 1); !r) {
                        return r;
                    }
                    return dm::set_progress(conn, home, m.version, state, next);
                });
            });
        }
        if (!ran) {
            error e = ran.error();
            if (st.kind == dm::statement_class::non_transactional) {
                e.with_context(
                    fmt::format("statement {} (line {} of the section)", i + 1, st.line));
            }
            e.with_context(
                fmt::format("run statement by statement; the history records that the "
                            "next run resumes at statement {}",
                            i + 1));
            (void)dm::record_error(conn, home, m.version, e.message());
            return tl::unexpected(std::move(e));
        }
        if (auto* lock = s.lock(); lock != nullptr) {
            if (auto renewed = lock->renew(); !renewed) {
                return renewed;
            }
        }
    }
    if (auto checked = run_verify(conn, verify); !checked) {
        (void)dm::record_error(conn, home, m.version, checked.error().message());
        return checked;
    }
    return finish();
}

result<std::vector<dm::section_statement>> statements_of(const migration& m,
                                                         std::string_view section,
                                                         std::string_view text,
                                                         int server_version) {
    auto split = dm::split_section(text, server_version);
    if (!split) {
        return make_error(errc::migration_source_invalid,
                          fmt::format("{}: line {} of its {} section: {}", m.source,
                                      split.error().line, section, split.error().reason));
    }
    return std::move(*split);
}

result<void> apply(session& s, const migration& m, const dm::history_row* partial) {
    connection& conn = s.conn();
    const auto started = clock_type::now();
    auto up = statements_of(m, "UP", m.up, conn.server_version());
    auto verify = statements_of(m, "VERIFY", m.verify, conn.server_version());
    if (!up || !verify) {
        return tl::unexpected(up ? verify.error() : up.error());
    }
    const auto elapsed_ms = [&] {
        return static_cast<std::int64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started)
                .count());
    };
    std::size_t from = 0;
    if (any_alone(*up)) {
        if (partial != nullptr) {
            from = static_cast<std::size_t>(std::max(partial->next_statement, 0));
        } else if (auto inserted = dm::insert_row(conn, s.home(), m, "partial", std::nullopt);
                   !inserted) {
            return inserted;
        }
        auto ran = run_section(s, m, *up, *verify, from, "partial", [&] {
            return dm::mark_applied(conn, s.home(), m.version, elapsed_ms());
        });
        if (!ran) {
            return tl::unexpected(in_migration(ran.error(), m, ": UP"));
        }
        return {};
    }
    auto ran = run_section(s, m, *up, *verify, 0, "applied", [&] {
        return dm::insert_row(conn, s.home(), m, "applied", elapsed_ms());
    });
    if (!ran) {
        return tl::unexpected(
            in_migration(ran.error(), m, ": UP (rolled back: nothing of it was applied)"));
    }
    return {};
}

result<void> revert(session& s, const migration& m, const dm::history_row& row) {
    connection& conn = s.conn();
    auto down = statements_of(m, "DOWN", m.down, conn.server_version());
    if (!down) {
        return tl::unexpected(down.error());
    }
    const std::vector<dm::section_statement> no_verify;
    const auto forget = [&] { return dm::delete_row(conn, s.home(), m.version); };
    if (any_alone(*down)) {
        std::size_t from = 0;
        if (row.state == "reverting") {
            from = static_cast<std::size_t>(std::max(row.next_statement, 0));
        } else if (auto marked = dm::set_progress(conn, s.home(), m.version, "reverting", 0);
                   !marked) {
            return marked;
        }
        auto ran = run_section(s, m, *down, no_verify, from, "reverting", forget);
        if (!ran) {
            return tl::unexpected(in_migration(ran.error(), m, ": DOWN"));
        }
        return {};
    }
    auto ran = run_section(s, m, *down, no_verify, 0, "applied", forget);
    if (!ran) {
        return tl::unexpected(
            in_migration(ran.error(), m, ": DOWN (rolled back: nothing of it was reverted)"));
    }
    return {};
}

/// What migrate_up and migrate_down start with: the checked migrations, a session holding the
/// runner lock, and the history, checked against the migrations.
struct prepared_run {
    std::vector<migration> all;
    std::unique_ptr<session> runner;
    std::vector<dm::history_row> history;
};

/// The checked migrations, a session (holding the runner lock when `lock`), and the history as
/// read, both without the versions of recorded plans; what the calls that only read (status,
/// verify) start with too.
result<prepared_run> open_history(pool& pool,
                                  std::span<const migration> migrations,
                                  const migrate_options& options,
                                  bool lock) {
    prepared_run run;
    auto all = checked(migrations);
    if (!all) {
        return tl::unexpected(all.error());
    }
    run.all = std::move(*all);
    run.runner = std::make_unique<session>(pool, options);
    if (auto opened = run.runner->open(run.all, lock); !opened) {
        return tl::unexpected(opened.error());
    }
    auto history = dm::read_history(run.runner->conn(), run.runner->home());
    if (!history) {
        return tl::unexpected(history.error());
    }
    run.history = std::move(*history);
    if (auto left = leave_plans_out(run.runner->conn(), run.runner->home(), run.all, run.history);
        !left) {
        return tl::unexpected(left.error());
    }
    return run;
}

result<prepared_run> prepare_run(pool& pool,
                                 std::span<const migration> migrations,
                                 const migrate_options& options) {
    if (auto ok = check_options(options); !ok) {
        return tl::unexpected(ok.error());
    }
    auto run = open_history(pool, migrations, options, true);
    if (!run) {
        return run;
    }
    if (auto ok = check_history(run->all, run->history, run->runner->home()); !ok) {
        return tl::unexpected(ok.error());
    }
    return run;
}

/// Runs `run` (a migration's UP or DOWN), telling options.on_progress when it starts and ends.
template <class F>
result<void> reported(const migrate_options& options, const migration& m, bool up, F&& run) {
    if (!options.on_progress) {
        return run();
    }
    migration_progress event{.what = migration_progress::step::started,
                             .up = up,
                             .version = m.version,
                             .name = m.name,
                             .source = m.source};
    options.on_progress(event);
    const auto started = clock_type::now();
    auto outcome = run();
    event.what = outcome ? migration_progress::step::finished : migration_progress::step::failed;
    event.elapsed =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - started);
    options.on_progress(event);
    return outcome;
}

/// migrate_up once the runner lock is held and the history checked.
result<migrate_result> apply_pending(session& s,
                                     const std::vector<migration>& all,
                                     const std::vector<dm::history_row>& history,
                                     const migrate_options& options,
                                     std::optional<std::int64_t> to_version) {
    auto pending = dm::select_pending(all, history, options, to_version);
    if (!pending) {
        return tl::unexpected(pending.error());
    }
    migrate_result done;
    for (const dm::pending_migration& p : *pending) {
        if (auto ok = reported(options, *p.m, true, [&] { return apply(s, *p.m, p.partial); });
            !ok) {
            return tl::unexpected(ok.error());
        }
        done.applied.push_back(p.m->version);
    }
    return done;
}

/// migrate_down once the runner lock is held and the history checked.
result<migrate_result> revert_above(session& s,
                                    const std::vector<migration>& all,
                                    const std::vector<dm::history_row>& history,
                                    std::int64_t to_version) {
    std::vector<const dm::history_row*> to_revert;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
        if (it->version <= to_version) {
            break;
        }
        const migration* m = find(all, it->version);
        if (it->state == "partial") {
            return refuse(
                fmt::format("{} (version {}) is partly applied: finish it with "
                            "migrate_up first; nothing was reverted",
                            m->source, m->version));
        }
        if (m->down.empty()) {
            return refuse(
                fmt::format("{} (version {}) has no DOWN section, so it cannot be "
                            "reverted; nothing was reverted",
                            m->source, m->version));
        }
        to_revert.push_back(&*it);
    }
    migrate_result done;
    for (const auto* row : to_revert) {
        const migration& m = *find(all, row->version);
        if (auto ok = reported(s.options(), m, false, [&] { return revert(s, m, *row); }); !ok) {
            return tl::unexpected(ok.error());
        }
        done.reverted.push_back(row->version);
    }
    return done;
}

}  // namespace

std::string_view to_string(migration_state state) noexcept {
    switch (state) {
        case migration_state::pending:
            return "pending";
        case migration_state::applied:
            return "applied";
        case migration_state::changed:
            return "changed";
        case migration_state::partial:
            return "partial";
        case migration_state::reverting:
            return "reverting";
        case migration_state::missing:
            return "missing";
    }
    return "unknown";
}

result<migrate_result> migrate_up(pool& pool,
                                  std::span<const migration> migrations,
                                  const migrate_options& options,
                                  std::optional<std::int64_t> to_version) {
    auto prepared = prepare_run(pool, migrations, options);
    if (!prepared) {
        return tl::unexpected(prepared.error());
    }
    return apply_pending(*prepared->runner, prepared->all, prepared->history, options, to_version);
}

result<migrate_result> migrate_down(pool& pool,
                                    std::span<const migration> migrations,
                                    std::int64_t to_version,
                                    const migrate_options& options) {
    auto prepared = prepare_run(pool, migrations, options);
    if (!prepared) {
        return tl::unexpected(prepared.error());
    }
    return revert_above(*prepared->runner, prepared->all, prepared->history, to_version);
}

result<std::vector<migration_status>> migrations_status(pool& pool,
                                                        std::span<const migration> migrations,
                                                        const migrate_options& options) {
    auto read = open_history(pool, migrations, options, false);
    if (!read) {
        return tl::unexpected(read.error());
    }
    const std::vector<migration>& all = read->all;
    std::map<std::int64_t, migration_status> by_version;
    for (const migration& m : all) {
        migration_status& st = by_version[m.version];
        st.version = m.version;
        st.name = m.name;
        st.source = m.source;
    }
    for (const auto& row : read->history) {
        migration_status& st = by_version[row.version];
        const migration* m = find(all, row.version);
        st.version = row.version;
        st.name = row.name;
        st.applied_at = row.applied_at;
        st.duration_ms = row.duration_ms;
        st.applied_by = row.applied_by;
        if (m == nullptr) {
            st.state = migration_state::missing;
        } else if (row.state == "partial" || row.state == "reverting") {
            st.state =
                row.state == "partial" ? migration_state::partial : migration_state::reverting;
            st.next_statement = row.next_statement;
        } else {
            st.state = migration_checksum(*m) == row.checksum ? migration_state::applied
                                                              : migration_state::changed;
        }
    }
    std::vector<migration_status> out;
    out.reserve(by_version.size());
    for (auto& [version, st] : by_version) {
        out.push_back(std::move(st));
    }
    return out;
}

result<std::vector<migration_verification>> verify_migrations(pool& pool,
                                                              std::span<const migration> migrations,
                                                              const migrate_options& options) {
    auto read = open_history(pool, migrations, options, false);
    if (!read) {
        return tl::unexpected(read.error());
    }
    const std::vector<migration>& all = read->all;
    connection& conn = read->runner->conn();
    std::vector<migration_verification> out;
    for (const auto& row : read->history) {
        const migration* m = find(all, row.version);
        if (m == nullptr) {
            continue;
        }
        migration_verification& v = out.emplace_back();
        v.version = m->version;
        v.name = m->name;
        v.source = m->source;
        if (row.state != "applied") {
            v.message = fmt::format("{} (statement {} is next): finish it first",
                                    row.state == "partial" ? "partly applied" : "being reverted",
                                    row.next_statement + 1);
            continue;
        }
        if (migration_checksum(*m) != row.checksum) {
            v.message = "changed since it was applied (checksum): restore it or repair it";
            continue;
        }
        auto verify = statements_of(*m, "VERIFY", m->verify, conn.server_version());
        if (!verify) {
            return tl::unexpected(verify.error());
        }
        if (verify->empty()) {
            v.passed = true;
            v.message = "no VERIFY section";
            continue;
        }
        // Read-only and rolled back: VERIFY checks, it never changes anything.
        auto ran =
            run_sql(conn, "BEGIN READ ONLY").and_then([&] { return run_verify(conn, *verify); });
        if (conn.status() != transaction_status::idle) {
            if (auto rolled = run_sql(conn, "ROLLBACK"); !rolled) {
                return tl::unexpected(rolled.error());
            }
        }
        v.passed = ran.has_value();
        if (!ran) {
            v.message = ran.error().message();
        }
    }
    return out;
}

result<void> repair_migration(pool& pool,
                              std::span<const migration> migrations,
                              std::int64_t version,
                              const migrate_options& options) {
    if (auto ok = check_options(options); !ok) {
        return ok;
    }
    auto all = checked(migrations);
    if (!all) {
        return tl::unexpected(all.error());
    }
    const migration* m = find(*all, version);
    if (m == nullptr) {
        return refuse(fmt::format("repair: no migration has version {}", version));
    }
    session s{pool, options};
    if (auto opened = s.open(*all, true); !opened) {
        return opened;
    }
    auto updated = dm::repair_row(s.conn(), s.home(), *m);
    if (!updated) {
        return tl::unexpected(updated.error());
    }
    if (*updated == 0) {
        return make_error(errc::not_found,
                          fmt::format("repair: version {} ({}) is not in the history {}", version,
                                      m->source, s.home().qualified));
    }
    return {};
}

namespace detail::migrate {

result<bool> apply_one(pool& pool,
                       const migration& m,
                       const migrate_options& options,
                       const before_apply& before) {
    if (auto ok = check_options(options); !ok) {
        return tl::unexpected(ok.error());
    }
    auto all = checked(std::span<const migration>{&m, 1});
    if (!all) {
        return tl::unexpected(all.error());
    }
    session s{pool, options};
    if (auto opened = s.open(*all, true); !opened) {
        return tl::unexpected(opened.error());
    }
    auto history = read_history(s.conn(), s.home());
    if (!history) {
        return tl::unexpected(history.error());
    }
    const migration& one = all->front();
    auto row = std::find_if(history->begin(), history->end(),
                            [&](const history_row& r) { return r.version == one.version; });
    const history_row* partial = nullptr;
    if (row != history->end()) {
        if (migration_checksum(one) != row->checksum) {
            return dm::checksum_changed(one);
        }
        if (row->state == "reverting") {
            return refuse(
                fmt::format("{} (version {}) is being reverted (a DOWN stopped "
                            "midway); nothing was applied",
                            one.source, one.version));
        }
        partial = &*row;
    }
    if (before) {
        if (auto ok = before(s.conn(), s.home()); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    if (partial != nullptr && partial->state == "applied") {
        return false;
    }
    if (auto ok = apply(s, one, partial); !ok) {
        return tl::unexpected(ok.error());
    }
    return true;
}

result<void> verify_migration(connection& conn, const migration& m) {
    auto verify = statements_of(m, "VERIFY", m.verify, conn.server_version());
    if (!verify) {
        return tl::unexpected(verify.error());
    }
    return run_verify(conn, *verify);
}

}  // namespace detail::migrate

}  // namespace pgkit
