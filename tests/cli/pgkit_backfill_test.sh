#!/usr/bin/env bash
# `pgkit backfill` as a user runs it, against runs of a real runner in another process
# (pgkit_backfill_worker): status of one run and of all, pause, resume, cancel and reset, their
# exit codes (0 ok, 1 failure, 2 bad input or no such run, 3 a failed run in the status) and the
# --json document on stdout, parsed and checked.
#   pgkit_backfill_test.sh PGKIT_BINARY BACKFILL_WORKER
# The server: PGKIT_TEST_DATABASE_URL, else the URL in the file PGKIT_TEST_URL_FILE names.
set -uo pipefail

pgkit=$1
worker=$2
source "$(dirname "$0")/cli_test_lib.sh"
worker_pid=

schema="pgkit_cli_backfill_$$"
sql() { "$psql_bin" -At -v ON_ERROR_STOP=1 "$url" -c "$1"; }
"$psql_bin" -q -v ON_ERROR_STOP=1 "$url" >/dev/null <<SQL || { echo "FAIL: setup"; exit 1; }
CREATE SCHEMA $schema;
CREATE TABLE $schema.items (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0);
INSERT INTO $schema.items (id) SELECT g FROM generate_series(1, 20000) g;
CREATE TABLE $schema.capped (id bigint PRIMARY KEY, counter int NOT NULL DEFAULT 0
    CHECK (counter <= 1));
INSERT INTO $schema.capped SELECT g, CASE WHEN g = 150 THEN 1 ELSE 0 END
FROM generate_series(1, 300) g;
SQL
cleanup() {
    [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
    "$psql_bin" -q "$url" -c "DROP SCHEMA $schema CASCADE" >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
b=(--url "$url" --runs-schema "$schema")

# wait_for SQL VALUE: polls (bounded, 20 s) until SQL gives VALUE.
wait_for() {
    local i
    for i in $(seq 400); do
        [ "$(sql "$1")" = "$2" ] && return 0
        sleep 0.05
    done
    echo "FAIL: waited in vain for $1 = $2 (got $(sql "$1"))"; failures=$((failures + 1))
    return 1
}
# start_worker NAME TABLE: a runner in its own process, batches of 100, 30 ms between them.
start_worker() {
    "$worker" "$url" "$schema" "$2" "$1" 100 30 >"$work/worker.out" 2>&1 &
    worker_pid=$!
}
# worker_ended: waits (bounded) for the worker; its output in $work/worker.out.
worker_ended() {
    local i
    for i in $(seq 400); do
        kill -0 "$worker_pid" 2>/dev/null || { wait "$worker_pid"; worker_pid=; return 0; }
        sleep 0.05
    done
    echo "FAIL: the worker did not stop"; failures=$((failures + 1)); return 1
}
runs="$schema.pgkit_backfill_runs"

# Usage and bad input.
expect 0 'pause' backfill --help
expect 0 'runs-schema' backfill cancel --help
expect 2 '' backfill pause "${b[@]}"
expect 2 '' backfill status "${b[@]}" --bogus
expect 2 'pgkit_no_such_schema' backfill status --url "$url" --runs-schema pgkit_no_such_schema
expect 1 '' backfill status --url "postgresql://postgres@127.0.0.1:1/postgres" --json
keep unreachable
# Before any run: no runs (the runs table does not exist yet), and no such run to pause.
expect 0 'no backfill runs' backfill status "${b[@]}"
expect 2 'no backfill run named fill' backfill pause fill "${b[@]}" --json
keep pause_missing

# A runner working: status shows it running with its runner's pid.
start_worker fill items
wait_for "SELECT batches >= 2 FROM $runs WHERE name = 'fill'" t
expect 0 'fill +running' backfill status fill "${b[@]}"
expect 0 '' backfill status fill "${b[@]}" --json
keep running
# Reset is refused while the runner holds the run.
expect 1 'already|running' backfill reset fill "${b[@]}"
# Pause: the runner stops after its batch with status paused.
expect 0 'paused' backfill pause fill "${b[@]}" --json
keep paused
worker_ended && grep -q '^paused ' "$work/worker.out" ||
    { echo "FAIL: the runner did not pause"; cat "$work/worker.out"; failures=$((failures + 1)); }
expect 0 'paused' backfill status fill "${b[@]}"
expect 2 'that is paused' backfill resume nope "${b[@]}"
expect 0 'running' backfill resume fill "${b[@]}"
# Cancel, from this process, of a runner in another: it stops with status cancelled, and its
# rows stop moving.
start_worker fill items
wait_for "SELECT batches >= 4 FROM $runs WHERE name = 'fill'" t
expect 0 'cancelled' backfill cancel fill "${b[@]}" --json
keep cancelled
worker_ended && grep -q '^cancelled ' "$work/worker.out" ||
    { echo "FAIL: the runner was not cancelled"; cat "$work/worker.out"; failures=$((failures + 1)); }
done_rows=$(sql "SELECT rows_done FROM $runs WHERE name = 'fill'")
[ "$(sql "SELECT count(*) FROM $schema.items WHERE counter = 1")" = "$done_rows" ] &&
    [ "$done_rows" -lt 20000 ] ||
    { echo "FAIL: rows after cancel ($done_rows)"; failures=$((failures + 1)); }

# A failed run: the status shows it, and exits 3.
"$worker" "$url" "$schema" capped capfill 100 0 >"$work/worker.out" 2>&1
expect 3 'capfill +failed' backfill status "${b[@]}"
expect 3 '' backfill status "${b[@]}" --json
keep all_runs
# Reset forgets a run; a second reset finds nothing.
expect 0 'reset' backfill reset capfill "${b[@]}" --json
keep reset
expect 0 'nothing to reset' backfill reset capfill "${b[@]}"
expect 0 '' backfill status capfill "${b[@]}" --json
keep not_started
expect 0 '' backfill status "${b[@]}"

python3 - "$work" <<'PY' || failures=$((failures + 1))
import json, os, sys
w = sys.argv[1]
def load(name):
    with open(os.path.join(w, name + ".json"), encoding="utf-8") as f:
        return json.load(f)
d = load("unreachable")
assert d["ok"] is False and d["exit_code"] == 1 and d["command"] == "backfill status", d
d = load("pause_missing")
assert d["exit_code"] == 2 and d["error"]["code"] == "not_found", d
d = load("running")
r = d["runs"][0]
assert r["name"] == "fill" and r["status"] == "running" and r["runner_pid"] > 0, r
assert r["table"] == "items" and r["key"] == ["id"] and r["batches"] >= 2, r
assert r["started_at"].endswith("Z") and r["finished_at"] is None, r
d = load("paused")
assert d["ok"] and d["name"] == "fill" and d["result"] == "paused", d
d = load("cancelled")
assert d["ok"] and d["result"] == "cancelled", d
d = load("all_runs")
assert d["exit_code"] == 3, d
by = {r["name"]: r for r in d["runs"]}
assert sorted(by) == ["capfill", "fill"], by
assert by["fill"]["status"] == "cancelled" and by["fill"]["runner_pid"] is None, by
assert by["capfill"]["status"] == "failed" and "capped" in by["capfill"]["last_error"], by
d = load("reset")
assert d["result"] == "reset", d
d = load("not_started")
assert d["runs"][0]["status"] == "not_started" and d["runs"][0]["name"] == "capfill", d
PY

[ "$failures" = 0 ] && echo "pgkit backfill: all CLI checks passed"
exit "$((failures > 0))"
