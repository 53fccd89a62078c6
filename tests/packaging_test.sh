#!/usr/bin/env bash
# Checks that pgkit can be consumed the three supported ways:
#   1. find_package(pgkit) against an installed copy (cmake --install into a scratch prefix)
#   2. add_subdirectory(pgkit) from another project
#   3. pkg-config (pgkit.pc), including compiling and linking the consumer with its flags
#
#   tests/packaging_test.sh SOURCE_DIR SCRATCH_DIR [URL_FILE] [CMAKE_ARG...]
#
# SOURCE_DIR  pgkit's source tree (the consumer project is SOURCE_DIR/tests/consumer)
# SCRATCH_DIR where the builds and the install prefix go (wiped first)
# URL_FILE    a file holding a database URL (scripts/pg-server writes one); when it exists, or
#             else when PGKIT_TEST_DATABASE_URL is set, the consumer also connects and runs
#             SELECT 1. Pass "" or a missing path to skip that.
# CMAKE_ARG   passed to every configure step, e.g. -DCMAKE_CXX_COMPILER=g++-12,
#             -DCMAKE_PREFIX_PATH=/opt/pgkit-deps/libpqxx-7.10.7, -DBUILD_SHARED_LIBS=ON, -G Ninja
#
# PGKIT_PACKAGING_CHECKS picks what runs: "install" (1 and 3), "subdirectory" (2) or "all"
# (default). Builds use no build type (fastest to compile) and PGKIT_PACKAGING_JOBS (2) jobs.
set -euo pipefail

die() { echo "packaging_test: $*" >&2; exit 1; }
step() { echo; echo "==== packaging_test: $*"; }

[ $# -ge 2 ] || die "usage: packaging_test.sh SOURCE_DIR SCRATCH_DIR [URL_FILE] [CMAKE_ARG...]"
src=$(cd "$1" && pwd)
scratch=$2
url_file=${3:-}
shift $(( $# >= 3 ? 3 : 2 ))
extra_args=("$@")
jobs=${PGKIT_PACKAGING_JOBS:-2}
checks=${PGKIT_PACKAGING_CHECKS:-all}
case "$checks" in
all | install | subdirectory) ;;
*) die "PGKIT_PACKAGING_CHECKS must be all, install or subdirectory (not '$checks')" ;;
esac

if [ ! -f "$src/CMakeLists.txt" ] || [ ! -f "$src/tests/consumer/CMakeLists.txt" ]; then
    die "$src is not pgkit's source tree"
fi

case "$scratch" in
"" | / | "$src" | "$src/") die "refusing to use '$scratch' as the scratch directory" ;;
esac
rm -rf "$scratch"
mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
prefix=$scratch/prefix

url=""
if [ -n "$url_file" ] && [ -s "$url_file" ]; then
    url=$(head -n 1 "$url_file")
elif [ -n "${PGKIT_TEST_DATABASE_URL:-}" ]; then
    url=$PGKIT_TEST_DATABASE_URL
fi
if [ -n "$url" ]; then
    echo "packaging_test: the consumer will connect to the test database"
else
    echo "packaging_test: no database URL: the consumer's connection checks are skipped"
fi

# The tests run from a configured pgkit build; keep its settings out of the nested builds.
unset CMAKE_BUILD_TYPE CMAKE_INSTALL_PREFIX DESTDIR || true

