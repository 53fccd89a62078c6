#include "migrate/lint_catalog.hpp"

#include "pgkit/connection.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pgkit::detail::migrate {
namespace {

/// A server error is an answer ("the catalog cannot say"); a broken connection is a failure.
bool connection_lost(const error& e) {
    return e.code() == errc::connection_failed || e.code() == errc::connection_lost;
}

/// Whether `qualified` (the catalog's names, quoted) has a row: a read-only probe under a short
/// lock_timeout; nullopt when it could not run (a lock held, a permission missing).
result<std::optional<bool>> probe_rows(connection& conn, const std::string& qualified) {
    auto outcome =
        conn.execute("BEGIN READ ONLY")
            .and_then([&](auto&&) { return conn.execute("SET LOCAL lock_timeout = 200"); })
            .and_then([&](auto&&) { return conn.execute("SET LOCAL statement_timeout = 2000"); })
            .and_then([&](auto&&) {
                return conn.execute(fmt::format("SELECT EXISTS (SELECT 1 FROM {})", qualified));
            })
            .and_then(&query_result::scalar<bool>);
    if (!outcome) {
        (void)conn.execute("ROLLBACK");
        if (connection_lost(outcome.error())) {
            return tl::unexpected(outcome.error());
        }
        return std::optional<bool>{};
    }
    if (auto done = conn.execute("COMMIT"); !done) {
        return tl::unexpected(done.error());
    }
    return std::optional<bool>{*outcome};
}

result<table_facts> read_table(connection& conn,
                               const std::string& table,
                               const lint_context& context) {
    table_facts facts;
    const std::string name = relation_name(table);
    facts.new_in_run = std::find(context.created_tables.begin(), context.created_tables.end(),
                                 name) != context.created_tables.end();
    auto found = conn.execute(
        "SELECT n.nspname::text, c.relname::text, c.relpages::bigint, c.reltuples::float8 "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p', 'm')",
        table);
    if (!found) {
        if (connection_lost(found.error())) {
            return tl::unexpected(found.error());
        }
        return facts;  // a name the server cannot read: unknown
    }
    if (found->empty()) {
        return facts;
    }
    auto fields = (*found)[0].as<std::string, std::string, std::int64_t, double>();
    if (!fields) {
        return tl::unexpected(fields.error());
    }
    auto& [schema, relation, pages, tuples] = *fields;
    facts.exists = true;
    auto quoted_schema = connection::quote_identifier(schema);
    auto quoted_relation = connection::quote_identifier(relation);
    std::optional<bool> rows;
    if (quoted_schema && quoted_relation && !facts.new_in_run) {
        auto probed = probe_rows(conn, *quoted_schema + "." + *quoted_relation);
        if (!probed) {
            return tl::unexpected(probed.error());
        }
        rows = *probed;
    }
    // The statistics when the probe could not run: pages or an estimate of rows.
    facts.has_rows = rows.value_or(pages > 0 || tuples > 0);
    return facts;
}

/// The one value of a catalog query, NULL (or no row) as nullopt; server errors as nullopt.
template <class T, class... Args>
result<std::optional<T>> catalog_value(connection& conn,
                                       std::string_view sql,
                                       const Args&... args) {
    auto r = conn.execute(sql, args...);
    if (!r) {
        if (connection_lost(r.error())) {
            return tl::unexpected(r.error());
        }
        return std::optional<T>{};
    }
    if (r->empty()) {
        return std::optional<T>{};
    }
    return (*r)[0].template get<std::optional<T>>(0);
}

/// Whether a function the default calls is volatile (any overload of its name: errs on the side
/// of noticing). A name the catalog does not have is SQL syntax (COALESCE, CAST, ...) or a
/// function a pending migration creates: not counted.
result<bool> default_volatile(connection& conn, const alter_action& a) {
    for (const std::string& function : a.default_functions) {
        auto v = catalog_value<bool>(
            conn, "SELECT bool_or(provolatile = 'v') FROM pg_catalog.pg_proc WHERE proname = $1",
            function);
        if (!v) {
            return tl::unexpected(v.error());
        }
        if (v->value_or(false)) {
            return true;
        }
    }
    return false;
}

result<action_facts> read_action(connection& conn,
                                 const recognized_statement& st,
                                 const alter_action& a) {
    action_facts facts;
    switch (a.kind) {
        case action_kind::add_column: {
            auto v = default_volatile(conn, a);
            if (!v) {
                return tl::unexpected(v.error());
            }
            facts.default_volatile = *v;
            break;
        }
        case action_kind::set_type: {
            auto type = catalog_value<std::string>(
                conn,
                "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
                "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT "
                "a.attisdropped",
                st.table, a.column);
            if (!type) {
                return tl::unexpected(type.error());
            }
            facts.column_type = type->value_or("");
            break;
        }
        case action_kind::set_not_null: {
            auto check = catalog_value<bool>(
                conn,
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conrelid = "
                "to_regclass($1) AND c.contype = 'c' AND c.convalidated AND "
                "pg_catalog.pg_get_constraintdef(c.oid) = 'CHECK ((' || quote_ident($2) || ' IS "
                "NOT NULL))')",
                st.table, a.column);
            if (!check) {
                return tl::unexpected(check.error());
            }
            facts.validated_not_null_check = check->value_or(false);
            break;
        }
        case action_kind::validate_constraint: {
            auto column = catalog_value<std::string>(
                conn,
                "SELECT a.attname::text FROM pg_catalog.pg_constraint c JOIN "
                "pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
                "WHERE c.conrelid = to_regclass($1) AND c.conname = $2 AND c.contype = 'c' AND "
                "cardinality(c.conkey) = 1 AND pg_catalog.pg_get_constraintdef(c.oid) = 'CHECK "
                "((' || quote_ident(a.attname) || ' IS NOT NULL)) NOT VALID'",
                st.table, a.constraint);
            if (!column) {
                return tl::unexpected(column.error());
            }
            facts.validates_not_null_column = column->value_or("");
            break;
        }
        default:
            break;
    }
    return facts;
}

}  // namespace

result<statement_facts> read_statement_facts(connection& conn,
                                             const recognized_statement& st,
                                             const lint_context& context) {
    statement_facts facts;
    std::string table = st.table;
    if (st.kind == statement_kind::drop_index ||
        (st.kind == statement_kind::reindex && !st.index.empty())) {
        auto owner = catalog_value<std::string>(
            conn,
            "SELECT i.indrelid::regclass::text FROM pg_catalog.pg_index i "
            "WHERE i.indexrelid = to_regclass($1)",
            st.index);
        if (!owner) {
            return tl::unexpected(owner.error());
        }
        table = owner->value_or("");
    }
    const bool names_table =
        st.kind != statement_kind::other && st.kind != statement_kind::set_lock_timeout &&
        st.kind != statement_kind::create_table && st.kind != statement_kind::enum_add_value &&
        st.kind != statement_kind::enum_rename_value;
    if (!names_table || table.empty()) {
        return facts;
    }
    auto t = read_table(conn, table, context);
    if (!t) {
        return tl::unexpected(t.error());
    }
    facts.table = *t;
    if (!facts.table.existing()) {
        facts.actions.resize(st.actions.size());
        return facts;
    }
    for (const alter_action& a : st.actions) {
        auto f = read_action(conn, st, a);
        if (!f) {
            return tl::unexpected(f.error());
        }
        facts.actions.push_back(std::move(*f));
    }
    return facts;
}

}  // namespace pgkit::detail::migrate
