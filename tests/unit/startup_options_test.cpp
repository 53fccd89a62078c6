// libpq's `options` value read the way the server's pg_split_opts reads it, and pgkit's
// arguments escaped so that each comes back as exactly one argument. No server needed.
#include "startup_options.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using pgkit::detail::append_startup_setting;
using pgkit::detail::join_startup_options;
using pgkit::detail::split_startup_options;
using strings = std::vector<std::string>;

TEST_SUITE("connection") {
    TEST_CASE("connection: startup options split on every blank unless escaped") {
        CHECK(split_startup_options("") == strings{});
        CHECK(split_startup_options(" \t-c\va=b\f-c\rc=d\n") == strings{"-c", "a=b", "-c", "c=d"});
        CHECK(split_startup_options("-c a=b\\ c") == strings{"-c", "a=b c"});
        CHECK(split_startup_options("-c a=\\\\") == strings{"-c", "a=\\"});
        // A trailing lone backslash escapes nothing: it cannot swallow what pgkit appends.
        CHECK(split_startup_options("-c statement_timeout=5s\\") ==
              strings{"-c", "statement_timeout=5s"});
        CHECK(split_startup_options("\\") == strings{});
    }

    TEST_CASE("connection: an appended setting is one argument whatever its bytes") {
        std::string options = join_startup_options(split_startup_options("-c x=1\\"));
        append_startup_setting(options, "application_name", "svc\v-c\vwork_mem=77kB");
        append_startup_setting(options, "pgkit.note", "a\f-c\fb \\ \r\n\t\x85\xA0 end\\");
        CHECK(split_startup_options(options) ==
              strings{"-c", "x=1", "-c", "application_name=svc\v-c\vwork_mem=77kB", "-c",
                      "pgkit.note=a\f-c\fb \\ \r\n\t\x85\xA0 end\\"});
    }

    TEST_CASE("connection: joining and splitting startup arguments are inverses") {
        std::mt19937 random{20261201};
        const std::string alphabet = std::string{"ab-c=\\ \t\n\v\f\r"} + "\x85\xA0\xC3";
        for (int round = 0; round < 5000; ++round) {
            strings arguments(random() % 5);
            for (auto& argument : arguments) {
                const std::size_t length = 1 + random() % 8;
                for (std::size_t i = 0; i < length; ++i) {
                    argument += alphabet[random() % alphabet.size()];
                }
            }
            CAPTURE(round);
            CHECK(split_startup_options(join_startup_options(arguments)) == arguments);
        }
    }
}
