// The challenge server's HTTP API, started in-process on 127.0.0.1 on a free port with one
// in-process worker and one validator thread: accounts and tokens, chunked uploads,
// validation in the background (sandboxed; before quota), duplicates, scoring, leaderboards
// and their visibility, roles, malformed and oversized input, the reader study.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "../challenge/fixture.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/eval/stats.hpp"
#include "reconbench/server/server.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root = rb::testing::temp_dir("server");
    data = rb::testing::make_dataset(root);
    ch::ServiceOptions o;
    o.data = data;
    o.db = "sqlite:" + (root / "c.db").string();
    o.study_cases = 2;
    svc = new ch::Service(o);
    auto org = svc->store().create_user("org", "", "organiser");
    org_token = new std::string(svc->store().create_token(org.id, "all", "test"));
    svc->store().set_limits({3, 0, 6, 1 << 20});
    rb::server::ServerOptions so;
    so.port = 0;
    so.workers = 1;
    so.lease_s = 5;
    so.max_chunk_bytes = 256 << 10;
    so.max_multipart_bytes = 512 << 10;
    server = new rb::server::Server(*svc, so);
    port = server->bind();
    thread = new std::thread([] { server->run(); });
  }
  static void TearDownTestSuite() {
    server->stop();
    thread->join();
    delete thread;
    delete server;
    delete svc;
    delete org_token;
    fs::remove_all(root);
  }

  httplib::Client client(const std::string& token = "") {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30);
    if (!token.empty()) c.set_bearer_token_auth(token);
    return c;
  }
  static json body(const httplib::Result& r) {
    EXPECT_TRUE(r) << "no response";
    if (!r) return json();
    try {
      return json::parse(r->body);
    } catch (...) {
      return json{{"raw", r->body}};
    }
  }
  // Expect a 4xx/5xx JSON error with a non-empty reason.
  static void expect_error(const httplib::Result& r, int status, const std::string& contains = "") {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    auto j = body(r);
    ASSERT_TRUE(j.contains("error")) << r->body;
    EXPECT_FALSE(j["error"].get<std::string>().empty());
    if (!contains.empty()) {
      EXPECT_NE(j["error"].get<std::string>().find(contains), std::string::npos) << r->body;
    }
  }
  json post(httplib::Client& c, const std::string& path, const json& j, int want) {
    auto r = c.Post(path.c_str(), j.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, want) << path << ": " << r->body;
    return body(r);
  }
  std::string register_user(const std::string& name, const std::string& team) {
    auto c = client();
    auto j = post(c, "/api/register", {{"username", name}, {"password", "password-" + name}, {"team", team}}, 201);
    return j.value("token", "");
  }
  // Chunked upload of one file; returns its sha256.
  std::string upload(httplib::Client& c, const fs::path& file, int64_t chunk = 3000) {
    const std::string bytes = rb::read_file(file), sha = ch::sha256_hex(bytes);
    auto init = post(c, "/api/uploads", {{"filename", file.filename().string()}, {"size", bytes.size()}, {"sha256", sha}}, 201);
    const int64_t id = init["id"];
    for (int64_t off = 0; off < static_cast<int64_t>(bytes.size()); off += chunk) {
      auto r = c.Put(("/api/uploads/" + std::to_string(id) + "?offset=" + std::to_string(off)).c_str(),
                     bytes.substr(off, chunk), "application/octet-stream");
      EXPECT_EQ(r->status, 200) << r->body;
    }
    auto fin = post(c, "/api/uploads/" + std::to_string(id) + "/finalize", json::object(), 200);
    EXPECT_EQ(fin["sha256"], sha);
    return sha;
  }
  json submit_dir(httplib::Client& c, const fs::path& dir, const std::string& phase, const std::string& track,
                  int want) {
    json files = json::object();
    for (const auto& [name, path] : ch::list_submission_dir(dir)) files[name] = upload(c, path);
    return post(c, "/api/submissions", {{"phase", phase}, {"track", track}, {"files", files}}, want);
  }
  json wait_state(httplib::Client& c, int64_t id, const std::string& state) {
    json j;
    for (int i = 0; i < 300; ++i) {  // <= 30 s
      j = body(c.Get(("/api/submissions/" + std::to_string(id)).c_str()));
      if (j.value("state", "") == state || j.value("state", "") == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(j.value("state", ""), state) << j.dump();
    return j;
  }

  static inline fs::path root, data;
  static inline ch::Service* svc = nullptr;
  static inline rb::server::Server* server = nullptr;
  static inline std::thread* thread = nullptr;
  static inline std::string* org_token = nullptr;
  static inline int port = 0;
};

TEST_F(ServerTest, RegisterUploadSubmitScoreLeaderboard) {
  const std::string tok = register_user("alice", "Team Alice");
  ASSERT_FALSE(tok.empty());
  auto c = client(tok);
  auto me = body(c.Get("/api/me"));
  EXPECT_EQ(me["team"]["name"], "Team Alice");
  auto dir = rb::testing::make_submission(data, root / "alice", "multicoil_test", 4, 0.05, 1);
  auto sub = submit_dir(c, dir, "test", "multicoil_4x", 202);
  // Answered at once; the validator (a sandboxed child process) runs afterwards.
  EXPECT_EQ(sub["state"], "validating");
  EXPECT_GE(sub["validation_position"].get<int64_t>(), 1);
  EXPECT_EQ(sub["quota"]["remaining"], 3) << "not counted before validation";
  auto done = wait_state(c, sub["id"], "scored");
  EXPECT_TRUE(done["validation"]["ok"].get<bool>()) << done.dump();
  EXPECT_EQ(body(c.Get("/api/quota?phase=test&track=multicoil_4x"))["remaining"], 2);
  ASSERT_TRUE(done.contains("scores")) << done.dump();
  EXPECT_GT(done["scores"]["ssim"].get<double>(), 0.5);
  auto lb = body(client().Get("/api/leaderboard/test/multicoil_4x"));  // public, no token
  EXPECT_EQ(lb["hidden"], false);
  ASSERT_GE(lb["entries"].size(), 1u);
  bool found = false;
  for (const auto& e : lb["entries"]) {
    if (e["team"] != "Team Alice") continue;
    found = true;
    EXPECT_EQ(e["ssim"]["n"], 2) << "the volumes behind the intervals (the web's 'n too small' rule)";
  }
  EXPECT_TRUE(found) << lb.dump();
  // Per-case test scores and images stay hidden from participants until the phase closes...
  expect_error(c.Get(("/api/submissions/" + std::to_string(sub["id"].get<int64_t>()) + "/volumes").c_str()), 403);
  expect_error(c.Get(("/api/submissions/" + std::to_string(sub["id"].get<int64_t>()) +
                      "/volumes/file_brain_AXT2_001.h5/slices/0.png").c_str()), 403);
  // ...but the organiser sees the drill-down: per-volume data and the Fig. 6 slice PNG.
  auto org = client(*org_token);
  auto vols = body(org.Get(("/api/submissions/" + std::to_string(sub["id"].get<int64_t>()) + "/volumes").c_str()));
  ASSERT_EQ(vols["volumes"].size(), 2u);
  EXPECT_EQ(vols["volumes"][0]["ssim_per_slice"].size(), vols["volumes"][0]["slices"].get<size_t>());
  auto png = org.Get(("/api/submissions/" + std::to_string(sub["id"].get<int64_t>()) +
                      "/volumes/file_brain_AXT2_001.h5/slices/1.png").c_str());
  ASSERT_TRUE(png);
  EXPECT_EQ(png->status, 200) << png->body << png->get_header_value("EXCEPTION_WHAT");
  EXPECT_EQ(png->body.substr(1, 3), "PNG");
}

TEST_F(ServerTest, MultipartSubmissionAndValidationBeforeQuota) {
  const std::string tok = register_user("mona", "Team Mona");
  auto c = client(tok);
  auto dir = rb::testing::make_submission(data, root / "mona", "multicoil_test", 8, 0.05, 3);
  // An invalid submission (wrong slice count): accepted for validation, then failed with the
  // validator's reasons; no quota used.
  auto bad = root / "mona-bad";
  fs::create_directories(bad);
  rb::challenge::write_float_volume(bad / "file_brain_AXT1POST_003.h5", "reconstruction", rb::testing::phantom(7, 32, 0));
  httplib::MultipartFormDataItems items = {{"phase", "test", "", ""}, {"track", "multicoil_8x", "", ""},
                                           {"file", rb::read_file(bad / "file_brain_AXT1POST_003.h5"),
                                            "file_brain_AXT1POST_003.h5", "application/x-hdf5"}};
  auto r = c.Post("/api/submissions", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  auto j = wait_state(c, body(r)["id"], "failed");
  EXPECT_EQ(j["failure"]["kind"], "validation");
  EXPECT_EQ(j["validation"]["errors"][0]["kind"], "shape");
  EXPECT_EQ(body(c.Get("/api/quota?phase=test&track=multicoil_8x"))["remaining"], 3)
      << "a validation failure costs no quota";
  items[2] = {"file", rb::read_file(dir / "file_brain_AXT1POST_003.h5"), "file_brain_AXT1POST_003.h5", "application/x-hdf5"};
  r = c.Post("/api/submissions", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  wait_state(c, body(r)["id"], "scored");
  EXPECT_EQ(body(c.Get("/api/quota?phase=test&track=multicoil_8x"))["remaining"], 2);
}

TEST_F(ServerTest, AuthScopesRolesAndIsolation) {
  const std::string a = register_user("anna", "Team Anna"), b = register_user("bert", "Team Bert");
  auto ca = client(a), cb = client(b);
  auto dir = rb::testing::make_submission(data, root / "anna", "multicoil_test", 8, 0.05, 2);
  auto sub = submit_dir(ca, dir, "test", "multicoil_8x", 202);
  const std::string path = "/api/submissions/" + std::to_string(sub["id"].get<int64_t>());
  // No token, a bad token, a revoked token.
  expect_error(client().Get("/api/me"), 401);
  expect_error(client("rbt_1_" + std::string(64, '0')).Get("/api/me"), 401, "invalid");
  auto t = post(ca, "/api/tokens", {{"scope", "read"}, {"label", "ro"}}, 201);
  auto ro = client(t["token"]);
  EXPECT_EQ(body(ro.Get("/api/me"))["scope"], "read");
  // A read-only token cannot upload or submit, nor mint a broader token.
  expect_error(ro.Post("/api/uploads", json{{"filename", "x.h5"}, {"size", 1}, {"sha256", std::string(64, 'a')}}.dump(),
                       "application/json"),
               403, "scope");
  expect_error(ro.Post("/api/tokens", json{{"scope", "all"}}.dump(), "application/json"), 403);
  // Another team cannot see the submission, its volumes or images (404: not revealed).
  expect_error(cb.Get(path.c_str()), 404);
  expect_error(cb.Get((path + "/volumes").c_str()), 404);
  expect_error(cb.Get((path + "/volumes/file_brain_AXT1POST_003.h5/slices/0.png").c_str()), 404);
  auto listing = body(cb.Get("/api/submissions"));
  for (const auto& s : listing) EXPECT_NE(s["id"], sub["id"]);
  // Nor reuse its uploaded blobs.
  json files = {{"file_brain_AXT1POST_003.h5", ch::sha256_file(dir / "file_brain_AXT1POST_003.h5")}};
  expect_error(cb.Post("/api/submissions", json{{"phase", "test"}, {"track", "multicoil_8x"}, {"files", files}}.dump(),
                       "application/json"),
               400, "no completed upload");
  // Ground truth and the database are not reachable through the static file server.
  for (const char* p : {"/ground_truth/multicoil_test/file_brain_AXT2_001.h5", "/data/manifest.json",
                        "/../data/ground_truth/multicoil_test/file_brain_AXT2_001.h5", "/c.db"}) {
    auto r = ca.Get(p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << p;
  }
  // Roles: participants cannot use admin endpoints or reader endpoints.
  expect_error(ca.Post("/api/admin/users", json{{"username", "x"}, {"role", "organiser"}}.dump(), "application/json"),
               403, "organisers only");
  expect_error(ca.Post("/api/admin/phases/challenge/close", "", "application/json"), 403);
  expect_error(ca.Get("/api/studies/1/cases"), 403);
  // Revocation.
  auto toks = body(ca.Get("/api/tokens"));
  ASSERT_GE(toks.size(), 2u);
  auto del = ca.Delete(("/api/tokens/" + std::to_string(toks[1]["id"].get<int64_t>())).c_str());
  EXPECT_EQ(del->status, 200);
  expect_error(ro.Get("/api/me"), 401);
}

TEST_F(ServerTest, MalformedAndOversizedInputGetClearReasons) {
  auto c = client(register_user("carl", "Team Carl"));
  expect_error(client().Post("/api/register", "{not json", "application/json"), 400, "not valid JSON");
  expect_error(client().Post("/api/register", json{{"username", "x y"}, {"password", "12345678"}}.dump(), "application/json"), 400);
  expect_error(client().Post("/api/register", json{{"username", "carl"}, {"password", "12345678"}}.dump(), "application/json"), 400,
               "taken");
  expect_error(client().Post("/api/login", json{{"username", "carl"}, {"password", "wrong-pass"}}.dump(), "application/json"), 401);
  // Declared size above the limit (1 MiB here): 413 before any byte is sent.
  expect_error(c.Post("/api/uploads", json{{"filename", "a.h5"}, {"size", 2 << 20}, {"sha256", std::string(64, 'a')}}.dump(),
                      "application/json"),
               413, "exceeds");
  expect_error(c.Post("/api/uploads", json{{"filename", "a.h5"}, {"size", 10}, {"sha256", "xyz"}}.dump(), "application/json"),
               400, "sha256");
  // Wrong offsets, chunks past the declared size, a wrong hash.
  const std::string bytes(5000, 'x');
  auto init = post(c, "/api/uploads", {{"filename", "a.h5"}, {"size", 5000}, {"sha256", std::string(64, 'b')}}, 201);
  const std::string up = "/api/uploads/" + std::to_string(init["id"].get<int64_t>());
  expect_error(c.Put((up + "?offset=100").c_str(), bytes.substr(0, 100), "application/octet-stream"), 409, "resume");
  expect_error(c.Put((up + "?offset=0").c_str(), std::string(6000, 'x'), "application/octet-stream"), 413);
  EXPECT_EQ(c.Put((up + "?offset=0").c_str(), bytes, "application/octet-stream")->status, 200);
  expect_error(c.Post((up + "/finalize").c_str(), "", "application/json"), 422, "sha256 mismatch");
  EXPECT_FALSE(svc->blobs().has(ch::sha256_hex(bytes))) << "a mismatching upload never becomes a blob";
  EXPECT_EQ(body(c.Get(up.c_str()))["offset"], 0) << "the client must re-send";
  // A chunk above the server's chunk limit (256 KiB here) is refused.
  auto big = post(c, "/api/uploads", {{"filename", "b.h5"}, {"size", 600 << 10}, {"sha256", std::string(64, 'c')}}, 201);
  expect_error(c.Put(("/api/uploads/" + std::to_string(big["id"].get<int64_t>()) + "?offset=0").c_str(),
                     std::string(300 << 10, 'y'), "application/octet-stream"),
               413);
  // A request body above the server's payload limit: 413 from the HTTP layer, still JSON.
  auto huge = c.Post("/api/register", std::string((600 << 10) + 1, ' '), "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  EXPECT_NE(huge->body.find("error"), std::string::npos);
  // Submissions: unknown track, bad names, duplicate names, unknown blobs.
  expect_error(c.Post("/api/submissions", json{{"track", "knee_4x"}, {"files", {{"a.h5", std::string(64, 'a')}}}}.dump(),
                      "application/json"),
               400, "unknown track");
  expect_error(c.Post("/api/submissions", json{{"track", "multicoil_4x"}, {"files", {{"../x.h5", std::string(64, 'a')}}}}.dump(),
                      "application/json"),
               400, "bad file name");
  expect_error(c.Post("/api/submissions", json{{"track", "multicoil_4x"}, {"files", json::object()}}.dump(), "application/json"),
               400, "needs files");
  expect_error(c.Get("/api/submissions/abc"), 404);
  expect_error(c.Get("/api/submissions/999999"), 404);
}

TEST_F(ServerTest, QuotaLimitsReturn429AndRemainingIsShown) {
  svc->store().set_limits({1, 0, 6, 1 << 20});
  auto c = client(register_user("dora", "Team Dora"));
  auto dir = rb::testing::make_submission(data, root / "dora", "multicoil_test", 8, 0.05, 4);
  auto first = submit_dir(c, dir, "test", "multicoil_8x", 202);
  wait_state(c, first["id"], "scored");
  json files = json::object();
  for (const auto& [name, path] : ch::list_submission_dir(dir)) files[name] = ch::sha256_file(path);
  expect_error(c.Post("/api/submissions", json{{"phase", "test"}, {"track", "multicoil_8x"}, {"files", files}}.dump(),
                      "application/json"),
               429, "limit");
  // `submit` asks first: the same refusal, before any upload.
  expect_error(c.Get("/api/submissions/check?phase=test&track=multicoil_8x"), 429, "limit");
  EXPECT_EQ(c.Get("/api/submissions/check?phase=test&track=multicoil_4x")->status, 200);
  auto q = body(c.Get("/api/quota?phase=test&track=multicoil_8x"));
  EXPECT_EQ(q["remaining"], 0);
  EXPECT_TRUE(q["next_reset"].is_number());
  svc->store().set_limits({3, 0, 6, 1 << 20});
  // With quota left, the same files again are a duplicate: refused, not charged.
  expect_error(c.Post("/api/submissions", json{{"phase", "test"}, {"track", "multicoil_8x"}, {"files", files}}.dump(),
                      "application/json"),
               409, "duplicate");
  EXPECT_EQ(body(c.Get("/api/quota?phase=test&track=multicoil_8x"))["remaining"], 2);
}

// GET /api/challenge/files: each track's files of a phase, by the validator's rule
// (challenge::track_files), which `submit --track auto` groups a directory by.
TEST_F(ServerTest, ChallengeFilesListEachTracksFiles) {
  for (const std::string phase : {"test", "challenge"}) {
    auto j = body(client().Get(("/api/challenge/files?phase=" + phase).c_str()));
    ASSERT_EQ(j["phase"], phase) << j.dump();
    size_t listed = 0;
    for (const auto& t : ch::all_tracks()) {
      std::vector<std::string> want;
      for (const auto& f : ch::track_files(svc->manifest(), phase, t)) want.push_back(f.name);
      EXPECT_EQ(j["tracks"][t.name].get<std::vector<std::string>>(), want) << phase << " " << t.name;
      listed += want.size();
    }
    EXPECT_GT(listed, 0u) << phase;
  }
  expect_error(client().Get("/api/challenge/files?phase=train"), 400, "unknown phase");
  expect_error(client().Get("/api/submissions/check?phase=test&track=multicoil_4x"), 401);
  EXPECT_EQ(body(client().Get("/api/challenge"))["intervals_min_n"], rb::eval::kMinVolumesForIntervals);
}

TEST_F(ServerTest, HiddenChallengeScoresThenCloseAndReaderStudy) {
  std::vector<std::string> toks;
  std::vector<int64_t> ids;
  const double noise[] = {0.02, 0.1, 0.3};
  for (int k = 0; k < 3; ++k) {
    toks.push_back(register_user("fin" + std::to_string(k), "Finalist " + std::to_string(k)));
    auto c = client(toks.back());
    auto dir = rb::testing::make_submission(data, root / ("fin" + std::to_string(k)), "multicoil_challenge", 4, noise[k], 30 + k);
    ids.push_back(submit_dir(c, dir, "challenge", "multicoil_4x", 202)["id"]);
  }
  auto c0 = client(toks[0]);
  auto s = wait_state(c0, ids[0], "scored");
  for (int k = 1; k < 3; ++k) {
    auto ck = client(toks[k]);
    wait_state(ck, ids[k], "scored");
  }
  // The final submission: by default the team's latest scored; the team may select one.
  EXPECT_EQ(s["final"], true);
  EXPECT_EQ(s["final_selected"], false);
  const std::string fpath = "/api/submissions/" + std::to_string(ids[0]) + "/final";
  expect_error(client(toks[1]).Put(fpath.c_str(), "", "application/json"), 404);
  EXPECT_EQ(c0.Put(fpath.c_str(), "", "application/json")->status, 200);
  EXPECT_EQ(body(c0.Get(("/api/submissions/" + std::to_string(ids[0])).c_str()))["final_selected"], true);
  // Scored, but hidden from participants (and anonymous visitors) until close.
  EXPECT_FALSE(s.contains("scores")) << s.dump();
  EXPECT_TRUE(s.contains("scores_hidden"));
  auto lb = body(client().Get("/api/leaderboard/challenge/multicoil_4x"));
  EXPECT_EQ(lb["hidden"], true);
  EXPECT_TRUE(lb["entries"].empty());
  auto org = client(*org_token);
  auto lbo = body(org.Get("/api/leaderboard/challenge/multicoil_4x"));
  EXPECT_EQ(lbo["hidden"], false);
  ASSERT_EQ(lbo["entries"].size(), 3u);
  // Close: the top 3 form a reader study. The scores stay hidden from everyone but the
  // organisers while it runs (issue 15: published SSIMs let a reader rank the candidates
  // against the ground truth and recover which team each letter is).
  auto closed = post(org, "/api/admin/phases/challenge/close", json::object(), 200);
  ASSERT_EQ(closed["studies"].size(), 1u) << closed.dump();
  const int64_t study = closed["studies"][0]["id"];
  auto hidden_after_close = [&] {
    EXPECT_EQ(body(client().Get("/api/leaderboard/challenge/multicoil_4x"))["hidden"], true);
    EXPECT_FALSE(body(c0.Get(("/api/submissions/" + std::to_string(ids[0])).c_str())).contains("scores"));
    EXPECT_EQ(c0.Get(("/api/submissions/" + std::to_string(ids[0]) + "/volumes").c_str())->status, 403);
  };
  hidden_after_close();
  // Submissions to a closed phase are refused.
  json files = {{"file_brain_AXT2_101.h5", std::string(64, 'a')}};
  expect_error(c0.Post("/api/submissions", json{{"phase", "challenge"}, {"track", "multicoil_4x"}, {"files", files}}.dump(),
                       "application/json"),
               403, "closed");
  // A reader completes one case; the organiser sees results; team names never reach readers.
  auto reader = post(org, "/api/admin/users", {{"username", "rad1"}, {"role", "reader"}}, 201);
  auto cr = client(reader["token"]);
  auto cases = body(cr.Get(("/api/studies/" + std::to_string(study) + "/cases").c_str()));
  ASSERT_EQ(cases.size(), 2u);
  const std::string cpath = "/api/studies/" + std::to_string(study) + "/cases/0";
  auto info = body(cr.Get(cpath.c_str()));
  EXPECT_EQ(info["letters"], json::array({"A", "B", "C"}));
  EXPECT_EQ(info.dump().find("Finalist"), std::string::npos) << "blinded";
  for (const char* L : {"GT", "A", "B", "C"}) {
    auto img = cr.Get((cpath + "/image/" + L + ".png").c_str());
    ASSERT_TRUE(img);
    EXPECT_EQ(img->status, 200) << L << img->body;
    EXPECT_EQ(img->body.substr(1, 3), "PNG");
  }
  auto partial = cr.Put(cpath.c_str(), json{{"rank", {{"A", 1}}}}.dump(), "application/json");
  EXPECT_EQ(body(partial)["complete"], false);
  EXPECT_EQ(body(cr.Get(cpath.c_str()))["saved"]["rank"]["A"], 1) << "autosaved answers come back on resume";
  expect_error(cr.Put(cpath.c_str(), json{{"rank", {{"A", 7}}}}.dump(), "application/json"), 400, "rank");
  json full = {{"rank", {{"A", 1}, {"B", 2}, {"C", 3}}},
               {"likert", {{"A", {{"artifacts", 1}, {"sharpness", 1}, {"cnr", 1}}},
                           {"B", {{"artifacts", 2}, {"sharpness", 2}, {"cnr", 2}}},
                           {"C", {{"artifacts", 3}, {"sharpness", 3}, {"cnr", 4}}}}}};
  EXPECT_EQ(body(cr.Put(cpath.c_str(), full.dump(), "application/json"))["complete"], true);
  expect_error(cr.Get(("/api/studies/" + std::to_string(study) + "/results").c_str()), 403);
  auto res = body(org.Get(("/api/studies/" + std::to_string(study) + "/results").c_str()));
  EXPECT_EQ(res["reads"], 1);
  ASSERT_EQ(res["teams"].size(), 3u);
  double rank_sum = 0;
  for (const auto& t : res["teams"]) rank_sum += t["rank"]["mean"].get<double>();
  EXPECT_DOUBLE_EQ(rank_sum, 6.0);
  auto csv = org.Get(("/api/studies/" + std::to_string(study) + "/responses.csv").c_str());
  EXPECT_EQ(csv->status, 200);
  EXPECT_NE(csv->body.find("rad1,"), std::string::npos);
  // The reader has a case left: publishing now is refused unless forced; readers and
  // participants still see nothing; the reader's page says why.
  hidden_after_close();
  expect_error(org.Post("/api/admin/phases/challenge/publish", "{}", "application/json"), 409, "not complete");
  EXPECT_EQ(body(cr.Get("/api/leaderboard/challenge/multicoil_4x"))["hidden"], true);
  EXPECT_NE(rb::read_file(rb::source_dir() / "web/reader.html").find("hidden from readers"), std::string::npos);
  EXPECT_EQ(body(cr.Put(("/api/studies/" + std::to_string(study) + "/cases/1").c_str(), full.dump(),
                        "application/json"))["complete"], true);
  post(org, "/api/admin/phases/challenge/publish", json::object(), 200);
  EXPECT_EQ(body(client().Get("/api/leaderboard/challenge/multicoil_4x"))["entries"].size(), 3u);
  EXPECT_TRUE(body(c0.Get(("/api/submissions/" + std::to_string(ids[0])).c_str())).contains("scores"));
  EXPECT_EQ(c0.Get(("/api/submissions/" + std::to_string(ids[0]) + "/volumes").c_str())->status, 200);
}

}  // namespace
