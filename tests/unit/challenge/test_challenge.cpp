// Challenge library: hashing and tokens, manifest/tracks, the validator, the store (teams,
// quota, job queue with leases), scoring through the eval library, leaderboards, rescore,
// and the reader study.
#include <gtest/gtest.h>
#include <unistd.h>

#include "engines.hpp"
#include "fixture.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/reader.hpp"
#include "reconbench/challenge/sandbox.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/core/error.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;
using rb::testing::make_dataset;
using rb::testing::make_submission;
using rb::testing::temp_dir;

TEST(Crypto, Sha256KnownVectors) {
  EXPECT_EQ(ch::sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ch::sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ch::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in odd-sized pieces (exercises the block buffering).
  ch::Sha256 h;
  std::string piece(997, 'a');
  size_t left = 1000000;
  while (left > 0) {
    size_t n = std::min(left, piece.size());
    h.update(piece.data(), n);
    left -= n;
  }
  EXPECT_EQ(h.hex_digest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Crypto, TokensPasswordsCompare) {
  auto a = ch::random_hex(32), b = ch::random_hex(32);
  EXPECT_EQ(a.size(), 64u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(ch::constant_time_equal(a, a));
  EXPECT_FALSE(ch::constant_time_equal(a, b));
  EXPECT_FALSE(ch::constant_time_equal("abc", "abcd"));
  auto stored = ch::hash_password("correct horse", 100);
  EXPECT_TRUE(ch::verify_password("correct horse", stored));
  EXPECT_FALSE(ch::verify_password("correct hors", stored));
  EXPECT_FALSE(ch::verify_password("x", "garbage"));
}

TEST(Tracks, FilesPerPhaseAndTrack) {
  auto root = temp_dir("tracks");
  auto m = ch::load_manifest(make_dataset(root));
  EXPECT_EQ(ch::track_files(m, "test", ch::find_track("multicoil_4x")).size(), 2u);
  EXPECT_EQ(ch::track_files(m, "test", ch::find_track("multicoil_8x")).size(), 1u);
  EXPECT_TRUE(ch::track_files(m, "test", ch::find_track("transfer_4x")).empty());
  EXPECT_EQ(ch::track_files(m, "challenge", ch::find_track("multicoil_4x")).size(), 2u);
  EXPECT_EQ(ch::track_files(m, "challenge", ch::find_track("multicoil_8x")).size(), 1u);
  auto tr = ch::track_files(m, "challenge", ch::find_track("transfer_4x"));
  ASSERT_EQ(tr.size(), 2u);
  EXPECT_EQ(tr[0].name, "file_brain_AXT1_202.h5") << "sorted by name";
  EXPECT_EQ(tr[0].vendor, "philips");
  EXPECT_EQ(tr[1].vendor, "ge");
  EXPECT_THROW(ch::find_track("knee"), rb::UserError);
  fs::remove_all(root);
}

class ValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root = temp_dir("validate");
    data = make_dataset(root);
    rb::testing::write_kspace_inputs(data);  // the scale reference (zero-filled RSS)
    manifest = ch::load_manifest(data);
    sub = make_submission(data, root / "sub", "multicoil_challenge", 4, 0.05, 1);
  }
  void TearDown() override { fs::remove_all(root); }
  ch::ValidationReport run() {
    return ch::validate_submission(ch::list_submission_dir(sub), manifest, "challenge",
                                   ch::find_track("multicoil_4x"));
  }
  bool has_error(const ch::ValidationReport& r, const std::string& kind) {
    for (const auto& e : r.errors)
      if (e.kind == kind) return true;
    return false;
  }
  fs::path root, data, sub;
  ch::Manifest manifest;
};

// fuzz_validate found a submission whose report carried a non-UTF-8 byte from the file:
// to_json(report).dump() threw, which the sandboxed child turns into "unreadable" and an
// in-process `validate --no-sandbox` into a crash. The report now always serialises.
TEST(ValidatorReport, NonUtf8BytesFromTheFileSerialiseAsReplacementCharacters) {
  ch::ValidationReport r;
  r.track = "multicoil_8x";
  r.phase = "test";
  r.errors.push_back({"sub\x90.h5", "invalid", "dataset '\xff\xfe' is not float32"});
  std::string text;
  ASSERT_NO_THROW(text = ch::to_json(r).dump());
  EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos) << text;  // U+FFFD
  EXPECT_EQ(nlohmann::json::parse(text)["errors"][0]["kind"], "invalid");
}

