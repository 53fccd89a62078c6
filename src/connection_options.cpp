#include "pgkit/connection_options.hpp"

#include "ascii_text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgkit {

using detail::hex_value;

namespace {

/// The header's "nullopt = 10 s".
constexpr long long default_connect_timeout_seconds = 10;
/// Longest user-supplied fragment quoted verbatim in an error message.
constexpr std::size_t max_shown_fragment = 64;

constexpr std::string_view postgresql_scheme = "postgresql://";
constexpr std::string_view postgres_scheme = "postgres://";

/// The keywords the linked libpq knows (PQconndefaults), read once: a libpq 16 or later brings
/// its new keywords (load_balance_hosts, require_auth, ...) without a change in pgkit.
[[nodiscard]] const std::vector<std::string>& libpq_keywords() {
    static const std::vector<std::string> keywords = [] {
        std::vector<std::string> out;
        if (PQconninfoOption* defaults = PQconndefaults()) {
            for (const PQconninfoOption* option = defaults; option->keyword != nullptr; ++option) {
                out.emplace_back(option->keyword);
            }
            PQconninfoFree(defaults);
        }
        return out;
    }();
    return keywords;
}

/// Keywords stored in dedicated connection_options fields rather than in `parameters`.
constexpr std::array<std::string_view, 7> field_keywords{
    "host", "port", "dbname", "user", "password", "application_name", "connect_timeout",
};

/// A libpq keyword whose value must come from a closed set.
struct closed_set {
    std::string_view keyword;
    bool case_insensitive;  // libpq compares with pg_strcasecmp for these
    std::string_view allowed;
};

constexpr std::array<closed_set, 7> closed_sets{
    closed_set{"sslmode", false, "disable, allow, prefer, require, verify-ca, verify-full"},
    closed_set{"gssencmode", false, "disable, prefer, require"},
    closed_set{"channel_binding", false, "disable, prefer, require"},
    closed_set{"target_session_attrs", true,
               "any, read-write, read-only, primary, standby, prefer-standby"},
    closed_set{"ssl_min_protocol_version", true, "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"},
    closed_set{"ssl_max_protocol_version", true, "TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"},
    closed_set{"load_balance_hosts", false, "disable, random"},
};

/// A keyword pgkit itself implements whatever libpq is linked: load_balance_hosts (libpq 16)
/// shuffles the hosts before each connect; pgkit does it for libpq 15 too.
constexpr std::string_view load_balance_keyword = "load_balance_hosts";

struct environment_variable {
    const char* name;
    std::string_view keyword;
};

constexpr std::array<environment_variable, 19> environment_variables{
    environment_variable{"PGHOST", "host"},
    environment_variable{"PGHOSTADDR", "hostaddr"},
    environment_variable{"PGPORT", "port"},
    environment_variable{"PGDATABASE", "dbname"},
    environment_variable{"PGUSER", "user"},
    environment_variable{"PGPASSWORD", "password"},
    environment_variable{"PGAPPNAME", "application_name"},
    environment_variable{"PGCONNECT_TIMEOUT", "connect_timeout"},
    environment_variable{"PGSSLMODE", "sslmode"},
    environment_variable{"PGTARGETSESSIONATTRS", "target_session_attrs"},
    environment_variable{"PGOPTIONS", "options"},
    environment_variable{"PGCLIENTENCODING", "client_encoding"},
    environment_variable{"PGSSLROOTCERT", "sslrootcert"},
    environment_variable{"PGSSLCERT", "sslcert"},
    environment_variable{"PGSSLKEY", "sslkey"},
    environment_variable{"PGPASSFILE", "passfile"},
    environment_variable{"PGSERVICE", "service"},
    environment_variable{"PGCHANNELBINDING", "channel_binding"},
    environment_variable{"PGGSSENCMODE", "gssencmode"},
};

[[nodiscard]] tl::unexpected<error> invalid(std::string message) {
    return make_error(errc::invalid_argument, std::move(message));
}

/// isspace() in the C locale, which is what libpq's conninfo parser uses.
[[nodiscard]] constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

[[nodiscard]] constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

[[nodiscard]] constexpr bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

[[nodiscard]] constexpr char to_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] bool iequals(std::string_view a, std::string_view b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](char x, char y) { return to_lower(x) == to_lower(y); });
}

[[nodiscard]] bool is_field_keyword(std::string_view keyword) noexcept {
    return std::find(field_keywords.begin(), field_keywords.end(), keyword) != field_keywords.end();
}

/// password and sslpassword (or a hand-built "PASSWORD"): never shown, never echoed.
[[nodiscard]] bool is_secret_keyword(std::string_view keyword) noexcept {
    constexpr std::string_view needle = "password";
    for (std::size_t i = 0; i + needle.size() <= keyword.size(); ++i) {
        if (iequals(keyword.substr(i, needle.size()), needle)) {
            return true;
        }
    }
    return false;
}

