# Install rules: the library, its public headers (with the generated version.hpp), a CMake package
# (find_package(pgkit) -> pgkit::pgkit) and a pkg-config file. Included by the top-level
# CMakeLists.txt when PGKIT_INSTALL is ON (the default only when pgkit is the top-level project).
#
#   <prefix>/include/pgkit/...                       public headers
#   <prefix>/<libdir>/libpgkit.a (or .so)
#   <prefix>/<libdir>/cmake/pgkit/pgkitConfig.cmake   + ConfigVersion, Targets, PgkitLibpqxx.cmake
#   <prefix>/<libdir>/pkgconfig/pgkit.pc
#
# Everything installed is relocatable: no file records the build machine's paths.
include_guard(GLOBAL)

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(PGKIT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/pgkit"
    CACHE STRING "Where pgkit's CMake package files are installed (relative to the prefix)")
mark_as_advanced(PGKIT_INSTALL_CMAKEDIR)

install(TARGETS pgkit
    EXPORT pgkitTargets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT pgkit_development
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT pgkit_runtime
        NAMELINK_COMPONENT pgkit_development
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT pgkit_runtime
    FILE_SET HEADERS DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT pgkit_development)

install(EXPORT pgkitTargets
    NAMESPACE pgkit::
    DESTINATION "${PGKIT_INSTALL_CMAKEDIR}"
    COMPONENT pgkit_development)

# The package config finds again exactly the dependencies the export names: the public ones
# (tl::expected) and, for a static pgkit, the private ones its archive needs at the consumer's
# link step ($<LINK_ONLY:fmt::fmt>, $<LINK_ONLY:pgkit_deps::libpqxx>). A shared pgkit records
# its private dependencies in its own DT_NEEDED entries, so its consumers need none of them.
get_target_property(_pgkit_exported_links pgkit INTERFACE_LINK_LIBRARIES)
if(NOT _pgkit_exported_links)
    set(_pgkit_exported_links "")
endif()
string(REGEX REPLACE "\\$<LINK_ONLY:([^>]*)>" "\\1" _pgkit_exported_links
    "${_pgkit_exported_links}")
set(PGKIT_CONFIG_FIND_FMT OFF)
set(PGKIT_CONFIG_FIND_LIBPQXX OFF)
set(PGKIT_CONFIG_FIND_THREADS OFF)
set(PGKIT_CONFIG_FIND_OPENSSL OFF)
foreach(_pgkit_link IN LISTS _pgkit_exported_links)
    if(_pgkit_link STREQUAL "tl::expected")
        # always found: pgkit's public headers include <tl/expected.hpp>
    elseif(_pgkit_link STREQUAL "fmt::fmt" OR _pgkit_link STREQUAL "fmt::fmt-header-only")
        set(PGKIT_CONFIG_FIND_FMT ON)
    elseif(_pgkit_link STREQUAL "pgkit_deps::libpqxx")
        set(PGKIT_CONFIG_FIND_LIBPQXX ON)
    elseif(_pgkit_link STREQUAL "Threads::Threads")
        set(PGKIT_CONFIG_FIND_THREADS ON)
    elseif(_pgkit_link STREQUAL "OpenSSL::Crypto")
        set(PGKIT_CONFIG_FIND_OPENSSL ON)
    elseif(_pgkit_link MATCHES "::")
        message(WARNING "pgkit links ${_pgkit_link}, which cmake/pgkitConfig.cmake.in does not "
                        "find for consumers of the installed package: add it there")
    endif()
endforeach()
unset(_pgkit_link)
unset(_pgkit_exported_links)

configure_package_config_file(
    "${PROJECT_SOURCE_DIR}/cmake/pgkitConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/pgkitConfig.cmake"
    INSTALL_DESTINATION "${PGKIT_INSTALL_CMAKEDIR}"
    NO_SET_AND_CHECK_MACRO)
write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/pgkitConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}"
    COMPATIBILITY SameMajorVersion)
install(FILES
        "${PROJECT_BINARY_DIR}/pgkitConfig.cmake"
        "${PROJECT_BINARY_DIR}/pgkitConfigVersion.cmake"
        "${PROJECT_SOURCE_DIR}/cmake/PgkitLibpqxx.cmake"
    DESTINATION "${PGKIT_INSTALL_CMAKEDIR}"
    COMPONENT pgkit_development)

# pkg-config: paths are derived from the .pc file's own location (${pcfiledir}) so the prefix can
# be moved (cmake --install --prefix, DESTDIR, packaging); absolute install dirs are kept as given.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(PGKIT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
    file(RELATIVE_PATH _pgkit_pc_up "/pgkit-root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/pgkit-root")
    string(REGEX REPLACE "/$" "" _pgkit_pc_up "${_pgkit_pc_up}")
    set(PGKIT_PC_PREFIX "\${pcfiledir}/${_pgkit_pc_up}")
    unset(_pgkit_pc_up)
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
    set(PGKIT_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
    set(PGKIT_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(PGKIT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
    set(PGKIT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/pgkit.pc.in" "${PROJECT_BINARY_DIR}/pgkit.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/pgkit.pc"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    COMPONENT pgkit_development)
