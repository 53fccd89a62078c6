#!/usr/bin/env python3
"""Writes bench-results/report.md: one section per rule of query-pattern guidance, each with the
rule and where the design documents (../shared/seeds) state it, the measured medians, the summary
ratio, a gnuplot chart (bench-results/<section>.svg) and what the figures mean. Every number in
the text is computed from the JSON of the run (bench-results/<suite>.json, summary.json,
pgbench.json); a section whose benchmarks are missing says so.

Each table also gives the round trips of every strategy per operation (the benchmarks' counter
`round_trips`, counted in the run; for pgbench, derived from the text of its script) and a
projection of the time per operation at a real network's round-trip time: measured time + round
trips x RTT. bench-results/round_trip_projection.svg draws it for three rules.

    bench_report.py DIRECTORY
"""
import argparse
import glob
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

from bench_json import (counter, counter_max, counter_values, cpu_time_ns, load_suites,
                        real_time_ns)

SEED_ANTIPATTERNS = "`001` (database engineering playbook), *Query Anti-Patterns & Fixes*"

# Round-trip times the projections use (ns): a LAN or one cloud zone, and across zones or regions.
PROJECTED_RTTS = (0.5e6, 2e6)


def fmt_time(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.3g} µs"
    return f"{ns:.0f} ns"


def fmt_ratio(value):
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.2f}×"


def times_word(value, faster="faster", slower="slower"):
    """'3.1× slower' / '1.05× faster' for a ratio a/b of times."""
    if value is None:
        return "not comparable"
    if value >= 1:
        return f"{fmt_ratio(value)} {slower}"
    return f"{fmt_ratio(1 / value)} {faster}"


def fmt_round_trips(value):
    if value is None:
        return "not recorded"
    if abs(value - round(value)) < 0.005:
        return f"{round(value):,}"
    return f"{value:.2f}"


def round_trips_word(value):
    """'1 round trip', '100 round trips', '1.02 round trips'."""
    text = fmt_round_trips(value)
    return f"{text} round trip{'' if text == '1' else 's'}"


def fmt_rtt(ns):
    return f"{ns / 1e6:g} ms"


class Cost:
    """What one strategy costs per operation: its measured time (ns) and its round trips (None
    when not recorded), or, with `clients`, its throughput (tps) over that many clients, each
    running one operation after another."""

    def __init__(self, ns, round_trips, tps=None, clients=None):
        self.ns = ns
        self.round_trips = round_trips
        self.tps = tps
        self.clients = clients

    def projected(self, rtt_ns):
        """The time (ns) or throughput (tps) at `rtt_ns`: every round trip costs that much more
        than it did here. The measured time already includes the run's loopback round trips, so
        this adds to them rather than replacing them (a little pessimistic)."""
        if self.round_trips is None:
            return None
        if self.clients is not None:
            if not self.tps:
                return None
            per_client_s = self.clients / self.tps + self.round_trips * rtt_ns / 1e9
            return self.clients / per_client_s
        if self.ns is None:
            return None
        return self.ns + self.round_trips * rtt_ns

    def fmt_projected(self, rtt_ns):
        value = self.projected(rtt_ns)
        if value is None:
            return "n/a"
        return f"{value:,.0f} tps" if self.clients is not None else fmt_time(value)


def find_pgbench():
    """pgbench of the newest PostgreSQL installed (as scripts/bench picks it), else on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"),
                        key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit()
                        else 0, reverse=True)
    return candidates[0] if candidates else shutil.which("pgbench")


def pgbench_script(command):
    """The builtin script a pgbench command line runs, how many round trips a transaction of it
    makes, and how the count was derived: read from the script's text (`pgbench --show-script`),
    one round trip per SQL command (pgbench sends each and waits for its result, under any -M:
    simple, extended or prepared, whose Parse goes once per connection), one per
    \\startpipeline ... \\endpipeline block. (None, None, reason) when it cannot be derived."""
    args = shlex.split(command or "")
    if not args:
        return None, None, "no pgbench command in pgbench.json"
    builtin = "tpcb-like"
    if "-f" in args or "--file" in args or any(a.startswith("--file=") for a in args):
        return None, None, "pgbench ran a script file this report cannot read"
    for i, arg in enumerate(args):
        if arg in ("-S", "--select-only"):
            builtin = "select-only"
        elif arg in ("-N", "--skip-some-updates"):
            builtin = "simple-update"
        elif arg in ("-b", "--builtin") and i + 1 < len(args):
            builtin = args[i + 1].split("@")[0]
        elif arg.startswith("--builtin="):
            builtin = arg.split("=", 1)[1].split("@")[0]
    pgbench = find_pgbench()
    if pgbench is None:
        return None, None, "pgbench is not installed here to show its script"
    shown = subprocess.run([pgbench, f"--show-script={builtin}"], capture_output=True, text=True)
    if shown.returncode != 0:
        return None, None, f"`pgbench --show-script={builtin}` failed"
    # pgbench shows it on stderr
    return builtin, script_round_trips(shown.stdout + shown.stderr), None


def script_round_trips(text):
    """The round trips a transaction of the pgbench script `text` makes: one per SQL command
    outside a pipeline, one per \\startpipeline ... \\endpipeline block."""
    round_trips = 0
    in_pipeline = False
    pending_sql = False
    for line in text.splitlines():
        command = line.strip()
        if not command or command.startswith("--"):
            continue
        if command.startswith("\\"):
            meta = command.split()[0]
            if meta == "\\startpipeline":
                in_pipeline = True
            elif meta == "\\endpipeline":
                in_pipeline = False
                round_trips += 1
            continue
        pending_sql = True
        if command.endswith(";"):
            pending_sql = False
            if not in_pipeline:
                round_trips += 1
    if pending_sql and not in_pipeline:
        round_trips += 1  # a last command without its semicolon
    return round_trips


# The script benchmarks/pipeline_bench.cpp hands pgbench (its pgbench_script(); the aids' upper
# bound does not change the round trips): 100 random aids, then the 100 point selects between
# \startpipeline and \endpipeline.
PIPELINE_BATCH = 100
PIPELINE_PGBENCH_SCRIPT = (
    "".join(f"\\set aid{i} random(1, 1000000)\n" for i in range(PIPELINE_BATCH))
    + "\\startpipeline\n"
    + "".join(f"SELECT abalance FROM pgbench_accounts WHERE aid = :aid{i};\n"
              for i in range(PIPELINE_BATCH))
    + "\\endpipeline\n")


class Chart:
    """A bar chart drawn by gnuplot from a data file. With `series` (their names), each bar is a
    group: its value is a list of one value per series, drawn side by side with a key, each
    labelled with `label(value)`."""

    COLOURS = ("#2471a3", "#e67e22", "#c0392b", "#27ae60")

    def __init__(self, name, title, ylabel, bars, log=False, series=None, label=None):
        self.name = name
        self.title = title
        self.ylabel = ylabel
        self.series = series
        self.label = label or (lambda value: f"{value:.3g}")
        if series is None:
            self.bars = [(label, value) for label, value in bars if value is not None]
        else:
            self.bars = [(label, values) for label, values in bars
                         if values is not None and None not in values]
        self.log = log

    def _values(self):
        return [v for _, value in self.bars for v in (value if self.series else [value])]

    def _plot(self, data):
        """The plot command: one box and its label per bar, or per series in each group."""
        label = "with labels offset 0,0.8 font 'sans,10' notitle"
        if not self.series:
            # notitle: gnuplot would otherwise name the series after the data file, a temporary
            # path, in the SVG (and every chart would change with each run of this script).
            return (f"plot '{data}' using 1:3:xticlabels(2) with boxes "
                    f"lc rgb '{self.COLOURS[0]}' notitle, "
                    f"\\\n     '{data}' using 1:3:(sprintf(\"%.3g\", $3)) {label}\n")
        width = 0.8 / len(self.series)
        parts = []
        for k, name in enumerate(self.series):
            shift = (k - (len(self.series) - 1) / 2) * width
            column = 3 + k
            parts.append(f"'{data}' using ($1{shift:+.4f}):{column} with boxes "
                         f"lc rgb '{self.COLOURS[k % len(self.COLOURS)]}' title \"{name}\"")
            parts.append(f"'{data}' using ($1{shift:+.4f}):{column}:{column + len(self.series)} "
                         "with labels rotate by 90 left offset 0,0.5 font 'sans,9' notitle")
        return "plot " + ", \\\n     ".join(parts) + "\n"

    def draw(self, directory, work):
        if not self.bars:
            return None
        data = os.path.join(work, f"{self.name}.dat")
        with open(data, "w") as f:
            for i, (label, value) in enumerate(self.bars):
                values = value if self.series else [value]
                labels = "".join(f' "{self.label(v)}"' for v in values) if self.series else ""
                f.write(f'{i} "{label}" ' + " ".join(f"{v:.9g}" for v in values) + labels + "\n")
        output = os.path.join(directory, f"{self.name}.svg")
        low = min(self._values())
        high = max(self._values())
        # Grouped bars leave room above for their rotated labels and the key.
        headroom = 60 if self.series else 4
        yrange = (f"set logscale y\nset yrange [{low / 3:.6g}:{high * headroom:.6g}]\n" if self.log
                  else f"set yrange [0:{high * (1.6 if self.series else 1.25):.6g}]\n")
        width = 760 if not self.series else max(760, 140 * len(self.bars))
        # A group's name under its middle bar.
        ticks = ", ".join(f'"{label}" {i}' for i, (label, _) in enumerate(self.bars))
        legend = (f"set key top right vertical font 'sans,10'\n"
                  f"set xtics ({ticks}) font 'sans,10'\n" if self.series else "unset key\n")
        script = os.path.join(work, f"{self.name}.gp")
        with open(script, "w") as f:
            f.write(f"""# Generated by scripts/lib/bench_report.py; do not edit.
