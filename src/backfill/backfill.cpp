// The backfill runner: validation, the runs table, the batch loop (keyset walk, cursor saved in
// the batch's own transaction), retries, adaptive sizing, throttling, pause and cancellation.
#include "pgkit/backfill.hpp"

#include "pgkit/types/array.hpp"
#include "pgkit/types/chrono.hpp"

#include "backfill/runner_lock.hpp"
#include "backfill/runs_table.hpp"
#include "sql/lexer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pgkit {

namespace {

using steady = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

/// `e` with `prefix` in front of its message; code, SQLSTATE and details kept.
error with_context(const error& e, std::string_view prefix) {
    error out{e.code(), fmt::format("{}{}", prefix, e.message())};
    out.with_sqlstate(e.sqlstate());
    out.with_location(e.schema_name(), e.table_name(), e.column_name(), e.constraint_name());
    out.with_detail(e.detail(), e.hint());
    return out;
}

tl::unexpected<error> fail_with(const error& e, std::string_view prefix) {
    return tl::unexpected(with_context(e, prefix));
}

/// The spec, checked against the catalog.
struct resolved_spec {
    std::string table_sql;  ///< quoted, schema-qualified when given
    std::string table_label;
    std::vector<std::string> key_sql;
    std::vector<std::string> key_types;
    std::vector<std::string> parameter_types;  ///< of spec.parameters, as the server deduced them
};

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) {
            out += separator;
        }
        out += parts[i];
    }
    return out;
}

/// `($first::t1, $first+1::t2)`.
std::string placeholders(const std::vector<std::string>& types, std::size_t first) {
    std::string out = "(";
    for (std::size_t i = 0; i < types.size(); ++i) {
        out += fmt::format("{}${}::{}", i > 0 ? ", " : "", first + i, types[i]);
    }
    return out + ")";
}

std::string qualified_keys(const resolved_spec& r, std::string_view alias) {
    std::string out;
    for (std::size_t i = 0; i < r.key_sql.size(); ++i) {
        out += fmt::format("{}{}.{}", i > 0 ? ", " : "", alias, r.key_sql[i]);
    }
    return out;
}

std::string key_tuple(const std::vector<std::string>& key_sql) {
    return fmt::format("({})", join(key_sql, ", "));
}

/// The UPDATE of SQL work: user parameters first, then the range's.
std::string update_sql(const backfill_spec& spec, const backfill_batch& batch) {
    std::string sql = fmt::format("UPDATE {{table}} SET {} WHERE {}", spec.set,
                                  batch.range_condition(spec.parameters.size() + 1));
    if (!spec.predicate.empty()) {
        sql += fmt::format(" AND ({})", spec.predicate);
    }
    return sql;
}

std::string render_update(const backfill_spec& spec,
                          const resolved_spec& r,
                          const backfill_batch& batch) {
    std::string sql = update_sql(spec, batch);
    sql.replace(sql.find("{table}"), 7, r.table_sql);
    return sql;
}

backfill_batch make_batch(const resolved_spec& r,
                          std::vector<std::string> after,
                          std::vector<std::string> up_to) {
    backfill_batch batch;
    batch.after = std::move(after);
    batch.up_to = std::move(up_to);
    batch.key_sql = r.key_sql;
    batch.key_types = r.key_types;
    return batch;
}