TEST_F(ValidatorTest, AcceptsAValidSubmission) {
  auto r = run();
  EXPECT_TRUE(r.ok()) << ch::to_text(r);
  EXPECT_EQ(r.files_checked, 2);
  EXPECT_TRUE(r.warnings.empty()) << ch::to_text(r);
}

TEST_F(ValidatorTest, MissingAndUnknownFiles) {
  fs::remove(sub / "file_brain_AXT2_101.h5");
  fs::copy_file(sub / "file_brain_AXT1POST_102.h5", sub / "file_brain_AXT2_999.h5");
  auto r = run();
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, "missing"));
  EXPECT_TRUE(has_error(r, "unknown"));
}

TEST_F(ValidatorTest, RejectsFloat64WrongShapeNanAndGarbage) {
  // float64 dataset
  {
    auto path = sub / "file_brain_AXT2_101.h5";
    auto a = ch::read_float32(path, "reconstruction");
    fs::remove(path);
    rb::write_file_atomic(path, "not hdf5 at all");
    auto r = run();
    EXPECT_TRUE(has_error(r, "unreadable")) << ch::to_text(r);
    ch::write_float_volume(path, "reconstruction", a);
  }
  // wrong slice count
  {
    auto path = sub / "file_brain_AXT2_101.h5";
    ch::write_float_volume(path, "reconstruction", rb::testing::phantom(5, 32, 0));
    EXPECT_TRUE(has_error(run(), "shape"));
    ch::write_float_volume(path, "reconstruction", rb::testing::phantom(2, 30, 0));
    EXPECT_TRUE(has_error(run(), "shape"));
  }
  // NaN
  {
    auto path = sub / "file_brain_AXT2_101.h5";
    auto a = rb::testing::phantom(2, 32, 0);
    a.at(1, 3, 4) = std::nanf("");
    ch::write_float_volume(path, "reconstruction", a);
    auto r = run();
    ASSERT_TRUE(has_error(r, "nonfinite"));
    EXPECT_NE(ch::to_text(r).find("slice 1, y 3, x 4"), std::string::npos) << ch::to_text(r);
  }
}

TEST_F(ValidatorTest, WarnsOnScaleAndNegativeValues) {
  auto path = sub / "file_brain_AXT2_101.h5";
  auto a = ch::read_float32(path, "reconstruction");
  for (auto& v : a.flat()) v *= 1000.f;
  a.at(0, 0, 0) = -1e-3f;
  ch::write_float_volume(path, "reconstruction", a);
  auto r = run();
  EXPECT_TRUE(r.ok()) << "scale and sign are warnings, not errors";
  bool scale = false, negative = false;
  for (const auto& w : r.warnings) {
    scale = scale || w.kind == "scale";
    negative = negative || w.kind == "negative";
  }
  EXPECT_TRUE(scale && negative) << ch::to_text(r);
}