set terminal svg size {width},420 dynamic noenhanced font 'sans,12' background rgb 'white'
set output '{output}'
set title "{self.title}"
set ylabel "{self.ylabel}{' (log scale)' if self.log else ''}"
{yrange}set format y "%g"
set style fill solid 0.85 border rgb '#333333'
set boxwidth {0.8 / len(self.series) if self.series else 0.6:.4g}
set grid ytics lc rgb '#dddddd'
set xrange [-0.6:{len(self.bars) - 0.4}]
{legend}{self._plot(data)}""")
        subprocess.run(["gnuplot", script], check=True)
        return os.path.basename(output)


class Report:
    def __init__(self, directory):
        self.directory = directory
        self.suites = load_suites(directory)
        self.summary = self._json("summary.json") or {}
        self.results = self.summary.get("results", {})
        pgbench = self._json("pgbench.json") or {}
        self.pgbench = pgbench.get("tps")
        self.pgbench_command = pgbench.get("command")
        self.pgbench_derivation = None
        self.timing = self._json("timing.json") or {}
        self.sections = []
        self.charts = []

    def _json(self, name):
        path = os.path.join(self.directory, name)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return json.load(f)

    def t(self, suite, base, threads=None):
        return real_time_ns(self.suites, suite, base, threads)

    def round_trips(self, suite, base, threads=None):
        """The benchmark's counter round_trips (per iteration), None when not recorded."""
        return counter(self.suites, suite, base, "round_trips", threads)

    def cost(self, suite, base, threads=None):
        return Cost(self.t(suite, base, threads), self.round_trips(suite, base, threads))

    def throughput(self, suite, base, clients):
        """The items_per_second of a run of `clients` threads, as a Cost."""
        return Cost(None, self.round_trips(suite, base, clients),
                    tps=counter(self.suites, suite, base, "items_per_second", clients),
                    clients=clients)

    def pgbench_cost(self):
        """pgbench.json's throughput, with its round trips derived from its script's text."""
        command = self.pgbench_command or ""
        args = shlex.split(command)
        clients = 1
        for i, arg in enumerate(args):
            if arg in ("-c", "--client") and i + 1 < len(args):
                clients = int(args[i + 1])
            elif arg.startswith("--client="):
                clients = int(arg.split("=", 1)[1])
        script, round_trips, why = pgbench_script(command)
        self.pgbench_derivation = (
            "For pgbench the round trips are not counted but derived from the text of the "
            f"script it ran (`pgbench --show-script={script}`: {round_trips} SQL command"
            f"{'' if round_trips == 1 else 's'} a transaction, each sent and waited for)"
            if why is None else f"For pgbench the round trips are not recorded ({why})")
        return Cost(None, round_trips, tps=self.pgbench, clients=clients)

    def loopback_bound(self):
        """The fastest measured operation of one round trip (ns), with its name: the run's
        loopback round trip took less than that."""
        best = None
        for suite, data in self.suites.items():
            for entry in data.get("benchmarks", []):
                parts = entry.get("run_name", entry.get("name", "")).split("/")
                threaded = any(p.startswith("threads:") and p != "threads:1" for p in parts)
                if (entry.get("round_trips") != 1 or entry.get("error_occurred") or threaded
                        or entry.get("run_type", "iteration") != "iteration"):
                    continue
                base = parts[0]
                ns = real_time_ns(self.suites, suite, base)
                if ns is not None and (best is None or ns < best[0]):
                    best = (ns, f"{suite}: `{base}`")
        return best

    def key(self, name):
        value = self.results.get(name)
        return f"`{name}` = **{value}**" if value is not None else f"`{name}`: not measured"

    def section(self, title, rule, source, rows, keys, chart, meaning, column="median"):
        """rows: [(what, figure text)] or [(what, figure text, [Cost of each strategy the figure
        names, in its order])]; meaning: a list of sentences, or None when the data is missing;
        column: what the figures are (the table's heading)."""
        self.sections.append((title, rule, source, rows, keys, chart, meaning, column))
        if chart is not None:
            self.charts.append(chart)

    def duration(self):
        """How long this run's benchmarks took, from timing.json (scripts/bench)."""
        total = self.timing.get("total")
        topology = (self.timing.get("topology") or {}).get("total")
        if total is None:
            return "about a quarter of an hour on 2 cores"
        if self.timing.get("topology_rerun"):
            text = (f"the last full run's benchmarks took {total / 60:.1f} minutes after the "
                    "build; its topology part was run again afterwards")
            if topology is not None:
                text += f" and took {topology / 60:.1f} minutes"
            return text
        partial = self.timing.get("partial_rerun")
        if partial:
            return (f"the last full run's benchmarks took {total / 60:.1f} minutes after the "
                    f"build; {', '.join(partial)} were run again afterwards, alone")
        text = f"this run's benchmarks took {total / 60:.1f} minutes after the build"
        if topology is not None:
            text += f", {topology / 60:.1f} of them in the topology part"
        return text

    @staticmethod
    def table(rows, column):
        """The section's table: with a round-trip column and the projections when any of its
        strategies has its round trips recorded, else a line that says they are not."""
        recorded = any(c.round_trips is not None
                       for row in rows if len(row) > 2 and row[2] for c in row[2])
        if not recorded:
            return ([f"| measurement | {column} |", "| --- | --- |"]
                    + [f"| {row[0]} | {row[1]} |" for row in rows]
                    + ["", "Round trips not recorded: this section's benchmarks do not count them.",
                       ""])
        heads = " | ".join(f"at {fmt_rtt(rtt)} RTT (projected)" for rtt in PROJECTED_RTTS)
        out = [f"| measurement | {column} | round trips | {heads} |",
               "| --- | --- | --- |" + " --- |" * len(PROJECTED_RTTS)]
        for row in rows:
            costs = row[2] if len(row) > 2 else None
            if not costs:
                out.append(f"| {row[0]} | {row[1]} | — |" + " — |" * len(PROJECTED_RTTS))
                continue
            cells = [" / ".join(fmt_round_trips(c.round_trips) for c in costs)]
            cells += [" / ".join(c.fmt_projected(rtt) for c in costs) for rtt in PROJECTED_RTTS]
            out.append(f"| {row[0]} | {row[1]} | " + " | ".join(cells) + " |")
        return out + [""]

    def projection_note(self):
        """How the round trips were counted and the projections computed."""
        rtts = " and ".join(fmt_rtt(rtt) for rtt in PROJECTED_RTTS)
        bound = self.loopback_bound()
        text = (
            "**Round trips.** Each table gives the round trips each strategy made per operation, "
            "as the benchmarks counted them in this run (the counter `round_trips`: "
            "`connection::round_trips()` for pgkit, a counter around every libpq and libpqxx call "
            "that waits for the server in the hand-written code), and projects the time per "
            f"operation at a round-trip time of {rtts}: measured time + round trips × RTT. These "
            "are projections, not measurements: the server here is on loopback, and the measured "
            "time already includes each loopback round trip, which the projection keeps on top "
            "of the RTT (a little pessimistic)")
        if bound is not None:
            text += (f"; a loopback round trip took less than this run's fastest one-round-trip "
                     f"operation, {fmt_time(bound[0])} ({bound[1]})")
        text += (". Throughput (tps) is projected for its clients each running one operation "
                 "after another: clients / (clients / tps + round trips × RTT). Opening a "
                 "connection is not a counted round trip (TCP, startup and authentication "
                 "exchanges are below `connection::round_trips()`).")
        if self.pgbench_derivation:
            text += f" {self.pgbench_derivation}."
        return text

    def render(self, chart_files):
        s = self.summary
        out = [
            "# pgkit benchmark report",
            "",
            f"Run of {s.get('date', 'unknown date')} on {s.get('machine', 'an unknown machine')}, "
            f"PostgreSQL {s.get('postgres_version', '?')} (a throwaway cluster, `fsync=off`), "
            f"pgkit {s.get('pgkit_version', '?')} release build; largest tables "
            f"{s.get('rows') or '?':,} rows. Figures are medians of interleaved repetitions "
            "(Google Benchmark JSON beside this file); ratios compare two measurements of the "
            f"same run. Reproduce with `scripts/bench` ({self.duration()}).",
            "",
            "Generated by `scripts/lib/bench_report.py` from the JSON of the run; every figure "
            "below is computed from it.",
            "",
            self.projection_note(),
            "",
        ]
        for title, rule, source, rows, keys, chart, meaning, column in self.sections:
            out += [f"## {title}", "", f"**Rule.** {rule}", ""]
            if source:
                out += [f"*Source:* {source}", ""]
            if meaning is None:
                out += ["Not measured in this run.", ""]
                continue
            out += self.table(rows, column)
            out += ["Summary: " + "; ".join(self.key(k) for k in keys) + ".", ""]
            file = chart_files.get(chart.name) if chart is not None else None
            if file:
                out += [f"![{chart.title}]({file})", ""]
            out += [" ".join(meaning), ""]
        return "\n".join(out)


