#include "sql/literal.hpp"

#include <fmt/format.h>

#include <vector>

namespace pgkit::detail::sql {

std::string escape_literal(std::string_view value) {
    std::string out = "E'";
    for (char c : value) {
        if (c == '\'' || c == '\\') {
            out += c;
        }
        out += c;
    }
    out += '\'';
    return out;
}

result<std::string> inline_parameters(std::string_view sql,
                                      const parameters& params,
                                      lexer_options options) {
    if (const auto& failure = params.encoding_error()) {
        return tl::unexpected(*failure);
    }
    std::string out;
    out.reserve(sql.size());
    std::vector<bool> used(params.size(), false);
    lexer tokens{sql, options};
    std::size_t copied = 0;  // sql[0, copied) is in `out` already
    while (auto t = tokens.next()) {
        if (t->kind != token_kind::parameter) {
            continue;
        }
        const auto n = parameter_number(t->text(sql));
        if (!n || *n == 0 || *n > params.size()) {
            return make_error(errc::invalid_argument,
                              fmt::format("{} has no parameter ({} given)",
                                          t->text(sql).substr(0, 12), params.size()));
        }
        out.append(sql.substr(copied, t->begin - copied));
        const auto value = params.value(*n - 1);
        // Spaces keep a literal from joining the tokens around it (an operator such as - or a
        // cast's ::).
        out += ' ';
        out += value ? escape_literal(*value) : std::string{"NULL"};
        out += ' ';
        used[*n - 1] = true;
        copied = t->end;
    }
    if (tokens.failure() != lex_failure::none) {
        return make_error(
            errc::invalid_argument,
            fmt::format("{} at offset {}", to_string(tokens.failure()), tokens.failure_offset()));
    }
    out.append(sql.substr(copied));
    for (std::size_t i = 0; i < used.size(); ++i) {
        if (!used[i]) {
            return make_error(errc::invalid_argument,
                              fmt::format("parameter ${} is not used in the statement", i + 1));
        }
    }
    return out;
}

}  // namespace pgkit::detail::sql