// Every validation report a participant can see (the server's and the workers' path:
// Service -> sandboxed validator child) depends only on public data and the submission. Two
// challenge set-ups whose hidden ground truths differ only by a factor of 100 give identical
// reports for the same submissions. (With the ground-truth maximum as the scale reference,
// whether the scale warning fired differed: one bit of the hidden maximum per file and
// submission, enough to binary-search it.) A submission 1000x too bright is still warned.
TEST(ParticipantValidation, ReportsDependOnlyOnPublicData) {
  const fs::path root = temp_dir("validate-public");
  const fs::path a = make_dataset(root / "a");
  rb::testing::write_kspace_inputs(a);
  const fs::path b = root / "b" / "data";
  fs::create_directories(b.parent_path());
  fs::copy(a, b, fs::copy_options::recursive);
  auto m = nlohmann::json::parse(rb::read_file(b / "manifest.json"));
  for (const auto& f : m["files"]) {
    const fs::path gt = b / f["ground_truth"].get<std::string>();
    auto v = ch::read_float32(gt, "reconstruction_rss");
    double mx = 0;
    for (auto& x : v.flat()) mx = std::max(mx, double(x *= 100.f));
    ch::write_float_volume(gt, "reconstruction_rss", v, {{"acquisition", f["contrast"].get<std::string>()}},
                           {{"max", mx}});
  }
  // At the right scale (a's ground truth = the k-space's scale) and 1000x too bright.
  const fs::path right = make_submission(a, root / "right", "multicoil_test", 4, 0.0, 1);
  const fs::path bright = root / "bright";
  fs::create_directories(bright);
  for (const auto& [name, path] : ch::list_submission_dir(right)) {
    auto v = ch::read_float32(path, "reconstruction");
    for (auto& x : v.flat()) x *= 1000.f;
    ch::write_float_volume(bright / name, "reconstruction", v);
  }
  // The validation part of what a participant sees, per set-up and submission ("seconds", the
  // validator's run time, aside).
  auto validate = [&](const fs::path& data, const std::string& tag, const fs::path& dir) {
    ch::ServiceOptions o;
    o.data = data;
    o.db = "sqlite:" + (root / (tag + ".db")).string();
    o.blobs = root / (tag + "-blobs");
    ch::Service svc(o);
    auto& st = svc.store();
    auto u = st.create_user("p", "", "participant");
    auto team = st.create_team(u.id, "P");
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& [name, path] : ch::list_submission_dir(dir)) {
      auto sha = svc.blobs().put(rb::read_file(path));
      st.record_blob(sha, int64_t(fs::file_size(path)), u.id);
      files.emplace_back(name, sha);
    }
    auto view = svc.process_submission(
        st.create_submission(st.phase("test").id, "multicoil_4x", team.id, u.id, "", "", files));
    EXPECT_EQ(view["state"], "queued") << view.dump();
    auto v = view["validation"];
    v.erase("seconds");
    return v;
  };
  const auto a_right = validate(a, "a-right", right), b_right = validate(b, "b-right", right);
  const auto a_bright = validate(a, "a-bright", bright), b_bright = validate(b, "b-bright", bright);
  EXPECT_EQ(a_right.dump(), b_right.dump());
  EXPECT_EQ(a_bright.dump(), b_bright.dump());
  auto scale_warnings = [](const nlohmann::json& v) {
    int n = 0;
    for (const auto& w : v["warnings"]) n += w.value("kind", "") == "scale";
    return n;
  };
  EXPECT_EQ(scale_warnings(a_right), 0) << a_right.dump();
  EXPECT_EQ(scale_warnings(a_bright), 2) << "both files 1000x too bright: " << a_bright.dump();
  EXPECT_EQ(a_bright["files_checked"], 2) << a_bright.dump();
  // The sandboxed validator refuses the hidden ground truth as a reference outright.
  ch::SandboxLimits lim;
  lim.wall_s = 30;
  const std::string req = nlohmann::json({{"data", a.string()},
                                          {"phase", "test"},
                                          {"track", "multicoil_4x"},
                                          {"scale", "ground_truth"},
                                          {"files", {{"file_brain_AXT2_001.h5",
                                                      (right / "file_brain_AXT2_001.h5").string()}}}})
                              .dump();
  auto r = ch::run_sandboxed({"/proc/self/exe", "validate-child"}, req, lim,
                             {std::string(ch::kValidatorChildEnv) + "=1"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("scale reference 'ground_truth'"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("report "), std::string::npos) << r.output;
  fs::remove_all(root);
}

// A store with a settable clock on a temporary SQLite file; StoreOn: on each engine
// (engines.hpp).
class StoreTest : public ::testing::Test {
 protected:
  virtual std::string engine() const { return "sqlite"; }
  void SetUp() override {
    root = temp_dir("store");
    data = make_dataset(root);
    scratch = std::make_unique<rb::testing::ScratchDatabase>(engine(), root);
    ch::ServiceOptions o;
    o.data = data;
    o.db = scratch->url();
    o.blobs = root / "blobs";
    o.study_cases = 3;
    svc = std::make_unique<ch::Service>(o, [this] { return clock; });
  }
  void TearDown() override {
    svc.reset();
    scratch.reset();
    fs::remove_all(root);
  }
  std::unique_ptr<rb::testing::ScratchDatabase> scratch;
  // Upload a submission directory as blobs owned by user; returns (name, sha) pairs.
  std::vector<std::pair<std::string, std::string>> blobs_of(const fs::path& dir, int64_t user) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& [name, path] : ch::list_submission_dir(dir)) {
      auto sha = svc->blobs().put(rb::read_file(path));
      svc->store().record_blob(sha, int64_t(fs::file_size(path)), user);
      files.emplace_back(name, sha);
    }
    return files;
  }
  int64_t submit(int64_t team, int64_t user, const fs::path& dir, const std::string& phase,
                 const std::string& track, const std::string& baseline = "") {
    auto& st = svc->store();
    return st.create_submission(st.phase(phase).id, track, team, user, baseline, "", blobs_of(dir, user));
  }
  double clock = 1.7e9;
  fs::path root, data;
  std::unique_ptr<ch::Service> svc;
};
class StoreOn : public StoreTest, public ::testing::WithParamInterface<std::string> {
  std::string engine() const override { return GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Engines, StoreOn, ::testing::ValuesIn(rb::testing::test_engines()),
                         [](const auto& info) { return info.param; });

TEST_P(StoreOn, TokensAreHashedScopedAndRevocable) {
  auto& st = svc->store();
  auto u = st.create_user("alice", "password1", "participant");
  EXPECT_THROW(st.create_user("alice", "password2", "participant"), rb::UserError);
  EXPECT_THROW(st.create_user("bob", "", "admin"), rb::UserError);
  auto tok = st.create_token(u.id, "submit", "ci");
  auto auth = st.authenticate(tok);
  ASSERT_TRUE(auth);
  EXPECT_EQ(auth->user.username, "alice");
  EXPECT_EQ(auth->scope, "submit");
  EXPECT_TRUE(auth->can_write());
  EXPECT_FALSE(auth->organiser());
  // Only the hash is stored.
  const std::string secret = tok.substr(tok.rfind('_') + 1);
  auto rows = st.db().query("SELECT secret_hash FROM tokens");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].s(0), secret);
  EXPECT_EQ(rows[0].s(0), ch::sha256_hex(secret));
  // A wrong secret, a malformed token, a revoked token: rejected.
  std::string bad = tok;
  bad.back() = bad.back() == '0' ? '1' : '0';
  EXPECT_FALSE(st.authenticate(bad));
  EXPECT_FALSE(st.authenticate("rbt_1_xyz"));
  EXPECT_FALSE(st.authenticate(""));
  EXPECT_TRUE(st.login("alice", "password1"));
  EXPECT_FALSE(st.login("alice", "password2"));
  EXPECT_TRUE(st.revoke_token(auth->token_id, u.id, false));
  EXPECT_FALSE(st.authenticate(tok));
}

