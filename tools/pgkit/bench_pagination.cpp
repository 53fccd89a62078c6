// `pgkit bench pagination`: compares pagination strategies on a generated table (the default,
// on a throwaway cluster) or on the user's own table (read-only). docs/pagination-benchmarks.md.
#include "pgkit/connection_options.hpp"
#include "pgkit/cursor_key.hpp"
#include "pgkit/pool.hpp"
#include "pgkit/progress_bar.hpp"

#include "command_registry.hpp"
#include "pagination_bench/latency_chart.hpp"
#include "pagination_bench/pagination_bench.hpp"
#include "throwaway_cluster.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace pgkit::cli {

namespace {

constexpr std::string_view generated_table = "pgkit_pagination_bench";
constexpr std::string_view generated_order = "created_at DESC, id DESC";

struct bench_pagination_args {
    std::string url;
    std::string table;
    std::string order;
    std::string where;
    bool generate = false;
    std::uint64_t rows = 200'000;
    std::string depths = "0,1000,10000,100000,last";
    std::size_t page_size = 20;
    std::vector<std::string> strategies;
    std::size_t samples = 15;
    double writes_per_second = 200;
    bool no_writes = false;
    std::uint64_t scratch_copy = 0;
    std::string json;
    std::string chart;
    bool quiet = false;
};

/// A bad-input message: printed, and the command exits 2.
struct input_error {
    std::string message;
};

result<std::vector<std::uint64_t>> parse_depths(const std::string& text) {
    std::vector<std::uint64_t> out;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(',', start), text.size());
        const std::string_view part{text.data() + start, end - start};
        if (part == "last") {
            out.push_back(tools::last_page);
        } else {
            std::uint64_t value = 0;
            const auto parsed = std::from_chars(part.data(), part.data() + part.size(), value);
            if (part.empty() || parsed.ec != std::errc{} ||
                parsed.ptr != part.data() + part.size()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("--depths: '{}' is not a row count or 'last'", part));
            }
            out.push_back(value);
        }
        start = end + 1;
    }
    return out;
}

/// Copies up to `rows` rows of the model's table (its filter applied) into a new table `name`
/// with the same key and an index on the ordering's columns and the key.
result<tools::table_model> copy_sample(const std::shared_ptr<pool>& writes,
                                       const tools::table_model& model,
                                       const std::string& name,
                                       std::uint64_t rows) {
    const auto& s = model.sql;
    std::string indexed;
    for (const auto& term : model.order_by) {
        indexed += (indexed.empty() ? "" : ", ") + s.quoted_columns[term.column];
    }
    for (std::size_t k : model.key) {
        if (std::none_of(model.order_by.begin(), model.order_by.end(),
                         [&](const order_term& t) { return t.column == k; })) {
            indexed += (indexed.empty() ? "" : ", ") + s.quoted_columns[k];
        }
    }
    const detail::executor exec{writes};
    const std::string statements[] = {
        // LIKE keeps the columns' types and NOT NULL constraints (the seek forms depend on them).
        fmt::format("CREATE TABLE {} (LIKE {})", name, s.qualified_table),
        fmt::format("INSERT INTO {} SELECT {} FROM {}{} LIMIT {}", name, s.select_list,
                    s.qualified_table, model.condition, rows),
        fmt::format("ALTER TABLE {} ADD PRIMARY KEY ({})", name, model.key_list()),
        fmt::format("CREATE INDEX ON {} ({})", name, indexed),
        fmt::format("VACUUM ANALYZE {}", name),
    };
    for (const auto& sql : statements) {
        auto done =
            exec.run(sql, sql.starts_with("INSERT") ? model.condition_params : parameters{}, false);
        if (!done) {
            return tl::unexpected(std::move(done).error());
        }
    }
    return tools::table_model{};
}

int fail(const error& e) {
    std::cerr << "pgkit bench pagination: " << e.message() << '\n';
    // Bad input: ours, or the server's word on the table, a column or the --where text.
    const bool input = e.code() == errc::invalid_argument || e.code() == errc::syntax_error ||
                       e.code() == errc::undefined_column || e.code() == errc::undefined_table;
    return input ? bad_input : failure;
}

std::shared_ptr<pool> make_pool(const connection_options& connection, bool read_only) {
    pool_options options;
    options.connection = connection;
    options.max_size = 2;
    if (read_only) {
        // Every transaction of these sessions is read-only: the server refuses any write.
        options.session.settings.emplace_back("default_transaction_read_only", "on");
    }
    auto created = pool::create(std::move(options));
    return created ? std::move(*created) : nullptr;
}

