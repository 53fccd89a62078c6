#pragma once

/// Typed filters for repository<E>::find_where / count_where / update_where / remove_where,
/// built from member pointers, so a misspelt column does not compile:
///
/// ```cpp
/// using namespace pgkit::filters;
/// auto rich = accounts.find_where(gt(&account::credits, 100) && like(&account::email, "%@x.org"),
///                                 {.order_by = {desc(&account::credits)}, .limit = 10});
/// auto odd = accounts.count_where(raw<account>("credits % $1 = 1", 2));  // escape hatch
/// ```
///
/// Every value is a bound parameter (cast to the member's PostgreSQL type); IN is `= ANY($n)`
/// with one array parameter, so a filter's SQL text depends only on its shape and is reused by
/// the prepared-statement cache. A value that cannot be encoded, or a member that is not one of
/// the entity's columns, makes the operation fail with invalid_argument.

#include "pgkit/entity.hpp"
#include "pgkit/error.hpp"
#include "pgkit/types/array.hpp"
#include "pgkit/value_traits.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgkit {

namespace detail {

/// One node of a filter's expression tree; rendered by render_filter (src/repository/).
struct filter_node {
    enum class kind {
        always,  // TRUE
        compare,
        any,  // column = ANY($n::type[])
        is_null,
        is_not_null,
        like,
        ilike,
        all_of,
        any_of,
        negate,
        raw,
    };
    kind what = kind::always;
    std::size_t column = 0;
    std::string_view op;                             ///< "=", "<>", "<", ...
    std::string pg_type;                             ///< the cast of the parameter
    std::vector<std::optional<std::string>> values;  ///< encoded parameters
    std::string raw_sql;                             ///< for raw: text with local $1..$n
    std::vector<filter_node> children;
    std::optional<error> failure;  ///< the first problem found while building
};

template <class T>
struct plain_of {
    using type = T;
};
template <class T>
struct plain_of<std::optional<T>> {
    using type = T;
};
template <class T>
using plain_of_t = typename plain_of<T>::type;

template <class E, class T>
[[nodiscard]] std::size_t checked_column(T E::*member, filter_node& node) {
    const std::size_t index = index_of<E>(member);
    if (index >= column_count_v<E>) {
        node.failure = error{errc::invalid_argument, "filter: the member is not a column"};
    }
    return index;
}

template <class V>
void add_value(filter_node& node, const V& value) {
    if (node.failure) {
        return;
    }
    auto encoded = encode_value(value);
    if (!encoded) {
        node.failure = std::move(encoded).error();
        return;
    }
    node.values.push_back(std::move(*encoded));
}

}  // namespace detail

/// A condition on entity E's rows. Combine with &&, || and !.
template <class E>
class where {
  public:
    /// Every row.
    where() = default;
    explicit where(detail::filter_node node) : node_(std::move(node)) {}

    [[nodiscard]] const detail::filter_node& node() const noexcept { return node_; }

    friend where operator&&(where a, where b) {
        return combine(detail::filter_node::kind::all_of, std::move(a), std::move(b));
    }
    friend where operator||(where a, where b) {
        return combine(detail::filter_node::kind::any_of, std::move(a), std::move(b));
    }
    friend where operator!(where a) {
        detail::filter_node node;
        node.what = detail::filter_node::kind::negate;
        node.children.push_back(std::move(a.node_));
        return where{std::move(node)};
    }

  private:
    static where combine(detail::filter_node::kind kind, where a, where b) {
        detail::filter_node node;
        node.what = kind;
        node.children.push_back(std::move(a.node_));
        node.children.push_back(std::move(b.node_));
        return where{std::move(node)};
    }
    detail::filter_node node_;
};

/// Where an ORDER BY term puts NULLs. `standard` is PostgreSQL's default: after every value
/// in ascending order, before every value in descending order.
enum class nulls_order { standard, first, last };

/// One ORDER BY term: asc(&E::m) or desc(&E::m), optionally .nulls_first() / .nulls_last().
struct order_term {
    std::size_t column = 0;
    bool descending = false;
    bool valid = true;
    nulls_order nulls = nulls_order::standard;

    [[nodiscard]] order_term nulls_first() const noexcept {
        order_term copy = *this;
        copy.nulls = nulls_order::first;
        return copy;
    }
    [[nodiscard]] order_term nulls_last() const noexcept {
        order_term copy = *this;
        copy.nulls = nulls_order::last;
        return copy;
    }
    /// Whether NULLs come before every value under this term.
    [[nodiscard]] bool places_nulls_first() const noexcept {
        return nulls == nulls_order::standard ? descending : nulls == nulls_order::first;
    }
};

/// Ordering, limit and offset for find_where (and for_each_where's chunks).
struct query_options {
    std::vector<order_term> order_by{};
    std::optional<std::int64_t> limit{};
    std::optional<std::int64_t> offset{};
};

namespace detail {
/// One `column = value`: what an assignment<E> holds, for the statement builders.
struct column_assignment {
    std::size_t column = 0;
    std::string pg_type;               ///< the cast of the parameter
    std::optional<std::string> value;  ///< encoded; nullopt for NULL
    std::optional<error> failure;      ///< the problem found while building, if any
};
}  // namespace detail

/// A column assignment for update_where and update(key, sets...), made by filters::set.
template <class E>
struct assignment : detail::column_assignment {};

