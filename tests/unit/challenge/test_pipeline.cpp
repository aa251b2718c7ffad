// The submission pipeline around the validator: the sandboxed child process (crash, hang
// and memory blow-up give a clean validation failure, a validator that cannot run a
// platform failure; neither costs quota), validation in the background (submit returns
// before it), duplicate detection and the final-submission selection of the challenge phase.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>

#include "fixture.hpp"
#include "reconbench/challenge/sandbox.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/core/error.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;
using rb::testing::make_dataset;
using rb::testing::make_submission;
using rb::testing::temp_dir;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(Sandbox, WallClockKillOutputAndExitStatus) {
  ch::SandboxLimits lim;
  lim.wall_s = 1;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = ch::run_sandboxed({"/bin/sh", "-c", "echo started; exec sleep 30"}, "", lim);
  EXPECT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_EQ(r.output, "started\n");
  EXPECT_LT(since(t0), 10.0);
  // stdin in, stdout back, the exit status; output beyond the cap is dropped.
  lim.wall_s = 30;
  lim.max_output = 4;
  r = ch::run_sandboxed({"/bin/sh", "-c", "cat; exit 7"}, "hello", lim);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.output, "hell");
  EXPECT_TRUE(r.output_truncated);
  // No descriptor of the parent leaks into the child (only 0, 1, 2 and the one ls opens).
  lim.max_output = 1 << 20;
  r = ch::run_sandboxed({"/bin/sh", "-c", "ls /proc/self/fd | wc -l"}, "", lim);
  EXPECT_LE(std::stoi(r.output), 4) << r.output;
  // A file-size limit: writing beyond it is refused (SIGXFSZ).
  const fs::path out = temp_dir("sandbox") / "big";
  lim.file_bytes = 4096;
  r = ch::run_sandboxed({"/bin/sh", "-c", "head -c 100000 /dev/zero > " + out.string()}, "", lim);
  EXPECT_LE(fs::file_size(out), 4096u);
  fs::remove_all(out.parent_path());
  // A missing executable: started, exit 127.
  r = ch::run_sandboxed({"/nonexistent/validator"}, "", lim);
  EXPECT_EQ(r.exit_code, 127);
}

class Pipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    root = temp_dir("pipeline");
    data = make_dataset(root);
    opts.data = data;
    opts.db = "sqlite:" + (root / "c.db").string();
    opts.validator_limits.wall_s = 20;
    opts.validator_limits.memory_bytes = int64_t(2) << 30;
    reopen();
    good = make_submission(data, root / "good", "multicoil_test", 4, 0.05, 1);
  }
  void TearDown() override {
    unsetenv("RECONBENCH_TEST_FAULTS");
    svc.reset();
    fs::remove_all(root);
  }
  void reopen() {
    svc.reset();
    svc = std::make_unique<ch::Service>(opts, [this] { return clock; });
  }
  std::vector<std::pair<std::string, std::string>> blobs_of(const fs::path& dir, int64_t user) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& [name, path] : ch::list_submission_dir(dir)) {
      auto sha = svc->blobs().put(rb::read_file(path));
      svc->store().record_blob(sha, int64_t(fs::file_size(path)), user);
      files.emplace_back(name, sha);
    }
    return files;
  }
  int64_t create(int64_t team, int64_t user, const fs::path& dir, const std::string& phase = "test") {
    auto& st = svc->store();
    return st.create_submission(st.phase(phase).id, "multicoil_4x", team, user, "", "", blobs_of(dir, user));
  }
  // A copy of the good submission with one file replaced by `content`.
  fs::path crafted(const std::string& name, const std::string& content) {
    const fs::path d = root / name;
    fs::create_directories(d);
    for (const auto& e : fs::directory_iterator(good)) fs::copy_file(e.path(), d / e.path().filename());
    rb::write_file_atomic(d / "file_brain_AXT2_001.h5", content);
    return d;
  }
  double clock = 1.7e9;
  fs::path root, data, good;
  ch::ServiceOptions opts;
  std::unique_ptr<ch::Service> svc;
};