if [ "$checks" != subdirectory ]; then
    step "configure, build and install pgkit into $prefix"
    cmake -S "$src" -B "$scratch/pgkit-build" \
        -DPGKIT_BUILD_TESTS=OFF -DPGKIT_BUILD_BENCHMARKS=OFF -DPGKIT_BUILD_EXAMPLES=OFF \
        -DPGKIT_INSTALL=ON -DCMAKE_INSTALL_PREFIX="$prefix" "${extra_args[@]}"
    cmake --build "$scratch/pgkit-build" -j "$jobs"
    cmake --install "$scratch/pgkit-build"

    version=$(sed -n 's/^#define PGKIT_VERSION_STRING "\(.*\)"$/\1/p' \
        "$prefix/include/pgkit/version.hpp")
    [ -n "$version" ] || die "no PGKIT_VERSION_STRING in the installed version.hpp"
    config=$(find "$prefix" -name pgkitConfig.cmake -print -quit)
    [ -n "$config" ] || die "no pgkitConfig.cmake installed"
    for f in pgkitConfigVersion.cmake pgkitTargets.cmake PgkitLibpqxx.cmake; do
        [ -f "$(dirname "$config")/$f" ] || die "$f is not installed next to pgkitConfig.cmake"
    done
    pc=$(find "$prefix" -name pgkit.pc -print -quit)
    [ -n "$pc" ] || die "no pgkit.pc installed"
    # The command-line tool, and the cluster script its embedded default starts.
    [ -x "$prefix/bin/pgkit" ] || die "the pgkit tool is not installed in bin/"
    [ -x "$prefix/libexec/pgkit/pg-server" ] || die "libexec/pgkit/pg-server is not installed"
    pgkit_libdir=$(dirname "$(find "$prefix" -name 'libpgkit.*' -print -quit)")
    LD_LIBRARY_PATH="$pgkit_libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$prefix/bin/pgkit" bench pagination --help >/dev/null ||
        die "the installed pgkit tool does not run"
    if grep -rqF "$scratch/pgkit-build" "$prefix" --include='*.cmake' --include='*.pc' \
        --include='*.hpp'; then
        die "installed files refer to the build directory"
    fi

    step "find_package(pgkit $version) consumer"
    CMAKE_PREFIX_PATH="$prefix${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}" \
        cmake -S "$src/tests/consumer" -B "$scratch/consumer-find-package" \
        -DPGKIT_CONSUMER_REQUIRE_VERSION="$version" "${extra_args[@]}"
    cmake --build "$scratch/consumer-find-package" -j "$jobs"
    "$scratch/consumer-find-package/pgkit_consumer" ${url:+"$url"}

    step "pkg-config pgkit"
    PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    export PKG_CONFIG_PATH
    pkg-config --exists --print-errors pgkit
    [ "$(pkg-config --modversion pgkit)" = "$version" ] || die "pkg-config reports another version"
    pkg-config --cflags --libs pgkit
    # A static libpgkit.a needs its Requires.private modules at link time. Their shared
    # libraries are enough (`--static` would also want libpq's static-only dependencies).
    pc_private=$(pkg-config --print-requires-private pgkit | awk '{print $1}' | xargs)
    [ "$pc_private" = "libpqxx libpq fmt libcrypto" ] || die "unexpected Requires.private: $pc_private"
    # shellcheck disable=SC2086  # pc_private is a list of module names
    pc_flags="$(pkg-config --cflags --libs pgkit) $(pkg-config --libs $pc_private)"
    cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$scratch/pgkit-build/CMakeCache.txt")
    [ -n "$cxx" ] || cxx=${CXX:-c++}
    # shellcheck disable=SC2086  # pc_flags is a list of flags
    "$cxx" -std=c++20 -o "$scratch/pgkit_consumer_pkgconfig" "$src/tests/consumer/main.cpp" \
        $pc_flags
    LD_LIBRARY_PATH="$(pkg-config --variable=libdir pgkit)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$scratch/pgkit_consumer_pkgconfig" ${url:+"$url"}
fi

if [ "$checks" != install ]; then
    step "add_subdirectory(pgkit) consumer"
    cmake -S "$src/tests/consumer" -B "$scratch/consumer-subdirectory" \
        -DPGKIT_CONSUMER_VIA_SUBDIRECTORY="$src" "${extra_args[@]}"
    cmake --build "$scratch/consumer-subdirectory" -j "$jobs"
    "$scratch/consumer-subdirectory/pgkit_consumer" ${url:+"$url"}
fi

step "all packaging checks passed"
