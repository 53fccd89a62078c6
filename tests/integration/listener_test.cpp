// LISTEN/NOTIFY (pgkit/listener.hpp) against the real server: delivery under load, channel
// names that need quoting, the payload limit, a terminated backend and a restarted server (on a
// cluster of the test's own), stopping and destruction with the thread waiting.
#include "pgkit/listener.hpp"

#include "pgkit/connection.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/transaction.hpp"

#include "integration/pool_test_support.hpp"
#include "support/own_server.hpp"
#include "support/silent_listener.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

using namespace std::chrono_literals;
using pgkit::errc;
using pgkit::listener_event;
using pgkit::notification;
using pgkit::notification_gap;
using pgkit::test::eventually;

/// A channel name no other test case uses.
std::string unique_channel(std::string_view stem) {
    static std::atomic<unsigned> counter{0};
    return fmt::format("{}_{}_{}", stem, ::getpid(), counter++);
}

std::unique_ptr<pgkit::listener> make_listener(pgkit::listener_options options) {
    auto made = pgkit::listener::create(std::move(options));
    REQUIRE_MESSAGE(made, (made ? std::string{} : made.error().to_string()));
    return std::move(*made);
}

pgkit::listener_options options_for(pgkit::connection_options connection) {
    pgkit::listener_options options;
    options.connection = std::move(connection);
    options.connection.application_name = pgkit::test::unique_app_name();
    options.connection.connect_timeout = 5s;
    options.reconnect.initial_backoff = 20ms;
    options.reconnect.max_backoff = 500ms;
    return options;
}

/// A started listener on the test server, subscribed to `channels`.
std::unique_ptr<pgkit::listener> started_listener(const std::vector<std::string>& channels) {
    auto listening = make_listener(options_for(pgkit::test::server_options()));
    for (const auto& channel : channels) {
        REQUIRE(listening->listen(channel));
    }
    auto started = listening->start();
    REQUIRE_MESSAGE(started, (started ? std::string{} : started.error().to_string()));
    return listening;
}

/// The next event within `limit`; fails the test when none comes.
listener_event next_event(pgkit::listener& listening, std::chrono::milliseconds limit = 10s) {
    auto event = listening.next(limit);
    REQUIRE_MESSAGE(event, (event ? std::string{} : event.error().to_string()));
    REQUIRE_MESSAGE(event->has_value(), "no event within ", limit.count(), " ms");
    return std::move(**event);
}

notification next_notification(pgkit::listener& listening) {
    auto event = next_event(listening);
    REQUIRE_MESSAGE(std::holds_alternative<notification>(event), "expected a notification");
    return std::get<notification>(std::move(event));
}

notification_gap next_gap(pgkit::listener& listening, std::chrono::milliseconds limit) {
    auto event = next_event(listening, limit);
    REQUIRE_MESSAGE(std::holds_alternative<notification_gap>(event), "expected a gap");
    return std::get<notification_gap>(std::move(event));
}

void send(pgkit::connection& conn, std::string_view channel, std::string_view payload) {
    auto sent = pgkit::notify(conn, channel, payload);
    REQUIRE_MESSAGE(sent, (sent ? std::string{} : sent.error().to_string()));
}

/// Checks that the listener is subscribed to `channel` now: a notification sent on it arrives.
void check_delivery(pgkit::listener& listening,
                    pgkit::connection& sender,
                    const std::string& channel,
                    const std::string& payload) {
    send(sender, channel, payload);
    const auto received = next_notification(listening);
    CHECK(received.channel == channel);
    CHECK(received.payload == payload);
    CHECK(received.sender_pid == sender.backend_pid());
}

}  // namespace

