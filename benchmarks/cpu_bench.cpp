// Client CPU against hand-written libpq, in the same run, on one connection each:
//   get by primary key: repository.get vs a prepared libpq point select decoding the same fields
//   find_many of 100 keys: repository.find_many vs a prepared libpq `id = ANY($1)` select
//   insert_many of 100k rows: repository.insert_many vs hand-written libpq text COPY
// The rows hold integers, text and a timestamp; both sides encode and decode all of them.
// get and find_many also run on a pool without the session check (reset_policy::when_sql_dirty):
// the difference is what the check's statements cost the client.
// What is compared is cpu_time: Google Benchmark's CPU time of the calling thread, which leaves
// out the server process (and the time spent waiting for it). The hand-written code is careful
// code, the floor: std::to_chars/from_chars, fixed-width date formatting, one-pass COPY escaping,
// buffers reused across rows. The session's TimeZone is UTC on both sides.
// PGKIT_BENCH_DATABASE_URL names the server (scripts/bench sets it).
#include "pgkit/pgkit.hpp"

#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

namespace {

using time_point = std::chrono::system_clock::time_point;

/// A row of integers, text and a timestamp. `Table` tells the two mapped tables apart: the one
/// read (cpu_items) and the one insert_many writes (cpu_items_insert).
template <int Table>
struct cpu_row {
    std::int64_t id = 0;
    std::string name;
    std::int32_t score = 0;
    std::int64_t amount = 0;
    time_point happened_at;
};
using cpu_item = cpu_row<0>;
using cpu_new_item = cpu_row<1>;

constexpr std::string_view table_names[] = {"cpu_items", "cpu_items_insert"};

}  // namespace

template <int Table>
struct pgkit::entity<cpu_row<Table>> {
    using row = cpu_row<Table>;
    static constexpr std::string_view table = table_names[Table];
    static constexpr auto columns =
        std::tuple{pgkit::column(&row::id, "id"), pgkit::column(&row::name, "name"),
                   pgkit::column(&row::score, "score"), pgkit::column(&row::amount, "amount"),
                   pgkit::column(&row::happened_at, "happened_at")};
    static constexpr auto primary_key = pgkit::key(&row::id);
};

namespace {

constexpr std::int64_t item_rows = 100'000;
constexpr std::int64_t insert_rows = 100'000;
constexpr const char* select_columns = "id, name, score, amount, happened_at";

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "benchmark set-up failed: %s\n", message.c_str());
    std::exit(2);
}

/// cpu_items with item_rows rows (once per process), and an empty cpu_items_insert.
void ensure_tables() {
    static std::once_flag once;
    std::call_once(once, [] {
        auto conn = pgkit::bench::connect();
        auto made = conn.execute_script(fmt::format(
            "DROP TABLE IF EXISTS cpu_items;"
            "CREATE TABLE cpu_items (id int8 PRIMARY KEY, name text NOT NULL, score int4 NOT NULL, "
            "amount int8 NOT NULL, happened_at timestamptz NOT NULL);"
            "INSERT INTO cpu_items SELECT g, 'item number ' || g, g % 1000, g * 7919, "
            "timestamptz '2024-01-01 00:00:00+00' + g * interval '1.234567 second' "
            "FROM generate_series(1, {}) g;"
            "ANALYZE cpu_items;",
            item_rows));
        if (!made) {
            die(made.error().to_string());
        }
    });
}

void reset_insert_table() {
    auto conn = pgkit::bench::connect();
    auto done = conn.execute_script(
        "DROP TABLE IF EXISTS cpu_items_insert;"
        "CREATE UNLOGGED TABLE cpu_items_insert (LIKE cpu_items INCLUDING ALL)");
    if (!done) {
        die(done.error().to_string());
    }
}

std::shared_ptr<pgkit::pool> make_one_connection_pool(pgkit::reset_policy reset) {
    auto options = pgkit::connection_options::parse(pgkit::bench::database_url());
    if (!options) {
        die(options.error().to_string());
    }
    auto created = pgkit::pool::create({.connection = *options, .max_size = 1, .reset = reset});
    if (!created) {
        die(created.error().to_string());
    }
    return *created;
}

/// One connection: the pool never holds more. The default reset policy, so every lease's first
/// statement travels with the session check.
std::shared_ptr<pgkit::pool> one_connection_pool() {
    static std::shared_ptr<pgkit::pool> pool =
        make_one_connection_pool(pgkit::reset_policy::when_dirty);
    return pool;
}

