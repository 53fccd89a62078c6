// notify(): NOTIFY through pg_notify, with the channel and the payload as bound values.

#include "pgkit/connection.hpp"
#include "pgkit/listener.hpp"
#include "pgkit/transaction.hpp"

#include <fmt/format.h>

namespace pgkit {
namespace {

constexpr std::string_view notify_sql = "SELECT pg_catalog.pg_notify($1, $2)";

/// invalid_argument when listen() would refuse the channel (the same rules, so whatever can be
/// sent can be listened to).
result<void> check_channel(std::string_view channel) {
    auto quoted = connection::quote_identifier(channel);
    if (!quoted) {
        auto e = quoted.error();
        e.with_context("notify: channel name");
        return tl::unexpected(std::move(e));
    }
    return {};
}

/// The statement's outcome; the server's refusal of a long payload (22023 "payload string too
/// long") says what the limit is.
result<void> outcome(result<query_result> sent, std::string_view payload) {
    if (sent) {
        return {};
    }
    auto e = std::move(sent).error();
    if (e.sqlstate() == "22023" && e.message().find("payload") != std::string::npos) {
        e.with_context(fmt::format(
            "notify: the payload is {} bytes; PostgreSQL accepts at most 7999 (its limit is "
            "8000 bytes, exclusive, with the default 8 kB block size)",
            payload.size()));
    }
    return tl::unexpected(std::move(e));
}

}  // namespace

result<void> notify(connection& conn, std::string_view channel, std::string_view payload) {
    if (auto valid = check_channel(channel); !valid) {
        return valid;
    }
    return outcome(conn.execute(notify_sql, channel, payload), payload);
}

result<void> notify(transaction& tx, std::string_view channel, std::string_view payload) {
    if (auto valid = check_channel(channel); !valid) {
        return valid;
    }
    return outcome(tx.execute(notify_sql, channel, payload), payload);
}

}  // namespace pgkit