TEST_F(Pipeline, ValidatorCrashHangAndMemoryBlowUpFailValidationWithoutQuota) {
  setenv("RECONBENCH_TEST_FAULTS", "1", 1);
  opts.validator_limits.wall_s = 3;
  reopen();
  auto& st = svc->store();
  st.set_limits({3, 0, 20, 1 << 30});
  auto u = st.create_user("a", "", "participant");
  auto team = st.create_team(u.id, "A");
  const auto ph = st.phase("test");
  struct Case {
    const char* fault;
    const char* kind;
  };
  for (const Case c : {Case{"segv", "crash"}, Case{"hang", "timeout"}, Case{"alloc", "memory"}}) {
    SCOPED_TRACE(c.fault);
    if (ch::kSandboxSanitized && std::string(c.fault) == "alloc") {
      // No address-space limit under ASan/TSan (sandbox.hpp): 10 GB would really be taken.
      std::printf("NOTE: the 10 GB allocation case is not run in a sanitizer build\n");
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t id = create(team.id, u.id, crafted(std::string("fault-") + c.fault,
                                                     std::string("RB_TEST_FAULT=") + c.fault + "\n"));
    auto out = svc->process_submission(id);
    EXPECT_LT(since(t0), 15.0);
    EXPECT_EQ(out["state"], "failed");
    EXPECT_EQ(out["failure"]["kind"], "validation");
    ASSERT_EQ(out["validation"]["errors"].size(), 1u) << out.dump();
    EXPECT_EQ(out["validation"]["errors"][0]["kind"], c.kind) << out.dump();
    EXPECT_EQ(out["validation"]["errors"][0]["file"], "file_brain_AXT2_001.h5");
    EXPECT_FALSE(st.submission(id)->counted);
    EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_4x").remaining, 3);
  }
  // This process is alive and the next, valid submission goes through.
  EXPECT_EQ(svc->process_submission(create(team.id, u.id, good))["state"], "queued");
  EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_4x").remaining, 2);
}

TEST_F(Pipeline, GarbageFileIsAValidationErrorFromTheChild) {
  auto& st = svc->store();
  auto u = st.create_user("a", "", "participant");
  auto team = st.create_team(u.id, "A");
  auto out = svc->process_submission(create(team.id, u.id, crafted("garbage", "not an HDF5 file")));
  EXPECT_EQ(out["state"], "failed");
  EXPECT_EQ(out["validation"]["errors"][0]["kind"], "unreadable") << out.dump();
  EXPECT_GT(out["validation"]["seconds"].get<double>(), 0.0);
}

TEST_F(Pipeline, ValidatorThatCannotRunIsAPlatformFailureRetriedThenFailedWithoutQuota) {
  opts.validator = {"/nonexistent/reconbench", "validate-child"};
  reopen();
  auto& st = svc->store();
  auto u = st.create_user("a", "", "participant");
  auto team = st.create_team(u.id, "A");
  const int64_t id = create(team.id, u.id, good);
  auto out = svc->process_submission(id);
  EXPECT_EQ(out["state"], "failed");
  EXPECT_EQ(out["failure"]["kind"], "platform");
  EXPECT_EQ(st.quota(team.id, st.phase("test").id, "multicoil_4x").remaining, 5);
  // Three attempts, then failed; the reason stays in the history (server-side).
  auto rows = st.db().query("SELECT attempts, state, error FROM validation_jobs WHERE submission_id=?", {id});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].i(0), 3);
  EXPECT_EQ(rows[0].s(1), "failed");
  EXPECT_NE(rows[0].s(2).find("cannot execute"), std::string::npos) << rows[0].s(2);
}