def build(report):
    r = report
    t = r.t

    # OFFSET against keyset pages, by depth.
    depths = ["0", "1k", "10k", "100k", "500k", "last"]
    offset = {d: t("pagination", f"offset_page_{d}") for d in depths}
    keyset = {d: t("pagination", f"keyset_page_{d}") for d in depths}
    libpq = t("pagination", "libpq_keyset_page_100k")
    ok = offset["last"] is not None and keyset["last"] is not None
    rows = [(f"depth {d}: OFFSET / keyset", f"{fmt_time(offset[d])} / {fmt_time(keyset[d])}",
             [r.cost("pagination", f"offset_page_{d}"), r.cost("pagination", f"keyset_page_{d}")])
            for d in depths if offset[d] is not None and keyset[d] is not None]
    rows.append(("keyset page 100k deep through raw libpq (same SQL)", fmt_time(libpq),
                 [r.cost("pagination", "libpq_keyset_page_100k")]))
    chart = None
    if os.path.exists(os.path.join(r.directory, "pagination.svg")):
        chart = Chart("pagination", "OFFSET vs keyset by depth", "", [])
    r.section(
        "OFFSET vs keyset pagination, by depth",
        "Page with a keyset cursor (`WHERE (a, id) < ($1, $2) ORDER BY a DESC, id DESC LIMIT n`), "
        "not `OFFSET`, which reads and discards every skipped row.",
        f"{SEED_ANTIPATTERNS}, 5: \"OFFSET 10000 scans and discards 10000 rows\" (while `000`, "
        "the clip site's guide, says \"Always use LIMIT/OFFSET\").",
        rows, ["pagination.offset_over_keyset_deepest", "pagination.keyset_deepest_over_first",
               "pagination.keyset_over_libpq"],
        chart,
        None if not ok else [
            f"On 1M rows, OFFSET's last page took {fmt_time(offset['last'])}, "
            f"{fmt_ratio(offset['last'] / keyset['last'])} the keyset page at the same depth "
            f"({fmt_time(keyset['last'])}).",
            f"The keyset page costs the same at any depth: the last page is "
            f"{times_word(keyset['last'] / keyset['0'])} than the first, because the index "
            "scan starts at the cursor.",
            "OFFSET is fine for the first few pages of an admin screen; `repository::page_at` "
            "refuses offsets past `max_offset` (10 000 by default) and hands over to cursors.",
        ])
    if chart is not None:
        r.charts.remove(chart)  # drawn by plot_pagination.py with every depth

    # N+1 against batched loading and a JOIN.
    n1, many, join = (t("repository", b) for b in
                      ("loading_n_plus_1", "loading_find_many", "loading_join"))
    r.section(
        "N+1 queries vs batched loading vs JOIN",
        "Load the children of many parents in one round trip (`find_many`: `= ANY($1)`, or a "
        "JOIN), not one query per parent.",
        f"{SEED_ANTIPATTERNS}, 2; `003`: \"Avoid N+1 queries: use JOINs or batch loading\"; "
        "`004`: \"N+1 Problem\".",
        [("children of 100 parents, one query per parent", fmt_time(n1),
          [r.cost("repository", "loading_n_plus_1")]),
         ("one `find_many` (`= ANY($1)`)", fmt_time(many),
          [r.cost("repository", "loading_find_many")]),
         ("one JOIN", fmt_time(join), [r.cost("repository", "loading_join")])],
        ["loading.n_plus_1_over_find_many", "loading.join_over_find_many"],
        Chart("loading", "children of 100 parents", "ms per load",
              [("N+1 loop", n1 and n1 / 1e6), ("find_many", many and many / 1e6),
               ("JOIN", join and join / 1e6)], log=True),
        None if None in (n1, many, join) else [
            "The loop"
            + (f" made {round_trips_word(r.round_trips('repository', 'loading_n_plus_1'))} and"
               if r.round_trips("repository", "loading_n_plus_1") is not None else "")
            + f" took {fmt_ratio(n1 / many)} the time of one "
            f"`find_many`; the JOIN was {times_word(join / many)} than `find_many`.",
            "Round trips dominate on any network (this run's server is on the same machine: "
            "a real network makes the loop worse, not the batch; see the projections).",
        ])

    # COUNT(*) against an estimate.
    exact, est = t("repository", "count_exact"), t("repository", "count_estimated")
    r.section(
        "COUNT(*) vs the planner's estimate",
        "Do not `COUNT(*)` a large table for a number a UI shows; use the statistics' estimate "
        "(or a capped count) when \"about 1.2 million\" is enough.",
        f"{SEED_ANTIPATTERNS}, 6: \"COUNT(*) on large tables: full table scan\".",
        [("`repository::count()` on 1M rows", fmt_time(exact),
          [r.cost("repository", "count_exact")]),
         ("`repository::estimated_count()`", fmt_time(est),
          [r.cost("repository", "count_estimated")])],
        ["count.exact_over_estimate"],
        Chart("count", "counting 1M rows", "ms", [("COUNT(*)", exact and exact / 1e6),
                                                 ("estimate", est and est / 1e6)], log=True),
        None if None in (exact, est) else [
            f"The exact count read the table: {fmt_ratio(exact / est)} the estimate, which is a "
            "catalog lookup whatever the table's size. Pages offer both (`count_policy`).",
        ])

    # Inserts.
    rbr, multi, copy, raw = (t("repository", b) for b in ("insert_row_by_row",
                                                          "insert_multi_values",
                                                          "insert_many_copy", "insert_raw_copy"))
    r.section(
        "Row-by-row vs multi-row INSERT vs COPY",
        "Insert in bulk: COPY (`insert_many`), not one INSERT per row.",
        "`003`: \"Batch operations: use bulk inserts/updates\".",
        [("100k rows, one INSERT each", fmt_time(rbr), [r.cost("repository", "insert_row_by_row")]),
         ("100k rows, multi-row `INSERT ... VALUES`", fmt_time(multi),
          [r.cost("repository", "insert_multi_values")]),
         ("100k rows, `insert_many` (COPY)", fmt_time(copy),
          [r.cost("repository", "insert_many_copy")]),
         ("100k rows, hand-written libpq COPY", fmt_time(raw),
          [r.cost("repository", "insert_raw_copy")])],
        ["insert.row_by_row_over_insert_many", "insert.multi_values_over_insert_many",
         "insert.insert_many_over_raw_copy"],
        Chart("insert", "inserting 100k rows", "ms",
              [("row by row", rbr and rbr / 1e6), ("multi-row VALUES", multi and multi / 1e6),
               ("insert_many (COPY)", copy and copy / 1e6), ("raw libpq COPY", raw and raw / 1e6)],
              log=True),
        None if None in (rbr, multi, copy) else [
            f"COPY was {fmt_ratio(rbr / copy)} faster than row by row and {fmt_ratio(multi / copy)} "
            "faster than multi-row VALUES"
            + (f"; it took {copy / raw:.2f}× the time of hand-written libpq COPY." if raw else "."),
        ])

    # Backfill.
    one, hand, pg = (t("backfill", b) for b in ("backfill_one_update", "backfill_hand_batched",
                                                "backfill_pgkit"))
    lock = {b: counter(r.suites, "backfill", b, "longest_tx_ms")
            for b in ("backfill_one_update", "backfill_hand_batched", "backfill_pgkit")}
    p99 = {b: counter(r.suites, "backfill", b, "writer_p99_ms")
           for b in ("backfill_one_update", "backfill_hand_batched", "backfill_pgkit")}
    target = r.suites.get("backfill", {}).get("context", {}).get("target_batch_ms")
    def ms(value):
        return "n/a" if value is None else f"{value:.0f} ms"

    r.section(
        "One big UPDATE vs a batched backfill",
        "Update millions of rows in short batches, not in one transaction that holds its row "
        "locks until the end.",
        "`001`: \"Large table backfill (batched): Don't UPDATE millions of rows in one "
        "transaction\".",
        [("1M rows, one UPDATE: wall time / longest lock / writers' p99",
          f"{fmt_time(one)} / {ms(lock['backfill_one_update'])} / {ms(p99['backfill_one_update'])}",
          [r.cost("backfill", "backfill_one_update")]),
         ("hand-written batches", f"{fmt_time(hand)} / {ms(lock['backfill_hand_batched'])} / "
          f"{ms(p99['backfill_hand_batched'])}", [r.cost("backfill", "backfill_hand_batched")]),
         ("`run_backfill` (target batch " + f"{target} ms)",
          f"{fmt_time(pg)} / {ms(lock['backfill_pgkit'])} / {ms(p99['backfill_pgkit'])}",
          [r.cost("backfill", "backfill_pgkit")])],
        ["backfill.over_hand_batched", "backfill.max_batch_over_target",
         "backfill.writer_p99_single_update_over_backfill",
         "backfill.writer_p99_over_hand_batched"],
        Chart("backfill", "concurrent single-row writers' p99 latency", "ms",
              [("during one UPDATE", p99["backfill_one_update"]),
               ("during hand batches", p99["backfill_hand_batched"]),
               ("during run_backfill", p99["backfill_pgkit"])], log=True),
        None if None in (one, pg, p99["backfill_one_update"], p99["backfill_pgkit"]) else [
            f"The single UPDATE took {fmt_time(one)} against the backfill's {fmt_time(pg)}, but "
            f"held its locks for {lock['backfill_one_update']:.0f} ms: writers touching those "
            f"rows waited, p99 {p99['backfill_one_update']:.0f} ms against "
            f"{p99['backfill_pgkit']:.0f} ms during the backfill "
            f"({fmt_ratio(p99['backfill_one_update'] / p99['backfill_pgkit'])}).",
            f"The backfill's longest transaction was {lock['backfill_pgkit']:.0f} ms for a "
            f"{target} ms target, and it resumes where it stopped.",
            (f"The hand-written loop's smaller fixed batches ({ms(lock['backfill_hand_batched'])} "
             f"each) kept writers' p99 at {ms(p99['backfill_hand_batched'])}, but the loop was "
             f"{times_word(hand / pg)} than `run_backfill`, which sizes its batches to the "
             "target: the target is the knob between throughput and the longest wait."
             if hand and lock['backfill_hand_batched'] and p99['backfill_hand_batched'] else ""),
            backfill_contention(r, p99),
            backfill_round_trips(r, target),
        ])

    build_migrate(r)

    # Pooling.
    connect, pooled = t("pool", "connect_per_request_point_select"), t("pool", "pooled_point_select")
    tps = counter(r.suites, "pool", "pooled_point_select_8_connections", "items_per_second",
                  threads=8)
    unchecked_tps, always_tps, full_check_tps = (
        counter(r.suites, "pool", f"pooled_point_select_8_connections_{variant}",
                "items_per_second", threads=8)
        for variant in ("when_sql_dirty", "reset_always", "full_check"))
    r.section(
        "Connect per request vs a pool",
        "Reuse connections through a pool; a new PostgreSQL connection forks a backend and "
        "authenticates.",
        "`002`: \"Connection Pooling\"; `001`: PgBouncer configuration.",
        [("point select with a new connection each time (opening it: not a counted round trip)",
          fmt_time(connect), [r.cost("pool", "connect_per_request_point_select")]),
         ("point select on a pooled lease", fmt_time(pooled),
          [r.cost("pool", "pooled_point_select")]),
         ("pooled throughput, 8 threads / pgbench -S -M prepared -c 8 (tps; pgbench's round "
          "trips derived from its script)",
          f"{tps:,.0f} / {r.pgbench:,.0f}" if tps and r.pgbench else "n/a",
          [r.throughput("pool", "pooled_point_select_8_connections", 8), r.pgbench_cost()]),
         ("the same, reset policy when_dirty (a key read: the proof) / when_sql_dirty / always "
          "(tps)",
          f"{tps:,.0f} / {unchecked_tps:,.0f} / {always_tps:,.0f}"
          if tps and unchecked_tps and always_tps else "n/a",
          [r.throughput("pool", f"pooled_point_select_8_connections{policy}", 8)
           for policy in ("", "_when_sql_dirty", "_reset_always")]),
         ("the same row with `LIMIT 1`, not a key read: the full session check (tps)",
          f"{full_check_tps:,.0f}" if full_check_tps else "n/a",
          [r.throughput("pool", "pooled_point_select_8_connections_full_check", 8)])],
        ["pool.connect_per_request_over_pooled", "pool.pooled_tps_over_pgbench",
         "pool.acquire_release_ns_p50", "pool.unchecked_tps_over_checked",
         "pool.key_read_tps_over_full_check",
         "pool.checked_tps_over_reset_always"],
        Chart("pool", "a point select", "µs",
              [("connect per request", connect and connect / 1e3),
               ("pooled", pooled and pooled / 1e3)], log=True),
        None if None in (connect, pooled) else [
            f"Connecting for each request cost {fmt_ratio(connect / pooled)} the pooled query "
            f"({fmt_time(connect)} against {fmt_time(pooled)}).",
            (f"Pooled throughput was {tps / r.pgbench:.2f}× pgbench's, the C floor for the same "
             "statement." if tps and r.pgbench else ""),
            (f"The session check that the default reset policy sends with each lease's first "
             f"statement (docs/pool.md) cost {unchecked_tps / tps:.2f}× in throughput on these "
             f"one-statement leases; resetting every lease instead would cost "
             f"{tps / always_tps:.2f}× more." if tps and unchecked_tps and always_tps else ""),
            pool_round_trips(r),
        ])

    # pgkit's own overhead.
    drv, drv_pq = t("driver", "pgkit_point_select"), t("driver", "libpq_point_select")
    get, get_pqxx, get_pq = (t("repository", b) for b in ("repository_get", "libpqxx_get",
                                                         "libpq_get"))
    page = t("pagination", "keyset_page_100k")
    r.section(
        "pgkit's overhead over raw libpqxx and libpq",
        "A data-access library should cost nothing measurable over hand-written driver code on a "
        "round trip.",
        None,
        [("point select: `connection` / hand-written libpq",
          f"{fmt_time(drv)} / {fmt_time(drv_pq)}",
          [r.cost("driver", "pgkit_point_select"), r.cost("driver", "libpq_point_select")]),
         ("`repository::get` / libpqxx prepared / libpq",
          f"{fmt_time(get)} / {fmt_time(get_pqxx)} / {fmt_time(get_pq)}",
          [r.cost("repository", b) for b in ("repository_get", "libpqxx_get", "libpq_get")]),
         ("keyset page 100k deep: `repository::page` / same SQL through libpq",
          f"{fmt_time(page)} / {fmt_time(libpq)}",
          [r.cost("pagination", "keyset_page_100k"),
           r.cost("pagination", "libpq_keyset_page_100k")])],
        ["driver.point_select_over_libpq", "repository.get_over_raw_libpqxx",
         "repository.get_over_libpq", "pagination.keyset_over_libpq"],
        Chart("overhead", "pgkit / hand-written code (1 = no overhead)", "ratio",
              [("connection vs libpq", drv and drv_pq and drv / drv_pq),
               ("get vs libpqxx", get and get_pqxx and get / get_pqxx),
               ("get vs libpq", get and get_pq and get / get_pq),
               ("page vs libpq", page and libpq and page / libpq)]),
        None if None in (drv, drv_pq, get, get_pq) else [
            f"Ratios of {drv / drv_pq:.2f} (driver), {get / get_pq:.2f} (typed get) and "
            + (f"{page / libpq:.2f} (a keyset page, which also checks one cursor and signs two)"
               if page and libpq else "n/a (pages)")
            + " against hand-written libpq: within this machine's run-to-run noise of about ±10 %.",
        ])

    # Memory.
    stream = counter_max(r.suites, "repository", "memory_stream_1m_rows", "peak_rss_growth_mb")
    inserted = counter_max(r.suites, "repository", "memory_insert_many_1m_rows",
                           "peak_rss_growth_mb")
    exported = counter_max(r.suites, "repository", "memory_copy_out_1m_rows", "peak_rss_growth_mb")
    cursor_read, copy_read = (t("repository", b) for b in ("stream_1m_rows_cursor",
                                                           "stream_1m_rows_copy_out"))
    r.section(
        "Streaming and bulk inserts in constant memory",
        "Read and write large result sets in chunks, never all at once.",
        None,
        [("peak RSS growth streaming 1M rows (`for_each_where`), worst repetition; the run's "
          "median time",
          f"{stream:.2f} MB; {fmt_time(t('repository', 'memory_stream_1m_rows'))}"
          if stream is not None else "n/a", [r.cost("repository", "memory_stream_1m_rows")]),
         ("peak RSS growth inserting 1M generated rows (`insert_many`), worst repetition; the "
          "run's median time",
          f"{inserted:.2f} MB; {fmt_time(t('repository', 'memory_insert_many_1m_rows'))}"
          if inserted is not None else "n/a",
          [r.cost("repository", "memory_insert_many_1m_rows")]),
         ("peak RSS growth exporting 1M rows through COPY (`export_where`), worst repetition; "
          "the run's median time",
          f"{exported:.2f} MB; {fmt_time(t('repository', 'memory_copy_out_1m_rows'))}"
          if exported is not None else "n/a", [r.cost("repository", "memory_copy_out_1m_rows")]),
         ("reading 1M rows: `for_each_where` (cursor) / `export_where` (COPY out)",
          f"{fmt_time(cursor_read)} / {fmt_time(copy_read)}",
          [r.cost("repository", "stream_1m_rows_cursor"),
           r.cost("repository", "stream_1m_rows_copy_out")])],
        ["memory.stream_1m_rows_mb", "memory.insert_many_1m_rows_mb",
         "memory.copy_out_1m_rows_mb", "streaming.cursor_over_copy_out"],
        None,
        None if None in (stream, inserted, exported) else [
            f"All three stayed under {max(stream, inserted, exported, 0.01):.2f} MB of growth for "
            "a million rows (the worst of the repetitions, sampled every millisecond), against a "
            "32 MB target.",
            (f"COPY out read the million rows in {fmt_ratio(copy_read / cursor_read)} the "
             "cursor's time: one statement streamed (two round trips: the pool's session check "
             "goes alone ahead of a COPY), against a FETCH per thousand rows."
             if cursor_read and copy_read else ""),
        ])

    # The index rules.
    star, narrow = t("guidance", "select_star_by_user"), t("guidance", "index_only_by_user")
    r.section(
        "SELECT * vs a covering index-only scan",
        "Select the columns you need; with a covering index (`INCLUDE`) PostgreSQL answers from "
        "the index alone.",
        f"{SEED_ANTIPATTERNS}, 1: \"SELECT * ... fetches all columns, breaks covering indexes\".",
        [("a user's 20 clips, `SELECT *` (index scan + 20 heap pages)", fmt_time(star),
          [r.cost("guidance", "select_star_by_user")]),
         ("the same rows, covered columns only (Index Only Scan)", fmt_time(narrow),
          [r.cost("guidance", "index_only_by_user")])],
        ["guidance.select_star_over_index_only"],
        Chart("select_star", "a user's 20 clips of 1M", "µs",
              [("SELECT *", star and star / 1e3), ("index-only", narrow and narrow / 1e3)]),
        None if None in (star, narrow) else [
            f"`SELECT *` took {fmt_ratio(star / narrow)} the index-only query: each of the "
            "user's rows sits on another heap page, and the wide rows cross the wire.",
            "The plan of each query is checked before measuring (a vacuumed table, so the "
            "visibility map lets the index-only scan skip the heap).",
        ])
    plain, expr = t("guidance", "function_on_plain_index"), t("guidance",
                                                              "function_on_expression_index")
    r.section(
        "A function on an indexed column vs an expression index",
        "`WHERE lower(email) = $1` cannot use an index on `email`; index the expression.",
        f"{SEED_ANTIPATTERNS}, 3: \"Bad: can't use index on email WHERE LOWER(email) = ...; "
        "Good: expression index\".",
        [("`lower(email) = $1`, plain index on email (Seq Scan of 1M rows)", fmt_time(plain),
          [r.cost("guidance", "function_on_plain_index")]),
         ("the same with an index on `lower(email)`", fmt_time(expr),
          [r.cost("guidance", "function_on_expression_index")])],
        ["guidance.function_on_column_over_expression_index"],
        Chart("expression_index", "lower(email) = $1 on 1M rows", "ms",
              [("plain index", plain and plain / 1e6), ("expression index", expr and expr / 1e6)],
              log=True),
        None if None in (plain, expr) else [
            f"Without the expression index every row was read: {fmt_ratio(plain / expr)} the "
            "indexed lookup, and it grows with the table.",
        ])
    chain, any_ = t("guidance", "or_chain_10_keys"), t("guidance", "any_array_10_keys")
    verdict = None
    if None not in (chain, any_):
        ratio = chain / any_
        verdict = [
            f"Ten keys as an OR chain took {fmt_ratio(ratio)} the `= ANY($1)` query.",
            ("On PostgreSQL 15 the OR chain still uses the index (a BitmapOr of ten index "
             "scans, checked in the plan), so the rule's \"kills index usage\" does not hold "
             "here; `= ANY` is still " + ("faster" if ratio > 1 else "no slower")
             + ", and it is one prepared statement for any number of keys (pgkit's "
             "`find_many` uses it)."),
        ]
    r.section(
        "OR chains vs IN / = ANY",
        "Match a list of values with `IN (...)` / `= ANY($1)`, not `a = $1 OR a = $2 ...`.",
        f"{SEED_ANTIPATTERNS}, 4: \"OR conditions ... Good: IN uses index\".",
        [("10 primary keys, `id = $1 OR ... OR id = $10`", fmt_time(chain),
          [r.cost("guidance", "or_chain_10_keys")]),
         ("the same keys, `id = ANY($1)`", fmt_time(any_),
          [r.cost("guidance", "any_array_10_keys")])],
        ["guidance.or_over_any"],
        Chart("or_vs_any", "10 keys of 1M rows", "µs",
              [("OR chain", chain and chain / 1e3), ("= ANY($1)", any_ and any_ / 1e3)]),
        verdict)

    build_latency(r)
    build_pipeline(r)
    build_client_cpu(r)
    build_pagination_strategies(r)
    build_pqxx(r)



