# What the pgkit command's test scripts share; sourced after `pgkit=...` is set. Sets url (the
# server: PGKIT_TEST_DATABASE_URL, else the URL in the file PGKIT_TEST_URL_FILE names), work (a
# temporary directory), failures (0), psql_bin, and defines expect and keep.
url=${PGKIT_TEST_DATABASE_URL:-}
[ -n "$url" ] || url=$(cat "${PGKIT_TEST_URL_FILE:?PGKIT_TEST_URL_FILE is not set}")
work=$(mktemp -d)
failures=0
psql_bin=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | tail -1)

# expect CODE PATTERN ARGS...: runs pgkit ARGS, checks the exit code and that stdout+stderr
# match PATTERN (an extended regex; empty: anything). stdout stays in $work/out, stderr in
# $work/err.
expect() {
    local code=$1 pattern=$2
    shift 2
    "$pgkit" "$@" >"$work/out" 2>"$work/err"
    local got=$?
    if [ "$got" != "$code" ]; then
        echo "FAIL: pgkit $* exited $got, expected $code"; cat "$work/out" "$work/err"
        failures=$((failures + 1)); return
    fi
    if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$work/out" "$work/err"; then
        echo "FAIL: pgkit $*: no match for '$pattern' in:"; cat "$work/out" "$work/err"
        failures=$((failures + 1))
    fi
}

# keep NAME: the last stdout, kept as $work/NAME.json.
keep() { cp "$work/out" "$work/$1.json"; }
