#include "pagination_bench/pagination_bench.hpp"

#include "pgkit/detail/executor.hpp"

#include "json_writer.hpp"
#include "pagination_bench/concurrent_writer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace pgkit::tools {

namespace {

double percentile(std::vector<double> values, double p) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

result<std::uint64_t> row_count(const bench_target& target) {
    const auto& m = target.model;
    auto n = detail::executor{target.reads}
                 .read("SELECT count(*) FROM " + m.sql.qualified_table + m.condition,
                       m.condition_params, false)
                 .and_then(&query_result::scalar<std::int64_t>);
    if (!n) {
        return tl::unexpected(std::move(n).error());
    }
    return static_cast<std::uint64_t>(*n);
}

result<depth_result> measure_depth(const bench_target& target,
                                   strategy s,
                                   std::size_t page_size,
                                   std::uint64_t start,
                                   std::size_t samples) {
    auto walk = open_walker(target, s, page_size, start);
    if (!walk) {
        return tl::unexpected(std::move(walk).error());
    }
    depth_result out;
    out.start_row = start - start % page_size;
    auto plan = (*walk)->explain_next();
    if (!plan) {
        return tl::unexpected(std::move(plan).error());
    }
    out.buffers = plan->buffers;
    out.rows_scanned = plan->rows_scanned;
    out.plan_nodes = plan->node_types;
    out.index_served = plan->index_served();
    std::vector<double> ms;
    std::uint64_t round_trips = 0;
    for (std::size_t i = 0; i < samples; ++i) {
        auto page = (*walk)->next();
        if (!page) {
            return tl::unexpected(std::move(page).error());
        }
        if (page->keys.empty()) {
            break;
        }
        ms.push_back(page->ms);
        round_trips += page->round_trips;
    }
    if (auto closed = (*walk)->close(); !closed) {
        return tl::unexpected(std::move(closed).error());
    }
    out.samples = ms.size();
    out.median_ms = percentile(ms, 0.5);
    out.p99_ms = percentile(ms, 0.99);
    out.round_trips =
        ms.empty() ? 0 : static_cast<double>(round_trips) / static_cast<double>(ms.size());
    return out;
}

result<anomaly_result> walk_under_writes(const bench_target& target,
                                         strategy s,
                                         const bench_options& options,
                                         std::size_t page_size,
                                         std::optional<server_cost>& cost) {
    auto at_start = all_keys(target);
    if (!at_start) {
        return tl::unexpected(std::move(at_start).error());
    }
    auto writer = concurrent_writer::create(options.writes, target.model, *at_start,
                                            options.seed + static_cast<std::uint64_t>(s));
    if (!writer) {
        return tl::unexpected(std::move(writer).error());
    }
    auto walk = open_walker(target, s, page_size, 0);
    if (!walk) {
        return tl::unexpected(std::move(walk).error());
    }
    anomaly_result out;
    out.page_size = page_size;
    std::vector<std::string> returned;
    const auto started = std::chrono::steady_clock::now();
    (*writer)->start(options.writes_per_second);
    std::optional<error> failure;
    while (true) {
        auto page = (*walk)->next();
        if (!page) {
            failure = page.error();
            break;
        }
        if (page->keys.empty()) {
            break;
        }
        ++out.pages;
        returned.insert(returned.end(), page->keys.begin(), page->keys.end());
    }
    if (!failure) {
        auto held = (*walk)->cost();
        if (!held) {
            failure = held.error();
        } else {
            cost = *held;
        }
    }
    auto stopped = (*writer)->stop();
    out.walk_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    auto closed = (*walk)->close();
    if (failure) {
        return tl::unexpected(*failure);
    }
    if (!stopped) {
        return tl::unexpected(std::move(stopped).error());
    }
    if (!closed) {
        return tl::unexpected(std::move(closed).error());
    }
    out.writes = (*writer)->writes();
    out.count = count_anomalies(*at_start, (*writer)->removed(), returned);
    return out;
}

std::string json_string(std::string_view text) {
    return cli::json_quote(text);
}

template <class T>
std::string json_optional(const std::optional<T>& value) {
    return value ? fmt::format("{}", *value) : std::string{"null"};
}

/// The deepest measured depth's median, when the strategy has one.
std::optional<double> deepest_median(const bench_report& report, strategy s) {
    for (const auto& r : report.strategies) {
        if (r.which == s && r.skipped.empty() && !r.depths.empty()) {
            return r.depths.back().median_ms;
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> anomalies_of(const bench_report& report, strategy s) {
    for (const auto& r : report.strategies) {
        if (r.which == s && r.anomalies) {
            return r.anomalies->count.total();
        }
    }
    return std::nullopt;
}

std::optional<double> ratio(std::optional<double> a, std::optional<double> b) {
    if (!a || !b || *b <= 0) {
        return std::nullopt;
    }
    return *a / *b;
}

}  // namespace

result<std::vector<std::string>> all_keys(const bench_target& target) {
    const auto& m = target.model;
    auto rows = detail::executor{target.reads}.read(
        "SELECT " + m.key_list() + " FROM " + m.sql.qualified_table + m.condition,
        m.condition_params, false);
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    std::vector<std::size_t> columns(m.key.size());
    for (std::size_t i = 0; i < columns.size(); ++i) {
        columns[i] = i;
    }
    std::vector<std::string> out;
    out.reserve(rows->size());
    for (const row& r : *rows) {
        out.push_back(key_of_row(r, columns));
    }
    return out;
}

result<bench_report> run_pagination_bench(const bench_target& target,
                                          const bench_options& options) {
    bench_report report;
    report.table = target.model.schema + "." + target.model.table;
    report.ordering = target.model.ordering_text();
    report.appended_key = target.model.appended_key;
    report.page_size = options.page_size;
    auto rows = row_count(target);
    if (!rows) {
        return tl::unexpected(std::move(rows).error());
    }
    report.rows = *rows;
    const std::uint64_t ps = options.page_size;
    const std::uint64_t last_start = report.rows == 0 ? 0 : (report.rows - 1) / ps * ps;
    // Each depth's first page, so that `samples` pages fit before the end.
    const std::uint64_t span = ps * (options.samples == 0 ? 0 : options.samples - 1);
    std::vector<std::uint64_t> starts;
    for (auto depth : options.depths) {
        const std::uint64_t wanted = depth == last_page ? last_start : std::min(depth, last_start);
        const std::uint64_t start = std::min(wanted, last_start > span ? last_start - span : 0);
        if (starts.empty() || start > starts.back()) {
            starts.push_back(start - start % ps);
        }
    }
    const std::size_t steps =
        options.strategies.size() * (starts.size() + (options.writes ? 1 : 0));
    std::size_t done = 0;
    const std::size_t anomaly_size = std::max<std::size_t>(
        options.page_size,
        static_cast<std::size_t>(report.rows / std::max<std::size_t>(options.anomaly_pages, 1)));
    // Latency first, for every strategy, then the walks under writes: the writes clear the
    // visibility map, which would slow the index-only scans of the depths measured after them.
    for (auto s : options.strategies) {
        strategy_result result;
        result.which = s;
        for (auto start : starts) {
            auto measured = measure_depth(target, s, options.page_size, start, options.samples);
            if (!measured) {
                if (measured.error().code() != errc::invalid_argument) {
                    return tl::unexpected(std::move(measured).error());
                }
                result.skipped = measured.error().message();
                break;
            }
            result.depths.push_back(std::move(*measured));
            if (options.on_progress) {
                options.on_progress(++done, steps, name_of(s));
            }
        }
        report.strategies.push_back(std::move(result));
    }
    for (auto& result : report.strategies) {
        if (!result.skipped.empty() || !options.writes) {
            continue;
        }
        std::optional<server_cost> cost;
        auto anomalies = walk_under_writes(target, result.which, options, anomaly_size, cost);
        if (!anomalies) {
            return tl::unexpected(std::move(anomalies).error());
        }
        result.anomalies = *anomalies;
        result.cost = cost;
        if (options.on_progress) {
            options.on_progress(++done, steps, name_of(result.which));
        }
    }
    return report;
}

bench_summary summarize(const bench_report& report) {
    bench_summary out;
    auto keyset = deepest_median(report, strategy::keyset_row_value);
    if (!keyset) {
        keyset = deepest_median(report, strategy::keyset_expanded);
    }
    out.deferred_join_over_keyset_deepest =
        ratio(deepest_median(report, strategy::deferred_join), keyset);
    out.server_cursor_over_keyset_deepest =
        ratio(deepest_median(report, strategy::server_cursor), keyset);
    out.offset_anomalies_under_writes = anomalies_of(report, strategy::offset);
    auto row_value = anomalies_of(report, strategy::keyset_row_value);
    auto expanded = anomalies_of(report, strategy::keyset_expanded);
    if (row_value || expanded) {
        out.keyset_anomalies_under_writes = row_value.value_or(0) + expanded.value_or(0);
    }
    for (const auto& r : report.strategies) {
        out.strategies_measured += r.skipped.empty() && !r.depths.empty() ? 1 : 0;
    }
    return out;
}

std::string to_json(const bench_report& report) {
    std::string out = "{\n";
    out += fmt::format("  \"table\": {},\n  \"ordering\": {},\n", json_string(report.table),
                       json_string(report.ordering));
    out += "  \"appended_key\": [";
    for (std::size_t i = 0; i < report.appended_key.size(); ++i) {
        out += (i == 0 ? "" : ", ") + json_string(report.appended_key[i]);
    }
    out += fmt::format("],\n  \"rows\": {},\n  \"page_size\": {},\n  \"strategies\": [",
                       report.rows, report.page_size);
    for (std::size_t i = 0; i < report.strategies.size(); ++i) {
        const auto& r = report.strategies[i];
        out += fmt::format("{}\n    {{\"name\": {}, \"measured\": {}, \"skipped\": {},\n",
                           i == 0 ? "" : ",", json_string(name_of(r.which)),
                           r.skipped.empty() ? "true" : "false", json_string(r.skipped));
        out += "     \"depths\": [";
        for (std::size_t d = 0; d < r.depths.size(); ++d) {
            const auto& x = r.depths[d];
            std::string plan;
            for (std::size_t n = 0; n < x.plan_nodes.size(); ++n) {
                plan += (n == 0 ? "" : ", ") + json_string(x.plan_nodes[n]);
            }
            out += fmt::format(
                "{}\n       {{\"start_row\": {}, \"samples\": {}, \"median_ms\": {:.4f}, "
                "\"p99_ms\": {:.4f}, \"round_trips\": {:.2f}, \"buffers\": {}, "
                "\"rows_scanned\": {}, \"index_served\": {}, \"plan\": [{}]}}",
                d == 0 ? "" : ",", x.start_row, x.samples, x.median_ms, x.p99_ms, x.round_trips,
                x.buffers < 0 ? "null" : fmt::format("{}", x.buffers),
                x.rows_scanned < 0 ? "null" : fmt::format("{:.0f}", x.rows_scanned),
                x.index_served ? "true" : "false", plan);
        }
        out += "],\n     \"anomalies\": ";
        if (r.anomalies) {
            const auto& a = *r.anomalies;
            out += fmt::format(
                "{{\"duplicates\": {}, \"skips\": {}, \"total\": {}, \"writes\": {}, "
                "\"pages\": {}, \"page_size\": {}, \"walk_ms\": {:.1f}}}",
                a.count.duplicates, a.count.skips, a.count.total(), a.writes, a.pages, a.page_size,
                a.walk_ms);
        } else {
            out += "null";
        }
        out += ",\n     \"server_cost\": ";
        out += r.cost ? fmt::format("{{\"open_ms\": {:.1f}, \"xmin_age\": {}}}", r.cost->open_ms,
                                    r.cost->xmin_age)
                      : std::string{"null"};
        out += "}";
    }
    const auto s = summarize(report);
    out += "\n  ],\n  \"summary\": {\n";
    out += fmt::format("    \"pagination.deferred_join_over_keyset_deepest\": {},\n",
                       json_optional(s.deferred_join_over_keyset_deepest));
    out += fmt::format("    \"pagination.server_cursor_over_keyset_deepest\": {},\n",
                       json_optional(s.server_cursor_over_keyset_deepest));
    out += fmt::format("    \"pagination.offset_anomalies_under_writes\": {},\n",
                       json_optional(s.offset_anomalies_under_writes));
    out += fmt::format("    \"pagination.keyset_anomalies_under_writes\": {},\n",
                       json_optional(s.keyset_anomalies_under_writes));
    out += fmt::format("    \"pagination.strategies_measured\": {}\n  }}\n}}\n",
                       s.strategies_measured);
    return out;
}

std::string to_text(const bench_report& report) {
    std::string out = fmt::format("{} ({} rows), ORDER BY {}, {} rows a page\n", report.table,
                                  report.rows, report.ordering, report.page_size);
    out += fmt::format("{:<22} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10}  {}\n", "strategy",
                       "start row", "median ms", "p99 ms", "trips", "buffers", "rows read", "plan");
    for (const auto& r : report.strategies) {
        if (!r.skipped.empty()) {
            out += fmt::format("{:<22} not measured: {}\n", name_of(r.which), r.skipped);
            continue;
        }
        for (const auto& x : r.depths) {
            std::string plan;
            for (const auto& n : x.plan_nodes) {
                plan += (plan.empty() ? "" : " > ") + n;
            }
            out +=
                fmt::format("{:<22} {:>10} {:>10.3f} {:>10.3f} {:>8.1f} {:>10} {:>10}  {}\n",
                            name_of(r.which), x.start_row, x.median_ms, x.p99_ms, x.round_trips,
                            x.buffers < 0 ? "-" : fmt::format("{}", x.buffers),
                            x.rows_scanned < 0 ? "-" : fmt::format("{:.0f}", x.rows_scanned), plan);
        }
    }
    bool any = false;
    for (const auto& r : report.strategies) {
        if (!r.anomalies) {
            continue;
        }
        if (!any) {
            out += fmt::format(
                "\nFull walk under concurrent writes:\n{:<22} {:>10} {:>8} {:>8} "
                "{:>8}  {}\n",
                "strategy", "duplicates", "skips", "writes", "pages", "server cost");
            any = true;
        }
        const auto& a = *r.anomalies;
        out += fmt::format("{:<22} {:>10} {:>8} {:>8} {:>8}  {}\n", name_of(r.which),
                           a.count.duplicates, a.count.skips, a.writes, a.pages,
                           r.cost ? fmt::format("transaction open {:.0f} ms, xmin age {}",
                                                r.cost->open_ms, r.cost->xmin_age)
                                  : std::string{"-"});
    }
    return out;
}

result<void> create_generated_table(const std::shared_ptr<pool>& writes,
                                    std::string_view name,
                                    std::uint64_t rows) {
    auto quoted = connection::quote_identifier(name);
    if (!quoted) {
        return tl::unexpected(std::move(quoted).error());
    }
    const detail::executor exec{writes};
    const std::string statements[] = {
        fmt::format("DROP TABLE IF EXISTS {}", *quoted),
        // A body of 320 bytes, like a post's: about 20 rows a heap page, so that what a
        // strategy reads of the rows it skips shows (on a narrow table the heap is small).
        fmt::format("CREATE TABLE {} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "
                    "author_id integer NOT NULL, title text NOT NULL, body text NOT NULL)",
                    *quoted),
        fmt::format("INSERT INTO {} SELECT g, timestamptz '2026-01-01 00:00:00+00' + (g / 3) * "
                    "interval '1 second', (g % 1000)::int, 'post ' || g, "
                    "repeat(md5(g::text), 10) FROM generate_series(1, $1::bigint) g",
                    *quoted),
        fmt::format("CREATE INDEX ON {} (created_at, id)", *quoted),
        fmt::format("VACUUM ANALYZE {}", *quoted),
    };
    for (const auto& sql : statements) {
        auto done = sql.find("$1") != std::string::npos
                        ? exec.run(sql, parameters{static_cast<std::int64_t>(rows)}, false)
                        : exec.run(sql, parameters{}, false);
        if (!done) {
            return tl::unexpected(std::move(done).error());
        }
    }
    // Index-only scans (the deferred join's) skip the heap only on pages the visibility map
    // marks all-visible. A VACUUM right after the bulk insert can leave most pages unmarked
    // (measured: 1,941 of 9,524), so vacuum again, a bounded number of times, until every page is.
    constexpr std::string_view all_visible =
        "SELECT relallvisible >= relpages FROM pg_catalog.pg_class WHERE oid = $1::regclass";
    for (int attempt = 0; attempt < 5; ++attempt) {
        auto done = exec.read(all_visible, parameters{*quoted}, false)
                        .and_then(&query_result::scalar<bool>);
        if (!done) {
            return tl::unexpected(std::move(done).error());
        }
        if (*done) {
            break;
        }
        if (auto vacuumed = exec.run(fmt::format("VACUUM {}", *quoted), parameters{}, false);
            !vacuumed) {
            return tl::unexpected(std::move(vacuumed).error());
        }
    }
    return {};
}

}  // namespace pgkit::tools