namespace filters {

namespace detail_ops {
template <class E, class T, class V>
[[nodiscard]] where<E> compare(T E::*member, std::string_view op, const V& value) {
    detail::filter_node node;
    node.what = detail::filter_node::kind::compare;
    node.column = detail::checked_column(member, node);
    node.op = op;
    node.pg_type = std::string{value_traits<detail::plain_of_t<T>>::pg_type};
    detail::add_value(node, value);
    return where<E>{std::move(node)};
}
}  // namespace detail_ops

template <class E, class T>
[[nodiscard]] where<E> eq(T E::*member, const std::type_identity_t<T>& value) {
    return detail_ops::compare(member, "=", value);
}
template <class E, class T>
[[nodiscard]] where<E> ne(T E::*member, const std::type_identity_t<T>& value) {
    return detail_ops::compare(member, "<>", value);
}
template <class E, class T>
[[nodiscard]] where<E> lt(T E::*member, const std::type_identity_t<T>& value) {
    return detail_ops::compare(member, "<", value);
}
template <class E, class T>
[[nodiscard]] where<E> le(T E::*member, const std::type_identity_t<T>& value) {
    return detail_ops::compare(member, "<=", value);
}
template <class E, class T>
[[nodiscard]] where<E> gt(T E::*member, const std::type_identity_t<T>& value) {
    return detail_ops::compare(member, ">", value);
}
template <class E, class T>
[[nodiscard]] where<E> ge(T E::*member, const std::type_identity_t<T>& value) {
    return detail_ops::compare(member, ">=", value);
}

/// column = ANY($n): one array parameter whatever the number of values (none matches nothing).
template <class E, class T>
[[nodiscard]] where<E> in(T E::*member,
                          const std::vector<detail::plain_of_t<std::type_identity_t<T>>>& values) {
    detail::filter_node node;
    node.what = detail::filter_node::kind::any;
    node.column = detail::checked_column(member, node);
    node.pg_type = std::string{value_traits<detail::plain_of_t<T>>::pg_type} + "[]";
    detail::add_value(node, values);
    return where<E>{std::move(node)};
}

template <class E, class T>
[[nodiscard]] where<E> is_null(T E::*member) {
    detail::filter_node node;
    node.what = detail::filter_node::kind::is_null;
    node.column = detail::checked_column(member, node);
    return where<E>{std::move(node)};
}
template <class E, class T>
[[nodiscard]] where<E> is_not_null(T E::*member) {
    detail::filter_node node;
    node.what = detail::filter_node::kind::is_not_null;
    node.column = detail::checked_column(member, node);
    return where<E>{std::move(node)};
}

/// LIKE (case-sensitive) / ILIKE on a text member; the pattern is a parameter ('%' and '_'
/// are wildcards, '\' escapes them).
template <class E, class T>
requires std::same_as<detail::plain_of_t<T>, std::string>
[[nodiscard]] where<E> like(T E::*member, std::string_view pattern) {
    detail::filter_node node;
    node.what = detail::filter_node::kind::like;
    node.column = detail::checked_column(member, node);
    node.pg_type = "text";
    detail::add_value(node, pattern);
    return where<E>{std::move(node)};
}
template <class E, class T>
requires std::same_as<detail::plain_of_t<T>, std::string>
[[nodiscard]] where<E> ilike(T E::*member, std::string_view pattern) {
    auto built = like(member, pattern);
    auto node = built.node();
    node.what = detail::filter_node::kind::ilike;
    return where<E>{std::move(node)};
}

/// The escape hatch: a SQL condition with its own $1..$n parameters (renumbered when combined).
/// The text is trusted SQL: never build it from input; pass input as parameters.
template <class E, sql_parameter... Args>
[[nodiscard]] where<E> raw(std::string_view sql, const Args&... args) {
    detail::filter_node node;
    node.what = detail::filter_node::kind::raw;
    node.raw_sql = std::string{sql};
    (detail::add_value(node, args), ...);
    return where<E>{std::move(node)};
}

template <class E, class T>
[[nodiscard]] order_term asc(T E::*member) {
    const std::size_t index = detail::index_of<E>(member);
    return {index, false, index < detail::column_count_v<E>, nulls_order::standard};
}
template <class E, class T>
[[nodiscard]] order_term desc(T E::*member) {
    const std::size_t index = detail::index_of<E>(member);
    return {index, true, index < detail::column_count_v<E>, nulls_order::standard};
}

/// `column = value` for update_where and update(key, sets...).
template <class E, class T>
[[nodiscard]] assignment<E> set(T E::*member, const std::type_identity_t<T>& value) {
    assignment<E> out;
    out.column = detail::index_of<E>(member);
    if (out.column >= detail::column_count_v<E>) {
        out.failure = error{errc::invalid_argument, "set: the member is not a column"};
        return out;
    }
    out.pg_type = std::string{value_traits<detail::plain_of_t<T>>::pg_type};
    auto encoded = encode_value(value);
    if (!encoded) {
        out.failure = std::move(encoded).error();
    } else {
        out.value = std::move(*encoded);
    }
    return out;
}

}  // namespace filters

namespace detail {
/// Appends the condition for `node` to `out`, its parameters to `params` ($ numbers continue
/// from params.size()). invalid_argument for a node that failed to build.
[[nodiscard]] result<void> render_filter(const filter_node& node,
                                         const std::vector<std::string>& quoted_columns,
                                         std::string& out,
                                         std::vector<std::optional<std::string>>& params);
/// " ORDER BY ... LIMIT ... OFFSET ..." (limit and offset as literals, validated).
[[nodiscard]] result<std::string> render_options(const query_options& options,
                                                 const std::vector<std::string>& quoted_columns);
}  // namespace detail

}  // namespace pgkit
