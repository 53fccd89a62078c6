#pragma once

// A valid entity that the compile-fail cases break one way each (see tests/CMakeLists.txt).

#include "pgkit/entity.hpp"
#include "pgkit/filter.hpp"
#include "pgkit/repository.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

struct customer {
    std::int64_t id = 0;
    std::string email;
    std::int64_t version = 0;
    std::optional<std::chrono::system_clock::time_point> deleted_at;
    std::optional<int> retired;
    std::string label;
};
