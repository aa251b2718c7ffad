// Issue 21: untrusted bytes are parsed only in the sandbox. The sandboxed validator writes a
// canonical copy of each accepted file (sandbox.hpp), and the worker scores that copy: once a
// submission is validated, its uploaded bytes never reach libhdf5 outside the sandbox. The
// regression: replacing the uploaded blobs with bytes that are not HDF5 at all after
// validation changes nothing (a worker that opened them would fail the job).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "fixture.hpp"
#include "reconbench/challenge/confine.hpp"
#include "reconbench/challenge/h5.hpp"
#include "reconbench/challenge/sandbox.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/storage.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/io/hdf5.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;

namespace {

class Canonical : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root = rb::testing::temp_dir("canonical");
    data = rb::testing::make_dataset(root);
    rb::testing::write_kspace_inputs(data);
  }
  static void TearDownTestSuite() { fs::remove_all(root); }
  // A 4X test-phase submission (seed makes it unique) whose files also carry an attribute
  // and a dataset that the canonical copy must not keep.
  static fs::path submission(unsigned seed) {
    const fs::path dir = root / ("sub" + std::to_string(seed));
    rb::testing::make_submission(data, dir, "multicoil_test", 4, 0.05, seed);
    for (const auto& [name, path] : ch::list_submission_dir(dir)) {
      auto vol = ch::read_float32(path, "reconstruction");
      ch::write_float_volume(path, "reconstruction", vol, {{"participant_note", "hello"}}, {{"max", 1.0}});
    }
    return dir;
  }
  // A service with its own database and blob store, one team, and the submission(seed)
  // submitted (validated here and now). Returns the submission id.
  static std::unique_ptr<ch::Service> service_with_submission(const std::string& name, unsigned seed,
                                                              int64_t* id) {
    ch::ServiceOptions o;
    o.data = data;
    o.db = "sqlite:" + (root / (name + ".db")).string();
    o.blobs = root / (name + "-blobs");
    auto svc = std::make_unique<ch::Service>(o);
    const auto t = svc->add_team(name, "Team " + name);
    auto view = svc->submit_directory("test", "multicoil_4x", t.team_id, t.user_id, submission(seed), "");
    EXPECT_EQ(view["state"], "queued") << view.dump();
    *id = view["id"].get<int64_t>();
    return svc;
  }
  static inline fs::path root, data;
};

// Names of the attributes and links at the root of an HDF5 file.
std::vector<std::string> root_names(const fs::path& file, bool attributes) {
  std::vector<std::string> out;
  auto hl = rb::h5::lock();
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0) << file;
  if (attributes) {
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, nullptr,
                [](hid_t l, const char* n, const H5A_info_t* i, void* op) {
                  static_cast<std::vector<std::string>*>(op)->push_back(n);
                  (void)l, (void)i;
                  return herr_t(0);
                },
                &out);
  } else {
    H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, nullptr,
                [](hid_t l, const char* n, const H5L_info_t* i, void* op) {
                  static_cast<std::vector<std::string>*>(op)->push_back(n);
                  (void)l, (void)i;
                  return herr_t(0);
                },
                &out);
  }
  H5Fclose(f);
  return out;
}

TEST_F(Canonical, ValidationWritesFixedLayoutCopies) {
  int64_t id = 0;
  auto svcp = service_with_submission("alice", 11, &id);
  auto& svc = *svcp;
  const fs::path dir = root / "sub11";
  const auto s = svc.store().submission(id);
  ASSERT_EQ(s->files.size(), 2u);
  for (const auto& [name, sha] : s->files) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(svc.blobs().has_canonical(sha));
    const fs::path c = svc.blobs().canonical_path(sha);
    EXPECT_EQ(root_names(c, false), std::vector<std::string>{"reconstruction"});
    EXPECT_EQ(root_names(c, true), std::vector<std::string>{"format"});
    EXPECT_EQ(root_names(svc.blobs().path(sha), true).size(), 2u) << "the upload keeps its attributes";
    const auto a = ch::read_float32(dir / name, "reconstruction");
    const auto b = ch::read_float32(c, "reconstruction");
    ASSERT_EQ(a.shape(), b.shape());
    for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  }
  EXPECT_TRUE(fs::is_empty(svc.blobs().dir() / "canonical" / "tmp")) << "staging removed";
}

