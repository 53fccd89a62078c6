#include "pgkit/connection.hpp"

#include "copy/copy_text.hpp"
#include "driver/pq_session.hpp"
#include "sql/session_effects.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace pgkit {
namespace {

constexpr std::size_t max_identifier_bytes = 63;  // NAMEDATALEN - 1

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto byte = static_cast<unsigned char>(text[i]);
        std::size_t extra = 0;
        if (byte < 0x80) {
            extra = 0;
        } else if ((byte & 0xE0) == 0xC0 && byte >= 0xC2) {
            extra = 1;
        } else if ((byte & 0xF0) == 0xE0) {
            extra = 2;
        } else if ((byte & 0xF8) == 0xF0 && byte <= 0xF4) {
            extra = 3;
        } else {
            return false;
        }
        if (extra > 0 && i + extra >= text.size()) {
            return false;
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
                return false;
            }
        }
        i += extra + 1;
    }
    return true;
}

/// What a moved-from connection reports instead of crashing.
tl::unexpected<error> no_session() {
    return make_error(errc::invalid_argument, "the connection is empty (moved from)");
}

}  // namespace

// ---- parameters -------------------------------------------------------------------------------

const char* parameters::c_str(std::size_t index) const noexcept {
    const slot& s = slots_[index];
    return s.is_null ? nullptr : buffer_.data() + s.offset;
}

std::optional<std::string_view> parameters::value(std::size_t index) const noexcept {
    const slot& s = slots_[index];
    if (s.is_null) {
        return std::nullopt;
    }
    return std::string_view{buffer_}.substr(s.offset, s.length);
}

// ---- connection -------------------------------------------------------------------------------

connection::connection(std::unique_ptr<detail::pq_session> session, pooler_mode pooler) noexcept
    : session_(std::move(session)),
      behind_transaction_pooler_(pooler == pooler_mode::transaction) {}
connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;
connection::~connection() = default;

result<connection> connection::open(const connection_options& options) {
    auto session = detail::pq_session::open(options);
    if (!session) {
        return tl::unexpected(std::move(session).error());
    }
    return connection{std::move(*session), options.pooler};
}

result<connection> connection::open(std::string_view url_or_conninfo) {
    return connection_options::parse(url_or_conninfo)
        .and_then([](const connection_options& options) { return open(options); });
}

void connection::note_statement(std::string_view sql) noexcept {
    ran_since_baseline_ = true;
    if (!session_dirty_ && detail::sql::may_leave_session_state(sql, session_->lexer_options())) {
        session_dirty_ = true;
    }
}

result<void> connection::check_session_effects(std::string_view sql) const {
    if (!behind_transaction_pooler_) {
        return {};
    }
    const auto effect = detail::sql::first_definite_session_effect(sql, session_->lexer_options());
    if (!effect) {
        return {};
    }
    return make_error(
        errc::invalid_argument,
        fmt::format("{} cannot work behind a transaction-mode pooler: the next transaction may run "
                    "on another server session (docs/topology.md lists the alternatives)",
                    detail::sql::to_string(*effect)));
}

result<query_result> connection::execute_params(std::string_view sql, const parameters& params) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    if (auto allowed = check_session_effects(sql); !allowed) {
        return tl::unexpected(std::move(allowed).error());
    }
    note_statement(sql);
    return detail::to_query_result(session_->exec_params(sql, params));
}

result<query_result> connection::execute_script(std::string_view sql) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    if (auto allowed = check_session_effects(sql); !allowed) {
        return tl::unexpected(std::move(allowed).error());
    }
    note_statement(sql);
    return detail::to_query_result(session_->exec_script(sql));
}

result<void> connection::prepare(std::string_view name, std::string_view sql) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    if (behind_transaction_pooler_) {
        return make_error(errc::invalid_argument,
                          "named prepared statements cannot work behind a transaction-mode "
                          "pooler: the next transaction may run on another server session "
                          "(execute() uses the unnamed statement)");
    }
    auto prepared = session_->prepare(name, sql);
    note_prepare(name, sql);
    return prepared;
}

void connection::note_prepare(std::string_view name, std::string_view sql) {
    ran_since_baseline_ = true;
    session_->note_prepared_text(name, sql);
    if (!detail::sql::is_cache_statement_name(name)) {
        session_dirty_ = true;  // a named statement outlives the lease that prepared it
    } else if (detail::sql::may_leave_session_state(sql, session_->lexer_options())) {
        state_changing_statements_.emplace_back(name);  // e.g. a cached pg_advisory_lock($1)
    }
}

void connection::note_prepared_execution(std::string_view name) noexcept {
    ran_since_baseline_ = true;
    if (!state_changing_statements_.empty() &&
        std::find(state_changing_statements_.begin(), state_changing_statements_.end(), name) !=
            state_changing_statements_.end()) {
        session_dirty_ = true;
    }
}

