// Expected: a misspelt member in a typed filter is a compile error ("is not a member of").
#include "entity_fixture.hpp"

auto filter = pgkit::filters::eq(&customer::emial, std::string{"a@example.com"});