TEST_F(Canonical, WorkerNeverOpensTheUploadedBytes) {
  int64_t id = 0;
  auto svcp = service_with_submission("bob", 21, &id);
  auto& svc = *svcp;
  const auto expected = ch::score_submission(ch::list_submission_dir(root / "sub21"), svc.manifest(), "test",
                                             ch::find_track("multicoil_4x"));
  // Validated once; now every uploaded blob is replaced by bytes no HDF5 parser accepts.
  const auto validated = svc.store().submission(id);
  for (const auto& [name, sha] : validated->files) {
    fs::permissions(svc.blobs().path(sha), fs::perms::owner_write, fs::perm_options::add);
    std::ofstream(svc.blobs().path(sha), std::ios::binary | std::ios::trunc) << "not HDF5: crafted bytes";
  }
  ASSERT_GT(svc.work_one("w", 30), 0);
  const auto s = svc.store().submission(id);
  ASSERT_EQ(s->state, "scored") << s->failure_reason;
  const auto sc = svc.store().score(id, ch::current_spec_hash());
  ASSERT_TRUE(sc.has_value());
  EXPECT_EQ(sc->ssim, expected.ssim);
  EXPECT_EQ(sc->psnr, expected.psnr);
  EXPECT_EQ(sc->nmse, expected.nmse);
  // And the slice-image path reads the canonical copy too.
  const auto name = s->files.front().first;
  EXPECT_EQ(svc.canonical_file(*s, name), svc.blobs().canonical_path(s->files.front().second));
}

TEST_F(Canonical, MissingCopiesAreRemadeInTheSandbox) {
  int64_t id = 0;
  auto svcp = service_with_submission("carol", 31, &id);
  auto& svc = *svcp;
  fs::remove_all(svc.blobs().dir() / "canonical");  // a store from before canonical copies
  ASSERT_GT(svc.work_one("w", 30), 0);
  const auto s = svc.store().submission(id);
  EXPECT_EQ(s->state, "scored") << s->failure_reason;
  for (const auto& [name, sha] : s->files) EXPECT_TRUE(svc.blobs().has_canonical(sha)) << name;
  // Garbage collection keeps them (their blobs are referenced) and drops unknown ones.
  const fs::path stray = svc.blobs().canonical_path(std::string(64, 'a'));
  fs::create_directories(stray.parent_path());
  std::ofstream(stray) << "x";
  const auto gc = ch::collect_garbage(svc.store(), svc.blobs(), -1);
  EXPECT_EQ(gc.stray_files, 1);
  EXPECT_FALSE(fs::exists(stray));
  for (const auto& [name, sha] : s->files) EXPECT_TRUE(svc.blobs().has_canonical(sha)) << name;
}

// The confinement with an output directory: files can be created, written and renamed
// there and nowhere else. Exit status bits of the confined child: 1 cannot write inside,
// 2 cannot rename inside, 4 wrote outside, 8 made a directory inside.
int write_probe(ch::Confinement how, const fs::path& dir) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    try {
      ch::confine_to({dir / "in.h5"}, how, {dir / "out"});
    } catch (const std::exception&) {
      _exit(100);
    }
    int bits = 0;
    int fd = ::open((dir / "out" / "copy.h5.part").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ::write(fd, "ok", 2) != 2) bits |= 1;
    if (fd >= 0) ::close(fd);
    if (::rename((dir / "out" / "copy.h5.part").c_str(), (dir / "out" / "copy.h5").c_str()) != 0) bits |= 2;
    fd = ::open((dir / "outside").c_str(), O_WRONLY | O_CREAT, 0600);
    if (fd >= 0) bits |= 4;
    if (::mkdir((dir / "out" / "sub").c_str(), 0700) == 0) bits |= 8;
    _exit(bits);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

TEST(CanonicalConfinement, WritableDirectoryOnly) {
  const auto probe = ch::probe_confinement();
  std::vector<ch::Confinement> mechanisms;
  if (probe.landlock_abi > 0) mechanisms.push_back(ch::Confinement::landlock);
  if (probe.user_namespaces) mechanisms.push_back(ch::Confinement::mount_namespace);
  if (mechanisms.empty()) {  // the documented fallback (docs/security.md), else a failure
    const char* allow = std::getenv("RECONBENCH_ALLOW_UNCONFINED_VALIDATOR");
    ASSERT_TRUE(allow && std::string(allow) == "1") << "no confinement on this kernel";
    GTEST_SKIP() << "unconfined validator explicitly allowed";
  }
  for (auto how : mechanisms) {
    SCOPED_TRACE(ch::to_string(how));
    const fs::path dir = rb::testing::temp_dir("confine-out");
    fs::create_directories(dir / "out");
    std::ofstream(dir / "in.h5") << "input";
    const int bits = write_probe(how, dir);
    // A read-write bind mount cannot refuse subdirectories (confine.hpp); Landlock does.
    EXPECT_EQ(how == ch::Confinement::landlock ? bits : bits & ~8, 0) << bits;
    EXPECT_TRUE(fs::exists(dir / "out" / "copy.h5"));
    EXPECT_FALSE(fs::exists(dir / "outside"));
    fs::remove_all(dir);
  }
}

}  // namespace
