#pragma once

/// A bounded, least-recently-used cache of prepared statements for one connection.
///
/// The first execute() of a SQL text prepares it on the server under a generated name
/// (`pgkit_<n>`; names starting with `pgkit_` are reserved for this cache) and later executes
/// skip parsing and planning. When the cache is full, the least recently used statement is
/// deallocated on the server. When the server no longer knows a statement (SQLSTATE 26000, e.g.
/// after DISCARD ALL, or a proxy that moved the session) or its plan no longer fits a changed
/// table (0A000 "cached plan must not change result type"), the statement is prepared again and
/// run once more, transparently, unless the session is inside a transaction (then the error is
/// returned: the transaction is already aborted; the next use re-prepares).
///
/// Binary rows. A caller that decodes every column itself (a repository decoding entities) passes
/// a binary_rows_filter: once the statement has run and its result's column types are known,
/// later executes ask for the rows in binary format (query_result.hpp, row_format) when the
/// filter accepts those types. The column types of a prepared statement's result cannot change
/// while it exists (the server reports 0A000 instead, and the statement is prepared afresh and
/// its types learned again), so a binary row always holds the types the filter accepted.
///
/// Key reads. A statement of the key-read shape (a SELECT of plain columns of one table filtered
/// only by `column = $n`, `column = ANY($n)` and `column IS [NOT] NULL`; src/sql/key_read_shape.hpp
/// has the grammar) is recognised from its text when it is first cached, whoever wrote it: a
/// repository's get, find and single-key find_many, or application SQL. Its first successful
/// execute learns the one table its columns come from (the result's PQftable); later executes
/// tell the connection, which then needs no session check after a lease of such reads of a table
/// it knows to be inert, only a proof that the table still is (connection::key_read_proof_pending,
/// docs/pool.md "Key reads"). What the cache prepares for such a text is the text with the proof
/// appended to its WHERE clause as one more condition on two parameters of its own, which the
/// session supplies: a key read that follows such a lease carries the proof inside itself, and
/// otherwise proves nothing (the condition holds, and the rows are the text's own).
///
/// Thread safety: none; a cache belongs to exactly one connection, used by one thread at a time.
/// Pools keep one per pooled connection, so a reconnect starts with an empty cache.

#include "pgkit/connection.hpp"
#include "pgkit/error.hpp"
#include "pgkit/query_result.hpp"

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgkit {

class statement_cache {
  public:
    /// `capacity` 0 disables caching: execute() then runs the statement unprepared.
    explicit statement_cache(std::size_t capacity) noexcept : capacity_(capacity) {}
    statement_cache(statement_cache&&) noexcept = default;
    statement_cache& operator=(statement_cache&&) noexcept = default;
    statement_cache(const statement_cache&) = delete;
    statement_cache& operator=(const statement_cache&) = delete;

    /// Runs `sql` on `conn` as a prepared statement (prepared on first use), its rows in binary
    /// format when `binary` accepts their column types, as a key read when its text has the
    /// key-read shape (see the file comment). Errors are the statement's own, as
    /// connection::execute_params reports them.
    [[nodiscard]] result<query_result> execute(connection& conn,
                                               std::string_view sql,
                                               const parameters& params,
                                               binary_rows_filter binary = nullptr);

    /// How a statement runs in a pipeline (pipeline.hpp), which prepares it in the same round
    /// trip: the name to run it under; whether the pipeline must prepare it first, and the text
    /// to prepare; a statement to deallocate first to make room (empty when none); how many
    /// parameters to add after the caller's (a key read's proof, which in a pipeline proves
    /// nothing: each is "0").
    struct pipeline_use {
        std::string name;
        bool prepare = false;
        std::string text;
        std::string evict;
        int extra_parameters = 0;
    };
    /// The pipeline use of `sql`, counted as a hit or a miss; nullopt when caching is off.
    [[nodiscard]] std::optional<pipeline_use> use_in_pipeline(std::string_view sql);
    /// Forgets the statement prepared under `name` (its prepare failed, or the server lost it).
    void forget_name(std::string_view name) noexcept;

    /// Forgets every statement without telling the server (after the session's statements were
    /// dropped, e.g. by DISCARD ALL or DEALLOCATE ALL).
    void clear() noexcept;

    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    /// Executes that found their statement prepared, and those that prepared it.
    [[nodiscard]] std::uint64_t hits() const noexcept { return hits_; }
    [[nodiscard]] std::uint64_t misses() const noexcept { return misses_; }
    /// Executes that asked for binary rows.
    [[nodiscard]] std::uint64_t binary_executions() const noexcept { return binary_executions_; }

  private:
    struct entry {
        std::string sql;
        std::string name;
        /// The result's column types, known after the first successful execute.
        std::vector<std::uint32_t> column_types;
        bool column_types_known = false;
        /// For a key read: the table every column comes from, once known (0: none, or not yet).
        std::uint32_t read_table = 0;
        /// For a text of the key-read shape: the text prepared, `sql` with the proof's condition
        /// (empty for any other text).
        std::string key_read_sql;

        /// Whether the text has the key-read shape.
        [[nodiscard]] bool key_read() const noexcept { return !key_read_sql.empty(); }
        /// The text prepared under `name`.
        [[nodiscard]] std::string_view prepared_sql() const noexcept {
            return key_read() ? std::string_view{key_read_sql} : std::string_view{sql};
        }
    };
    struct text_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const noexcept {
            return std::hash<std::string_view>{}(text);
        }
    };
    using lru_list = std::list<entry>;

    [[nodiscard]] result<lru_list::iterator> prepare_new(connection& conn, std::string_view sql);
    /// Adds an entry for `sql` under a new name, evicting the least recently used one when
    /// full; the evicted entry's name, or empty.
    [[nodiscard]] std::string add_entry(std::string_view sql, lru_list::iterator& added);
    void forget(lru_list::iterator it) noexcept;
    /// Binary when `binary` accepts the entry's known column types (counted), else text.
    [[nodiscard]] row_format format_for(const entry& e, binary_rows_filter binary) noexcept;
    static void learn_column_types(entry& e, const query_result& rows);
    /// Parameters the prepared text takes after the caller's.
    [[nodiscard]] static int extra_parameters(const entry& e) noexcept;
    /// Runs the entry's statement, as a key read of its table when it is one (the first run
    /// learns the table); then learns the result's column types.
    [[nodiscard]] result<query_result> run(connection& conn,
                                           entry& e,
                                           const parameters& params,
                                           row_format format);

    std::size_t capacity_;
    std::uint64_t next_id_ = 1;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
    std::uint64_t binary_executions_ = 0;
    lru_list entries_;  // most recently used first
    std::unordered_map<std::string, lru_list::iterator, text_hash, std::equal_to<>> index_;
};

}  // namespace pgkit
