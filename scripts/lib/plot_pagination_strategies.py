#!/usr/bin/env python3
"""Draws the two charts of `pgkit bench pagination`'s JSON (bench-results/pagination_strategies.json):

  pagination_strategies_latency.svg    median page latency against depth, one line per strategy
  pagination_strategies_anomalies.svg  duplicated and skipped rows of one full walk under
                                       concurrent writes, per strategy

Runs gnuplot (svg terminal) on data and scripts it writes to a temporary directory.

    plot_pagination_strategies.py DIRECTORY
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def gnuplot_text(text):
    return text.replace("_", "\\\\_")


def main():
    directory = sys.argv[1]
    source = os.path.join(directory, "pagination_strategies.json")
    if not os.path.exists(source):
        print(f"plot_pagination_strategies: no {source}", file=sys.stderr)
        return 1
    with open(source) as f:
        report = json.load(f)
    if shutil.which("gnuplot") is None:
        print("plot_pagination_strategies: gnuplot is not installed", file=sys.stderr)
        return 1
    measured = [s for s in report["strategies"] if s["measured"] and s["depths"]]
    work = tempfile.mkdtemp()
    try:
        # Latency by depth: one data block per strategy (x = first row of the measured pages).
        with open(os.path.join(work, "latency.dat"), "w") as f:
            for s in measured:
                f.write(f"# {s['name']}\n")
                for d in s["depths"]:
                    f.write(f"{max(d['start_row'], 1)} {d['median_ms']}\n")
                f.write("\n\n")
        plots = ", ".join(
            f"'{work}/latency.dat' index {i} using 1:2 with linespoints lw 2 pt 7 "
            f"title '{gnuplot_text(s['name'])}'" for i, s in enumerate(measured))
        latency_svg = os.path.join(directory, "pagination_strategies_latency.svg")
        script = f"""set terminal svg size 800,450 dynamic font 'sans,11'
set output '{latency_svg}'
set title '{gnuplot_text(report["table"])}: {report["rows"]} rows, {report["page_size"]} a page'
set logscale x
set xlabel 'first row of the page (log)'
set ylabel 'median page latency (ms)'
set key top left
set grid
plot {plots}
"""
        with_anomalies = [s for s in report["strategies"] if s.get("anomalies")]
        if with_anomalies:
            with open(os.path.join(work, "anomalies.dat"), "w") as f:
                for s in with_anomalies:
                    a = s["anomalies"]
                    f.write(f"{gnuplot_text(s['name'])} {a['duplicates']} {a['skips']}\n")
            anomalies_svg = os.path.join(directory, "pagination_strategies_anomalies.svg")
            script += f"""
set output '{anomalies_svg}'
set title 'one full walk while rows are inserted and deleted'
unset logscale x
set xlabel ''
set ylabel 'rows'
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.6
set xtics rotate by -20
set key top right
plot '{work}/anomalies.dat' using 2:xtic(1) title 'duplicated', '' using 3 title 'skipped'
"""
        with open(os.path.join(work, "plot.gp"), "w") as f:
            f.write(script)
        subprocess.run(["gnuplot", os.path.join(work, "plot.gp")], check=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
