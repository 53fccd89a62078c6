// libFuzzer target: connection strings. pgkit::connection_options::parse on postgresql:// URLs
// and key=value conninfo strings, redacted(), and pgkit::redact_secrets, checked against libpq's
// own parser (PQconninfoParse), the authority on syntax. Oracles on the input text:
//   - parse succeeds or fails with invalid_argument, the same way twice;
//   - what parse accepts, libpq accepts too, and libpq reads the same user, dbname, password
//     and parameters from it (pgkit's documented leniency, blanks before a URL, is trimmed
//     before asking libpq); libpq also accepts what to_keywords() hands it and reads the same
//     user, dbname and password from that;
//   - redacted() depends on the password and secret parameters (sslpassword) only through
//     whether there is a password: it cannot contain them;
//   - parse(redacted()) succeeds and gives back the same options, with "***" for a password and
//     without the secret parameters.
// Then the input is cut into a prefix, a user name, a secret and a suffix, and the secret, made
// distinctive (it starts with "Zq1x" and ends with "Wv9y"), is embedded in URL userinfo
// (percent-encoded, or raw), in a conninfo `password=` pair (quoted or backslash-escaped) and in
// a URL query. redact_secrets() of the text with the prefix and suffix around it must contain
// neither end of the secret; parse() of the embedding alone must not echo it in an error
// message or in redacted(), and for a correctly encoded secret must read it back exactly, as
// libpq does.
#include "pgkit/connection_options.hpp"

#include "fuzz_check.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using pgkit::connection_options;
using pgkit::fuzz::printable;

constexpr std::string_view secret_begin = "Zq1x";
constexpr std::string_view secret_end = "Wv9y";

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool icontains(std::string_view text, std::string_view part) {
    return std::search(text.begin(), text.end(), part.begin(), part.end(),
                       [](char a, char b) { return lower(a) == lower(b); }) != text.end();
}

bool is_secret_keyword(std::string_view keyword) {
    return icontains(keyword, "password");
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// ---- libpq -----------------------------------------------------------------------------

struct libpq_reading {
    bool accepted = false;
    std::string error;
    std::map<std::string, std::string> values;  ///< keywords libpq set
};

libpq_reading libpq_parse(const std::string& text) {
    libpq_reading out;
    char* message = nullptr;
    PQconninfoOption* options = PQconninfoParse(text.c_str(), &message);
    if (message != nullptr) {
        out.error = message;
        PQfreemem(message);
    }
    if (options == nullptr) {
        return out;
    }
    out.accepted = true;
    for (const PQconninfoOption* option = options; option->keyword; ++option) {
        if (option->val != nullptr) {
            out.values.emplace(option->keyword, option->val);
        }
    }
    PQconninfoFree(options);
    return out;
}

std::string libpq_value(const libpq_reading& reading, const std::string& keyword) {
    const auto found = reading.values.find(keyword);
    return found == reading.values.end() ? std::string{} : found->second;
}

// ---- encodings -------------------------------------------------------------------------

/// Percent-encodes every byte but RFC 3986's unreserved characters.
std::string percent_encode(std::string_view text) {
    constexpr std::string_view hex = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[byte >> 4U];
            out += hex[byte & 0x0fU];
        }
    }
    return out;
}

