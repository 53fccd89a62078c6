#include "pagination_bench/strategies.hpp"

#include "pgkit/detail/cursor_reader.hpp"
#include "pgkit/detail/executor.hpp"
#include "pgkit/detail/keyset_pages.hpp"
#include "pgkit/round_trips.hpp"

#include "pagination/keyset_sql.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <utility>

namespace pgkit::tools {

namespace {

constexpr std::array strategy_names{
    std::string_view{"offset"},           std::string_view{"offset_deferred_join"},
    std::string_view{"keyset_row_value"}, std::string_view{"keyset_expanded"},
    std::string_view{"server_cursor"},    std::string_view{"page_at_handover"},
};

/// Times `fn` and counts this thread's round trips while it runs.
template <class F>
result<fetched_page> measured(F&& fn) {
    const auto rt = thread_round_trips();
    const auto start = std::chrono::steady_clock::now();
    auto keys = fn();
    const auto end = std::chrono::steady_clock::now();
    if (!keys) {
        return tl::unexpected(std::move(keys).error());
    }
    fetched_page out;
    out.keys = std::move(*keys);
    out.ms = std::chrono::duration<double, std::milli>(end - start).count();
    out.round_trips = thread_round_trips() - rt;
    return out;
}

std::vector<std::string> keys_of(const detail::raw_page& page, const table_model& model) {
    std::vector<std::string> out;
    out.reserve(page.order.size());
    for (std::size_t index : page.order) {
        out.push_back(key_of_row(page.rows[index], model.key));
    }
    return out;
}

/// The pages of pgkit's page machinery (offset and keyset) for one table and one seek form.
class page_source {
  public:
    page_source(const bench_target& target, detail::seek_form form)
        : target_(target), exec_(target.reads), form_(form) {}

    [[nodiscard]] detail::page_query_input input() const {
        return {target_.model.sql,
                detail::row_scope::all,
                target_.model.condition,
                target_.model.condition_params,
                target_.key.get(),
                cache_,
                form_};
    }
    [[nodiscard]] offset_page_request offset_request(std::int64_t page_number,
                                                     std::size_t size,
                                                     std::int64_t max_offset,
                                                     bool deferred) const {
        offset_page_request request;
        request.order_by = target_.model.order_by;
        request.page_number = page_number;
        request.page_size = size;
        request.max_offset = max_offset;
        request.deferred_join = deferred;
        return request;
    }
    [[nodiscard]] page_request keyset_request(std::size_t size, const std::string& after) const {
        page_request request;
        request.order_by = target_.model.order_by;
        request.first = size;
        request.after = after;
        return request;
    }
    /// The keyset cursor before row `start_row` ("" at the start): the next cursor of the
    /// offset page that ends there (not timed; at any depth).
    [[nodiscard]] result<std::string> cursor_at(std::uint64_t start_row, std::size_t size) const {
        if (start_row == 0) {
            return std::string{};
        }
        auto page =
            detail::fetch_offset_page(exec_, input(),
                                      offset_request(static_cast<std::int64_t>(start_row / size),
                                                     size, unbounded_offset, false));
        if (!page) {
            return tl::unexpected(std::move(page).error());
        }
        return std::move(page->next_cursor);
    }

    const bench_target& target_;
    detail::executor exec_;
    detail::seek_form form_;
    mutable detail::keyset_cache cache_;
};

class offset_walker final : public walker {
  public:
    offset_walker(const bench_target& target, std::size_t size, std::uint64_t start, bool deferred)
        : source_(target, detail::seek_form::automatic),
          size_(size),
          page_number_(static_cast<std::int64_t>(start / size) + 1),
          deferred_(deferred) {}

    result<fetched_page> next() override {
        if (done_) {
            return fetched_page{};
        }
        return measured([&]() -> result<std::vector<std::string>> {
            auto page = detail::fetch_offset_page(source_.exec_, source_.input(), request());
            if (!page) {
                return tl::unexpected(std::move(page).error());
            }
            done_ = !page->has_next;
            ++page_number_;
            return keys_of(*page, source_.target_.model);
        });
    }
    result<page_plan> explain_next() override {
        return detail::explain_offset_page(source_.exec_, source_.input(), request(), true);
    }

