#pragma once

// The driver layer's session: opens a libpq connection (non-blocking, bounded by a deadline),
// hands it to libpqxx for ownership, and runs statements through the libpq handle so that every
// diagnostic field the server sends (SQLSTATE, constraint, table, column, detail, hint) reaches
// pgkit::error. Private to pgkit: nothing outside src/ includes it.

#include "pgkit/connection.hpp"
#include "pgkit/connection_options.hpp"
#include "pgkit/error.hpp"

#include "sql/lexer.hpp"
#include "sql/statement_kind.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct pg_conn;
struct pg_result;

namespace pgkit {
struct notification;
}

namespace pgkit::detail {

class pqxx_owner;

/// A result another library holds (a pqxx::result), read through that library.
class foreign_rows {
  public:
    virtual ~foreign_rows() = default;
    [[nodiscard]] virtual std::optional<std::string_view> text(
        std::size_t row, std::size_t column) const noexcept = 0;
    [[nodiscard]] virtual std::string_view column_name(std::size_t column) const noexcept = 0;
    [[nodiscard]] virtual std::uint64_t affected_rows() const noexcept = 0;
};

/// A statement's result: owns the libpq result, or another library's (foreign_rows);
/// read-only after construction.
class result_data {
  public:
    explicit result_data(pg_result* res) noexcept;
    result_data(std::unique_ptr<const foreign_rows> foreign,
                std::size_t rows,
                std::size_t columns) noexcept;
    ~result_data();
    result_data(const result_data&) = delete;
    result_data& operator=(const result_data&) = delete;

    [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
    [[nodiscard]] std::size_t columns() const noexcept { return columns_; }
    [[nodiscard]] std::optional<std::string_view> text(std::size_t row,
                                                       std::size_t column) const noexcept;
    /// text(row, c) of the first out.size() columns, in one call (out.size() <= columns()).
    void texts(std::size_t row, std::span<std::optional<std::string_view>> out) const noexcept;
    [[nodiscard]] std::string_view column_name(std::size_t column) const noexcept;
    [[nodiscard]] std::optional<std::size_t> column_index(std::string_view name) const noexcept;
    [[nodiscard]] std::uint64_t affected_rows() const noexcept;
    /// Whether the fields are in binary format (the statement asked for binary rows; a result
    /// holds one format for all its columns). A foreign result is text.
    [[nodiscard]] bool binary() const noexcept { return !binary_types_.empty(); }
    /// The column types of a result in binary format, read once for all its rows; empty for a
    /// text result.
    [[nodiscard]] std::span<const std::uint32_t> binary_column_types() const noexcept {
        return binary_types_;
    }
    /// The column's type OID (0 for a foreign result or a column out of range).
    [[nodiscard]] std::uint32_t column_type(std::size_t column) const noexcept;
    /// The OID of the table every column is a plain column of (PQftable); 0 when there is no
    /// column, a column is an expression or comes from another table, or for a foreign result.
    [[nodiscard]] std::uint32_t source_table() const noexcept;
    /// The libpq result, for the driver layer (nullptr for a foreign result).
    [[nodiscard]] const pg_result* handle() const noexcept { return res_; }

  private:
    pg_result* res_;
    std::unique_ptr<const foreign_rows> foreign_;
    std::size_t rows_;
    std::size_t columns_;
    std::vector<std::uint32_t> binary_types_;
};

using shared_result = std::shared_ptr<const result_data>;

/// A statement's outcome as the public API returns it.
[[nodiscard]] result<query_result> to_query_result(result<shared_result> raw);

/// Parameters as libpq takes them: pointers into their own NUL-terminated buffer, no copy.
struct parameter_arrays {
    std::vector<const char*> values;
    std::vector<int> lengths;
};
/// The arrays, or the parameters' encoding error; with room for `extra` values more.
[[nodiscard]] result<parameter_arrays> to_arrays(const parameters& params, std::size_t extra = 0);

class pq_session {
  public:
    /// Connects within options.connect_timeout (10 s when unset); connection_failed otherwise.
    [[nodiscard]] static result<std::unique_ptr<pq_session>> open(
        const connection_options& options);
    /// Takes over `raw` (connected; closed on failure), a session opened outside pgkit:
    /// client_encoding is switched to UTF8 if needed. `description` names it in messages;
    /// connection_failed when it is not usable.
    [[nodiscard]] static result<std::unique_ptr<pq_session>> adopt(pg_conn* raw,
                                                                   std::string description);
    ~pq_session();
    pq_session(const pq_session&) = delete;
    pq_session& operator=(const pq_session&) = delete;

