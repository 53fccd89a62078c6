#pragma once

/// One PostgreSQL session. Pools hand these out; applications can also open one directly.

#include "pgkit/connection_options.hpp"
#include "pgkit/copy_row.hpp"
#include "pgkit/error.hpp"
#include "pgkit/query_result.hpp"
#include "pgkit/value_traits.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgkit {

namespace detail {
class pq_session;       // the driver layer's session; see src/driver/
struct session_access;  // the driver layer's view of a connection (src/driver/session_access.hpp)
}  // namespace detail

class pipeline;
struct pipeline_options;

/// Bound parameter values in text form, built from any sql_parameter. Encoding errors are kept
/// and reported by the statement that uses them, so building never fails midway.
class parameters {
  public:
    parameters() = default;
    template <sql_parameter... Args>
    explicit parameters(const Args&... args) {
        reserve(sizeof...(Args));
        (add(args), ...);
    }

    template <sql_parameter T>
    parameters& add(const T& value) {
        if (error_) {
            return *this;
        }
        const std::size_t start = buffer_.size();
        auto present = encode_value(value, buffer_);
        if (!present) {
            error_ = std::move(present).error();
            return *this;
        }
        slots_.push_back({start, buffer_.size() - start, !*present});
        buffer_.push_back('\0');  // text values never contain NUL; libpq wants C strings
        return *this;
    }

    void reserve(std::size_t count) { slots_.reserve(count); }
    [[nodiscard]] std::size_t size() const noexcept { return slots_.size(); }
    /// The text of parameter i (nullopt for NULL). Precondition: index < size().
    [[nodiscard]] std::optional<std::string_view> value(std::size_t index) const noexcept;
    /// The same as a NUL-terminated string, nullptr for NULL; valid while *this is unchanged.
    [[nodiscard]] const char* c_str(std::size_t index) const noexcept;
    /// The first encoding error, if any.
    [[nodiscard]] const std::optional<error>& encoding_error() const noexcept { return error_; }

  private:
    struct slot {
        std::size_t offset;
        std::size_t length;
        bool is_null;
    };
    std::string buffer_;
    std::vector<slot> slots_;
    std::optional<error> error_;
};

/// What a session check runs besides its own statements (connection::check_session_first).
struct session_check_sql {
    /// One statement that applies again the settings RESET ALL takes away (a pool's
    /// session_options in set_statements mode), or empty.
    std::string restore;
    /// The script that clears everything when the check finds state only it can clear (a pool's
    /// reset: the equivalent of DISCARD ALL that keeps the statement cache); a fresh seed for
    /// random() is appended to it.
    std::string full_reset;
    /// Statements sent ahead of the check's own, in the same round trip, when it stands for the
    /// reset of a session known to be dirty (connection::reset_with_next_statement): what that
    /// reset does beyond the check (SET SESSION AUTHORIZATION DEFAULT, UNLISTEN *, deallocating
    /// named statements). Empty for the check of a clean session.
    std::vector<std::string> extra;
};

/// The state of the session's transaction, as libpq reports it.
enum class transaction_status { idle, active, in_transaction, in_failed_transaction, unknown };

/// Writes rows into a table with COPY ... FROM STDIN (text format). Obtained from
/// connection::copy_in; the connection is busy until finish() or destruction (which aborts).
class copy_writer {
  public:
    copy_writer(copy_writer&&) noexcept;
    copy_writer& operator=(copy_writer&&) noexcept;
    ~copy_writer();

    /// Appends one row; values are encoded through the type mapping. Buffered: data goes to the
    /// server in large chunks.
    template <sql_parameter... Args>
    requires(sizeof...(Args) > 0) [[nodiscard]] result<void> write_row(const Args&... values) {
        const std::size_t mark = line_.size();
        std::optional<error> failure;
        std::size_t column = 0;
        (append_field(values, column++, failure), ...);
        if (failure) {
            line_.resize(mark);
            return tl::unexpected(std::move(*failure));
        }
        line_.back() = '\n';  // replaces the last field separator
        return flush_if_large();
    }
    /// Appends one row from a parameters list.
    [[nodiscard]] result<void> write_row(const parameters& values);

    /// Ends the COPY; returns the number of rows the server stored.
    [[nodiscard]] result<std::uint64_t> finish();

  private:
    friend class connection;
    explicit copy_writer(detail::pq_session* session) noexcept;

    /// Whether T's text (or an optional T's) is a number or a boolean: no byte COPY escapes.
    template <class T>
    static constexpr bool is_plain_number() {
        using plain = std::remove_cvref_t<T>;
        if constexpr (is_optional_v<plain>) {
            return std::is_arithmetic_v<typename plain::value_type>;
        } else {
            return std::is_arithmetic_v<plain>;
        }
    }

