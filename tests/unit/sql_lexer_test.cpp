// The one SQL lexer and what is built on it: raw-filter parameter renumbering, the
// session-state analysis behind reset_policy::when_dirty, the statement kinds the session
// check sends statements by, and the key-read shape. No server needed.
#include "sql/key_read_shape.hpp"
#include "sql/lexer.hpp"
#include "sql/renumber.hpp"
#include "sql/session_effects.hpp"
#include "sql/statement_kind.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using pgkit::detail::sql::lex_failure;
using pgkit::detail::sql::lexer;
using pgkit::detail::sql::token_kind;

namespace {

struct lexed {
    std::vector<std::pair<token_kind, std::string>> tokens;
    lex_failure failure = lex_failure::none;
};

lexed lex(std::string_view sql, bool conforming = true) {
    lexer tokens{sql, {.standard_conforming_strings = conforming}};
    lexed out;
    while (auto t = tokens.next_significant()) {
        out.tokens.emplace_back(t->kind, std::string{t->text(sql)});
    }
    out.failure = tokens.failure();
    return out;
}

std::vector<std::string> parameters_in(std::string_view sql) {
    std::vector<std::string> out;
    for (const auto& [kind, text] : lex(sql).tokens) {
        if (kind == token_kind::parameter) {
            out.push_back(text);
        }
    }
    return out;
}

pgkit::result<std::string> renumbered(std::string_view fragment,
                                      std::size_t offset,
                                      std::size_t count) {
    std::string out = "prefix ";
    auto done = pgkit::detail::sql::renumber_parameters(fragment, offset, count, out);
    if (!done) {
        CHECK(out == "prefix ");  // nothing half-written
        return tl::unexpected(done.error());
    }
    return out.substr(7);
}

}  // namespace

