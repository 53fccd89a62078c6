#pragma once

// The session check (private; docs/pool.md, "The session check"). After a pool lease that ran
// statements, the session's next statement travels with it, in the same round trip and the same
// implicit transaction (one libpq pipeline segment):
//
//   1. prepared utility statements that clear what a function, procedure or trigger can leave
//      behind without a trace in the SQL text: every setting (RESET ALL, then the pool's own
//      settings again), currval/lastval state and cursors WITH HOLD (DISCARD SEQUENCES, CLOSE
//      ALL);
//   2. the guard, a prepared SELECT that releases session advisory locks, re-seeds random() from
//      the client's entropy, and fails while the session listens on a channel (UNLISTEN takes
//      effect only at commit, after the statement it would travel with, so a LISTEN calls for
//      the full reset instead), holds a temporary object, or has a role other than the one
//      RESET ROLE gives it.
//
// Every statement costs the client a result (libpq builds one for each, about 2,500
// instructions), so what a function almost never leaves is asked in the guard when asking costs
// the server no more than clearing would:
//   - the role: RESET ALL leaves it alone, and the guard compares one setting. The session's
//     first check runs RESET ROLE ahead of the guard and keeps what the guard reads then: the
//     role's reset value, the one the session started with. The full reset's SET SESSION
//     AUTHORIZATION DEFAULT gives the role that value back too, so a session whose guard failed
//     on its role passes the next one;
//   - temporary objects: pg_my_temp_schema() is 0 in a session that never made one, and asks
//     nothing more then; otherwise one index probe of pg_depend for an object in that schema,
//     the same search DISCARD TEMP makes before it drops anything.
// The rest is cleared: utility statements cost the server next to nothing when there is nothing
// to clear. Asking pg_cursors for cursors WITH HOLD builds a tuplestore of the session's portals
// on every lease, and nothing can ask for currval/lastval state.
//
// The check goes ahead of a query, so that a failure of any part of it stops the query; the full
// reset (the pool's script, the equivalent of DISCARD ALL that keeps the statement cache) then
// runs and the query is sent again. Ahead of a BEGIN the resets would take a snapshot before
// BEGIN ISOLATION LEVEL sets the level, so there the check goes just after the BEGIN, inside the
// transaction it opens. Either way the resets commit or roll back with the statement's
// transaction: when that transaction does not commit, the check is armed again for the next
// statement. Statements that cannot share an implicit transaction (several statements, COPY,
// VACUUM, utility commands) have the check sent alone first.
//
// Key reads. A lease that only ran key reads (cached statements whose text has the shape
// sql/key_read_shape.hpp reads: a repository's get, find or single-key find_many, or application
// SQL such as `SELECT a, b FROM t WHERE id = $1`) of tables known to be inert runs no code but the
// server's own, so it can leave nothing behind: its session needs no check, only proof that the
// tables were still inert when they were read. An inert table is a plain table (relkind r, not
// temporary) without row-level security, inheritance children or rules, whose columns have built-in
// types with no user-defined `=` operator, and whose indexes and extended statistics use no
// user-defined function, operator or operator class: reading it by key calls nothing a user
// wrote. The session learns which tables are inert, and the version of their pg_class row (its
// xmin), in the full check that follows the lease where it first read them (the learning
// statement, after the guard). After a lease of key reads of inert tables only, the next
// statement carries, instead of the check, one proof per table read: a prepared SELECT that fails
// (22P02, like the guard) when the table's pg_class row is no longer the version learned, which
// calls for the full reset and forgets what was learned of the tables. Every change that can make
// a table stop being inert writes a new version of that row (ALTER TABLE ... ENABLE ROW LEVEL
// SECURITY, a rename that lets a view take its name, a new inheritance child, a rule, a column's
// new type), so a table that stopped being inert before or during such a lease is caught before
// anything else runs on the session (carried by a key read, below: before that read returns a
// row); routine writes to the row (VACUUM and ANALYZE statistics,
// relhasindex) are made in place and change nothing. The proof costs the client one result
// instead of four, and the server one index probe of pg_class.
// When the next statement is itself a key read and the proof is of one table, the read carries
// it: the statement cache prepares every key read with the proof appended to its WHERE clause as
// a condition on two parameters of its own (key_read_with_proof; table 0 proves nothing). The
// condition is uncorrelated, so the server evaluates it once, in a gating Result node ahead of the
// scan: a failure stops the read before it returns a row (even one that finds none), its implicit
// transaction rolls back, and the full reset runs before the read is sent again. What can run of
// the read before that is its parse and plan, on a session that only user code that already ran
// could have changed. The proof then costs the client two parameters and no result of its own (a
// pipeline segment's proof and sync point are about 4,000 libpq instructions), which brings a
// checked repository get to an unchecked one's client CPU. A read that fails on its own (a
// parameter its column rejects) leaves the proof owed; two tables or more go ahead as above.
// Not proven per lease, and why: an index or extended statistics created after the session
// learned the table (their rows are elsewhere; asking pg_index every lease costs the server more
// than the check does), and a user-defined `=` operator created meanwhile. None runs user code in
// a key read unless a superuser created an operator class for a built-in type, a function was
// declared IMMUTABLE while it changes the session, or an explicit search_path puts pg_catalog
// after the operator's schema: the same trust the check places in superusers not redefining
// pg_catalog.
//
// Not cleared: a prepared statement made by SQL PREPARE inside a function. DEALLOCATE ALL would
// take the statement cache's too, and the only way to ask is pg_prepared_statements, which
// builds a row for every statement of the cache (about 0.45 us each on the server, so 45 us a
// lease with 100 cached statements, more than a point select); a PREPARE the SQL text shows
// makes the session dirty as before.