    /// Encodes straight into the row; only a field that holds a byte COPY must escape is
    /// rewritten (escape_from).
    template <class T>
    void append_field(const T& value, std::size_t, std::optional<error>& failure) {
        if (failure) {
            return;
        }
        const std::size_t start = line_.size();
        auto present = encode_value(value, line_);
        if (!present) {
            failure = std::move(present).error();
            return;
        }
        if (*present) {
            if constexpr (!is_plain_number<T>()) {
                escape_from(start);
            }
            line_ += '\t';
        } else {
            line_ += "\\N\t";
        }
    }
    /// Escapes, in place, the field text that starts at line_[start].
    void escape_from(std::size_t start);
    void append_escaped(std::optional<std::string_view> text);
    /// Sends the rows buffered so far once they fill a chunk; inline for the usual case of a
    /// row that does not.
    [[nodiscard]] result<void> flush_if_large() {
        if (line_.size() < flush_bytes && session_ != nullptr && !finished_) {
            return success();
        }
        return flush();
    }
    /// flush_if_large's other cases: sends the chunk, or invalid_argument after finish().
    [[nodiscard]] result<void> flush();

    /// The size of the chunks sent to the server.
    static constexpr std::size_t flush_bytes = 256 * 1024;

    detail::pq_session* session_;
    std::string line_;
    std::string scratch_;
    bool finished_ = false;
};

/// A single session with a PostgreSQL server.
///
/// Not thread-safe: use one connection from one thread at a time (cancel() excepted). Movable,
/// not copyable. Only client_encoding=UTF8 and application_name are set at open; values decode
/// the same under any TimeZone, bytea_output or IntervalStyle, and a session whose DateStyle
/// output is not ISO is refused (connection_failed naming the setting).
class connection {
  public:
    /// Opens a session; connection_failed (with the server's reason, redacted) when it cannot,
    /// within options.connect_timeout.
    [[nodiscard]] static result<connection> open(const connection_options& options);
    /// Parses `url_or_conninfo` first (invalid_argument when malformed).
    [[nodiscard]] static result<connection> open(std::string_view url_or_conninfo);

    connection(connection&&) noexcept;
    connection& operator=(connection&&) noexcept;
    ~connection();

    /// Runs one statement with bound parameters ($1, $2, ...). Every value is sent separately
    /// from the SQL text, so no value is ever interpreted as SQL.
    template <sql_parameter... Args>
    [[nodiscard]] result<query_result> execute(std::string_view sql, const Args&... args) {
        return execute_params(sql, parameters{args...});
    }
    [[nodiscard]] result<query_result> execute_params(std::string_view sql,
                                                      const parameters& params);

    /// Runs one or more statements without parameters (simple query protocol), e.g. DDL
    /// scripts. Returns the last statement's result.
    [[nodiscard]] result<query_result> execute_script(std::string_view sql);

    /// Prepares a named statement on this session.
    [[nodiscard]] result<void> prepare(std::string_view name, std::string_view sql);
    template <sql_parameter... Args>
    [[nodiscard]] result<query_result> execute_prepared(std::string_view name,
                                                        const Args&... args) {
        return execute_prepared_params(name, parameters{args...});
    }
    /// The rows come in `format` (query_result.hpp, row_format); binary rows are read with
    /// row::get<T> for types with a binary decoder.
    [[nodiscard]] result<query_result> execute_prepared_params(
        std::string_view name, const parameters& params, row_format format = row_format::text);

    /// Starts COPY table (columns...) FROM STDIN. Names are validated and quoted here.
    [[nodiscard]] result<copy_writer> copy_in(std::string_view table,
                                              std::span<const std::string> columns) {
        return copy_in(std::string_view{}, table, columns);
    }
    /// The same for schema.table (an empty schema: the search_path decides).
    [[nodiscard]] result<copy_writer> copy_in(std::string_view schema,
                                              std::string_view table,
                                              std::span<const std::string> columns);
    [[nodiscard]] result<copy_writer> copy_in(std::string_view table,
                                              std::initializer_list<std::string> columns) {
        return copy_in(table, std::span<const std::string>{columns.begin(), columns.size()});
    }