    [[nodiscard]] result<shared_result> exec_params(std::string_view sql, const parameters& params);
    [[nodiscard]] result<shared_result> exec_script(std::string_view sql);
    [[nodiscard]] result<void> prepare(std::string_view name, std::string_view sql);
    [[nodiscard]] result<shared_result> exec_prepared(std::string_view name,
                                                      const parameters& params,
                                                      row_format format = row_format::text);
    /// Runs a key read the statement cache prepared from key_read_with_proof's text
    /// (session_check.hpp), `params` being the read's own: the session supplies the two last.
    /// When the proof of one table is armed and nothing else waits to go ahead of the statement
    /// (no BEGIN, no full check, no open transaction), the read carries it: one statement, one
    /// result. When that proof fails, the full reset runs and the read is sent again; when the
    /// read fails otherwise, the proof stays armed. Otherwise the read proves nothing and goes
    /// behind whatever waits, as exec_prepared.
    [[nodiscard]] result<shared_result> exec_key_read(std::string_view name,
                                                      const parameters& params,
                                                      row_format format = row_format::text);

    /// COPY ... FROM STDIN: start, send data (any chunking), end (rows stored) or abort.
    [[nodiscard]] result<void> copy_start(std::string_view copy_sql);
    [[nodiscard]] result<void> copy_send(std::string_view data);
    [[nodiscard]] result<std::uint64_t> copy_end();
    void copy_abort() noexcept;

    /// COPY ... TO STDOUT: start; then each row's line (its newline included, valid until the
    /// next call), nullopt once the server ended the COPY successfully; or stop early (with a
    /// cancel request when `cancel`) and read what is left, so the session is idle again.
    [[nodiscard]] result<void> copy_out_start(std::string_view copy_sql);
    [[nodiscard]] result<std::optional<std::string_view>> copy_out_next();
    [[nodiscard]] result<void> copy_out_stop(bool cancel);

    /// Sends a cancel request for the running statement; thread-safe.
    [[nodiscard]] result<void> cancel() const;

    [[nodiscard]] bool is_open() const noexcept;
    /// Consumes, without blocking, what the server sent while the session was idle; false when
    /// that was the session's end (a FATAL and then EOF).
    [[nodiscard]] bool still_open() noexcept;
    [[nodiscard]] transaction_status status() const noexcept;
    [[nodiscard]] int backend_pid() const noexcept;

    /// The session's socket, to wait on for input (-1 once the session is closed).
    [[nodiscard]] int socket() const noexcept;
    /// Reads, without blocking, whatever the server has sent (LISTEN's notifications among it);
    /// connection_lost (the session poisoned) when that was the session's end.
    [[nodiscard]] result<void> consume_input();
    /// The oldest notification read so far and not yet taken (by consume_input or while a
    /// statement's results were read), or nullopt.
    [[nodiscard]] std::optional<notification> take_notification();
    [[nodiscard]] int server_version() const noexcept;
    [[nodiscard]] host_address connected_host() const;
    [[nodiscard]] std::optional<std::string_view> reported_setting(std::string_view name) const;
    [[nodiscard]] const std::string& description() const noexcept { return description_; }
    /// The libpqxx connection that owns the session.
    [[nodiscard]] pqxx_owner& owner() const noexcept { return *owner_; }