/// The checks of validate_spec. `behind_pooler`: the session is behind a transaction-mode pooler
/// and the caller has begun a transaction, so settings are SET LOCAL and the UPDATE is checked by
/// EXPLAIN instead of a named prepared statement.
result<resolved_spec> check_spec(connection& conn,
                                 const backfill_spec& spec,
                                 const backfill_options& options,
                                 bool behind_pooler) {
    auto invalid = [](std::string message) {
        return make_error(errc::invalid_argument, "backfill spec rejected: " + std::move(message));
    };
    if (spec.name.empty()) {
        return invalid("name is empty");
    }
    if (spec.key.empty()) {
        return invalid("no key columns");
    }
    if (spec.set.empty() == !spec.work) {
        return invalid("give exactly one of `set` (SQL work) and `work` (a callback)");
    }
    if (spec.work && (!spec.predicate.empty() || !spec.parameters.empty())) {
        return invalid("`predicate` and `parameters` apply to SQL work only");
    }
    if (options.min_batch_size == 0 || options.min_batch_size > options.max_batch_size) {
        return invalid("batch size bounds must satisfy 0 < min_batch_size <= max_batch_size");
    }
    if (options.target_batch_duration.count() <= 0) {
        return invalid("target_batch_duration must be positive");
    }
    if (options.contended_batch_duration.count() < 0) {
        return invalid("contended_batch_duration must be 0 (no contention sampling) or positive");
    }
    if (!(options.batch_timeout_factor == 0 ||
          (options.batch_timeout_factor >= 1 && std::isfinite(options.batch_timeout_factor)))) {
        return invalid("batch_timeout_factor must be 0 (no guard) or at least 1");
    }
    if (auto retry = options.retry.validate(); !retry) {
        return fail_with(retry.error(), "backfill options rejected: ");
    }
    if (options.lock_timeout.count() > 0) {
        // Preparing the UPDATE locks the table: never wait on it longer than a batch would.
        auto limited = conn.execute_script(fmt::format("SET {}lock_timeout = {}",
                                                       behind_pooler ? "LOCAL " : "",
                                                       options.lock_timeout.count()));
        if (!limited) {
            return fail_with(limited.error(), "backfill: ");
        }
    }
    resolved_spec r;
    auto table = connection::quote_identifier(spec.table);
    if (!table) {
        return fail_with(table.error(), "backfill spec rejected: table: ");
    }
    r.table_sql = *table;
    r.table_label = spec.table;
    if (!spec.schema.empty()) {
        auto schema = connection::quote_identifier(spec.schema);
        if (!schema) {
            return fail_with(schema.error(), "backfill spec rejected: schema: ");
        }
        r.table_sql = *schema + "." + r.table_sql;
        r.table_label = spec.schema + "." + spec.table;
    }
    auto oid = conn.execute("SELECT to_regclass($1)::oid::int8", r.table_sql)
                   .and_then(&query_result::scalar<std::optional<std::int64_t>>);
    if (!oid) {
        return fail_with(oid.error(), "backfill: ");
    }
    if (!*oid) {
        return make_error(
            errc::undefined_table,
            fmt::format("backfill spec rejected: table {} does not exist", r.table_label));
    }
    std::vector<std::int64_t> attnums;
    for (const std::string& column : spec.key) {
        auto quoted = connection::quote_identifier(column);
        if (!quoted) {
            return fail_with(quoted.error(), "backfill spec rejected: key column: ");
        }
        if (std::find(r.key_sql.begin(), r.key_sql.end(), *quoted) != r.key_sql.end()) {
            return invalid(fmt::format("key column {} appears twice", column));
        }
        auto found = conn.execute(
            "SELECT attnum::int8, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
            "WHERE attrelid = $1::int8::oid AND attname = $2 AND attnum > 0 AND NOT attisdropped",
            **oid, column);
        if (!found) {
            return fail_with(found.error(), "backfill: ");
        }
        if (found->empty()) {
            return make_error(errc::undefined_column,
                              fmt::format("backfill spec rejected: table {} has no column {}",
                                          r.table_label, column));
        }
        auto [attnum, type, not_null] = *(*found)[0].as<std::int64_t, std::string, bool>();
        if (!not_null) {
            return invalid(fmt::format(
                "key column {} is nullable (rows with a NULL key would never be visited)", column));
        }
        attnums.push_back(attnum);
        r.key_sql.push_back(*quoted);
        r.key_types.push_back(type);
    }
    auto indexed =
        conn.execute(
                "SELECT count(*) FROM pg_index WHERE indrelid = $1::int8::oid AND indisunique "
                "AND indisvalid AND indpred IS NULL AND indexprs IS NULL AND indnkeyatts = $2 "
                "AND (indkey::int2[])[0:$2 - 1] = $3::int2[]",
                **oid, static_cast<std::int32_t>(attnums.size()), attnums)
            .and_then(&query_result::scalar<std::int64_t>);
    if (!indexed) {
        return fail_with(indexed.error(), "backfill: ");
    }
    if (*indexed == 0) {
        return invalid(fmt::format(
            "no unique index or primary key on {} covers exactly the key ({}) in that order",
            r.table_label, join(spec.key, ", ")));
    }
    if (!spec.set.empty() && behind_pooler) {
        // Let the server check the SET expression and the predicate by planning the UPDATE (with
        // an empty range: NULL bounds). A named prepared statement might not be there for the
        // next statement; the parameters' types stay unknown (see plan_backfill).
        auto probe = make_batch(r, r.key_types, r.key_types);
        parameters params;
        for (const std::string& p : spec.parameters) {
            params.add(p);
        }
        for (std::size_t i = 0; i < 2 * r.key_types.size(); ++i) {
            params.add(std::optional<std::string>{});
        }
        auto explained = conn.execute_params("EXPLAIN " + render_update(spec, r, probe), params);
        if (!explained) {
            return fail_with(explained.error(),
                             "backfill spec rejected: the UPDATE does not prepare: ");
        }
    } else if (!spec.set.empty()) {
        // Let the server check the SET expression and the predicate by preparing the UPDATE.
        auto probe = make_batch(r, r.key_types, r.key_types);
        auto prepared = conn.prepare("pgkit_backfill_check", render_update(spec, r, probe));
        if (!prepared) {
            return fail_with(prepared.error(),
                             "backfill spec rejected: the UPDATE does not "
                             "prepare: ");
        }
        auto types = conn.execute(
                             "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE "
                             "name = 'pgkit_backfill_check'")
                         .and_then(&query_result::scalar<std::vector<std::string>>);
        (void)conn.execute_script("DEALLOCATE pgkit_backfill_check");
        if (!types) {
            return fail_with(types.error(), "backfill: ");
        }
        if (types->size() < spec.parameters.size()) {
            return invalid("more parameters than the SET expression and predicate use");
        }
        r.parameter_types.assign(
            types->begin(), types->begin() + static_cast<std::ptrdiff_t>(spec.parameters.size()));
    }
    return r;
}

/// Checks the spec and options against the catalog (docs/backfill.md, "Validation"). Behind a
/// transaction-mode pooler a session's SET would stay on whichever server session ran it, so the
/// checks run in one transaction there, rolled back at the end.
result<resolved_spec> validate_spec(connection& conn,
                                    const backfill_spec& spec,
                                    const backfill_options& options,
                                    bool behind_pooler) {
    if (!behind_pooler) {
        return check_spec(conn, spec, options, false);
    }
    if (auto begun = conn.execute_script("BEGIN"); !begun) {
        return fail_with(begun.error(), "backfill: ");
    }
    auto checked = check_spec(conn, spec, options, true);
    auto ended = conn.execute_script("ROLLBACK");
    if (checked && !ended) {
        return fail_with(ended.error(), "backfill: ");
    }
    return checked;
}