TEST_P(StoreOn, OneUserOneTeam) {
  auto& st = svc->store();
  auto a = st.create_user("a", "", "participant"), b = st.create_user("b", "", "participant");
  auto t = st.create_team(a.id, "Team A");
  EXPECT_THROW(st.create_team(a.id, "Team A2"), rb::UserError);
  EXPECT_THROW(st.create_team(b.id, "Team A"), rb::UserError);  // name taken
  st.add_team_member(t.id, b.id);
  EXPECT_THROW(st.add_team_member(t.id, b.id), rb::UserError);
  EXPECT_EQ(st.team_of(b.id)->name, "Team A");
}

TEST_P(StoreOn, QuotaCountsOnlyValidatedSubmissions) {
  auto& st = svc->store();
  st.set_limits({2, 0, 4, 1 << 30});
  auto u = st.create_user("a", "", "participant");
  auto team = st.create_team(u.id, "A");
  const auto ph = st.phase("test");
  auto good = make_submission(data, root / "good", "multicoil_test", 4, 0.05, 1);
  // Different files each time: the same files again would be refused as a duplicate.
  auto good2 = make_submission(data, root / "good2", "multicoil_test", 4, 0.05, 2);
  auto good3 = make_submission(data, root / "good3", "multicoil_test", 4, 0.05, 3);
  auto bad = root / "bad";
  fs::create_directories(bad);
  fs::copy_file(good / "file_brain_AXT2_001.h5", bad / "file_brain_AXT2_001.h5");  // one missing
  // An invalid submission fails validation and costs no quota (but one attempt).
  auto r = svc->process_submission(submit(team.id, u.id, bad, "test", "multicoil_4x"));
  EXPECT_EQ(r["state"], "failed");
  auto q = st.quota(team.id, ph.id, "multicoil_4x");
  EXPECT_EQ(q.remaining, 2);
  EXPECT_EQ(q.attempts_day, 1);
  EXPECT_EQ(svc->process_submission(submit(team.id, u.id, good, "test", "multicoil_4x"))["state"], "queued");
  EXPECT_EQ(svc->process_submission(submit(team.id, u.id, good2, "test", "multicoil_4x"))["state"], "queued");
  q = st.quota(team.id, ph.id, "multicoil_4x");
  EXPECT_EQ(q.remaining, 0);
  EXPECT_GT(q.next_reset, clock);
  // Over quota: refused, not counted.
  auto over = svc->process_submission(submit(team.id, u.id, good3, "test", "multicoil_4x"));
  EXPECT_EQ(over["state"], "failed");
  EXPECT_EQ(over["failure"]["kind"], "quota");
  EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_4x").used_total, 2);
  EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_4x").attempts_left, 0);
  // Another track has its own quota.
  EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_8x").remaining, 2);
  // A platform failure gives the slot back.
  auto job = st.claim("w", 10);
  ASSERT_TRUE(job);
  st.fail_job(job->id, "w", "disk full", /*retryable=*/false);
  EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_4x").remaining, 1);
  auto s = st.submission(job->submission_id);
  EXPECT_EQ(s->state, "failed");
  EXPECT_EQ(s->failure_kind, "platform");
  // The rolling window: a day later everything is available again.
  clock += 86401;
  EXPECT_EQ(st.quota(team.id, ph.id, "multicoil_4x").remaining, 2);
}