    /// How pgkit's lexer must read SQL on this session: the server's standard_conforming_strings
    /// as reported when the session opened.
    [[nodiscard]] sql::lexer_options lexer_options() const noexcept { return lexer_options_; }
    /// Makes the settings the server reports now (session_reported_settings) the baseline.
    void remember_reported_settings();
    /// True when a reported setting differs from the baseline: something (a SET inside a
    /// function, SET ROLE, ...) changed the session.
    [[nodiscard]] bool reported_settings_changed() const noexcept;
    /// reported_settings_changed() for the settings RESET ALL leaves alone: who the session is
    /// (session_authorization, is_superuser). Two look-ups instead of one per setting.
    [[nodiscard]] bool reported_identity_changed() const noexcept;
    /// True once a statement failed with an error that poisons the connection.
    [[nodiscard]] bool poisoned() const noexcept { return poisoned_; }
    /// Times the session waited for the server's answer since it opened.
    [[nodiscard]] std::uint64_t round_trips() const noexcept { return round_trips_; }

    /// Arms the session check (driver/session_check.hpp): the next statement is preceded by it.
    void check_session_first(std::shared_ptr<const session_check_sql> sql) noexcept {
        pending_check_ = std::move(sql);
        pending_proof_.clear();
    }
    /// Arms the proof that `tables`, read by key reads since the last check, are still inert
    /// (session_check.hpp, "Key reads"); `sql`'s full reset runs when it fails. Nothing changes
    /// when the full check is armed already; a proof armed already gains the tables.
    void prove_key_reads_first(const std::shared_ptr<const session_check_sql>& sql,
                               std::span<const std::uint32_t> tables);
    /// Disarms it (the session was just reset in full).
    void drop_session_check() noexcept {
        pending_check_.reset();
        pending_proof_.clear();
        unconfirmed_check_.reset();
    }
    [[nodiscard]] bool session_check_pending() const noexcept { return pending_check_ != nullptr; }
    /// True while what is armed is the proof of key reads rather than the full check.
    [[nodiscard]] bool key_read_proof_pending() const noexcept {
        return pending_check_ != nullptr && !pending_proof_.empty();
    }
    /// True when this session learned that `table` is inert and no proof has failed on it since.
    [[nodiscard]] bool table_is_inert(std::uint32_t table) const noexcept;
    /// The xmin of `table`'s pg_class row as learned, as text, or "0" (no row version) when the
    /// session has forgotten the table: what a proof compares the row with.
    [[nodiscard]] const char* learned_row_version(std::uint32_t table) const noexcept;
    /// Has the next full check learn whether `table` is inert (nothing when it is known already).
    void learn_table_later(std::uint32_t table);

    /// Sends `begin_sql` (a BEGIN) ahead of the next statement, in its round trip.
    void begin_with_next_statement(std::string begin_sql) noexcept {
        pending_begin_ = std::move(begin_sql);
        begin_failed_ = false;
    }
    /// Drops a BEGIN that was waiting for a statement (or that failed); true when there was one.
    bool drop_pending_begin() noexcept {
        begin_failed_ = false;
        return !std::exchange(pending_begin_, {}).empty();
    }
    [[nodiscard]] bool begin_pending() const noexcept { return !pending_begin_.empty(); }
    /// True when the next statement carries something ahead of it (a BEGIN, the check).
    [[nodiscard]] bool prelude_pending() const noexcept {
        return pending_check_ != nullptr || !pending_begin_.empty();
    }

    // ---- pipeline mode (driver/pipeline_mode.cpp) --------------------------------------------

    /// A result read from a pipeline, owned.
    using owned_result = std::unique_ptr<pg_result, void (*)(pg_result*)>;
    /// Makes one PQsend* call; 1 when it was queued.
    using sender = std::function<int()>;

    /// One round trip in pipeline mode: what waits to go ahead of the next statement (a BEGIN,
    /// the armed session check), then `statements` (the first of which may be a BEGIN, which
    /// then goes ahead of the check), then a sync point. The statements' results in order; an
    /// error when the BEGIN ahead of them failed (they did not run) or the session was lost.
    /// When the check fails the session is reset in full and the statements are sent again.
    [[nodiscard]] result<std::vector<owned_result>> send_segment(std::span<const sender> statements,
                                                                 bool first_begins);
    /// The same with no statement: what waits to go ahead, alone (before a statement that
    /// cannot join a pipeline segment, or a pipeline that cannot carry it).
    [[nodiscard]] result<void> send_prelude_alone();