[[nodiscard]] std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    for (;;) {
        const auto pos = text.find(separator);
        parts.emplace_back(text.substr(0, pos));
        if (pos == std::string_view::npos) {
            return parts;
        }
        text.remove_prefix(pos + 1);
    }
}

// ---- percent-encoding ----------------------------------------------------------------------

enum class decode_failure { bad_escape, nul_byte };

/// libpq's conninfo_uri_decode: %XX escapes only ('+' stays '+'), %00 forbidden.
[[nodiscard]] tl::expected<std::string, decode_failure> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) {
            return tl::unexpected{decode_failure::bad_escape};
        }
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) {
            return tl::unexpected{decode_failure::bad_escape};
        }
        const int byte = hi * 16 + lo;
        if (byte == 0) {
            return tl::unexpected{decode_failure::nul_byte};
        }
        out += static_cast<char>(byte);
        i += 2;
    }
    return out;
}

[[nodiscard]] result<std::string> decode_part(std::string_view text, std::string_view part) {
    auto decoded = percent_decode(text);
    if (decoded) {
        return std::move(*decoded);
    }
    if (decoded.error() == decode_failure::nul_byte) {
        return invalid(fmt::format("percent-encoded NUL byte (%00) in {}", part));
    }
    return invalid(fmt::format("invalid percent-encoding in {}", part));
}

[[nodiscard]] constexpr bool is_unreserved(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/// Encodes every byte except RFC 3986 unreserved characters (and ':' when `keep_colon`).
[[nodiscard]] std::string percent_encode(std::string_view text, bool keep_colon = false) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (is_unreserved(c) || (keep_colon && c == ':')) {
            out += c;
        } else {
            const auto byte = static_cast<unsigned char>(c);
            out += '%';
            out += hex[byte >> 4U];
            out += hex[byte & 0x0FU];
        }
    }
    return out;
}

// ---- value checks --------------------------------------------------------------------------