    /// Streams the rows of `select_sql` (a SELECT, VALUES, TABLE or WITH query) through
    /// `COPY (select_sql) TO STDOUT` in text format: one row at a time to `sink`, in constant
    /// memory whatever their number; returns the number of rows the sink received. COPY takes
    /// no parameters, so each $n is written into the text as a string literal (quotes and
    /// backslashes escaped; found by pgkit's SQL lexer, so $n inside strings, comments or names
    /// stays as it is); a literal takes the type its context asks for, as an untyped parameter
    /// does: cast where the context does not fix one ($1::int8). When the sink stops (false or
    /// an error), the COPY is cancelled (PQcancel) and what the server sent meanwhile is read
    /// and dropped, so the connection is ready for the next statement; inside a transaction
    /// block the rest is read without a cancel instead (a cancel would abort the transaction).
    /// invalid_argument for bad text or parameters; connection_lost (the connection is then
    /// poisoned) when the session ends midway; the server's errors.
    [[nodiscard]] result<std::uint64_t> copy_out(std::string_view select_sql,
                                                 const parameters& params,
                                                 const copy_row_sink& sink);
    [[nodiscard]] result<std::uint64_t> copy_out(std::string_view select_sql,
                                                 const copy_row_sink& sink) {
        return copy_out(select_sql, parameters{}, sink);
    }

    /// Quotes an identifier ("My Table" -> "\"My Table\""); invalid_argument when it is empty,
    /// longer than 63 bytes or contains a NUL byte. A dotted name is one identifier: quote each
    /// part separately.
    [[nodiscard]] static result<std::string> quote_identifier(std::string_view name);

    /// Asks the server to cancel the statement running now. Safe to call from another thread.
    [[nodiscard]] result<void> cancel() const;

    [[nodiscard]] bool is_open() const noexcept;
    /// Reads, without blocking and without a round trip, whatever the server sent since the last
    /// statement: false when the server has closed the session meanwhile (pg_terminate_backend,
    /// a restart, idle_session_timeout). Pools call it on connections that sat idle.
    [[nodiscard]] bool still_open() noexcept;
    [[nodiscard]] transaction_status status() const noexcept;
    [[nodiscard]] int backend_pid() const noexcept;
    /// e.g. 150018 for 15.18.
    [[nodiscard]] int server_version() const noexcept;
    /// The host and port this session reached (one of connection_options::hosts).
    [[nodiscard]] host_address connected_host() const;
    /// A setting the server reports in ParameterStatus messages ("in_hot_standby", "TimeZone",
    /// "server_version", ...), as last reported; nullopt when the server reported no such setting.
    [[nodiscard]] std::optional<std::string_view> reported_setting(std::string_view name) const;
    /// Where this session went, for logs (password redacted).
    [[nodiscard]] const std::string& description() const noexcept;

    /// Deallocates a named prepared statement (DEALLOCATE, the name quoted).
    [[nodiscard]] result<void> deallocate(std::string_view name);

    /// True when this session may carry state into whoever uses it next (docs/pool.md, "Reset
    /// policy"): it ran a statement that leaves state behind after its transaction ends (SET,
    /// CREATE TEMP, LISTEN, PREPARE or prepare() under a name not starting with "pgkit_",
    /// DECLARE ... WITH HOLD, DO, CALL, LOAD, session advisory locks, set_config, ...; read with
    /// pgkit's SQL lexer, so quoting and comments hide nothing), or a setting the server reports
    /// (ParameterStatus: session_authorization, TimeZone, DateStyle, application_name, ...)
    /// changed since the session was opened or last reset, e.g. inside a function. A pool
    /// resets or discards such sessions when they are returned.
    [[nodiscard]] bool session_state_may_be_dirty() const noexcept;
    /// session_state_may_be_dirty() narrowed to what the session check cannot clear: the SQL
    /// text left state, or a reported setting that RESET ALL does not restore changed
    /// (session_authorization, and is_superuser, which follows it and the role). The other
    /// reported settings need not be read back: the check resets them all. A pool under
    /// reset_policy::when_dirty asks this when a lease returns.
    [[nodiscard]] bool session_state_may_outlive_check() const noexcept;
    /// Sets the flag (for state neither the SQL text nor the server's reports show, e.g. a
    /// function that takes a session advisory lock), or clears it after the session was reset
    /// (the reported settings then become the session's baseline again).
    void set_session_state_dirty(bool dirty) noexcept;

