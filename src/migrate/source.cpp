// Migration sources: the file format (docs/migrations.md, "Files") and the checks every
// migration passes, whether it came from a file or from C++.

#include "pgkit/migrations.hpp"

#include "ascii_text.hpp"
#include "migrate/statements.hpp"
#include "sql/lexer.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>

namespace pgkit {
namespace {

using detail::iequals;
using detail::is_digit;
namespace dm = detail::migrate;

tl::unexpected<error> invalid(std::string_view source, std::size_t line, std::string_view why) {
    if (line == 0) {
        return make_error(errc::migration_source_invalid, fmt::format("{}: {}", source, why));
    }
    return make_error(errc::migration_source_invalid, fmt::format("{}:{}: {}", source, line, why));
}

std::string to_upper(std::string_view text) {
    std::string out{text};
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return out;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
        s.remove_suffix(1);
    }
    return s;
}

/// The section name of a marker comment (`-- ========== UP ==========`), else nullopt.
std::optional<std::string_view> marker_name(std::string_view comment) {
    std::string_view body = trim(comment.substr(2));
    if (body.size() < 5 || !body.starts_with("==") || !body.ends_with("==")) {
        return std::nullopt;
    }
    while (!body.empty() && body.front() == '=') {
        body.remove_prefix(1);
    }
    while (!body.empty() && body.back() == '=') {
        body.remove_suffix(1);
    }
    body = trim(body);
    if (body.empty()) {
        return std::nullopt;
    }
    return body;
}

std::size_t line_at(std::string_view text, std::size_t offset) noexcept {
    return 1 + static_cast<std::size_t>(std::count(
                   text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

/// True when only spaces and tabs precede `offset` on its line.
bool starts_line(std::string_view text, std::size_t offset) noexcept {
    while (offset > 0 && (text[offset - 1] == ' ' || text[offset - 1] == '\t')) {
        --offset;
    }
    return offset == 0 || text[offset - 1] == '\n';
}

/// A version: 1 to 18 digits, not all zero.
std::optional<std::int64_t> parse_version(std::string_view digits) {
    if (digits.empty() || digits.size() > 18 ||
        !std::all_of(digits.begin(), digits.end(), is_digit)) {
        return std::nullopt;
    }
    std::int64_t v = 0;
    for (char c : digits) {
        v = v * 10 + (c - '0');
    }
    if (v == 0) {
        return std::nullopt;
    }
    return v;
}

/// `Requires: 001_users, 2` -> {1, 2}; "none", "-" or nothing -> {}.
std::optional<std::vector<std::int64_t>> parse_requires(std::string_view value) {
    std::vector<std::int64_t> out;
    if (value.empty() || iequals(value, "none") || value == "-") {
        return out;
    }
    std::size_t at = 0;
    while (at <= value.size()) {
        std::size_t next = value.find_first_of(", ", at);
        if (next == std::string_view::npos) {
            next = value.size();
        }
        std::string_view item = value.substr(at, next - at);
        at = next + 1;
        if (item.empty()) {
            continue;
        }
        // A version, or a file stem that starts with one (001_create_users).
        const std::size_t digits = static_cast<std::size_t>(
            std::find_if_not(item.begin(), item.end(), is_digit) - item.begin());
        if (digits < item.size() && item[digits] != '_') {
            return std::nullopt;
        }
        auto v = parse_version(item.substr(0, digits));
        if (!v) {
            return std::nullopt;
        }
        out.push_back(*v);
    }
    return out;
}

/// Checks one section's statements; `first_line` is the file line its text starts on (0 when
/// the migration has no file: the error then says which section).
result<void> check_section(const migration& m,
                           std::string_view section,
                           std::string_view text,
                           std::size_t first_line) {
    auto split = dm::split_section(text);
    if (!split) {
        if (first_line == 0) {
            return invalid(m.source, 0,
                           fmt::format("line {} of its {} section: {}", split.error().line, section,
                                       split.error().reason));
        }
        return invalid(m.source, first_line + split.error().line - 1, split.error().reason);
    }
    if (section == "UP" && split->empty()) {
        return invalid(m.source, first_line, "the UP section has no statement");
    }
    return {};
}

bool has_statement(std::string_view text) {
    auto split = dm::split_section(text);
    return split && !split->empty();
}

result<void> check_fields(const migration& m, const migration_source_options& options) {
    if (m.version <= 0) {
        return invalid(m.source, 0, "the version must be a positive number");
    }
    if (m.name.empty()) {
        return invalid(m.source, 0, "the migration has no name");
    }
    if (!m.risk.empty() && m.risk != "low" && m.risk != "medium" && m.risk != "high") {
        return invalid(
            m.source, 0,
            fmt::format("Risk must be low, medium or high, not '{}'", detail::excerpt(m.risk)));
    }
    if (options.require_down && !has_statement(m.down)) {
        return invalid(m.source, 0,
                       "no DOWN section (or one without a statement), and a DOWN is required");
    }
    return {};
}

}  // namespace

std::string migration_checksum(const migration& m) {
    std::string text;
    text.reserve(m.up.size() + m.down.size() + m.verify.size() + 16);
    text.append("UP\n")
        .append(m.up)
        .append("\nDOWN\n")
        .append(m.down)
        .append("\nVERIFY\n")
        .append(m.verify);
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
    std::string hex;
    hex.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
        hex += fmt::format("{:02x}", digest[i]);
    }
    return hex;
}

result<migration> parse_migration(std::string_view file_name,
                                  std::string_view text,
                                  const migration_source_options& options) {
    migration m;
    m.source = std::string{file_name};
    const std::string_view base = [&] {
        const auto slash = file_name.find_last_of('/');
        return slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
    }();
    const std::size_t underscore = base.find('_');
    if (!base.ends_with(".sql") || underscore == std::string_view::npos ||
        underscore + 4 >= base.size()) {
        return invalid(m.source, 0,
                       "a migration file is named <version>_<name>.sql (e.g. 0001_add_phone.sql)");
    }
    auto version = parse_version(base.substr(0, underscore));
    if (!version) {
        return invalid(m.source, 0,
                       "the file name must start with a version: 1 to 18 digits, not all zero, "
                       "then '_'");
    }
    m.version = *version;
    m.name = std::string{base.substr(underscore + 1, base.size() - underscore - 1 - 4)};
    if (text.find('\0') != std::string_view::npos) {
        return invalid(m.source, line_at(text, text.find('\0')), "the file contains a NUL byte");
    }

    struct section {
        std::string name;
        std::size_t marker_line = 0;
        std::size_t begin = 0;  ///< offset after the marker's line
        std::size_t end = 0;
    };
    std::vector<section> sections;
    detail::sql::lexer tokens{text};
    while (auto t = tokens.next()) {
        if (t->kind == detail::sql::token_kind::whitespace) {
            continue;
        }
        const std::size_t line = line_at(text, t->begin);
        if (t->kind == detail::sql::token_kind::line_comment && starts_line(text, t->begin)) {
            if (auto name = marker_name(t->text(text))) {
                std::string upper = to_upper(*name);
                if (upper != "UP" && upper != "DOWN" && upper != "VERIFY") {
                    return invalid(m.source, line,
                                   fmt::format("unknown section '{}' (the sections are UP, DOWN "
                                               "and VERIFY)",
                                               detail::excerpt(*name)));
                }
                for (const section& s : sections) {
                    if (s.name == upper) {
                        return invalid(m.source, line,
                                       fmt::format("a second {} section (the first is on line {})",
                                                   upper, s.marker_line));
                    }
                }
                if (!sections.empty()) {
                    sections.back().end = t->begin;
                }
                sections.push_back(section{upper, line, t->end, text.size()});
                continue;
            }
            if (sections.empty()) {
                // A header line: `-- Key: value`.
                const std::string_view body = trim(t->text(text).substr(2));
                const auto colon = body.find(':');
                if (colon != std::string_view::npos) {
                    const std::string_view key = trim(body.substr(0, colon));
                    const std::string_view value = trim(body.substr(colon + 1));
                    if (iequals(key, "Risk")) {
                        std::string risk = to_upper(value);
                        if (risk != "LOW" && risk != "MEDIUM" && risk != "HIGH") {
                            return invalid(m.source, line,
                                           fmt::format("Risk must be low, medium or high, not "
                                                       "'{}'",
                                                       detail::excerpt(value)));
                        }
                        m.risk = std::string{risk == "LOW"      ? "low"
                                             : risk == "MEDIUM" ? "medium"
                                                                : "high"};
                    } else if (iequals(key, "Requires")) {
                        auto required = parse_requires(value);
                        if (!required) {
                            return invalid(m.source, line,
                                           fmt::format("Requires must list versions (or file "
                                                       "names that start with one), not '{}'",
                                                       detail::excerpt(value)));
                        }
                        m.requires_versions = std::move(*required);
                    }
                }
            }
            continue;
        }
        if (sections.empty() && !t->is_blank()) {
            return invalid(m.source, line,
                           "SQL before the first section marker (-- ========== UP ==========)");
        }
    }
    if (tokens.failure() != detail::sql::lex_failure::none) {
        return invalid(m.source, line_at(text, tokens.failure_offset()),
                       detail::sql::to_string(tokens.failure()));
    }
    const auto found = std::find_if(sections.begin(), sections.end(),
                                    [](const section& s) { return s.name == "UP"; });
    if (found == sections.end()) {
        return invalid(m.source, 0, "no UP section (-- ========== UP ==========)");
    }
    for (const section& s : sections) {
        const std::string_view body = text.substr(s.begin, s.end - s.begin);
        if (auto ok = check_section(m, s.name, body, s.marker_line); !ok) {
            return tl::unexpected(ok.error());
        }
        // A section of comments only (the template's commented-out DOWN) counts as absent.
        std::string kept = has_statement(body) ? std::string{body} : std::string{};
        if (s.name == "UP") {
            m.up = std::move(kept);
            m.up_line = s.marker_line;
        } else if (s.name == "DOWN") {
            m.down = std::move(kept);
            m.down_line = s.marker_line;
        } else {
            m.verify = std::move(kept);
            m.verify_line = s.marker_line;
        }
    }
    if (auto ok = check_fields(m, options); !ok) {
        return tl::unexpected(ok.error());
    }
    return m;
}

result<std::vector<migration>> check_migrations(std::vector<migration> migrations,
                                                const migration_source_options& options) {
    for (migration& m : migrations) {
        if (m.source.empty()) {
            m.source = fmt::format("migration {} ({})", m.version, m.name);
        }
        if (auto ok = check_fields(m, options); !ok) {
            return tl::unexpected(ok.error());
        }
        for (auto [section, text] : {std::pair<std::string_view, std::string_view>{"UP", m.up},
                                     {"DOWN", m.down},
                                     {"VERIFY", m.verify}}) {
            if (auto ok = check_section(m, section, text, 0); !ok) {
                return tl::unexpected(ok.error());
            }
        }
    }
    std::stable_sort(migrations.begin(), migrations.end(),
                     [](const migration& a, const migration& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < migrations.size(); ++i) {
        if (migrations[i].version == migrations[i - 1].version) {
            return invalid(migrations[i].source, 0,
                           fmt::format("duplicate version {}: {} has it too", migrations[i].version,
                                       migrations[i - 1].source));
        }
    }
    for (const migration& m : migrations) {
        for (std::int64_t required : m.requires_versions) {
            const bool exists =
                std::any_of(migrations.begin(), migrations.end(),
                            [required](const migration& o) { return o.version == required; });
            if (!exists || required >= m.version) {
                return invalid(m.source, 0,
                               fmt::format("Requires {}, which {}", required,
                                           exists ? "is not a lower version" : "no migration has"));
            }
        }
    }
    return migrations;
}

result<std::vector<migration>> load_migrations(const std::filesystem::path& directory,
                                               const migration_source_options& options) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (std::filesystem::directory_iterator it{directory, ec}, end; !ec && it != end;
         it.increment(ec)) {
        if (it->path().extension() == ".sql" && it->is_regular_file(ec)) {
            files.push_back(it->path());
        }
    }
    if (ec) {
        return make_error(errc::invalid_argument,
                          fmt::format("migrations: cannot read the directory {}: {}",
                                      directory.string(), ec.message()));
    }
    std::sort(files.begin(), files.end());
    std::vector<migration> migrations;
    for (const auto& path : files) {
        std::ifstream in{path, std::ios::binary};
        std::ostringstream text;
        text << in.rdbuf();
        if (!in && !in.eof()) {
            return make_error(errc::invalid_argument,
                              fmt::format("migrations: cannot read {}", path.string()));
        }
        auto parsed = parse_migration(path.string(), text.str(), options);
        if (!parsed) {
            return tl::unexpected(parsed.error());
        }
        migrations.push_back(std::move(*parsed));
    }
    return check_migrations(std::move(migrations), options);
}

}  // namespace pgkit