    /// Enters and leaves libpq's pipeline mode (the session must be idle).
    [[nodiscard]] result<void> enter_pipeline();
    [[nodiscard]] result<void> exit_pipeline();
    /// Queue one message each (1 when queued); nothing is read.
    [[nodiscard]] int queue_params(const char* sql, const parameters& params);
    [[nodiscard]] int queue_prepare(const char* name, const char* sql);
    [[nodiscard]] int queue_prepared(const char* name, const parameters& params);
    [[nodiscard]] int queue_sync();
    /// Asks the server to send what it has (when the queue does not end in a sync) and sends
    /// everything queued: one round trip begins.
    [[nodiscard]] result<void> flush_pipeline(bool ask_server_to_flush);
    /// One statement's results from the pipeline (the first error, else the last result), or
    /// nullptr when the session was lost.
    [[nodiscard]] owned_result read_pipeline_statement();
    /// One sync point's result: true when it was the sync point; false when the session was
    /// lost or the pipeline is out of step (the session is then poisoned). When the transaction
    /// that holds the check's resets has ended without a COMMIT, the check is armed again.
    [[nodiscard]] bool read_pipeline_sync();
    /// A pipeline statement's result as a shared_result or its error (see take_result).
    [[nodiscard]] result<shared_result> pipeline_result(owned_result res, bool in_transaction);
    /// Records what a prepared statement's text means for later pipeline segments.
    void note_prepared_text(std::string_view name, std::string_view sql);
    /// True while a transaction block is open (idle in it, or failed).
    [[nodiscard]] bool in_transaction_block() const noexcept;

  private:
    pq_session(std::unique_ptr<pqxx_owner> owner, std::string description, std::string password);
    /// True when one of the first `count` tracked_settings differs from the baseline.
    [[nodiscard]] bool first_reported_settings_changed(std::size_t count) const noexcept;
    /// What open and adopt share once a handle is connected.
    [[nodiscard]] static result<std::unique_ptr<pq_session>> take_over(pg_conn* raw,
                                                                       std::string description,
                                                                       std::string password);

    /// exec_prepared with its parameters as libpq takes them.
    [[nodiscard]] result<shared_result> exec_prepared_arrays(std::string_view name,
                                                             const parameter_arrays& arrays,
                                                             row_format format);
    /// Reads the results of the command a PQsend* call (returning `sent`) started.
    [[nodiscard]] result<shared_result> collect(int sent, bool was_in_transaction);
    /// Reads one command's results: the first error, else the last result (nullptr when there
    /// was none); the caller owns it. A COPY in progress ends the command's results for now.
    [[nodiscard]] pg_result* read_command() noexcept;

