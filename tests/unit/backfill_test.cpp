// Backfill pieces that need no server: adaptive batch sizing, key-range SQL, the progress bar.
#include "pgkit/backfill.hpp"

#include "pgkit/progress_bar.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;
using pgkit::detail::next_batch_size;

TEST_SUITE("backfill") {
    TEST_CASE("backfill: batch size moves toward the target duration within bounds") {
        CHECK(next_batch_size(1000, 80ms, 100ms, 10, 10'000) == 1000);  // aims at 80% of target
        CHECK(next_batch_size(1000, 100ms, 100ms, 10, 10'000) == 800);
        CHECK(next_batch_size(1000, 64ms, 100ms, 10, 10'000) == 1250);
        CHECK(next_batch_size(1000, 1ms, 100ms, 10, 10'000) == 1250);  // grows at most x1.25
        CHECK(next_batch_size(1000, 200ms, 100ms, 10, 10'000) == 500);
        CHECK(next_batch_size(1000, 10s, 100ms, 10, 10'000) == 500);  // shrinks at most /2
        CHECK(next_batch_size(8000, 1ms, 100ms, 10, 10'000) == 10'000);
        CHECK(next_batch_size(12, 10s, 100ms, 10, 10'000) == 10);
        CHECK(next_batch_size(1000, 0us, 100ms, 10, 10'000) == 1250);
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

    TEST_CASE("backfill: status names") {
        CHECK(pgkit::to_string(pgkit::backfill_status::done) == "done");
        CHECK(pgkit::to_string(pgkit::backfill_status::paused) == "paused");
        CHECK(pgkit::to_string(pgkit::backfill_status::cancelled) == "cancelled");
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
