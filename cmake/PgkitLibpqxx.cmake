# Finds libpqxx and libpq and defines the imported target pgkit_deps::libpqxx.
#
# libpqxx 7.x/8.x install a CMake package (target libpqxx::pqxx); Debian 12's 6.4.5 ships only
# libpqxx.pc. Both routes end in the same target so nothing else in the build knows the difference.
# libpq is found too: the driver layer calls it directly for statement execution (see src/driver/).
include_guard(GLOBAL)

find_package(PostgreSQL QUIET)
if(NOT TARGET PostgreSQL::PostgreSQL)
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(PGKIT_LIBPQ REQUIRED IMPORTED_TARGET libpq)
    set(_pgkit_libpq PkgConfig::PGKIT_LIBPQ)
else()
    set(_pgkit_libpq PostgreSQL::PostgreSQL)
endif()

find_package(libpqxx CONFIG QUIET)
if(TARGET libpqxx::pqxx)
    set(_pgkit_pqxx libpqxx::pqxx)
    set(PGKIT_LIBPQXX_VERSION "${libpqxx_VERSION}")
    set(PGKIT_LIBPQXX_FOUND_VIA "CMake package")
else()
    find_package(PkgConfig REQUIRED)
    pkg_check_modules(PGKIT_PQXX REQUIRED IMPORTED_TARGET libpqxx>=6.4)
    set(_pgkit_pqxx PkgConfig::PGKIT_PQXX)
    set(PGKIT_LIBPQXX_VERSION "${PGKIT_PQXX_VERSION}")
    set(PGKIT_LIBPQXX_FOUND_VIA "pkg-config")
endif()

if(NOT TARGET pgkit_deps::libpqxx)
    add_library(pgkit_deps::libpqxx INTERFACE IMPORTED GLOBAL)
    target_link_libraries(pgkit_deps::libpqxx INTERFACE ${_pgkit_pqxx} ${_pgkit_libpq})
endif()
message(STATUS "pgkit: libpqxx ${PGKIT_LIBPQXX_VERSION} (via ${PGKIT_LIBPQXX_FOUND_VIA})")