  private:
    [[nodiscard]] offset_page_request request() const {
        return source_.offset_request(page_number_, size_, unbounded_offset, deferred_);
    }
    page_source source_;
    std::size_t size_;
    std::int64_t page_number_;
    bool deferred_;
    bool done_ = false;
};

/// Keyset pages; with `handover`, page_at (its default max_offset) until the offset passes it,
/// then keyset pages from the last numbered page's next_cursor.
class keyset_walker final : public walker {
  public:
    keyset_walker(const bench_target& target,
                  detail::seek_form form,
                  std::size_t size,
                  std::uint64_t start,
                  bool handover)
        : source_(target, form),
          size_(size),
          page_number_(static_cast<std::int64_t>(start / size) + 1),
          handover_(handover) {}

    [[nodiscard]] result<void> position(std::uint64_t start) {
        if (handover_ && numbered()) {
            return {};
        }
        auto cursor = source_.cursor_at(start, size_);
        if (!cursor) {
            return tl::unexpected(std::move(cursor).error());
        }
        cursor_ = std::move(*cursor);
        return {};
    }

    result<fetched_page> next() override {
        if (done_) {
            return fetched_page{};
        }
        return measured([&]() -> result<std::vector<std::string>> {
            auto page =
                numbered()
                    ? detail::fetch_offset_page(source_.exec_, source_.input(), numbered_request())
                    : detail::fetch_keyset_page(source_.exec_, source_.input(),
                                                source_.keyset_request(size_, cursor_));
            if (!page) {
                return tl::unexpected(std::move(page).error());
            }
            done_ = !page->has_next;
            if (!page->next_cursor.empty()) {
                cursor_ = std::move(page->next_cursor);
            }
            ++page_number_;
            return keys_of(*page, source_.target_.model);
        });
    }
    result<page_plan> explain_next() override {
        if (numbered()) {
            return detail::explain_offset_page(source_.exec_, source_.input(), numbered_request(),
                                               true);
        }
        return detail::explain_keyset_page(source_.exec_, source_.input(),
                                           source_.keyset_request(size_, cursor_), true);
    }

  private:
    /// Whether the next page is one page_at still serves (handover only).
    [[nodiscard]] bool numbered() const {
        const offset_page_request defaults{};
        return handover_ &&
               (page_number_ - 1) * static_cast<std::int64_t>(size_) <= defaults.max_offset;
    }
    [[nodiscard]] offset_page_request numbered_request() const {
        return source_.offset_request(page_number_, size_, offset_page_request{}.max_offset, false);
    }
    page_source source_;
    std::size_t size_;
    std::int64_t page_number_;
    bool handover_;
    std::string cursor_;
    bool done_ = false;
};

class cursor_walker final : public walker {
  public:
    cursor_walker(const bench_target& target, std::size_t size) : target_(target), size_(size) {
        static std::atomic<unsigned> next_id{1};
        application_name_ =
            fmt::format("pgkit-bench-cursor-{}-{}", static_cast<long>(::getpid()), next_id++);
    }

    [[nodiscard]] result<void> open(std::uint64_t start) {
        pool_options options;
        options.connection = target_.connection;
        options.connection.application_name = application_name_;
        options.session = target_.reads->options().session;
        options.max_size = 1;
        auto created = pool::create(std::move(options));
        if (!created) {
            return tl::unexpected(std::move(created).error());
        }
        pool_ = std::move(*created);
        auto reader = detail::cursor_reader::open(detail::executor{pool_}, select_sql(),
                                                  target_.model.condition_params, size_);
        if (!reader) {
            return tl::unexpected(std::move(reader).error());
        }
        reader_.emplace(std::move(*reader));
        auto moved = reader_->skip(start);
        if (!moved) {
            return tl::unexpected(std::move(moved).error());
        }
        return {};
    }