/// The same without the session check (reset_policy::when_sql_dirty): what the check costs the
/// client is the difference.
std::shared_ptr<pgkit::pool> unchecked_one_connection_pool() {
    static std::shared_ptr<pgkit::pool> pool =
        make_one_connection_pool(pgkit::reset_policy::when_sql_dirty);
    return pool;
}

/// A libpq session with TimeZone UTC, so timestamps come back as "...+00".
PGconn* libpq_connect() {
    PGconn* conn = PQconnectdb(pgkit::bench::database_url().c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        die(PQerrorMessage(conn));
    }
    PGresult* set = PQexec(conn, "SET TimeZone = 'UTC'");
    if (PQresultStatus(set) != PGRES_COMMAND_OK) {
        die(PQerrorMessage(conn));
    }
    PQclear(set);
    return conn;
}

std::int64_t key_for(std::int64_t i) {
    return 1 + (i * 7919) % item_rows;
}

/// Rows to insert: every 50th name needs COPY escaping (a tab and a backslash).
cpu_new_item make_item(std::int64_t i) {
    using namespace std::chrono;
    std::string name = "generated row " + std::to_string(i);
    if (i % 50 == 0) {
        name += "\twith\\escapes";
    }
    const time_point when = sys_days{year{2024} / 1 / 1} + microseconds{i * 1'234'567};
    return {i, std::move(name), static_cast<std::int32_t>(i % 1000), i * 7919, when};
}

// ---- the hand-written side: careful text encoding and decoding ------------------------------

constexpr std::int64_t micros_per_day = 86'400'000'000;

void put2(char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}

/// Appends "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (years 1000..9999, the benchmark's range).
void append_timestamp(time_point t, std::string& out) {
    const std::int64_t micros =
        std::chrono::floor<std::chrono::microseconds>(t.time_since_epoch()).count();
    std::int64_t days = micros / micros_per_day;
    std::int64_t rest = micros % micros_per_day;
    if (rest < 0) {
        rest += micros_per_day;
        --days;
    }
    const std::chrono::year_month_day date{std::chrono::sys_days{std::chrono::days{days}}};
    char text[32];
    const auto y = static_cast<unsigned>(static_cast<int>(date.year()));
    put2(text, y / 100);
    put2(text + 2, y % 100);
    text[4] = '-';
    put2(text + 5, static_cast<unsigned>(date.month()));
    text[7] = '-';
    put2(text + 8, static_cast<unsigned>(date.day()));
    text[10] = ' ';
    const auto seconds = static_cast<unsigned>(rest / 1'000'000);
    auto fraction = static_cast<unsigned>(rest % 1'000'000);
    put2(text + 11, seconds / 3600);
    text[13] = ':';
    put2(text + 14, seconds / 60 % 60);
    text[16] = ':';
    put2(text + 17, seconds % 60);
    std::size_t length = 19;
    if (fraction != 0) {
        text[length++] = '.';
        for (unsigned scale = 100'000; scale != 0 && fraction != 0; scale /= 10) {
            text[length++] = static_cast<char>('0' + fraction / scale);
            fraction %= scale;
        }
    }
    text[length++] = '+';
    text[length++] = '0';
    text[length++] = '0';
    out.append(text, length);
}

unsigned digits_at(const char* p, int count) {
    unsigned value = 0;
    for (int i = 0; i < count; ++i) {
        value = value * 10 + static_cast<unsigned>(p[i] - '0');
    }
    return value;
}

/// Parses what a UTC session prints: "YYYY-MM-DD HH:MM:SS[.f{1,6}]+00".
bool parse_timestamp(std::string_view text, time_point& out) {
    if (text.size() < 22 || text[4] != '-' || text[7] != '-' || text[10] != ' ') {
        return false;
    }
    const char* p = text.data();
    const std::chrono::sys_days date{std::chrono::year{static_cast<int>(digits_at(p, 4))} /
                                     std::chrono::month{digits_at(p + 5, 2)} /
                                     std::chrono::day{digits_at(p + 8, 2)}};
    const std::int64_t days = date.time_since_epoch().count();
    std::int64_t micros =
        (digits_at(p + 11, 2) * 3600 + digits_at(p + 14, 2) * 60 + digits_at(p + 17, 2)) *
        std::int64_t{1'000'000};
    std::size_t pos = 19;
    if (text[pos] == '.') {
        ++pos;
        std::int64_t fraction = 0;
        std::int64_t scale = 100'000;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            fraction += (text[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        micros += fraction;
    }
    if (text.substr(pos) != "+00") {
        return false;
    }
    out = time_point{std::chrono::microseconds{days * micros_per_day + micros}};
    return true;
}