TEST_P(StoreOn, LeaseExpiryRequeuesAndScoresExactlyOnce) {
  auto& st = svc->store();
  auto u = st.create_user("a", "", "participant");
  auto team = st.create_team(u.id, "A");
  auto good = make_submission(data, root / "good", "multicoil_test", 4, 0.05, 1);
  const int64_t sid = submit(team.id, u.id, good, "test", "multicoil_4x");
  ASSERT_EQ(svc->process_submission(sid)["state"], "queued");
  EXPECT_EQ(st.queue_position(sid), 1);
  auto j1 = st.claim("w1", 30);
  ASSERT_TRUE(j1);
  EXPECT_EQ(st.submission(sid)->state, "evaluating");
  EXPECT_FALSE(st.claim("w2", 30)) << "a leased job is not handed out twice";
  clock += 20;
  EXPECT_TRUE(st.heartbeat(j1->id, "w1", 30));  // lease now ends at +50
  clock += 25;
  EXPECT_FALSE(st.claim("w2", 30)) << "the heartbeat extended the lease";
  clock += 10;  // w1 stopped heartbeating: lease expired
  auto j2 = st.claim("w2", 30);
  ASSERT_TRUE(j2);
  EXPECT_EQ(j2->id, j1->id);
  EXPECT_EQ(j2->attempts, 2);
  EXPECT_FALSE(st.heartbeat(j1->id, "w1", 30));
  ch::ScoreRow row{0.9, 0.9, 30, 0.01, ch::current_spec_hash(), "test", "m", {{"all", {}}}, nlohmann::json::array()};
  EXPECT_FALSE(st.complete(j1->id, "w1", row)) << "the old worker lost its lease";
  EXPECT_TRUE(st.complete(j2->id, "w2", row));
  EXPECT_FALSE(st.complete(j2->id, "w2", row)) << "completed once";
  EXPECT_EQ(st.count_scores(sid), 1);
  EXPECT_EQ(st.submission(sid)->state, "scored");
  EXPECT_EQ(st.queue_position(sid), 0);
}

