// Expected: "pgkit: two columns have the same name"
#include "entity_fixture.hpp"

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "customers";
    static constexpr auto columns =
        std::tuple{pgkit::column(&customer::id, "id"), pgkit::column(&customer::email, "email"),
                   pgkit::column(&customer::label, "email")};
    static constexpr auto primary_key = pgkit::key(&customer::id);
};

static_assert(pgkit::detail::check_entity<customer>());