def check_cost_sentence(check_ns):
    """What the session check cost a `get`'s client CPU: the checked median minus the unchecked
    one. On a noisy machine that difference can come out negative; the sentence then says so
    instead of quoting a negative cost."""
    what = ("The session check (the statements that go ahead of a lease's first statement and "
            "clear what functions and triggers may have left: docs/pool.md) ")
    if check_ns >= 0:
        return (what + f"costs the client {fmt_time(check_ns)} per `get` in this run; a pool with "
                "`reset_policy::when_sql_dirty` does not send it.")
    return (what + "cost the client less than this run's noise per `get`: the `get` without it "
            f"(`reset_policy::when_sql_dirty`) came out {fmt_time(-check_ns)} slower, which is "
            "noise, not a saving.")

def build_client_cpu(r):
    """Client CPU (benchmarks/cpu_bench.cpp): the calling thread's CPU time per operation, pgkit
    against hand-written libpq on one connection each, in the same run."""
    pairs = [("`repository::get` / libpq prepared point select", "cpu_repository_get",
              "cpu_libpq_get"),
             ("`find_many` of 100 rows / libpq `= ANY($1)`", "cpu_repository_find_many_100",
              "cpu_libpq_find_many_100"),
             ("`insert_many` of 100k rows / hand-written libpq COPY", "cpu_insert_many_100k",
              "cpu_libpq_copy_100k")]
    # The same reads on a pool without the session check (reset_policy::when_sql_dirty).
    unchecked = [("`get` without the session check / libpq", "cpu_repository_get_unchecked",
                  "cpu_libpq_get"),
                 ("`find_many` without the session check / libpq",
                  "cpu_repository_find_many_100_unchecked", "cpu_libpq_find_many_100")]
    cpu = {b: cpu_time_ns(r.suites, "cpu", b) for _, a, z in pairs + unchecked for b in (a, z)}
    rows = [(what, f"{fmt_time(cpu[a])} / {fmt_time(cpu[z])}")
            for what, a, z in pairs + unchecked]
    keys = ["cpu.get_over_libpq", "cpu.find_many_over_libpq", "cpu.insert_many_over_libpq_copy",
            "cpu.get_unchecked_over_libpq", "cpu.find_many_unchecked_over_libpq"]
    r.section(
        "Client CPU against hand-written libpq",
        "A data-access library should cost the application server no more CPU than careful "
        "hand-written libpq: encoding, COPY rows and decoding included.",
        None,
        rows, keys,
        Chart("client_cpu", "client CPU, pgkit / hand-written libpq (1 = none extra)", "ratio",
              [(label, cpu[a] / cpu[z] if cpu[a] and cpu[z] else None)
               for label, (_, a, z) in zip(("get", "find_many", "insert_many"), pairs)]),
        None if None in cpu.values() else [
            "CPU time of the benchmark's own thread (Google Benchmark's `cpu_time`), which leaves "
            "out the server and the wait for it: on loopback the round trips hide this cost in "
            "wall time, an application server running thousands of operations a second does not.",
            f"pgkit cost {cpu['cpu_repository_get'] / cpu['cpu_libpq_get']:.2f}× libpq's CPU for a "
            f"`get`, {cpu['cpu_repository_find_many_100'] / cpu['cpu_libpq_find_many_100']:.2f}× "
            f"for `find_many` and "
            f"{cpu['cpu_insert_many_100k'] / cpu['cpu_libpq_copy_100k']:.2f}× for `insert_many`.",
            check_cost_sentence(cpu['cpu_repository_get'] - cpu['cpu_repository_get_unchecked']),
        ], column="CPU time per operation")


