// pq_session in libpq's pipeline mode: the primitives pgkit::pipeline (src/pipeline.cpp) builds
// on. Statements are queued in libpq's output buffer and read back in order; one flush begins one
// round trip.

#include "driver/pq_session.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <string>

namespace pgkit::detail {

result<void> pq_session::enter_pipeline() {
    if (PQenterPipelineMode(conn_) != 1) {
        return tl::unexpected(
            connection_error("cannot enter pipeline mode", in_transaction_block()));
    }
    return {};
}

result<void> pq_session::exit_pipeline() {
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) {
        return {};
    }
    if (PQexitPipelineMode(conn_) != 1) {
        poisoned_ = true;  // results left unread: the session is out of step
        return tl::unexpected(connection_error("cannot leave pipeline mode", false));
    }
    return {};
}

int pq_session::queue_params(const char* sql, const parameters& params) {
    const auto arrays = to_arrays(params);
    if (!arrays) {
        return 0;
    }
    return PQsendQueryParams(conn_, sql, static_cast<int>(params.size()), nullptr,
                             arrays->values.data(), arrays->lengths.data(), nullptr, 0);
}

int pq_session::queue_prepare(const char* name, const char* sql) {
    return PQsendPrepare(conn_, name, sql, 0, nullptr);
}

int pq_session::queue_prepared(const char* name, const parameters& params) {
    const auto arrays = to_arrays(params);
    if (!arrays) {
        return 0;
    }
    return PQsendQueryPrepared(conn_, name, static_cast<int>(params.size()), arrays->values.data(),
                               arrays->lengths.data(), nullptr, 0);
}

int pq_session::queue_sync() {
    return PQpipelineSync(conn_);
}

result<void> pq_session::flush_pipeline(bool ask_server_to_flush) {
    if (ask_server_to_flush && PQsendFlushRequest(conn_) != 1) {
        return tl::unexpected(connection_error("cannot send the pipeline", in_transaction_block()));
    }
    // Blocking mode: libpq reads what the server sends while it waits to write, so a long
    // pipeline cannot deadlock on full socket buffers.
    if (PQflush(conn_) != 0) {
        return tl::unexpected(connection_error("cannot send the pipeline", in_transaction_block()));
    }
    count_round_trip();
    return {};
}

pq_session::owned_result pq_session::read_pipeline_statement() {
    return owned_result{read_command(), PQclear};
}

bool pq_session::read_pipeline_sync() {
    PGresult* res = PQgetResult(conn_);
    const bool synced = res != nullptr && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
    PQclear(res);
    if (!synced) {
        poisoned_ = true;
        return false;
    }
    if (unconfirmed_check_) {
        after_transaction_end(pipeline_committed_);
    }
    return true;
}

result<shared_result> pq_session::pipeline_result(owned_result res, bool in_transaction) {
    pipeline_committed_ = res != nullptr && PQresultStatus(res.get()) == PGRES_COMMAND_OK &&
                          std::string_view{PQcmdStatus(res.get())} == "COMMIT";
    if (res != nullptr && PQresultStatus(res.get()) == PGRES_PIPELINE_ABORTED) {
        error e{errc::transaction_aborted,
                "not run: an earlier statement of its pipeline segment failed"};
        e.with_in_transaction(in_transaction);
        return tl::unexpected(std::move(e));
    }
    if (res == nullptr && PQstatus(conn_) == CONNECTION_OK) {
        // No result although the session is open: the pipeline is out of step.
        poisoned_ = true;
    }
    return take_result(res.release(), in_transaction);
}

void pq_session::note_prepared_text(std::string_view name, std::string_view sql) {
    if (sql::kind_of_statement(sql, lexer_options_) == sql::statement_kind::query) {
        return;
    }
    const std::string statement{name};
    if (std::find(unpipelined_statements_.begin(), unpipelined_statements_.end(), statement) ==
        unpipelined_statements_.end()) {
        unpipelined_statements_.push_back(statement);
    }
}

}  // namespace pgkit::detail
