#!/usr/bin/env python3
"""Builds bench-results/summary.json from the Google Benchmark JSON files of one run.

Every `a_over_b` key is time(a) / time(b) from the same run (real time per iteration), unless it
names `tps` (throughput a / throughput b) or starts with `cpu.` (the client thread's CPU time per
iteration, cpu_time). A key whose inputs are missing is left out, never invented, and the script
then exits with status 1 naming it: every key is always present once its benchmark exists.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import sys

from bench_json import (counter, counter_max, counter_values, cpu_time_ns, load_suites,
                        machine_description, ratio, real_time_ns)


# Time ratios: key, suite, numerator benchmark, denominator benchmark (base names).
TIME_RATIOS = [
    # Foundation: the driver layer's overhead over hand-written libpq.
    ("driver.point_select_over_libpq", "driver", "pgkit_point_select", "libpq_point_select"),
    # Pool.
    ("pool.connect_per_request_over_pooled", "pool", "connect_per_request_point_select",
     "pooled_point_select"),
    # Typed repositories.
    ("repository.get_over_raw_libpqxx", "repository", "repository_get", "libpqxx_get"),
    ("repository.get_over_libpq", "repository", "repository_get", "libpq_get"),
    # libpqxx interop: a repository inside a pqxx::work over hand-written exec_prepared there.
    ("pqxx.repository_get_in_pqxx_work_over_raw_pqxx", "pqxx", "repository_get_in_pqxx_work",
     "raw_pqxx_get_in_work"),
    ("loading.n_plus_1_over_find_many", "repository", "loading_n_plus_1", "loading_find_many"),
    ("loading.join_over_find_many", "repository", "loading_join", "loading_find_many"),
    ("insert.row_by_row_over_insert_many", "repository", "insert_row_by_row", "insert_many_copy"),
    ("insert.multi_values_over_insert_many", "repository", "insert_multi_values",
     "insert_many_copy"),
    ("insert.insert_many_over_raw_copy", "repository", "insert_many_copy", "insert_raw_copy"),
    ("count.exact_over_estimate", "repository", "count_exact", "count_estimated"),
    ("streaming.cursor_over_copy_out", "repository", "stream_1m_rows_cursor",
     "stream_1m_rows_copy_out"),
    # Batched backfills.
    ("backfill.over_hand_batched", "backfill", "backfill_pgkit", "backfill_hand_batched"),
    # Keyset pagination: benchmarks/pagination_bench.cpp, 1M rows, 20 rows a page;
    # "last" is the last page (999,980 rows skipped), "0" the first page (no cursor).
    ("pagination.offset_over_keyset_deepest", "pagination", "offset_page_last",
     "keyset_page_last"),
    ("pagination.keyset_deepest_over_first", "pagination", "keyset_page_last", "keyset_page_0"),
    ("pagination.keyset_over_libpq", "pagination", "keyset_page_100k", "libpq_keyset_page_100k"),
    # The index rules of the design documents: benchmarks/guidance_bench.cpp.
    ("guidance.select_star_over_index_only", "guidance", "select_star_by_user",
     "index_only_by_user"),
    ("guidance.function_on_column_over_expression_index", "guidance", "function_on_plain_index",
     "function_on_expression_index"),
    ("guidance.or_over_any", "guidance", "or_chain_10_keys", "any_array_10_keys"),
    # Pipelines: benchmarks/pipeline_bench.cpp, 100 point selects a batch. pgbench's time per
    # batch is 1 / its tps, run by the same program between pgkit's repetitions.
    ("pipeline.sequential_over_pipelined", "pipeline", "sequential_100_point_selects",
     "pipelined_100_point_selects"),
    ("pipeline.pgkit_over_pgbench_pipeline", "pipeline", "pgkit_pipeline_100_selects_extended",
     "pgbench_pipeline_100_selects_extended"),
]

# Client CPU ratios (cpu_time): key, suite, numerator benchmark, denominator benchmark.
# benchmarks/cpu_bench.cpp, pgkit against hand-written libpq on one connection each.
CPU_RATIOS = [
    ("cpu.get_over_libpq", "cpu", "cpu_repository_get", "cpu_libpq_get"),
    ("cpu.find_many_over_libpq", "cpu", "cpu_repository_find_many_100", "cpu_libpq_find_many_100"),
    ("cpu.insert_many_over_libpq_copy", "cpu", "cpu_insert_many_100k", "cpu_libpq_copy_100k"),
    # The same get and find_many on a pool without the session check (when_sql_dirty).
    ("cpu.get_unchecked_over_libpq", "cpu", "cpu_repository_get_unchecked", "cpu_libpq_get"),
    ("cpu.find_many_unchecked_over_libpq", "cpu", "cpu_repository_find_many_100_unchecked",
     "cpu_libpq_find_many_100"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--postgres-version", default="unknown")
    parser.add_argument("--version-header")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()

    suites = load_suites(args.directory)
    pgbench = None
    pgbench_path = os.path.join(args.directory, "pgbench.json")
    if os.path.exists(pgbench_path):
        with open(pgbench_path) as f:
            pgbench = json.load(f).get("tps")

    results = {}
    missing = []

    def put(key, value):
        if value is None:
            missing.append(key)
        else:
            results[key] = value

    # Every time ratio: (key, suite, numerator benchmark, denominator benchmark).
    for key, suite, numerator, denominator in TIME_RATIOS:
        put(key, ratio(real_time_ns(suites, suite, numerator),
                       real_time_ns(suites, suite, denominator)))

    for key, suite, numerator, denominator in CPU_RATIOS:
        put(key, ratio(cpu_time_ns(suites, suite, numerator),
                       cpu_time_ns(suites, suite, denominator)))

    # Pool: throughput against pgbench, and acquire latency percentiles.
    pooled_tps = counter(suites, "pool", "pooled_point_select_8_connections", "items_per_second",
                         threads=8)
    put("pool.pooled_tps_over_pgbench", ratio(pooled_tps, pgbench))
    # The point select is a key read: what its proof costs (unchecked over checked), what it
    # saves against the full session check on the same row by a text that is not a key read
    # (key read over full check), and what it saves against resetting every lease (checked over
    # reset_policy::always); all > 1 mean what they say.
    unchecked_tps = counter(suites, "pool", "pooled_point_select_8_connections_when_sql_dirty",
                            "items_per_second", threads=8)
    full_check_tps = counter(suites, "pool", "pooled_point_select_8_connections_full_check",
                             "items_per_second", threads=8)
    always_tps = counter(suites, "pool", "pooled_point_select_8_connections_reset_always",
                         "items_per_second", threads=8)
    put("pool.unchecked_tps_over_checked", ratio(unchecked_tps, pooled_tps))
    put("pool.key_read_tps_over_full_check", ratio(pooled_tps, full_check_tps))
    put("pool.checked_tps_over_reset_always", ratio(pooled_tps, always_tps))
    put("pool.acquire_release_ns_p50",
        counter(suites, "pool", "pool_acquire_release_latency", "p50_ns"))
    put("pool.acquire_release_ns_p99_32threads",
        counter(suites, "pool", "pool_acquire_release_latency", "p99_ns", threads=32))

    # BEGIN travelling with a transaction's first statement: round trips of a three-statement
    # with_transaction with BEGIN sent alone, minus those with it travelling (counted by pgkit).
    begin_alone = counter(suites, "pipeline", "transaction_3_statements_begin_alone", "round_trips")
    folded = counter(suites, "pipeline", "transaction_3_statements", "round_trips")
    put("transaction.round_trips_saved",
        round(begin_alone - folded, 4) if begin_alone is not None and folded is not None else None)

    # Typed repositories: peak resident memory growth, the largest of the repetitions
    # (the first one grows the heap; a median would hide it).
    put("memory.stream_1m_rows_mb",
        counter_max(suites, "repository", "memory_stream_1m_rows", "peak_rss_growth_mb"))
    put("memory.insert_many_1m_rows_mb",
        counter_max(suites, "repository", "memory_insert_many_1m_rows", "peak_rss_growth_mb"))
    put("memory.copy_out_1m_rows_mb",
        counter_max(suites, "repository", "memory_copy_out_1m_rows", "peak_rss_growth_mb"))

    # Batched backfills: benchmarks/backfill_bench.cpp writes the same JSON shape.
    target_ms = suites.get("backfill", {}).get("context", {}).get("target_batch_ms")
    put("backfill.max_batch_over_target",
        ratio(counter(suites, "backfill", "backfill_pgkit", "longest_tx_ms"), target_ms))
    put("backfill.writer_p99_single_update_over_backfill",
        ratio(counter(suites, "backfill", "backfill_one_update", "writer_p99_ms"),
              counter(suites, "backfill", "backfill_pgkit", "writer_p99_ms")))
    put("backfill.writer_p99_over_hand_batched",
        ratio(counter(suites, "backfill", "backfill_pgkit", "writer_p99_ms"),
              counter(suites, "backfill", "backfill_hand_batched", "writer_p99_ms")))

    # Schema migrations on a live table: benchmarks/migrate_bench.cpp computes its keys itself
    # from the medians of its repetitions (the same JSON shape as the backfill suite's).
    migrate = suites.get("migrate", {}).get("summary", {})
    if suites.get("migrate"):
        for key in ("migrate.naive_writer_p99_over_planned",
                    "migrate.planned_longest_writer_wait_ms",
                    "migrate.lock_queue_block_over_lock_timeout"):
            value = migrate.get(key)
            put(key, round(value, 4) if isinstance(value, (int, float)) else None)

    # Topologies: benchmarks/topology_bench.cpp, one suite per topology (scripts/bench).
    # Failover: each planned failover's pgkit write gap over the psql probe's gap in that same
    # failover, the median over the failovers; and every acknowledged insert missing afterwards,
    # summed over them.
    gap_ratios = counter_values(suites, "topology_failover", "formation_planned_failover",
                                "gap_over_probe")
    put("topology.failover_write_gap_over_probe",
        round(statistics.median(gap_ratios), 4) if gap_ratios else None)
    lost = counter_values(suites, "topology_failover", "formation_planned_failover",
                          "lost_acknowledged")
    put("topology.lost_acknowledged_writes", int(sum(lost)) if lost else None)
    put("topology.replica_read_share",
        counter(suites, "topology_replicas", "standby_reads_90_10", "replica_read_share",
                threads=8))
    put("topology.pgbouncer_tps_over_pgbench",
        ratio(counter(suites, "topology_pgbouncer", "pgbouncer_pgkit_point_select",
                      "items_per_second", threads=8),
              counter(suites, "topology_pgbouncer", "pgbouncer_pgbench", "tps")))

    # Pagination strategies: `pgkit bench pagination` (tools/pgkit), which computes the ratios
    # and counts itself (docs/pagination-benchmarks.md); scripts/bench writes its JSON.
    strategies_path = os.path.join(args.directory, "pagination_strategies.json")
    strategies = {}
    if os.path.exists(strategies_path):
        with open(strategies_path) as f:
            strategies = json.load(f).get("summary", {})
    for key in ("pagination.deferred_join_over_keyset_deepest",
                "pagination.server_cursor_over_keyset_deepest",
                "pagination.offset_anomalies_under_writes",
                "pagination.keyset_anomalies_under_writes",
                "pagination.strategies_measured"):
        value = strategies.get(key)
        put(key, round(value, 4) if isinstance(value, float) else value)

    version = "unknown"
    if args.version_header and os.path.exists(args.version_header):
        with open(args.version_header) as f:
            match = re.search(r'PGKIT_VERSION_STRING "([^"]+)"', f.read())
            if match:
                version = match.group(1)

    summary = {
        "pgkit_version": version,
        "postgres_version": args.postgres_version,
        "date": datetime.date.today().isoformat(),
        "machine": machine_description(),
        "rows": args.rows,
        "results": results,
    }
    with open(os.path.join(args.directory, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=False)
        f.write("\n")
    for key in missing:
        print(f"bench_summary: no data for {key}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
