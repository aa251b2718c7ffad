// `--sandbox` for commands that parse files their user did not write (`info`, `eval`;
// `validate` runs the server's validator child directly): the same command line runs again,
// without --sandbox, as a child of challenge::run_sandboxed (its own process group, rlimits on
// address space / CPU / file size, no network where the kernel allows a network namespace,
// every inherited descriptor above stderr closed) that confines itself (challenge/confine.hpp)
// to reading the command's inputs and writing its output locations before it parses a
// command line option, let alone a file. A crafted file that crashes, hangs or exhausts the
// parser ends the child, never the caller; the caller prints what it wrote to stdout and says
// how it ended.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rb::cli {

// main() records its arguments here (argv[1..]), for rerun_sandboxed.
void set_command_line(int argc, char** argv);

// In the child: confine to what the parent allowed (environment RECONBENCH_SANDBOX_CHILD) and
// return true; false (and nothing done) in any other process. main() calls it first.
bool confine_if_sandbox_child();

struct SandboxAccess {
  std::vector<std::filesystem::path> read;   // files or directories (everything beneath)
  std::vector<std::filesystem::path> write;  // directories where files may be created
};

// Runs this process's command line again without `--sandbox`, sandboxed and confined to
// `access`; relays its stdout (stderr is shared) and returns its exit status. A child killed
// by a signal, the CPU limit or the wall-clock limit is a UserError naming what happened.
int rerun_sandboxed(const std::string& command, const SandboxAccess& access);

}  // namespace rb::cli
