#include "backfill/runner_lock.hpp"

#include "pgkit/backfill.hpp"

#include <fmt/format.h>

#include <utility>

namespace pgkit::detail {

namespace {

/// The lock's two keys, from the parameters $1 (the space), $2 (the runs table's schema) and $3
/// (the run's name). The quoted schema ends where the name starts, so different (schema, name)
/// pairs hash different texts.
constexpr std::string_view space_key = "$1::int4";
constexpr std::string_view run_key = "hashtext(quote_ident($2::text) || '.' || $3::text)";

}  // namespace

runner_lock::runner_lock(lease& holder, std::string schema, std::string name) noexcept
    : holder_(&holder), schema_(std::move(schema)), name_(std::move(name)) {}

runner_lock::runner_lock(runner_lock&& other) noexcept
    : holder_(std::exchange(other.holder_, nullptr)),
      schema_(std::move(other.schema_)),
      name_(std::move(other.name_)) {}

runner_lock::~runner_lock() {
    if (holder_ == nullptr) {
        return;
    }
    auto released =
        (*holder_)
            ->execute(fmt::format("SELECT pg_advisory_unlock({}, {})", space_key, run_key),
                      backfill_lock_space, schema_, name_)
            .and_then(&query_result::scalar<bool>);
    if (!released || !*released) {
        holder_->mark_broken();  // the lock must not outlive the run on a pooled session
    }
}

result<runner_lock> runner_lock::try_acquire(lease& holder,
                                             const runs_table& table,
                                             std::string_view name,
                                             std::string_view refusal) {
    auto locked =
        holder
            ->execute(fmt::format("SELECT pg_try_advisory_lock({}, {})", space_key, run_key),
                      backfill_lock_space, table.schema, std::string{name})
            .and_then(&query_result::scalar<bool>);
    if (!locked) {
        return tl::unexpected(locked.error());
    }
    if (!*locked) {
        auto pid = holder_pid(*holder, table, name);
        const std::string by =
            pid && *pid ? fmt::format(" (server process {})", **pid) : std::string{};
        return make_error(
            errc::already_running,
            fmt::format("backfill {} ({}) is already running in another session{}; {}", name,
                        table.qualified, by, refusal));
    }
    return runner_lock{holder, table.schema, std::string{name}};
}

result<std::optional<std::int32_t>> runner_lock::holder_pid(connection& conn,
                                                            const runs_table& table,
                                                            std::string_view name) {
    // A two-key advisory lock shows in pg_locks as classid = key 1, objid = key 2, objsubid = 2.
    auto found = conn.execute(
        fmt::format("SELECT l.pid FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory' AND "
                    "l.granted AND l.objsubid = 2 AND l.database = (SELECT oid FROM "
                    "pg_catalog.pg_database WHERE datname = current_database()) AND l.classid = "
                    "({})::oid AND l.objid = ({})::oid LIMIT 1",
                    space_key, run_key),
        backfill_lock_space, table.schema, std::string{name});
    if (!found) {
        return tl::unexpected(found.error());
    }
    if (found->empty()) {
        return std::optional<std::int32_t>{};
    }
    auto pid = (*found)[0].get<std::int32_t>(0);
    if (!pid) {
        return tl::unexpected(pid.error());
    }
    return std::optional<std::int32_t>{*pid};
}

}  // namespace pgkit::detail