TEST_SUITE("listener") {
    TEST_CASE(
        "listener: delivers channel, payload and sender pid, and next() times out when idle") {
        const auto channel = unique_channel("basic");
        auto listening = started_listener({channel});
        CHECK(listening->running());
        CHECK(listening->backend_pid() != 0);
        auto idle = listening->next(50ms);
        REQUIRE(idle);
        CHECK_FALSE(idle->has_value());

        auto sender = pgkit::test::connect_to_server();
        check_delivery(*listening, sender, channel, "hello");
        check_delivery(*listening, sender, channel, "");  // an empty payload is a payload
    }

    TEST_CASE(
        "listener: 10000 notifications from another connection arrive complete and in order") {
        const auto channel = unique_channel("load");
        auto listening = started_listener({channel});
        constexpr int count = 10'000;
        std::thread sending{[&] {
            auto sender = pgkit::test::connect_to_server();
            for (int i = 0; i < count; ++i) {
                if (!pgkit::notify(sender, channel, std::to_string(i))) {
                    return;  // the receiving side then misses the rest and fails
                }
            }
        }};
        int expected = 0;
        bool in_order = true;
        while (expected < count) {
            auto event = listening->next(10s);
            if (!event || !event->has_value()) {
                break;
            }
            const auto* received = std::get_if<notification>(&**event);
            if (received == nullptr || received->channel != channel ||
                received->payload != std::to_string(expected)) {
                in_order = false;
                break;
            }
            ++expected;
        }
        sending.join();
        CHECK(in_order);
        CHECK(expected == count);
    }

    TEST_CASE("listener: on_event receives every event on the listener's thread") {
        const auto channel = unique_channel("callback");
        std::mutex mutex;
        std::vector<std::string> payloads;
        std::thread::id called_on;
        auto options = options_for(pgkit::test::server_options());
        options.on_event = [&](const listener_event& event) {
            if (const auto* received = std::get_if<notification>(&event)) {
                std::lock_guard guard{mutex};
                payloads.push_back(received->payload);
                called_on = std::this_thread::get_id();
            }
        };
        auto listening = make_listener(std::move(options));
        REQUIRE(listening->listen(channel));
        REQUIRE(listening->start());
        auto misuse = listening->next(1ms);
        REQUIRE_FALSE(misuse);
        CHECK(misuse.error().code() == errc::invalid_argument);

        auto sender = pgkit::test::connect_to_server();
        for (int i = 0; i < 100; ++i) {
            send(sender, channel, std::to_string(i));
        }
        CHECK(eventually([&] {
            std::lock_guard guard{mutex};
            return payloads.size() == 100;
        }));
        std::lock_guard guard{mutex};
        REQUIRE(payloads.size() == 100);
        CHECK(payloads.front() == "0");
        CHECK(payloads.back() == "99");
        CHECK(called_on != std::this_thread::get_id());
    }

    TEST_CASE("listener: listen and unlisten while running take effect before they return") {
        const auto first = unique_channel("first");
        const auto second = unique_channel("second");
        auto listening = started_listener({first});
        auto sender = pgkit::test::connect_to_server();

        REQUIRE(listening->listen(second));
        check_delivery(*listening, sender, second, "after listen");
        CHECK(listening->channels() == std::vector<std::string>{first, second});

        REQUIRE(listening->unlisten(first));
        send(sender, first, "not subscribed any more");
        check_delivery(*listening, sender, second, "still subscribed");
        CHECK(listening->channels() == std::vector<std::string>{second});
    }

    TEST_CASE("listener: channel names that need quoting are channels of their own") {
        const std::string suffix = unique_channel("");
        const std::vector<std::string> names{"Mixed" + suffix,
                                             "mixed" + suffix,
                                             "with space" + suffix,
                                             "quote\"d'" + suffix,
                                             std::string(63 - suffix.size(), 'x') + suffix,
                                             "ünïcode" + suffix};
        auto listening = started_listener(names);
        auto sender = pgkit::test::connect_to_server();
        for (const auto& name : names) {
            check_delivery(*listening, sender, name, "to " + name);
        }

        const std::string too_long(64, 'x');
        for (const std::string& bad : {too_long, std::string{}, std::string{"nul\0byte", 8}}) {
            auto refused = listening->listen(bad);
            REQUIRE_FALSE(refused);
            CHECK(refused.error().code() == errc::invalid_argument);
            auto not_sent = pgkit::notify(sender, bad, "x");
            REQUIRE_FALSE(not_sent);
            CHECK(not_sent.error().code() == errc::invalid_argument);
        }
        auto refused = listening->listen(too_long);
        CHECK(refused.error().message().find("63 bytes") != std::string::npos);
        CHECK(listening->channels() == names);
    }

    TEST_CASE(
        "listener: a payload at the server's limit arrives whole, one byte over fails clearly") {
        const auto channel = unique_channel("payload");
        auto listening = started_listener({channel});
        auto sender = pgkit::test::connect_to_server();
        std::string largest(7999, 'p');
        largest.front() = '<';
        largest.back() = '>';
        check_delivery(*listening, sender, channel, largest);

        auto refused = pgkit::notify(sender, channel, std::string(8000, 'p'));
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::data_exception);
        CHECK(refused.error().sqlstate() == "22023");
        CHECK(refused.error().message().find("7999") != std::string::npos);
        CHECK(sender.is_open());
        check_delivery(*listening, sender, channel, "after the refusal");
    }

    TEST_CASE("listener: notify in a transaction is delivered at commit, not after a rollback") {
        const auto channel = unique_channel("tx");
        auto listening = started_listener({channel});
        auto pool_options = pgkit::pool_options{};
        pool_options.connection = pgkit::test::server_options();
        pool_options.max_size = 1;
        auto pool = pgkit::pool::create(pool_options);
        REQUIRE(pool);
        auto rolled_back =
            (*pool)->with_transaction([&](pgkit::transaction& tx) -> pgkit::result<void> {
                if (auto sent = pgkit::notify(tx, channel, "rolled back"); !sent) {
                    return sent;
                }
                return pgkit::make_error(errc::invalid_argument, "roll back");
            });
        CHECK_FALSE(rolled_back);
        auto committed = (*pool)->with_transaction(
            [&](pgkit::transaction& tx) { return pgkit::notify(tx, channel, "committed"); });
        REQUIRE(committed);
        CHECK(next_notification(*listening).payload == "committed");

        auto leased = (*pool)->acquire();
        REQUIRE(leased);
        REQUIRE(pgkit::notify(**leased, channel, "through a lease"));
        CHECK(next_notification(*listening).payload == "through a lease");
    }

    TEST_CASE(
        "listener: a terminated backend is replaced, every channel subscribed again, the gap "
        "reported") {
        const auto first = unique_channel("Terminated");
        const auto second = unique_channel("terminated two");
        auto listening = started_listener({first, second});
        auto admin = pgkit::test::connect_to_server();
        check_delivery(*listening, admin, first, "before");

        const int old_pid = listening->backend_pid();
        const auto before = std::chrono::system_clock::now();
        pgkit::test::terminate_backend(admin, old_pid);
        const auto gap = next_gap(*listening, 30s);
        CHECK(gap.lost_at >= before);
        CHECK(gap.resubscribed_at >= gap.lost_at);
        CHECK(gap.attempts >= 1);
        CHECK(gap.cause.code() == errc::connection_lost);
        CHECK(listening->backend_pid() != 0);
        CHECK(listening->backend_pid() != old_pid);
        check_delivery(*listening, admin, first, "after");
        check_delivery(*listening, admin, second, "after, on the other channel");
    }

    TEST_CASE("listener: after a server restart it reconnects with backoff and reports the gap") {
        pgkit::test::own_server server;
        auto connection = pgkit::connection_options::parse(server.url());
        REQUIRE(connection);
        const auto channel = unique_channel("Restart");
        auto listening = make_listener(options_for(*connection));
        REQUIRE(listening->listen(channel));  // before start()
        REQUIRE(listening->start());
        {
            auto sender = pgkit::connection::open(*connection);
            REQUIRE(sender);
            check_delivery(*listening, *sender, channel, "before the restart");
        }

        const auto before = std::chrono::system_clock::now();
        server.restart();
        const auto gap = next_gap(*listening, 60s);
        CHECK(gap.lost_at >= before);
        CHECK(gap.resubscribed_at >= gap.lost_at);
        CHECK(gap.cause.code() == errc::connection_lost);
        CHECK(listening->running());

        auto sender = pgkit::connection::open(*connection);
        REQUIRE(sender);
        check_delivery(*listening, *sender, channel, "after the restart");
    }

    TEST_CASE("listener: stop() ends the waiting thread promptly and closes the session") {
        const auto channel = unique_channel("stop");
        auto listening = started_listener({channel});
        auto admin = pgkit::test::connect_to_server();
        const int pid = listening->backend_pid();
        REQUIRE(pgkit::test::backend_exists(admin, pid));

        const auto asked = std::chrono::steady_clock::now();
        listening->stop();  // the thread waits on its socket: nothing else would wake it
        CHECK(std::chrono::steady_clock::now() - asked < 5s);
        CHECK_FALSE(listening->running());
        CHECK(listening->backend_pid() == 0);
        CHECK(eventually([&] { return !pgkit::test::backend_exists(admin, pid); }));

        // Stopped listeners keep their channels and start again.
        REQUIRE(listening->start());
        check_delivery(*listening, admin, channel, "after a restart of the listener");
        listening->stop();
        listening->stop();  // twice: nothing happens
    }

    TEST_CASE("listener: destroying a running listener stops its thread and closes the session") {
        auto admin = pgkit::test::connect_to_server();
        int pid = 0;
        {
            auto listening = started_listener({unique_channel("destroyed")});
            pid = listening->backend_pid();
            REQUIRE(pgkit::test::backend_exists(admin, pid));
        }
        CHECK(eventually([&] { return !pgkit::test::backend_exists(admin, pid); }));
    }

    TEST_CASE(
        "listener: refuses a transaction-mode pooler, a bad retry policy and a second start") {
        auto options = options_for(pgkit::test::server_options());
        options.connection.pooler = pgkit::pooler_mode::transaction;
        auto refused = pgkit::listener::create(options);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code() == errc::invalid_argument);
        CHECK(refused.error().message().find("transaction-mode pooler") != std::string::npos);

        options.connection.pooler = pgkit::pooler_mode::none;
        options.reconnect.max_attempts = 0;
        auto bad_policy = pgkit::listener::create(options);
        REQUIRE_FALSE(bad_policy);
        CHECK(bad_policy.error().code() == errc::invalid_argument);

        auto listening = started_listener({unique_channel("twice")});
        auto again = listening->start();
        REQUIRE_FALSE(again);
        CHECK(again.error().code() == errc::invalid_argument);
    }

    TEST_CASE("listener: start() reports a server it cannot reach, and nothing runs") {
        pgkit::test::silent_listener unused;  // accepts, never answers
        auto options = options_for(pgkit::test::server_options());
        options.connection.hosts = {{"127.0.0.1", unused.port()}};
        options.connection.connect_timeout = 2s;
        auto listening = make_listener(std::move(options));
        REQUIRE(listening->listen(unique_channel("unreachable")));
        auto started = listening->start();
        REQUIRE_FALSE(started);
        CHECK(started.error().code() == errc::connection_failed);
        CHECK_FALSE(listening->running());
    }

    TEST_CASE("listener: gives up after max_attempts failed reconnections and reports it last") {
        // A role of its own that the test forbids to log in once its listener is connected.
        auto admin = pgkit::test::connect_to_server();
        const auto role = unique_channel("pgkit_listener_role");
        REQUIRE(admin.execute_script(fmt::format("CREATE ROLE {} LOGIN", role)));
        auto options = options_for(pgkit::test::server_options());
        options.connection.user = role;
        options.reconnect.max_attempts = 2;
        auto listening = make_listener(std::move(options));
        REQUIRE(listening->listen(unique_channel("given_up")));
        REQUIRE(listening->start());

        REQUIRE(admin.execute_script(fmt::format("ALTER ROLE {} NOLOGIN", role)));
        pgkit::test::terminate_backend(admin, listening->backend_pid());
        auto event = next_event(*listening, 30s);
        REQUIRE(std::holds_alternative<pgkit::listener_failed>(event));
        const auto& failed = std::get<pgkit::listener_failed>(event);
        CHECK(failed.attempts == 2);
        CHECK(failed.cause.code() == errc::connection_failed);
        CHECK(eventually([&] { return !listening->running(); }));
        CHECK(listening->backend_pid() == 0);

        // Allowed again, the same listener starts again with its channels.
        REQUIRE(admin.execute_script(fmt::format("ALTER ROLE {} LOGIN", role)));
        REQUIRE(listening->start());
        CHECK(listening->running());
        listening->stop();
        REQUIRE(admin.execute_script(fmt::format("DROP ROLE {}", role)));
    }

    TEST_CASE("listener: on_event may subscribe and stop the listener from its own thread") {
        const auto first = unique_channel("from_callback");
        const auto second = unique_channel("subscribed_in_callback");
        pgkit::listener* self = nullptr;
        std::mutex mutex;
        std::vector<std::string> seen;
        std::optional<pgkit::error> failure;
        auto options = options_for(pgkit::test::server_options());
        options.on_event = [&](const listener_event& event) {
            const auto* received = std::get_if<notification>(&event);
            if (received == nullptr) {
                return;
            }
            pgkit::result<void> done;
            if (received->payload == "subscribe") {
                done = self->listen(second);
            } else if (received->payload == "stop") {
                self->stop();
            }
            std::lock_guard guard{mutex};
            seen.push_back(received->channel + ":" + received->payload);
            if (!done) {
                failure = done.error();
            }
        };
        auto listening = make_listener(std::move(options));
        self = listening.get();
        REQUIRE(listening->listen(first));
        REQUIRE(listening->start());

        auto sender = pgkit::test::connect_to_server();
        send(sender, first, "subscribe");
        // The callback records the notification after its listen() returned.
        REQUIRE(eventually([&] {
            std::lock_guard guard{mutex};
            return seen.size() == 1;
        }));
        CHECK(listening->channels() == std::vector<std::string>{first, second});
        send(sender, second, "stop");
        CHECK(eventually([&] { return !listening->running(); }));
        CHECK(eventually([&] { return listening->backend_pid() == 0; }));
        {
            std::lock_guard guard{mutex};
            CHECK_FALSE(failure.has_value());
            CHECK(seen == std::vector<std::string>{first + ":subscribe", second + ":stop"});
        }
        // Started again at once: the ending thread is joined first.
        REQUIRE(listening->start());
        CHECK(listening->running());
        send(sender, second, "again");
        CHECK(eventually([&] {
            std::lock_guard guard{mutex};
            return seen.size() == 3 && seen.back() == second + ":again";
        }));
    }
}
