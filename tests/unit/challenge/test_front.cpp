// The front ends' path into the challenge (the demo's and `challenge baseline`'s): teams
// submit directories through the Service, workers score them, and the stored leaderboard
// carries the one scoring summary (per-contrast and per-vendor cells); closing the phase
// picks the reader-study cases by the one case policy; simulated reads are stored blinded.
#include <gtest/gtest.h>

#include <atomic>

#include "fixture.hpp"
#include "reconbench/challenge/reader.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/core/error.hpp"

namespace {

namespace ch = rb::challenge;
namespace fs = std::filesystem;
using rb::testing::make_submission;

class Front : public ::testing::Test {
 protected:
  void SetUp() override {
    root = rb::testing::temp_dir("front");
    data = rb::testing::make_dataset(root);
    ch::ServiceOptions o;
    o.data = data;
    o.db = "sqlite:" + (root / "c.db").string();
    o.validator_limits.wall_s = 20;
    o.study_cases = 6;
    svc = std::make_unique<ch::Service>(o);
  }
  void TearDown() override {
    svc.reset();
    fs::remove_all(root);
  }
  fs::path root, data;
  std::unique_ptr<ch::Service> svc;
};

TEST_F(Front, TeamsScoredWithPerContrastAndPerVendorCells) {
  const auto a = svc->add_team("alice", "A"), b = svc->add_team("bob", "B");
  const auto good = make_submission(data, root / "a", "multicoil_challenge", 4, 0.02, 1);
  const auto fair = make_submission(data, root / "b", "multicoil_challenge", 4, 0.3, 2);
  EXPECT_EQ(svc->submit_directory("challenge", "multicoil_4x", a.team_id, a.user_id, good, "a")["state"],
            "queued");
  EXPECT_EQ(svc->submit_directory("challenge", "multicoil_4x", b.team_id, b.user_id, fair, "b")["state"],
            "queued");
  EXPECT_THROW(svc->submit_directory("challenge", "nope", a.team_id, a.user_id, good, "x"), rb::UserError);
  EXPECT_EQ(svc->work_loop("w", 30, 0.01, std::atomic<bool>{false}, /*exit_when_idle=*/true), 2);

  const auto lb = svc->leaderboard("challenge", "multicoil_4x");
  ASSERT_EQ(lb["entries"].size(), 2u) << lb.dump();
  EXPECT_EQ(lb["entries"][0]["team"], "A");
  for (const auto& e : lb["entries"]) {
    // The track's volumes: AXT2 and AXT1POST, both Siemens-like.
    ASSERT_EQ(e["by_contrast"].size(), 2u) << e.dump();
    for (const char* c : {"AXT2", "AXT1POST"}) {
      EXPECT_EQ(e["by_contrast"][c]["n"], 1) << c;
      EXPECT_TRUE(e["by_contrast"][c]["ssim"].is_number()) << c;
    }
    ASSERT_EQ(e["by_vendor"].size(), 1u) << e.dump();
    EXPECT_EQ(e["by_vendor"]["siemens"]["n"], 2);
    // The track mean is the mean of the per-contrast cells (one volume each).
    const double mean = (e["by_contrast"]["AXT2"]["ssim"].get<double>() +
                         e["by_contrast"]["AXT1POST"]["ssim"].get<double>()) / 2;
    EXPECT_NEAR(e["ssim"]["mean"].get<double>(), mean, 1e-12);
  }

  // An organiser baseline is pinned, not ranked.
  const auto zf = make_submission(data, root / "zf", "multicoil_challenge", 4, 0.5, 3);
  const auto base = svc->submit_directory("challenge", "multicoil_4x", 0, svc->organiser_id(), zf,
                                          "baseline zf", "zero-filled");
  EXPECT_EQ(base["state"], "queued") << base.dump();
  svc->work_loop("w", 30, 0.01, std::atomic<bool>{false}, true);
  EXPECT_EQ(svc->leaderboard("challenge", "multicoil_4x")["baselines"].size(), 1u);
  EXPECT_EQ(svc->leaderboard("challenge", "multicoil_4x")["entries"].size(), 2u);

  // Closing: the study's cases are study_cases() of the track (the lesion volume first, at
  // the middle of its lesion's slice range), its candidates the ranked teams.
  const auto cases = ch::study_cases(
      ch::track_files(svc->manifest(), "challenge", ch::find_track("multicoil_4x")), 6);
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].volume, "file_brain_AXT2_101.h5");
  EXPECT_EQ(cases[0].slice, 1);
  EXPECT_EQ(cases[1].slice, 1);  // no lesion: the middle of 2 slices
  const auto closed = svc->close_phase("challenge");
  int64_t study_id = 0;
  for (const auto& s : closed["studies"])
    if (s["track"] == "multicoil_4x") study_id = s["id"].get<int64_t>();
  ASSERT_GT(study_id, 0) << closed.dump();
  const auto study = svc->store().study(study_id);
  ASSERT_EQ(study["cases"].size(), cases.size());
  for (size_t c = 0; c < cases.size(); ++c) {
    EXPECT_EQ(study["cases"][c]["volume"], cases[c].volume);
    EXPECT_EQ(study["cases"][c]["slice"], cases[c].slice);
  }

  // Reads in slot terms are stored as the reader's blinded letters: team A (slot 0) ranked
  // first by every read, whatever letter each reader saw it under.
  ch::Service::SlotRead read{{1, 2}, {}};
  for (const auto& item : ch::kLikertItems) read.likert[item] = {1, 3};
  svc->save_reads(study_id, "reader-1", {read, read}, "test");
  svc->save_reads(study_id, "reader-2", {read, read}, "test");
  const auto res = svc->study_results(study_id);
  bool seen = false;
  for (const auto& t : res["teams"])
    if (t["team"] == "A") {
      seen = true;
      EXPECT_DOUBLE_EQ(t["rank"]["mean"].get<double>(), 1.0) << res.dump();
    }
  EXPECT_TRUE(seen) << res.dump();
}

TEST(CasePolicy, MostLesionsFirstContrastsInterleaved) {
  auto file = [](const std::string& name, const std::string& contrast, int64_t lesions) {
    ch::ManifestFile f;
    f.name = name;
    f.contrast = contrast;
    f.slices = 10;
    f.lesions = lesions;
    f.lesion_slice = lesions > 0 ? 3 : -1;
    return f;
  };
  const std::vector<ch::ManifestFile> files = {
      file("a", "AXT2", 0), file("b", "AXT2", 2), file("c", "AXT2", 1),
      file("d", "AXFLAIR", 0), file("e", "AXT1POST", 1), file("f", "AXT2", 3)};
  const auto cases = ch::study_cases(files, 3);  // at most one per contrast in the first pass
  ASSERT_EQ(cases.size(), 3u);
  EXPECT_EQ(cases[0].volume, "f");
  EXPECT_EQ(cases[0].slice, 3);
  EXPECT_EQ(cases[1].volume, "e");
  EXPECT_EQ(cases[2].volume, "d");
  EXPECT_EQ(cases[2].slice, 5);  // no lesion: the middle slice
  EXPECT_EQ(ch::study_cases(files, 5).size(), 5u);
  EXPECT_EQ(ch::study_cases(files, 10).size(), 6u);
}

}  // namespace