/// 1..65535, ASCII digits only.
[[nodiscard]] std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
    if (text.empty()) {
        return std::nullopt;
    }
    unsigned value = 0;
    for (const char c : text) {
        if (!is_digit(c)) {
            return std::nullopt;
        }
        value = value * 10 + static_cast<unsigned>(c - '0');
        if (value > 65535) {
            return std::nullopt;
        }
    }
    if (value == 0) {
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

/// libpq's parse_int_param (surrounding whitespace and a '+' allowed, int range), minus
/// negative values, which libpq would silently treat as "wait forever".
[[nodiscard]] std::optional<int> parse_timeout_seconds(std::string_view text) noexcept {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    if (!text.empty() && text.front() == '+') {
        text.remove_prefix(1);
    }
    if (text.empty()) {
        return std::nullopt;
    }
    long long value = 0;
    for (const char c : text) {
        if (!is_digit(c)) {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
        if (value > INT_MAX) {
            return std::nullopt;
        }
    }
    return static_cast<int>(value);
}

/// Whole seconds, rounded up; nullopt when unset (or a nonsensical negative duration).
[[nodiscard]] std::optional<long long> timeout_seconds(
    const std::optional<std::chrono::milliseconds>& timeout) noexcept {
    if (!timeout || timeout->count() < 0) {
        return std::nullopt;
    }
    const auto ms = static_cast<long long>(timeout->count());
    return std::min<long long>(ms / 1000 + (ms % 1000 != 0 ? 1 : 0), INT_MAX);
}

[[nodiscard]] bool in_closed_set(const closed_set& set, std::string_view value) {
    std::string_view rest = set.allowed;
    for (;;) {
        const auto comma = rest.find(", ");
        const auto candidate = rest.substr(0, comma);
        if (set.case_insensitive ? iequals(candidate, value) : candidate == value) {
            return true;
        }
        if (comma == std::string_view::npos) {
            return false;
        }
        rest.remove_prefix(comma + 2);
    }
}

// ---- assembling options --------------------------------------------------------------------

/// Collects keyword/value pairs from any source with libpq's "last one wins" semantics, then
/// builds the options. Knows every secret of the input so that no message ever echoes one.
class options_builder {
  public:
    /// Registers text that must never appear in an error message.
    void add_secret(std::string_view secret) {
        if (!secret.empty()) {
            secrets_.emplace_back(secret);
        }
    }

    /// `fragment` quoted for an error message, or "(redacted)" if it overlaps a secret.
    [[nodiscard]] std::string show(std::string_view fragment) const {
        for (const auto& secret : secrets_) {
            if (fragment.find(secret) != std::string_view::npos ||
                (!fragment.empty() && secret.find(fragment) != std::string::npos)) {
                return "(redacted)";
            }
        }
        std::string out = "'";
        for (const char c : fragment.substr(0, max_shown_fragment)) {
            if (c >= 0x20 && c <= 0x7e) {
                out += c;
            } else {
                out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
            }
        }
        out += fragment.size() > max_shown_fragment ? "...'" : "'";
        return out;
    }

    /// Applies one keyword; `where` names the source for messages ("connection string", ...).
    [[nodiscard]] result<void> set(std::string_view keyword,
                                   std::string value,
                                   std::string_view where) {
        if (keyword == "host" || keyword == "hostaddr") {
            auto& list = keyword == "host" ? host_list_ : hostaddr_list_;
            list = value.empty() ? std::nullopt : std::optional{split(value, ',')};
        } else if (keyword == "port") {
            return set_ports(value, where);
        } else if (keyword == "dbname") {
            options_.dbname = std::move(value);
        } else if (keyword == "user") {
            options_.user = std::move(value);
        } else if (keyword == "password") {
            options_.password = std::move(value);
        } else if (keyword == "application_name") {
            options_.application_name = std::move(value);
        } else if (keyword == "connect_timeout") {
            return set_connect_timeout(value, where);
        } else if (!is_libpq_keyword(keyword) && keyword != load_balance_keyword) {
            return invalid(fmt::format("unknown parameter {} in {}", show(keyword), where));
        } else {
            if (auto checked = check_closed_set(keyword, value, where); !checked) {
                return checked;
            }
            options_.parameters.emplace_back(keyword, std::move(value));
        }
        return {};
    }

    [[nodiscard]] result<connection_options> finish() && {
        if (host_list_ && hostaddr_list_ && host_list_->size() != hostaddr_list_->size()) {
            return invalid(fmt::format("could not match {} host names to {} hostaddr values",
                                       host_list_->size(), hostaddr_list_->size()));
        }
        const auto& names = host_list_ ? host_list_ : hostaddr_list_;
        const std::size_t count = names ? names->size() : 1;
        if (port_list_ && port_list_->size() != 1 && port_list_->size() != count) {
            return invalid(fmt::format("could not match {} port numbers to {} hosts",
                                       port_list_->size(), count));
        }
        if (names || port_list_) {
            for (std::size_t i = 0; i < count; ++i) {
                host_address address;
                if (names) {
                    address.host = (*names)[i];
                }
                if (port_list_) {
                    address.port = (*port_list_)[port_list_->size() == 1 ? 0 : i];
                }
                options_.hosts.push_back(std::move(address));
            }
        }
        // A lone default entry means the same as no entry at all.
        if (options_.hosts.size() == 1 && options_.hosts.front() == host_address{}) {
            options_.hosts.clear();
        }
        if (host_list_ && hostaddr_list_) {
            // Both given: connect to hostaddr, but keep the names (TLS verification, .pgpass).
            options_.parameters.emplace_back("hostaddr",
                                             fmt::format("{}", fmt::join(*hostaddr_list_, ",")));
        }
        return std::move(options_);
    }

  private:
    [[nodiscard]] result<void> set_ports(std::string_view value, std::string_view where) {
        if (value.empty()) {
            port_list_.reset();
            return {};
        }
        std::vector<std::optional<std::uint16_t>> ports;
        for (const auto& item : split(value, ',')) {
            if (item.empty()) {
                ports.emplace_back();  // libpq: an empty entry means the default port
                continue;
            }
            const auto port = parse_port(item);
            if (!port) {
                return invalid(
                    fmt::format("invalid port {} in {} (expected 1 to 65535)", show(item), where));
            }
            ports.emplace_back(port);
        }
        port_list_ = std::move(ports);
        return {};
    }

    [[nodiscard]] result<void> set_connect_timeout(std::string_view value, std::string_view where) {
        if (value.empty()) {
            options_.connect_timeout.reset();
            return {};
        }
        const auto seconds = parse_timeout_seconds(value);
        if (!seconds) {
            return invalid(
                fmt::format("invalid connect_timeout {} in {} (expected whole seconds, 0 or more)",
                            show(value), where));
        }
        options_.connect_timeout = std::chrono::seconds{*seconds};
        return {};
    }

    [[nodiscard]] result<void> check_closed_set(std::string_view keyword,
                                                std::string_view value,
                                                std::string_view where) const {
        for (const auto& set : closed_sets) {
            // An empty value means "not set": libpq's default applies.
            if (set.keyword == keyword && !value.empty() && !in_closed_set(set, value)) {
                return invalid(fmt::format("invalid {} {} in {} (expected one of: {})", keyword,
                                           show(value), where, set.allowed));
            }
        }
        return {};
    }

    connection_options options_;
    std::optional<std::vector<std::string>> host_list_;
    std::optional<std::vector<std::string>> hostaddr_list_;
    std::optional<std::vector<std::optional<std::uint16_t>>> port_list_;
    std::vector<std::string> secrets_;
};

// ---- postgresql:// URLs --------------------------------------------------------------------

struct query_item {
    std::string_view name;
    std::string_view value;
};

/// Splits the query like libpq's conninfo_uri_parse_params: '&'-separated, exactly one '='.
[[nodiscard]] result<std::vector<query_item>> split_query(std::string_view query) {
    std::vector<query_item> items;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos) {
            return invalid("missing '=' in URL query parameter");
        }
        if (item.find('=', eq + 1) != std::string_view::npos) {
            return invalid("extra '=' in URL query parameter (percent-encode it as %3D)");
        }
        items.push_back({item.substr(0, eq), item.substr(eq + 1)});
    }
    return items;
}