TEST_F(Pipeline, SubmitReturnsBeforeValidationAndAValidatorRunsItLater) {
  auto& st = svc->store();
  auto u = st.create_user("a", "", "participant");
  auto team = st.create_team(u.id, "A");
  const int64_t id = create(team.id, u.id, good);
  auto out = svc->submit(id);
  EXPECT_EQ(out["state"], "validating");
  EXPECT_EQ(out["validation_position"], 1);
  EXPECT_TRUE(st.submission(id)->validation.empty()) << "nothing validated yet";
  EXPECT_EQ(out["quota"]["remaining"], 5);
  EXPECT_EQ(st.queue_stats()["queued"], 0) << "no evaluation job before validation";
  // A validator that dies loses its lease; another one validates the submission once.
  auto j1 = st.claim_validation("v1", 10);
  ASSERT_TRUE(j1);
  EXPECT_FALSE(st.claim_validation("v2", 10)) << "a leased validation is not handed out twice";
  clock += 11;
  EXPECT_EQ(svc->validate_one("v2", 10), j1->id);
  EXPECT_EQ(st.finish_validation(j1->id, "v1", nlohmann::json::object(), true, "", "x"), "")
      << "the first validator's lease was lost";
  auto s = st.submission(id);
  EXPECT_EQ(s->state, "queued");
  EXPECT_TRUE(s->counted);
  EXPECT_TRUE(s->validation["ok"].get<bool>());
  EXPECT_EQ(st.queue_stats()["queued"], 1);
  EXPECT_EQ(svc->validate_one("v2", 10), 0) << "validation queue empty";
  // work_loop (reconbench worker) validates and scores.
  const int64_t id2 = create(team.id, u.id, make_submission(data, root / "g2", "multicoil_test", 4, 0.1, 5));
  EXPECT_EQ(svc->submit(id2)["state"], "validating");
  std::atomic<bool> stop{false};
  EXPECT_EQ(svc->work_loop("w", 30, 0.01, stop, true), 2);
  EXPECT_EQ(st.submission(id)->state, "scored");
  EXPECT_EQ(st.submission(id2)->state, "scored");
}

TEST_F(Pipeline, DuplicateFilesAreReportedAndNotChargedTwice) {
  auto& st = svc->store();
  auto u = st.create_user("a", "", "participant");
  auto team = st.create_team(u.id, "A");
  auto u2 = st.create_user("b", "", "participant");
  auto team2 = st.create_team(u2.id, "B");
  const auto ph = st.phase("test");
  const int64_t first = create(team.id, u.id, good);
  auto files = st.submission(first)->files;
  EXPECT_EQ(st.duplicate_of(team.id, ph.id, "multicoil_4x", files, 0, true), first) << "validating counts";
  EXPECT_EQ(st.duplicate_of(team.id, ph.id, "multicoil_4x", files, 0, false), 0);
  ASSERT_EQ(svc->process_submission(first)["state"], "queued");
  EXPECT_EQ(st.duplicate_of(team.id, ph.id, "multicoil_4x", files, 0, false), first);
  EXPECT_EQ(st.duplicate_of(team.id, ph.id, "multicoil_8x", files, 0, true), 0) << "other track";
  EXPECT_EQ(st.duplicate_of(team2.id, ph.id, "multicoil_4x", files, 0, true), 0) << "other team";
  // Order of the file list does not matter; one different file does.
  std::reverse(files.begin(), files.end());
  EXPECT_EQ(st.duplicate_of(team.id, ph.id, "multicoil_4x", files, 0, true), first);
  files[0].second = std::string(64, 'a');
  EXPECT_EQ(st.duplicate_of(team.id, ph.id, "multicoil_4x", files, 0, true), 0);
  // Submitted again anyway (a race past the request-time check): validated, then refused
  // as a duplicate without touching the quota.
  const int64_t again = create(team.id, u.id, good);
  auto out = svc->process_submission(again);
  EXPECT_EQ(out["state"], "failed");
  EXPECT_EQ(out["failure"]["kind"], "duplicate");
  EXPECT_NE(out["failure"]["reason"].get<std::string>().find(std::to_string(first)), std::string::npos);
  EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_4x").used_total, 1);
  // Another team's identical files: accepted for that team, flagged for organisers.
  const int64_t other = create(team2.id, u2.id, good);
  EXPECT_EQ(svc->process_submission(other)["state"], "queued");
  EXPECT_EQ(st.identical_elsewhere(other), std::vector<int64_t>{first});
  // A failed earlier submission is no duplicate: the team may submit the same files again
  // after a platform failure.
  auto job = st.claim("w", 30);
  ASSERT_TRUE(job);
  ASSERT_EQ(job->submission_id, first);
  st.fail_job(job->id, "w", "disk full", /*retryable=*/false);
  EXPECT_EQ(st.duplicate_of(team.id, ph.id, "multicoil_4x", st.submission(first)->files, 0, true), 0);
  EXPECT_EQ(svc->process_submission(create(team.id, u.id, good))["state"], "queued");
}

