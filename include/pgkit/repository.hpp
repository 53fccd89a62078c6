#pragma once

/// pgkit::repository<E>: typed reads and writes of an entity described once with
/// pgkit::entity<E> (entity.hpp), with optimistic locking and soft-delete scopes.
///
/// ```cpp
/// pgkit::repository<account> accounts{pool};
/// auto saved = accounts.insert(fresh);                           // id, version filled in
/// auto again = accounts.get(saved->id);                          // not_found when absent
/// auto bumped = accounts.update_with_retry(saved->id, [](account& a) { a.credits += 1; });
/// pool->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
///     return accounts.in(tx).remove(saved->id);                  // soft delete
/// });
/// ```
///
/// This header is the typed API: it binds values and decodes rows. The statements are built
/// elsewhere: the fixed ones once per entity type (detail::sql_of<E>, entity_mapping.hpp), the
/// ones that depend on a filter, assignments or a conflict target by the non-template functions
/// of detail/repository_statements.hpp. Every value is a bound parameter and every identifier is
/// quoted; statements run through the connection's prepared-statement cache.
/// docs/repository.md describes every operation.
///
/// Thread safety: a repository is a small value (a pool reference, an optional transaction
/// pointer, a scope); const operations on one repository may run from several threads at once
/// when it is bound to a pool. A repository bound to a transaction (in(tx)) is valid only while
/// that transaction is, and is used from the transaction's thread only.