TEST_SUITE("sql") {
    TEST_CASE("sql: tokens tile the text and keep their kinds") {
        const std::string_view sql =
            "SELECT \"a\"\"b\", e'x\\'y', $1::int, col$1, $tag$ $2 $tag$ /* $3 /* nested */ */ "
            "-- $4\n FROM t WHERE x >= 1.5e3;";
        lexer tokens{sql};
        std::size_t at = 0;
        while (auto t = tokens.next()) {
            CHECK(t->begin == at);
            CHECK(t->end > t->begin);
            at = t->end;
        }
        CHECK(at == sql.size());
        CHECK(tokens.failure() == lex_failure::none);
        CHECK(parameters_in(sql) == std::vector<std::string>{"$1"});
        const auto all = lex(sql).tokens;
        CHECK(all[1] == std::pair{token_kind::quoted_identifier, std::string{"\"a\"\"b\""}});
        CHECK(all[3] == std::pair{token_kind::string, std::string{"e'x\\'y'"}});
        CHECK(all[9] == std::pair{token_kind::identifier, std::string{"col$1"}});
        CHECK(all[11] == std::pair{token_kind::dollar_string, std::string{"$tag$ $2 $tag$"}});
    }

    TEST_CASE("sql: strings follow standard_conforming_strings") {
        // On (the default): a backslash is an ordinary character in '...'.
        CHECK(lex("SELECT 'a\\' , $1").tokens.size() == 4);
        CHECK(parameters_in("SELECT 'a\\' , $1") == std::vector<std::string>{"$1"});
        // Off: the backslash escapes the quote, so the string runs to the end.
        CHECK(lex("SELECT 'a\\' , $1", false).failure == lex_failure::unterminated_string);
        CHECK(lex("SELECT E'\\''").failure == lex_failure::none);
        CHECK(lex("SELECT U&'d\\0061t\\+000061', U&\"d!0061t\" UESCAPE '!'").failure ==
              lex_failure::none);
        CHECK(lex("SELECT B'101', X'1F', N'text'").failure == lex_failure::none);
    }

    TEST_CASE("sql: a literal continued across a newline keeps its mode") {
        // After E'...' the continuation has backslash escapes, as the server reads it: \' does
        // not end the literal, the next quote does, and the SET after it is seen.
        const auto continued = lex("SELECT E'a'\n'\\' '; SET search_path = evil; --'");
        REQUIRE(continued.tokens.size() == 8);
        CHECK(continued.tokens[1].second == "E'a'\n'\\' '");
        CHECK(continued.tokens[3].second == "SET");
        using pgkit::detail::sql::may_leave_session_state;
        CHECK(may_leave_session_state("SELECT E'a'\n'\\' '; SET search_path = evil; --'"));
        CHECK_FALSE(may_leave_session_state("SELECT E'a'\n'\\'; SET x = 1; --'"));
        // A parameter inside the continued literal is not a parameter.
        CHECK(parameters_in("SELECT 'a'\n  -- comment\n'$1' , $2") ==
              std::vector<std::string>{"$2"});
        // Without a newline between them, two literals are two tokens.
        CHECK(lex("SELECT 'a' 'b'").tokens.size() == 3);
        CHECK(lex("SELECT 'a'\n'b").failure == lex_failure::unterminated_string);
    }

    TEST_CASE("sql: unterminated tokens end the stream with a failure") {
        CHECK(lex("SELECT 'abc").failure == lex_failure::unterminated_string);
        CHECK(lex("SELECT \"abc").failure == lex_failure::unterminated_quoted_identifier);
        CHECK(lex("SELECT $x$ abc $y$").failure == lex_failure::unterminated_dollar_string);
        CHECK(lex("SELECT /* a /* b */").failure == lex_failure::unterminated_comment);
        CHECK(lex("SELECT 1 -- it's fine").failure == lex_failure::none);
    }

    TEST_CASE("sql: operators stop where a comment starts, and $ alone is an operator") {
        const auto out = lex("SELECT 1 +-- comment\n 2, 3 */* c */ 4, $ 5");
        CHECK(out.failure == lex_failure::none);
        std::vector<std::string> ops;
        for (const auto& [kind, text] : out.tokens) {
            if (kind == token_kind::op) {
                ops.push_back(text);
            }
        }
        CHECK(ops == std::vector<std::string>{"+", "*", "$"});
    }

    TEST_CASE("sql: raw filters renumber parameter tokens only") {
        CHECK(renumbered("a > $1 AND b = $2", 3, 2).value() == "a > $4 AND b = $5");
        // A comment with an apostrophe before the parameter (used to leave $1 unshifted).
        CHECK(renumbered("/* it's */ amount > $1", 1, 1).value() == "/* it's */ amount > $2");
        CHECK(renumbered("amount > $1 -- it's the floor", 2, 1).value() ==
              "amount > $3 -- it's the floor\n");
        // $n inside comments, strings, dollar quotes and names stays as written.
        CHECK(renumbered("col$1 = $1 /* $1 */ AND s = '$1' AND d = $q$ $1 $q$", 5, 1).value() ==
              "col$1 = $6 /* $1 */ AND s = '$1' AND d = $q$ $1 $q$");
        CHECK(renumbered("note = E'\\'' AND id = $1", 1, 1).value() == "note = E'\\'' AND id = $2");
        CHECK(renumbered("x = $1 /* a /* nested */ $1 */", 1, 1).value() ==
              "x = $2 /* a /* nested */ $1 */");
    }

    TEST_CASE("sql: raw filters with bad parameters or unterminated text are invalid_argument") {
        CHECK(renumbered("x = $2", 0, 1).error().code() == pgkit::errc::invalid_argument);
        CHECK(renumbered("x = $0", 0, 1).error().code() == pgkit::errc::invalid_argument);
        CHECK(renumbered("x = $99999999999", 0, 1).error().code() == pgkit::errc::invalid_argument);
        const auto open_quote = renumbered("x = 'abc", 0, 0);
        CHECK(open_quote.error().code() == pgkit::errc::invalid_argument);
        CHECK(open_quote.error().message().find("unterminated quoted string") != std::string::npos);
        CHECK(renumbered("x = 1 /* open", 0, 0).error().code() == pgkit::errc::invalid_argument);
    }

    TEST_CASE("sql: statements that leave session state behind are recognised") {
        using pgkit::detail::sql::may_leave_session_state;
        CHECK(may_leave_session_state("SET work_mem = '64MB'"));
        CHECK(may_leave_session_state("  set SESSION statement_timeout = 0"));
        CHECK(may_leave_session_state("SET ROLE reporting"));
        CHECK(may_leave_session_state("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"));
        CHECK(may_leave_session_state("RESET work_mem"));
        CHECK(may_leave_session_state("CREATE TEMP TABLE t (x int)"));
        CHECK(may_leave_session_state("create local temporary table t (x int)"));
        CHECK(may_leave_session_state("CREATE TABLE pg_temp.t (x int)"));
        CHECK(may_leave_session_state("CREATE TABLE \"pg_temp\".t (x int)"));
        CHECK(may_leave_session_state("SELECT * INTO TEMP t FROM generate_series(1, 3)"));
        CHECK(may_leave_session_state("LISTEN jobs"));
        CHECK(may_leave_session_state("PREPARE q AS SELECT 1"));
        CHECK(may_leave_session_state("DECLARE c CURSOR WITH HOLD FOR SELECT 1"));
        CHECK(may_leave_session_state("DO $$ BEGIN PERFORM 1; END $$"));
        CHECK(may_leave_session_state("CALL refresh_everything()"));
        CHECK(may_leave_session_state("LOAD 'auto_explain'"));
        CHECK(may_leave_session_state("SELECT pg_advisory_lock($1)"));
        CHECK(may_leave_session_state("SELECT PG_TRY_ADVISORY_LOCK_SHARED(1, 2)"));
        CHECK(may_leave_session_state("SELECT set_config('a.b', 'c', false)"));
        CHECK(may_leave_session_state("/* comment */ -- line\n SET x.y = 1"));
        CHECK(may_leave_session_state("SELECT 1; SET x.y = 1; SELECT 2"));
        CHECK(may_leave_session_state("BEGIN; SET search_path = a; COMMIT"));
        // Quoted and schema-qualified names, EXPLAIN ANALYZE and setseed.
        CHECK(may_leave_session_state("SELECT \"set_config\"('search_path', 'x', false)"));
        CHECK(may_leave_session_state("SELECT pg_catalog.\"pg_advisory_lock\"(1)"));
        CHECK(may_leave_session_state("SELECT pg_catalog . set_config ('a.b', 'c', false)"));
        CHECK(may_leave_session_state("EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1"));
        CHECK(may_leave_session_state(
            "EXPLAIN (ANALYZE, BUFFERS) CREATE TEMPORARY TABLE t AS SELECT 1"));
        CHECK(may_leave_session_state("SELECT setseed(0.5)"));
        CHECK(may_leave_session_state("SELECT U&\"\\0073et_config\"('a.b', 'c', false)"));
        // Unknown statement kinds and text that does not lex are assumed dirty.
        CHECK(may_leave_session_state("FROBNICATE everything"));
        CHECK(may_leave_session_state("SELECT 'unterminated"));

        CHECK_FALSE(may_leave_session_state(""));
        CHECK_FALSE(may_leave_session_state(";;"));
        CHECK_FALSE(may_leave_session_state("SELECT 1"));
        CHECK_FALSE(may_leave_session_state("(SELECT 1) UNION (SELECT 2)"));
        CHECK_FALSE(may_leave_session_state("SET LOCAL work_mem = '64MB'"));
        CHECK_FALSE(may_leave_session_state("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"));
        CHECK_FALSE(may_leave_session_state("SET CONSTRAINTS ALL DEFERRED"));
        CHECK_FALSE(may_leave_session_state("BEGIN; SET LOCAL x.y = 1; COMMIT"));
        CHECK_FALSE(may_leave_session_state("SELECT pg_advisory_xact_lock(1)"));
        CHECK_FALSE(may_leave_session_state("SELECT pg_advisory_unlock_all()"));
        CHECK_FALSE(may_leave_session_state("CREATE TABLE temperatures (temp_c int)"));
        CHECK_FALSE(may_leave_session_state("INSERT INTO t VALUES ('SET x = 1; LISTEN y')"));
        CHECK_FALSE(may_leave_session_state("INSERT INTO t VALUES (E'it\\'s; SET x = 1')"));
        CHECK_FALSE(may_leave_session_state("SELECT $tag$; SET x = 1$tag$"));
        CHECK_FALSE(may_leave_session_state("SELECT $$; LISTEN x $$, $1"));
        CHECK_FALSE(may_leave_session_state("/* SET x = 1; */ SELECT 1 -- ; LISTEN y"));
        CHECK_FALSE(may_leave_session_state("UPDATE t SET x = 1 WHERE id = $1"));
        CHECK_FALSE(may_leave_session_state("ROLLBACK"));
        CHECK_FALSE(may_leave_session_state("DISCARD ALL"));
        CHECK_FALSE(may_leave_session_state("DECLARE c NO SCROLL CURSOR FOR SELECT 1"));
        CHECK_FALSE(may_leave_session_state("PREPARE TRANSACTION 'tx1'"));
        CHECK_FALSE(may_leave_session_state("EXPLAIN SELECT * FROM t"));
        CHECK_FALSE(may_leave_session_state("EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1"));
        // Transaction-local forms leave nothing behind.
        CHECK_FALSE(may_leave_session_state("SELECT set_config('a.b', 'c', true)"));
        CHECK_FALSE(may_leave_session_state("SELECT set_config('a.b', f(1, 2), TRUE) FROM t"));
        CHECK(may_leave_session_state("SELECT set_config('a.b', 'c', $1)"));
        CHECK(may_leave_session_state("SELECT set_config('a.b', 'c', true OR x)"));
        CHECK(may_leave_session_state("SELECT set_config('a.b', 'c'"));
        CHECK_FALSE(may_leave_session_state("CREATE TEMP TABLE t (x int) ON COMMIT DROP"));
        CHECK(may_leave_session_state("CREATE TEMP TABLE t (x int) ON COMMIT DELETE ROWS"));
    }

    TEST_CASE("sql: session effects are named, and definite ones found behind unknown ones") {
        using pgkit::detail::sql::first_definite_session_effect;
        using pgkit::detail::sql::first_session_effect;
        using pgkit::detail::sql::session_effect;
        CHECK(first_session_effect("LISTEN jobs") == session_effect::listen);
        CHECK(first_session_effect("SET search_path = x") == session_effect::setting);
        CHECK(first_session_effect("SELECT pg_advisory_lock(1)") == session_effect::advisory_lock);
        CHECK(first_session_effect("CREATE TEMP TABLE t (x int)") ==
              session_effect::temporary_table);
        CHECK(first_session_effect("DECLARE c CURSOR WITH HOLD FOR SELECT 1") ==
              session_effect::held_cursor);
        CHECK(first_session_effect("PREPARE q AS SELECT 1") == session_effect::prepared_statement);
        CHECK(first_session_effect("DO $$ BEGIN END $$; LISTEN x") == session_effect::unknown);
        CHECK(first_definite_session_effect("DO $$ BEGIN END $$; LISTEN x") ==
              session_effect::listen);
        CHECK_FALSE(first_definite_session_effect("DO $$ BEGIN END $$; CALL p()").has_value());
        CHECK_FALSE(first_definite_session_effect("SELECT 'open").has_value());
        CHECK(pgkit::detail::sql::to_string(session_effect::listen) == "LISTEN");
    }

    TEST_CASE("sql: statement names starting with pgkit_ belong to the cache") {
        CHECK(pgkit::detail::sql::is_cache_statement_name("pgkit_12"));
        CHECK_FALSE(pgkit::detail::sql::is_cache_statement_name("mine"));
        CHECK_FALSE(pgkit::detail::sql::is_cache_statement_name("pgkit"));
    }
}

