#include "reconbench/challenge/confine.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "reconbench/core/error.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

namespace {

// Filesystem rights by Landlock ABI (linux/landlock.h; Debian 12's header stops at ABI 2).
constexpr uint64_t kFsAbi1 = (1ULL << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ULL << 13;       // ABI 2
constexpr uint64_t kFsTruncate = 1ULL << 14;    // ABI 3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;    // ABI 5
constexpr uint64_t kNetBindConnectTcp = 3;      // ABI 4: BIND_TCP | CONNECT_TCP
constexpr uint64_t kScopeSocketAndSignal = 3;   // ABI 6: ABSTRACT_UNIX_SOCKET | SIGNAL

// struct landlock_ruleset_attr as of ABI 6; the kernel takes the size we pass.
struct RulesetAttr {
  uint64_t handled_access_fs = 0, handled_access_net = 0, scoped = 0;
};

int landlock_abi() {
  const long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return v > 0 ? static_cast<int>(v) : 0;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// One Landlock rule: `access` beneath `path`.
void landlock_allow(int ruleset, const fs::path& path, uint64_t access) {
  const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  RB_CHECK(fd >= 0, errno_text("confinement: " + path.string()));
  landlock_path_beneath_attr rule{};
  rule.allowed_access = access;
  rule.parent_fd = fd;
  const long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
  const int err = errno;
  ::close(fd);
  errno = err;
  RB_CHECK(r == 0, errno_text("landlock_add_rule " + path.string()));
}

void landlock_confine(const std::vector<fs::path>& readable, const std::vector<fs::path>& writable) {
  const int abi = landlock_abi();
  RB_CHECK(abi > 0, "Landlock is not available on this kernel");
  RulesetAttr attr;
  attr.handled_access_fs = kFsAbi1 | (abi >= 2 ? kFsRefer : 0) | (abi >= 3 ? kFsTruncate : 0) |
                           (abi >= 5 ? kFsIoctlDev : 0);
  if (abi >= 4) attr.handled_access_net = kNetBindConnectTcp;
  if (abi >= 6) attr.scoped = kScopeSocketAndSignal;
  const size_t size = abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
  const int ruleset = static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  RB_CHECK(ruleset >= 0, errno_text("landlock_create_ruleset"));
  for (const auto& p : readable)
    landlock_allow(ruleset, p, LANDLOCK_ACCESS_FS_READ_FILE | (fs::is_directory(p) ? LANDLOCK_ACCESS_FS_READ_DIR : 0));
  // Regular files inside the output directories: create (an atomic write's temporary), write,
  // truncate (H5F_ACC_TRUNC), rename within the directory (REMOVE_FILE + MAKE_REG), remove.
  const uint64_t write_dir = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                             LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                             LANDLOCK_ACCESS_FS_MAKE_REG | (abi >= 3 ? kFsTruncate : 0);
  for (const auto& d : writable) landlock_allow(ruleset, d, write_dir);
  RB_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, errno_text("PR_SET_NO_NEW_PRIVS"));
  RB_CHECK(syscall(SYS_landlock_restrict_self, ruleset, 0) == 0, errno_text("landlock_restrict_self"));
  ::close(ruleset);
}

void write_proc(const char* file, const std::string& text) {
  const int fd = ::open(file, O_WRONLY | O_CLOEXEC);
  RB_CHECK(fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()),
           errno_text(std::string("confinement: ") + file));
  ::close(fd);
}

// Mount flags of `p`'s filesystem that a bind mount in a user namespace must keep (locked).
unsigned long locked_flags(const fs::path& p) {
  struct statvfs v{};
  if (::statvfs(p.c_str(), &v) != 0) return 0;
  unsigned long f = 0;
  if (v.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (v.f_flag & ST_NODEV) f |= MS_NODEV;
  if (v.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (v.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (v.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (v.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// A new user + mount namespace whose root is a tmpfs holding only `readable`.
void namespace_confine(const std::vector<fs::path>& readable, const std::vector<fs::path>& writable) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  RB_CHECK(::unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0, errno_text("unshare(user+mount namespace)"));
  write_proc("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n");
  write_proc("/proc/self/setgroups", "deny");
  write_proc("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n");
  RB_CHECK(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0, errno_text("mount --make-rprivate /"));
  // Handles on the files (in this namespace's mounts: a bind source must be one of ours), and
  // the flags their mounts lock, before the new root hides their paths.
  std::vector<int> fds;
  std::vector<unsigned long> flags;
  for (const auto& p : readable) {
    const int fd = ::open(p.c_str(), O_PATH | O_CLOEXEC);
    RB_CHECK(fd >= 0, errno_text("confinement: " + p.string()));
    fds.push_back(fd);
    flags.push_back(locked_flags(p));
  }
  std::vector<int> dir_fds;
  std::vector<unsigned long> dir_flags;
  for (const auto& d : writable) {
    const int fd = ::open(d.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    RB_CHECK(fd >= 0, errno_text("confinement: " + d.string()));
    dir_fds.push_back(fd);
    dir_flags.push_back(locked_flags(d));
  }
  const std::string root = fs::is_directory("/tmp") ? "/tmp" : "/mnt";
  RB_CHECK(::mount("none", root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755") == 0,
           errno_text("mount tmpfs"));
  for (size_t k = 0; k < readable.size(); ++k) {
    const fs::path target = fs::path(root) / readable[k].relative_path();
    std::error_code ec;
    if (fs::is_directory(readable[k])) {  // a mount point for a read-only directory
      fs::create_directories(target, ec);
    } else {
      fs::create_directories(target.parent_path(), ec);
      const int t = ::open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0400);
      RB_CHECK(t >= 0, errno_text("confinement: " + target.string()));
      ::close(t);
    }
    const std::string src = "/proc/self/fd/" + std::to_string(fds[k]);
    RB_CHECK(::mount(src.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0,
             errno_text("bind " + readable[k].string()));
    RB_CHECK(::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | flags[k], nullptr) == 0,
             errno_text("read-only bind " + readable[k].string()));
    ::close(fds[k]);
  }
  for (size_t k = 0; k < writable.size(); ++k) {  // read-write binds of the output directories
    const fs::path target = fs::path(root) / writable[k].relative_path();
    std::error_code ec;
    fs::create_directories(target, ec);
    const std::string src = "/proc/self/fd/" + std::to_string(dir_fds[k]);
    RB_CHECK(::mount(src.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) == 0,
             errno_text("bind " + writable[k].string()));
    RB_CHECK(::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV |
                     MS_NOEXEC | dir_flags[k], nullptr) == 0,
             errno_text("no-exec bind " + writable[k].string()));
    ::close(dir_fds[k]);
  }
  const std::string old = root + "/.old-root";
  RB_CHECK(::mkdir(old.c_str(), 0700) == 0, errno_text("mkdir " + old));
  RB_CHECK(syscall(SYS_pivot_root, root.c_str(), old.c_str()) == 0, errno_text("pivot_root"));
  RB_CHECK(::chdir("/") == 0, errno_text("chdir /"));
  RB_CHECK(::umount2("/.old-root", MNT_DETACH) == 0, errno_text("detach the old root"));
  ::rmdir("/.old-root");
  RB_CHECK(::mount(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0,
           errno_text("read-only root"));
  // No capability left (not even in this namespace): nothing can be mounted or unmounted.
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  RB_CHECK(syscall(SYS_capset, &hdr, data) == 0, errno_text("capset"));
  RB_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, errno_text("PR_SET_NO_NEW_PRIVS"));
}

}  // namespace

std::string to_string(Confinement c) {
  switch (c) {
    case Confinement::landlock: return "landlock";
    case Confinement::mount_namespace: return "namespace";
    default: return "none";
  }
}

Confinement ConfinementProbe::best() const {
  return landlock_abi > 0 ? Confinement::landlock
         : user_namespaces ? Confinement::mount_namespace
                           : Confinement::none;
}

std::string ConfinementProbe::describe() const {
  std::string s = landlock_abi > 0 ? "landlock (ABI " + std::to_string(landlock_abi) + ")" : "no Landlock";
  s += user_namespaces ? "; unprivileged user+mount namespaces available"
                       : "; no unprivileged user+mount namespaces";
  return s + "; the validator uses: " + to_string(best());
}

ConfinementProbe probe_confinement() {
  ConfinementProbe p;
  p.landlock_abi = landlock_abi();
  const pid_t pid = ::fork();
  if (pid == 0) _exit(::unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 ? 0 : 1);
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid) p.user_namespaces = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return p;
}

Confinement chosen_confinement() {
  if (const char* f = std::getenv("RECONBENCH_VALIDATOR_CONFINEMENT"); f && *f) {
    const std::string v = f;
    if (v == "landlock") return Confinement::landlock;
    if (v == "namespace") return Confinement::mount_namespace;
    if (v == "none") return Confinement::none;
    throw UserError("RECONBENCH_VALIDATOR_CONFINEMENT=" + v + ": expected landlock, namespace or none");
  }
  return probe_confinement().best();
}

void confine_to(const std::vector<fs::path>& readable, Confinement how,
                const std::vector<fs::path>& writable) {
  std::vector<fs::path> files, dirs;
  for (const auto& p : readable) files.push_back(fs::absolute(p).lexically_normal());
  for (const auto& d : writable) dirs.push_back(fs::absolute(d).lexically_normal());
  if (how == Confinement::landlock) landlock_confine(files, dirs);
  if (how == Confinement::mount_namespace) namespace_confine(files, dirs);
}

}  // namespace rb::challenge
