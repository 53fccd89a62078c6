# shellcheck shell=bash
# Helpers shared by scripts/pgbouncer, scripts/pg-standby and scripts/pg-formation (sourced, not
# run). The caller sets `script_name` and `set -euo pipefail` first.

die() { echo "$script_name: $*" >&2; exit 1; }

# The newest PostgreSQL server binaries (PGKIT_PG_BIN overrides), as scripts/pg-server finds them.
find_pg_bin() {
    local dir
    if [ -n "${PGKIT_PG_BIN:-}" ]; then echo "$PGKIT_PG_BIN"; return; fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
        if [ -x "$dir/initdb" ]; then echo "$dir"; return; fi
    done
    command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
    die "no PostgreSQL server binaries found (install the postgresql package)"
}

is_root() { [ "$(id -u)" = 0 ]; }

# Runs a command as the `postgres` user when root (PostgreSQL refuses to run as root), else as
# the caller, with a plain PATH (root's may hold directories postgres cannot read).
as_server_user() {
    local path="${pg_bin:+$pg_bin:}/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    if is_root; then
        runuser -u postgres -- env PATH="$path" "$@"
    else
        env PATH="$path" "$@"
    fi
}

# A directory under /tmp the server user owns; prints its path.
make_run_dir() {
    local dir
    dir=$(mktemp -d "/tmp/pgkit-$1.XXXXXX")
    chmod 755 "$dir"
    if is_root; then chown postgres:postgres "$dir"; fi
    echo "$dir"
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A loopback port nobody listens on now, other than the ones given as arguments.
free_port() {
    local port taken
    for _ in $(seq 1 100); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        for taken in "$@"; do
            [ "$port" = "$taken" ] && continue 2
        done
        port_is_free "$port" && { echo "$port"; return; }
    done
    die "no free port found on 127.0.0.1"
}

# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.2 s until it succeeds; dies
# naming DESCRIPTION when SECONDS pass first.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local deadline=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
    until "$@" >/dev/null 2>&1; do
        if [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ]; then
            die "timed out after ${limit}s waiting for $what"
        fi
        sleep 0.2
    done
}

# sql URL STATEMENT: one statement through psql, unaligned output, bounded in time.
sql() {
    PGCONNECT_TIMEOUT=5 timeout 30 "${pg_bin:-/usr/bin}/psql" -X -q -At -v ON_ERROR_STOP=1 \
        -d "$1" -c "$2"
}

# Milliseconds since the epoch (for the timings the scripts print).
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