TEST_CASE("statement kind: one query or BEGIN joins a pipeline, anything else goes alone") {
    using pgkit::detail::sql::kind_of_statement;
    using pgkit::detail::sql::statement_kind;
    for (std::string_view sql :
         {"SELECT 1", "select 1;", "  /* lead */ -- line\n INSERT INTO t VALUES (1)",
          "update t set x = ';'", "DELETE FROM t WHERE s = $$;$$", "WITH a AS (SELECT 1) SELECT *",
          "VALUES (1)", "TABLE t", "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
          "SELECT 1; -- trailing comment", "SELECT \"a;b\" FROM t", "", "-- only a comment"}) {
        CAPTURE(sql);
        CHECK(kind_of_statement(sql) == statement_kind::query);
    }
    for (std::string_view sql :
         {"BEGIN", "begin isolation level serializable;", "START TRANSACTION READ ONLY"}) {
        CAPTURE(sql);
        CHECK(kind_of_statement(sql) == statement_kind::begin);
    }
    for (std::string_view sql :
         {" ; ", "/* unterminated", "SELECT 1; SELECT 2", "BEGIN; SELECT 1", "VACUUM t",
          "CREATE INDEX CONCURRENTLY i ON t (x)", "COPY t FROM STDIN", "SET work_mem = '1MB'",
          "SHOW work_mem", "COMMIT", "(SELECT 1)", "\"SELECT\" 1", "SELECT 'unterminated",
          "SELECT 1 /* unterminated", "EXPLAIN SELECT 1", "DO $$ BEGIN END $$", "CALL p()"}) {
        CAPTURE(sql);
        CHECK(kind_of_statement(sql) == statement_kind::other);
    }
    // Without standard_conforming_strings a backslash escapes the quote: the text goes on.
    CHECK(kind_of_statement("SELECT 'a\\'; SELECT 2'", {.standard_conforming_strings = false}) ==
          statement_kind::query);
    CHECK(kind_of_statement("SELECT 'a\\'; SELECT 2'") == statement_kind::other);
}

