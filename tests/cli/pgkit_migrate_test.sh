#!/usr/bin/env bash
# `pgkit migrate` as a user runs it: exit codes (0 ok, 1 failure, 2 bad input, 3 findings),
# messages naming file and line, nothing applied on bad input or an unreachable server, progress
# on stderr, and the --json document on stdout parsed and checked.
#   pgkit_migrate_test.sh PGKIT_BINARY
# The server: PGKIT_TEST_DATABASE_URL, else the URL in the file PGKIT_TEST_URL_FILE names.
set -uo pipefail

pgkit=$1
source "$(dirname "$0")/cli_test_lib.sh"
trap 'rm -rf "$work"' EXIT

schema="pgkit_cli_migrate_$$"
"$psql_bin" -q -v ON_ERROR_STOP=1 "$url" -c "CREATE SCHEMA $schema" >/dev/null ||
    { echo "FAIL: setup"; exit 1; }
trap '"$psql_bin" -q "$url" -c "DROP SCHEMA $schema CASCADE" >/dev/null; rm -rf "$work"' EXIT
sql() { "$psql_bin" -At -v ON_ERROR_STOP=1 "$url" -c "$1"; }

dir="$work/migrations"
mkdir "$dir"
cat >"$dir/0001_create_items.sql" <<SQL
-- Risk: low
-- ========== UP ==========
CREATE TABLE $schema.items (id bigint PRIMARY KEY, note text);
-- ========== DOWN ==========
DROP TABLE $schema.items;
-- ========== VERIFY ==========
SELECT count(*) = 0 FROM $schema.items WHERE note = 'bad';
SQL
cat >"$dir/0002_seed_items.sql" <<SQL
-- ========== UP ==========
INSERT INTO $schema.items VALUES (1, 'one'), (2, 'two');
-- ========== DOWN ==========
DELETE FROM $schema.items;
SQL
cat >"$dir/0003_index_items.sql" <<SQL
-- ========== UP ==========
CREATE INDEX CONCURRENTLY items_note ON $schema.items (note);
-- ========== DOWN ==========
DROP INDEX CONCURRENTLY $schema.items_note;
SQL
m=(--url "$url" --dir "$dir" --history-schema "$schema")

# Help and usage.
expect 0 'status' migrate --help
expect 0 '--dir' migrate up --help
expect 0 'Exit codes' migrate --help
expect 2 '' migrate
expect 2 'dir' migrate status --url "$url"
expect 2 '' migrate up "${m[@]}" --bogus
expect 2 '' migrate up "${m[@]}" --lock-timeout 0

# Bad input: a malformed file is exit 2 naming the file and the line; nothing is applied (the
# history table is not even created).
bad="$work/bad"
mkdir "$bad"
cp "$dir"/0001_create_items.sql "$bad"/
printf -- '-- ========== UP ==========\nSELECT 1;\n-- ========== SIDEWAYS ==========\nSELECT 2;\n' \
    >"$bad/0002_broken.sql"
expect 2 '0002_broken\.sql:3' migrate up --url "$url" --dir "$bad" --history-schema "$schema"
expect 2 '0002_broken\.sql:3' migrate status --url "$url" --dir "$bad" --history-schema "$schema" --json
keep bad_input
# A migration without DOWN, when one is required: exit 2 naming the file.
printf -- '-- ========== UP ==========\nCREATE TABLE %s.no_down (id int);\n' "$schema" \
    >"$work/no_down.sql"
mkdir "$work/downless" && cp "$dir"/0001_create_items.sql "$work/downless"/ &&
    cp "$work/no_down.sql" "$work/downless/0002_no_down.sql"
expect 2 '0002_no_down\.sql.*DOWN' migrate up --url "$url" --dir "$work/downless" \
    --history-schema "$schema" --require-down
expect 2 "no_such_dir" migrate status --url "$url" --dir "$work/no_such_dir" --history-schema "$schema"
# An unreachable server: exit 1, nothing applied.
expect 1 '' migrate up --url "postgresql://postgres@127.0.0.1:1/postgres" --dir "$dir" \
    --history-schema "$schema" --json
keep unreachable
[ "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = '$schema'")" = 0 ] ||
    { echo "FAIL: bad input applied something"; failures=$((failures + 1)); }

# status before anything: all pending, exit 0.
expect 0 'pending' migrate status "${m[@]}"
expect 0 '' migrate status "${m[@]}" --json
keep status_pending
# up --to 2, with progress on stderr and a clean JSON document on stdout.
expect 0 '' migrate up "${m[@]}" --to 2 --json
keep up_to_2
grep -q '0001_create_items.sql (version 1) UP started' "$work/err" &&
    grep -Eq '0002_seed_items.sql \(version 2\) UP done in [0-9]+ ms' "$work/err" ||
    { echo "FAIL: no progress lines"; cat "$work/err"; failures=$((failures + 1)); }
