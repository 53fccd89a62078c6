"""Conan 2 recipe for pgkit: `conan create . -s compiler.cppstd=20` builds and packages it with
CMakeToolchain and CMakeDeps; consumers `requires("pgkit/0.1.0")` and get the CMake target
pgkit::pgkit (and a pgkit.pc through PkgConfigDeps). docs/packaging.md says what was checked
without Conan."""
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, rmdir
import os


class PgkitConan(ConanFile):
    name = "pgkit"
    version = "0.1.0"
    description = "Embeddable C++20 data-access library for PostgreSQL"
    license = "MIT"
    topics = ("postgresql", "database", "libpqxx", "orm", "pagination")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {"shared": [True, False], "fPIC": [True, False]}
    default_options = {"shared": False, "fPIC": True}
    # Exactly what the library's build and install need (tests, benchmarks, examples and the
    # command-line tool off);
    # scripts/check-packaging-recipes builds a copy of only these.
    exports_sources = (
        "CMakeLists.txt",
        "LICENSE",
        "cmake/*",
        "include/*",
        "src/*",
    )

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # tl-expected is part of pgkit's public API (pgkit::result<T>): consumers see it.
        self.requires("tl-expected/1.1.0", transitive_headers=True)
        # Any 7.10 patch release: the libpqxx pgkit is checked against (scripts/check-libpqxx7).
        self.requires("libpqxx/[>=7.10 <7.11]")
        self.requires("fmt/10.2.1")
        self.requires("openssl/[>=3 <4]")

    def validate(self):
        from conan.tools.build import check_min_cppstd
        check_min_cppstd(self, 20)

    def generate(self):
        toolchain = CMakeToolchain(self)
        toolchain.cache_variables["PGKIT_BUILD_TESTS"] = False
        toolchain.cache_variables["PGKIT_BUILD_BENCHMARKS"] = False
        toolchain.cache_variables["PGKIT_BUILD_EXAMPLES"] = False
        # The library only: the `pgkit` tool (tools/, CLI11) is built from a source checkout.
        toolchain.cache_variables["PGKIT_BUILD_TOOLS"] = False
        toolchain.cache_variables["PGKIT_INSTALL"] = True
        toolchain.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        CMake(self).install()
        # Consumers get CMakeDeps' and PkgConfigDeps' files generated from package_info(); pgkit's
        # own pgkitConfig.cmake and pgkit.pc would only compete with them (and ConanCenter's
        # hooks reject packaged CMake config files).
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))

    def package_info(self):
        # Conan generates the consumers' CMake and pkg-config files from this (package() drops
        # pgkit's own).
        self.cpp_info.set_property("cmake_file_name", "pgkit")
        self.cpp_info.set_property("cmake_target_name", "pgkit::pgkit")
        self.cpp_info.set_property("pkg_config_name", "pgkit")
        self.cpp_info.libs = ["pgkit"]
        # "<dep>::<dep>": the whole dependency; OpenSSL's recipe has components, and pgkit needs
        # only libcrypto.
        self.cpp_info.requires = [
            "tl-expected::tl-expected",
            "libpqxx::libpqxx",
            "fmt::fmt",
            "openssl::crypto",
        ]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