#include "sql/key_read_shape.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace pgkit::detail {

/// A statement the check prepares once per session, under a name in the statement cache's
/// pgkit_ space (so that resets keep it).
struct check_statement {
    const char* name;
    const char* sql;
};

/// Step 1, before the pool's own settings.
inline constexpr std::array<check_statement, 3> session_check_resets{{
    {"pgkit_check_reset_all", "RESET ALL"},
    {"pgkit_check_discard_sequences", "DISCARD SEQUENCES"},
    {"pgkit_check_close", "CLOSE ALL"},
}};

/// Runs after session_check_resets in a session's first check only, so that the guard reads the
/// role's reset value (which the session keeps as the role the later guards expect).
inline constexpr check_statement session_check_role_reset{"pgkit_check_reset_role", "RESET ROLE"};

/// Step 2: $1 the seed for random(), $2 the role the session's role must be (empty: any, in the
/// first check). Fails (22P02) while the session listens on a channel, holds a temporary object
/// or has another role.
/// Otherwise its one row's one column is the role: concat() evaluates every argument, skips the
/// CASE's NULL and prints nothing for the two void functions (one column is cheaper for libpq to
/// read than four).
inline constexpr const char* session_guard_name = "pgkit_check_guard";
inline constexpr const char* session_guard_sql =
    "SELECT pg_catalog.concat(CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_listening_channels()) "
    "THEN CAST(pg_catalog.concat('pgkit: the session listens on a channel (backend ', "
    "pg_catalog.pg_backend_pid(), ')') AS integer) "
    "WHEN pg_catalog.pg_my_temp_schema() <> 0 AND EXISTS (SELECT FROM pg_catalog.pg_depend "
    "WHERE refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass "
    "AND refobjid = pg_catalog.pg_my_temp_schema()) "
    "THEN CAST(pg_catalog.concat('pgkit: the session holds temporary objects (backend ', "
    "pg_catalog.pg_backend_pid(), ')') AS integer) "
    "WHEN $2::text <> '' AND pg_catalog.current_setting('role') <> $2::text "
    "THEN CAST(pg_catalog.concat('pgkit: the session''s role is not its reset value (backend ', "
    "pg_catalog.pg_backend_pid(), ')') AS integer) END, "
    "pg_catalog.pg_advisory_unlock_all(), pg_catalog.setseed($1::float8), "
    "pg_catalog.current_setting('role'))";

/// The learning statement: $1 an oid[] of tables. One row per table, in order: whether it is
/// inert, and its pg_class row's xmin as text (NULL when the table is gone).
extern const check_statement key_read_learning;
/// The proof, one per table: $1 the oid of a table read by key reads, $2 the xmin of its pg_class
/// row as learned. No row when the row is that version still; fails (22P02) otherwise.
extern const check_statement key_read_proof;

/// How the proof's error message begins; the backend's pid and `)` follow.
inline constexpr std::string_view key_read_proof_failure =
    "pgkit: a table that key reads used has changed (backend ";

/// What the statement cache prepares for a key read (`sql`, of `shape`): the text with the
/// proof of one table appended to its WHERE clause, as a condition on two more parameters, the
/// table's oid and the xmin of its pg_class row as learned (table 0: nothing to prove). It fails
/// (22P02, the proof's message) when that row is no longer the version learned; otherwise it
/// changes nothing the read returns.
[[nodiscard]] std::string key_read_with_proof(std::string_view sql,
                                              const sql::key_read_shape& shape);

/// True when an error with `sqlstate` and `message` is the proof's failure on the session of
/// backend `backend_pid` (not, say, a parameter the read's own column rejected).
[[nodiscard]] bool is_key_read_proof_failure(std::string_view sqlstate,
                                             std::string_view message,
                                             int backend_pid);

/// True when `text`, as the learning statement returned it, is an xid's: digits only, not empty.
[[nodiscard]] bool is_row_version(std::string_view text) noexcept;

/// Room for write_fresh_seed's text: "-0.", 17 digits and the terminating NUL.
inline constexpr std::size_t fresh_seed_chars = 21;
/// A seed for setseed() from the client's entropy as text, in (-1, 1), NUL-terminated: the
/// guard's parameter and the reset scripts' setseed(). A setseed() of one lease must not make
/// the next lease's random() predictable.
void write_fresh_seed(char (&text)[fresh_seed_chars]);

/// `script` followed by a setseed() with a fresh seed: how every reset script ends.
[[nodiscard]] std::string with_fresh_seed(std::string_view script);

}  // namespace pgkit::detail