int run(const bench_pagination_args& args) {
    // Check what needs no server first.
    auto depths = parse_depths(args.depths);
    if (!depths) {
        return fail(depths.error());
    }
    tools::bench_options options;
    options.depths = std::move(*depths);
    options.page_size = args.page_size;
    options.samples = args.samples;
    options.writes_per_second = args.writes_per_second;
    if (!args.chart.empty() && !args.chart.ends_with(".svg")) {
        return fail(error{errc::invalid_argument, "--chart: the file name must end in .svg"});
    }
    if (args.page_size == 0 || args.page_size > max_page_size) {
        return fail(error{errc::invalid_argument,
                          fmt::format("--page-size must be between 1 and {}", max_page_size)});
    }
    if (!args.strategies.empty()) {
        options.strategies.clear();
        for (const auto& name : args.strategies) {
            auto s = tools::strategy_named(name);
            if (!s) {
                std::string known;
                for (auto k : tools::all_strategies) {
                    known += (known.empty() ? "" : ", ") + std::string{tools::name_of(k)};
                }
                return fail(error{
                    errc::invalid_argument,
                    fmt::format("--strategies: unknown strategy '{}' (known: {})", name, known)});
            }
            options.strategies.push_back(*s);
        }
    }
    const bool users_table = !args.table.empty();
    if (users_table && args.generate) {
        return fail(error{errc::invalid_argument, "--table and --generate exclude each other"});
    }
    if (!users_table && args.scratch_copy > 0) {
        return fail(error{errc::invalid_argument, "--scratch-copy copies your --table: give it"});
    }
    if (!users_table && !args.url.empty() && !args.generate) {
        return fail(error{errc::invalid_argument,
                          "with --url, give --table (your table, read-only) or --generate (a "
                          "generated table, written and dropped)"});
    }
    if (!users_table && (!args.order.empty() || !args.where.empty())) {
        return fail(error{errc::invalid_argument,
                          "--order and --where describe your table: give --table too"});
    }

    // Where to connect: --url, else the environment (DATABASE_URL, PG*) for your table or
    // --generate, else a throwaway cluster.
    std::unique_ptr<throwaway_cluster> cluster;
    const bool generate = !users_table;
    connection_options connection;
    if (!args.url.empty()) {
        auto parsed = connection_options::parse(args.url);
        if (!parsed) {
            return fail(parsed.error());
        }
        connection = std::move(*parsed);
    } else if (users_table || args.generate) {
        auto env = connection_options::from_environment();
        if (!env) {
            return fail(env.error());
        }
        connection = std::move(*env);
    } else {
        if (!args.quiet) {
            std::cerr << "Starting a throwaway PostgreSQL cluster...\n";
        }
        auto started = throwaway_cluster::start();
        if (!started) {
            return fail(started.error());
        }
        cluster = std::move(*started);
        auto parsed = connection_options::parse(cluster->url());
        if (!parsed) {
            return fail(parsed.error());
        }
        connection = std::move(*parsed);
    }
    connection.application_name = "pgkit-bench-pagination";

    auto reads = make_pool(connection, users_table);
    if (!reads) {
        return fail(error{errc::connection_failed, "could not create a connection pool"});
    }
    std::shared_ptr<pool> writes;
    if (generate || args.scratch_copy > 0) {
        writes = make_pool(connection, false);
        if (!writes) {
            return fail(error{errc::connection_failed, "could not create a connection pool"});
        }
    }
    if (generate) {
        if (!args.quiet) {
            std::cerr << fmt::format("Generating {} ({} rows)...\n", generated_table, args.rows);
        }
        if (auto made = tools::create_generated_table(writes, generated_table, args.rows); !made) {
            return fail(made.error());
        }
    }
    if (writes && !args.no_writes) {
        options.writes = writes;
    }

    tools::bench_target target;
    target.reads = reads;
    target.connection = connection;
    auto key = cursor_key::generate();
    if (!key) {
        return fail(key.error());
    }
    target.key = std::make_shared<const cursor_key>(std::move(*key));
    auto model = tools::load_table(
        detail::executor{reads}, users_table ? args.table : std::string{generated_table},
        users_table ? args.order : std::string{generated_order}, args.where);
    if (!model) {
        return fail(model.error());
    }
    target.model = std::move(*model);
    std::string scratch;  // the scratch copy's name, dropped at the end
    if (args.scratch_copy > 0) {
        scratch = fmt::format("pgkit_pagination_scratch_{}", static_cast<long>(::getpid()));
        if (!args.quiet) {
            std::cerr << fmt::format("Copying {} rows of {} into {}...\n", args.scratch_copy,
                                     args.table, scratch);
        }
        auto copied = copy_sample(writes, target.model, scratch, args.scratch_copy);
        if (copied) {
            copied = tools::load_table(detail::executor{reads}, scratch, args.order, {});
        }
        if (!copied) {
            (void)detail::executor{writes}.run(fmt::format("DROP TABLE IF EXISTS {}", scratch),
                                               parameters{}, false);
            return fail(copied.error());
        }
        target.model = std::move(*copied);
    } else if (users_table && !args.no_writes && !args.quiet) {
        std::cerr << "note: the concurrent-write test never writes to your table: add "
                     "--scratch-copy ROWS to run it on a copy\n";
    }
    if (!target.model.appended_key.empty() && !args.quiet) {
        std::string names;
        for (const auto& n : target.model.appended_key) {
            names += (names.empty() ? "" : ", ") + n;
        }
        std::cerr << fmt::format(
            "note: the ordering is not total: pgkit appends the key ({}), so every strategy pages "
            "ORDER BY {}\n",
            names, target.model.ordering_text());
    }
    // An index for the ordering: warn (with the plan) when the first page sorts or scans.
    {
        auto walk = tools::open_walker(target, tools::strategy::keyset_expanded, args.page_size, 0);
        if (!walk) {
            return fail(walk.error());
        }
        auto plan = (*walk)->explain_next();
        if (!plan) {
            return fail(plan.error());
        }
        if (!plan->index_served()) {
            std::string nodes;
            for (const auto& n : plan->node_types) {
                nodes += (nodes.empty() ? "" : " > ") + n;
            }
            std::cerr << fmt::format(
                "warning: no index serves ORDER BY {}: the first keyset page's plan is {}; every "
                "strategy reads (and sorts) the whole table. Create an index on the ordering's "
                "columns and key.\n",
                target.model.ordering_text(), nodes);
        }
    }

    progress_bar bar{progress_bar_options{.out = stderr}};
    if (!args.quiet) {
        options.on_progress = [&bar](std::size_t done, std::size_t total, std::string_view what) {
            backfill_progress p;
            p.name = std::string{what};
            p.rows_done = done;
            p.estimated_total = total;
            bar.update(p);
        };
    }
    auto report = tools::run_pagination_bench(target, options);
    if (!args.quiet) {
        bar.finish();
    }
    if (generate && writes && !cluster) {
        (void)detail::executor{writes}.run(fmt::format("DROP TABLE IF EXISTS {}", generated_table),
                                           parameters{}, false);
    }
    if (!scratch.empty()) {
        (void)detail::executor{writes}.run(fmt::format("DROP TABLE IF EXISTS {}", scratch),
                                           parameters{}, false);
    }
    if (!report) {
        return fail(report.error());
    }
    if (args.json == "-") {
        std::cout << tools::to_json(*report);
    } else {
        std::cout << tools::to_text(*report);
        if (!args.json.empty()) {
            std::ofstream out{args.json};
            out << tools::to_json(*report);
            if (!out) {
                return fail(error{errc::internal, fmt::format("cannot write {}", args.json)});
            }
        }
    }
    if (!args.chart.empty()) {
        if (auto drawn = tools::write_latency_chart(*report, args.chart); !drawn) {
            return fail(drawn.error());
        }
    }
    return success;
}

