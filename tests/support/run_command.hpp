#pragma once

// Running a program to completion with its output captured: the topology tests and benchmarks
// use it for the topology scripts (scripts/pg-formation), psql and pgbench. No test framework
// here, so benchmarks can include it too.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace pgkit::test {

/// A program's exit status (128 + the signal when one ended it, -1 when it never ran) and its
/// output.
struct command_result {
    int status = -1;
    std::string output;
};

/// Runs `args` under timeout(1), killed `limit` after its start (and 10 s later if it ignores
/// that), with standard input from /dev/null and its standard output and error captured together
/// (error discarded when `quiet_errors`).
inline command_result run_command(const std::vector<std::string>& args,
                                  std::chrono::seconds limit,
                                  bool quiet_errors = false) {
    char path[] = "/tmp/pgkit-command.XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) {
        return {.status = -1, .output = "cannot create a file for the command's output"};
    }
    std::vector<std::string> full{"timeout", "-k", "10", std::to_string(limit.count())};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : full) {
        argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
    if (quiet_errors) {
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    } else {
        posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
    }
    posix_spawn_file_actions_addclose(&actions, fd);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    command_result out;
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, "timeout", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fd);
    if (spawned == 0) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    {
        std::ifstream in{path};
        std::stringstream text;
        text << in.rdbuf();
        out.output = text.str();
    }
    std::filesystem::remove(path);
    return out;
}

}  // namespace pgkit::test
