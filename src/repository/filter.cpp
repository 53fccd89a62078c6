#include "pgkit/filter.hpp"

#include "sql/renumber.hpp"

#include <fmt/format.h>

#include <string>

namespace pgkit::detail {

result<void> render_filter(const filter_node& node,
                           const std::vector<std::string>& quoted_columns,
                           std::string& out,
                           std::vector<std::optional<std::string>>& params) {
    if (node.failure) {
        error e = *node.failure;
        return tl::unexpected(std::move(e));
    }
    auto column = [&]() -> const std::string& { return quoted_columns.at(node.column); };
    auto next = [&](std::string_view cast) {
        params.push_back(node.values.at(0));
        return fmt::format("${}::{}", params.size(), cast);
    };
    using kind = filter_node::kind;
    switch (node.what) {
        case kind::always:
            out += "TRUE";
            return {};
        case kind::compare:
            out += fmt::format("{} {} {}", column(), node.op, next(node.pg_type));
            return {};
        case kind::any:
            out += fmt::format("{} = ANY({})", column(), next(node.pg_type));
            return {};
        case kind::is_null:
            out += column() + " IS NULL";
            return {};
        case kind::is_not_null:
            out += column() + " IS NOT NULL";
            return {};
        case kind::like:
            out += fmt::format("{} LIKE {}", column(), next("text"));
            return {};
        case kind::ilike:
            out += fmt::format("{} ILIKE {}", column(), next("text"));
            return {};
        case kind::negate: {
            out += "NOT (";
            auto inner = render_filter(node.children.at(0), quoted_columns, out, params);
            out += ")";
            return inner;
        }
        case kind::all_of:
        case kind::any_of: {
            out += "(";
            for (std::size_t i = 0; i < node.children.size(); ++i) {
                if (i > 0) {
                    out += node.what == kind::all_of ? " AND " : " OR ";
                }
                auto part = render_filter(node.children[i], quoted_columns, out, params);
                if (!part) {
                    return part;
                }
            }
            out += ")";
            return {};
        }
        case kind::raw: {
            const std::size_t offset = params.size();
            out += "(";
            auto copied = sql::renumber_parameters(node.raw_sql, offset, node.values.size(), out);
            if (!copied) {
                return copied;
            }
            out += ")";
            params.insert(params.end(), node.values.begin(), node.values.end());
            return {};
        }
    }
    return make_error(errc::internal, "filter: unknown node");
}

result<std::string> render_options(const query_options& options,
                                   const std::vector<std::string>& quoted_columns) {
    std::string out;
    for (std::size_t i = 0; i < options.order_by.size(); ++i) {
        const auto& term = options.order_by[i];
        if (!term.valid || term.column >= quoted_columns.size()) {
            return make_error(errc::invalid_argument, "order_by: the member is not a column");
        }
        out += i == 0 ? " ORDER BY " : ", ";
        out += quoted_columns[term.column];
        out += term.descending ? " DESC" : " ASC";
        if (term.nulls != nulls_order::standard) {
            out += term.places_nulls_first() ? " NULLS FIRST" : " NULLS LAST";
        }
    }
    if (options.limit) {
        if (*options.limit < 0) {
            return make_error(errc::invalid_argument, "limit must not be negative");
        }
        out += fmt::format(" LIMIT {}", *options.limit);
    }
    if (options.offset) {
        if (*options.offset < 0) {
            return make_error(errc::invalid_argument, "offset must not be negative");
        }
        out += fmt::format(" OFFSET {}", *options.offset);
    }
    return out;
}

}  // namespace pgkit::detail