/// How long reset_backfill's own lease lasts (it holds it for one DELETE): should the process
/// die meanwhile, runners wait at most this long.
constexpr milliseconds reset_lease_duration{30'000};

bool behind_transaction_pooler(const pool& pool) {
    return pool.options().connection.pooler == pooler_mode::transaction;
}

/// The lock mode of a run (options.runner_lock, automatic resolved), or invalid_argument.
result<detail::runner_lock::kind> runner_lock_kind(const pool& pool,
                                                   const backfill_options& options) {
    if (options.lease_duration.count() != 0 && options.lease_duration < std::chrono::seconds{1}) {
        return make_error(errc::invalid_argument,
                          "backfill options rejected: lease_duration must be 0 (derived from "
                          "statement_timeout) or at least 1 s");
    }
    switch (options.runner_lock) {
        case backfill_runner_lock::advisory:
            if (behind_transaction_pooler(pool)) {
                return make_error(
                    errc::invalid_argument,
                    "backfill options rejected: the advisory runner lock is a session lock, "
                    "which cannot hold behind a transaction-mode pooler; use the lease mode");
            }
            return detail::runner_lock::kind::advisory;
        case backfill_runner_lock::lease:
            return detail::runner_lock::kind::lease;
        case backfill_runner_lock::automatic:
            break;
    }
    return behind_transaction_pooler(pool) ? detail::runner_lock::kind::lease
                                           : detail::runner_lock::kind::advisory;
}

/// How long a lease lasts after each renewal: options.lease_duration, or twice statement_timeout
/// and at least 30 s (10 min when statement_timeout is the session's).
milliseconds lease_duration(const backfill_options& options) {
    if (options.lease_duration.count() > 0) {
        return options.lease_duration;
    }
    if (options.statement_timeout.count() <= 0) {
        return std::chrono::minutes{10};
    }
    return std::max<milliseconds>(std::chrono::seconds{30}, 2 * options.statement_timeout);
}

/// The table's live rows as of its last VACUUM or ANALYZE (pg_class.reltuples), or the planner's
/// estimate when it has never been analysed. Not the planner's estimate first: it scales
/// reltuples by the table's current size in pages, and a backfill's own updates grow the table
/// with dead row versions (a resumed 1M-row run was estimated at 1.44M rows).
std::uint64_t planner_rows(connection& conn, const resolved_spec& r) {
    auto analysed = conn.execute(
        "SELECT reltuples::int8 FROM pg_catalog.pg_class WHERE oid = $1::regclass", r.table_sql);
    if (analysed && !analysed->empty()) {
        auto rows = (*analysed)[0].get<std::int64_t>(0);
        if (rows && *rows > 0) {
            return static_cast<std::uint64_t>(*rows);
        }
    }
    auto plan = conn.execute("EXPLAIN SELECT 1 FROM " + r.table_sql);
    if (!plan || plan->empty()) {
        return 0;
    }
    auto line = (*plan)[0].get<std::string>(0);
    if (!line) {
        return 0;
    }
    const auto at = line->find("rows=");
    if (at == std::string::npos) {
        return 0;
    }
    return std::strtoull(line->c_str() + at + 5, nullptr, 10);
}

std::string key_text(const std::vector<std::string>& key) {
    return key.empty() ? std::string{"(start)"} : fmt::format("({})", join(key, ", "));
}

/// What one batch transaction found.
enum class batch_kind { processed, finished, paused, cancelled };
struct batch_outcome {
    batch_kind kind = batch_kind::processed;
    std::uint64_t rows = 0;
    std::uint64_t rows_done = 0;
    std::uint64_t batches = 0;
    std::uint32_t blocked_sessions = 0;  ///< waiting on the batch's locks when its work ended
    std::vector<std::string> last_key;
};

/// What the cursor update returns besides the counts: the sessions waiting on this batch's locks
/// (a writer that hit one of its rows), when contention is sampled. Not-granted pg_locks rows
/// only, so pg_blocking_pids runs for waiting sessions alone.
std::string_view blocked_sessions_sql(const backfill_options& options) {
    if (options.contended_batch_duration.count() <= 0) {
        return "0::int8";
    }
    return "(SELECT count(DISTINCT pgkit_l.pid) FROM pg_catalog.pg_locks AS pgkit_l WHERE NOT "
           "pgkit_l.granted AND pg_catalog.pg_backend_pid() = ANY "
           "(pg_catalog.pg_blocking_pids(pgkit_l.pid)))::int8";
}

parameters range_parameters(const backfill_spec& spec, const backfill_batch& batch) {
    parameters params;
    for (const std::string& p : spec.parameters) {
        params.add(p);
    }
    for (const std::string& v : batch.range_values()) {
        params.add(v);
    }
    return params;
}

/// The time guard of a batch of `size` keys (0: none), see backfill_options::batch_timeout_factor.
milliseconds batch_guard(const backfill_options& options, std::size_t size) {
    if (options.batch_timeout_factor <= 0 || size <= options.min_batch_size) {
        return milliseconds{0};
    }
    const auto guard = std::max(milliseconds{50},
                                milliseconds{static_cast<std::int64_t>(std::ceil(
                                    options.batch_timeout_factor *
                                    static_cast<double>(options.target_batch_duration.count())))});
    if (options.statement_timeout.count() > 0 && options.statement_timeout <= guard) {
        return milliseconds{0};  // the caller's statement_timeout is the tighter bound
    }
    return guard;
}

/// The statement_timeout for the rest of a batch: what is left of the guard (at least 1 ms), or
/// the caller's statement_timeout when there is no guard.
milliseconds statement_limit(const backfill_options& options,
                             milliseconds guard,
                             steady::time_point started) {
    if (guard.count() == 0) {
        return options.statement_timeout;
    }
    const auto left = guard - duration_cast<milliseconds>(steady::now() - started);
    return std::max(milliseconds{1}, left);
}

/// One batch: lock the run's row, find the batch's upper key, do the work, save the cursor.
result<batch_outcome> run_batch(transaction& tx,
                                const backfill_spec& spec,
                                const resolved_spec& r,
                                const detail::runs_table& runs,
                                detail::runner_lock& lock,
                                const backfill_options& options,
                                std::size_t size,
                                steady::time_point started) {
    const milliseconds guard = batch_guard(options, size);
    // The batch's settings (transaction-local) and the lock on the run's row go in one round
    // trip, with the transaction's BEGIN: a pipeline of two statements.
    std::string settings;
    parameters values;
    if (options.lock_timeout.count() > 0) {
        settings += "pg_catalog.set_config('lock_timeout', $1, true)";
        values.add(std::to_string(options.lock_timeout.count()));
    }
    if (const auto limit = statement_limit(options, guard, started); limit.count() > 0) {
        settings += fmt::format("{}pg_catalog.set_config('statement_timeout', ${}, true)",
                                settings.empty() ? "" : ", ", values.size() + 1);
        values.add(std::to_string(limit.count()));
    }
    auto p = tx.start_pipeline();
    if (!p) {
        return tl::unexpected(p.error());
    }
    if (!settings.empty()) {
        if (auto added = p->add_cached_params("SELECT " + settings, values); !added) {
            return tl::unexpected(added.error());
        }
    }
    if (auto added =
            p->add_cached(fmt::format("SELECT status, last_key FROM {} WHERE name = $1 FOR UPDATE",
                                      runs.qualified),
                          spec.name);
        !added) {
        return tl::unexpected(added.error());
    }
    if (!settings.empty()) {
        if (auto set = p->next(); !set) {
            return tl::unexpected(set.error());
        }
    }
    auto run = p->next();
    if (auto finished = p->finish(); !finished) {
        return tl::unexpected(finished.error());
    }
    if (!run) {
        return tl::unexpected(run.error());
    }
    auto row = run->one();
    if (!row) {
        return make_error(errc::not_found,
                          fmt::format("the backfill's row in {} vanished", runs.qualified));
    }
    auto fields = row->as<std::string, std::optional<std::vector<std::string>>>();
    if (!fields) {
        return tl::unexpected(fields.error());
    }
    auto& [status, saved_key] = *fields;
    batch_outcome outcome;
    // pause_backfill and cancel_backfill, from any process: the run stops before this batch.
    if (status == "paused" || status == "cancelled") {
        outcome.kind = status == "paused" ? batch_kind::paused : batch_kind::cancelled;
        outcome.last_key = saved_key.value_or(std::vector<std::string>{});
        return outcome;
    }
    std::vector<std::string> after = saved_key.value_or(std::vector<std::string>{});

    // The batch's upper key: the size-th key after the cursor, else the last key of the table.
    const std::string keys = qualified_keys(r, "pgkit_t");
    std::string select = "SELECT ";
    for (std::size_t i = 0; i < r.key_sql.size(); ++i) {
        select += fmt::format("{}pgkit_t.{}::text", i > 0 ? ", " : "", r.key_sql[i]);
    }
    select += " FROM " + r.table_sql + " AS pgkit_t";
    parameters bound;
    if (!after.empty()) {
        select += fmt::format(" WHERE ({}) > {}", keys, placeholders(r.key_types, 1));
        for (const std::string& k : after) {
            bound.add(k);
        }
    }
    std::string descending;
    for (std::size_t i = 0; i < r.key_sql.size(); ++i) {
        descending += fmt::format("{}pgkit_t.{} DESC", i > 0 ? ", " : "", r.key_sql[i]);
    }
    parameters bound_last = bound;
    bound.add(static_cast<std::int64_t>(size - 1));
    auto upper = tx.execute_cached_params(
        fmt::format("{} ORDER BY {} OFFSET ${} LIMIT 1", select, keys, after.size() + 1), bound);
    if (!upper) {
        return tl::unexpected(upper.error());
    }
    if (upper->empty()) {
        upper =
            tx.execute_cached_params(select + " ORDER BY " + descending + " LIMIT 1", bound_last);
        if (!upper) {
            return tl::unexpected(upper.error());
        }
    }
    if (upper->empty()) {
        // Nothing after the cursor: the run is done (if this runner still holds the run).
        if (auto renewed = lock.renew(tx); !renewed) {
            return tl::unexpected(renewed.error());
        }
        auto done = tx.execute_cached(
            fmt::format("UPDATE {} SET status = 'done', finished_at = now(), updated_at = now(), "
                        "error = NULL WHERE name = $1 RETURNING rows_done, batches",
                        runs.qualified),
            spec.name);
        if (!done) {
            return tl::unexpected(done.error());
        }
        auto counts = done->one().and_then(
            [](const pgkit::row& x) { return x.as<std::int64_t, std::int64_t>(); });
        if (!counts) {
            return tl::unexpected(counts.error());
        }
        outcome.kind = batch_kind::finished;
        outcome.rows_done = static_cast<std::uint64_t>(std::get<0>(*counts));
        outcome.batches = static_cast<std::uint64_t>(std::get<1>(*counts));
        outcome.last_key = std::move(after);
        return outcome;
    }
    std::vector<std::string> up_to;
    for (std::size_t i = 0; i < r.key_sql.size(); ++i) {
        auto value = (*upper)[0].get<std::string>(i);
        if (!value) {
            return tl::unexpected(value.error());
        }
        up_to.push_back(std::move(*value));
    }
    backfill_batch batch = make_batch(r, std::move(after), std::move(up_to));
    if (guard.count() > 0) {
        // The work gets what is left of the guard (the statements above took part of it).
        auto set = tx.execute_script(fmt::format("SET LOCAL statement_timeout = {}",
                                                 statement_limit(options, guard, started).count()));
        if (!set) {
            return tl::unexpected(set.error());
        }
    }

    if (spec.work) {
        auto rows = spec.work(batch, tx);
        if (!rows) {
            return tl::unexpected(rows.error());
        }
        outcome.rows = *rows;
    } else {
        auto updated =
            tx.execute_cached_params(render_update(spec, r, batch), range_parameters(spec, batch));
        if (!updated) {
            return tl::unexpected(updated.error());
        }
        outcome.rows = updated->affected_rows();
    }

    // The cursor moves in the same transaction as the work: both commit, or neither. In lease
    // mode the lease is renewed in it too, by a statement that matches only while the lease is
    // this runner's: a runner that lost it commits nothing (the caller rolls back).
    if (auto renewed = lock.renew(tx); !renewed) {
        return tl::unexpected(renewed.error());
    }
    const auto busy = duration_cast<milliseconds>(steady::now() - started).count();
    // The contention sample rides on the cursor update: same round trip, taken after the work,
    // while the batch still holds every lock it took.
    auto saved = tx.execute_cached(
        fmt::format("UPDATE {} SET last_key = $2, rows_done = rows_done + $3, batches = batches + "
                    "1, batch_size = $4, busy_ms = busy_ms + $5, status = 'running', error = "
                    "NULL, updated_at = now() WHERE name = $1 RETURNING rows_done, batches, {}",
                    runs.qualified, blocked_sessions_sql(options)),
        spec.name, batch.up_to, static_cast<std::int64_t>(outcome.rows),
        static_cast<std::int64_t>(size), static_cast<std::int64_t>(busy));
    if (!saved) {
        return tl::unexpected(saved.error());
    }
    auto counts = saved->one().and_then(
        [](const pgkit::row& x) { return x.as<std::int64_t, std::int64_t, std::int64_t>(); });
    if (!counts) {
        return tl::unexpected(counts.error());
    }
    outcome.rows_done = static_cast<std::uint64_t>(std::get<0>(*counts));
    outcome.batches = static_cast<std::uint64_t>(std::get<1>(*counts));
    outcome.blocked_sessions =
        static_cast<std::uint32_t>(std::max<std::int64_t>(0, std::get<2>(*counts)));
    outcome.last_key = std::move(batch.up_to);
    return outcome;
}

std::optional<backfill_status> parse_status(std::string_view status) {
    for (const auto s : {backfill_status::running, backfill_status::done, backfill_status::paused,
                         backfill_status::cancelled, backfill_status::failed}) {
        if (to_string(s) == status) {
            return s;
        }
    }
    return std::nullopt;
}

/// Sleeps unless cancelled; true when cancelled.
bool sleep_unless_cancelled(const backfill_options& options, milliseconds wait) {
    if (options.cancel != nullptr) {
        return options.cancel->wait_for(wait);
    }
    backfill_cancel_token never;
    return never.wait_for(wait);
}

/// Waits between batches (a pause, the throttle, a back-off) unless cancelled; true when
/// cancelled. In lease mode a wait longer than a quarter of the lease is cut into steps with a
/// renewal between them; already_running when one finds the lease lost. A renewal that fails
/// otherwise (a lost connection) is not fatal: the lease lasts four steps, and the next batch
/// renews it in any case.
result<bool> pause_for(const backfill_options& options,
                       microseconds duration,
                       detail::runner_lock& lock) {
    if (duration.count() <= 0) {
        return options.cancel != nullptr && options.cancel->cancelled();
    }
    auto left = std::chrono::ceil<milliseconds>(duration);
    while (true) {
        const auto step = std::min(left, lock.renew_interval());
        if (sleep_unless_cancelled(options, step)) {
            return true;
        }
        left -= step;
        if (left.count() <= 0) {
            return false;
        }
        if (auto renewed = lock.renew(); !renewed && lock.lost()) {
            return tl::unexpected(renewed.error());
        }
    }
}

result<void> set_status(pool& pool,
                        const backfill_id& run,
                        std::string_view from,
                        std::string_view to) {
    auto leased = pool.acquire();
    if (!leased) {
        return tl::unexpected(leased.error());
    }
    auto runs = detail::locate_runs_table(**leased, run.runs_schema);
    if (!runs) {
        return tl::unexpected(runs.error());
    }
    auto not_found = [&] {
        return make_error(
            errc::not_found,
            fmt::format("no backfill run named {}{} in {}", run.name,
                        from.empty() ? " that is not done" : " that is paused", runs->qualified));
    };
    if (!runs->exists) {
        return not_found();
    }
    auto updated = (*leased)->execute(
        fmt::format("UPDATE {} SET status = $3, updated_at = now() WHERE name = $1 AND "
                    "(($2 = '' AND status <> 'done') OR status = $2)",
                    runs->qualified),
        run.name, from, to);
    if (!updated) {
        return tl::unexpected(updated.error());
    }
    if (updated->affected_rows() == 0) {
        return not_found();
    }
    return {};
}

}  // namespace

