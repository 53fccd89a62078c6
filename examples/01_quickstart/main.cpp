// Quick start: connect, create a table, insert with bound parameters, bulk-load with COPY, read
// typed rows back, and see what an error looks like as a value.
//
//   pgkit_example_quickstart postgresql://user@localhost/db
#include <pgkit/pgkit.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace {

int fail(const pgkit::error& e) {
    std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    auto options = argc > 1 ? pgkit::connection_options::parse(argv[1])
                            : pgkit::connection_options::from_environment();
    if (!options) {
        return fail(options.error());
    }
    std::printf("pgkit %s, connecting to %s\n", pgkit::version(), options->redacted().c_str());

    auto conn = pgkit::connection::open(*options);
    if (!conn) {
        return fail(conn.error());
    }

    auto created = conn->execute_script(
        "DROP TABLE IF EXISTS quickstart_notes;"
        "CREATE TABLE quickstart_notes ("
        "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        "  title text NOT NULL UNIQUE,"
        "  stars integer,"
        "  created_at timestamptz NOT NULL DEFAULT now())");
    if (!created) {
        return fail(created.error());
    }

    // Every value travels as a bound parameter: the quote below is data, never SQL.
    auto inserted =
        conn->execute("INSERT INTO quickstart_notes (title, stars) VALUES ($1, $2) RETURNING id",
                      std::string{"O'Reilly's notes"}, std::int32_t{5});
    if (!inserted) {
        return fail(inserted.error());
    }
    std::printf("inserted note %lld\n",
                static_cast<long long>(inserted->scalar<std::int64_t>().value_or(-1)));

    // Bulk load through COPY: one round trip for any number of rows.
    auto copy = conn->copy_in("quickstart_notes", {"title", "stars"});
    if (!copy) {
        return fail(copy.error());
    }
    for (int i = 1; i <= 1000; ++i) {
        std::optional<std::int32_t> stars;
        if (i % 3 != 0) {
            stars = i % 5;
        }
        if (auto written = copy->write_row("note " + std::to_string(i), stars); !written) {
            return fail(written.error());
        }
    }
    auto copied = copy->finish();
    if (!copied) {
        return fail(copied.error());
    }
    std::printf("copied %llu notes\n", static_cast<unsigned long long>(*copied));

    // Typed reads: NULL arrives as an empty optional.
    auto top = conn->execute(
        "SELECT title, stars FROM quickstart_notes WHERE stars >= $1 ORDER BY id LIMIT 3",
        std::int32_t{4});
    if (!top) {
        return fail(top.error());
    }
    for (const pgkit::row& r : *top) {
        auto fields = r.as<std::string, std::optional<std::int32_t>>();
        if (!fields) {
            return fail(fields.error());
        }
        const auto& [title, stars] = *fields;
        std::printf("  %-20s %d stars\n", title.c_str(), stars.value_or(0));
    }

    // Errors are values with a stable code, the SQLSTATE and the constraint's name.
    auto duplicate =
        conn->execute("INSERT INTO quickstart_notes (title) VALUES ($1)", std::string{"note 1"});
    if (duplicate) {
        std::fprintf(stderr, "expected a unique violation\n");
        return 1;
    }
    std::printf("duplicate title refused: %s\n", duplicate.error().to_string().c_str());

    auto dropped = conn->execute_script("DROP TABLE quickstart_notes");
    if (!dropped) {
        return fail(dropped.error());
    }
    std::printf("quickstart finished\n");
    return 0;
}
