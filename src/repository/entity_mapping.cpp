#include "pgkit/detail/entity_mapping.hpp"

#include <fmt/format.h>

namespace pgkit::detail {

error row_width_error(std::string_view table, std::size_t columns, std::size_t needed) {
    return error{errc::type_mismatch,
                 fmt::format("a row of {} columns cannot hold a {} row ({} columns)", columns,
                             table, needed)};
}

}  // namespace pgkit::detail