std::string backfill_batch::range_condition(std::size_t first_parameter) const {
    const std::string keys = key_tuple(key_sql);
    std::string out;
    std::size_t next = first_parameter;
    if (!after.empty()) {
        out = fmt::format("{} > {} AND ", keys, placeholders(key_types, next));
        next += key_types.size();
    }
    return out + fmt::format("{} <= {}", keys, placeholders(key_types, next));
}

std::vector<std::string> backfill_batch::range_values() const {
    std::vector<std::string> values = after;
    values.insert(values.end(), up_to.begin(), up_to.end());
    return values;
}

std::string_view to_string(backfill_status status) noexcept {
    switch (status) {
        case backfill_status::running:
            return "running";
        case backfill_status::done:
            return "done";
        case backfill_status::paused:
            return "paused";
        case backfill_status::cancelled:
            return "cancelled";
        case backfill_status::failed:
            return "failed";
        case backfill_status::not_started:
            return "not_started";
    }
    return "unknown";
}

void backfill_cancel_token::cancel() noexcept {
    {
        std::lock_guard lock{mutex_};
        cancelled_.store(true);
    }
    wake_.notify_all();
}

bool backfill_cancel_token::wait_for(std::chrono::milliseconds duration) const {
    std::unique_lock lock{mutex_};
    return wake_.wait_for(lock, duration, [this] { return cancelled_.load(); });
}

