// Issue 21: the progress of a scoring job is visible to its team (submission_view "progress":
// volumes scored of the track's volumes, from the worker holding the lease).
#include <gtest/gtest.h>

#include "fixture.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;

namespace {

TEST(ScoringProgress, ReportedPerVolumeAndShownWhileEvaluating) {
  const fs::path root = rb::testing::temp_dir("progress");
  const fs::path data = rb::testing::make_dataset(root);
  rb::testing::write_kspace_inputs(data);
  ch::ServiceOptions o;
  o.data = data;
  o.db = "sqlite:" + (root / "challenge.db").string();
  ch::Service svc(o);
  const auto t = svc.add_team("dave", "Team Dave");
  const fs::path dir = rb::testing::make_submission(data, root / "sub", "multicoil_test", 4, 0.05, 3);
  std::vector<std::pair<int64_t, int64_t>> seen;
  ch::score_submission(ch::list_submission_dir(dir), svc.manifest(), "test", ch::find_track("multicoil_4x"),
                       [&](int64_t done, int64_t total) { seen.emplace_back(done, total); });
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{1, 2}, {2, 2}}));

  const int64_t id = svc.submit_directory("test", "multicoil_4x", t.team_id, t.user_id, dir, "")["id"];
  auto& st = svc.store();
  const auto job = st.claim("w1", 30);
  ASSERT_TRUE(job.has_value());
  EXPECT_FALSE(svc.submission_view(id).contains("progress")) << "nothing reported yet";
  EXPECT_FALSE(st.set_job_progress(job->id, "someone-else", 1, 2)) << "only the lease holder";
  EXPECT_TRUE(st.set_job_progress(job->id, "w1", 1, 2));
  const auto v = svc.submission_view(id);
  EXPECT_EQ(v["state"], "evaluating");
  EXPECT_EQ(v["progress"], (nlohmann::json{{"volumes_scored", 1}, {"volumes", 2}})) << v.dump();
  st.fail_job(job->id, "w1", "test: requeue", /*retryable=*/true);
  EXPECT_FALSE(svc.submission_view(id).contains("progress")) << "requeued: no stale progress";
  ASSERT_GT(svc.work_one("w2", 30), 0);
  const auto done = svc.submission_view(id);
  EXPECT_EQ(done["state"], "scored");
  EXPECT_FALSE(done.contains("progress"));
  fs::remove_all(root);
}

}  // namespace