expect 0 'applied: 3' migrate up "${m[@]}"
expect 0 'nothing to do' migrate up "${m[@]}"
expect 0 '' migrate status "${m[@]}" --json
keep status_applied

# verify: passes, then the data breaks migration 1's VERIFY: exit 3.
expect 0 '3 of 3 applied migrations passed' migrate verify "${m[@]}"
sql "UPDATE $schema.items SET note = 'bad' WHERE id = 1" >/dev/null
expect 3 'FAIL 1' migrate verify "${m[@]}"
expect 3 '' migrate verify "${m[@]}" --json
keep verify_failed
sql "UPDATE $schema.items SET note = 'one' WHERE id = 1" >/dev/null

# An applied file edited: status shows it (exit 3), up refuses (exit 1), repair accepts it.
sed -i 's/DELETE FROM/DELETE   FROM/' "$dir/0002_seed_items.sql"
expect 3 'changed' migrate status "${m[@]}"
expect 1 'has changed since' migrate up "${m[@]}"
expect 2 'repair: no migration in .* has version 9' migrate repair 9 "${m[@]}"
expect 0 '' migrate repair 2 "${m[@]}" --json
keep repaired
expect 0 '' migrate status "${m[@]}"

# down: the newest only by default, then --to 0; a failing DOWN is exit 1, JSON says which
# were reverted.
expect 0 'reverted: 3' migrate down "${m[@]}"
grep -q '0003_index_items.sql (version 3) DOWN started' "$work/err" ||
    { echo "FAIL: no DOWN progress"; failures=$((failures + 1)); }
# A version with a file but not in the history: not_found, bad input too.
expect 2 'not in the history' migrate repair 3 "${m[@]}"
sql "CREATE TABLE $schema.blocker (id int REFERENCES $schema.items)" >/dev/null
expect 1 '' migrate down "${m[@]}" --to 0 --json
keep down_failed
sql "DROP TABLE $schema.blocker" >/dev/null
expect 0 '' migrate down "${m[@]}" --to 0 --json
keep down_all
[ "$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = '$schema' AND tablename = 'items'")" = 0 ] ||
    { echo "FAIL: down left the table"; failures=$((failures + 1)); }

# Out of order: 1 and 3 applied from a directory without 2; then 2 is refused (exit 1) unless
# --allow-out-of-order.
gap="$work/gap"
mkdir "$gap" && cp "$dir"/0001_create_items.sql "$dir"/0003_index_items.sql "$gap"/
expect 0 'applied: 1, 3' migrate up --url "$url" --dir "$gap" --history-schema "$schema"
expect 1 'out of order' migrate up "${m[@]}"
expect 0 'applied: 2' migrate up "${m[@]}" --allow-out-of-order

python3 - "$work" <<'PY' || failures=$((failures + 1))
import json, os, sys
w = sys.argv[1]
def load(name):
    with open(os.path.join(w, name + ".json"), encoding="utf-8") as f:
        return json.load(f)
d = load("bad_input")
assert d["ok"] is False and d["exit_code"] == 2, d
assert d["error"]["code"] == "migration_source_invalid", d
assert "0002_broken.sql:3" in d["error"]["message"], d
d = load("unreachable")
assert d["ok"] is False and d["exit_code"] == 1 and d["command"] == "migrate up", d
d = load("status_pending")
assert [(x["version"], x["state"]) for x in d["migrations"]] == [(1, "pending"), (2, "pending"), (3, "pending")], d
assert d["migrations"][0]["name"] == "create_items" and d["migrations"][0]["applied_at"] is None, d
d = load("up_to_2")
assert d["ok"] is True and d["applied"] == [1, 2], d
d = load("status_applied")
assert [x["state"] for x in d["migrations"]] == ["applied"] * 3, d
for x in d["migrations"]:
    assert x["applied_at"].endswith("Z") and x["duration_ms"] >= 0 and x["applied_by"], x
d = load("verify_failed")
assert d["exit_code"] == 3 and d["ok"] is True, d
assert [v["passed"] for v in d["verifications"]] == [False, True, True], d
assert "VERIFY statement 1" in d["verifications"][0]["message"], d
assert d["verifications"][1]["message"] == "no VERIFY section", d
d = load("repaired")
assert d["repaired"] == 2 and d["exit_code"] == 0, d
d = load("down_failed")
# 2's DOWN ran; 1's failed (the blocker table depends on items) and was rolled back.
assert d["ok"] is False and d["exit_code"] == 1 and d["reverted"] == [2], d
assert "0001_create_items.sql" in d["error"]["message"], d
d = load("down_all")
assert d["reverted"] == [1], d
PY

[ "$failures" = 0 ] && echo "pgkit migrate: all CLI checks passed"
exit "$((failures > 0))"
