// Filesystem confinement of the sandboxed validator child (sandbox.hpp): once it has read
// the (organiser's) manifest, the child restricts itself, irreversibly, to *reading* the
// files it validates and the public inputs it compares them with. Everything else on the
// filesystem -- the hidden ground truth above all, the database, other teams' blobs --
// cannot be opened, listed, written or executed, even if the HDF5 object-graph check
// (io/hdf5.hpp) were bypassed by a libhdf5 bug.
//
// Mechanisms, best first (docs/security.md lists what each kernel gets):
//   landlock    Landlock LSM (Linux >= 5.13 with landlock in the LSM list): a ruleset that
//               handles every filesystem right the kernel's ABI knows and grants READ_FILE
//               on exactly those files; from ABI 4 also no TCP bind/connect, from ABI 6 no
//               abstract-socket connections or signals outside the process.
//   namespace   an unprivileged user + mount namespace (kernels without Landlock but with
//               user namespaces): a tmpfs root holding only those files, bind-mounted
//               read-only at their own paths, pivot_root into it, the old root detached,
//               every capability dropped.
//   none        neither is available: the child runs unconfined and says so (the server
//               logs it at start-up); the object-graph check and rlimits still apply.
// RECONBENCH_VALIDATOR_CONFINEMENT=landlock|namespace|none in the child's environment forces
// one (tests; "none" is the explicit fallback for kernels with neither).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace rb::challenge {

enum class Confinement { landlock, mount_namespace, none };
std::string to_string(Confinement c);

struct ConfinementProbe {
  int landlock_abi = 0;         // 0: Landlock unavailable
  bool user_namespaces = false; // an unprivileged user + mount namespace can be created
  Confinement best() const;
  std::string describe() const;  // e.g. "landlock (ABI 7); user+mount namespaces available"
};

// What this kernel offers (a forked child tries the namespace); cheap, no side effects.
ConfinementProbe probe_confinement();

// Restricts this process to reading `readable` (regular files, or directories: listing them
// and reading every file beneath) with `how`, irreversibly;
// `writable` (existing directories) additionally allow creating, writing, renaming and
// removing regular files directly inside them (the validator's canonical copies); Landlock
// refuses everything else there (subdirectories, links, special files), the namespace
// mechanism bind-mounts them read-write (no devices, setuid or exec).
// UserError if `how` cannot be applied (nothing is half-applied silently: the caller exits).
// Must run before any other thread starts (the namespace path calls unshare).
void confine_to(const std::vector<std::filesystem::path>& readable, Confinement how,
                const std::vector<std::filesystem::path>& writable = {});

// The mechanism to use in a validator child: the forced one (environment, above), else
// probe_confinement().best().
Confinement chosen_confinement();

}  // namespace rb::challenge