def build_pagination_strategies(r):
    """`pgkit bench pagination` (tools/pgkit): six strategies by depth on a generated table, and
    one full walk of each under concurrent writes (bench-results/pagination_strategies.json)."""
    data = r._json("pagination_strategies.json")
    keys = ["pagination.deferred_join_over_keyset_deepest",
            "pagination.server_cursor_over_keyset_deepest",
            "pagination.offset_anomalies_under_writes", "pagination.keyset_anomalies_under_writes",
            "pagination.strategies_measured"]
    rows = []
    for strategy in (data or {}).get("strategies", []):
        depths = strategy.get("depths") or []
        if not strategy.get("measured") or not depths:
            rows.append((f"`{strategy['name']}`", f"not measured: {strategy.get('skipped')}"))
            continue
        first, deepest = depths[0], depths[-1]
        costs = [Cost(deepest["median_ms"] * 1e6, deepest.get("round_trips"))]
        scanned = deepest.get("rows_scanned")
        text = (f"{first['median_ms']:.3f} ms at row {first['start_row']:,}; "
                f"{deepest['median_ms']:.3f} ms (p99 {deepest['p99_ms']:.3f} ms) at row "
                f"{deepest['start_row']:,}, "
                + (f"{scanned:,} rows read, {deepest.get('buffers'):,} buffers"
                   if scanned is not None else "rows read not known")
                + f", plan: {' > '.join(deepest.get('plan') or []) or '?'}")
        anomalies = strategy.get("anomalies")
        if anomalies:
            text += (f"; under writes: {anomalies['duplicates']} duplicated and "
                     f"{anomalies['skips']} skipped rows in {anomalies['pages']} pages")
        cost = strategy.get("server_cost")
        if cost:
            text += (f"; its transaction stayed open {cost['open_ms']:.0f} ms (xmin age "
                     f"{cost['xmin_age']})")
        rows.append((f"`{strategy['name']}`", text, costs))
    chart = None
    if os.path.exists(os.path.join(r.directory, "pagination_strategies_latency.svg")):
        chart = Chart("pagination_strategies_latency", "page latency by depth, every strategy", "",
                      [])
    anomalies_svg = os.path.exists(os.path.join(r.directory,
                                                "pagination_strategies_anomalies.svg"))
    r.section(
        "Pagination strategies compared (`pgkit bench pagination`)",
        "Measure the strategies on your own table before choosing: latency by depth, rows read, "
        "round trips, what each does to correctness while rows are inserted and deleted, and "
        "what it costs the server.",
        "tools/pgkit (docs/pagination-benchmarks.md); `pgkit bench pagination --url URL --table T "
        "--order ...` runs the same on a user's table, read-only.",
        rows, keys, chart,
        None if not data else [
            f"{data['rows']:,} generated rows, {data['page_size']} a page, ordered by "
            f"`{data['ordering']}`.",
            "Anomalies are counted over one full walk while a writer inserts and deletes rows at "
            "random positions of the ordering: a duplicate is a row returned twice, a skip a row "
            "that existed throughout the walk and was never returned. Keyset walks must have none; "
            "OFFSET's shift with every write before the current page.",
            "The server cursor is exact but holds one transaction (and its snapshot, which holds "
            "back vacuum) open for the whole walk.",
        ] + (["![anomalies under concurrent writes](pagination_strategies_anomalies.svg)"]
             if anomalies_svg else []),
        column="what was measured")
    if chart is not None:
        r.charts.remove(chart)  # drawn by plot_pagination_strategies.py


