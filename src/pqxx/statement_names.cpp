#include "pqxx/statement_names.hpp"

#include <fmt/format.h>

#include <functional>
#include <mutex>
#include <unordered_map>

namespace pgkit::detail::pqxx_statements {
namespace {

struct session_statements {
    int pid = 0;
    std::unordered_map<std::string, std::string> text_by_name;
};

std::mutex registry_mutex;
std::unordered_map<const void*, session_statements>& registry() {
    static std::unordered_map<const void*, session_statements> sessions;
    return sessions;
}

}  // namespace

std::optional<use> lookup(const void* conn, int pid, std::string_view sql) {
    std::string name = fmt::format("pgkit_pqxx_{:016x}", std::hash<std::string_view>{}(sql));
    const std::lock_guard lock{registry_mutex};
    auto& session = registry()[conn];
    if (session.pid != pid) {
        session = session_statements{pid, {}};
    }
    const auto found = session.text_by_name.find(name);
    if (found == session.text_by_name.end()) {
        return use{std::move(name), true};
    }
    if (found->second != sql) {
        return std::nullopt;
    }
    return use{std::move(name), false};
}

void prepared(const void* conn, int pid, const std::string& name, std::string_view sql) {
    const std::lock_guard lock{registry_mutex};
    auto& session = registry()[conn];
    if (session.pid != pid) {
        session = session_statements{pid, {}};
    }
    session.text_by_name.insert_or_assign(name, std::string{sql});
}

void forget(const void* conn) noexcept {
    const std::lock_guard lock{registry_mutex};
    registry().erase(conn);
}

}  // namespace pgkit::detail::pqxx_statements
