// Expected: "pgkit: the soft-delete column must be std::optional<sys_time<...>>"
#include "entity_fixture.hpp"

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "customers";
    static constexpr auto columns = std::tuple{pgkit::column(&customer::id, "id"),
                                               pgkit::column(&customer::retired, "retired")};
    static constexpr auto primary_key = pgkit::key(&customer::id);
    static constexpr auto soft_delete = &customer::retired;
};

static_assert(pgkit::detail::check_entity<customer>());
