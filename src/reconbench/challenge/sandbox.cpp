#include "reconbench/challenge/sandbox.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <sstream>
#include <string_view>
#include <thread>

#include "reconbench/challenge/confine.hpp"
#include "reconbench/challenge/h5.hpp"
#include "reconbench/core/error.hpp"

extern char** environ;

namespace rb::challenge {

namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void set_limit(int resource, rlim_t soft, rlim_t hard) {
  struct rlimit rl;
  rl.rlim_cur = soft;
  rl.rlim_max = hard;
  setrlimit(resource, &rl);  // async-signal-safe; a failure leaves the inherited limit
}

// Writes all of `data` to fd without dying of SIGPIPE when the reader is gone.
void write_input(int fd, const std::string& data) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  size_t off = 0;
  bool broken = false;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      broken = errno == EPIPE;
      break;
    }
    off += static_cast<size_t>(n);
  }
  if (broken) {  // consume the SIGPIPE this thread raised before unblocking it
    struct timespec zero = {0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

// open + write + close only (async-signal-safe: used between fork and execve).
void write_proc_file(const char* path, std::string_view text) {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  const ssize_t n = ::write(fd, text.data(), text.size());
  (void)n;
  ::close(fd);
}

std::string signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGABRT: return "SIGABRT";
    case SIGILL: return "SIGILL";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    default: return "signal " + std::to_string(sig);
  }
}

}  // namespace

SandboxResult run_sandboxed(const std::vector<std::string>& argv, const std::string& input,
                            const SandboxLimits& limits, const std::vector<std::string>& extra_env) {
  SandboxResult res;
  RB_ASSERT(!argv.empty());
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) env_store.emplace_back(*e);
  for (const auto& e : extra_env) env_store.push_back(e);
  std::vector<char*> cenv;
  for (auto& e : env_store) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  const rlim_t cpu = static_cast<rlim_t>(std::max(1.0, limits.cpu_s));
  // Identity uid/gid maps for the child's user namespace (written with plain write(2) after
  // fork): a mapped user can nest the namespace the confinement fallback needs (confine.hpp).
  const std::string uid_map = std::to_string(::geteuid()) + " " + std::to_string(::geteuid()) + " 1\n";
  const std::string gid_map = std::to_string(::getegid()) + " " + std::to_string(::getegid()) + " 1\n";

  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    res.start_error = std::string("pipe: ") + std::strerror(errno);
    return res;
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    res.start_error = std::string("pipe: ") + std::strerror(errno);
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return res;
  }
  const pid_t parent = ::getpid();
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    res.start_error = std::string("fork: ") + std::strerror(errno);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) ::close(fd);
    return res;
  }
  if (pid == 0) {
    // ---- child: async-signal-safe calls only until execve
    ::setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(125);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {  // no network where allowed
      write_proc_file("/proc/self/uid_map", uid_map);
      write_proc_file("/proc/self/setgroups", "deny");
      write_proc_file("/proc/self/gid_map", gid_map);
    }
    if (limits.memory_bytes > 0 && !kSandboxSanitized)
      set_limit(RLIMIT_AS, static_cast<rlim_t>(limits.memory_bytes), static_cast<rlim_t>(limits.memory_bytes));
    set_limit(RLIMIT_CPU, cpu, cpu + 1);
    set_limit(RLIMIT_FSIZE, static_cast<rlim_t>(limits.file_bytes), static_cast<rlim_t>(limits.file_bytes));
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_NOFILE, 256, 256);
    if (::dup2(in_pipe[0], 0) < 0 || ::dup2(out_pipe[1], 1) < 0) _exit(126);
    if (close_range(3, ~0U, 0) != 0)
      for (int fd = 3; fd < 4096; ++fd) ::close(fd);
    ::execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  // ---- parent
  res.started = true;
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  write_input(in_pipe[1], input);
  ::close(in_pipe[1]);
  const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(limits.wall_s));
  auto ms_left = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(left.count(), 1000)));
  };
  char buf[65536];
  bool eof = false;
  while (!eof) {
    if (std::chrono::steady_clock::now() >= deadline) {
      res.timed_out = true;
      break;
    }
    struct pollfd p = {out_pipe[0], POLLIN, 0};
    const int pr = ::poll(&p, 1, ms_left());
    if (pr < 0 && errno != EINTR) break;
    if (pr <= 0) continue;
    const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    const size_t room = static_cast<size_t>(std::max<int64_t>(0, limits.max_output - int64_t(res.output.size())));
    if (static_cast<size_t>(n) > room) res.output_truncated = true;
    res.output.append(buf, std::min(static_cast<size_t>(n), room));
  }
  ::close(out_pipe[0]);
  // stdout closed: the child normally exits right away; wait for it within the deadline.
  int status = 0;
  while (!res.timed_out) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      res.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (res.timed_out) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  res.seconds = seconds_since(t0);
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) res.signal = WTERMSIG(status);
  return res;
}