result<void> connection::usable() const {
    if (!session_) {
        return no_session();
    }
    if (pipeline_open_) {
        return make_error(errc::busy,
                          "a pipeline is open on this connection: finish it first (pipeline.hpp)");
    }
    return {};
}

result<query_result> connection::execute_prepared_params(std::string_view name,
                                                         const parameters& params,
                                                         row_format format) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    note_prepared_execution(name);
    return detail::to_query_result(session_->exec_prepared(name, params, format));
}

result<query_result> connection::execute_key_read(std::string_view name,
                                                  const parameters& params,
                                                  row_format format,
                                                  std::uint32_t& table) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    auto ran = session_->exec_key_read(name, params, format);
    const std::uint32_t source = ran ? (*ran)->source_table() : 0;
    if (table == 0) {
        table = source;  // the statement's first result: its table, learned below
    }
    // Inert only when every column still comes from the table: a statement whose name now
    // resolves to another relation (a view that took the table's name) reports that one.
    const bool inert =
        ran && table != 0 && source == table && session_->table_is_inert(table) &&
        std::find(state_changing_statements_.begin(), state_changing_statements_.end(), name) ==
            state_changing_statements_.end();
    if (!inert) {
        note_prepared_execution(name);
        if (table != 0) {
            session_->learn_table_later(table);  // first seen, or forgotten by a failed proof
        }
    } else if (std::find(key_reads_.begin(), key_reads_.end(), table) == key_reads_.end()) {
        key_reads_.push_back(table);
    }
    return detail::to_query_result(std::move(ran));
}

result<void> connection::deallocate(std::string_view name) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    auto quoted = quote_identifier(name);
    if (!quoted) {
        return tl::unexpected(std::move(quoted).error());
    }
    auto done = session_->exec_script("DEALLOCATE " + *quoted);
    if (!done) {
        return tl::unexpected(std::move(done).error());
    }
    std::erase(state_changing_statements_, name);
    return {};
}

bool connection::session_state_may_be_dirty() const noexcept {
    if (session_dirty_) {
        return true;
    }
    return ran_since_baseline_ && session_ && session_->reported_settings_changed();
}

bool connection::session_state_may_outlive_check() const noexcept {
    if (session_dirty_) {
        return true;
    }
    return ran_since_baseline_ && session_ && session_->reported_identity_changed();
}

void connection::set_session_state_dirty(bool dirty) noexcept {
    session_dirty_ = dirty;
    if (!dirty && session_) {
        session_->remember_reported_settings();
        session_->drop_session_check();
        ran_since_baseline_ = false;
        key_reads_.clear();
    }
}

void connection::check_session_first(std::shared_ptr<const session_check_sql> sql) noexcept {
    if (!session_ || !sql) {
        return;
    }
    if (ran_since_baseline_) {
        session_->check_session_first(std::move(sql));
        ran_since_baseline_ = false;
    } else if (!key_reads_.empty()) {
        try {
            session_->prove_key_reads_first(sql, key_reads_);
        } catch (...) {  // no memory for the proof's list: the full check needs none
            session_->check_session_first(std::move(sql));
        }
    }
    key_reads_.clear();
}

void connection::reset_with_next_statement(std::shared_ptr<const session_check_sql> sql) noexcept {
    if (!session_ || !sql) {
        return;
    }
    // The reported settings' baseline stays the clean one: the reset brings them back to it.
    session_dirty_ = false;
    ran_since_baseline_ = false;
    key_reads_.clear();
    session_->check_session_first(std::move(sql));
}

bool connection::session_check_pending() const noexcept {
    return session_ && session_->session_check_pending();
}

bool connection::key_read_proof_pending() const noexcept {
    return session_ && session_->key_read_proof_pending();
}

void connection::begin_with_next_statement(std::string begin_sql) noexcept {
    if (session_) {
        session_->begin_with_next_statement(std::move(begin_sql));
    }
}

bool connection::drop_pending_begin() noexcept {
    return session_ && session_->drop_pending_begin();
}

std::uint64_t connection::round_trips() const noexcept {
    return session_ ? session_->round_trips() : 0;
}

bool connection::is_poisoned() const noexcept {
    return session_ && session_->poisoned();
}

result<copy_writer> connection::copy_in(std::string_view schema,
                                        std::string_view table,
                                        std::span<const std::string> columns) {
    if (auto ready = usable(); !ready) {
        return tl::unexpected(std::move(ready).error());
    }
    auto quoted_table = quote_identifier(table);
    if (!quoted_table) {
        return tl::unexpected(std::move(quoted_table).error());
    }
    std::string sql = "COPY ";
    if (!schema.empty()) {
        auto quoted_schema = quote_identifier(schema);
        if (!quoted_schema) {
            return tl::unexpected(std::move(quoted_schema).error());
        }
        sql += *quoted_schema + ".";
    }
    sql += *quoted_table;
    if (!columns.empty()) {
        sql += " (";
        for (std::size_t i = 0; i < columns.size(); ++i) {
            auto quoted = quote_identifier(columns[i]);
            if (!quoted) {
                return tl::unexpected(std::move(quoted).error());
            }
            sql += (i == 0 ? "" : ", ") + *quoted;
        }
        sql += ")";
    }
    sql += " FROM STDIN";
    ran_since_baseline_ = true;  // triggers run
    auto started = session_->copy_start(sql);
    if (!started) {
        return tl::unexpected(std::move(started).error());
    }
    return copy_writer{session_.get()};
}

