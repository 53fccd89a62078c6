# An overlay port for pgkit (vcpkg install pgkit --overlay-ports=<pgkit>/ports).
#
# The source is the checkout this port lives in (two directories up): the port is for building
# pgkit from a clone, before any release exists to download. A port in a registry would use
# vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO <owner>/pgkit REF v${VERSION} SHA512 ...)
# instead of the line below.
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

# pgkit builds a static or a shared library following BUILD_SHARED_LIBS, which
# vcpkg_cmake_configure sets from the triplet's VCPKG_LIBRARY_LINKAGE.
vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        -DPGKIT_BUILD_TESTS=OFF
        -DPGKIT_BUILD_BENCHMARKS=OFF
        -DPGKIT_BUILD_EXAMPLES=OFF
        # The library only: the `pgkit` tool (tools/, CLI11) is built from a source checkout.
        -DPGKIT_BUILD_TOOLS=OFF
        -DPGKIT_INSTALL=ON
        # Where vcpkg keeps CMake packages: the config needs no moving, and its relative
        # paths (configure_package_config_file) are right from the start.
        -DPGKIT_INSTALL_CMAKEDIR=share/pgkit
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(PACKAGE_NAME pgkit CONFIG_PATH share/pgkit)
vcpkg_fixup_pkgconfig()

# Headers and CMake files are installed once, by the release build.
file(REMOVE_RECURSE
    "${CURRENT_PACKAGES_DIR}/debug/include"
    "${CURRENT_PACKAGES_DIR}/debug/share")

file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