// ---------------------------------------------------------------- validator child

namespace {

// RECONBENCH_TEST_FAULTS=1: files starting with "RB_TEST_FAULT=<kind>" inject a fault;
// "RB_TEST_FAULT=read PATH" tries to read PATH and reports "fault-read ok|denied" on `out`
// (what a parser tricked into opening another file would get under the confinement).
void maybe_inject_fault(const fs::path& file, std::FILE* out) {
  const char* on = std::getenv("RECONBENCH_TEST_FAULTS");
  if (!on || std::string(on) != "1") return;
  std::ifstream in(file, std::ios::binary);
  char head[512] = {0};
  in.read(head, sizeof head - 1);
  const std::string h(head);
  if (h.rfind("RB_TEST_FAULT=", 0) != 0) return;
  const std::string kind = h.substr(14, h.find_first_of("\n\r ", 14) - 14);
  if (kind == "segv") {
    std::fflush(stdout);
    ::raise(SIGSEGV);
  } else if (kind == "hang") {
    for (;;) ::pause();
  } else if (kind == "alloc") {
    const size_t n = size_t(10) << 30;  // 10 GB, touched so that it is really used
    char* p = new char[n];
    for (size_t k = 0; k < n; k += 4096) p[k] = 1;
    std::printf("allocated %c\n", p[n - 4096]);
    delete[] p;
  } else if (kind == "read") {
    const std::string path = h.substr(19, h.find_first_of("\n\r", 19) - 19);
    std::ifstream probe(path, std::ios::binary);
    char c = 0;
    const bool ok = probe && probe.read(&c, 1);
    std::fprintf(out, "fault-read %s\n", ok ? "ok" : "denied");
    std::fflush(out);
  }
}

// What the child may read once confined: the submission's files and the public inputs of
// the track (the zero-filled scale reference), never the ground truth.
std::vector<fs::path> readable_files(const std::map<std::string, fs::path>& files, const Manifest& m,
                                     const std::string& phase, const Track& track) {
  std::vector<fs::path> out;
  for (const auto& [name, path] : files)
    if (fs::is_regular_file(path)) out.push_back(path);
  for (const auto& e : track_files(m, phase, track))
    if (fs::is_regular_file(m.root / e.file)) out.push_back(m.root / e.file);
  return out;
}

// The canonical copy of an accepted file (sandbox.hpp). `name` is a manifest volume name (the
// validator accepts no other), checked again so that it cannot leave DIR.
void write_canonical(const fs::path& dir, const std::string& name, const Array<float>& vol) {
  RB_CHECK(!name.empty() && name.find('/') == std::string::npos && name[0] != '.',
           "bad canonical file name ", name);
  write_float_volume(dir / name, "reconstruction", vol, {{"format", kCanonicalFormat}});
}

int run_validator_child(std::istream& in, std::FILE* out) {
  try {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    nlohmann::json req;
    try {
      req = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      std::fprintf(out, "error bad request: %s\n", e.what());
      return 2;
    }
    const Manifest manifest = load_manifest(req.at("data").get<std::string>());
    const std::string phase = req.at("phase").get<std::string>();
    const Track& track = find_track(req.at("track").get<std::string>());
    std::map<std::string, fs::path> files;
    for (auto it = req.at("files").begin(); it != req.at("files").end(); ++it)
      files[it.key()] = it.value().get<std::string>();
    ValidationOptions vo;
    // Only public scale references: this child produces the reports participants see, and a
    // report that depends on the hidden ground truth leaks it (validate.hpp).
    const std::string scale = req.value("scale", std::string("zero_filled"));
    if (scale != "none" && scale != "zero_filled") {
      std::fprintf(out, "error bad request: scale reference '%s' (only 'zero_filled' or 'none')\n",
                   scale.c_str());
      return 2;
    }
    vo.scale = scale == "none" ? ScaleReference::none : ScaleReference::zero_filled;
    const fs::path canonical = req.value("canonical", std::string());
    if (!canonical.empty() && !fs::is_directory(canonical)) {
      std::fprintf(out, "error bad request: canonical directory %s does not exist\n", canonical.c_str());
      return 2;
    }
    const Confinement how = chosen_confinement();
    try {
      confine_to(readable_files(files, manifest, phase, track), how,
                 canonical.empty() ? std::vector<fs::path>{} : std::vector<fs::path>{canonical});
    } catch (const UserError& e) {
      std::fprintf(out, "error cannot confine the validator (%s): %s\n", to_string(how).c_str(), e.what());
      return 2;
    }
    std::fprintf(out, "confinement %s\n", to_string(how).c_str());
    vo.on_file = [&](const std::string& name) {
      std::fprintf(out, "file %s\n", name.c_str());
      std::fflush(out);
      auto f = files.find(name);
      if (f != files.end()) maybe_inject_fault(f->second, out);
    };
    if (!canonical.empty()) vo.on_accepted = [&](const std::string& name, const Array<float>& vol) {
      write_canonical(canonical, name, vol);
      std::fprintf(out, "canonical %s\n", name.c_str());
    };
    const auto report = validate_submission(files, manifest, phase, track, vo);
    std::fprintf(out, "report %s\n", to_json(report).dump().c_str());
    std::fflush(out);
    return 0;
  } catch (const std::bad_alloc&) {
    std::fprintf(out, "error out of memory\n");
    std::fflush(out);
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(out, "error %s\n", e.what());
    std::fflush(out);
    return 2;
  }
}

}  // namespace

