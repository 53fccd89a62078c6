#include "pgkit/version.hpp"

namespace pgkit {

const char* version() noexcept {
    return PGKIT_VERSION_STRING;
}

}  // namespace pgkit