TEST_F(Pipeline, FinalSelectionChangesTheChallengeLeaderboardRow) {
  auto& st = svc->store();
  std::vector<ch::Team> teams;
  std::vector<int64_t> users;
  for (int k = 0; k < 2; ++k) {
    auto u = st.create_user("u" + std::to_string(k), "", "participant");
    users.push_back(u.id);
    teams.push_back(st.create_team(u.id, "team" + std::to_string(k)));
  }
  // team0: a good submission, then a poor one (the latest); team1: one middling.
  const int64_t good0 = create(teams[0].id, users[0], make_submission(data, root / "c-good", "multicoil_challenge", 4, 0.02, 1), "challenge");
  ASSERT_EQ(svc->process_submission(good0)["state"], "queued");
  const int64_t poor0 = create(teams[0].id, users[0], make_submission(data, root / "c-poor", "multicoil_challenge", 4, 0.8, 2), "challenge");
  ASSERT_EQ(svc->process_submission(poor0)["state"], "queued");
  const int64_t mid1 = create(teams[1].id, users[1], make_submission(data, root / "c-mid", "multicoil_challenge", 4, 0.2, 3), "challenge");
  ASSERT_EQ(svc->process_submission(mid1)["state"], "queued");
  EXPECT_THROW(st.select_final(good0, teams[0].id, users[0]), rb::UserError) << "not scored yet";
  std::atomic<bool> stop{false};
  ASSERT_EQ(svc->work_loop("w", 30, 0.01, stop, true), 3);
  const std::string spec = ch::current_spec_hash();
  auto row_of = [&](const nlohmann::json& lb, const std::string& team) {
    for (const auto& e : lb["entries"])
      if (e["team"] == team) return e;
    return nlohmann::json();
  };
  // Default: the latest scored submission counts (poor0), so team1 ranks first.
  auto lb = st.leaderboard("challenge", "multicoil_4x", spec);
  ASSERT_EQ(lb["entries"].size(), 2u);
  EXPECT_EQ(row_of(lb, "team0")["submission"], poor0);
  EXPECT_EQ(row_of(lb, "team0")["final"], "latest");
  EXPECT_EQ(lb["entries"][0]["team"], "team1");
  // The team selects its good submission: its row and the ranking change.
  EXPECT_THROW(st.select_final(mid1, teams[0].id, users[0]), rb::UserError) << "another team's";
  st.select_final(good0, teams[0].id, users[0]);
  lb = st.leaderboard("challenge", "multicoil_4x", spec);
  EXPECT_EQ(row_of(lb, "team0")["submission"], good0);
  EXPECT_EQ(row_of(lb, "team0")["final"], "selected");
  EXPECT_EQ(lb["entries"][0]["team"], "team0");
  // Selecting again replaces the choice; the test phase keeps showing each team's best.
  st.select_final(poor0, teams[0].id, users[0]);
  EXPECT_EQ(row_of(st.leaderboard("challenge", "multicoil_4x", spec), "team0")["submission"], poor0);
  st.select_final(good0, teams[0].id, users[0]);
  // The reader study (formed at close) takes the selected submissions; then it is frozen.
  svc->close_phase("challenge");
  EXPECT_THROW(st.select_final(poor0, teams[0].id, users[0]), rb::UserError) << "frozen at close";
  bool found = false;
  for (const auto& s : st.studies()) {
    auto study = st.study(s["id"].get<int64_t>());
    for (const auto& c : study["candidates"])
      if (c["team"] == "team0") {
        EXPECT_EQ(c["submission"], good0);
        found = true;
      }
  }
  EXPECT_TRUE(found);
}

}  // namespace
