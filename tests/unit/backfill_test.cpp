// Backfill pieces that need no server: adaptive batch sizing (detail::batch_sizer), key-range SQL,
// the progress bar.
#include "pgkit/backfill.hpp"

#include "pgkit/progress_bar.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

using namespace std::chrono_literals;
using pgkit::detail::batch_sizer;

TEST_SUITE("backfill") {
    TEST_CASE("backfill: a batch over the target shrinks the next one below it at once") {
        batch_sizer sizer{100ms, 10, 100'000};
        // 1000 keys in 300 ms: 300 us a key; the next batch aims at 70 ms.
        const std::size_t next = sizer.next(1000, 300ms);
        CHECK(next == 233);
        CHECK(static_cast<double>(next) * 300.0 <= 70'000.0 + 300.0);
        // At exactly the target: shrinks to the aim too, never stays there.
        batch_sizer at_target{100ms, 10, 100'000};
        CHECK(at_target.next(1000, 100ms) == 700);
        // A single 10x outlier is believed at once ...
        batch_sizer steady_state{100ms, 10, 100'000};
        std::size_t size = 7000;
        for (int i = 0; i < 20; ++i) {
            size = steady_state.next(size, std::chrono::microseconds{static_cast<long>(size) * 10});
        }
        CHECK(size == 7000);
        size = steady_state.next(size, std::chrono::microseconds{static_cast<long>(size) * 100});
        CHECK(size == 700);
        // ... and forgotten slowly: growth is bounded on the way back.
        for (int i = 0; i < 30; ++i) {
            const std::size_t before = size;
            size = steady_state.next(size, std::chrono::microseconds{static_cast<long>(size) * 10});
            CHECK(static_cast<double>(size) <= static_cast<double>(before) * 2.0 + 1);
            CHECK(size <= 7000);
        }
        CHECK(size >= 6900);
    }

    TEST_CASE("backfill: batch size growth is bounded") {
        // Far under the target (less than a quarter of it): at most x2.
        batch_sizer ramp{100ms, 10, 100'000};
        CHECK(ramp.next(1000, 1ms) == 2000);
        CHECK(ramp.next(2000, 0us) == 4000);
        // Nearer the target: at most x1.25, however cheap the keys look.
        batch_sizer near{100ms, 10, 100'000};
        CHECK(near.next(1000, 30ms) == 1250);  // 30 us a key would allow 2333
        CHECK(near.next(1250, 40ms) == 1563);
        // Between the aim and the target: no growth.
        batch_sizer above_aim{100ms, 10, 100'000};
        CHECK(above_aim.next(1000, 80ms) == 875);
        // After a costly batch a cheap one does not bring the size straight back.
        batch_sizer memory{100ms, 10, 100'000};
        CHECK(memory.next(1000, 140ms) == 500);
        CHECK(memory.next(500, 35ms) < 625);
        CHECK(memory.cost_per_key_us() > 70.0);
    }

    TEST_CASE(
        "backfill: a batch that blocked a writer makes the next ones aim at the contended "
        "duration") {
        // 200 ms target, 20 ms when contended; 10 us a key throughout.
        batch_sizer sizer{200ms, 10, 100'000, 20ms};
        CHECK(sizer.current_target() == 200ms);
        CHECK(sizer.next(10'000, 100ms) == 12'500);       // uncontended: grows toward 0.7 x 200 ms
        CHECK(sizer.next(12'500, 125ms, true) == 1'400);  // 0.7 x 20 ms / 10 us, at once
        CHECK(sizer.current_target() == 20ms);
        // It stays there while the following batches block nobody, until they have taken
        // contention_memory (5 s) in all: 357 batches of 14 ms take 4.998 s, the 358th ends it.
        std::size_t size = 1'400;
        for (int i = 0; i < 357; ++i) {
            size = sizer.next(size, std::chrono::microseconds{static_cast<long>(size) * 10});
            CHECK(size == 1'400);
        }
        CHECK(sizer.current_target() == 20ms);
        size = sizer.next(size, std::chrono::microseconds{static_cast<long>(size) * 10});
        CHECK(sizer.current_target() == 200ms);
        CHECK(size == 2'800);  // the ramp back: x2 while under a quarter of the target
        // A contention seen again starts the memory over.
        CHECK(sizer.next(size, 28ms, true) == 1'400);
        CHECK(sizer.current_target() == 20ms);
        // 0: contention is not sampled, and a contended batch changes nothing.
        batch_sizer off{200ms, 10, 100'000};
        CHECK(off.next(10'000, 100ms, true) == 12'500);
        CHECK(off.current_target() == 200ms);
    }

    TEST_CASE("backfill: batch sizes stay within the bounds") {
        batch_sizer sizer{100ms, 100, 5000};
        CHECK(sizer.next(4800, 1ms) == 5000);
        CHECK(sizer.next(5000, 1us) == 5000);
        CHECK(sizer.next(5000, 1h) == 100);
        CHECK(sizer.next(100, 1h) == 100);
        CHECK(sizer.next(0, 0us) == 100);
        CHECK(sizer.after_timeout(150, 140ms) == 100);
        CHECK(sizer.after_timeout(0, 0us) == 100);
        batch_sizer tiny{1ms, 1, 1};
        CHECK(tiny.next(1, 1h) == 1);
        CHECK(tiny.next(1, 0us) == 1);
        batch_sizer inverted{100ms, 0, 0};  // run_backfill refuses these; the sizer still copes
        CHECK(inverted.next(10, 1ms) == 1);
    }

    TEST_CASE("backfill: a batch cancelled by the time guard is retried at most half as large") {
        batch_sizer sizer{100ms, 10, 100'000};
        CHECK(sizer.next(10'000, 60ms) == 11'667);
        // The guard cancelled 11 667 keys after 140 ms: they cost at least 12 us each.
        const std::size_t retry = sizer.after_timeout(11'667, 140ms);
        CHECK(retry <= 11'667 / 2);
        CHECK(retry >= 5'000);
        CHECK(sizer.cost_per_key_us() >= 11.99);
        // The next success does not jump straight back.
        CHECK(sizer.next(retry, std::chrono::microseconds{static_cast<long>(retry) * 6}) <=
              retry * 5 / 4 + 1);
    }

    TEST_CASE("backfill: a noisy batch cost never makes a batch run over the target") {
        // Each batch's cost per key is random within [c, 1.4 c] (a 40 % spread, more than the
        // benchmark's batches show), with slow drifts of c; the sizer only sees past batches.
        for (std::uint64_t seed = 1; seed <= 20; ++seed) {
            std::mt19937_64 random{seed};
            std::uniform_real_distribution<double> noise{1.0, 1.4};
            batch_sizer sizer{100ms, 10, 1'000'000};
            std::size_t size = 1000;
            double total_ms = 0;
            double worst_ms = 0;
            const int batches = 400;
            for (int i = 0; i < batches; ++i) {
                const double base_us = 3.0 * (1.0 + 0.3 * std::sin(i / 25.0));  // drifts +-30 %
                const double took_us = static_cast<double>(size) * base_us * noise(random);
                const double took_ms = took_us / 1000.0;
                if (i >= 10) {  // past the ramp
                    total_ms += took_ms;
                }
                worst_ms = std::max(worst_ms, took_ms);
                size =
                    sizer.next(size, std::chrono::microseconds{static_cast<std::int64_t>(took_us)});
            }
            INFO("seed " << seed);
            CHECK(worst_ms <= 100.0);
            // ... and is not needlessly timid: batches average over half the target.
            CHECK(total_ms / (batches - 10) >= 50.0);
        }
    }

    TEST_CASE("backfill: key range conditions for single and composite keys") {
        pgkit::backfill_batch first{
            .after = {}, .up_to = {"10"}, .key_sql = {"\"id\""}, .key_types = {"bigint"}};
        CHECK(first.range_condition(1) == "(\"id\") <= ($1::bigint)");
        CHECK(first.range_values() == std::vector<std::string>{"10"});
        pgkit::backfill_batch next{.after = {"1", "a"},
                                   .up_to = {"5", "b"},
                                   .key_sql = {"\"a\"", "\"b\""},
                                   .key_types = {"integer", "text"}};
        CHECK(next.range_condition(3) ==
              "(\"a\", \"b\") > ($3::integer, $4::text) AND (\"a\", \"b\") <= ($5::integer, "
              "$6::text)");
        CHECK(next.range_values() == std::vector<std::string>{"1", "a", "5", "b"});
    }

    TEST_CASE(
        "backfill: a batch is retried on is_retryable() errors, statement_timeout, "
        "commit_unknown") {
        using pgkit::errc;
        using pgkit::error;
        using pgkit::detail::batch_worth_retrying;
        CHECK(batch_worth_retrying(error{errc::serialization_failure, "x"}));
        CHECK(batch_worth_retrying(error{errc::deadlock_detected, "x"}));
        CHECK(batch_worth_retrying(error{errc::lock_timeout, "x"}));
        error lost_in_batch{errc::connection_lost, "x"};
        lost_in_batch.with_in_transaction(true);
        CHECK(batch_worth_retrying(lost_in_batch));
        // The two the runner adds: a smaller batch may fit; the cursor makes a rerun exact.
        CHECK_FALSE(error{errc::statement_timeout, "x"}.is_retryable());
        CHECK(batch_worth_retrying(error{errc::statement_timeout, "x"}));
        CHECK_FALSE(error{errc::commit_unknown, "x"}.is_retryable());
        CHECK(batch_worth_retrying(error{errc::commit_unknown, "x"}));
        // A batch that could not get a connection ran nothing: a server restart is ridden out.
        CHECK(batch_worth_retrying(error{errc::pool_timeout, "x"}));
        CHECK(batch_worth_retrying(error{errc::connection_failed, "refused"}));
        // Not worth it: another runner, a statement's own failure, a cancel request, bad
        // credentials, a connection that vanished outside a transaction.
        CHECK_FALSE(batch_worth_retrying(error{errc::already_running, "x"}));
        CHECK_FALSE(batch_worth_retrying(error{errc::unique_violation, "x"}));
        CHECK_FALSE(batch_worth_retrying(error{errc::query_canceled, "x"}));
        CHECK_FALSE(batch_worth_retrying(error{errc::invalid_argument, "x"}));
        error bad_password{errc::connection_failed, "x"};
        bad_password.with_sqlstate("28P01");
        CHECK_FALSE(batch_worth_retrying(bad_password));
        CHECK_FALSE(batch_worth_retrying(error{errc::connection_lost, "x"}));
    }

    TEST_CASE("backfill: status names") {
        CHECK(pgkit::to_string(pgkit::backfill_status::done) == "done");
        CHECK(pgkit::to_string(pgkit::backfill_status::paused) == "paused");
        CHECK(pgkit::to_string(pgkit::backfill_status::cancelled) == "cancelled");
        CHECK(pgkit::to_string(pgkit::backfill_status::not_started) == "not_started");
    }

    TEST_CASE("backfill: progress bar draws live or prints plain periodic lines") {
        pgkit::backfill_progress p;
        p.name = "fill";
        p.rows_done = 500;
        p.estimated_total = 1000;
        p.batches = 5;
        p.rows_per_second = 250;
        p.eta = 2s;
        CHECK(pgkit::progress_bar::format(p, true, 10) ==
              "[#####     ]  50.0% 500/1000 rows, 250 rows/s, ETA 2s");
        CHECK(pgkit::progress_bar::format(p, false, 10) ==
              "fill: 500/1000 rows (50.0%), 5 batches, 250 rows/s, ETA 2s");

        std::FILE* out = std::tmpfile();
        REQUIRE(out != nullptr);
        {
            pgkit::progress_bar bar{{.out = out, .live = false, .line_interval = 1h}};
            CHECK_FALSE(bar.live());
            bar.update(p);
            p.rows_done = 600;
            bar.update(p);  // within the interval: held back
            p.rows_done = 1000;
            bar.update(p);
            bar.finish();  // prints the last state
        }
        std::rewind(out);
        std::string text(4096, '\0');
        text.resize(std::fread(text.data(), 1, text.size(), out));
        CHECK(text ==
              "fill: 500/1000 rows (50.0%), 5 batches, 250 rows/s, ETA 2s\n"
              "fill: 1000/1000 rows (100.0%), 5 batches, 250 rows/s, ETA 2s\n");
        std::fclose(out);

        std::FILE* tty = std::tmpfile();
        REQUIRE(tty != nullptr);
        {
            pgkit::progress_bar bar{{.out = tty, .live = true, .width = 4}};
            bar.update(p);
            bar.finish();
        }
        std::rewind(tty);
        std::string drawn(4096, '\0');
        drawn.resize(std::fread(drawn.data(), 1, drawn.size(), tty));
        CHECK(drawn == "\r[####] 100.0% 1000/1000 rows, 250 rows/s, ETA 2s\x1b[K\n");
        std::fclose(tty);
    }
}