TEST_P(StoreOn, WorkerScoresRanksPinsBaselinesAndRescoreKeepsOldRows) {
  auto& st = svc->store();
  auto org = st.create_user("org", "", "organiser");
  std::vector<int64_t> subs;
  const double noise[] = {0.3, 0.02, 0.1};
  for (int k = 0; k < 3; ++k) {
    auto u = st.create_user("u" + std::to_string(k), "", "participant");
    auto t = st.create_team(u.id, "team" + std::to_string(k));
    auto dir = make_submission(data, root / ("s" + std::to_string(k)), "multicoil_test", 4, noise[k], 10 + k);
    subs.push_back(submit(t.id, u.id, dir, "test", "multicoil_4x"));
    ASSERT_EQ(svc->process_submission(subs.back())["state"], "queued");
  }
  auto zf = make_submission(data, root / "zf", "multicoil_test", 4, 1.0, 99);
  const int64_t base = submit(0, org.id, zf, "test", "multicoil_4x", "zero-filled");
  ASSERT_EQ(svc->process_submission(base)["state"], "queued");
  std::atomic<bool> stop{false};
  EXPECT_EQ(svc->work_loop("w", 30, 0.01, stop, true), 4);
  for (auto id : subs) EXPECT_EQ(st.submission(id)->state, "scored");
  auto lb = st.leaderboard("test", "multicoil_4x", ch::current_spec_hash());
  ASSERT_EQ(lb["entries"].size(), 3u);
  EXPECT_EQ(lb["entries"][0]["team"], "team1");  // lowest noise
  EXPECT_EQ(lb["entries"][1]["team"], "team2");
  EXPECT_EQ(lb["entries"][2]["team"], "team0");
  EXPECT_EQ(lb["entries"][0]["rank"], 1);
  ASSERT_EQ(lb["baselines"].size(), 1u);
  EXPECT_EQ(lb["baselines"][0]["team"], "zero-filled");
  EXPECT_FALSE(lb["baselines"][0].contains("rank"));
  const auto& e = lb["entries"][0];
  EXPECT_GT(e["ssim"]["mean"].get<double>(), lb["entries"][2]["ssim"]["mean"].get<double>());
  EXPECT_TRUE(e["ssim"]["bootstrap_ci"].is_array());
  // Rank uncertainty: probabilities sum to 1 and the clear winner is not tied with the worst.
  double p_sum = 0;
  for (const auto& x : lb["entries"]) p_sum += x["p_rank_first"].get<double>();
  EXPECT_NEAR(p_sum, 1.0, 1e-9);
  EXPECT_GT(e["p_rank_first"].get<double>(), 0.5);
  EXPECT_FALSE(lb["entries"][2]["tied_with_first"].get<bool>());
  EXPECT_GT(lb["entries"][2]["difference_to_first"]["mean"].get<double>(), 0);
  EXPECT_TRUE(e["by_contrast"].contains("AXT2"));
  EXPECT_TRUE(e["by_contrast"].contains("AXFLAIR"));
  EXPECT_TRUE(e["by_vendor"].contains("siemens"));
  // The score matches the eval library on the same files.
  auto sc = st.score(subs[1], ch::current_spec_hash());
  auto direct = rb::eval::evaluate_files(data / "ground_truth/multicoil_test/file_brain_AXT2_001.h5",
                                         root / "s1/file_brain_AXT2_001.h5", ch::scoring_options());
  bool found = false;
  for (const auto& v : sc->volumes)
    if (v["file"] == "file_brain_AXT2_001.h5") {
      EXPECT_NEAR(v["ssim"].get<double>(), direct.metrics.ssim, 1e-12);
      found = true;
    }
  EXPECT_TRUE(found);
  // Rescore after a metric change: pretend the stored rows came from an older spec.
  st.db().exec("UPDATE scores SET spec_hash='old-spec'");
  st.db().exec("UPDATE jobs SET spec_hash='old-spec'");
  EXPECT_EQ(svc->rescore_all(), 4);
  EXPECT_EQ(svc->rescore_all(), 0) << "jobs are not queued twice";
  EXPECT_EQ(svc->work_loop("w", 30, 0.01, stop, true), 4);
  for (auto id : subs) EXPECT_EQ(st.count_scores(id), 2) << "old rows are kept";
  auto lb2 = st.leaderboard("test", "multicoil_4x", ch::current_spec_hash());
  EXPECT_EQ(lb2["entries"][0]["spec_hash"], ch::current_spec_hash());
}

