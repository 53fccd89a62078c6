#!/usr/bin/env python3
"""Builds bench-results/summary.json from the Google Benchmark JSON files of one run.

Every `a_over_b` key is time(a) / time(b) from the same run (real time per iteration), unless the
key ends in `_tps`. A key whose inputs are missing is left out and reported, never invented.
"""
import argparse
import datetime
import json
import os
import platform
import re
import sys


def load_suites(directory):
    suites = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json") or name in ("summary.json", "pgbench.json"):
            continue
        with open(os.path.join(directory, name)) as f:
            data = json.load(f)
        if "benchmarks" in data:
            suites[name[:-5]] = data
    return suites


def find_entry(suites, suite, base, threads=None):
    """The run of benchmark `base` (its name before the first '/') in `suite`: the median when
    the run has repetitions, else the single iteration run; `threads` picks a threaded variant."""
    data = suites.get(suite)
    if not data:
        return None
    candidates = []
    for entry in data["benchmarks"]:
        parts = entry.get("name", "").split("/")
        if parts[0] != base:
            continue
        thread_parts = [p for p in parts if p.startswith("threads:")]
        if threads is None and thread_parts and thread_parts != ["threads:1"]:
            continue
        if threads is not None and f"threads:{threads}" not in parts:
            continue
        candidates.append(entry)
    for entry in candidates:
        if entry.get("run_type") == "aggregate" and entry.get("aggregate_name") == "median":
            return entry
    for entry in candidates:
        if entry.get("run_type", "iteration") == "iteration":
            return entry
    return None


def real_time_ns(suites, suite, base, threads=None):
    """Real time per iteration in ns."""
    entry = find_entry(suites, suite, base, threads)
    if entry is None:
        return None
    unit_scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    return entry["real_time"] * unit_scale[entry.get("time_unit", "ns")]


def counter(suites, suite, base, name, threads=None):
    entry = find_entry(suites, suite, base, threads)
    if entry is None or name not in entry:
        return None
    return float(entry[name])


def machine_description():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 4)


# Time ratios: key, suite, numerator benchmark, denominator benchmark (base names).
TIME_RATIOS = [
    # Foundation: the driver layer's overhead over hand-written libpq.
    ("driver.point_select_over_libpq", "driver", "pgkit_point_select", "libpq_point_select"),
    # Pool (issue 3).
    ("pool.connect_per_request_over_pooled", "pool", "connect_per_request_point_select",
     "pooled_point_select"),
    # Typed repositories (issue 4).
    ("repository.get_over_raw_libpqxx", "repository", "repository_get", "libpqxx_get"),
    ("repository.get_over_libpq", "repository", "repository_get", "libpq_get"),
    ("loading.n_plus_1_over_find_many", "repository", "loading_n_plus_1", "loading_find_many"),
    ("loading.join_over_find_many", "repository", "loading_join", "loading_find_many"),
    ("insert.row_by_row_over_insert_many", "repository", "insert_row_by_row", "insert_many_copy"),
    ("insert.multi_values_over_insert_many", "repository", "insert_multi_values",
     "insert_many_copy"),
    ("insert.insert_many_over_raw_copy", "repository", "insert_many_copy", "insert_raw_copy"),
    ("count.exact_over_estimate", "repository", "count_exact", "count_estimated"),
    # Batched backfills (issue 6).
    ("backfill.over_hand_batched", "backfill", "backfill_pgkit", "backfill_hand_batched"),
    # Keyset pagination (issue 5): benchmarks/pagination_bench.cpp, 1M rows, 20 rows a page;
    # "last" is the last page (999,980 rows skipped), "0" the first page (no cursor).
    ("pagination.offset_over_keyset_deepest", "pagination", "offset_page_last",
     "keyset_page_last"),
    ("pagination.keyset_deepest_over_first", "pagination", "keyset_page_last", "keyset_page_0"),
    ("pagination.keyset_over_libpq", "pagination", "keyset_page_100k", "libpq_keyset_page_100k"),
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

    # Pool (issue 3): throughput against pgbench, and acquire latency percentiles.
    pooled_tps = counter(suites, "pool", "pooled_point_select_8_connections", "items_per_second",
                         threads=8)
    put("pool.pooled_tps_over_pgbench", ratio(pooled_tps, pgbench))
    put("pool.acquire_release_ns_p50",
        counter(suites, "pool", "pool_acquire_release_latency", "p50_ns"))
    put("pool.acquire_release_ns_p99_32threads",
        counter(suites, "pool", "pool_acquire_release_latency", "p99_ns", threads=32))

    # Typed repositories (issue 4): peak resident memory growth.
    put("memory.stream_1m_rows_mb",
        counter(suites, "repository", "memory_stream_1m_rows", "peak_rss_growth_mb"))
    put("memory.insert_many_1m_rows_mb",
        counter(suites, "repository", "memory_insert_many_1m_rows", "peak_rss_growth_mb"))

    # Batched backfills (issue 6): benchmarks/backfill_bench.cpp writes the same JSON shape.
    target_ms = suites.get("backfill", {}).get("context", {}).get("target_batch_ms")
    put("backfill.max_batch_over_target",
        ratio(counter(suites, "backfill", "backfill_pgkit", "longest_tx_ms"), target_ms))
    put("backfill.writer_p99_single_update_over_backfill",
        ratio(counter(suites, "backfill", "backfill_one_update", "writer_p99_ms"),
              counter(suites, "backfill", "backfill_pgkit", "writer_p99_ms")))

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