void add_bench_pagination(CLI::App& app, int& code) {
    auto& bench = subcommand_group(app, "bench", "Benchmarks on your own database");
    auto* cmd = bench.add_subcommand(
        "pagination",
        "Compare pagination strategies (OFFSET, deferred join, keyset row-value and expanded, "
        "server cursor, page_at handing over to keyset) by depth, and their anomalies under "
        "concurrent writes. Without --table: a generated table on a throwaway cluster (or in "
        "--url's database with --generate). With --table: your table, read-only.");
    auto args = std::make_shared<bench_pagination_args>();
    cmd->add_option("--url", args->url,
                    "postgresql:// URL or conninfo (default: DATABASE_URL or the PG* variables)");
    cmd->add_option("--table", args->table, "your table (name or schema.name); read-only");
    cmd->add_option("--order", args->order,
                    "ordering, e.g. \"created_at DESC, id DESC\" (the key is appended)");
    cmd->add_option("--where", args->where, "filter: trusted SQL condition on your table");
    cmd->add_flag("--generate", args->generate,
                  "create and page a generated table in --url's database (writes; dropped after)");
    cmd->add_option("--rows", args->rows, "rows of the generated table")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
    cmd->add_option("--depths", args->depths,
                    "rows before the measured pages, comma-separated; 'last' for the end")
        ->capture_default_str();
    cmd->add_option("--page-size", args->page_size, "rows a page")->capture_default_str();
    cmd->add_option("--strategies", args->strategies, "comma-separated subset (default: all)")
        ->delimiter(',');
    cmd->add_option("--samples", args->samples, "pages timed at each depth")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{10'000}));
    cmd->add_option("--writes-per-second", args->writes_per_second,
                    "the anomaly test's writer rate (generated table only)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_flag("--no-writes", args->no_writes, "skip the anomaly test");
    cmd->add_option("--scratch-copy", args->scratch_copy,
                    "run the anomaly test on a copy of up to ROWS rows of --table (a new table "
                    "in your database, dropped after; needs CREATE)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
    cmd->add_option("--json", args->json,
                    "also write the report as JSON to FILE ('-': stdout only)");
    cmd->add_option("--chart", args->chart,
                    "draw median latency by depth, one line per strategy, into FILE.svg (gnuplot)");
    cmd->add_flag("-q,--quiet", args->quiet, "no progress bar or notes");
    cmd->callback([args, &code] { code = run(*args); });
}

const command_registration registration{&add_bench_pagination};

}  // namespace

}  // namespace pgkit::cli
