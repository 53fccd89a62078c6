#include "sql/renumber.hpp"

#include <fmt/format.h>

namespace pgkit::detail::sql {

result<void> renumber_parameters(std::string_view fragment,
                                 std::size_t offset,
                                 std::size_t count,
                                 std::string& out,
                                 lexer_options options) {
    const std::size_t mark = out.size();
    lexer tokens{fragment, options};
    std::size_t copied = 0;  // fragment[0, copied) is in `out` already
    bool ends_in_line_comment = false;
    while (auto t = tokens.next()) {
        ends_in_line_comment = t->kind == token_kind::line_comment;
        if (t->kind != token_kind::parameter) {
            continue;
        }
        const auto n = parameter_number(t->text(fragment));
        if (!n || *n == 0 || *n > count) {
            out.resize(mark);
            return make_error(errc::invalid_argument,
                              fmt::format("raw filter: {} has no parameter ({} given)",
                                          t->text(fragment).substr(0, 12), count));
        }
        out.append(fragment.substr(copied, t->begin - copied));
        out += '$';
        out += std::to_string(*n + offset);
        copied = t->end;
    }
    if (tokens.failure() != lex_failure::none) {
        out.resize(mark);
        return make_error(errc::invalid_argument,
                          fmt::format("raw filter: {} at offset {}", to_string(tokens.failure()),
                                      tokens.failure_offset()));
    }
    out.append(fragment.substr(copied));
    if (ends_in_line_comment) {
        out += '\n';  // what follows the fragment must not be inside its comment
    }
    return {};
}

}  // namespace pgkit::detail::sql