TEST(ReaderResponse, ValidationAndSlotMapping) {
  EXPECT_FALSE(ch::check_reader_response({{"rank", {{"A", 1}}}}, 3));
  nlohmann::json full = {{"rank", {{"A", 2}, {"B", 1}, {"C", 3}}},
                         {"likert", {{"A", {{"artifacts", 1}, {"sharpness", 2}, {"cnr", 1}}},
                                     {"B", {{"artifacts", 2}, {"sharpness", 2}, {"cnr", 2}}},
                                     {"C", {{"artifacts", 4}, {"sharpness", 3}, {"cnr", 3}}}}}};
  EXPECT_TRUE(ch::check_reader_response(full, 3));
  auto dup = full;
  dup["rank"]["C"] = 1;
  EXPECT_FALSE(ch::check_reader_response(dup, 3)) << "ranks must be a permutation";
  auto out = full;
  out["likert"]["A"]["cnr"] = 5;
  EXPECT_THROW(ch::check_reader_response(out, 3), rb::UserError);
  auto unk = full;
  unk["rank"]["D"] = 1;
  EXPECT_THROW(ch::check_reader_response(unk, 3), rb::UserError);
  // Letter A shows slot 2, B slot 0, C slot 1.
  auto slots = ch::response_to_slots(full, {2, 0, 1});
  EXPECT_EQ(slots["rank"], nlohmann::json::array({1, 3, 2}));
  EXPECT_EQ(slots["likert"][2], nlohmann::json::array({1, 2, 1}));
}

