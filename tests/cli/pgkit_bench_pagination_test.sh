#!/usr/bin/env bash
# `pgkit bench pagination` as a user runs it: arguments, exit codes (0 ok, 1 failure, 2 bad
# input), messages, nothing written on bad input, and the --json output parsed and checked.
#   pgkit_bench_pagination_test.sh PGKIT_BINARY
# The server: PGKIT_TEST_DATABASE_URL, else the URL in the file PGKIT_TEST_URL_FILE names.
set -uo pipefail

pgkit=$1
source "$(dirname "$0")/cli_test_lib.sh"
trap 'rm -rf "$work"' EXIT

schema="pgkit_cli_$$"
"$psql_bin" -q -v ON_ERROR_STOP=1 "$url" >/dev/null <<SQL || { echo "FAIL: setup"; exit 1; }
CREATE SCHEMA $schema;
CREATE TABLE $schema.cli_rows (id int PRIMARY KEY, created_at timestamptz NOT NULL, v int);
INSERT INTO $schema.cli_rows SELECT i, now() - i * interval '1 minute', i % 10
FROM generate_series(1, 2000) i;
ANALYZE $schema.cli_rows;
SQL
trap '"$psql_bin" -q "$url" -c "DROP SCHEMA $schema CASCADE" >/dev/null; rm -rf "$work"' EXIT
t="$schema.cli_rows"

expect 0 'bench' --help
expect 0 'pagination' bench --help
expect 0 '--scratch|--table' bench pagination --help
expect 2 '' bench
expect 2 'unknown|not expected|extra' bench pagination --bogus
expect 2 "depths: 'x' is not a row count" bench pagination --url "$url" --table "$t" --depths 1,x
expect 2 "unknown strategy 'bogus'" bench pagination --url "$url" --table "$t" \
    --strategies offset,bogus
expect 2 'page-size must be between' bench pagination --url "$url" --table "$t" --page-size 0
expect 2 "give --table" bench pagination --url "$url"
expect 2 "no table '$schema.nope'" bench pagination --url "$url" --table "$schema.nope" \
    --json "$work/never.json"
expect 2 "no column 'nope'" bench pagination --url "$url" --table "$t" --order "nope DESC" \
    --json "$work/never.json"
expect 2 "appears twice" bench pagination --url "$url" --table "$t" --order "v, v DESC"
expect 2 'no_such_col' bench pagination --url "$url" --table "$t" --where "no_such_col > 1" \
    --json "$work/never.json"
expect 1 '' bench pagination --url "postgresql://postgres@127.0.0.1:1/postgres" --table "$t"
if [ -e "$work/never.json" ]; then
    echo "FAIL: bad input wrote $work/never.json"; failures=$((failures + 1))
fi

# The user's table, read-only: the key is appended (said so), no index serves the ordering
# (warned, with the plan), no anomaly test, every strategy measured.
expect 0 'appends the key \(id\)' bench pagination --url "$url" --table "$t" \
    --order "created_at DESC" --depths 0,last --samples 2 --json "$work/report.json"
grep -q 'warning: no index serves' "$work/err" ||
    { echo "FAIL: no index warning"; cat "$work/err"; failures=$((failures + 1)); }
expect 0 '' bench pagination --url "$url" --table "$t" --order "v DESC NULLS LAST" \
    --where "v <> 3" --depths 0,100,last --samples 2 --page-size 50 --json - -q \
    --chart "$work/latency.svg"
cp "$work/out" "$work/filtered.json"
grep -q '<svg' "$work/latency.svg" 2>/dev/null && grep -q 'keyset.*expanded' "$work/latency.svg" ||
    { echo "FAIL: --chart drew no chart"; failures=$((failures + 1)); }
expect 2 'must end in .svg' bench pagination --url "$url" --table "$t" --chart "$work/x.png"
# The anomaly test on a scratch copy of the user's table, dropped afterwards.
expect 0 '' bench pagination --url "$url" --table "$t" --order "created_at DESC" \
    --scratch-copy 1500 --writes-per-second 1000 --depths 0,last --samples 2 --json - -q
cp "$work/out" "$work/scratch.json"
left=$("$psql_bin" -At "$url" -c "SELECT count(*) FROM pg_class WHERE relname LIKE 'pgkit_pagination_scratch%'")
[ "$left" = 0 ] || { echo "FAIL: the scratch copy was not dropped"; failures=$((failures + 1)); }
expect 2 'scratch-copy copies your --table' bench pagination --url "$url" --generate \
    --scratch-copy 10
# The embedded default: no --url, no --table, no DATABASE_URL or PG*: a throwaway cluster
# with a generated table, the anomaly test included.
(
    unset DATABASE_URL PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE
    "$pgkit" bench pagination --rows 3000 --depths 0,last --samples 2 --json - -q \
        >"$work/embedded.json" 2>"$work/embedded.err"
) || { echo "FAIL: the embedded default"; cat "$work/embedded.err"; failures=$((failures + 1)); }
report_files=("$work/report.json" "$work/filtered.json" "$work/scratch.json" "$work/embedded.json")
python3 - "${report_files[@]}" <<'PY' || failures=$((failures + 1))
import json, sys
a = json.load(open(sys.argv[1]))
assert a["rows"] == 2000, a["rows"]
assert a["appended_key"] == ["id"], a["appended_key"]
names = [s["name"] for s in a["strategies"]]
assert names == ["offset", "offset_deferred_join", "keyset_row_value", "keyset_expanded",
                 "server_cursor", "page_at_handover"], names
assert all(s["anomalies"] is None for s in a["strategies"])
assert a["summary"]["pagination.strategies_measured"] == 6
for s in a["strategies"]:
    # The last depth ends at the last page: its --samples pages start one page before it.
    assert [d["start_row"] for d in s["depths"]] == [0, 1960], s
    assert all(d["median_ms"] > 0 for d in s["depths"]), s
b = json.load(open(sys.argv[2]))
assert b["rows"] == 1800, b["rows"]
assert b["page_size"] == 50
by = {s["name"]: s for s in b["strategies"]}
# Mixed NULL placement: the row-value form is refused, the others measured.
assert not by["keyset_row_value"]["measured"] and "row-value" in by["keyset_row_value"]["skipped"]
assert b["summary"]["pagination.strategies_measured"] == 5
c = json.load(open(sys.argv[3]))
assert c["rows"] == 1500, c["rows"]
assert c["table"].split(".")[1].startswith("pgkit_pagination_scratch"), c["table"]
assert all(s["anomalies"] is not None for s in c["strategies"]), c
assert c["summary"]["pagination.keyset_anomalies_under_writes"] == 0
d = json.load(open(sys.argv[4]))
assert d["table"] == "public.pgkit_pagination_bench" and d["rows"] == 3000, d
assert d["summary"]["pagination.strategies_measured"] == 6
assert d["summary"]["pagination.keyset_anomalies_under_writes"] == 0
assert all(s["anomalies"] is not None for s in d["strategies"])
PY

[ "$failures" = 0 ] && echo "pgkit bench pagination: all CLI checks passed"
exit "$((failures > 0))"