int validator_child_main(std::istream& in, std::FILE* out) {
  const int status = run_validator_child(in, out);
  if (kSandboxSanitized) {
    // LeakSanitizer's check at exit reads /proc/self/maps, which the confined child cannot
    // open: its failure would turn every report into a platform error. The validator's code
    // runs in-process in the unit tests, where leaks are still checked.
    std::fflush(out);
    std::_Exit(status);
  }
  return status;
}

// ---------------------------------------------------------------- parent side

int64_t canonical_file_bytes(const Manifest& manifest, const std::string& phase, const Track& track) {
  int64_t most = 0;
  for (const auto& e : track_files(manifest, phase, track)) {
    if (e.slices <= 0 || e.recon_h <= 0 || e.recon_w <= 0) return int64_t(4) << 30;
    most = std::max(most, e.slices * e.recon_h * e.recon_w * int64_t(sizeof(float)));
  }
  return most + (int64_t(1) << 20);
}

ValidationReport report_from_json(const nlohmann::json& j) {
  ValidationReport r;
  r.track = j.value("track", "");
  r.phase = j.value("phase", "");
  r.files_checked = j.value("files_checked", int64_t{0});
  auto issues = [](const nlohmann::json& a, std::vector<ValidationIssue>& v) {
    if (!a.is_array()) return;
    for (const auto& i : a)
      v.push_back({i.value("file", ""), i.value("kind", ""), i.value("reason", "")});
  };
  if (j.contains("errors")) issues(j["errors"], r.errors);
  if (j.contains("warnings")) issues(j["warnings"], r.warnings);
  return r;
}