/// A conninfo value in single quotes, ' and \ backslash-escaped.
std::string conninfo_quoted(std::string_view text) {
    std::string out = "'";
    for (const char c : text) {
        if (c == '\'' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + "'";
}

/// A conninfo value without quotes: blanks, quotes and backslashes backslash-escaped.
std::string conninfo_escaped(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (is_space(c) || c == '\'' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out.empty() ? "''" : out;
}

std::string without(std::string_view text, std::string_view bytes) {
    std::string out;
    for (const char c : text) {
        if (bytes.find(c) == std::string_view::npos) {
            out += c;
        }
    }
    return out;
}

// ---- oracles on the input text -----------------------------------------------------------

connection_options without_secrets(connection_options options, std::string_view password) {
    options.password = password;
    std::erase_if(options.parameters, [](const auto& p) { return is_secret_keyword(p.first); });
    return options;
}

std::string describe(const connection_options& o) {
    std::string out = "hosts [";
    for (const auto& h : o.hosts) {
        out += printable(h.host) + (h.port ? ":" + std::to_string(*h.port) : "") + " ";
    }
    out += "] dbname " + printable(o.dbname) + " user " + printable(o.user) + " password " +
           printable(o.password) + " application_name " + printable(o.application_name) +
           " connect_timeout " +
           (o.connect_timeout ? std::to_string(o.connect_timeout->count()) + " ms" : "unset") +
           " parameters [";
    for (const auto& [keyword, value] : o.parameters) {
        out += keyword + "=" + printable(value) + " ";
    }
    return out + "]";
}

void check_text(std::string_view text) {
    const auto parsed = connection_options::parse(text);
    PGKIT_FUZZ_CHECK(parsed.has_value() == connection_options::parse(text).has_value(),
                     printable(text) + ": parse is not deterministic");
    if (!parsed) {
        PGKIT_FUZZ_CHECK(parsed.error().code() == pgkit::errc::invalid_argument,
                         printable(text) + ": " + parsed.error().message());
        return;
    }
    const auto where = [&](std::string_view what) {
        return printable(text) + ": " + std::string{what} + "\n  parsed: " + describe(*parsed);
    };

    // libpq accepts it and reads the same values. pgkit trims blanks before a URL (documented);
    // libpq would not, so it is asked about the trimmed text. A NUL byte never gets this far.
    std::string for_libpq{text};
    const auto first = for_libpq.find_first_not_of(" \t\n\r\f\v");
    if (first != std::string::npos && (for_libpq.compare(first, 13, "postgresql://") == 0 ||
                                       for_libpq.compare(first, 11, "postgres://") == 0)) {
        for_libpq.erase(0, first);
    }
    // load_balance_hosts is pgkit's own when the linked libpq lacks it (before 16): pgkit
    // shuffles the hosts and never hands the keyword to that libpq, so libpq is not asked then.
    const bool pgkit_balances = parsed->parameter("load_balance_hosts").has_value() &&
                                !pgkit::is_libpq_keyword("load_balance_hosts");
    if (pgkit_balances) {
        return;
    }
    const auto libpq = libpq_parse(for_libpq);
    PGKIT_FUZZ_CHECK(libpq.accepted, where("pgkit accepts, libpq refuses: " + libpq.error));
    PGKIT_FUZZ_CHECK(libpq_value(libpq, "password") == parsed->password &&
                         libpq_value(libpq, "user") == parsed->user &&
                         libpq_value(libpq, "dbname") == parsed->dbname,
                     where("libpq reads user " + printable(libpq_value(libpq, "user")) +
                           ", dbname " + printable(libpq_value(libpq, "dbname")) + ", password " +
                           printable(libpq_value(libpq, "password"))));
    // libpq folds the obsolete requiressl into sslmode; pgkit moves hostaddr into hosts when
    // no host is given.
    const bool folds_requiressl = parsed->parameter("requiressl").has_value();
    for (const auto& [keyword, value] : parsed->parameters) {
        if (keyword == "hostaddr" || keyword == "requiressl" ||
            (keyword == "sslmode" && folds_requiressl)) {
            continue;
        }
        PGKIT_FUZZ_CHECK(
            libpq_value(libpq, keyword) == *parsed->parameter(keyword),
            where("libpq reads " + keyword + " as " + printable(libpq_value(libpq, keyword))));
    }

    // What the driver hands to libpq: libpq accepts every keyword and reads the same values.
    std::string from_keywords;
    for (const auto& [keyword, value] : parsed->to_keywords()) {
        from_keywords += keyword + "=" + conninfo_quoted(value) + " ";
    }
    const auto handed = libpq_parse(from_keywords);
    PGKIT_FUZZ_CHECK(handed.accepted && libpq_value(handed, "password") == parsed->password &&
                         libpq_value(handed, "user") == parsed->user &&
                         libpq_value(handed, "dbname") == parsed->dbname,
                     where("libpq reads to_keywords() " + printable(from_keywords) + " as user " +
                           printable(libpq_value(handed, "user")) + ", dbname " +
                           printable(libpq_value(handed, "dbname")) + ", password " +
                           printable(libpq_value(handed, "password")) + handed.error));

    // redacted() cannot contain a secret: it does not depend on one.
    const std::string redacted = parsed->redacted();
    auto masked = *parsed;
    masked.password = parsed->password.empty() ? "" : "a different password";
    for (auto& [keyword, value] : masked.parameters) {
        if (is_secret_keyword(keyword)) {
            value = "a different secret";
        }
    }
    PGKIT_FUZZ_CHECK(masked.redacted() == redacted,
                     where("redacted() depends on a secret: " + printable(redacted) + " vs " +
                           printable(masked.redacted())));

    // ... and reads back as the same options, minus the secrets.
    const auto reparsed = connection_options::parse(redacted);
    PGKIT_FUZZ_CHECK(reparsed.has_value(), where("redacted() " + printable(redacted) +
                                                 " does not parse: " + reparsed.error().message()));
    const auto expected = without_secrets(*parsed, parsed->password.empty() ? "" : "***");
    PGKIT_FUZZ_CHECK(*reparsed == expected, where("redacted() " + printable(redacted) +
                                                  " reads back as " + describe(*reparsed)));
}

// ---- secrets embedded in text --------------------------------------------------------------

struct embedding_parts {
    std::string prefix;
    std::string user;
    std::string secret;  ///< with its distinctive ends
    std::string suffix;
};

void check_redacted(const std::string& text, const embedding_parts& parts, std::string_view how) {
    const std::string out = pgkit::redact_secrets(text);
    PGKIT_FUZZ_CHECK(!contains(out, secret_begin) && !contains(out, secret_end),
                     "redact_secrets leaves (part of) the secret " + printable(parts.secret) +
                         ", embedded " + std::string{how} + ", in " + printable(out) +
                         "\n  input: " + printable(text));
}

/// Parsing `text`, which embeds the secret: no error message and no redacted() may show it.
/// When `keyword` is given (the secret is correctly encoded), parse must succeed and read the
/// secret exactly as that keyword's value (password or sslpassword), as libpq does.
void check_parse_hides(const std::string& text,
                       const embedding_parts& parts,
                       std::string_view how,
                       std::optional<std::string_view> keyword) {
    const auto parsed = connection_options::parse(text);
    const auto where =
        printable(text) + " (secret " + printable(parts.secret) + " " + std::string{how} + ")";
    if (!parsed) {
        const auto& message = parsed.error().message();
        PGKIT_FUZZ_CHECK(!contains(message, secret_begin) && !contains(message, secret_end),
                         where + ": the error message shows the secret: " + message);
        PGKIT_FUZZ_CHECK(!keyword, where + ": a correctly encoded secret is refused: " + message);
        return;
    }
    const auto redacted = parsed->redacted();
    PGKIT_FUZZ_CHECK(!contains(redacted, secret_begin) && !contains(redacted, secret_end),
                     where + ": redacted() shows the secret: " + redacted);
    if (!keyword) {
        return;
    }
    const std::string read = *keyword == "password"
                                 ? parsed->password
                                 : std::string{parsed->parameter(*keyword).value_or("(none)")};
    PGKIT_FUZZ_CHECK(read == parts.secret,
                     where + ": " + std::string{*keyword} + " read as " + printable(read));
    const auto libpq = libpq_parse(text);
    PGKIT_FUZZ_CHECK(libpq.accepted && libpq_value(libpq, std::string{*keyword}) == parts.secret,
                     where + ": libpq reads " + std::string{*keyword} + " as " +
                         printable(libpq_value(libpq, std::string{*keyword})) + libpq.error);
}

void check_embedded_secrets(std::string_view data) {
    pgkit::fuzz::choices choose{data};
    // Prefix, user name, secret and suffix: quarters of the input.
    const std::size_t q = data.size() / 4;
    embedding_parts parts{std::string{data.substr(0, q)}, std::string{data.substr(q, q)},
                          std::string{data.substr(2 * q, q)}, std::string{data.substr(3 * q)}};
    // The surrounding text must not name a password itself (a `password=` there could
    // legitimately end where the embedded secret begins) nor contain the secret's ends.
    for (const auto* around : {&parts.prefix, &parts.suffix, &parts.user}) {
        if (icontains(*around, "password") || contains(*around, secret_begin) ||
            contains(*around, secret_end)) {
            return;
        }
    }
    const std::string core = parts.secret;
    if (contains(core, secret_begin) || contains(core, secret_end)) {
        return;
    }
    const auto with_ends = [&](std::string_view middle) {
        return std::string{secret_begin} + std::string{middle} + std::string{secret_end};
    };
    const auto around = [&](std::string_view embedded) {
        return parts.prefix + " " + std::string{embedded} + " " + parts.suffix;
    };
    constexpr std::string_view schemes[] = {"postgresql", "postgres", "redis", "mysql"};
    const std::string_view scheme = schemes[choose.below(std::size(schemes))];
    const std::string user = percent_encode(parts.user);
    constexpr std::string_view host_parts[] = {
        "db.example:5432/app", "[::1]:5433,h2/app?sslmode=require", "h", "%2Ftmp/db"};
    const auto storable = [&](const embedding_parts& p) {
        constexpr std::string_view nul{"\0", 1};
        return !contains(p.secret, nul) && !contains(p.user, nul);
    };
    const std::string_view host = host_parts[choose.below(std::size(host_parts))];

    // URL userinfo, the secret percent-encoded.
    {
        embedding_parts p = parts;
        p.secret = with_ends(core);
        const std::string url = std::string{scheme} + "://" + user + ":" +
                                percent_encode(p.secret) + "@" + std::string{host};
        check_redacted(around(url), p, "percent-encoded in URL userinfo");
        if (scheme.starts_with("postgres")) {
            check_parse_hides(
                url, p, "percent-encoded in URL userinfo",
                storable(p) ? std::optional<std::string_view>{"password"} : std::nullopt);
        }
    }
    // URL userinfo, the secret raw: blanks, '@', '/', ':' and any other byte but line ends.
    {
        embedding_parts p = parts;
        std::string raw = without(core, "\r\n");
        p.secret = with_ends(raw);
        const std::string url =
            std::string{scheme} + "://" + user + ":" + p.secret + "@" + std::string{host};
        check_redacted(around(url), p, "raw in URL userinfo");
        if (scheme.starts_with("postgres")) {
            check_parse_hides(url, p, "raw in URL userinfo", std::nullopt);
        }
    }
    // A conninfo pair, quoted or backslash-escaped, with or without blanks around '='.
    {
        constexpr std::string_view keywords[] = {"password", "sslpassword", "PASSWORD",
                                                 "PGPASSWORD"};
        constexpr std::string_view equals[] = {"=", " = ", "\t=", "=\n"};
        const std::string_view keyword = keywords[choose.below(std::size(keywords))];
        const std::string_view eq = equals[choose.below(std::size(equals))];
        embedding_parts p = parts;
        p.secret = with_ends(core);
        const bool quoted = choose.below(2) == 0;
        const std::string pair = std::string{keyword} + std::string{eq} +
                                 (quoted ? conninfo_quoted(p.secret) : conninfo_escaped(p.secret));
        check_redacted(around(pair), p,
                       quoted ? "quoted in a conninfo pair" : "escaped in a conninfo pair");
        const bool known = keyword == "password" || keyword == "sslpassword";
        check_parse_hides(
            "host=db " + pair + " user=" + conninfo_escaped(parts.user), p, "in a conninfo pair",
            known && storable(p) ? std::optional<std::string_view>{keyword} : std::nullopt);
    }
    // A URL query parameter, percent-encoded or raw (anything but '&').
    {
        constexpr std::string_view keywords[] = {"password", "sslpassword"};
        const std::string_view keyword = keywords[choose.below(std::size(keywords))];
        embedding_parts p = parts;
        const bool encoded = choose.below(2) == 0;
        p.secret = with_ends(encoded ? core : without(core, "&"));
        const std::string url = "postgresql://db/app?sslmode=require&" + std::string{keyword} +
                                "=" + (encoded ? percent_encode(p.secret) : p.secret) +
                                "&application_name=x";
        check_redacted(around(url), p,
                       encoded ? "percent-encoded in a URL query" : "raw in a URL query");
        check_parse_hides(
            url, p, "in a URL query",
            encoded && storable(p) ? std::optional<std::string_view>{keyword} : std::nullopt);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text{reinterpret_cast<const char*>(data), size};
    check_text(text);
    check_embedded_secrets(text);
    return 0;
}
