// The COPY text format (src/copy/copy_text.hpp): the rows copy_writer writes and the rows
// connection::copy_out reads. fuzz/copy_text_fuzzer.cpp checks the same properties on
// generated input; these are the cases worth naming. No server needed.
#include "copy/copy_text.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

using pgkit::errc;
using fields_t = std::vector<std::optional<std::string>>;

namespace {

pgkit::result<fields_t> parse(std::string_view line) {
    std::string storage;
    std::vector<pgkit::detail::copy_field> fields;
    auto parsed = pgkit::detail::parse_copy_line(line, storage, fields);
    if (!parsed) {
        return tl::unexpected(parsed.error());
    }
    fields_t out;
    for (const auto& f : fields) {
        out.push_back(f.is_null ? std::nullopt
                                : std::optional<std::string>{storage.substr(f.offset, f.length)});
    }
    return out;
}

}  // namespace

TEST_CASE("copy text: fields, NULL and the escapes the server writes") {
    CHECK(parse("1\tAlice\t\\N\n").value() == fields_t{"1", "Alice", std::nullopt});
    CHECK(parse("\n").value() == fields_t{""});
    CHECK(parse("\t\t").value() == fields_t{"", "", ""});
    CHECK(parse("a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh").value() ==
          fields_t{std::string{"a\tb\nc\rd\\e\bf\fg\vh"}});
    // \N is NULL only as a whole field; an escaped backslash before N is text.
    CHECK(parse("\\\\N\tN\\N").value() == fields_t{"\\N", "NN"});
}

TEST_CASE("copy text: octal and hex escapes, and a backslash before any other character") {
    CHECK(parse("\\101\\7\\1234").value() == fields_t{std::string{"A\a"} + "S4"});
    CHECK(parse("\\x41\\x4a\\xA\\xg").value() == fields_t{std::string{"AJ\n"} + "xg"});
    CHECK(parse("\\q\\ \\'").value() == fields_t{"q '"});
    CHECK(parse("\\777").value() == fields_t{"\xFF"});  // the low 8 bits, as the server reads it
}

TEST_CASE("copy text: what no server sends is refused") {
    CHECK(parse("ends in \\").error().code() == errc::internal);
    CHECK(parse("\\000").error().code() == errc::internal);
    CHECK(parse("\\x0").error().code() == errc::internal);
    CHECK(parse(std::string_view{"raw\0nul", 7}).error().code() == errc::internal);
}

TEST_CASE("copy text: the encoder's rows read back as the fields written") {
    const fields_t fields{std::string{"tab\there"}, std::nullopt, std::string{"\\N"},
                          std::string{""}, std::string{"back\\slash\r\n"}};
    std::string line;
    for (const auto& f : fields) {
        pgkit::detail::append_copy_field(line,
                                         f ? std::optional<std::string_view>{*f} : std::nullopt);
    }
    line.back() = '\n';
    CHECK(line == "tab\\there\t\\N\t\\\\N\t\tback\\\\slash\\r\\n\n");
    CHECK(parse(line).value() == fields);
}
