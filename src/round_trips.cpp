#include "pgkit/round_trips.hpp"

#include <fmt/format.h>

#include <utility>

namespace pgkit {
namespace {

thread_local std::uint64_t round_trips_on_thread = 0;

}  // namespace

std::uint64_t thread_round_trips() noexcept {
    return round_trips_on_thread;
}

void detail::count_thread_round_trip() noexcept {
    ++round_trips_on_thread;
}

round_trip_budget::round_trip_budget(std::uint64_t allowed,
                                     exceeded_handler on_exceeded,
                                     std::source_location where)
    : allowed_(allowed),
      start_(round_trips_on_thread),
      on_exceeded_(std::move(on_exceeded)),
      where_(where) {}

round_trip_budget::~round_trip_budget() {
    if (!on_exceeded_) {
        return;
    }
    if (auto within = check(); !within) {
        on_exceeded_(within.error());
    }
}

std::uint64_t round_trip_budget::used() const noexcept {
    return round_trips_on_thread - start_;
}

result<void> round_trip_budget::check() const {
    const std::uint64_t made = used();
    if (made <= allowed_) {
        return {};
    }
    return make_error(
        errc::round_trip_budget_exceeded,
        fmt::format("{} round trips where {} {} allowed (budget made at {}:{})", made, allowed_,
                    allowed_ == 1 ? "was" : "were", where_.file_name(), where_.line()));
}

}  // namespace pgkit