template <class Int>
bool parse_int(const char* text, int length, Int& out) {
    return std::from_chars(text, text + length, out).ec == std::errc{};
}

/// Decodes row `r` of a libpq result holding select_columns.
bool decode_item(const PGresult* res, int r, cpu_item& out) {
    out.name.assign(PQgetvalue(res, r, 1), static_cast<std::size_t>(PQgetlength(res, r, 1)));
    return parse_int(PQgetvalue(res, r, 0), PQgetlength(res, r, 0), out.id) &&
           parse_int(PQgetvalue(res, r, 2), PQgetlength(res, r, 2), out.score) &&
           parse_int(PQgetvalue(res, r, 3), PQgetlength(res, r, 3), out.amount) &&
           parse_timestamp(
               {PQgetvalue(res, r, 4), static_cast<std::size_t>(PQgetlength(res, r, 4))},
               out.happened_at);
}

template <class Int>
void append_int(Int value, std::string& out) {
    char digits[24];
    out.append(digits, std::to_chars(digits, digits + sizeof digits, value).ptr);
}

/// Appends text escaped for COPY's text format, in one pass.
void append_copy_text(std::string_view text, std::string& out) {
    std::size_t plain = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char escape = 0;
        switch (text[i]) {
            case '\\':
                escape = '\\';
                break;
            case '\n':
                escape = 'n';
                break;
            case '\r':
                escape = 'r';
                break;
            case '\t':
                escape = 't';
                break;
            default:
                continue;
        }
        out.append(text.data() + plain, i - plain);
        out += '\\';
        out += escape;
        plain = i + 1;
    }
    out.append(text.data() + plain, text.size() - plain);
}

// ---- get by primary key -------------------------------------------------------------------

void repository_get(benchmark::State& state, const std::shared_ptr<pgkit::pool>& pool) {
    ensure_tables();
    pgkit::repository<cpu_item> items{pool};
    std::int64_t i = 0;
    for (auto _ : state) {
        auto item = items.get(key_for(i++));
        if (!item) {
            state.SkipWithError(item.error().to_string().c_str());
            break;
        }
        benchmark::DoNotOptimize(item->happened_at);
    }
}

void cpu_repository_get(benchmark::State& state) {
    repository_get(state, one_connection_pool());
}
BENCHMARK(cpu_repository_get);

void cpu_repository_get_unchecked(benchmark::State& state) {
    repository_get(state, unchecked_one_connection_pool());
}
BENCHMARK(cpu_repository_get_unchecked);

void cpu_libpq_get(benchmark::State& state) {
    ensure_tables();
    PGconn* conn = libpq_connect();
    PQclear(PQprepare(conn, "cpu_get",
                      fmt::format("SELECT {} FROM cpu_items WHERE id = $1", select_columns).c_str(),
                      1, nullptr));
    std::int64_t i = 0;
    char key[24];
    for (auto _ : state) {
        *std::to_chars(key, key + sizeof key - 1, key_for(i++)).ptr = '\0';
        const char* values[] = {key};
        PGresult* res = PQexecPrepared(conn, "cpu_get", 1, values, nullptr, nullptr, 0);
        cpu_item item;
        const bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
                        decode_item(res, 0, item);
        PQclear(res);
        if (!ok) {
            state.SkipWithError("libpq get failed");
            break;
        }
        benchmark::DoNotOptimize(item.happened_at);
    }
    PQfinish(conn);
}
BENCHMARK(cpu_libpq_get);

// ---- find_many of 100 keys ----------------------------------------------------------------

std::vector<std::int64_t> hundred_keys(std::int64_t round) {
    std::vector<std::int64_t> keys;
    keys.reserve(100);
    for (std::int64_t k = 0; k < 100; ++k) {
        keys.push_back(key_for(round * 100 + k));
    }
    return keys;
}

void repository_find_many_100(benchmark::State& state, const std::shared_ptr<pgkit::pool>& pool) {
    ensure_tables();
    pgkit::repository<cpu_item> items{pool};
    std::int64_t round = 0;
    for (auto _ : state) {
        auto found = items.find_many(hundred_keys(round++));
        if (!found || found->size() != 100) {
            state.SkipWithError("find_many failed");
            break;
        }
        benchmark::DoNotOptimize(found->data());
    }
}

