"""Reading Google Benchmark JSON (one file per suite in bench-results/) for the summary and the
report: the median of the repetitions, counters, units, and the machine's description."""
import json
import os
import platform

UNIT_TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


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
        # An aggregate's name carries its suffix on the last part ("threads:8_median"); its
        # run_name is the name of the runs it aggregates.
        parts = entry.get("run_name", entry.get("name", "")).split("/")
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
    return entry["real_time"] * UNIT_TO_NS[entry.get("time_unit", "ns")]


def cpu_time_ns(suites, suite, base, threads=None):
    """CPU time of the calling thread per iteration in ns (Google Benchmark's cpu_time: it leaves
    out the server process and the time spent waiting for it)."""
    entry = find_entry(suites, suite, base, threads)
    if entry is None:
        return None
    return entry["cpu_time"] * UNIT_TO_NS[entry.get("time_unit", "ns")]


def counter(suites, suite, base, name, threads=None):
    entry = find_entry(suites, suite, base, threads)
    if entry is None or name not in entry:
        return None
    return float(entry[name])


def counter_max(suites, suite, base, name):
    """The largest value of counter `name` over the repetitions of `base` (single-threaded)."""
    data = suites.get(suite)
    if not data:
        return None
    values = [float(entry[name]) for entry in data["benchmarks"]
              if entry.get("name", "").split("/")[0] == base
              and entry.get("run_type", "iteration") == "iteration" and name in entry
              and not entry.get("error_occurred")]
    return max(values) if values else None


def counter_values(suites, suite, base, name):
    """Counter `name` of every repetition of `base` (single iteration runs, not the aggregates),
    in the order they ran; runs that reported an error are left out."""
    data = suites.get(suite)
    if not data:
        return []
    return [float(entry[name]) for entry in data["benchmarks"]
            if entry.get("name", "").split("/")[0] == base
            and entry.get("run_type", "iteration") == "iteration" and name in entry
            and not entry.get("error_occurred")]


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