def build_pqxx(r):
    """libpqxx interop (benchmarks/pqxx_bench.cpp): a repository get inside a pqxx::work against
    hand-written exec_prepared in the same kind of work."""
    ours, raw = r.t("pqxx", "repository_get_in_pqxx_work"), r.t("pqxx", "raw_pqxx_get_in_work")
    r.section(
        "A repository inside a libpqxx transaction",
        "Code that adopts pgkit inside an existing `pqxx::work` (`repo.in(work)`) should cost no "
        "more than the hand-written libpqxx statement it replaces.",
        "docs/libpqxx.md",
        [("`repo.in(work).get(id)` / hand-written `work.exec_prepared` (one BEGIN, SELECT, COMMIT "
          "each)", f"{fmt_time(ours)} / {fmt_time(raw)}")] if ours and raw else [],
        ["pqxx.repository_get_in_pqxx_work_over_raw_pqxx"],
        None,
        None if not (ours and raw) else [
            f"pgkit's repository through libpqxx's own API took "
            f"{ours / raw:.2f}× the hand-written libpqxx code's time (target ≤ 1.10): it runs "
            "the same prepared statement through `exec_prepared` and reads the same "
            "`pqxx::result`.",
        ])


def variation(suites, suite, base):
    """The coefficient of variation of `base`'s real time over its repetitions (Google
    Benchmark's `cv` aggregate), None without repetitions."""
    for entry in (suites.get(suite) or {}).get("benchmarks", []):
        if (entry.get("run_name", entry.get("name", "")).split("/")[0] == base
                and entry.get("run_type") == "aggregate" and entry.get("aggregate_name") == "cv"):
            return float(entry["real_time"])
    return None


def build_pipeline(r):
    """Pipelines (benchmarks/pipeline_bench.cpp): 100 point selects one at a time against one
    pipeline, pgkit's pipeline against pgbench's, and a transaction's BEGIN travelling with its
    first statement against sent alone."""
    seq, cached, extended = (r.cost("pipeline", b) for b in (
        "sequential_100_point_selects", "pipelined_100_point_selects",
        "pgkit_pipeline_100_selects_extended"))
    # pgbench is timed by itself (1 / its tps, a manual time) and counts no round trips: they
    # come from the text of the script the benchmark hands it.
    pgbench_trips = script_round_trips(PIPELINE_PGBENCH_SCRIPT)
    pgbench = Cost(r.t("pipeline", "pgbench_pipeline_100_selects_extended"), pgbench_trips)
    folded, alone = (r.cost("pipeline", b) for b in (
        "transaction_3_statements", "transaction_3_statements_begin_alone"))
    rtts = (0,) + PROJECTED_RTTS
    strategies = [("one at a time", seq), ("pipeline (cached)", cached),
                  ("pipeline (extended)", extended), ("pgbench (extended)", pgbench)]
    bars = [(label, [cost.projected(rtt) / 1e6 for rtt in rtts]
             if cost.ns is not None and cost.round_trips is not None else None)
            for label, cost in strategies]
    chart = Chart("pipeline",
                  f"time per batch of {PIPELINE_BATCH} point selects, measured on loopback and "
                  "projected at " + " and ".join(fmt_rtt(rtt) for rtt in PROJECTED_RTTS) + " RTT",
                  "ms per batch", bars, log=True,
                  series=["measured (loopback)"] + [f"{fmt_rtt(rtt)} RTT (projected)"
                                                   for rtt in PROJECTED_RTTS],
                  label=lambda ms: fmt_time(ms * 1e6))
    derived = (f"pgbench's round trips derived from its script: {PIPELINE_BATCH} selects between "
               f"`\\startpipeline` and `\\endpipeline`, {round_trips_word(pgbench_trips)} a batch")
    rows = [
        (f"{PIPELINE_BATCH} point selects one at a time (`execute_cached`, one lease), per batch",
         fmt_time(seq.ns), [seq]),
        (f"the same {PIPELINE_BATCH} in one pipeline (`start_pipeline`, `add_cached`)",
         fmt_time(cached.ns), [cached]),
        (f"{PIPELINE_BATCH} unprepared selects in one pipeline (`add`: extended protocol), "
         "pgkit", fmt_time(extended.ns), [extended]),
        (f"the same through `pgbench -M extended -c 1` (time per batch: 1 / pgbench's tps; "
         f"{derived})", fmt_time(pgbench.ns), [pgbench]),
        ("`with_transaction` of 3 updates, BEGIN travelling with the first statement",
         fmt_time(folded.ns), [folded]),
        ("the same, BEGIN sent alone first", fmt_time(alone.ns), [alone]),
    ]

    def at_rtts(a, b):
        """a's time over b's, measured and at each projected RTT."""
        return (f"{fmt_ratio(a.ns / b.ns)} measured, "
                + ", ".join(f"{fmt_ratio(a.projected(rtt) / b.projected(rtt))} at {fmt_rtt(rtt)}"
                            for rtt in PROJECTED_RTTS)
                + f" ({fmt_time(a.projected(PROJECTED_RTTS[-1]))} against "
                  f"{fmt_time(b.projected(PROJECTED_RTTS[-1]))} at {fmt_rtt(PROJECTED_RTTS[-1])})")

    folded_cv, alone_cv = (variation(r.suites, "pipeline", b) for b in (
        "transaction_3_statements", "transaction_3_statements_begin_alone"))

    def spread(a, b):
        return ("" if None in (a, b) else
                f", coefficients of variation {a:.0%} and {b:.0%} over the repetitions")

    meaning = None
    if None not in (seq.ns, cached.ns, seq.round_trips, cached.round_trips):
        saved = seq.round_trips - cached.round_trips
        meaning = [
            f"One at a time, the {PIPELINE_BATCH} selects made {round_trips_word(seq.round_trips)} "
            f"and took {fmt_time(seq.ns)} a batch; in one pipeline, the same cached statements "
            f"made {round_trips_word(cached.round_trips)} and took {fmt_time(cached.ns)}: "
            f"{fmt_ratio(seq.ns / cached.ns)} (`pipeline.sequential_over_pipelined`, target ≥ 3 "
            "on loopback).",
            "A pipeline saves round trips, not server work: the server still parses, plans and "
            "runs every statement, but the client sends them all before it reads the first "
            "result, so it waits once for the batch instead of once for each statement.",
        ]
        if saved > 0:
            meaning.append(
                f"On loopback a round trip costs little: the {fmt_round_trips(saved)} round trips "
                f"saved account for {fmt_time(seq.ns - cached.ns)}, about "
                f"{fmt_time((seq.ns - cached.ns) / saved)} each in this run.")
        meaning.append(
            f"The projection shows the gap growing with the RTT, "
            f"{fmt_round_trips(seq.round_trips)} round trips against "
            f"{fmt_round_trips(cached.round_trips)}: one at a time over the pipeline, "
            + at_rtts(seq, cached) + ".")
        if None not in (extended.ns, pgbench.ns):
            meaning.append(
                f"With unprepared statements (the extended protocol, as `pgbench -M extended` "
                f"sends them), pgkit's pipeline took {fmt_time(extended.ns)} a batch against "
                f"pgbench's {fmt_time(pgbench.ns)} running the same {PIPELINE_BATCH} selects "
                "between `\\startpipeline` and `\\endpipeline`: "
                f"{fmt_ratio(extended.ns / pgbench.ns)} "
                "(`pipeline.pgkit_over_pgbench_pipeline`, target ≤ 1.10). Both ran one client "
                "on one connection, run by the same program so that their repetitions "
                "interleave; pgbench's time per batch is 1 / the tps it measured, and its round "
                f"trips ({fmt_round_trips(pgbench_trips)} a batch) are derived from its script, "
                "not counted.")
        if None not in (folded.round_trips, alone.round_trips):
            meaning.append(
                f"A `with_transaction` of three updates made "
                f"{round_trips_word(folded.round_trips)} with BEGIN travelling with the first "
                f"statement, against {fmt_round_trips(alone.round_trips)} with BEGIN sent "
                f"alone (`transaction.round_trips_saved` = "
                f"{fmt_round_trips(alone.round_trips - folded.round_trips)}): one round trip "
                "saved per transaction, one RTT of latency"
                + (f" (projected at {fmt_rtt(PROJECTED_RTTS[-1])}: "
                   f"{fmt_time(folded.projected(PROJECTED_RTTS[-1]))} against "
                   f"{fmt_time(alone.projected(PROJECTED_RTTS[-1]))})"
                   if None not in (folded.ns, alone.ns) else "")
                + (f"; on loopback one round trip is smaller than this run's spread between "
                   f"repetitions (measured {fmt_time(folded.ns)} against "
                   f"{fmt_time(alone.ns)}{spread(folded_cv, alone_cv)})"
                   if None not in (folded.ns, alone.ns) and folded.ns >= alone.ns else "")
                + ".")
            meaning.append(
                "COMMIT cannot travel with the last statement the same way: `with_transaction` "
                "only knows whether to commit or roll back from the function's result, once the "
                "function has returned, and by then the last statement's result has come back.")
    r.section(
        "Pipelines: several statements in one round trip",
        "Send statements that do not wait on each other's results together, in one pipeline "
        "(`lease->start_pipeline()`), not one at a time: a batch then costs one round trip "
        "instead of one per statement. A transaction's BEGIN travels with its first statement.",
        None, rows,
        ["pipeline.sequential_over_pipelined", "pipeline.pgkit_over_pgbench_pipeline",
         "transaction.round_trips_saved"],
        chart, meaning, column="median")


