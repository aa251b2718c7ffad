// Issue 21: backup and restore of a challenge (challenge/backup.hpp). A tiny challenge is run
// (two teams, scored), backed up, restored into a fresh directory: the leaderboards, the
// submissions and the canonical copies are identical, and a corrupted backup is refused.
#include <gtest/gtest.h>

#include <fstream>

#include "fixture.hpp"
#include "reconbench/challenge/backup.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/core/error.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;

namespace {

TEST(Backup, RestoredChallengeHasIdenticalLeaderboards) {
  const fs::path root = rb::testing::temp_dir("backup");
  const fs::path data = rb::testing::make_dataset(root);
  rb::testing::write_kspace_inputs(data);
  ch::ServiceOptions o;
  o.data = data;
  o.db = "sqlite:" + (root / "live" / "challenge.db").string();
  o.blobs = root / "live" / "blobs";
  fs::create_directories(root / "live");
  ch::Service svc(o);
  int k = 0;
  for (const auto& [user, team, noise] : {std::tuple{"alice", "Team Alice", 0.02}, {"bob", "Team Bob", 0.2}}) {
    const auto t = svc.add_team(user, team);
    const fs::path dir = rb::testing::make_submission(data, root / user, "multicoil_test", 4, noise, 7 + k++);
    ASSERT_EQ(svc.submit_directory("test", "multicoil_4x", t.team_id, t.user_id, dir, "")["state"], "queued");
  }
  while (svc.work_one("w", 30) > 0) {
  }
  const auto board = svc.leaderboard("test", "multicoil_4x");
  ASSERT_EQ(board["entries"].size(), 2u) << board.dump();

  const fs::path backup = root / "backup";
  const auto meta = ch::backup_challenge(svc.store(), svc.blobs(), svc.manifest().hash, backup);
  EXPECT_EQ(meta["copied"]["blobs"], 4) << meta.dump();
  EXPECT_EQ(meta["copied"]["canonical_copies"], 4) << meta.dump();
  EXPECT_THROW(ch::backup_challenge(svc.store(), svc.blobs(), svc.manifest().hash, backup), rb::UserError);
  // A later submission is not in the backup.
  const auto t3 = svc.add_team("carol", "Team Carol");
  svc.submit_directory("test", "multicoil_4x", t3.team_id, t3.user_id,
                       rb::testing::make_submission(data, root / "carol", "multicoil_test", 4, 0.1, 99), "");
  while (svc.work_one("w", 30) > 0) {
  }

  // A fresh directory ("a new machine"): the database and blob store from the backup only.
  ch::ServiceOptions r = o;
  r.db = "sqlite:" + (root / "new" / "challenge.db").string();
  r.blobs = root / "new" / "blobs";
  const auto restored = ch::restore_challenge(backup, r.db, r.blobs);
  EXPECT_EQ(restored["copied"]["blobs"], 4) << restored.dump();
  EXPECT_THROW(ch::restore_challenge(backup, r.db, r.blobs), rb::UserError) << "never overwrites";
  ch::Service svc2(r);
  EXPECT_EQ(svc2.leaderboard("test", "multicoil_4x").dump(), board.dump());
  for (const auto& s : svc2.store().submissions(0, 100))
    for (const auto& [name, sha] : s.files) {
      EXPECT_TRUE(svc2.blobs().has(sha)) << name;
      EXPECT_TRUE(svc2.blobs().has_canonical(sha)) << name;
    }

  // One flipped byte in a backed-up blob: refused, naming the blob.
  const auto s = svc2.store().submissions(0, 100).front();
  const fs::path victim = ch::BlobStore(backup / "blobs").path(s.files.front().second);
  fs::permissions(victim, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  try {
    ch::restore_challenge(backup, "sqlite:" + (root / "bad" / "challenge.db").string(), root / "bad" / "blobs");
    ADD_FAILURE() << "a corrupted backup was restored";
  } catch (const rb::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupted"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(s.files.front().second.substr(2)), std::string::npos) << e.what();
  }
  fs::remove_all(root);
}

}  // namespace