TEST_CASE("key-read shape: where a condition can be appended, and the last parameter") {
    using pgkit::detail::sql::read_key_read_shape;
    struct expected {
        const char* sql;
        std::size_t conditions_end;
        int last_parameter;
    };
    for (const expected& e : {
             expected{"SELECT id FROM t WHERE id = $1", 30, 1},
             expected{"SELECT id FROM t WHERE a = $2 AND b = ANY ( $10 ) ;  ", 49, 10},
             expected{"SELECT id FROM t WHERE id = $1 -- note", 30, 1},
             expected{"SELECT id FROM t WHERE id IS NOT NULL /* note */;", 37, 0},
             expected{"SELECT id FROM t WHERE id = $01", 31, 1},
         }) {
        const std::string_view sql{e.sql};
        CAPTURE(sql);
        const auto shape = read_key_read_shape(sql);
        REQUIRE(shape);
        CHECK(shape->conditions_end == e.conditions_end);
        CHECK(shape->last_parameter == e.last_parameter);
    }
    // The proof takes two parameters after the text's own, and PostgreSQL stops at $65535.
    CHECK(read_key_read_shape("SELECT id FROM t WHERE id = $65533"));
    CHECK_FALSE(read_key_read_shape("SELECT id FROM t WHERE id = $65534"));
    CHECK_FALSE(read_key_read_shape("SELECT id FROM t WHERE id = $0"));
}