#include "pgkit/cursor_key.hpp"
#include "pgkit/detail/copy_session.hpp"
#include "pgkit/detail/cursor_reader.hpp"
#include "pgkit/detail/entity_mapping.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/detail/executor.hpp"
#include "pgkit/detail/keyset_pages.hpp"
#include "pgkit/detail/repository_statements.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/error.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pagination.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/retry_policy.hpp"
#include "pgkit/transaction.hpp"
#include "pgkit/types/array.hpp"
#include "pgkit/upsert.hpp"
#include "pgkit/value_traits.hpp"

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgkit {

/// The planner's row estimate for a table.
struct estimated_count_result {
    std::int64_t rows = 0;  ///< pg_class.reltuples; -1 when the table was never analyzed
    /// Time since the last ANALYZE or autoanalyze; nullopt when it never ran.
    std::optional<std::chrono::duration<double>> statistics_age;
};

/// repository<E>::update_with_retry's policy unless the caller passes one: up to 50 attempts,
/// pausing 1-2 ms after the first conflict and twice as long after each further one, up to
/// 50-100 ms. With 8 threads incrementing one row, the busiest call needed 10 to 14 attempts
/// (15 with 16 threads; docs/repository.md, "Optimistic locking"), so ordinary contention never
/// surfaces as version_conflict; a call that does give up has paused about 3.3 s in all.
inline constexpr retry_policy update_retry_defaults{.max_attempts = 50,
                                                    .initial_backoff = std::chrono::milliseconds{2},
                                                    .max_backoff = std::chrono::milliseconds{100}};

namespace detail {

template <class F, class E>
concept row_visitor = std::invocable<F&, const E&> &&
    (std::is_void_v<std::invoke_result_t<F&, const E&>> ||
     std::same_as<std::invoke_result_t<F&, const E&>, result<void>>);

template <class F, class E>
concept export_sink = std::invocable<F&, const E&> &&
    (std::is_void_v<std::invoke_result_t<F&, const E&>> ||
     std::same_as<std::invoke_result_t<F&, const E&>, bool> ||
     std::same_as<std::invoke_result_t<F&, const E&>, result<void>> ||
     std::same_as<std::invoke_result_t<F&, const E&>, result<bool>>);

template <class F, class E>
concept entity_mutator = std::invocable<F&, E&> &&
    (std::is_void_v<std::invoke_result_t<F&, E&>> ||
     std::same_as<std::invoke_result_t<F&, E&>, result<void>>);

}  // namespace detail

/// Typed access to the rows of entity<E>'s table. See the file comment and docs/repository.md.
template <class E>
class repository {
    static_assert(detail::check_entity<E>());

  public:
    using entity_type = E;
    using key_type = key_t<E>;
    static constexpr bool has_version = detail::has_version<E>;
    static constexpr bool has_soft_delete = detail::has_soft_delete<E>;

    /// Runs each operation on a connection leased from `pool` for that operation.
    explicit repository(std::shared_ptr<pool> pool)
        : exec_(std::move(pool)),
          scope_(detail::row_scope::live),
          keyset_(std::make_shared<detail::keyset_cache>()) {}
    /// The same, with the key that signs and checks keyset-page cursors (pagination.hpp).
    repository(std::shared_ptr<pool> pool, cursor_key key) : repository(std::move(pool)) {
        cursor_key_ = std::make_shared<const cursor_key>(std::move(key));
    }

    /// The same repository (and scope), signing page cursors with `key`.
    [[nodiscard]] repository with_cursor_key(cursor_key key) const {
        repository copy{*this};
        copy.cursor_key_ = std::make_shared<const cursor_key>(std::move(key));
        return copy;
    }

    /// The same repository (and scope), running every operation inside `tx`. Valid while tx is.
    [[nodiscard]] repository in(transaction& tx) const {
        repository copy{*this};
        copy.exec_ = detail::executor{exec_.owner(), &tx};
        return copy;
    }
    /// The same inside a transaction another library opened (a pqxx::work, with pgkit/pqxx.hpp
    /// included): statements run through that library, in that transaction. Streams and COPY
    /// report invalid_argument there. Valid while tx is; needs no pool (repository{nullptr}).
    template <detail::foreign_transaction_type Tx>
    [[nodiscard]] repository in(Tx& tx) const {
        repository copy{*this};
        copy.exec_ = detail::executor{detail::foreign_transaction<Tx>::runner(tx)};
        return copy;
    }
    /// The same repository (and scope), its reads served only by nodes that have replayed
    /// `position` (pool::write_position() after your writes): read-your-writes with replicas.
    /// Without replicas every read goes to the primary anyway.
    [[nodiscard]] repository read_after(wal_position position) const {
        repository copy{*this};
        copy.exec_ = exec_.reading_after(position);
        return copy;
    }
    /// Reads see soft-deleted rows too.
    [[nodiscard]] repository with_deleted() const requires has_soft_delete {
        return with_scope(detail::row_scope::all);
    }
    /// Reads see soft-deleted rows only.
    [[nodiscard]] repository only_deleted() const requires has_soft_delete {
        return with_scope(detail::row_scope::deleted);
    }

    /// The row with this key in the current scope, or nullopt. Reads go where
    /// pool::acquire_read sends them (a replica within the lag bound, when the pool has some).
    [[nodiscard]] result<std::optional<E>> find(const key_type& key) const {
        return find_on(key, access::read);
    }

    /// The row with this key in the current scope; not_found when there is none.
    [[nodiscard]] result<E> get(const key_type& key) const { return get_on(key, access::read); }

  private:
    enum class access { read, write };

    [[nodiscard]] result<std::optional<E>> find_on(const key_type& key, access where) const {
        auto rows = run_key(sql().find[scope_index()], key, where, &detail::entity_reads_binary<E>);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return std::optional<E>{};
        }
        auto value = detail::decode_row<E>((*rows)[0]);
        if (!value) {
            return tl::unexpected(std::move(value).error());
        }
        return std::optional<E>{std::move(*value)};
    }

    [[nodiscard]] result<E> get_on(const key_type& key, access where) const {
        auto found = find_on(key, where);
        if (!found) {
            return tl::unexpected(std::move(found).error());
        }
        if (!*found) {
            return tl::unexpected(not_found("no row with this key"));
        }
        return std::move(**found);
    }

  public:
    /// Whether a row with this key exists in the current scope.
    [[nodiscard]] result<bool> exists(const key_type& key) const {
        return run_key(sql().exists[scope_index()], key, access::read)
            .and_then(&query_result::scalar<bool>);
    }

    /// Every row whose key is in `keys`, in one round trip (key = ANY($1)) whatever their
    /// number; in no particular order, missing keys absent, duplicates read once.
    [[nodiscard]] result<std::vector<E>> find_many(std::span<const key_type> keys) const {
        parameters params;
        // One key column: `key = ANY($1)`, a key read (statement_cache.hpp). Several: unnest()
        // and casts to the columns' declared types, which may name user-defined ones.
        if constexpr (std::tuple_size_v<detail::key_members_t<E>> == 1) {
            params.add(std::vector<key_type>(keys.begin(), keys.end()));
        } else {
            add_key_arrays(params, keys, std::make_index_sequence<std::tuple_size_v<key_type>>{});
        }
        return exec_
            .read_rows(sql().find_many[scope_index()], params, &detail::entity_reads_binary<E>)
            .and_then(&detail::decode_rows<E>);
    }

    /// Inserts one row; returns it as stored (generated and defaulted columns, version 1,
    /// created_at/updated_at now()). unique_violation, not_null_violation,
    /// foreign_key_violation and check_violation carry the constraint's name.
    [[nodiscard]] result<E> insert(const E& value) const {
        parameters params;
        params.reserve(sql().insert_params.size());
        detail::add_columns(params, value, sql().insert_params);
        return one_row(exec_.run(sql().insert, params));
    }

    /// Writes every non-key, non-generated column of `value` to the live row with its key. With
    /// a version column the write happens only when the stored version equals value's, and
    /// increments it in the same statement. Returns the row as stored (new version,
    /// updated_at). Fails with not_found (no row with this key, or soft-deleted) or
    /// version_conflict (error::current_version() gives the stored version; `current`, when not
    /// null, receives the stored row). Telling them apart costs one query on the failure path.
    [[nodiscard]] result<E> update(const E& value, std::optional<E>* current = nullptr) const {
        auto written = write_checked(value);
        if (!written) {
            return tl::unexpected(std::move(written).error());
        }
        if (!*written) {
            return explain_no_match(detail::key_of(value), current);
        }
        return std::move(**written);
    }

    /// Removes the row `value` names, checking its version when there is a version column: a
    /// soft delete (sets the timestamp, bumps the version) or a DELETE. not_found or
    /// version_conflict as for update().
    [[nodiscard]] result<void> remove(const E& value) const {
        parameters params;
        detail::add_key<E>(params, detail::key_of(value));
        if constexpr (has_version) {
            params.add(value.*entity<E>::version);
        }
        auto rows = exec_.run(sql().remove_checked, params);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            auto why = explain_no_match(detail::key_of(value), nullptr);
            return tl::unexpected(std::move(why).error());
        }
        return {};
    }

    /// Removes the live row with this key, without a version check; not_found when there is
    /// none.
    [[nodiscard]] result<void> remove(const key_type& key) const {
        auto rows = run_key(sql().remove_by_key, key);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return tl::unexpected(not_found("no live row with this key"));
        }
        return {};
    }

    /// Clears the soft-delete timestamp; returns the restored row. not_found when no deleted
    /// row has this key; unique_violation (with the constraint's name) when a live row now holds
    /// one of its unique values (partial unique index, see docs/repository.md).
    [[nodiscard]] result<E> restore(const key_type& key) const requires has_soft_delete {
        auto rows = run_key(sql().restore, key);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return tl::unexpected(not_found("no deleted row with this key"));
        }
        return detail::decode_row<E>((*rows)[0]);
    }

    /// DELETEs the row with this key, whatever its scope; not_found when there is none.
    [[nodiscard]] result<void> purge(const key_type& key) const {
        auto rows = run_key(sql().purge, key);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->affected_rows() == 0) {
            return tl::unexpected(not_found("no row with this key"));
        }
        return {};
    }

    /// Exact number of rows in the current scope (count(*)).
    [[nodiscard]] result<std::int64_t> count() const {
        return exec_.read(sql().count[scope_index()], parameters{})
            .and_then(&query_result::scalar<std::int64_t>);
    }

    /// The planner's estimate for the whole table (all scopes) and the statistics' age. Cheap
    /// at any size; rows is -1 (PostgreSQL 14+) before the first ANALYZE or VACUUM.
    [[nodiscard]] result<estimated_count_result> estimated_count() const {
        auto rows = exec_.read(sql().estimated_count, parameters{sql().qualified_table});
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        auto fields = rows->one().and_then(
            [](const row& r) { return r.as<std::int64_t, std::optional<double>>(); });
        if (!fields) {
            return tl::unexpected(std::move(fields).error());
        }
        estimated_count_result out;
        out.rows = std::get<0>(*fields);
        if (std::get<1>(*fields)) {
            out.statistics_age = std::chrono::duration<double>{*std::get<1>(*fields)};
        }
        return out;
    }

    /// Reads the row, applies `mutate` (void(E&) or result<void>(E&)) to a copy and writes it
    /// as update() does. On version_conflict it pauses (policy.backoff(attempt)), reads the row
    /// as it is then (the read that tells a conflict from not_found, made after the pause so
    /// that the retry starts from a fresh row) and applies `mutate` to it again; at most
    /// policy.max_attempts attempts in all. The default policy, update_retry_defaults, rides
    /// out ordinary contention on one row. Returns the stored row, or the final error:
    /// version_conflict when the attempts ran out, not_found, mutate's own error,
    /// invalid_argument for an invalid policy (retry_policy::validate), or any other.
    template <class F>
    requires detail::entity_mutator<F, E> && has_version [[nodiscard]] result<E> update_with_retry(
        const key_type& key, F&& mutate, const retry_policy& policy = update_retry_defaults) const {
        if (auto valid = policy.validate(); !valid) {
            return tl::unexpected(std::move(valid).error());
        }
        auto current = get_on(key, access::write);  // the primary: it writes there next
        if (!current) {
            return current;
        }
        E stored_row = std::move(*current);
        for (std::uint32_t attempt = 1;; ++attempt) {
            E changed = stored_row;
            if constexpr (std::is_void_v<std::invoke_result_t<F&, E&>>) {
                std::invoke(mutate, changed);
            } else {
                auto applied = std::invoke(mutate, changed);
                if (!applied) {
                    return tl::unexpected(std::move(applied).error());
                }
            }
            auto written = write_checked(changed);
            if (!written) {
                return tl::unexpected(std::move(written).error());
            }
            if (*written) {
                return std::move(**written);
            }
            if (attempt >= policy.max_attempts) {
                return explain_no_match(detail::key_of(changed), nullptr);
            }
            // A row read before the pause would be stale by the time it is written again.
            std::this_thread::sleep_for(policy.backoff(attempt));
            std::optional<E> latest;
            auto why = explain_no_match(detail::key_of(changed), &latest);
            if (why || why.error().code() != errc::version_conflict || !latest) {
                return why;
            }
            stored_row = std::move(*latest);
        }
    }

    // ---- Filters ---------------------------------------------------------------------------

    /// The rows in the current scope that match `filter`, ordered and limited per `options`.
    /// invalid_argument for a filter that failed to build (see filter.hpp).
    [[nodiscard]] result<std::vector<E>> find_where(const where<E>& filter,
                                                    const query_options& options = {}) const {
        auto statement = detail::select_where_statement(sql(), filter.node(), scope_, options);
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        return exec_.read_rows(statement->sql, statement->params, &detail::entity_reads_binary<E>)
            .and_then(&detail::decode_rows<E>);
    }

    /// How many rows in the current scope match `filter`.
    [[nodiscard]] result<std::int64_t> count_where(const where<E>& filter) const {
        auto statement = detail::count_where_statement(sql(), filter.node(), scope_);
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        return exec_.read(statement->sql, statement->params)
            .and_then(&query_result::scalar<std::int64_t>);
    }

    /// Sets columns on every live row that matches `filter` (bumping the version and
    /// updated_at); returns how many rows changed.
    template <class... Sets>
    requires(sizeof...(Sets) > 0 && (std::same_as<Sets, assignment<E>> && ...))
        [[nodiscard]] result<std::uint64_t> update_where(const where<E>& filter,
                                                         const Sets&... sets) const {
        const detail::column_assignment* list[] = {&sets...};
        return affected(detail::update_where_statement(sql(), filter.node(), list));
    }

    /// Removes every live row that matches `filter` (soft delete, or DELETE without a
    /// soft-delete column); returns how many.
    [[nodiscard]] result<std::uint64_t> remove_where(const where<E>& filter) const {
        return affected(detail::remove_where_statement(sql(), filter.node()));
    }

    /// Sets some columns of the live row with this key (no version check; the version and
    /// updated_at move on); returns the row as stored, not_found when there is none.
    template <class... Sets>
    requires(sizeof...(Sets) > 0 && (std::same_as<Sets, assignment<E>> && ...))
        [[nodiscard]] result<E> update(const key_type& key, const Sets&... sets) const {
        const detail::column_assignment* list[] = {&sets...};
        auto statement = detail::update_by_key_statement(sql(), list);
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        detail::add_key<E>(statement->params, key);
        auto rows = exec_.run(statement->sql, statement->params);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return tl::unexpected(not_found("no live row with this key"));
        }
        return detail::decode_row<E>((*rows)[0]);
    }

    /// INSERT ... ON CONFLICT on the primary key: inserts `value`, or overwrites the stored row
    /// with its key (as upsert(value, on_conflict{}) does). Does not compile when the key is
    /// generated or defaulted: insert never writes such a key, so it could never conflict.
    [[nodiscard]] result<upsert_result<E>> upsert(const E& value) const {
        static_assert(detail::key_is_inserted<E>(),
                      "pgkit: upsert(row) arbitrates on the primary key, which insert never "
                      "writes (generated or defaulted), so it could never conflict: name a unique "
                      "key, upsert(row, {.columns = {&E::email}}) or {.constraint = \"...\"}");
        return upsert(value, on_conflict{});
    }

    /// INSERT ... ON CONFLICT <target> DO UPDATE / DO NOTHING (see upsert.hpp and the Upsert
    /// section of docs/repository.md). Returns what happened and, when the statement wrote a
    /// row, the row as stored: `inserted`; `updated` (the columns in options.update, by default
    /// every plain non-key column, overwritten; the version and updated_at move on); `kept`
    /// (do_nothing); `soft_deleted` (the conflicting row is soft-deleted and stays as it is).
    /// invalid_argument for a bad target or update list (a generated or defaulted target
    /// column, for one); a clash on another unique constraint is unique_violation as for
    /// insert.
    [[nodiscard]] result<upsert_result<E>> upsert(const E& value,
                                                  const on_conflict& options) const {
        auto text = detail::upsert_sql(sql(), options);
        if (!text) {
            return tl::unexpected(std::move(text).error());
        }
        parameters params;
        params.reserve(sql().insert_params.size());
        detail::add_columns(params, value, sql().insert_params);
        auto rows = exec_.run(*text, params);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        auto outcome = detail::upsert_outcome_of(sql(), options, *rows);
        if (!outcome) {
            return tl::unexpected(std::move(outcome).error());
        }
        upsert_result<E> out;
        out.outcome = *outcome;
        if (!rows->empty()) {
            auto stored = detail::decode_row<E>((*rows)[0]);
            if (!stored) {
                return tl::unexpected(std::move(stored).error());
            }
            out.row = std::move(*stored);
        }
        return out;
    }

    // ---- Pages -------------------------------------------------------------------------------

    /// A keyset page of the rows in the current scope that match `filter` (see pagination.hpp
    /// and docs/pagination.md): `first` rows after the `after` cursor, or `last` rows before
    /// `before`, in `order_by` order made total with the primary key. Costs the same at any
    /// depth when an index serves the ordering (explain_page checks). invalid_cursor for a
    /// cursor that is malformed, altered, expired or from another query; invalid_argument for
    /// a bad request, or when the repository has no cursor_key.
    [[nodiscard]] result<pgkit::page<E>> page(const where<E>& filter,
                                              const page_request& request) const {
        return with_page_input(filter,
                               [&](const detail::page_query_input& input) {
                                   return detail::fetch_keyset_page(exec_, input, request);
                               })
            .and_then([&](detail::raw_page raw) { return decode_page(std::move(raw)); });
    }
    [[nodiscard]] result<pgkit::page<E>> page(const page_request& request) const {
        return page(where<E>{}, request);
    }

    /// A numbered page (OFFSET); refused past request.max_offset. Its next_cursor (with a
    /// cursor key) continues with keyset pages.
    [[nodiscard]] result<offset_page<E>> page_at(const where<E>& filter,
                                                 const offset_page_request& request) const {
        auto raw = with_page_input(filter, [&](const detail::page_query_input& input) {
            return detail::fetch_offset_page(exec_, input, request);
        });
        if (!raw) {
            return tl::unexpected(std::move(raw).error());
        }
        auto decoded = decode_page(std::move(*raw));
        if (!decoded) {
            return tl::unexpected(std::move(decoded).error());
        }
        offset_page<E> out;
        out.items = std::move(decoded->items);
        out.page_number = request.page_number;
        out.has_next = decoded->has_next;
        out.has_previous = decoded->has_previous;
        out.next_cursor = std::move(decoded->next_cursor);
        out.total_is = decoded->total_is;
        out.total = decoded->total;
        return out;
    }
    [[nodiscard]] result<offset_page<E>> page_at(const offset_page_request& request) const {
        return page_at(where<E>{}, request);
    }

    /// What PostgreSQL plans for the page `request` asks for (with its cursor, if any):
    /// page_plan::index_served() is false when a Sort or a sequential scan does the work an
    /// index should. For tests and start-up checks.
    [[nodiscard]] result<page_plan> explain_page(const where<E>& filter,
                                                 const page_request& request) const {
        return with_page_input(filter, [&](const detail::page_query_input& input) {
            return detail::explain_keyset_page(exec_, input, request);
        });
    }
    [[nodiscard]] result<page_plan> explain_page(const page_request& request) const {
        return explain_page(where<E>{}, request);
    }

    // ---- Streaming ---------------------------------------------------------------------------

    /// Calls fn(const E&) (void or result<void>) for every row in the current scope matching
    /// `filter`, reading `chunk_rows` rows at a time through a server-side cursor, so memory
    /// stays bounded whatever the number of rows. Inside in(tx) the cursor lives in tx;
    /// otherwise in a read transaction of its own on one leased connection. Stops at fn's
    /// first error and returns it.
    template <class F>
    requires detail::row_visitor<F, E>
    [[nodiscard]] result<std::uint64_t> for_each_where(const where<E>& filter,
                                                       F&& fn,
                                                       const query_options& options = {},
                                                       std::size_t chunk_rows = 1000) const {
        auto statement = detail::select_where_statement(sql(), filter.node(), scope_, options);
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        auto cursor = detail::cursor_reader::open(exec_, statement->sql, statement->params,
                                                  chunk_rows == 0 ? 1000 : chunk_rows);
        if (!cursor) {
            return tl::unexpected(std::move(cursor).error());
        }
        std::uint64_t seen = 0;
        for (;;) {
            auto chunk = cursor->next();
            if (!chunk) {
                return tl::unexpected(std::move(chunk).error());
            }
            if (chunk->empty()) {
                break;
            }
            for (const row& r : *chunk) {
                auto value = detail::decode_row<E>(r);
                if (!value) {
                    return tl::unexpected(std::move(value).error());
                }
                if constexpr (std::is_void_v<std::invoke_result_t<F&, const E&>>) {
                    std::invoke(fn, std::as_const(*value));
                } else {
                    auto visited = std::invoke(fn, std::as_const(*value));
                    if (!visited) {
                        return tl::unexpected(std::move(visited).error());
                    }
                }
                ++seen;
            }
        }
        auto closed = cursor->close();
        if (!closed) {
            return tl::unexpected(std::move(closed).error());
        }
        return seen;
    }

    /// Streams every row in the current scope matching `filter` to `sink` through `COPY (SELECT
    /// ...) TO STDOUT`: one row at a time, in constant memory, with no FETCH round trips (see
    /// connection::copy_out and docs/repository.md, "Exporting with COPY"). sink(const E&)
    /// returns void, bool (false stops), result<void> or result<bool> (an error stops and is
    /// returned). COPY takes no parameters: the filter's values are written into the statement
    /// as escaped string literals, each compared with its column. Inside in(tx) it runs in tx;
    /// otherwise on a connection leased for reading. Returns the number of rows the sink
    /// received.
    template <class F>
    requires detail::export_sink<F, E>
    [[nodiscard]] result<std::uint64_t> export_where(const where<E>& filter,
                                                     F&& sink,
                                                     const query_options& options = {}) const {
        auto statement = detail::select_where_statement(sql(), filter.node(), scope_, options);
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        return detail::copy_out_rows(
            exec_, statement->sql, statement->params, [&](const copy_row& r) -> result<bool> {
                auto value = detail::decode_row<E>(r);
                if (!value) {
                    return tl::unexpected(std::move(value).error());
                }
                using R = std::invoke_result_t<F&, const E&>;
                if constexpr (std::is_void_v<R>) {
                    std::invoke(sink, std::as_const(*value));
                    return true;
                } else if constexpr (std::same_as<R, bool>) {
                    return std::invoke(sink, std::as_const(*value));
                } else if constexpr (std::same_as<R, result<void>>) {
                    return std::invoke(sink, std::as_const(*value)).map([] { return true; });
                } else {
                    return std::invoke(sink, std::as_const(*value));
                }
            });
    }

    /// Inserts every row of an input range (read once, never held in memory all at once).
    /// Up to `small_batch` rows: one multi-row INSERT ... VALUES. More: COPY FROM STDIN for the
    /// whole range.
    /// The version starts at 1 and created_at/updated_at are set (by the client's clock under
    /// COPY). Returns the number of rows stored; nothing is returned for generated columns (use
    /// insert() for that). Outside a transaction a failure part-way through COPY stores
    /// nothing; multi-row INSERT chunks are each atomic.
    template <std::ranges::input_range R>
    requires std::convertible_to < std::ranges::range_reference_t<R>,
    const E& >
        [[nodiscard]] result<std::uint64_t> insert_many(R&& rows,
                                                        std::size_t small_batch = 256) const {
        if (small_batch == 0) {
            small_batch = 1;
        }
        std::vector<E> pending;
        pending.reserve(small_batch);
        auto it = std::ranges::begin(rows);
        auto end = std::ranges::end(rows);
        for (; it != end && pending.size() <= small_batch; ++it) {
            pending.push_back(*it);
        }
        if (pending.size() <= small_batch) {
            return insert_values(pending);  // the whole range fitted: one statement
        }
        const auto& s = sql();
        auto copy = detail::copy_session::open(exec_, s.copy_schema, s.copy_table,
                                               detail::copy_column_names<E>());
        if (!copy) {
            return tl::unexpected(std::move(copy).error());
        }
        const auto now = std::chrono::system_clock::now();
        auto write = [&](const E& value) -> result<void> {
            return detail::write_copy_row(
                value, now, [&](const auto&... fields) { return copy->write(fields...); });
        };
        for (const E& value : pending) {
            auto written = write(value);
            if (!written) {
                return tl::unexpected(std::move(written).error());
            }
        }
        pending.clear();
        pending.shrink_to_fit();
        for (; it != end; ++it) {
            auto written = write(*it);
            if (!written) {
                return tl::unexpected(std::move(written).error());
            }
        }
        return copy->finish();
    }

  private:
    /// Calls fn(page_query_input) for `filter` in the current scope.
    template <class F>
    [[nodiscard]] auto with_page_input(const where<E>& filter, F&& fn) const
        -> decltype(fn(std::declval<const detail::page_query_input&>())) {
        auto condition = detail::filter_condition(sql(), filter.node(), scope_);
        if (!condition) {
            return tl::unexpected(std::move(condition).error());
        }
        const detail::page_query_input input{
            sql(), scope_, condition->sql, condition->params, cursor_key_.get(), *keyset_};
        return fn(input);
    }

    [[nodiscard]] static result<pgkit::page<E>> decode_page(detail::raw_page raw) {
        pgkit::page<E> out;
        out.items.reserve(raw.order.size());
        for (std::size_t index : raw.order) {
            auto value = detail::decode_row<E>(raw.rows[index]);
            if (!value) {
                return tl::unexpected(std::move(value).error());
            }
            out.items.push_back(std::move(*value));
        }
        out.has_next = raw.has_next;
        out.has_previous = raw.has_previous;
        out.next_cursor = std::move(raw.next_cursor);
        out.previous_cursor = std::move(raw.previous_cursor);
        out.total_is = raw.total_is;
        out.total = raw.total;
        return out;
    }

    /// update()'s statement: the row as stored, or nullopt when no live row has value's key
    /// (and version).
    [[nodiscard]] result<std::optional<E>> write_checked(const E& value) const {
        parameters params;
        detail::add_columns(params, value, sql().update_params);
        detail::add_key<E>(params, detail::key_of(value));
        if constexpr (has_version) {
            params.add(value.*entity<E>::version);
        }
        auto rows = exec_.run(sql().update, params);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return std::optional<E>{};
        }
        auto stored = detail::decode_row<E>((*rows)[0]);
        if (!stored) {
            return tl::unexpected(std::move(stored).error());
        }
        return std::optional<E>{std::move(*stored)};
    }

    /// Runs a built statement; the number of rows it changed.
    [[nodiscard]] result<std::uint64_t> affected(result<detail::statement> statement) const {
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        auto rows = exec_.run(statement->sql, statement->params);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        return rows->affected_rows();
    }

    /// One multi-row INSERT ... VALUES for `rows`.
    [[nodiscard]] result<std::uint64_t> insert_values(const std::vector<E>& rows) const {
        if (rows.empty()) {
            return std::uint64_t{0};
        }
        parameters params;
        params.reserve(rows.size() * sql().insert_params.size());
        for (const E& value : rows) {
            detail::add_columns(params, value, sql().insert_params);
        }
        auto done = exec_.run(detail::insert_values_sql(sql(), rows.size()), params, false);
        if (!done) {
            return tl::unexpected(std::move(done).error());
        }
        return done->affected_rows();
    }

    [[nodiscard]] repository with_scope(detail::row_scope scope) const {
        repository copy{*this};
        copy.scope_ = scope;
        return copy;
    }
    [[nodiscard]] std::size_t scope_index() const noexcept {
        return static_cast<std::size_t>(scope_);
    }
    [[nodiscard]] static const detail::entity_sql& sql() { return detail::sql_of<E>(); }
    [[nodiscard]] static error not_found(std::string_view why) {
        return detail::row_not_found_error(entity<E>::table, why);
    }

    /// Runs a prebuilt statement whose parameters are the key's columns; its rows in binary
    /// format when `binary` accepts them (for statements whose rows decode into E).
    [[nodiscard]] result<query_result> run_key(const std::string& statement,
                                               const key_type& key,
                                               access where = access::write,
                                               binary_rows_filter binary = nullptr) const {
        parameters params;
        detail::add_key<E>(params, key);
        return where == access::read ? exec_.read_rows(statement, params, binary)
                                     : exec_.run_rows(statement, params, binary);
    }

    template <std::size_t... Is>
    static void add_key_arrays(parameters& params,
                               std::span<const key_type> keys,
                               std::index_sequence<Is...>) {
        auto add_part = [&](auto index) {
            using T = std::tuple_element_t<decltype(index)::value, key_type>;
            std::vector<T> part;
            part.reserve(keys.size());
            for (const auto& k : keys) {
                part.push_back(std::get<decltype(index)::value>(k));
            }
            params.add(part);
        };
        (add_part(std::integral_constant<std::size_t, Is>{}), ...);
    }

    [[nodiscard]] static result<E> one_row(result<query_result> rows) {
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        auto only = rows->one();
        if (!only) {
            return tl::unexpected(std::move(only).error());
        }
        return detail::decode_row<E>(*only);
    }

    /// An update or checked remove matched no row: tells not_found from version_conflict.
    [[nodiscard]] result<E> explain_no_match(const key_type& key, std::optional<E>* current) const {
        if constexpr (!has_version) {
            (void)key;
            (void)current;
            return tl::unexpected(not_found("no live row with this key"));
        } else {
            auto rows = run_key(sql().probe, key);
            if (!rows) {
                return tl::unexpected(std::move(rows).error());
            }
            if (rows->empty()) {
                return tl::unexpected(not_found("no row with this key"));
            }
            auto stored = detail::decode_row<E>((*rows)[0]);
            if (!stored) {
                return stored;
            }
            if constexpr (has_soft_delete) {
                if (((*stored).*entity<E>::soft_delete).has_value()) {
                    return tl::unexpected(not_found("the row is soft-deleted"));
                }
            }
            const auto version = static_cast<std::int64_t>((*stored).*entity<E>::version);
            if (current != nullptr) {
                *current = std::move(*stored);
            }
            return tl::unexpected(detail::version_conflict_error(entity<E>::table, version));
        }
    }

    detail::executor exec_;
    detail::row_scope scope_;
    std::shared_ptr<detail::keyset_cache> keyset_;
    std::shared_ptr<const cursor_key> cursor_key_;
};

}  // namespace pgkit