def build_latency(r):
    """How three rules scale with the round-trip time: the projections of their strategies, in a
    table and a chart (round_trip_projection.svg)."""
    strategies = [
        ("100 gets (N+1)", "children of 100 parents, one `get` each",
         r.cost("repository", "loading_n_plus_1")),
        ("find_many", "the same, one `find_many`", r.cost("repository", "loading_find_many")),
        ("row by row", "100k rows, one INSERT each", r.cost("repository", "insert_row_by_row")),
        ("multi-row VALUES", "100k rows, multi-row VALUES of 1000",
         r.cost("repository", "insert_multi_values")),
        ("COPY", "100k rows, `insert_many` (COPY)", r.cost("repository", "insert_many_copy")),
        ("OFFSET page", "last page of 1M rows, OFFSET", r.cost("pagination", "offset_page_last")),
        ("keyset page", "last page of 1M rows, keyset", r.cost("pagination", "keyset_page_last")),
    ]
    rtts = (0,) + PROJECTED_RTTS
    bars = [(label, [cost.projected(rtt) / 1e6 for rtt in rtts]
             if cost.ns is not None and cost.round_trips is not None else None)
            for label, _, cost in strategies]
    chart = Chart("round_trip_projection",
                  "time per operation, measured on loopback and projected at "
                  + " and ".join(f"{fmt_rtt(rtt)}" for rtt in PROJECTED_RTTS) + " RTT",
                  "ms per operation", bars, log=True,
                  series=["measured (loopback)"] + [f"{fmt_rtt(rtt)} RTT (projected)"
                                                   for rtt in PROJECTED_RTTS],
                  label=lambda ms: fmt_time(ms * 1e6))
    by_label = {label: cost for label, _, cost in strategies}

    def scaling(what, slow, fast):
        """The time ratio of two strategies, measured and at each projected RTT."""
        a, b = by_label[slow], by_label[fast]
        ratios = [a.projected(rtt) / b.projected(rtt) for rtt in rtts]
        return (f"{what}, {round_trips_word(a.round_trips)} against "
                f"{fmt_round_trips(b.round_trips)}: {fmt_ratio(ratios[0])} the time measured, "
                + ", ".join(f"{fmt_ratio(x)} at {fmt_rtt(rtt)}"
                            for x, rtt in zip(ratios[1:], PROJECTED_RTTS))
                + f" ({fmt_time(a.projected(PROJECTED_RTTS[-1]))} against "
                  f"{fmt_time(b.projected(PROJECTED_RTTS[-1]))} at {fmt_rtt(PROJECTED_RTTS[-1])}).")

    measured = all(c.ns is not None for _, _, c in strategies)
    complete = measured and all(c.round_trips is not None for _, _, c in strategies)
    r.section(
        "Round trips: the rules at a real network's latency",
        "Count round trips as well as server work: a strategy's time grows by its round trips × "
        "the round-trip time, 0.3-2 ms on a real network, a small fraction of that on loopback.",
        f"{SEED_ANTIPATTERNS}, 2 (N+1), 5 (OFFSET); `003`: \"Batch operations\".",
        [(what, fmt_time(cost.ns), [cost]) for _, what, cost in strategies],
        ["loading.n_plus_1_over_find_many", "insert.row_by_row_over_insert_many",
         "pagination.offset_over_keyset_deepest"],
        chart,
        None if not measured else [
            "Round trips not recorded for some of these strategies in this run: no projection "
            "for them."] if not complete else [
            "Each strategy's time per operation is projected as measured time + round trips × "
            "RTT (a projection, not a measurement; see the note at the top).",
            scaling("The N+1 loop / `find_many`", "100 gets (N+1)", "find_many"),
            scaling("Row by row / `insert_many` (COPY)", "row by row", "COPY"),
            scaling("Multi-row VALUES / `insert_many` (COPY)", "multi-row VALUES", "COPY"),
            scaling("OFFSET / keyset on the last page", "OFFSET page", "keyset page"),
            "Strategies that differ in round trips drift further apart as the round trip grows; "
            "strategies of one round trip each (the two pages) keep their difference in server "
            "work, which a slower network dilutes but does not remove.",
        ])


def pool_round_trips(r):
    """What the reset policies cost in round trips."""
    checked, always = (r.round_trips("pool", f"pooled_point_select_8_connections{policy}", 8)
                       for policy in ("", "_reset_always"))
    if None in (checked, always):
        return ""
    return (f"A point select with the session check made {round_trips_word(checked)} (the check "
            f"travels with the statement), one resetting every lease {round_trips_word(always)}: "
            "a real network widens the gap, as the projections show.")


def backfill_contention(r, p99):
    """The writers' p99 under run_backfill against the hand-written loop's, and the batches that
    found a writer waiting on them (backfill_options::contended_batch_duration)."""
    pg, hand = p99["backfill_pgkit"], p99["backfill_hand_batched"]
    if pg is None or not hand:
        return ""
    context = r.suites.get("backfill", {}).get("context", {})
    contended, batches = context.get("backfill_contended_batches"), context.get("backfill_batches")
    text = (f"Writers' p99 during `run_backfill` was {pg:.1f} ms against {hand:.1f} ms during the "
            f"hand-written loop ({pg / hand:.2f}×)")
    if contended is not None and batches:
        text += (f": {contended:.0f} of its {batches:.0f} batches found a writer waiting on their "
                 f"locks, and from each such batch on the sizes aim at "
                 f"{context.get('contended_batch_ms', '?')} ms (`contended_batch_duration`) "
                 "instead of the target")
    return text + "."


def build_migrate(r):
    """Schema migrations on a live table: benchmarks/migrate_bench.cpp."""
    naive, planned, queue = (r.t("migrate", b) for b in ("migrate_naive", "migrate_planned",
                                                         "migrate_lock_queue"))
    p99 = {b: counter(r.suites, "migrate", b, "writer_p99_ms")
           for b in ("migrate_naive", "migrate_planned", "migrate_lock_queue")}
    longest = {b: counter(r.suites, "migrate", b, "writer_longest_statement_ms")
               for b in ("migrate_naive", "migrate_planned", "migrate_lock_queue")}
    context = r.suites.get("migrate", {}).get("context", {})
    lock_timeout = context.get("lock_timeout_ms")
    batches = counter(r.suites, "migrate", "migrate_planned", "backfill_batches")
    contended = counter(r.suites, "migrate", "migrate_planned", "contended_batches")

    def ms(value):
        return "n/a" if value is None else f"{value:.0f} ms"

    ok = None not in (naive, planned, p99["migrate_naive"], p99["migrate_planned"],
                      longest["migrate_naive"], longest["migrate_planned"])
    r.section(
        "Schema migrations on a live table",
        "Add a NOT NULL column computed from other columns with an expand → backfill → contract "
        "plan, not with one migration that rewrites the table under ACCESS EXCLUSIVE; run DDL under "
        "a short lock_timeout, retried with back-off, so a queued ALTER never stalls the table.",
        "docs/migrations.md (\"Plans\", \"Lock discipline\"); docs/backfill.md (\"Contention\").",
        [("1M rows, one migration (ADD COLUMN, UPDATE, SET NOT NULL): wall time / writers' p99 / "
          "longest wait",
          f"{fmt_time(naive)} / {ms(p99['migrate_naive'])} / {ms(longest['migrate_naive'])}",
          [r.cost("migrate", "migrate_naive")]),
         ("plan (expand, run_backfill, VALIDATE, gates, contract)",
          f"{fmt_time(planned)} / {ms(p99['migrate_planned'])} / "
          f"{ms(longest['migrate_planned'])}", [r.cost("migrate", "migrate_planned")]),
         (f"lock queue: ALTER behind a {context.get('long_transaction_ms', '?')} ms transaction, "
          f"lock_timeout {lock_timeout} ms: wall time / writers' p99 / longest block",
          f"{fmt_time(queue)} / {ms(p99['migrate_lock_queue'])} / "
          f"{ms(longest['migrate_lock_queue'])}", [r.cost("migrate", "migrate_lock_queue")])],
        ["migrate.naive_writer_p99_over_planned", "migrate.planned_longest_writer_wait_ms",
         "migrate.lock_queue_block_over_lock_timeout"],
        Chart("migrate", "concurrent single-row writers while adding a NOT NULL column", "ms",
              [("naive", [p99["migrate_naive"], longest["migrate_naive"]]),
               ("planned", [p99["migrate_planned"], longest["migrate_planned"]])],
              log=True, series=["writers' p99", "longest wait"],
              label=lambda value: f"{value:.0f}" if value >= 10 else f"{value:.1f}"),
        None if not ok else [
            f"The single migration held ACCESS EXCLUSIVE for its whole UPDATE: every writer "
            f"waited, p99 {p99['migrate_naive']:.0f} ms from the statements' scheduled times and "
            f"one statement blocked up to {longest['migrate_naive']:.0f} ms, against p99 "
            f"{p99['migrate_planned']:.1f} ms and at most {longest['migrate_planned']:.0f} ms "
            f"for one statement during the plan "
            f"({fmt_ratio(p99['migrate_naive'] / p99['migrate_planned'])} on the p99). The "
            "writers' p99 counts a blocked writer's backlog (open loop, one statement every 5 ms "
            "each), so on a loaded machine it sits well above the longest single statement.",
            f"The plan took {fmt_time(planned)} against {fmt_time(naive)}"
            + (f"; its backfill ran {batches:.0f} batches, {contended:.0f} of which found a "
               "writer waiting on them" if batches is not None and contended is not None else "")
            + ".",
            (f"Behind a long transaction the ALTER gave up after {lock_timeout} ms each time and "
             f"retried: writers queued behind it waited at most {longest['migrate_lock_queue']:.0f}"
             f" ms ({longest['migrate_lock_queue'] / lock_timeout:.2f}× lock_timeout) instead of "
             "the whole transaction."
             if longest["migrate_lock_queue"] is not None and lock_timeout else ""),
        ])