/// The raw (still percent-encoded) pieces of a URL after its scheme.
struct url_parts {
    bool has_userinfo = false;
    std::string_view user;
    std::string_view password;
    /// Hosts and ports joined with ',' exactly as libpq collects them before decoding.
    std::string hosts;
    std::string ports;
    std::vector<std::string_view> port_items;
    std::string_view dbname;
    std::vector<query_item> query;
};

/// Splits `postgresql://[userspec@][hostspec][/dbname][?paramspec]` (scheme already removed)
/// following libpq's conninfo_uri_parse_options.
[[nodiscard]] result<url_parts> split_url(std::string_view rest) {
    url_parts parts;
    // libpq: userinfo ends at the first '@' that comes before any '/'.
    const auto userinfo_end = rest.find_first_of("@/");
    if (userinfo_end != std::string_view::npos && rest[userinfo_end] == '@') {
        parts.has_userinfo = true;
        const auto userinfo = rest.substr(0, userinfo_end);
        const auto colon = userinfo.find(':');
        parts.user = userinfo.substr(0, colon);
        if (colon != std::string_view::npos) {
            parts.password = userinfo.substr(colon + 1);
        }
        rest.remove_prefix(userinfo_end + 1);
    }

    std::size_t pos = 0;
    const auto at_end = [&] { return pos >= rest.size(); };
    for (;;) {
        if (!at_end() && rest[pos] == '[') {
            const auto close = rest.find(']', pos + 1);
            if (close == std::string_view::npos) {
                return invalid("missing ']' after IPv6 address in host list");
            }
            if (close == pos + 1) {
                return invalid("empty IPv6 address in host list");
            }
            parts.hosts += rest.substr(pos + 1, close - pos - 1);
            pos = close + 1;
            if (!at_end() && std::string_view{":/?,"}.find(rest[pos]) == std::string_view::npos) {
                return invalid(
                    "unexpected character after IPv6 address in host list (expected ':', '/', "
                    "'?' or ',')");
            }
        } else {
            const auto end = std::min(rest.find_first_of(":/?,", pos), rest.size());
            parts.hosts += rest.substr(pos, end - pos);
            pos = end;
        }
        if (!at_end() && rest[pos] == ':') {
            ++pos;
            const auto end = std::min(rest.find_first_of("/?,", pos), rest.size());
            parts.ports += rest.substr(pos, end - pos);
            parts.port_items.push_back(rest.substr(pos, end - pos));
            pos = end;
        }
        if (at_end() || rest[pos] != ',') {
            break;
        }
        ++pos;
        parts.hosts += ',';
        parts.ports += ',';
    }
    // libpq would take a raw '@' here as part of a host name; it is almost always an
    // unencoded '@' in a password, so reject it rather than leak the rest of the password.
    if (parts.hosts.find('@') != std::string::npos || parts.ports.find('@') != std::string::npos) {
        return invalid(
            "unexpected '@' in host list (percent-encode '@' in a user name or password as %40)");
    }

    // Likewise after a password: libpq ends the userinfo at the first '@' before any '/', so
    // in "user:p@ss/word@host/db" it reads "ss" as the host and the rest of the password as the
    // database name or the query. A raw '@' there is almost always such a password.
    if (!parts.password.empty() && rest.find('@', pos) != std::string_view::npos) {
        return invalid(
            "unexpected '@' after the host list (percent-encode '@' in a password as %40)");
    }
    if (!at_end() && rest[pos] == '/') {
        ++pos;
        const auto end = std::min(rest.find('?', pos), rest.size());
        parts.dbname = rest.substr(pos, end - pos);
        pos = end;
    }
    if (!at_end()) {  // rest[pos] == '?'
        auto query = split_query(rest.substr(pos + 1));
        if (!query) {
            return tl::unexpected{std::move(query.error())};
        }
        parts.query = std::move(*query);
    }
    return parts;
}

