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


def real_time_ns(suites, suite, benchmark):
    """Mean real time per iteration in ns of `benchmark` (exact name) in `suite`."""
    data = suites.get(suite)
    if not data:
        return None
    unit_scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    for entry in data["benchmarks"]:
        if entry.get("name") == benchmark and entry.get("run_type", "iteration") == "iteration":
            return entry["real_time"] * unit_scale[entry.get("time_unit", "ns")]
    return None


def counter(suites, suite, benchmark, name):
    data = suites.get(suite)
    if not data:
        return None
    for entry in data["benchmarks"]:
        if entry.get("name") == benchmark and name in entry:
            return float(entry[name])
    return None


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

    # Foundation: the driver layer's overhead over hand-written libpq.
    put("driver.point_select_over_libpq",
        ratio(real_time_ns(suites, "driver", "pgkit_point_select/real_time"),
              real_time_ns(suites, "driver", "libpq_point_select/real_time")))

    # Pool (issue 3).
    put("pool.connect_per_request_over_pooled",
        ratio(real_time_ns(suites, "pool", "connect_per_request_point_select/real_time"),
              real_time_ns(suites, "pool", "pooled_point_select/real_time")))
    pooled_tps = counter(suites, "pool", "pooled_point_select_8_connections/real_time/threads:8",
                         "items_per_second")
    put("pool.pooled_tps_over_pgbench", ratio(pooled_tps, pgbench))
    put("pool.acquire_release_ns_p50",
        counter(suites, "pool", "pool_acquire_release_latency/real_time", "p50_ns"))
    put("pool.acquire_release_ns_p99_32threads",
        counter(suites, "pool", "pool_acquire_release_latency/real_time/threads:32", "p99_ns"))

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
