#pragma once

/// Errors are values: every public operation returns `pgkit::result<T>`.

#include <tl/expected.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pgkit {

/// Stable error codes. The numeric values are part of the ABI: append, never renumber.
enum class errc : int {
    connection_failed = 1,  ///< could not open a connection (server down, bad credentials, ...)
    connection_lost = 2,    ///< an open connection broke (server restart, terminated backend)
    pool_timeout = 3,       ///< no pooled connection became free within acquire_timeout
    pool_closed = 4,        ///< the pool is closed or closing
    statement_timeout = 5,  ///< 57014 raised by statement_timeout
    lock_timeout = 6,       ///< 55P03: lock_timeout expired or NOWAIT could not lock
    query_canceled = 7,     ///< 57014 raised by a cancel request
    not_found = 8,          ///< no row where exactly one was expected
    version_conflict = 9,   ///< optimistic-lock version did not match
    unique_violation = 10,  ///< 23505
    foreign_key_violation = 11,   ///< 23503
    not_null_violation = 12,      ///< 23502
    check_violation = 13,         ///< 23514 (and 23P01 exclusion_violation)
    serialization_failure = 14,   ///< 40001
    deadlock_detected = 15,       ///< 40P01
    undefined_table = 16,         ///< 42P01
    undefined_column = 17,        ///< 42703
    syntax_error = 18,            ///< 42601
    insufficient_privilege = 19,  ///< 42501
    invalid_argument = 20,        ///< a caller-supplied value is malformed (URL, NUL in text, ...)
    invalid_cursor = 21,          ///< a pagination cursor is tampered, foreign or expired
    internal = 22,                ///< a pgkit bug or a server-side XX000-class internal error
    data_exception = 23,          ///< class 22 from the server (overflow, bad text representation)
    type_mismatch = 24,           ///< a value read from the server does not fit the C++ type
    transaction_aborted = 25,     ///< 25P02: statement sent inside an already-failed transaction
    server_error = 26,            ///< any other SQLSTATE; error::sqlstate() tells which
    already_running = 27,         ///< a named job (a backfill run) is running in another session
    commit_unknown = 28,          ///< the connection was lost during COMMIT: the outcome is unknown
    read_only_node = 29,          ///< 25006 from a node in recovery: a write reached a standby
    split_brain = 30,             ///< two nodes accept writes; the pool will not pick one
    round_trip_budget_exceeded = 31,  ///< a round_trip_budget's block waited for the server more
                                      ///< often than allowed
    busy = 32,  ///< the connection is in use by something else (a pipeline is open on it)
    // 33 and 34 are reserved.
    checksum_mismatch = 35,  ///< an applied migration's source changed since (repair accepts it)
    migration_refused = 36,  ///< the migrations and the history disagree (out of order, missing,
                             ///< no DOWN to revert with, a half-applied migration in the way)
    migration_source_invalid = 37,  ///< a migration file or definition is malformed (the message
                                    ///< names the file and line)
};

/// The stable name of a code ("unique_violation"); never empty.
[[nodiscard]] std::string_view to_string(errc code) noexcept;

/// What went wrong, as a value. Copyable, cheap to move; never holds a password.
class error {
  public:
    error(errc code, std::string message);

    [[nodiscard]] errc code() const noexcept { return code_; }
    /// Redacted, human-readable message (no password, ever).
    [[nodiscard]] const std::string& message() const noexcept { return message_; }
    /// Five-character SQLSTATE when the server reported one, else empty.
    [[nodiscard]] const std::string& sqlstate() const noexcept { return sqlstate_; }
    /// Names the server reported with the error (empty when it did not).
    [[nodiscard]] const std::string& schema_name() const noexcept { return schema_; }
    [[nodiscard]] const std::string& table_name() const noexcept { return table_; }
    [[nodiscard]] const std::string& column_name() const noexcept { return column_; }
    [[nodiscard]] const std::string& constraint_name() const noexcept { return constraint_; }
    /// The server's DETAIL and HINT lines (may contain row values; empty when absent).
    [[nodiscard]] const std::string& detail() const noexcept { return detail_; }
    [[nodiscard]] const std::string& hint() const noexcept { return hint_; }
    /// True when the failing statement ran inside an explicit transaction block.
    [[nodiscard]] bool in_transaction() const noexcept { return in_transaction_; }
    /// For version_conflict: the version the row has now (nullopt for other errors, or when the
    /// row's version is not known).
    [[nodiscard]] std::optional<std::int64_t> current_version() const noexcept {
        return current_version_;
    }

    /// Worth running again unchanged, from the start of the transaction it ran in (or the
    /// statement, outside one): serialization failures, deadlocks, lock timeouts; a lost
    /// connection when nothing can have been applied: inside a transaction block before COMMIT
    /// (the server rolled it back), or outside one when the server reported why it closed the
    /// session (a SQLSTATE such as 57P01 instead of the statement's result); and failures to get
    /// a connection at all (pool_timeout, connection_failed other than bad credentials or a
    /// missing database); and a write that reached a standby (read_only_node: nothing was
    /// written, and a pool connects the next attempt to the node that is primary now). Not a
    /// connection that vanished mid-statement outside a transaction, nor commit_unknown: that work
    /// may have been applied. pgkit's own retries (with_transaction, the backfill runner) ask this
    /// predicate.
    [[nodiscard]] bool is_retryable() const noexcept;
    /// The connection that produced this error must not be reused (a pool drops it).
    [[nodiscard]] bool poisons_connection() const noexcept;

    /// "unique_violation [23505]: duplicate key value ... (constraint users_email_key)".
    [[nodiscard]] std::string to_string() const;

    error& with_sqlstate(std::string sqlstate);
    error& with_location(std::string schema,
                         std::string table,
                         std::string column,
                         std::string constraint);
    error& with_detail(std::string detail, std::string hint);
    error& with_in_transaction(bool in_transaction) noexcept;
    error& with_current_version(std::int64_t version) noexcept;
    /// Prefixes the message with where the error happened ("statement 3 of the pipeline: ...").
    error& with_context(std::string_view context);

    friend bool operator==(const error& a, const error& b) = default;

  private:
    errc code_;
    bool in_transaction_ = false;
    std::string message_;
    std::string sqlstate_;
    std::string schema_;
    std::string table_;
    std::string column_;
    std::string constraint_;
    std::string detail_;
    std::string hint_;
    std::optional<std::int64_t> current_version_;
};

/// The result of every public operation.
template <class T>
using result = tl::expected<T, error>;

/// A successful result<void>, for hot paths (value encoders, COPY rows). `return {};`
/// value-initialises tl::expected, which zero-fills the storage of the whole error first (a few
/// hundred bytes); this default-initialises it and only sets the has-value flag.
[[nodiscard]] inline result<void> success() noexcept {
    result<void> done;
    return done;
}

/// Shorthand for `tl::unexpected<error>{error{code, message}}`.
[[nodiscard]] inline tl::unexpected<error> make_error(errc code, std::string message) {
    return tl::unexpected<error>{error{code, std::move(message)}};
}

/// Maps a SQLSTATE to pgkit's code. `message` disambiguates 57014 (statement timeout versus
/// cancel request), which share one SQLSTATE.
[[nodiscard]] errc errc_from_sqlstate(std::string_view sqlstate, std::string_view message) noexcept;

}  // namespace pgkit
