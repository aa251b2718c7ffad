#include "reconbench/cli/sandboxed.hpp"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/confine.hpp"
#include "reconbench/challenge/sandbox.hpp"
#include "reconbench/core/error.hpp"

namespace rb::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSandboxChildEnv = "RECONBENCH_SANDBOX_CHILD";

std::vector<std::string>& command_line() {
  static std::vector<std::string> args;
  return args;
}

// Generous for a local command (full-size volumes), still finite for a hostile file.
challenge::SandboxLimits local_limits() {
  challenge::SandboxLimits l;
  l.wall_s = 3600;
  l.cpu_s = 3600;
  l.memory_bytes = int64_t(16) << 30;
  l.file_bytes = int64_t(16) << 30;
  l.max_output = int64_t(256) << 20;
  return l;
}

}  // namespace

void set_command_line(int argc, char** argv) {
  command_line().assign(argv + 1, argv + argc);
}

bool confine_if_sandbox_child() {
  const char* spec = std::getenv(kSandboxChildEnv);
  if (!spec) return false;
  try {
    const auto j = nlohmann::json::parse(spec);
    std::vector<fs::path> read, write;
    for (const auto& p : j.at("read")) read.emplace_back(p.get<std::string>());
    for (const auto& p : j.at("write")) write.emplace_back(p.get<std::string>());
    challenge::confine_to(read, challenge::chosen_confinement(), write);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "reconbench: cannot confine the sandboxed command: %s\n", e.what());
    std::exit(2);
  }
  return true;
}

int rerun_sandboxed(const std::string& command, const SandboxAccess& access) {
  std::vector<std::string> argv = {"/proc/self/exe"};
  for (const auto& a : command_line())
    if (a != "--sandbox") argv.push_back(a);
  nlohmann::json spec = {{"read", nlohmann::json::array()}, {"write", nlohmann::json::array()}};
  for (const auto& p : access.read) {
    RB_CHECK(fs::exists(p), p.string(), ": no such file or directory");
    spec["read"].push_back(fs::absolute(p).lexically_normal().string());
  }
  for (const auto& d : access.write) {
    fs::create_directories(d);
    spec["write"].push_back(fs::absolute(d).lexically_normal().string());
  }
  const auto limits = local_limits();
  const auto r = challenge::run_sandboxed(argv, "", limits, {std::string(kSandboxChildEnv) + "=" + spec.dump()});
  RB_CHECK(r.started, "reconbench ", command, " --sandbox: cannot start the sandboxed process (", r.start_error, ")");
  std::cout << r.output << std::flush;
  RB_CHECK(!r.output_truncated, "reconbench ", command, " --sandbox: output beyond ",
           limits.max_output >> 20, " MiB was discarded");
  RB_CHECK(!r.timed_out, "the sandboxed ", command, " did not finish within ", limits.wall_s,
           " s (stopped); a file it read may be crafted to hang the HDF5 parser");
  if (r.signal == SIGXCPU)
    throw UserError("the sandboxed " + command + " used more than " + std::to_string(int(limits.cpu_s)) +
                    " s of CPU time (stopped)");
  if (r.signal != 0)
    throw UserError("the sandboxed " + command + " was killed by signal " + std::to_string(r.signal) + " (" +
                    strsignal(r.signal) + ") while reading its input: a file it read is malformed or "
                    "crafted to crash the HDF5 parser");
  return r.exit_code;
}

}  // namespace rb::cli