TEST_P(StoreOn, CloseFormsReaderStudyWithSeededBlindingAndTableIV) {
  auto& st = svc->store();
  const double noise[] = {0.02, 0.1, 0.3, 0.5};
  for (int k = 0; k < 4; ++k) {
    auto u = st.create_user("u" + std::to_string(k), "", "participant");
    auto t = st.create_team(u.id, "team" + std::to_string(k));
    auto dir = make_submission(data, root / ("c" + std::to_string(k)), "multicoil_challenge", 4, noise[k], 20 + k);
    ASSERT_EQ(svc->process_submission(submit(t.id, u.id, dir, "challenge", "multicoil_4x"))["state"], "queued");
  }
  std::atomic<bool> stop{false};
  svc->work_loop("w", 30, 0.01, stop, true);
  auto closed = svc->close_phase("challenge");
  ASSERT_EQ(closed["studies"].size(), 1u) << closed.dump();
  const int64_t sid = closed["studies"][0]["id"];
  auto study = st.study(sid);
  ASSERT_EQ(study["candidates"].size(), 3u) << "top 3 by SSIM";
  EXPECT_EQ(study["candidates"][0]["team"], "team0");
  EXPECT_EQ(study["candidates"][2]["team"], "team2");
  ASSERT_EQ(study["cases"].size(), 2u);
  EXPECT_EQ(study["cases"][0]["volume"], "file_brain_AXT2_101.h5") << "lesion cases first";
  EXPECT_EQ(study["cases"][0]["slice"], 1) << "the slice through the lesion";
  EXPECT_EQ(svc->close_phase("challenge")["studies"][0]["id"], sid) << "idempotent";
  // No reads yet: publishing would unblind the study, so nothing is published unless forced.
  EXPECT_EQ(svc->publish_results("challenge")[0]["study"], sid);
  EXPECT_FALSE(st.phase("challenge").published());
  // Six readers; positions are a permutation, stable per reader, and vary across readers.
  std::vector<int64_t> readers;
  std::set<std::vector<int64_t>> layouts;
  for (int j = 0; j < 6; ++j) {
    auto r = st.create_user("reader" + std::to_string(j), "", "reader");
    readers.push_back(r.id);
    auto p = st.reader_positions(sid, r.id, 0);
    EXPECT_EQ(p, st.reader_positions(sid, r.id, 0));
    auto sorted = p;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2}));
    layouts.insert(p);
    EXPECT_EQ(st.reader_case_order(sid, r.id).size(), 2u);
  }
  EXPECT_GT(layouts.size(), 1u) << "blinded positions differ between readers";
  // Design §3.3 test vector A on case 0 (ranks per slot); case 1: everyone agrees.
  const int ranksA[6][3] = {{1, 2, 3}, {1, 3, 2}, {1, 2, 3}, {2, 1, 3}, {1, 2, 3}, {1, 3, 2}};
  for (int j = 0; j < 6; ++j)
    for (int c = 0; c < 2; ++c) {
      auto pos = st.reader_positions(sid, readers[j], c);
      nlohmann::json resp = {{"rank", nlohmann::json::object()}, {"likert", nlohmann::json::object()}};
      for (int k = 0; k < 3; ++k) {
        const int slot = static_cast<int>(pos[k]);
        const int rank = c == 0 ? ranksA[j][slot] : slot + 1;
        resp["rank"][ch::letter(k)] = rank;
        resp["likert"][ch::letter(k)] = {{"artifacts", rank}, {"sharpness", 2}, {"cnr", std::min(4, rank + 1)}};
      }
      ASSERT_TRUE(ch::check_reader_response(resp, 3));
      st.save_reader_response(sid, readers[j], c, resp, true);
    }
  auto res = svc->study_results(sid);
  ASSERT_EQ(res["cases"].size(), 2u);
  EXPECT_NEAR(res["cases"][0]["kendall_w_t"].get<double>(), 0.58333333, 1e-6);
  EXPECT_NEAR(res["cases"][1]["kendall_w_t"].get<double>(), 1.0, 1e-12);
  EXPECT_NEAR(res["agreement"]["mean_w_t"].get<double>(), (0.58333333333 + 1.0) / 2, 1e-6);
  // team0 (slot 0): ranks 7/6 on case 0 and 1 on case 1 -> mean 13/12.
  EXPECT_EQ(res["teams"][0]["team"], "team0");
  EXPECT_NEAR(res["teams"][0]["rank"]["mean"].get<double>(), 13.0 / 12.0, 1e-12);
  EXPECT_EQ(res["teams"][0]["rank"]["n"], 12);
  EXPECT_NEAR(res["teams"][0]["sharpness"]["mean"].get<double>(), 2.0, 1e-12);
  EXPECT_NEAR(res["teams"][0]["sharpness"]["sd"].get<double>(), 0.0, 1e-12);
  // Every reader has read every case: the final results are published.
  EXPECT_TRUE(svc->publish_results("challenge").empty());
  EXPECT_TRUE(st.phase("challenge").published());
}