    /// Arms the session check (docs/pool.md, "The session check"), when a statement ran since the
    /// session was opened, reset or last checked. The next statement, of whatever kind, is then
    /// preceded in the same round trip by statements that reset every setting and drop sequence
    /// state and cursors WITH HOLD, and by a guard that releases session advisory locks,
    /// re-seeds random() and stops the statement while the session listens on a channel, holds
    /// a temporary object or has a role other than its reset value: then `sql.full_reset` runs
    /// and the statement is sent again. When the statement's transaction does not commit, the
    /// check is armed again. Statements that
    /// cannot share an implicit transaction (scripts, COPY, VACUUM, ...) have it sent alone
    /// first. It clears what functions, procedures and triggers leave behind, which no reading
    /// of the SQL text can see, except a prepared statement made by SQL PREPARE inside a
    /// function. Pools arm it when a lease returns (reset_policy::when_dirty).
    void check_session_first(std::shared_ptr<const session_check_sql> sql) noexcept;
    /// For a session known to be dirty: arms `sql` (whose `extra` statements complete the check
    /// into a reset) whatever ran, and clears the dirty flag, so that the reset travels with the
    /// next statement instead of costing a round trip of its own now. Pools do this when a dirty
    /// lease returns (reset_policy::when_dirty).
    void reset_with_next_statement(std::shared_ptr<const session_check_sql> sql) noexcept;
    /// True while an armed check waits for the next statement.
    [[nodiscard]] bool session_check_pending() const noexcept;
    /// True while what waits for the next statement is, instead of the check, the proof that
    /// the tables read since the last check by key reads alone (statement_cache.hpp, "Key
    /// reads") are still inert: one statement instead of the check's four (docs/pool.md, "Key
    /// reads").
    [[nodiscard]] bool key_read_proof_pending() const noexcept;

    /// Round trips since the session opened: times it sent something and waited for the
    /// server's answer (a statement, a prepare, a script, the start and end of a COPY, a
    /// pipeline). Statements sent together in one pipeline count once; COPY data counts nothing.
    /// For tests that pin how many round trips an operation takes (take the difference).
    [[nodiscard]] std::uint64_t round_trips() const noexcept;

    /// Opens a pipeline on this session (pipeline.hpp): statements added to it go to the server
    /// together. busy when one is open already; until it ends, every other statement on this
    /// connection fails with busy.
    [[nodiscard]] result<pipeline> start_pipeline();
    [[nodiscard]] result<pipeline> start_pipeline(const pipeline_options& options);

    /// Sends `begin_sql` (a BEGIN, e.g. begin_statement(options)) together with the next
    /// statement, in its round trip, instead of alone. From now on status() reports the
    /// transaction as open. When the BEGIN fails, the statement reports its error and does not
    /// run. pool::with_transaction begins this way.
    void begin_with_next_statement(std::string begin_sql) noexcept;
    /// Forgets a BEGIN that still waits for its statement (nothing was sent); true when there
    /// was one.
    bool drop_pending_begin() noexcept;

    /// True once a statement on this session failed in a way that leaves it unusable (the
    /// connection was lost, or the driver lost track of the protocol): error::poisons_connection().
    /// Pools close such connections when they come back.
    [[nodiscard]] bool is_poisoned() const noexcept;

  private:
    friend class pipeline;
    friend struct detail::session_access;
    connection(std::unique_ptr<detail::pq_session> session, pooler_mode pooler) noexcept;
    void note_statement(std::string_view sql) noexcept;
    /// Bookkeeping for a statement prepared under `name`, and for running one.
    void note_prepare(std::string_view name, std::string_view sql);
    void note_prepared_execution(std::string_view name) noexcept;
    /// execute_prepared_params for a key read of `table` (0: unknown, then set to the table the
    /// result's columns come from): when the session knows the table is inert and every column
    /// of the result came from it, the execution arms no check, only the proof.
    [[nodiscard]] result<query_result> execute_key_read(std::string_view name,
                                                        const parameters& params,
                                                        row_format format,
                                                        std::uint32_t& table);
    /// no session, or busy while a pipeline is open; else nothing.
    [[nodiscard]] result<void> usable() const;

    /// Refuses, before sending, a statement that would leave session state behind (the target
    /// is a transaction-mode pooler); the error, or nothing.
    [[nodiscard]] result<void> check_session_effects(std::string_view sql) const;

    std::unique_ptr<detail::pq_session> session_;
    bool session_dirty_ = false;
    bool behind_transaction_pooler_ = false;
    bool pipeline_open_ = false;
    /// A statement ran since the reported settings became the baseline (only then can they
    /// have changed, so a lease that ran nothing costs no comparison).
    bool ran_since_baseline_ = false;
    /// Tables read since the baseline by key reads of inert tables only (which do not set
    /// ran_since_baseline_): check_session_first arms their proof.
    std::vector<std::uint32_t> key_reads_;
    /// Statements prepared under the cache's names whose text leaves session state behind:
    /// executing one makes the session dirty.
    std::vector<std::string> state_changing_statements_;
};

}  // namespace pgkit