namespace detail {
bool batch_worth_retrying(const error& e) noexcept {
    return e.is_retryable() || e.code() == errc::statement_timeout ||
           e.code() == errc::commit_unknown;
}

std::size_t batch_sizer::clamp(double size) const noexcept {
    if (!(size >= static_cast<double>(min_))) {  // also NaN
        return min_;
    }
    if (size >= static_cast<double>(max_)) {
        return max_;
    }
    return std::clamp(static_cast<std::size_t>(std::round(size)), min_, max_);
}

std::size_t batch_sizer::next(std::size_t size,
                              std::chrono::microseconds elapsed,
                              bool contended) noexcept {
    // Batch times are noisy (checkpoints, autovacuum, contention, a busy CPU): size from the
    // costliest recent batches rather than the last one, aim well below the target, grow slowly
    // near it and shrink at once.
    size = std::max<std::size_t>(size, 1);
    const double took = std::max<double>(static_cast<double>(elapsed.count()), 1.0);
    const double observed = took / static_cast<double>(size);
    if (cost_us_ <= 0 || observed >= cost_us_) {
        cost_us_ = observed;
    } else {
        cost_us_ = smoothing * observed + (1 - smoothing) * cost_us_;
    }
    // Writers waited on this batch: aim at the lock hold they can bear for a while.
    if (contended && contended_us_ > 0) {
        contended_left_us_ = static_cast<double>(contention_memory.count());
    } else if (contended_left_us_ > 0) {
        contended_left_us_ -= static_cast<double>(elapsed.count());
    }
    const double target_us = target_now_us();
    const double wanted = aim * target_us / cost_us_;
    const double cap = took < ramp_below * target_us ? ramp_growth : growth;
    return clamp(std::min(wanted, static_cast<double>(size) * cap));
}

std::size_t batch_sizer::after_timeout(std::size_t size,
                                       std::chrono::microseconds elapsed) noexcept {
    // The batch took at least `elapsed` for `size` keys: a lower bound of its cost.
    size = std::max<std::size_t>(size, 1);
    const double took = std::max<double>(static_cast<double>(elapsed.count()), 1.0);
    cost_us_ = std::max(cost_us_, took / static_cast<double>(size));
    const double wanted = aim * target_now_us() / cost_us_;
    return clamp(std::min(wanted, static_cast<double>(size / 2)));
}
}  // namespace detail