[[nodiscard]] result<connection_options> parse_url(std::string_view rest) {
    auto split_parts = split_url(rest);
    if (!split_parts) {
        return tl::unexpected{std::move(split_parts.error())};
    }
    const url_parts& parts = *split_parts;

    // First learn every secret (raw and decoded), so that no later message can echo one.
    options_builder builder;
    builder.add_secret(parts.password);
    if (auto decoded = percent_decode(parts.password)) {
        builder.add_secret(*decoded);
    }
    for (const auto& item : parts.query) {
        if (auto name = percent_decode(item.name); name && is_secret_keyword(*name)) {
            builder.add_secret(item.value);
            if (auto decoded = percent_decode(item.value)) {
                builder.add_secret(*decoded);
            }
        }
    }
    if (!parts.has_userinfo) {
        // "postgresql://user:secret" has no '@': libpq reads the password as a port.
        for (const auto item : parts.port_items) {
            if (!parse_port(item)) {
                builder.add_secret(item);
                if (auto decoded = percent_decode(item)) {
                    builder.add_secret(*decoded);
                }
            }
        }
    }

    // Then apply in libpq's order; query parameters override the earlier parts.
    struct url_piece {
        std::string_view keyword;
        std::string_view raw;
        std::string_view part;
    };
    const std::array<url_piece, 5> pieces{
        url_piece{"user", parts.user, "user name"},
        url_piece{"password", parts.password, "password"},
        url_piece{"host", parts.hosts, "host list"},
        url_piece{"port", parts.ports, "host list"},
        url_piece{"dbname", parts.dbname, "database name"},
    };
    for (const auto& piece : pieces) {
        if (piece.raw.empty()) {
            continue;  // libpq stores nothing for an empty part
        }
        auto value = decode_part(piece.raw, piece.part);
        if (!value) {
            return tl::unexpected{std::move(value.error())};
        }
        if (auto applied = builder.set(piece.keyword, std::move(*value), piece.part); !applied) {
            return tl::unexpected{std::move(applied.error())};
        }
    }
    for (const auto& item : parts.query) {
        auto name = decode_part(item.name, "URL query parameter name");
        if (!name) {
            return tl::unexpected{std::move(name.error())};
        }
        auto value = percent_decode(item.value);
        if (!value) {
            return invalid(fmt::format("{} in value of URL query parameter {}",
                                       value.error() == decode_failure::nul_byte
                                           ? "percent-encoded NUL byte (%00)"
                                           : "invalid percent-encoding",
                                       builder.show(*name)));
        }
        if (*name == "ssl" && *value == "true") {
            // libpq's JDBC compatibility: ssl=true means sslmode=require.
            *name = "sslmode";
            *value = "require";
        }
        if (auto applied = builder.set(*name, std::move(*value), "URL query"); !applied) {
            return tl::unexpected{std::move(applied.error())};
        }
    }
    return std::move(builder).finish();
}

// ---- key=value conninfo strings ------------------------------------------------------------

struct conninfo_item {
    std::string keyword;
    std::string value;
};

/// Tokenizes like libpq's conninfo_parse. Messages give positions, never text: the password
/// is not known yet when tokenizing fails.
[[nodiscard]] result<std::vector<conninfo_item>> tokenize_conninfo(std::string_view text) {
    std::vector<conninfo_item> items;
    std::size_t pos = 0;
    const auto at_end = [&] { return pos >= text.size(); };
    const auto skip_spaces = [&] {
        while (!at_end() && is_space(text[pos])) {
            ++pos;
        }
    };
    for (;;) {
        skip_spaces();
        if (at_end()) {
            return items;
        }
        const std::size_t keyword_start = pos;
        while (!at_end() && text[pos] != '=' && !is_space(text[pos])) {
            ++pos;
        }
        conninfo_item item;
        item.keyword = text.substr(keyword_start, pos - keyword_start);
        skip_spaces();
        if (at_end() || text[pos] != '=') {
            return invalid(
                fmt::format("missing '=' after the keyword at position {} in connection string",
                            keyword_start + 1));
        }
        ++pos;
        skip_spaces();
        if (!at_end() && text[pos] == '\'') {
            const std::size_t quote_start = pos++;
            for (;;) {
                if (at_end()) {
                    return invalid(fmt::format(
                        "unterminated quoted value starting at position {} in connection string",
                        quote_start + 1));
                }
                const char c = text[pos++];
                if (c == '\'') {
                    break;
                }
                if (c == '\\') {
                    if (at_end()) {
                        continue;  // reported as unterminated on the next turn
                    }
                    item.value += text[pos++];
                } else {
                    item.value += c;
                }
            }
        } else {
            while (!at_end() && !is_space(text[pos])) {
                const char c = text[pos++];
                if (c == '\\') {
                    if (!at_end()) {
                        item.value += text[pos++];
                    }
                } else {
                    item.value += c;
                }
            }
        }
        items.push_back(std::move(item));
    }
}

[[nodiscard]] result<connection_options> parse_conninfo(std::string_view text) {
    auto items = tokenize_conninfo(text);
    if (!items) {
        return tl::unexpected{std::move(items.error())};
    }
    options_builder builder;
    for (const auto& item : *items) {
        if (is_secret_keyword(item.keyword)) {
            builder.add_secret(item.value);
        }
    }
    for (auto& item : *items) {
        if (auto applied = builder.set(item.keyword, std::move(item.value), "connection string");
            !applied) {
            return tl::unexpected{std::move(applied.error())};
        }
    }
    return std::move(builder).finish();
}

/// "mysql" for "mysql://...": a scheme we do not support, worth a clearer message.
[[nodiscard]] std::optional<std::string_view> url_scheme(std::string_view text) {
    const auto separator = text.find("://");
    if (separator == std::string_view::npos || separator == 0 || !is_alpha(text.front())) {
        return std::nullopt;
    }
    const auto scheme = text.substr(0, separator);
    const bool valid = std::all_of(scheme.begin(), scheme.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
    });
    return valid ? std::optional{scheme} : std::nullopt;
}