result<std::string> connection::quote_identifier(std::string_view name) {
    if (name.empty()) {
        return make_error(errc::invalid_argument, "identifier is empty");
    }
    if (name.size() > max_identifier_bytes) {
        return make_error(errc::invalid_argument,
                          fmt::format("identifier is longer than {} bytes", max_identifier_bytes));
    }
    if (name.find('\0') != std::string_view::npos) {
        return make_error(errc::invalid_argument, "identifier contains a NUL byte");
    }
    if (!is_valid_utf8(name)) {
        return make_error(errc::invalid_argument, "identifier is not valid UTF-8");
    }
    std::string quoted;
    quoted.reserve(name.size() + 2);
    quoted += '"';
    for (char c : name) {
        if (c == '"') {
            quoted += '"';
        }
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

result<void> connection::cancel() const {
    if (!session_) {
        return no_session();
    }
    return session_->cancel();
}
bool connection::is_open() const noexcept {
    return session_ && session_->is_open();
}
bool connection::still_open() noexcept {
    return session_ && session_->still_open();
}
transaction_status connection::status() const noexcept {
    return session_ ? session_->status() : transaction_status::unknown;
}
int connection::backend_pid() const noexcept {
    return session_ ? session_->backend_pid() : 0;
}
host_address connection::connected_host() const {
    return session_ ? session_->connected_host() : host_address{};
}
std::optional<std::string_view> connection::reported_setting(std::string_view name) const {
    return session_ ? session_->reported_setting(name) : std::nullopt;
}
int connection::server_version() const noexcept {
    return session_ ? session_->server_version() : 0;
}
const std::string& connection::description() const noexcept {
    static const std::string empty;
    return session_ ? session_->description() : empty;
}

// ---- copy_writer ------------------------------------------------------------------------------

copy_writer::copy_writer(detail::pq_session* session) noexcept : session_(session) {}

copy_writer::copy_writer(copy_writer&& other) noexcept
    : session_(std::exchange(other.session_, nullptr)),
      line_(std::move(other.line_)),
      scratch_(std::move(other.scratch_)),
      finished_(other.finished_) {}

copy_writer& copy_writer::operator=(copy_writer&& other) noexcept {
    if (this != &other) {
        if (session_ != nullptr && !finished_) {
            session_->copy_abort();
        }
        session_ = std::exchange(other.session_, nullptr);
        line_ = std::move(other.line_);
        scratch_ = std::move(other.scratch_);
        finished_ = other.finished_;
    }
    return *this;
}

copy_writer::~copy_writer() {
    if (session_ != nullptr && !finished_) {
        session_->copy_abort();
    }
}

void copy_writer::escape_from(std::size_t start) {
    const std::size_t first =
        start + detail::first_copy_escape(std::string_view{line_}.substr(start));
    if (first == line_.size()) {
        return;  // the usual case: nothing to escape
    }
    scratch_.assign(line_, first);
    line_.resize(first);
    detail::append_copy_escaped(scratch_, line_);
}

void copy_writer::append_escaped(std::optional<std::string_view> text) {
    detail::append_copy_field(line_, text);
}

result<void> copy_writer::write_row(const parameters& values) {
    if (const auto& failure = values.encoding_error()) {
        return tl::unexpected(*failure);
    }
    if (values.size() == 0) {
        return make_error(errc::invalid_argument, "a COPY row needs at least one value");
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
        append_escaped(values.value(i));
    }
    line_.back() = '\n';
    return flush_if_large();
}

result<void> copy_writer::flush() {
    if (session_ == nullptr || finished_) {
        line_.clear();
        return make_error(errc::invalid_argument, "COPY already finished");
    }
    if (line_.size() < flush_bytes) {
        return success();
    }
    auto sent = session_->copy_send(line_);
    line_.clear();
    return sent;
}

result<std::uint64_t> copy_writer::finish() {
    if (session_ == nullptr || finished_) {
        return make_error(errc::invalid_argument, "COPY already finished");
    }
    finished_ = true;
    if (auto sent = session_->copy_send(line_); !sent) {
        session_->copy_abort();
        return tl::unexpected(std::move(sent).error());
    }
    line_.clear();
    return session_->copy_end();
}

}  // namespace pgkit