result<backfill_report> run_backfill(pool& pool,
                                     const backfill_spec& spec,
                                     const backfill_options& options) {
    const auto run_started = steady::now();
    backfill_report report;
    report.name = spec.name;

    if (pool.options().max_size < 2) {
        return make_error(errc::invalid_argument,
                          "backfill: the pool must allow two connections (max_size >= 2): one "
                          "holds the run's lock, the other runs the batches");
    }
    auto lock_kind = runner_lock_kind(pool, options);
    if (!lock_kind) {
        return tl::unexpected(lock_kind.error());
    }
    // The session that holds the run's runner lock until the run ends (or its process dies), and
    // keeps the runs table's bookkeeping.
    auto holder = pool.acquire();
    if (!holder) {
        return tl::unexpected(holder.error());
    }
    connection& conn = **holder;
    auto resolved = validate_spec(conn, spec, options, behind_transaction_pooler(pool));
    if (!resolved) {
        return tl::unexpected(resolved.error());
    }
    const resolved_spec& r = *resolved;
    auto located = detail::locate_runs_table(conn, spec.runs_schema);
    if (!located) {
        return tl::unexpected(located.error());
    }
    const detail::runs_table& runs = *located;
    auto acquired = detail::runner_lock::try_acquire(*holder, runs, spec.name,
                                                     "refusing to process the same rows",
                                                     *lock_kind, lease_duration(options));
    if (!acquired) {
        return tl::unexpected(acquired.error());
    }
    detail::runner_lock& lock = *acquired;

    if (auto created = detail::create_runs_table(conn, runs); !created) {
        return fail_with(created.error(),
                         fmt::format("backfill: cannot create {}: ", runs.qualified));
    }
    std::vector<std::string> key_names = spec.key;
    auto inserted = conn.execute(
        fmt::format("INSERT INTO {} (name, table_name, key_columns) VALUES ($1, $2, $3) ON "
                    "CONFLICT (name) DO NOTHING",
                    runs.qualified),
        spec.name, r.table_label, key_names);
    if (!inserted) {
        return fail_with(inserted.error(), "backfill: ");
    }
    auto existing = conn.execute(
        fmt::format("SELECT table_name, key_columns, status, rows_done, batches, last_key FROM {} "
                    "WHERE name = $1",
                    runs.qualified),
        spec.name);
    if (!existing) {
        return fail_with(existing.error(), "backfill: ");
    }
    auto fields = existing->one().and_then([](const pgkit::row& x) {
        return x.as<std::string, std::vector<std::string>, std::string, std::int64_t, std::int64_t,
                    std::optional<std::vector<std::string>>>();
    });
    if (!fields) {
        return fail_with(fields.error(), "backfill: ");
    }
    auto& [table_name, key_columns, status, rows_done, batches, last_key] = *fields;
    if (table_name != r.table_label || key_columns != spec.key) {
        return make_error(errc::invalid_argument,
                          fmt::format("backfill spec rejected: run {} was started on {} ({}), "
                                      "not {} ({})",
                                      spec.name, table_name, join(key_columns, ", "), r.table_label,
                                      join(spec.key, ", ")));
    }
    report.rows_done = static_cast<std::uint64_t>(rows_done);
    report.batches = static_cast<std::uint64_t>(batches);
    report.last_key = last_key.value_or(std::vector<std::string>{});
    if (status == "done" || status == "paused") {
        report.status = status == "done" ? backfill_status::done : backfill_status::paused;
        return report;
    }
    // Status writes from here on are fenced (lease mode): they happen only while this runner
    // holds the run.
    (void)conn.execute(
        fmt::format("UPDATE {} SET status = 'running', error = NULL, updated_at = now() WHERE "
                    "name = $1{}",
                    runs.qualified, lock.fence()),
        spec.name);

    auto record_end = [&](std::string_view end_status, const std::string& message) {
        (void)conn.execute(fmt::format("UPDATE {} SET status = $2, error = NULLIF($3, ''), "
                                       "updated_at = now() WHERE name = $1 AND status <> 'done'{}",
                                       runs.qualified, lock.fence()),
                           spec.name, end_status, message);
    };
    // A runner that lost its lease stops without writing anything more about the run: another
    // runner holds it now.
    auto lost_lease = [&](const error& e) {
        return tl::unexpected(with_context(e, fmt::format("backfill {} stopped after key {}: ",
                                                          spec.name, key_text(report.last_key))));
    };
    const std::uint64_t estimated = planner_rows(conn, r);
    std::size_t size =
        std::clamp(options.initial_batch_size, options.min_batch_size, options.max_batch_size);
    detail::batch_sizer sizer{options.target_batch_duration, options.min_batch_size,
                              options.max_batch_size, options.contended_batch_duration};
    std::uint32_t retries_in_row = 0;   // failures counted toward retry.max_attempts
    std::uint32_t failures_in_row = 0;  // all failures, guard timeouts included (the back-off)
    transaction_options tx_options;
    tx_options.retry.max_attempts = 1;  // the runner retries itself, smaller

    while (true) {
        if (options.cancel != nullptr && options.cancel->cancelled()) {
            record_end("cancelled", "");
            report.status = backfill_status::cancelled;
            break;
        }
        // A batch's time runs from its transaction's start to its end (COMMIT or ROLLBACK):
        // waiting for a pooled connection (or opening one) holds no lock, and must neither eat
        // into the time guard nor make the next batch smaller.
        std::optional<steady::time_point> started;
        auto outcome = pool.with_transaction(
            [&](transaction& tx) {
                started = steady::now();
                return run_batch(tx, spec, r, runs, lock, options, size, *started);
            },
            tx_options);
        const auto took =
            started ? duration_cast<microseconds>(steady::now() - *started) : microseconds{0};
        // Every batch transaction counts, including attempts rolled back: they held locks too.
        report.longest_batch = std::max(report.longest_batch, duration_cast<milliseconds>(took));
        if (!outcome) {
            const error& e = outcome.error();
            // A batch cancelled by the time guard was too large for now: retried smaller without
            // counting toward retry.max_attempts (the guard is off at min_batch_size, so this
            // ends).
            const bool guard_hit =
                e.code() == errc::statement_timeout && batch_guard(options, size).count() > 0;
            // The attempt that just failed is number retries_in_row + 1 of this streak.
            if (guard_hit || (detail::batch_worth_retrying(e) &&
                              retries_in_row + 1 < options.retry.max_attempts)) {
                if (!guard_hit) {
                    ++retries_in_row;
                }
                ++failures_in_row;
                ++(guard_hit ? report.guard_timeouts : report.retries);
                size = guard_hit ? sizer.after_timeout(size, took)
                                 : std::max(options.min_batch_size, size / 2);
                auto cancelled = pause_for(options, options.retry.backoff(failures_in_row), lock);
                if (!cancelled) {
                    return lost_lease(cancelled.error());
                }
                if (*cancelled) {
                    record_end("cancelled", "");
                    report.status = backfill_status::cancelled;
                    break;
                }
                continue;
            }
            if (lock.lost()) {
                return lost_lease(e);
            }
            const std::string prefix =
                fmt::format("backfill {} stopped after key {} ({} retries): ", spec.name,
                            key_text(report.last_key), retries_in_row);
            error failed = with_context(e, prefix);
            record_end("failed", failed.to_string());
            return tl::unexpected(std::move(failed));
        }
        retries_in_row = 0;
        failures_in_row = 0;
        if (outcome->kind == batch_kind::paused || outcome->kind == batch_kind::cancelled) {
            report.status = outcome->kind == batch_kind::paused ? backfill_status::paused
                                                                : backfill_status::cancelled;
            break;
        }
        if (outcome->kind == batch_kind::finished) {
            report.rows_done = outcome->rows_done;
            report.batches = outcome->batches;
            report.status = backfill_status::done;
            break;
        }
        report.rows_this_run += outcome->rows;
        ++report.batches_this_run;
        report.rows_done = outcome->rows_done;
        report.batches = outcome->batches;
        report.last_key = outcome->last_key;
        const bool contended = outcome->blocked_sessions > 0;
        if (contended) {
            ++report.contended_batches;
        }
        size = sizer.next(size, took, contended);
        if (options.on_progress) {
            backfill_progress progress;
            progress.name = spec.name;
            progress.rows_done = report.rows_done;
            progress.batches = report.batches;
            progress.estimated_total = std::max(estimated, report.rows_done);
            const double seconds =
                std::chrono::duration<double>(steady::now() - run_started).count();
            progress.rows_per_second =
                seconds > 0 ? static_cast<double>(report.rows_this_run) / seconds : 0.0;
            if (progress.rows_per_second > 0) {
                progress.eta = std::chrono::seconds{static_cast<std::int64_t>(
                    static_cast<double>(progress.estimated_total - progress.rows_done) /
                    progress.rows_per_second)};
            }
            progress.batch_size = size;
            progress.last_batch_duration = duration_cast<milliseconds>(took);
            progress.blocked_sessions = outcome->blocked_sessions;
            progress.last_key = report.last_key;
            options.on_progress(progress);
        }
        // Throttle: the pause, or longer when the rate ceiling asks for it.
        milliseconds wait = options.pause_between_batches;
        if (options.max_rows_per_second > 0) {
            const auto wanted = microseconds{static_cast<std::int64_t>(
                static_cast<double>(outcome->rows) / options.max_rows_per_second * 1e6)};
            wait = std::max(wait, duration_cast<milliseconds>(wanted - took));
        }
        auto cancelled = pause_for(options, wait, lock);
        if (!cancelled) {
            return lost_lease(cancelled.error());
        }
        if (*cancelled) {
            record_end("cancelled", "");
            report.status = backfill_status::cancelled;
            break;
        }
    }
    report.elapsed = duration_cast<milliseconds>(steady::now() - run_started);
    return report;
}