TEST_CASE("key-read shape: plain columns of one table by key, and nothing else") {
    using pgkit::detail::sql::has_key_read_shape;
    // What repositories write for get, find and single-key find_many, in every scope.
    CHECK(has_key_read_shape("SELECT \"id\", \"body\" FROM \"app\".\"notes\" WHERE \"id\" = $1"));
    CHECK(has_key_read_shape(
        "SELECT \"a\", \"b\", \"removed at\" FROM \"pairs\" WHERE \"a\" = $1 AND \"b\" = $2 "
        "AND \"removed at\" IS NOT NULL"));
    CHECK(
        has_key_read_shape("SELECT \"id\" FROM \"notes\" WHERE \"id\" = ANY($1) AND "
                           "\"removed at\" IS NULL"));
    // Application SQL of the same shape, whatever its case, blanks and comments.
    CHECK(has_key_read_shape("SELECT abalance FROM pgbench_accounts WHERE aid = $1"));
    CHECK(has_key_read_shape("select * from public.t where id=$1 and k = any ( $2 );"));
    CHECK(has_key_read_shape("SELECT/* c */id\nFROM t -- c\nWHERE id = $1 ;  "));

    // Anything that can call a function, an operator other than =, or more than one table.
    for (const char* sql : {
             "SELECT id FROM t WHERE id = $1 AND leave_state()",
             "SELECT f(id) FROM t WHERE id = $1",
             "SELECT t.f FROM t WHERE id = $1",         // attribute notation: f(t)
             "SELECT id FROM t WHERE t.f = $1",         // the same in WHERE
             "SELECT id FROM t WHERE id = $1::bigint",  // a cast
             "SELECT id FROM t WHERE id = $1 + 1",
             "SELECT id FROM t WHERE id < $1",
             "SELECT id FROM t WHERE id = 1",  // a literal: only parameters
             "SELECT id FROM t WHERE id = 'x'",
             "SELECT id FROM t WHERE id IN ($1, $2)",
             "SELECT id FROM t WHERE id = $1 OR id = $2",
             "SELECT id FROM t WHERE NOT id = $1",
             "SELECT id FROM t WHERE (id = $1)",
             "SELECT id FROM t WHERE id = ANY(ARRAY[$1])",
             "SELECT id FROM t WHERE id = ANY(SELECT $1)",
             "SELECT id FROM t WHERE id IS $1",
             "SELECT id FROM t",  // no key
             "SELECT id FROM t WHERE",
             "SELECT id FROM t WHERE id = $1 FOR UPDATE",
             "SELECT id FROM t WHERE id = $1 ORDER BY id",
             "SELECT id FROM t WHERE id = $1 LIMIT 1",
             "SELECT id FROM ONLY t WHERE id = $1",
             "SELECT id FROM t x WHERE id = $1",
             "SELECT id FROM t AS x WHERE id = $1",
             "SELECT id FROM t, u WHERE id = $1",
             "SELECT id FROM t JOIN u USING (id) WHERE id = $1",
             "SELECT id FROM f() WHERE id = $1",
             "SELECT id FROM a.b.c WHERE id = $1",
             "SELECT DISTINCT id FROM t WHERE id = $1",
             "SELECT id, FROM t WHERE id = $1",
             "SELECT id AS x FROM t WHERE id = $1",
             "SELECT U&\"id\" FROM t WHERE id = $1",
             "SELECT id FROM t WHERE id = $1; SELECT 1",
             "SELECT id FROM t WHERE id = $1;;",
             "WITH x AS (SELECT 1) SELECT id FROM t WHERE id = $1",
             "SELECT id INTO TEMP x FROM t WHERE id = $1",
             "TABLE t",
             "UPDATE t SET v = $2 WHERE id = $1",
             "SELECT id FROM t WHERE id = $1 /* unterminated",
             "",
         }) {
        CAPTURE(sql);
        CHECK_FALSE(has_key_read_shape(sql));
    }
}
