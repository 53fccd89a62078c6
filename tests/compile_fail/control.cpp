// Compiles: the fixture entity described correctly, so the failures below fail for their own
// reason and not for the harness's.
#include "entity_fixture.hpp"

template <>
struct pgkit::entity<customer> {
    static constexpr std::string_view table = "customers";
    static constexpr auto columns = std::tuple{pgkit::column(&customer::id, "id", pgkit::generated),
                                               pgkit::column(&customer::email, "email"),
                                               pgkit::column(&customer::version, "version"),
                                               pgkit::column(&customer::deleted_at, "deleted_at")};
    static constexpr auto primary_key = pgkit::key(&customer::id);
    static constexpr auto version = &customer::version;
    static constexpr auto soft_delete = &customer::deleted_at;
};

static_assert(pgkit::detail::check_entity<customer>());
auto filter = pgkit::filters::eq(&customer::email, std::string{"a@example.com"});
// upsert on another unique key compiles where upsert(row) on the generated key does not.
auto upsert_by_email(const pgkit::repository<customer>& customers, const customer& row) {
    return customers.upsert(row, {.columns = {&customer::email}});
}
