#include "pgkit/types/json.hpp"

namespace pgkit {

result<void> value_traits<json>::encode(const json& value, std::string& out) {
    if (value.text().find('\0') != std::string::npos) {
        return make_error(errc::invalid_argument,
                          "JSON text contains a NUL byte, which PostgreSQL cannot store; "
                          "write it as the escape \\u0000 (json only: jsonb rejects it)");
    }
    out += value.text();
    return success();
}

result<json> value_traits<json>::decode(std::string_view text) {
    return json{std::string{text}};
}

}  // namespace pgkit