def backfill_round_trips(r, target):
    """What the backfill's round trips mean: the projections are of the wall time."""
    trips = {b: r.round_trips("backfill", b) for b in ("backfill_hand_batched", "backfill_pgkit")}
    batches = r.suites.get("backfill", {}).get("context", {}).get("backfill_batches")
    if None in trips.values():
        return ""
    slowest = PROJECTED_RTTS[-1]
    hand, pg = r.cost("backfill", "backfill_hand_batched"), r.cost("backfill", "backfill_pgkit")
    text = (f"The projections are of the wall time: the hand-written loop made "
            f"{round_trips_word(trips['backfill_hand_batched'])} and `run_backfill` "
            f"{fmt_round_trips(trips['backfill_pgkit'])}")
    if batches:
        text += (f" (about {trips['backfill_pgkit'] / batches:.1f} for each of its "
                 f"{batches:.0f} batches, set-up included)")
    if hand.projected(slowest) and pg.projected(slowest):
        text += (f"; at {fmt_rtt(slowest)} a round trip `run_backfill` would take "
                 f"{pg.projected(slowest) / hand.projected(slowest):.2f}× the loop's time "
                 f"(measured: {pg.ns / hand.ns:.2f}×)")
    return text + (". A batch of `run_backfill` is a transaction of several statements, so on a "
                   "real network it would also hold its locks longer than measured here against "
                   f"the {target} ms target.")


def failover_iterations(suites):
    """The planned failovers of the run: every repetition of formation_planned_failover that
    completed, in the order they ran."""
    data = suites.get("topology_failover") or {}
    return [entry for entry in data.get("benchmarks", [])
            if entry.get("name", "").split("/")[0] == "formation_planned_failover"
            and entry.get("run_type", "iteration") == "iteration"
            and not entry.get("error_occurred")]


def build_topology(report):
    """The sections on the test topologies (benchmarks/topology_bench.cpp)."""
    r = report

    # Planned failovers on the pg_auto_failover formation.
    runs = failover_iterations(r.suites)
    pgkit_gaps = [e["pgkit_gap_ms"] / 1e3 for e in runs]
    probe_gaps = [e["probe_gap_ms"] / 1e3 for e in runs]
    acknowledged = int(sum(e.get("acknowledged", 0) for e in runs))
    lost = int(sum(e.get("lost_acknowledged", 0) for e in runs))
    lost_async = int(sum(e.get("lost_while_asynchronous", 0) for e in runs))
    made_async = int(sum(e.get("old_primary_made_asynchronous", 0) for e in runs))
    errors = {}
    for entry in runs:
        for name, value in entry.items():
            if name.startswith("errors_"):
                errors[name[len("errors_"):]] = errors.get(name[len("errors_"):], 0) + value
    error_text = ", ".join(f"`{code}` ×{count:.0f}" for code, count in sorted(errors.items()))
    rows = [(f"failover {i + 1}: pgkit / psql probe, command to first write on the new primary",
             f"{g:.2f} s / {p:.2f} s ({g / p:.2f}×)")
            for i, (g, p) in enumerate(zip(pgkit_gaps, probe_gaps))]
    rows += [("inserts pgkit acknowledged / missing on the new primary afterwards",
              f"{acknowledged:,} / {lost}"),
             ("error values the writers saw, all failovers", error_text or "none")]
    bars = []
    for i, (g, p) in enumerate(zip(pgkit_gaps, probe_gaps)):
        bars += [(f"{i + 1}: pgkit", g), (f"{i + 1}: psql", p)]
    meaning = None
    if runs:
        ratios = sorted(g / p for g, p in zip(pgkit_gaps, probe_gaps))
        meaning = [
            f"Over {len(runs)} planned failovers (`pg_autoctl perform failover`), eight pgkit "
            "writers on one pool wrote to the new primary a median "
            f"{statistics.median(pgkit_gaps):.2f} s after the command, while psql with the same "
            "multi-host URL (`target_session_attrs=read-write`, a new connection per insert) "
            f"beside them first wrote there after {statistics.median(probe_gaps):.2f} s: per "
            "failover, pgkit took " + ", ".join(f"{x:.2f}×" for x in ratios)
            + " the probe's time (target ≤ 1.5).",
            "Both wait on the formation: the new primary takes writes only once the monitor's "
            "demote timeout has passed, and the pool adds its writers' retry backoff and a "
            "connect.",
            (f"All {acknowledged:,} acknowledged inserts were on the new primary afterwards."
             if lost == 0 else
             f"{lost} of {acknowledged:,} acknowledged inserts were missing on the new primary; "
             f"{lost_async} of them were acknowledged by the old primary after pg_auto_failover's "
             "monitor had switched it to `wait_primary` (no synchronous replication) during the "
             f"failover ({made_async} of the {len(runs)} failovers did)."),
            "The writers retried what `error::is_retryable()` allowed and settled each "
            "`commit_unknown` by looking the row up before inserting it again.",
        ]
    r.section(
        "Planned failover: writing again on the new primary",
        "After a failover, a pool writes to the new primary as soon as a fresh connection to the "
        "same URL can, on connections of its own, and loses no write it acknowledged.",
        None, rows,
        ["topology.failover_write_gap_over_probe", "topology.lost_acknowledged_writes"],
        Chart("failover", "failover command to first write on the new primary", "s", bars),
        meaning, column="figure")

    # Reads on the standby pair.
    base = ("topology_replicas", "standby_reads_90_10")
    share = counter(r.suites, *base, "replica_read_share", threads=8)
    replica = counter(r.suites, *base, "replica_reads", threads=8)
    fallback = counter(r.suites, *base, "fallback_reads", threads=8)
    lag = counter(r.suites, *base, "max_lag_ms", threads=8)
    bound = counter(r.suites, *base, "max_lag_bound_ms", threads=8)
    ops = counter(r.suites, *base, "items_per_second", threads=8)
    r.section(
        "Reads on a streaming standby in a 90/10 read/write mix",
        "Reads go to a standby whose lag is within the bound (`replicas.max_lag`); the primary "
        "serves only the reads no standby can.",
        None,
        [("reads served by the standby / by the primary (fallbacks), per run",
          f"{replica:,.0f} / {fallback:,.0f}" if replica is not None else "n/a"),
         ("the standby's largest lag seen by the pool's probe / the bound",
          f"{lag:.0f} ms / {bound:.0f} ms" if lag is not None and bound is not None else "n/a"),
         ("operations per second, 8 threads (9 reads per write)",
          f"{ops:,.0f}" if ops is not None else "n/a")],
        ["topology.replica_read_share"],
        None,
        None if share is None else [
            f"The standby served {share:.1%} of the reads (target ≥ 85 %), with the pool's probe "
            f"seeing it at most {lag:.0f} ms behind the primary.",
        ])

    # PgBouncer in transaction mode.
    pgkit_tps = counter(r.suites, "topology_pgbouncer", "pgbouncer_pgkit_point_select",
                        "items_per_second", threads=8)
    pgbench_tps = counter(r.suites, "topology_pgbouncer", "pgbouncer_pgbench", "tps")
    r.section(
        "Point selects through PgBouncer in transaction mode",
        "Behind a transaction-mode pooler, a pool that declares it "
        "(`connection_options::pooler = pooler_mode::transaction`: no named statements, no "
        "resets) keeps the pooler's throughput.",
        None,
        [("pgkit, 8 threads on a pool of 8, unnamed statements (tps)",
          f"{pgkit_tps:,.0f}" if pgkit_tps else "n/a"),
         ("`pgbench -S -M extended -c 8 -j 2` through the same PgBouncer (tps)",
          f"{pgbench_tps:,.0f}" if pgbench_tps else "n/a")],
        ["topology.pgbouncer_tps_over_pgbench"],
        Chart("pgbouncer", "point selects through PgBouncer (transaction mode)", "tps",
              [("pgkit pool", pgkit_tps), ("pgbench -M extended", pgbench_tps)]),
        None if not (pgkit_tps and pgbench_tps) else [
            f"pgkit reached {pgkit_tps / pgbench_tps:.2f}× pgbench's throughput (target ≥ 0.9), "
            "the two interleaved in the same run with the same number of clients.",
        ])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    args = parser.parse_args()
    report = Report(args.directory)
    build(report)
    build_topology(report)
    chart_files = {}
    if os.path.exists(os.path.join(args.directory, "pagination.svg")):
        chart_files["pagination"] = "pagination.svg"
    if os.path.exists(os.path.join(args.directory, "pagination_strategies_latency.svg")):
        chart_files["pagination_strategies_latency"] = "pagination_strategies_latency.svg"
    if shutil.which("gnuplot") is None:
        print("bench_report: gnuplot is not installed; the report has no charts", file=sys.stderr)
    else:
        with tempfile.TemporaryDirectory(prefix="pgkit-report-") as work:
            for chart in report.charts:
                file = chart.draw(args.directory, work)
                if file:
                    chart_files[chart.name] = file
    output = os.path.join(args.directory, "report.md")
    with open(output, "w") as f:
        f.write(report.render(chart_files))
    print(f"bench_report: wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
