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
/// Every statement is built once per entity type (function-local static storage), every value is
/// a bound parameter and every identifier is validated and quoted. Statements run through the
/// connection's prepared-statement cache. docs/repository.md describes every operation.
///
/// Thread safety: a repository is a small value (a pool reference, an optional transaction
/// pointer, a scope); const operations on one repository may run from several threads at once
/// when it is bound to a pool. A repository bound to a transaction (in(tx)) is valid only while
/// that transaction is, and is used from the transaction's thread only.

#include "pgkit/cursor_key.hpp"
#include "pgkit/detail/entity_sql.hpp"
#include "pgkit/detail/keyset_pages.hpp"
#include "pgkit/entity.hpp"
#include "pgkit/error.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/pagination.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/transaction.hpp"
#include "pgkit/types/array.hpp"
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
#include <string_view>
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

namespace detail {

/// Runs statements on a pool (one lease per statement) or inside a transaction.
class repository_executor {
  public:
    explicit repository_executor(std::shared_ptr<pool> pool) noexcept : pool_(std::move(pool)) {}
    repository_executor(std::shared_ptr<pool> pool, transaction* tx) noexcept
        : pool_(std::move(pool)), tx_(tx) {}

    /// Through the prepared-statement cache, or unprepared when `cached` is false (for SQL texts
    /// that rarely repeat, e.g. multi-row INSERTs).
    [[nodiscard]] result<query_result> run(std::string_view sql,
                                           const parameters& params,
                                           bool cached = true) const;
    [[nodiscard]] transaction* tx() const noexcept { return tx_; }
    [[nodiscard]] const std::shared_ptr<pool>& owner() const noexcept { return pool_; }

  private:
    std::shared_ptr<pool> pool_;
    transaction* tx_ = nullptr;
};

/// A server-side cursor over one SELECT: DECLARE inside the caller's transaction, or inside a
/// transaction of its own on a leased connection; FETCH FORWARD `chunk` rows at a time.
class cursor_reader {
  public:
    [[nodiscard]] static result<cursor_reader> open(const repository_executor& exec,
                                                    std::string_view select_sql,
                                                    const parameters& params,
                                                    std::size_t chunk);
    cursor_reader(cursor_reader&&) noexcept;
    cursor_reader& operator=(cursor_reader&&) noexcept;
    ~cursor_reader();
    /// The next chunk; empty at the end.
    [[nodiscard]] result<query_result> next();
    /// Closes the cursor (and commits its own transaction).
    [[nodiscard]] result<void> close();

  private:
    cursor_reader() = default;
    [[nodiscard]] result<query_result> run(std::string_view sql, const parameters& params);
    std::optional<lease> lease_;
    transaction* tx_ = nullptr;
    std::string name_;
    std::string fetch_;
    bool open_ = false;
};

/// Writes rows with COPY FROM STDIN on the executor's connection (a lease of its own, or the
/// transaction's).
class copy_session {
  public:
    [[nodiscard]] static result<copy_session> open(const repository_executor& exec,
                                                   std::string_view schema,
                                                   std::string_view table,
                                                   std::span<const std::string> columns);
    [[nodiscard]] result<void> write(const parameters& row) { return writer_->write_row(row); }
    [[nodiscard]] result<std::uint64_t> finish() { return writer_->finish(); }

