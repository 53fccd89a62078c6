// Expected: "pgkit: the version column must be an integral type"
#include "entity_fixture.hpp"

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "customers";
    static constexpr auto columns =
        std::tuple{pgkit::column(&customer::id, "id"), pgkit::column(&customer::label, "label")};
    static constexpr auto primary_key = pgkit::key(&customer::id);
    static constexpr auto version = &customer::label;
};

static_assert(pgkit::detail::check_entity<customer>());