// ---- redaction -----------------------------------------------------------------------------

/// Where the value of a `...password=` pair ends. `start` is just past the '=' and any blanks.
/// In a URL query (the keyword follows '?' or '&') the value runs to the next '&', as libpq
/// reads it; elsewhere libpq's conninfo rules apply: a quoted value or a run of non-blanks,
/// with '\' escapes.
[[nodiscard]] std::size_t password_value_end(std::string_view text,
                                             std::size_t start,
                                             bool in_url_query) noexcept {
    if (in_url_query) {
        return std::min(text.find('&', start), text.size());
    }
    const bool quoted = start < text.size() && text[start] == '\'';
    std::size_t cursor = start + (quoted ? 1 : 0);
    while (cursor < text.size() && (quoted ? text[cursor] != '\'' : !is_space(text[cursor]))) {
        cursor += text[cursor] == '\\' ? 2U : 1U;
    }
    return std::min(cursor + (quoted ? 1 : 0), text.size());  // past the closing quote, if any
}

/// A part of a text to hide: [begin, end).
using secret_range = std::pair<std::size_t, std::size_t>;

/// The values of `...password = value` pairs (any case, quoted or not).
[[nodiscard]] std::vector<secret_range> password_pair_ranges(std::string_view text) {
    constexpr std::string_view keyword = "password";
    std::vector<secret_range> ranges;
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (!iequals(text.substr(pos, keyword.size()), keyword)) {
            ++pos;
            continue;
        }
        std::size_t cursor = pos + keyword.size();
        while (cursor < text.size() && is_space(text[cursor])) {
            ++cursor;
        }
        if (cursor >= text.size() || text[cursor] != '=') {
            pos += keyword.size();
            continue;
        }
        ++cursor;
        while (cursor < text.size() && is_space(text[cursor])) {
            ++cursor;  // libpq skips every blank after '=', newlines included
        }
        std::size_t token_start = pos;  // e.g. the first 's' of "sslpassword"
        while (token_start > 0 &&
               (is_alpha(text[token_start - 1]) || text[token_start - 1] == '_')) {
            --token_start;
        }
        const bool in_url_query =
            token_start > 0 && (text[token_start - 1] == '?' || text[token_start - 1] == '&');
        const std::size_t value_end = password_value_end(text, cursor, in_url_query);
        if (value_end > cursor) {
            ranges.emplace_back(cursor, value_end);
        }
        pos = std::max(value_end, cursor);
    }
    return ranges;
}

/// Where the userinfo of the URL whose authority starts at `start` ends (its '@'), if any.
/// The later of libpq's reading (the first '@' before any '/') and a generous one (the last
/// '@' on the same line), so that an unencoded '@', '/', "://" or blank in a password cannot
/// leave part of it behind. The price is that text after the URL up to a later '@' on the same
/// line (a second URL, an e-mail address) is hidden too: a redaction may hide too much, never
/// too little.
[[nodiscard]] std::optional<std::size_t> userinfo_end(std::string_view text, std::size_t start) {
    std::optional<std::size_t> at;
    if (const auto libpq_end = text.find_first_of("@/", start);
        libpq_end != std::string_view::npos && text[libpq_end] == '@') {
        at = libpq_end;
    }
    for (std::size_t i = start; i < text.size() && text[i] != '\n' && text[i] != '\r'; ++i) {
        if (text[i] == '@' && (!at || i > *at)) {
            at = i;
        }
    }
    return at;
}

/// In an authority without userinfo ("scheme://host:port,host:port/..."), a "port" that is not
/// digits is what libpq reads from "scheme://user:password": its end, or npos when every port
/// is digits. `start` is where the authority begins.
[[nodiscard]] std::optional<std::pair<std::size_t, std::size_t>> non_numeric_port(
    std::string_view text, std::size_t start) {
    std::size_t i = start;
    bool in_brackets = false;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '/' || c == '?' || c == '#' || is_space(c)) {
            break;
        }
        if (c == '[') {
            in_brackets = true;
        } else if (c == ']') {
            in_brackets = false;
        } else if (c == ':' && !in_brackets) {
            std::size_t end = i + 1;
            bool digits = true;
            while (end < text.size() && text[end] != ',' && text[end] != '/' && text[end] != '?' &&
                   text[end] != '#' && !is_space(text[end])) {
                digits = digits && is_digit(text[end]);
                ++end;
            }
            if (!digits) {
                return std::pair{i + 1, end};
            }
            i = end - 1;
        }
    }
    return std::nullopt;
}