IsolatedValidation validate_isolated(const std::vector<std::string>& command, const fs::path& data,
                                     const std::map<std::string, fs::path>& files,
                                     const std::string& phase, const Track& track,
                                     const SandboxLimits& limits, const fs::path& canonical_dir) {
  IsolatedValidation out;
  out.report.track = track.name;
  out.report.phase = phase;
  if (command.empty()) {
    out.reason = "no sandboxed validator is configured";
    return out;
  }
  nlohmann::json req = {{"data", fs::absolute(data).string()},
                        {"phase", phase},
                        {"track", track.name},
                        {"scale", "zero_filled"},
                        {"files", nlohmann::json::object()}};
  for (const auto& [name, path] : files) req["files"][name] = path.string();
  if (!canonical_dir.empty()) req["canonical"] = fs::absolute(canonical_dir).string();
  const auto r = run_sandboxed(command, req.dump(), limits, {std::string(kValidatorChildEnv) + "=1"});
  out.seconds = r.seconds;
  if (!r.started) {
    out.reason = "cannot start the validator (" + r.start_error + ")";
    return out;
  }
  // Parse the line protocol; remember the file being read when it stopped.
  std::string current, report_line, error_line;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("file ", 0) == 0) current = line.substr(5);
    else if (line.rfind("confinement ", 0) == 0) out.confinement = line.substr(12);
    else if (line.rfind("report ", 0) == 0) report_line = line.substr(7);
    else if (line.rfind("error ", 0) == 0) error_line = line.substr(6);
  }
  auto reject = [&](const std::string& kind, const std::string& reason) {
    out.outcome = IsolatedValidation::Outcome::rejected;
    out.report.errors.push_back({current, kind, reason});
    ++out.report.files_checked;
  };
  const bool in_file = !current.empty();
  const std::string mib = std::to_string(limits.memory_bytes >> 20);
  if (r.timed_out) {
    if (!in_file) {
      out.reason = "the validator did not start within " + std::to_string(int(limits.wall_s)) + " s";
      return out;
    }
    std::ostringstream os;
    os << "validation did not finish within " << limits.wall_s
       << " s while reading this file (stopped); check that it is a plain HDF5 file";
    reject("timeout", os.str());
    return out;
  }
  if (r.exit_code == 0 && !report_line.empty()) {
    try {
      out.report = report_from_json(nlohmann::json::parse(report_line));
      out.outcome = IsolatedValidation::Outcome::report;
    } catch (const std::exception& e) {
      out.reason = std::string("the validator's report is not valid JSON (") + e.what() + ")";
    }
    return out;
  }
  if (in_file && (r.exit_code == 3 || (r.signal == SIGKILL))) {
    reject("memory", "reading this file needs more than the validator's memory limit (" + mib +
                         " MiB); reconstructions of this size need far less");
    return out;
  }
  if (in_file && r.signal == SIGXCPU) {
    reject("cpu", "reading this file used more than " + std::to_string(int(limits.cpu_s)) +
                      " s of CPU time (stopped)");
    return out;
  }
  if (in_file && r.signal != 0) {
    reject("crash", "the validator crashed (" + signal_name(r.signal) +
                        ") while reading this file; it is not a well-formed HDF5 file");
    return out;
  }
  if (r.exit_code == 127) out.reason = "cannot execute the validator " + command[0];
  else if (!error_line.empty()) out.reason = "validator: " + error_line;
  else if (r.signal != 0) out.reason = "the validator stopped with " + signal_name(r.signal) + " before reading any file";
  else out.reason = "the validator exited with status " + std::to_string(r.exit_code) + " without a report";
  return out;
}

}  // namespace rb::challenge