  private:
    copy_session() = default;
    std::optional<lease> lease_;
    std::optional<copy_writer> writer_;
};

[[nodiscard]] error version_conflict_error(std::string_view table, std::int64_t current);
/// type_mismatch: a row of `columns` columns cannot hold an entity of `table` (`needed`).
[[nodiscard]] error row_width_error(std::string_view table,
                                    std::size_t columns,
                                    std::size_t needed);
[[nodiscard]] error row_not_found_error(std::string_view table, std::string_view why);

template <class E>
[[nodiscard]] constexpr column_role role_of(std::size_t index, column_kind kind) {
    if constexpr (has_version<E>) {
        if (index == index_of<E>(entity<E>::version)) {
            return column_role::version;
        }
    }
    if constexpr (has_soft_delete<E>) {
        if (index == index_of<E>(entity<E>::soft_delete)) {
            return column_role::soft_delete;
        }
    }
    if constexpr (has_created_at<E>) {
        if (index == index_of<E>(entity<E>::created_at)) {
            return column_role::created_at;
        }
    }
    if constexpr (has_updated_at<E>) {
        if (index == index_of<E>(entity<E>::updated_at)) {
            return column_role::updated_at;
        }
    }
    switch (kind) {
        case column_kind::defaulted:
            return column_role::defaulted;
        case column_kind::generated:
            return column_role::generated;
        case column_kind::plain:
            break;
    }
    return column_role::plain;
}

template <class T>
[[nodiscard]] constexpr std::string_view column_pg_type() {
    if constexpr (is_optional_v<T>) {
        return value_traits<typename T::value_type>::pg_type;
    } else {
        return value_traits<T>::pg_type;
    }
}

template <class E>
[[nodiscard]] table_spec make_table_spec() {
    table_spec spec;
    if constexpr (has_schema<E>) {
        spec.schema = entity<E>::schema;
    }
    spec.table = entity<E>::table;
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        (spec.columns.push_back({std::get<Is>(entity<E>::columns).name,
                                 column_pg_type<column_value_t<E, Is>>(),
                                 role_of<E>(Is, std::get<Is>(entity<E>::columns).kind)}),
         ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
    std::apply([&](auto... members) { (spec.key.push_back(index_of<E>(members)), ...); },
               entity<E>::primary_key);
    return spec;
}

/// The entity's statements, built on first use (thread-safe) and kept for the program's life.
template <class E>
[[nodiscard]] const result<entity_sql>& sql_of() {
    static const result<entity_sql> built = build_entity_sql(make_table_spec<E>());
    return built;
}

/// Calls fn(column) for the column at a run-time index.
template <class E, class F>
void visit_column(std::size_t index, F&& fn) {
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        (void)((Is == index ? (fn(std::get<Is>(entity<E>::columns)), true) : false) || ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
}

template <class E>
void add_columns(parameters& params, const E& value, const std::vector<std::size_t>& indices) {
    for (std::size_t index : indices) {
        visit_column<E>(index, [&](const auto& column) { params.add(value.*column.member); });
    }
}

template <class E>
void add_key(parameters& params, const key_t<E>& key) {
    if constexpr (std::tuple_size_v<key_members_t<E>> == 1) {
        params.add(key);
    } else {
        std::apply([&](const auto&... parts) { (params.add(parts), ...); }, key);
    }
}

template <class E>
[[nodiscard]] key_t<E> key_of(const E& value) {
    if constexpr (std::tuple_size_v<key_members_t<E>> == 1) {
        return value.*std::get<0>(entity<E>::primary_key);
    } else {
        return std::apply([&](auto... members) { return key_t<E>{value.*members...}; },
                          entity<E>::primary_key);
    }
}

template <class E>
[[nodiscard]] result<E> decode_row(const row& r) {
    if (r.size() < column_count_v<E>) {
        return tl::unexpected(row_width_error(entity<E>::table, r.size(), column_count_v<E>));
    }
    E value{};
    std::optional<error> failure;
    [&]<std::size_t... Is>(std::index_sequence<Is...>) {
        auto read = [&](auto index, const auto& column) {
            if (failure) {
                return;
            }
            using T = typename std::remove_cvref_t<decltype(column)>::value_type;
            auto field = row_fields::get<T>(r, decltype(index)::value);
            if (!field) {
                failure = std::move(field).error();
                return;
            }
            value.*column.member = std::move(*field);
        };
        (read(std::integral_constant<std::size_t, Is>{}, std::get<Is>(entity<E>::columns)), ...);
    }
    (std::make_index_sequence<column_count_v<E>>{});
    if (failure) {
        return tl::unexpected(std::move(*failure));
    }
    return value;
}

template <class E>
[[nodiscard]] result<std::vector<E>> decode_rows(const query_result& rows) {
    std::vector<E> out;
    out.reserve(rows.size());
    for (const row& r : rows) {
        auto value = decode_row<E>(r);
        if (!value) {
            return tl::unexpected(std::move(value).error());
        }
        out.push_back(std::move(*value));
    }
    return out;
}

/// Appends encoded values as parameters.
inline void add_encoded(parameters& params, const std::vector<std::optional<std::string>>& values) {
    for (const auto& value : values) {
        params.add(value);
    }
}

template <class F, class E>
concept row_visitor = std::invocable<F&, const E&> &&
    (std::is_void_v<std::invoke_result_t<F&, const E&>> ||
     std::same_as<std::invoke_result_t<F&, const E&>, result<void>>);

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
        copy.exec_ = detail::repository_executor{exec_.owner(), &tx};
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

    /// The row with this key in the current scope, or nullopt.
    [[nodiscard]] result<std::optional<E>> find(const key_type& key) const {
        auto rows = run_key(&detail::entity_sql::find, key);
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

    /// The row with this key in the current scope; not_found when there is none.
    [[nodiscard]] result<E> get(const key_type& key) const {
        auto found = find(key);
        if (!found) {
            return tl::unexpected(std::move(found).error());
        }
        if (!*found) {
            return tl::unexpected(not_found("no row with this key"));
        }
        return std::move(**found);
    }

    /// Whether a row with this key exists in the current scope.
    [[nodiscard]] result<bool> exists(const key_type& key) const {
        return run_key(&detail::entity_sql::exists, key).and_then(&query_result::scalar<bool>);
    }

    /// Every row whose key is in `keys`, in one round trip (key = ANY($1)) whatever their
    /// number; in no particular order, missing keys absent, duplicates read once.
    [[nodiscard]] result<std::vector<E>> find_many(std::span<const key_type> keys) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        parameters params;
        if constexpr (std::tuple_size_v<detail::key_members_t<E>> == 1) {
            params.add(std::vector<key_type>(keys.begin(), keys.end()));
        } else {
            add_key_arrays(params, keys, std::make_index_sequence<std::tuple_size_v<key_type>>{});
        }
        return exec_.run(sql()->find_many[scope_index()], params).and_then(&detail::decode_rows<E>);
    }

    /// Inserts one row; returns it as stored (generated and defaulted columns, version 1,
    /// created_at/updated_at now()). unique_violation, not_null_violation,
    /// foreign_key_violation and check_violation carry the constraint's name.
    [[nodiscard]] result<E> insert(const E& value) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        parameters params;
        params.reserve(sql()->insert_params.size());
        detail::add_columns(params, value, sql()->insert_params);
        return one_row(exec_.run(sql()->insert, params));
    }

    /// Writes every non-key, non-generated column of `value` to the live row with its key. With
    /// a version column the write happens only when the stored version equals value's, and
    /// increments it in the same statement. Returns the row as stored (new version,
    /// updated_at). Fails with not_found (no row with this key, or soft-deleted) or
    /// version_conflict (error::current_version() gives the stored version; `current`, when not
    /// null, receives the stored row). Telling them apart costs one query on the failure path.
    [[nodiscard]] result<E> update(const E& value, std::optional<E>* current = nullptr) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        parameters params;
        detail::add_columns(params, value, sql()->update_params);
        detail::add_key<E>(params, detail::key_of(value));
        if constexpr (has_version) {
            params.add(value.*entity<E>::version);
        }
        auto rows = exec_.run(sql()->update, params);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return explain_no_match(detail::key_of(value), current);
        }
        return detail::decode_row<E>((*rows)[0]);
    }

    /// Removes the row `value` names, checking its version when there is a version column: a
    /// soft delete (sets the timestamp, bumps the version) or a DELETE. not_found or
    /// version_conflict as for update().
    [[nodiscard]] result<void> remove(const E& value) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        parameters params;
        detail::add_key<E>(params, detail::key_of(value));
        if constexpr (has_version) {
            params.add(value.*entity<E>::version);
        }
        auto rows = exec_.run(sql()->remove_checked, params);
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
        auto rows = run_key(&detail::entity_sql::remove_by_key, key);
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
        auto rows = run_key(&detail::entity_sql::restore, key);
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
        auto rows = run_key(&detail::entity_sql::purge, key);
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
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        return exec_.run(sql()->count[scope_index()], parameters{})
            .and_then(&query_result::scalar<std::int64_t>);
    }

    /// The planner's estimate for the whole table (all scopes) and the statistics' age. Cheap
    /// at any size; rows is -1 (PostgreSQL 14+) before the first ANALYZE or VACUUM.
    [[nodiscard]] result<estimated_count_result> estimated_count() const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        auto rows = exec_.run(sql()->estimated_count, parameters{sql()->qualified_table});
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
    /// with update(); on version_conflict applies `mutate` again to the stored row (which the
    /// conflict check already read) and retries, at most policy.max_attempts attempts in all,
    /// sleeping retry_policy's backoff between them. Returns the stored row, or the final error:
    /// version_conflict when the attempts ran out, not_found, mutate's own error, or any other.
    template <class F>
    requires detail::entity_mutator<F, E> && has_version [[nodiscard]] result<E> update_with_retry(
        const key_type& key, F&& mutate, const retry_policy& policy = {}) const {
        auto current = get(key);
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
            std::optional<E> stored;
            auto written = update(changed, &stored);
            if (written || written.error().code() != errc::version_conflict ||
                attempt >= policy.max_attempts || !stored) {
                return written;
            }
            std::this_thread::sleep_for(policy.backoff(attempt));
            stored_row = std::move(*stored);
        }
    }

    // ---- Filters ---------------------------------------------------------------------------

    /// The rows in the current scope that match `filter`, ordered and limited per `options`.
    /// invalid_argument for a filter that failed to build (see filter.hpp).
    [[nodiscard]] result<std::vector<E>> find_where(const where<E>& filter,
                                                    const query_options& options = {}) const {
        auto statement = select_where(filter, options);
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        return exec_.run(statement->first, statement->second).and_then(&detail::decode_rows<E>);
    }

    /// How many rows in the current scope match `filter`.
    [[nodiscard]] result<std::int64_t> count_where(const where<E>& filter) const {
        auto condition = condition_for(filter, scope_);
        if (!condition) {
            return tl::unexpected(std::move(condition).error());
        }
        return exec_
            .run("SELECT count(*) FROM " + sql()->qualified_table + condition->first,
                 condition->second)
            .and_then(&query_result::scalar<std::int64_t>);
    }

    /// Sets columns on every live row that matches `filter` (bumping the version and
    /// updated_at); returns how many rows changed.
    template <class... Sets>
    requires(sizeof...(Sets) > 0 && (std::same_as<Sets, assignment<E>> && ...))
        [[nodiscard]] result<std::uint64_t> update_where(const where<E>& filter,
                                                         const Sets&... sets) const {
        std::vector<std::optional<std::string>> values;
        auto set_list = render_sets(values, sets...);
        if (!set_list) {
            return tl::unexpected(std::move(set_list).error());
        }
        auto condition = condition_for(filter, detail::row_scope::live, std::move(values));
        if (!condition) {
            return tl::unexpected(std::move(condition).error());
        }
        auto rows = exec_.run("UPDATE " + sql()->qualified_table + " SET " + *set_list +
                                  sql()->write_stamps + condition->first,
                              condition->second);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        return rows->affected_rows();
    }

    /// Removes every live row that matches `filter` (soft delete, or DELETE without a
    /// soft-delete column); returns how many.
    [[nodiscard]] result<std::uint64_t> remove_where(const where<E>& filter) const {
        auto condition = condition_for(filter, detail::row_scope::live);
        if (!condition) {
            return tl::unexpected(std::move(condition).error());
        }
        std::string statement =
            has_soft_delete ? "UPDATE " + sql()->qualified_table + " SET " +
                                  sql()->soft_delete_set + sql()->write_stamps + condition->first
                            : "DELETE FROM " + sql()->qualified_table + condition->first;
        auto rows = exec_.run(statement, condition->second);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        return rows->affected_rows();
    }

    /// Sets some columns of the live row with this key (no version check; the version and
    /// updated_at move on); returns the row as stored, not_found when there is none.
    template <class... Sets>
    requires(sizeof...(Sets) > 0 && (std::same_as<Sets, assignment<E>> && ...))
        [[nodiscard]] result<E> update(const key_type& key, const Sets&... sets) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        std::vector<std::optional<std::string>> values;
        auto set_list = render_sets(values, sets...);
        if (!set_list) {
            return tl::unexpected(std::move(set_list).error());
        }
        parameters params;
        detail::add_encoded(params, values);
        std::string condition;
        add_key_condition(params, key, condition);
        if (!sql()->scope_condition[0].empty()) {
            condition += " AND " + sql()->scope_condition[0];
        }
        auto rows = exec_.run("UPDATE " + sql()->qualified_table + " SET " + *set_list +
                                  sql()->write_stamps + " WHERE " + condition + sql()->returning,
                              params);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return tl::unexpected(not_found("no live row with this key"));
        }
        return detail::decode_row<E>((*rows)[0]);
    }

    /// INSERT ... ON CONFLICT: on a clash with the primary key (or options.constraint), either
    /// overwrite options.update's columns (default: every column update(e) writes; the version
    /// and updated_at move on) or, with do_nothing, keep the existing row. Returns the row as
    /// stored, or nullopt when do_nothing skipped it. invalid_argument for a bad constraint name
    /// or column; a clash on another constraint is unique_violation as for insert.
    [[nodiscard]] result<std::optional<E>> upsert(const E& value,
                                                  const on_conflict& options = {}) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        const auto& s = *sql();
        std::string statement = s.insert.substr(0, s.insert.size() - s.returning.size());
        if (options.constraint.empty()) {
            statement += " ON CONFLICT (";
            std::size_t i = 0;
            std::apply(
                [&](auto... members) {
                    ((statement +=
                      (i++ == 0 ? "" : ", ") + s.quoted_columns[detail::index_of<E>(members)]),
                     ...);
                },
                entity<E>::primary_key);
            statement += ")";
        } else {
            auto name = detail::quote_name(options.constraint);
            if (!name) {
                return tl::unexpected(std::move(name).error());
            }
            statement += " ON CONFLICT ON CONSTRAINT " + *name;
        }
        if (options.do_nothing) {
            statement += " DO NOTHING";
        } else {
            std::vector<std::size_t> columns;
            for (const auto& ref : options.update) {
                if (!ref.valid || ref.column >= s.quoted_columns.size()) {
                    return tl::unexpected(
                        error{errc::invalid_argument, "upsert: the member is not a column"});
                }
                columns.push_back(ref.column);
            }
            if (columns.empty()) {
                columns = s.update_params;
            }
            std::string sets;
            for (std::size_t c : columns) {
                sets += (sets.empty() ? "" : ", ") + s.quoted_columns[c] + " = EXCLUDED." +
                        s.quoted_columns[c];
            }
            std::string stamps = s.upsert_stamps;
            if (sets.empty() && !stamps.empty()) {
                stamps.erase(0, 2);  // drop the leading ", "
            }
            if (sets.empty() && stamps.empty()) {
                const auto& k =
                    s.quoted_columns[detail::index_of<E>(std::get<0>(entity<E>::primary_key))];
                sets = k + " = EXCLUDED." + k;
            }
            statement += " DO UPDATE SET " + sets + stamps;
            if (!s.scope_condition[0].empty()) {
                // Never resurrect or overwrite a soft-deleted row silently.
                statement += " WHERE " + s.qualified_table + "." + s.scope_condition[0];
            }
        }
        statement += s.returning;
        parameters params;
        detail::add_columns(params, value, s.insert_params);
        auto rows = exec_.run(statement, params);
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
        auto statement = select_where(filter, options);
        if (!statement) {
            return tl::unexpected(std::move(statement).error());
        }
        auto cursor = detail::cursor_reader::open(exec_, statement->first, statement->second,
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
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
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
        auto copy = detail::copy_session::open(exec_, sql()->copy_schema, sql()->copy_table,
                                               sql()->copy_columns);
        if (!copy) {
            return tl::unexpected(std::move(copy).error());
        }
        const auto now = std::chrono::system_clock::now();
        parameters params;
        auto write = [&](const E& value) -> result<void> {
            params = parameters{};
            detail::add_columns(params, value, sql()->insert_params);
            if (sql()->copy_version) {
                params.add(std::int64_t{1});
            }
            for (std::size_t i = 0; i < sql()->copy_timestamps; ++i) {
                params.add(now);
            }
            if (params.encoding_error()) {
                return tl::unexpected(*params.encoding_error());
            }
            return copy->write(params);
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
        auto condition = condition_for(filter, scope_);
        if (!condition) {
            return tl::unexpected(std::move(condition).error());
        }
        const detail::page_query_input input{
            *sql(), scope_, condition->first, condition->second, cursor_key_.get(), *keyset_};
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

    /// " WHERE <filter> AND <scope>" and its parameters (after `values`).
    [[nodiscard]] result<std::pair<std::string, parameters>> condition_for(
        const where<E>& filter,
        detail::row_scope scope,
        std::vector<std::optional<std::string>> values = {}) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        std::string condition;
        auto rendered =
            detail::render_filter(filter.node(), sql()->quoted_columns, condition, values);
        if (!rendered) {
            return tl::unexpected(std::move(rendered).error());
        }
        const auto& scoped = sql()->scope_condition[static_cast<std::size_t>(scope)];
        std::string clause = " WHERE " + condition;
        if (!scoped.empty()) {
            clause += " AND " + scoped;
        }
        parameters params;
        detail::add_encoded(params, values);
        return std::pair{std::move(clause), std::move(params)};
    }

    [[nodiscard]] result<std::pair<std::string, parameters>> select_where(
        const where<E>& filter, const query_options& options) const {
        auto condition = condition_for(filter, scope_);
        if (!condition) {
            return tl::unexpected(std::move(condition).error());
        }
        auto tail = detail::render_options(options, sql()->quoted_columns);
        if (!tail) {
            return tl::unexpected(std::move(tail).error());
        }
        return std::pair{"SELECT " + sql()->select_list + " FROM " + sql()->qualified_table +
                             condition->first + *tail,
                         std::move(condition->second)};
    }

    template <class... Sets>
    [[nodiscard]] static result<std::string> render_sets(
        std::vector<std::optional<std::string>>& values, const Sets&... sets) {
        std::string out;
        std::optional<error> failure;
        auto one = [&](const assignment<E>& set) {
            if (failure) {
                return;
            }
            if (set.failure) {
                failure = *set.failure;
                return;
            }
            values.push_back(set.value);
            if (!out.empty()) {
                out += ", ";
            }
            out += sql()->quoted_columns[set.column] + " = $" + std::to_string(values.size()) +
                   "::" + set.pg_type;
        };
        (one(sets), ...);
        if (failure) {
            return tl::unexpected(std::move(*failure));
        }
        return out;
    }

    /// Appends "k1 = $n AND k2 = $n+1" for `key`, adding its parameters.
    static void add_key_condition(parameters& params, const key_type& key, std::string& out) {
        const std::size_t first = params.size() + 1;
        detail::add_key<E>(params, key);
        std::size_t i = 0;
        std::apply(
            [&](auto... members) {
                ((out += (i == 0 ? "" : " AND ") +
                         sql()->quoted_columns[detail::index_of<E>(members)] + " = $" +
                         std::to_string(first + i),
                  ++i),
                 ...);
            },
            entity<E>::primary_key);
    }

    /// One multi-row INSERT ... VALUES for `rows` (not empty).
    [[nodiscard]] result<std::uint64_t> insert_values(const std::vector<E>& rows) const {
        if (rows.empty()) {
            return std::uint64_t{0};
        }
        std::string statement = sql()->insert_prefix + "VALUES ";
        parameters params;
        params.reserve(rows.size() * sql()->insert_params.size());
        std::size_t n = 0;
        for (std::size_t r = 0; r < rows.size(); ++r) {
            statement += r == 0 ? "(" : ", (";
            for (std::size_t p = 0; p < sql()->insert_row_pieces.size(); ++p) {
                if (p > 0) {
                    statement += ", ";
                }
                const auto& piece = sql()->insert_row_pieces[p];
                if (piece.empty()) {
                    statement += '$';
                    statement += std::to_string(++n);
                } else {
                    statement += piece;
                }
            }
            statement += ")";
            detail::add_columns(params, rows[r], sql()->insert_params);
        }
        if (sql()->insert_row_pieces.empty()) {
            statement = sql()->insert_prefix + "DEFAULT VALUES";
        }
        auto done = exec_.run(statement, params, false);
        if (!done) {
            return tl::unexpected(std::move(done).error());
        }
        return done->affected_rows();
    }

    using statement_ptr = std::string detail::entity_sql::*;
    using scoped_statement_ptr = std::array<std::string, 3> detail::entity_sql::*;

    [[nodiscard]] repository with_scope(detail::row_scope scope) const {
        repository copy{*this};
        copy.scope_ = scope;
        return copy;
    }
    [[nodiscard]] std::size_t scope_index() const noexcept {
        return static_cast<std::size_t>(scope_);
    }
    [[nodiscard]] static const result<detail::entity_sql>& sql() { return detail::sql_of<E>(); }
    [[nodiscard]] static error not_found(std::string_view why) {
        return detail::row_not_found_error(entity<E>::table, why);
    }

    [[nodiscard]] result<query_result> run_key(statement_ptr statement, const key_type& key) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        parameters params;
        detail::add_key<E>(params, key);
        return exec_.run((*sql()).*statement, params);
    }
    [[nodiscard]] result<query_result> run_key(scoped_statement_ptr statement,
                                               const key_type& key) const {
        if (!sql()) {
            return tl::unexpected(sql().error());
        }
        parameters params;
        detail::add_key<E>(params, key);
        return exec_.run(((*sql()).*statement)[scope_index()], params);
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
            auto rows = run_key(&detail::entity_sql::probe, key);
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

    detail::repository_executor exec_;
    detail::row_scope scope_;
    std::shared_ptr<detail::keyset_cache> keyset_;
    std::shared_ptr<const cursor_key> cursor_key_;
};

}  // namespace pgkit