result<backfill_plan> plan_backfill(pool& pool,
                                    const backfill_spec& spec,
                                    const backfill_options& options) {
    auto leased = pool.acquire();
    if (!leased) {
        return tl::unexpected(leased.error());
    }
    connection& conn = **leased;
    auto resolved = validate_spec(conn, spec, options, behind_transaction_pooler(pool));
    if (!resolved) {
        return tl::unexpected(resolved.error());
    }
    const resolved_spec& r = *resolved;
    auto runs = detail::locate_runs_table(conn, spec.runs_schema);
    if (!runs) {
        return tl::unexpected(runs.error());
    }
    std::vector<std::string> after;
    double rate = 0;
    if (runs->exists) {
        auto run = conn.execute(
            fmt::format("SELECT last_key, rows_done, busy_ms, status FROM {} WHERE name = $1",
                        runs->qualified),
            spec.name);
        if (!run) {
            return tl::unexpected(run.error());
        }
        if (!run->empty()) {
            auto fields = (*run)[0]
                              .as<std::optional<std::vector<std::string>>, std::int64_t,
                                  std::int64_t, std::string>();
            if (!fields) {
                return tl::unexpected(fields.error());
            }
            auto& [key, rows, busy, status] = *fields;
            if (status == "done") {
                return backfill_plan{};
            }
            after = key.value_or(std::vector<std::string>{});
            if (busy > 0) {
                rate = static_cast<double>(rows) / (static_cast<double>(busy) / 1000.0);
            }
        }
    }
    const std::string keys = key_tuple(r.key_sql);
    std::string where = "TRUE";
    parameters params;
    for (const std::string& p : spec.parameters) {
        params.add(p);
    }
    const std::size_t first = spec.parameters.size() + 1;
    if (!after.empty()) {
        where = fmt::format("{} > {}", keys, placeholders(r.key_types, first));
        for (const std::string& k : after) {
            params.add(k);
        }
    }
    std::string predicate = spec.predicate.empty() ? "TRUE" : "(" + spec.predicate + ")";
    if (r.parameter_types.size() == spec.parameters.size()) {
        for (std::size_t i = 0; i < r.parameter_types.size(); ++i) {
            // Every parameter must appear in the statement, with the type the UPDATE gave it.
            predicate += fmt::format(" AND (${}::{} IS NULL OR TRUE)", i + 1, r.parameter_types[i]);
        }
    } else {
        // The types are unknown (behind a transaction-mode pooler the UPDATE was checked without
        // a prepared statement): the predicate types the parameters it uses, and those it does
        // not use (the SET expression's) are passed as text, which takes any value.
        std::vector<bool> used(spec.parameters.size(), false);
        detail::sql::lexer tokens{spec.predicate};
        while (auto t = tokens.next_significant()) {
            if (t->kind != detail::sql::token_kind::parameter) {
                continue;
            }
            auto n = detail::sql::parameter_number(t->text(spec.predicate));
            if (n && *n >= 1 && *n <= used.size()) {
                used[*n - 1] = true;
            }
        }
        for (std::size_t i = 0; i < used.size(); ++i) {
            if (!used[i]) {
                predicate += fmt::format(" AND (${}::text IS NULL OR TRUE)", i + 1);
            }
        }
    }
    auto counted = conn.execute_params(
        fmt::format("SELECT count(*) FILTER (WHERE {}), count(*) FROM {} WHERE {}", predicate,
                    r.table_sql, where),
        params);
    if (!counted) {
        return fail_with(counted.error(), "backfill dry run: ");
    }
    auto counts = counted->one().and_then(
        [](const pgkit::row& x) { return x.as<std::int64_t, std::int64_t>(); });
    if (!counts) {
        return tl::unexpected(counts.error());
    }
    backfill_plan plan;
    plan.rows = static_cast<std::uint64_t>(std::get<0>(*counts));
    const auto keys_left = static_cast<std::uint64_t>(std::get<1>(*counts));
    const std::size_t size =
        std::clamp(options.initial_batch_size, options.min_batch_size, options.max_batch_size);
    plan.batches = (keys_left + size - 1) / size;
    if (rate > 0) {
        plan.estimated_duration =
            std::chrono::seconds{static_cast<std::int64_t>(static_cast<double>(plan.rows) / rate)};
    }
    return plan;
}