void cpu_repository_find_many_100(benchmark::State& state) {
    repository_find_many_100(state, one_connection_pool());
}
BENCHMARK(cpu_repository_find_many_100);

void cpu_repository_find_many_100_unchecked(benchmark::State& state) {
    repository_find_many_100(state, unchecked_one_connection_pool());
}
BENCHMARK(cpu_repository_find_many_100_unchecked);

void cpu_libpq_find_many_100(benchmark::State& state) {
    ensure_tables();
    PGconn* conn = libpq_connect();
    PQclear(PQprepare(
        conn, "cpu_find_many",
        fmt::format("SELECT {} FROM cpu_items WHERE id = ANY($1::int8[])", select_columns).c_str(),
        1, nullptr));
    std::int64_t round = 0;
    std::string array;
    for (auto _ : state) {
        const std::vector<std::int64_t> keys = hundred_keys(round++);
        array.clear();
        array += '{';
        for (std::int64_t key : keys) {
            append_int(key, array);
            array += ',';
        }
        array.back() = '}';
        const char* values[] = {array.c_str()};
        PGresult* res = PQexecPrepared(conn, "cpu_find_many", 1, values, nullptr, nullptr, 0);
        bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 100;
        std::vector<cpu_item> found(ok ? 100 : 0);
        for (int r = 0; ok && r < 100; ++r) {
            ok = decode_item(res, r, found[static_cast<std::size_t>(r)]);
        }
        PQclear(res);
        if (!ok) {
            state.SkipWithError("libpq find_many failed");
            break;
        }
        benchmark::DoNotOptimize(found.data());
    }
    PQfinish(conn);
}
BENCHMARK(cpu_libpq_find_many_100);

// ---- insert_many of 100k rows -------------------------------------------------------------

void cpu_insert_many_100k(benchmark::State& state) {
    ensure_tables();
    pgkit::repository<cpu_new_item> rows{one_connection_pool()};
    for (auto _ : state) {
        state.PauseTiming();
        reset_insert_table();
        state.ResumeTiming();
        auto stored = rows.insert_many(std::views::iota(std::int64_t{0}, insert_rows) |
                                       std::views::transform(make_item));
        if (!stored || *stored != static_cast<std::uint64_t>(insert_rows)) {
            state.SkipWithError("insert_many failed");
            return;
        }
    }
    state.SetItemsProcessed(state.iterations() * insert_rows);
}
BENCHMARK(cpu_insert_many_100k)->Iterations(5)->Unit(benchmark::kMillisecond);

void cpu_libpq_copy_100k(benchmark::State& state) {
    ensure_tables();
    PGconn* conn = libpq_connect();
    for (auto _ : state) {
        state.PauseTiming();
        reset_insert_table();
        state.ResumeTiming();
        PGresult* started =
            PQexec(conn, "COPY cpu_items_insert (id, name, score, amount, happened_at) FROM STDIN");
        bool ok = PQresultStatus(started) == PGRES_COPY_IN;
        PQclear(started);
        std::string buffer;
        buffer.reserve(300 * 1024);
        for (std::int64_t i = 0; ok && i < insert_rows; ++i) {
            const cpu_new_item row = make_item(i);
            append_int(row.id, buffer);
            buffer += '\t';
            append_copy_text(row.name, buffer);
            buffer += '\t';
            append_int(row.score, buffer);
            buffer += '\t';
            append_int(row.amount, buffer);
            buffer += '\t';
            append_timestamp(row.happened_at, buffer);
            buffer += '\n';
            if (buffer.size() >= 256 * 1024) {
                ok = PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) == 1;
                buffer.clear();
            }
        }
        ok = ok && PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) == 1;
        ok = ok && PQputCopyEnd(conn, nullptr) == 1;
        PGresult* finished = PQgetResult(conn);
        ok = ok && PQresultStatus(finished) == PGRES_COMMAND_OK &&
             std::string_view{PQcmdTuples(finished)} == std::to_string(insert_rows);
        PQclear(finished);
        while (PGresult* extra = PQgetResult(conn)) {
            PQclear(extra);
        }
        if (!ok) {
            state.SkipWithError("libpq COPY failed");
            break;
        }
    }
    PQfinish(conn);
    state.SetItemsProcessed(state.iterations() * insert_rows);
}
BENCHMARK(cpu_libpq_copy_100k)->Iterations(5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
