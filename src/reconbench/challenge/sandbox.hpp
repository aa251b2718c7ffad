// Untrusted-file parsing in a separate, resource-limited process (design §4.1).
//
// The server never parses a participant's HDF5 files in its own address space: it runs the
// submission validator in a child process started with fork + execve (nothing but
// async-signal-safe calls between the two, so the server's other threads and their locks
// cannot leak into the child), with
//   RLIMIT_AS      address space (a crafted file that makes the parser allocate 10 GB fails)
//   RLIMIT_CPU     CPU seconds (SIGXCPU, then SIGKILL)
//   RLIMIT_FSIZE   files the child may write (it needs none but stdout)
//   RLIMIT_CORE 0, RLIMIT_NOFILE 256, PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG(SIGKILL),
//   best effort: a new user + network namespace (no network) where the kernel allows it,
//   every inherited descriptor above stderr closed (database, sockets),
//   and, once the child has read the manifest, filesystem confinement to reading the
//   submission's files and the track's public inputs (confine.hpp: Landlock, else a user +
//   mount namespace with an empty root, else none -- reported on the "confinement" line),
// and a wall-clock deadline after which the parent kills it. The parent only reads the
// child's stdout through a pipe (capped), so a crash, hang or memory blow-up in the child
// is a result, never a server fault.
//
// Validator child protocol: request JSON on stdin
//   {"data": DATA, "phase": P, "track": T, "files": {name: path}, "scale": "zero_filled"}
// ("scale": "zero_filled" (default) or "none"; the hidden ground truth is never a reference
// here, validate.hpp; optional "canonical": DIR, below)
// and on stdout a line "confinement landlock|namespace|none", one line "file NAME" before
// each file is parsed, then a final line
// "report {...}" (exit 0), or "error REASON" (exit 2: bad request, a fault of ours) or
// "error out of memory" (exit 3: the memory limit was hit while parsing).
//
// Canonical copies (issue 21): with "canonical": DIR (an existing, empty directory) the child
// may also create regular files directly in DIR (and nowhere else), and for every file that
// passes validation writes DIR/NAME with reconbench's own writer (h5.hpp
// write_float_volume): one contiguous, unfiltered float32 dataset `reconstruction`
// [slice y x] and the string attribute `format` = kCanonicalFormat, nothing else, and prints
// "canonical NAME". Scoring, slice images and exports read only these copies (BlobStore::
// canonical_path), so bytes a participant chose reach libhdf5 only in this child. RLIMIT_FSIZE
// must then allow a volume (SandboxLimits::file_bytes; canonical_file_bytes).
//
// Test hook (fault injection, only when RECONBENCH_TEST_FAULTS=1 is in the child's
// environment): a submission file whose first bytes are "RB_TEST_FAULT=segv" | "=hang" |
// "=alloc" makes the child raise SIGSEGV, sleep forever, or allocate 10 GB; "=read PATH"
// makes it try to read PATH and print "fault-read ok" or "fault-read denied".
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "reconbench/challenge/tracks.hpp"
#include "reconbench/challenge/validate.hpp"

namespace rb::challenge {

struct SandboxLimits {
  double wall_s = 600;                   // killed (SIGKILL) after this
  double cpu_s = 600;                    // RLIMIT_CPU
  int64_t memory_bytes = int64_t(4) << 30;  // RLIMIT_AS (0 = none; ASan builds need none)
  int64_t file_bytes = int64_t(1) << 20;    // RLIMIT_FSIZE
  int64_t max_output = int64_t(8) << 20;    // stdout beyond this is discarded
};

struct SandboxResult {
  bool started = false;
  std::string start_error;  // fork/exec/pipe failure (errno text)
  int exit_code = -1;       // when it exited
  int signal = 0;           // when a signal ended it
  bool timed_out = false;   // killed by the parent at the wall-clock deadline
  bool output_truncated = false;
  std::string output;       // stdout
  double seconds = 0;
};

// Runs argv[0] (a path) with argv, `input` on stdin, the limits above and the parent's
// environment plus `extra_env` ("NAME=value").
SandboxResult run_sandboxed(const std::vector<std::string>& argv, const std::string& input,
                            const SandboxLimits& limits,
                            const std::vector<std::string>& extra_env = {});

inline constexpr const char* kCanonicalFormat = "reconbench-canonical-1";

// Set in the child's environment by validate_isolated; a binary whose main (or a test's
// static initialiser) sees it runs validator_child_main instead of its usual work.
inline constexpr const char* kValidatorChildEnv = "RECONBENCH_VALIDATOR_CHILD";

// Sanitizer builds (ASan/TSan) map terabytes of shadow address space: there RLIMIT_AS is
// not applied (SandboxLimits::memory_bytes is ignored); every other limit still is.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSandboxSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kSandboxSanitized = true;
#else
inline constexpr bool kSandboxSanitized = false;
#endif
#else
inline constexpr bool kSandboxSanitized = false;
#endif

// The child side of the protocol above. Returns the process exit status.
int validator_child_main(std::istream& in, std::FILE* out);

// The parent side: run the validator command (e.g. {"/proc/self/exe", "validate-child"})
// on the files. outcome:
//   report    the child finished; `report` is its validation report (ok or not)
//   rejected  the child crashed, hung, ran out of memory or CPU while parsing; `report`
//             holds one error (kind "crash" | "timeout" | "memory" | "cpu") naming the file
//             it was reading - the file's fault, a validation failure
//   platform  it could not be run or broke the protocol (our fault); `reason` says why
struct IsolatedValidation {
  enum class Outcome { report, rejected, platform };
  Outcome outcome = Outcome::platform;
  ValidationReport report;
  std::string reason;
  std::string confinement;  // what confined the child (confine.hpp), "" if it did not say
  double seconds = 0;
};
IsolatedValidation validate_isolated(const std::vector<std::string>& command,
                                     const std::filesystem::path& data,
                                     const std::map<std::string, std::filesystem::path>& files,
                                     const std::string& phase, const Track& track,
                                     const SandboxLimits& limits,
                                     const std::filesystem::path& canonical_dir = {});

// RLIMIT_FSIZE a validator child writing canonical copies of `track` needs: the largest
// volume's float32 bytes (manifest slices x recon matrix) plus 1 MiB of HDF5 metadata; 4 GiB
// when the manifest does not give a shape.
int64_t canonical_file_bytes(const Manifest& manifest, const std::string& phase, const Track& track);

// The report of a child, parsed back (inverse of to_json).
ValidationReport report_from_json(const nlohmann::json& j);

}  // namespace rb::challenge
