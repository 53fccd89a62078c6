// Expected: "pgkit: a table, schema or column name is longer than 63 bytes"
#include "entity_fixture.hpp"

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "customers";
    static constexpr auto columns = std::tuple{
        pgkit::column(&customer::id, "id"),
        // 64 bytes: PostgreSQL would truncate it and the statements would name another column.
        pgkit::column(&customer::email,
                      "email_address_of_the_customer_as_entered_at_sign_up_and_verified")};
    static constexpr auto primary_key = pgkit::key(&customer::id);
};

static_assert(pgkit::detail::check_entity<customer>());