/// The passwords in `scheme://user:password@host` userinfo, and "ports" that are passwords
/// ("scheme://user:secret" with no '@').
[[nodiscard]] std::vector<secret_range> url_password_ranges(std::string_view text) {
    std::vector<secret_range> ranges;
    std::size_t pos = 0;
    for (;;) {
        const auto scheme_end = text.find("://", pos);
        if (scheme_end == std::string_view::npos) {
            return ranges;
        }
        const std::size_t start = scheme_end + 3;
        const auto at = userinfo_end(text, start);
        const auto colon = at ? text.substr(start, *at - start).find(':') : std::string_view::npos;
        if (at && colon != std::string_view::npos && start + colon + 1 != *at) {
            ranges.emplace_back(start + colon + 1, *at);
            pos = *at;
        } else if (const auto port = at ? std::nullopt : non_numeric_port(text, start)) {
            ranges.push_back(*port);
            pos = port->second;
        } else {
            pos = start;
        }
    }
}

/// `text` with every range (in any order, possibly overlapping) replaced by one "***" per run
/// of overlapping or touching ranges.
[[nodiscard]] std::string hide_ranges(std::string_view text, std::vector<secret_range> ranges) {
    std::sort(ranges.begin(), ranges.end());
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    for (std::size_t i = 0; i < ranges.size();) {
        std::size_t begin = ranges[i].first;
        std::size_t end = ranges[i].second;
        for (++i; i < ranges.size() && ranges[i].first <= end; ++i) {
            end = std::max(end, ranges[i].second);
        }
        begin = std::max(begin, pos);
        out += text.substr(pos, begin - pos);
        out += "***";
        pos = std::max(pos, end);
    }
    out += text.substr(std::min(pos, text.size()));
    return out;
}

}  // namespace

bool is_libpq_keyword(std::string_view keyword) {
    const auto& known = libpq_keywords();
    return std::find(known.begin(), known.end(), keyword) != known.end();
}

namespace {

/// `text` without its load_balance_hosts setting, for a libpq that does not know the keyword
/// (pgkit implements it): a URL loses that query item, a conninfo string is written again
/// without that pair.
[[nodiscard]] std::string without_load_balance(std::string_view text) {
    const auto trimmed_start = text.find_first_not_of(" \t\n\v\f\r");
    const std::string_view trimmed =
        trimmed_start == std::string_view::npos ? std::string_view{} : text.substr(trimmed_start);
    if (trimmed.starts_with(postgresql_scheme) || trimmed.starts_with(postgres_scheme)) {
        const auto question = trimmed.find('?');
        if (question == std::string_view::npos) {
            return std::string{trimmed};
        }
        std::string out{trimmed.substr(0, question)};
        char separator = '?';
        for (const auto& item : split(trimmed.substr(question + 1), '&')) {
            const auto name = percent_decode(std::string_view{item}.substr(0, item.find('=')));
            if (name && *name == load_balance_keyword) {
                continue;
            }
            out += separator;
            out += item;
            separator = '&';
        }
        return out;
    }
    auto items = tokenize_conninfo(text);
    if (!items) {
        return std::string{text};
    }
    std::string out;
    for (const auto& item : *items) {
        if (item.keyword == load_balance_keyword) {
            continue;
        }
        out += item.keyword + "='";
        for (const char c : item.value) {
            if (c == '\'' || c == '\\') {
                out += '\\';
            }
            out += c;
        }
        out += "' ";
    }
    return out;
}

/// libpq's own parser is the authority on syntax: text pgkit's parser accepted but libpq's
/// refuses (a difference between the two) is refused too, with libpq's reason, secrets removed.
[[nodiscard]] result<connection_options> confirmed_by_libpq(std::string_view text,
                                                            result<connection_options> parsed) {
    if (!parsed) {
        return parsed;
    }
    char* reason = nullptr;
    const std::string copy =
        parsed->parameter(load_balance_keyword) && !is_libpq_keyword(load_balance_keyword)
            ? without_load_balance(text)
            : std::string{text};
    PQconninfoOption* options = PQconninfoParse(copy.c_str(), &reason);
    if (options != nullptr) {
        PQconninfoFree(options);
        return parsed;
    }
    std::string message = reason != nullptr ? reason : "out of memory";
    PQfreemem(reason);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
        message.pop_back();
    }
    message = redact_secrets(message);
    std::vector<std::string_view> secrets{parsed->password};
    for (const auto& [keyword, value] : parsed->parameters) {
        if (is_secret_keyword(keyword)) {
            secrets.push_back(value);
        }
    }
    for (std::string_view secret : secrets) {
        if (secret.empty()) {
            continue;
        }
        for (auto pos = message.find(secret); pos != std::string::npos;
             pos = message.find(secret, pos + 3)) {
            message.replace(pos, secret.size(), "***");
        }
    }
    return invalid("libpq rejects the connection string: " + message);
}

}  // namespace

result<connection_options> connection_options::parse(std::string_view text) {
    if (text.find('\0') != std::string_view::npos) {
        return invalid("connection string contains a NUL byte");
    }
    // libpq would reject leading whitespace before a URL; accepting it is harmless.
    auto trimmed = text;
    while (!trimmed.empty() && is_space(trimmed.front())) {
        trimmed.remove_prefix(1);
    }
    if (trimmed.starts_with(postgresql_scheme)) {
        return confirmed_by_libpq(trimmed, parse_url(trimmed.substr(postgresql_scheme.size())));
    }
    if (trimmed.starts_with(postgres_scheme)) {
        return confirmed_by_libpq(trimmed, parse_url(trimmed.substr(postgres_scheme.size())));
    }
    if (const auto scheme = url_scheme(trimmed)) {
        return invalid(fmt::format(
            "unsupported URL scheme '{}' (expected postgresql:// or postgres://, in lower case)",
            *scheme));
    }
    return confirmed_by_libpq(text, parse_conninfo(text));
}

