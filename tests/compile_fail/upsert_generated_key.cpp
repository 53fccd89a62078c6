// Expected: "pgkit: upsert(row) arbitrates on the primary key, which insert never writes"
#include "entity_fixture.hpp"

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "customers";
    static constexpr auto columns = std::tuple{pgkit::column(&customer::id, "id", pgkit::generated),
                                               pgkit::column(&customer::email, "email")};
    static constexpr auto primary_key = pgkit::key(&customer::id);
};

// The key is an identity column: a new row never carries it, so ON CONFLICT (id) never fires.
auto upsert_by_key(const pgkit::repository<customer>& customers, const customer& row) {
    return customers.upsert(row);
}