result<void> pause_backfill(pool& pool, const backfill_id& run) {
    return set_status(pool, run, "", "paused");
}

result<void> resume_backfill(pool& pool, const backfill_id& run) {
    return set_status(pool, run, "paused", "running");
}

result<void> cancel_backfill(pool& pool, const backfill_id& run) {
    return set_status(pool, run, "", "cancelled");
}

namespace {

/// The runs table's rows (all, or the one named `name`) as states, by name; the runner
/// columns are filled by add_runner.
result<std::vector<backfill_state>> read_runs(connection& conn,
                                              const detail::runs_table& runs,
                                              const std::optional<std::string>& name) {
    std::vector<backfill_state> out;
    if (!runs.exists) {
        return out;
    }
    const std::string sql = fmt::format(
        "SELECT name, table_name, key_columns, status, last_key, rows_done, batches, "
        "COALESCE(batch_size, 0), busy_ms, started_at, updated_at, finished_at, "
        "COALESCE(error, '') FROM {} WHERE $1::text IS NULL OR name = $1 ORDER BY name",
        runs.qualified);
    auto found = conn.execute(sql, name);
    if (!found) {
        return tl::unexpected(found.error());
    }
    using time_point = std::chrono::system_clock::time_point;
    for (const pgkit::row& row : *found) {
        auto fields = row.as<std::string, std::string, std::vector<std::string>, std::string,
                             std::optional<std::vector<std::string>>, std::int64_t, std::int64_t,
                             std::int64_t, std::int64_t, time_point, time_point,
                             std::optional<time_point>, std::string>();
        if (!fields) {
            return tl::unexpected(fields.error());
        }
        auto& [run_name, table, key, status, last_key, rows, batches, size, busy, started, updated,
               finished, message] = *fields;
        auto parsed = parse_status(status);
        if (!parsed) {
            return make_error(errc::type_mismatch,
                              fmt::format("backfill {}: unknown status '{}' in {}", run_name,
                                          status, runs.qualified));
        }
        backfill_state& state = out.emplace_back();
        state.name = std::move(run_name);
        state.status = *parsed;
        state.table = std::move(table);
        state.key = std::move(key);
        state.rows_done = static_cast<std::uint64_t>(rows);
        state.batches = static_cast<std::uint64_t>(batches);
        state.last_key = last_key.value_or(std::vector<std::string>{});
        state.last_batch_size = static_cast<std::uint64_t>(size);
        state.busy = milliseconds{busy};
        state.started_at = started;
        state.updated_at = updated;
        state.finished_at = finished;
        state.last_error = std::move(message);
    }
    return out;
}

/// Whether a runner holds the run now: its advisory lock's holder, its lease row.
result<void> add_runner(connection& conn, const detail::runs_table& runs, backfill_state& state) {
    auto holder = detail::runner_lock::holder_pid(conn, runs, state.name);
    if (!holder) {
        return tl::unexpected(holder.error());
    }
    state.runner_pid = *holder;
    auto leased_by = detail::runner_lock::find_lease(conn, runs, state.name);
    if (!leased_by) {
        return tl::unexpected(leased_by.error());
    }
    if (*leased_by) {
        state.lease_token = std::move((*leased_by)->token);
        state.lease_expires_at = (*leased_by)->expires_at;
        state.lease_live = (*leased_by)->live;
    }
    return {};
}

/// The states of the runs in `runs_schema` (all, or the one named `name`).
result<std::vector<backfill_state>> read_states(pool& pool,
                                                std::string_view runs_schema,
                                                const std::optional<std::string>& name) {
    auto leased = pool.acquire();
    if (!leased) {
        return tl::unexpected(leased.error());
    }
    connection& conn = **leased;
    auto runs = detail::locate_runs_table(conn, runs_schema);
    if (!runs) {
        return tl::unexpected(runs.error());
    }
    auto states = read_runs(conn, *runs, name);
    if (!states) {
        return states;
    }
    if (name && states->empty()) {
        states->emplace_back().name = *name;  // not_started
    }
    for (backfill_state& state : *states) {
        if (auto added = add_runner(conn, *runs, state); !added) {
            return tl::unexpected(added.error());
        }
    }
    return states;
}

}  // namespace

result<backfill_state> inspect_backfill(pool& pool, const backfill_id& run) {
    auto states = read_states(pool, run.runs_schema, run.name);
    if (!states) {
        return tl::unexpected(states.error());
    }
    return std::move(states->front());
}

result<std::vector<backfill_state>> list_backfills(pool& pool, std::string_view runs_schema) {
    return read_states(pool, runs_schema, std::nullopt);
}

result<bool> reset_backfill(pool& pool, const backfill_id& run) {
    auto leased = pool.acquire();
    if (!leased) {
        return tl::unexpected(leased.error());
    }
    auto runs = detail::locate_runs_table(**leased, run.runs_schema);
    if (!runs) {
        return tl::unexpected(runs.error());
    }
    if (!runs->exists) {
        return false;
    }
    // Holding the runner lock while deleting: no runner is using the row, and none can start. An
    // expired lease goes with the run (the lease mode takes it over; the advisory mode deletes
    // it).
    const auto mode = behind_transaction_pooler(pool) ? detail::runner_lock::kind::lease
                                                      : detail::runner_lock::kind::advisory;
    auto lock = detail::runner_lock::try_acquire(*leased, *runs, run.name,
                                                 "pause or cancel it before resetting it", mode,
                                                 reset_lease_duration);
    if (!lock) {
        return tl::unexpected(lock.error());
    }
    auto deleted = (*leased)->execute(
        fmt::format("DELETE FROM {} WHERE name = $1", runs->qualified), run.name);
    if (!deleted) {
        return tl::unexpected(deleted.error());
    }
    return deleted->affected_rows() > 0;
}

}  // namespace pgkit
