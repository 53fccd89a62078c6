#pragma once

// Test programs in processes of their own, for the kill -9 tests (backfill and migration
// workers): starting one and reaping it (the URL to hand them: test_database.hpp).

#include "test_database.hpp"

#include <doctest/doctest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace pgkit::test {

/// Starts `program` with `args`; its process id.
inline pid_t spawn_program(const char* program, const std::vector<std::string>& args) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(program));
    for (const std::string& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    REQUIRE(::posix_spawn(&pid, program, nullptr, nullptr, argv.data(), environ) == 0);
    return pid;
}

/// Waits for the process to end; its wait status.
inline int wait_for(pid_t pid) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

}  // namespace pgkit::test
