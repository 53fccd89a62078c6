#include "pagination/keyset_sql.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace pgkit::detail {

result<std::vector<keyset_term>> total_ordering(const entity_sql& sql,
                                                const std::vector<order_term>& order_by) {
    std::vector<keyset_term> terms;
    std::vector<bool> used(sql.quoted_columns.size(), false);
    for (const auto& term : order_by) {
        if (!term.valid || term.column >= sql.quoted_columns.size()) {
            return make_error(errc::invalid_argument, "order_by: the member is not a column");
        }
        if (used[term.column]) {
            return make_error(
                errc::invalid_argument,
                fmt::format("order_by: column '{}' appears twice", sql.column_names[term.column]));
        }
        used[term.column] = true;
        terms.push_back({term.column, term.descending, term.places_nulls_first()});
    }
    const bool descending = !terms.empty() && terms.back().descending;
    for (std::size_t k : sql.key) {
        if (!used[k]) {
            // A key column is NOT NULL, so its NULL placement only has to match an index's
            // default for that direction.
            terms.push_back({k, descending, descending});
        }
    }
    return terms;
}

std::vector<keyset_term> reversed(const std::vector<keyset_term>& terms) {
    std::vector<keyset_term> out = terms;
    for (auto& term : out) {
        term.descending = !term.descending;
        term.nulls_first = !term.nulls_first;
    }
    return out;
}

std::string order_by_clause(const entity_sql& sql, const std::vector<keyset_term>& terms) {
    std::string out;
    for (std::size_t i = 0; i < terms.size(); ++i) {
        out += i == 0 ? " ORDER BY " : ", ";
        out += sql.quoted_columns[terms[i].column];
        out += terms[i].descending ? " DESC" : " ASC";
        out += terms[i].nulls_first ? " NULLS FIRST" : " NULLS LAST";
    }
    return out;
}

std::string describe_ordering(const entity_sql& sql, const std::vector<keyset_term>& terms) {
    std::string out;
    for (const auto& term : terms) {
        out += sql.quoted_columns[term.column];
        out += term.descending ? " DESC" : " ASC";
        out += term.nulls_first ? " NULLS FIRST;" : " NULLS LAST;";
    }
    return out;
}

bool row_value_exact(const std::vector<keyset_term>& terms, const std::vector<bool>& not_null) {
    return std::all_of(terms.begin(), terms.end(), [&](const keyset_term& t) {
        return t.descending == terms[0].descending && t.column < not_null.size() &&
               not_null[t.column];
    });
}

std::string seek_condition(const entity_sql& sql,
                           const std::vector<keyset_term>& terms,
                           const std::vector<bool>& not_null,
                           const cursor_values& values,
                           bool inclusive,
                           parameters& params,
                           seek_form form) {
    // Each non-NULL value becomes one parameter, cast to its column's type.
    std::vector<std::string> placeholder(terms.size());
    for (std::size_t i = 0; i < terms.size(); ++i) {
        if (values[i]) {
            params.add(*values[i]);
            placeholder[i] =
                fmt::format("${}::{}", params.size(), sql.column_types[terms[i].column]);
        }
    }
    auto column = [&](std::size_t i) -> const std::string& {
        return sql.quoted_columns[terms[i].column];
    };
    auto column_not_null = [&](std::size_t column) {
        return column < not_null.size() && not_null[column];
    };
    auto never_null = [&](std::size_t i) { return column_not_null(terms[i].column); };

    const bool row_value =
        form != seek_form::expanded && row_value_exact(terms, not_null) &&
        std::all_of(values.begin(), values.end(), [](const auto& v) { return v.has_value(); });
    if (row_value) {
        std::string left;
        std::string right;
        for (std::size_t i = 0; i < terms.size(); ++i) {
            left += (i == 0 ? "" : ", ") + column(i);
            right += (i == 0 ? "" : ", ") + placeholder[i];
        }
        const char* op = terms[0].descending ? (inclusive ? "<=" : "<") : (inclusive ? ">=" : ">");
        if (terms.size() == 1) {
            return fmt::format("{} {} {}", left, op, right);
        }
        return fmt::format("({}) {} ({})", left, op, right);
    }

    // "Column i equals the position's value" and "column i comes after it".
    auto equal = [&](std::size_t i) {
        return values[i] ? column(i) + " = " + placeholder[i] : column(i) + " IS NULL";
    };
    auto after = [&](std::size_t i) -> std::string {
        const auto& t = terms[i];
        if (!values[i]) {
            // After NULL: every value when NULLs come first; nothing when they come last.
            return t.nulls_first ? column(i) + " IS NOT NULL" : std::string{};
        }
        std::string cmp = column(i) + (t.descending ? " < " : " > ") + placeholder[i];
        if (!t.nulls_first && !never_null(i)) {
            return "(" + cmp + " OR " + column(i) + " IS NULL)";
        }
        return cmp;
    };

    std::vector<std::string> disjuncts;
    std::string prefix;  // "a = $1 AND b IS NULL AND "
    for (std::size_t i = 0; i < terms.size(); ++i) {
        const std::string step = after(i);
        if (!step.empty()) {
            disjuncts.push_back(prefix + step);
        }
        prefix += equal(i) + " AND ";
    }
    if (inclusive) {
        disjuncts.push_back(prefix.substr(0, prefix.size() - 5));
    }
    std::string out;
    if (disjuncts.empty()) {
        return "FALSE";
    }
    // A bound on the first column alone, implied by the disjunction, that an index scan can
    // start from: the position's value and everything after it.
    const auto& first = terms[0];
    if (values[0] && (first.nulls_first || never_null(0))) {
        out = column(0) + (first.descending ? " <= " : " >= ") + placeholder[0] + " AND ";
    } else if (!values[0] && !first.nulls_first) {
        out = column(0) + " IS NULL AND ";
    }
    if (disjuncts.size() == 1) {
        return out + disjuncts[0];
    }
    out += "(";
    for (std::size_t i = 0; i < disjuncts.size(); ++i) {
        out += (i == 0 ? "(" : " OR (") + disjuncts[i] + ")";
    }
    out += ")";
    return out;
}

}  // namespace pgkit::detail
