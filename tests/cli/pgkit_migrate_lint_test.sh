#!/usr/bin/env bash
# `pgkit migrate lint` and `plan` as a user runs them: findings are exit 3 until acknowledged in
# the file (then 0), a malformed file is 2, an unreachable server 1; the --json documents parsed
# and checked.
#   pgkit_migrate_lint_test.sh PGKIT_BINARY
set -uo pipefail

pgkit=$1
source "$(dirname "$0")/cli_test_lib.sh"
schema="pgkit_cli_lint_$$"
"$psql_bin" -q -v ON_ERROR_STOP=1 "$url" >/dev/null <<SQL || { echo "FAIL: setup"; exit 1; }
CREATE SCHEMA $schema;
CREATE TABLE $schema.users (id bigint PRIMARY KEY, email text);
INSERT INTO $schema.users SELECT g, 'u' || g FROM generate_series(1, 1000) g;
ANALYZE $schema.users;
SQL
trap '"$psql_bin" -q "$url" -c "DROP SCHEMA $schema CASCADE" >/dev/null; rm -rf "$work"' EXIT

dir="$work/migrations"
mkdir "$dir"
cat >"$dir/0001_index_email.sql" <<SQL
-- ========== UP ==========
CREATE INDEX users_email ON $schema.users (email);
SQL
cat >"$dir/0002_index_id_email.sql" <<SQL
-- ========== UP ==========
CREATE INDEX CONCURRENTLY users_id_email ON $schema.users (id, email);
SQL
m=(--url "$url" --dir "$dir" --history-schema "$schema")

expect 0 'live catalog' migrate lint --help
expect 0 'dry run' migrate plan --help
expect 3 '0001_index_email\.sql:2: \[index-not-concurrent\]' migrate lint "${m[@]}"
expect 3 '' migrate lint "${m[@]}" --json
keep lint_open
expect 3 'alone' migrate plan "${m[@]}"
expect 3 '' migrate plan "${m[@]}" --json
keep plan_open
expect 0 '' migrate lint "${m[@]}" --to 0 --json
keep lint_none

# Acknowledged in the file: still reported, not counted.
cat >"$dir/0001_index_email.sql" <<SQL
-- ========== UP ==========
-- pgkit:allow index-not-concurrent a "small" table \\ at deploy time
CREATE INDEX users_email ON $schema.users (email);
SQL
expect 0 'acknowledged' migrate lint "${m[@]}"
expect 0 '' migrate lint "${m[@]}" --json
keep lint_acknowledged

# Bad input and an unreachable server.
printf -- '-- ========== UP ==========\nSELECT 1;\n-- ========== NOPE ==========\n' \
    >"$dir/0003_broken.sql"
expect 2 '0003_broken\.sql:3' migrate lint "${m[@]}"
rm "$dir/0003_broken.sql"
expect 1 '' migrate plan --url "postgresql://postgres@127.0.0.1:1/postgres" --dir "$dir" --json
keep unreachable
[ "$("$psql_bin" -At "$url" -c "SELECT count(*) FROM pg_class WHERE relname IN ('users_email', 'users_id_email', 'pgkit_migrations') AND relnamespace = '$schema'::regnamespace")" = 0 ] ||
    { echo "FAIL: lint or plan wrote something"; failures=$((failures + 1)); }

python3 - "$work" <<'PY' || failures=$((failures + 1))
import json, os, sys
w = sys.argv[1]
def load(name):
    with open(os.path.join(w, name + ".json"), encoding="utf-8") as f:
        return json.load(f)
d = load("lint_open")
assert d["exit_code"] == 3 and d["ok"] is True and d["unacknowledged"] >= 1, d
f = [x for x in d["findings"] if x["rule"] == "index-not-concurrent"]
assert f and f[0]["version"] == 1 and f[0]["line"] == 2 and not f[0]["acknowledged"], d
assert f[0]["message"] and f[0]["source"].endswith("0001_index_email.sql"), f
d = load("plan_open")
assert [x["version"] for x in d["migrations"]] == [1, 2], d
assert d["migrations"][1]["transactional"] is False, d
st = d["migrations"][1]["statements"]
assert len(st) == 1 and st[0]["in_transaction"] is False and "CONCURRENTLY" in st[0]["text"], st
assert d["unacknowledged"] >= 1, d
d = load("lint_none")
assert d["findings"] == [] and d["exit_code"] == 0, d
d = load("lint_acknowledged")
f = [x for x in d["findings"] if x["rule"] == "index-not-concurrent"]
assert f and f[0]["acknowledged"] and f[0]["reason"] == 'a "small" table \\ at deploy time', f
assert d["unacknowledged"] == 0, d
d = load("unreachable")
assert d["ok"] is False and d["exit_code"] == 1 and d["command"] == "migrate plan", d
PY

[ "$failures" = 0 ] && echo "pgkit migrate lint and plan: all CLI checks passed"
exit "$((failures > 0))"