    result<fetched_page> next() override {
        return measured([&]() -> result<std::vector<std::string>> {
            auto rows = reader_->next();
            if (!rows) {
                return tl::unexpected(std::move(rows).error());
            }
            std::vector<std::string> keys;
            keys.reserve(rows->size());
            for (const row& r : *rows) {
                keys.push_back(key_of_row(r, target_.model.key));
            }
            return keys;
        });
    }
    result<page_plan> explain_next() override {
        // A FETCH cannot be explained: the plan is the cursor's, chosen for a cursor (the
        // planner assumes cursor_tuple_fraction of the rows are read).
        return detail::explain_statement(detail::executor{target_.reads}, select_sql(),
                                         target_.model.condition_params, false);
    }
    result<std::optional<server_cost>> cost() override {
        auto rows = detail::executor{target_.reads}.read(
            "SELECT (extract(epoch FROM now() - xact_start) * 1000)::float8, "
            "age(backend_xmin)::int8 FROM pg_catalog.pg_stat_activity "
            "WHERE application_name = $1 AND backend_xmin IS NOT NULL",
            parameters{application_name_}, false);
        if (!rows) {
            return tl::unexpected(std::move(rows).error());
        }
        if (rows->empty()) {
            return make_error(errc::internal,
                              "server_cursor: its session is not in pg_stat_activity");
        }
        auto fields = (*rows)[0].as<double, std::int64_t>();
        if (!fields) {
            return tl::unexpected(std::move(fields).error());
        }
        return server_cost{std::get<0>(*fields), std::get<1>(*fields)};
    }
    result<void> close() override {
        if (!reader_) {
            return {};
        }
        auto closed = reader_->close();
        reader_.reset();
        return closed;
    }
    ~cursor_walker() override {
        reader_.reset();
        if (pool_) {
            (void)pool_->close();
        }
    }

  private:
    [[nodiscard]] std::string select_sql() const {
        const auto& s = target_.model.sql;
        return "SELECT " + s.select_list + " FROM " + s.qualified_table + target_.model.condition +
               " ORDER BY " + target_.model.ordering_text();
    }
    const bench_target& target_;
    std::size_t size_;
    std::string application_name_;
    std::shared_ptr<pool> pool_;
    std::optional<detail::cursor_reader> reader_;
};

}  // namespace

std::string_view name_of(strategy s) noexcept {
    return strategy_names[static_cast<std::size_t>(s)];
}

std::optional<strategy> strategy_named(std::string_view name) noexcept {
    for (auto s : all_strategies) {
        if (name_of(s) == name) {
            return s;
        }
    }
    return std::nullopt;
}

result<std::unique_ptr<walker>> open_walker(const bench_target& target,
                                            strategy s,
                                            std::size_t page_size,
                                            std::uint64_t start_row) {
    if (page_size == 0 || page_size > max_page_size) {
        return make_error(errc::invalid_argument,
                          fmt::format("page size must be between 1 and {}", max_page_size));
    }
    start_row -= start_row % page_size;
    switch (s) {
        case strategy::offset:
        case strategy::deferred_join:
            return std::make_unique<offset_walker>(target, page_size, start_row,
                                                   s == strategy::deferred_join);
        case strategy::keyset_row_value:
        case strategy::keyset_expanded:
        case strategy::page_at_handover: {
            const auto form = s == strategy::keyset_row_value  ? detail::seek_form::row_value
                              : s == strategy::keyset_expanded ? detail::seek_form::expanded
                                                               : detail::seek_form::automatic;
            auto out = std::make_unique<keyset_walker>(target, form, page_size, start_row,
                                                       s == strategy::page_at_handover);
            if (auto positioned = out->position(start_row); !positioned) {
                return tl::unexpected(std::move(positioned).error());
            }
            return out;
        }
        case strategy::server_cursor: {
            auto out = std::make_unique<cursor_walker>(target, page_size);
            if (auto opened = out->open(start_row); !opened) {
                return tl::unexpected(std::move(opened).error());
            }
            return out;
        }
    }
    return make_error(errc::invalid_argument, "unknown strategy");
}

}  // namespace pgkit::tools
