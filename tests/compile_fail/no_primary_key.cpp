// Expected: "pgkit: entity<E> needs a primary key"
#include "entity_fixture.hpp"

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "customers";
    static constexpr auto columns =
        std::tuple{pgkit::column(&customer::id, "id"), pgkit::column(&customer::email, "email")};
};

static_assert(pgkit::detail::check_entity<customer>());