result<connection_options> connection_options::from_environment() {
    if (const char* url = std::getenv("DATABASE_URL"); url != nullptr && *url != '\0') {
        auto parsed = parse(url);
        if (!parsed) {
            return invalid("invalid DATABASE_URL: " + parsed.error().message());
        }
        return parsed;
    }
    options_builder builder;
    for (const auto& variable : environment_variables) {
        if (is_secret_keyword(variable.keyword)) {
            if (const char* value = std::getenv(variable.name)) {
                builder.add_secret(value);
            }
        }
    }
    for (const auto& variable : environment_variables) {
        const char* value = std::getenv(variable.name);
        if (value == nullptr || *value == '\0') {
            continue;
        }
        if (auto applied = builder.set(variable.keyword, value, variable.name); !applied) {
            return tl::unexpected{std::move(applied.error())};
        }
    }
    return std::move(builder).finish();
}

std::optional<std::string_view> connection_options::parameter(std::string_view keyword) const {
    for (auto it = parameters.rbegin(); it != parameters.rend(); ++it) {
        if (it->first == keyword) {
            return std::string_view{it->second};
        }
    }
    return std::nullopt;
}

std::string connection_options::redacted() const {
    std::string url{postgresql_scheme};
    if (!user.empty() || !password.empty()) {
        url += percent_encode(user);
        if (!password.empty()) {
            url += ":***";
        }
        url += '@';
    }
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        const auto& address = hosts[i];
        if (i > 0) {
            url += ',';
        }
        const bool bracketed =
            !address.host.starts_with('/') && address.host.find(':') != std::string::npos;
        url += bracketed ? "[" + percent_encode(address.host, true) + "]"
                         : percent_encode(address.host);
        if (address.port) {
            url += fmt::format(":{}", *address.port);
        }
    }
    if (!dbname.empty()) {
        url += '/';
        url += percent_encode(dbname);
    }
    url += "?application_name=";
    url += percent_encode(application_name);
    if (const auto seconds = timeout_seconds(connect_timeout)) {
        url += fmt::format("&connect_timeout={}", *seconds);
    }
    for (const auto& [keyword, value] : parameters) {
        if (is_secret_keyword(keyword)) {
            continue;
        }
        url += '&';
        url += percent_encode(keyword);
        url += '=';
        url += percent_encode(value);
    }
    return url;
}

std::vector<connection_parameter> connection_options::to_keywords() const {
    std::vector<connection_parameter> keywords;
    std::string host_list;
    std::string port_list;
    bool any_port = false;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        if (i > 0) {
            host_list += ',';
            port_list += ',';
        }
        host_list += hosts[i].host;
        if (hosts[i].port) {
            port_list += std::to_string(*hosts[i].port);
            any_port = true;
        }
    }
    if (!host_list.empty()) {
        keywords.emplace_back("host", std::move(host_list));
    }
    if (any_port) {
        keywords.emplace_back("port", std::move(port_list));
    }
    const std::array<std::pair<std::string_view, const std::string*>, 4> fields{{
        {"dbname", &dbname},
        {"user", &user},
        {"password", &password},
        {"application_name", &application_name},
    }};
    for (const auto& [keyword, value] : fields) {
        if (!value->empty()) {
            keywords.emplace_back(keyword, *value);
        }
    }
    // Unset means our 10 s default. libpq applies it per host, treats 1 as 2 and 0 as no limit.
    keywords.emplace_back(
        "connect_timeout",
        std::to_string(timeout_seconds(connect_timeout).value_or(default_connect_timeout_seconds)));
    for (auto it = parameters.begin(); it != parameters.end(); ++it) {
        // The dedicated fields win over a hand-built duplicate; otherwise the last value wins.
        const bool overridden = std::any_of(std::next(it), parameters.end(),
                                            [&](const auto& p) { return p.first == it->first; });
        if (!overridden && !is_field_keyword(it->first)) {
            keywords.push_back(*it);
        }
    }
    return keywords;
}

std::string redact_secrets(std::string_view text) {
    // Both readings look at the original text, and whatever either finds is hidden: redacting
    // one kind first would change the text the other must read (a password holding
    // "password=", or a pair whose backslash-escaped blank ends up next to a hidden URL part).
    // Where the two overlap (a URL password holding "password=..."), the union is hidden: it may
    // hide more than the password, never less.
    auto ranges = url_password_ranges(text);
    auto pairs = password_pair_ranges(text);
    ranges.insert(ranges.end(), pairs.begin(), pairs.end());
    return hide_ranges(text, std::move(ranges));
}

}  // namespace pgkit