    /// Sends a statement (`send` makes the PQsend* call) of the given kind, behind the BEGIN or
    /// session check that waits for it, if any.
    template <class Send>
    [[nodiscard]] result<shared_result> send_statement(sql::statement_kind kind,
                                                       Send&& send,
                                                       bool was_in_transaction) {
        if (!prelude_pending()) {
            return collect(send(), was_in_transaction);
        }
        return send_after_prelude(kind, sender{std::forward<Send>(send)}, was_in_transaction);
    }
    [[nodiscard]] result<shared_result> send_after_prelude(sql::statement_kind kind,
                                                           const sender& send,
                                                           bool was_in_transaction);
    struct segment_outcome {
        bool check_passed = true;  ///< every reset and the guard succeeded (or no check ran)
        owned_result begin{nullptr, nullptr};  ///< the prelude's BEGIN's result, if one was sent
        std::vector<owned_result> statements;  ///< null where not sent or not read
    };
    /// One round trip: [BEGIN] [statements[0] when it begins] [check] [the other statements],
    /// sync. An error only when the session is lost or out of step (then poisoned).
    [[nodiscard]] result<segment_outcome> run_segment(const session_check_sql* check,
                                                      std::span<const std::uint32_t> proof,
                                                      const std::string& begin,
                                                      std::span<const sender> statements,
                                                      bool first_begins);
    /// What the learning statement's result says of `tables`; false when it is not the
    /// statement's expected answer (nothing is learned then).
    bool learn_tables(const pg_result* res, std::span<const std::uint32_t> tables);
    /// Forgets what was learned of `tables` (their proof failed).
    void forget_tables(std::span<const std::uint32_t> tables) noexcept;
    /// The full reset, after a failed guard (rolls back the transaction the statement opened).
    [[nodiscard]] result<void> full_reset(const session_check_sql& sql);
    /// After a statement of a transaction whose BEGIN carried the check: once the transaction
    /// has ended, arms the check again unless it committed.
    void confirm_check(const pg_result* res) noexcept;
    /// The same once the transaction has ended, `committed` or not.
    void after_transaction_end(bool committed) noexcept;
    /// Counts one round trip.
    void count_round_trip() noexcept;
    /// Turns a finished libpq result into a shared_result or the error it reports.
    [[nodiscard]] result<shared_result> take_result(pg_result* res, bool was_in_transaction);
    /// An error for a failure with no result (send failed, connection dropped).
    [[nodiscard]] error connection_error(std::string_view what, bool was_in_transaction);
    [[nodiscard]] std::string scrub(std::string_view message) const;
    /// Records a failure: the connection is poisoned when the error says so.
    [[nodiscard]] error note_failure(error e) noexcept;

    /// How many of tracked_settings, from the first, are the session's identity (which RESET ALL
    /// keeps): session_authorization and is_superuser.
    static constexpr std::size_t identity_settings = 2;
    /// The reported settings a session's user can change (not server_version, in_hot_standby,
    /// ...): what remember_reported_settings keeps.
    static constexpr std::array<const char*, 9> tracked_settings{"session_authorization",
                                                                 "is_superuser",
                                                                 "application_name",
                                                                 "TimeZone",
                                                                 "DateStyle",
                                                                 "IntervalStyle",
                                                                 "client_encoding",
                                                                 "standard_conforming_strings",
                                                                 "default_transaction_read_only"};

    std::unique_ptr<pqxx_owner> owner_;
    pg_conn* conn_;
    std::string description_;
    std::string password_;  // only to scrub it out of server and libpq messages
    sql::lexer_options lexer_options_{};
    std::array<std::string, tracked_settings.size()> baseline_{};
    bool poisoned_ = false;
    std::uint64_t round_trips_ = 0;
    std::shared_ptr<const session_check_sql> pending_check_;
    /// With pending_check_: the tables whose proof goes instead of the full check, or empty.
    std::vector<std::uint32_t> pending_proof_;
    /// What a learning statement found of a table (session_check.hpp, "Key reads").
    struct table_fact {
        std::uint32_t table = 0;
        bool inert = false;
        std::string row_version;  ///< the pg_class row's xmin, as text
    };
    std::vector<table_fact> table_facts_;
    /// Tables the next full check learns about.
    std::vector<std::uint32_t> tables_to_learn_;
    /// The check whose resets ran inside a transaction that has not committed yet.
    std::shared_ptr<const session_check_sql> unconfirmed_check_;
    /// A BEGIN that goes ahead of the next statement, or empty.
    std::string pending_begin_;
    /// The BEGIN that went ahead of a statement failed: like a failed transaction block, the
    /// session refuses statements (without sending them) until drop_pending_begin().
    bool begin_failed_ = false;
    /// The last statement read from a pipeline was a successful COMMIT.
    bool pipeline_committed_ = false;
    bool check_prepared_ = false;  ///< the check's statements exist on the server
    /// The role the guard expects (RESET ROLE's value, read by the session's first check), or
    /// empty until that check passed.
    std::string expected_role_;
    /// The last row copy_out_next returned (libpq's buffer), freed by the next call.
    char* copy_out_row_ = nullptr;
    /// copy_out_start is reading its statement's first result: COPY OUT is what it expects.
    bool copy_out_expected_ = false;
    /// Names of statements prepared with text that cannot join a pipeline segment.
    std::vector<std::string> unpipelined_statements_;
};

}  // namespace pgkit::detail
