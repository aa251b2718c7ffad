// Security review of the challenge server (issue #9), in-process on 127.0.0.1 with two
// in-process workers: role checks on every organiser and reader route (the route table is
// read from server.cpp so a new route cannot be missed), CSRF/origin refusal, rate limits
// on failed authentication (429 + Retry-After), bad file names, an HDF5 "bomb" (a tiny
// compressed file declaring a huge dataset) rejected from its declared shape without being
// read, hidden ground-truth scale not leaked through validation warnings, and a concurrent
// register/upload/submit/score/leaderboard stress that the TSan build (test_tsan.sh) runs.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <httplib.h>
#include <sys/resource.h>

#include <chrono>
#include <regex>
#include <set>
#include <thread>

#include "../challenge/fixture.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/server/server.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root = rb::testing::temp_dir("server-sec");
    data = rb::testing::make_dataset(root);
    rb::testing::write_kspace_inputs(data);  // the validator's (public) scale reference
    ch::ServiceOptions o;
    o.data = data;
    o.db = "sqlite:" + (root / "c.db").string();
    o.study_cases = 2;
    // Validation runs in the sandboxed child (reconbench validate-child); the TSan run points
    // RECONBENCH_VALIDATOR at an uninstrumented binary (TSan cannot run under RLIMIT_AS).
    if (!std::getenv("RECONBENCH_VALIDATOR")) o.validator = {RECONBENCH_BIN, "validate-child"};
    svc = new ch::Service(o);
    auto org = svc->store().create_user("org", "", "organiser");
    org_token = new std::string(svc->store().create_token(org.id, "all", "test"));
    auto rd = svc->store().create_user("reader1", "", "reader");
    reader_token = new std::string(svc->store().create_token(rd.id, "all", "test"));
    svc->store().set_limits({20, 0, 40, 1 << 20});
    rb::server::ServerOptions so;
    so.port = 0;
    so.workers = 2;
    so.lease_s = 5;
    so.max_chunk_bytes = 256 << 10;
    so.max_multipart_bytes = 512 << 10;
    so.auth_failures_per_ip = 8;
    so.auth_free_failures = 3;
    so.auth_first_delay_s = 60;  // no race with the clock (escalation: Hardening.AuthDelaysEscalate...)
    so.auth_window_s = 120;
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
    delete reader_token;
    fs::remove_all(root);
  }

  static httplib::Client client(const std::string& token = "") {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60);
    if (!token.empty()) c.set_bearer_token_auth(token);
    return c;
  }
  static json body(const httplib::Result& r) {
    if (!r) return json();
    try {
      return json::parse(r->body);
    } catch (...) {
      return json{{"raw", r->body}};
    }
  }
  static std::string register_user(const std::string& name, const std::string& team) {
    auto c = client();
    auto r = c.Post("/api/register",
                    json{{"username", name}, {"password", "pw-" + name + "-secret"}, {"team", team}}.dump(),
                    "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no response");
    return body(r).value("token", "");
  }
  // Multipart submission of every file of `dir`; returns the response JSON.
  static json submit_multipart(httplib::Client& c, const fs::path& dir, const std::string& track,
                               int* status = nullptr) {
    httplib::MultipartFormDataItems items = {{"phase", "test", "", ""}, {"track", track, "", ""}};
    for (const auto& [name, path] : ch::list_submission_dir(dir))
      items.push_back({"file", rb::read_file(path), name, "application/x-hdf5"});
    auto r = c.Post("/api/submissions", items);
    if (status) *status = r ? r->status : 0;
    return body(r);
  }
  // Poll until the submission leaves uploaded/validating/queued/evaluating (or `want`).
  static json wait_done(httplib::Client& c, int64_t id, const std::string& want, double timeout_s = 60) {
    json j;
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < timeout_s) {
      j = body(c.Get(("/api/submissions/" + std::to_string(id)).c_str()));
      const std::string s = j.value("state", "");
      if (s == want || s == "failed" || s == "scored") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return j;
  }

  static inline fs::path root, data;
  static inline ch::Service* svc = nullptr;
  static inline rb::server::Server* server = nullptr;
  static inline std::thread* thread = nullptr;
  static inline std::string *org_token = nullptr, *reader_token = nullptr;
  static inline int port = 0;
};

// Routes of the server's route files with the role they need: (method, path regex, need).
std::vector<std::tuple<std::string, std::string, std::string>> route_table() {
  std::string src;
  for (const auto& e : fs::directory_iterator(rb::source_dir() / "src/reconbench/server"))
    if (e.path().extension() == ".cpp") src += rb::read_file(e.path());
  std::regex re(R"re(S\.(Get|Post|Put|Delete)\((?:R"\()?"?([^"]*?)(?:\)")?"?,\s*(?:\n\s*)?wrap\(Need::([a-z]+))re");
  std::vector<std::tuple<std::string, std::string, std::string>> out;
  for (auto it = std::sregex_iterator(src.begin(), src.end(), re); it != std::sregex_iterator(); ++it)
    out.emplace_back((*it)[1].str(), (*it)[2].str(), (*it)[3].str());
  return out;
}

// A concrete path for a route regex (ids 1, phase "test", letters "A", names "x.h5").
std::string instantiate(std::string p) {
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {R"((\d+))", "1"}, {"([a-z]+)", "test"}, {"(GT|[A-Z])", "A"}, {R"(([A-Za-z0-9_.\-]+))", "x.h5"},
           {R"(\.)", "."}})
    for (size_t k; (k = p.find(from)) != std::string::npos;) p.replace(k, from.size(), to);
  return p;
}

TEST_F(SecurityTest, EveryOrganiserAndReaderRouteRefusesParticipants) {
  auto routes = route_table();
  ASSERT_GE(routes.size(), 30u) << "route table not parsed from src/reconbench/server/*.cpp";
  const std::string part = register_user("pat", "Team Pat");
  auto c = client(part);
  std::set<std::string> needs;
  int checked = 0;
  for (const auto& [method, pattern, need] : routes) {
    needs.insert(need);
    if (need != "organiser" && need != "reader") continue;
    const std::string path = instantiate(pattern);
    httplib::Result r = method == "Get"    ? c.Get(path.c_str())
                        : method == "Post" ? c.Post(path.c_str(), "{}", "application/json")
                        : method == "Put"  ? c.Put(path.c_str(), "{}", "application/json")
                                           : c.Delete(path.c_str());
    ASSERT_TRUE(r) << method << " " << path;
    EXPECT_EQ(r->status, 403) << method << " " << path << " (" << need << "): " << r->body;
    // The same route without a token is 401, and a reader cannot use organiser routes.
    auto anon = client();
    auto r2 = method == "Get" ? anon.Get(path.c_str()) : anon.Post(path.c_str(), "{}", "application/json");
    if (method == "Get" || method == "Post") {
      ASSERT_TRUE(r2);
      EXPECT_EQ(r2->status, 401) << method << " " << path;
    }
    if (need == "organiser" && method == "Get") {
      auto r3 = client(*reader_token).Get(path.c_str());
      ASSERT_TRUE(r3);
      EXPECT_EQ(r3->status, 403) << "reader on " << path;
    }
    ++checked;
  }
  EXPECT_GE(checked, 14);
  EXPECT_TRUE(needs.count("organiser") && needs.count("reader") && needs.count("write")) << "route parse";
  // Routes that check the role inside the handler.
  EXPECT_EQ(c.Get("/api/studies")->status, 403);
}

TEST_F(SecurityTest, CrossOriginStateChangesAreRefused) {
  const std::string tok = register_user("cora", "Team Cora");
  auto c = client(tok);
  const std::string host = "127.0.0.1:" + std::to_string(port);
  // A cross-site page posting to the API (with or without credentials) is refused.
  auto r = c.Post("/api/teams", httplib::Headers{{"Origin", "http://evil.example"}}, R"({"name":"x"})",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  r = client().Post("/api/register", httplib::Headers{{"Origin", "https://evil.example"}},
                    R"({"username":"csrf","password":"p"})", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  r = client().Post("/api/login", httplib::Headers{{"Sec-Fetch-Site", "cross-site"}},
                    R"({"username":"cora","password":"pw-cora-secret"})", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  r = c.Post("/api/tokens", httplib::Headers{{"Origin", "null"}}, R"({"scope":"read"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  // Same origin (the web UI) and non-browser clients (no Origin) work.
  r = c.Post("/api/tokens", httplib::Headers{{"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}},
             R"({"scope":"read"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  r = c.Post("/api/tokens", R"({"scope":"read"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201) << r->body;
  // Cross-origin reads are not state changes; every response forbids framing and sniffing.
  r = client().Get("/api/challenge", httplib::Headers{{"Origin", "http://evil.example"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Frame-Options"), "DENY");
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_TRUE(r->get_header_value("Access-Control-Allow-Origin").empty());
}

TEST_F(SecurityTest, BadFileNamesAndSizesAreRejected) {
  const std::string tok = register_user("nina", "Team Nina");
  auto c = client(tok);
  const std::string sha = std::string(64, 'a');
  const std::vector<std::string> names = {"../x.h5", "..", ".hidden.h5", "a/b.h5", "a\\b.h5", "a\x01.h5",
                                         std::string(300, 'n')};
  for (const std::string& name : names) {
    auto r = c.Post("/api/submissions", json{{"track", "multicoil_4x"}, {"files", {{name, sha}}}}.dump(),
                    "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << name << ": " << r->body;
  }
  // Upload declarations: negative, over the limit.
  auto r = c.Post("/api/uploads", json{{"filename", "a.h5"}, {"size", -5}, {"sha256", sha}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = c.Post("/api/uploads", json{{"filename", "a.h5"}, {"size", 1 << 21}, {"sha256", sha}}.dump(), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  // A multipart file name with directories is reduced to its base name: nothing is written
  // outside the blob store (blobs are content-addressed), and the name is then unknown.
  auto dir = rb::testing::make_submission(data, root / "nina", "multicoil_test", 8, 0.05, 40);
  httplib::MultipartFormDataItems items = {{"phase", "test", "", ""}, {"track", "multicoil_8x", "", ""},
                                           {"file", rb::read_file(dir / "file_brain_AXT1POST_003.h5"),
                                            "../../../../tmp/rb-traversal.h5", "application/x-hdf5"}};
  r = c.Post("/api/submissions", items);
  ASSERT_TRUE(r);
  const int status = r->status;
  EXPECT_FALSE(fs::exists("/tmp/rb-traversal.h5"));
  auto j = wait_done(c, body(r).value("id", int64_t(0)), "failed");
  EXPECT_EQ(j.value("state", ""), "failed") << status << " " << r->body;
  // Route parameters never reach the file system: traversal in a volume name is a 404.
  auto g = c.Get("/api/submissions/1/volumes/..%2F..%2Fmanifest.json/slices/0.png");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 404);
}

// A few kB of gzip-compressed HDF5 declaring `dims` float32 (chunks never written read back
// as the fill value, so reading it would allocate the full declared size).
void write_bomb(const fs::path& file, std::vector<hsize_t> dims) {
  hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  std::vector<hsize_t> chunk(dims.size(), 1);
  chunk.back() = std::min<hsize_t>(dims.back(), 1024);
  H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  H5Pset_deflate(dcpl, 9);
  hid_t d = H5Dcreate2(f, "reconstruction", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  ASSERT_GE(d, 0);
  // One written chunk of zeros, so the file also carries real compressed data.
  std::vector<float> zeros(chunk.back(), 0.0f);
  hid_t mem = H5Screate_simple(1, &chunk.back(), nullptr);
  std::vector<hsize_t> start(dims.size(), 0);
  H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, chunk.data(), nullptr);
  H5Dwrite(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, zeros.data());
  H5Sclose(mem);
  H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Fclose(f);
}

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

TEST_F(SecurityTest, Hdf5BombIsRejectedFromItsDeclaredShapeWithoutReading) {
  const std::string tok = register_user("bomber", "Team Bomb");
  auto c = client(tok);
  const fs::path dir = root / "bomb";
  fs::create_directories(dir);
  // 2^31 floats (8 GiB) declared as extra slices, and 32 x 2^26 as a slice size.
  write_bomb(dir / "file_brain_AXT1POST_003.h5", {hsize_t(1) << 21, 32, 32});
  ASSERT_LT(fs::file_size(dir / "file_brain_AXT1POST_003.h5"), 200u * 1024) << "bomb must be tiny";
  const long rss0 = max_rss_kb();
  int status = 0;
  auto j = submit_multipart(c, dir, "multicoil_8x", &status);
  j = wait_done(c, j.value("id", int64_t(0)), "failed");
  EXPECT_EQ(j.value("state", ""), "failed") << j.dump();
  EXPECT_NE(j.dump().find("shape"), std::string::npos) << j.dump();
  write_bomb(dir / "file_brain_AXT1POST_003.h5", {2, 32, hsize_t(1) << 26});
  j = submit_multipart(c, dir, "multicoil_8x", &status);
  j = wait_done(c, j.value("id", int64_t(0)), "failed");
  EXPECT_EQ(j.value("state", ""), "failed") << j.dump();
  // Nothing near the declared 8 GiB was allocated by the server (this process).
  EXPECT_LT(max_rss_kb() - rss0, 200 * 1024) << "kB";
  // Neither attempt cost quota.
  auto q = body(c.Get("/api/quota?phase=test&track=multicoil_8x"));
  EXPECT_EQ(q["used_total"], 0) << q.dump();
}

TEST_F(SecurityTest, ParticipantsNeverSeeGroundTruthScaleOrPerCaseScores) {
  const std::string tok = register_user("sally", "Team Sally");
  auto c = client(tok);
  // Reconstructions 1000x too bright: the validator warns about the scale, comparing with
  // the zero-filled RSS of the public k-space (never the hidden ground truth's maximum, the
  // SSIM/PSNR data range; test_challenge's ParticipantValidation.ReportsDependOnlyOnPublicData).
  auto dir = rb::testing::make_submission(data, root / "sally", "multicoil_test", 8, 0.0, 50);
  auto gt = ch::read_float32(data / "ground_truth/multicoil_test/file_brain_AXT1POST_003.h5", "reconstruction_rss");
  double mx = 0;
  for (float v : gt.flat()) mx = std::max(mx, double(v));
  for (auto& v : gt.flat()) v *= 1000.0f;
  ch::write_float_volume(dir / "file_brain_AXT1POST_003.h5", "reconstruction", gt);
  int status = 0;
  auto j = submit_multipart(c, dir, "multicoil_8x", &status);
  const int64_t id = j.value("id", int64_t(0));
  ASSERT_GT(id, 0) << j.dump();
  j = wait_done(c, id, "scored");
  std::ostringstream gt_max;
  gt_max << mx;  // as the validator prints it
  auto own = c.Get(("/api/submissions/" + std::to_string(id)).c_str())->body;
  auto list = c.Get("/api/submissions")->body;
  auto org = client(*org_token).Get(("/api/submissions/" + std::to_string(id)).c_str())->body;
  EXPECT_EQ(own.find(gt_max.str()), std::string::npos) << gt_max.str() << " in " << own;
  EXPECT_EQ(list.find(gt_max.str()), std::string::npos);
  EXPECT_NE(own.find("\"scale\""), std::string::npos) << "the participant still gets the warning: " << own;
  EXPECT_NE(org.find("\"scale\""), std::string::npos) << org;
  // Per-volume scores and images of the open test phase: organisers only.
  EXPECT_EQ(c.Get(("/api/submissions/" + std::to_string(id) + "/volumes").c_str())->status, 403);
  EXPECT_EQ(c.Get(("/api/submissions/" + std::to_string(id) + "/volumes/file_brain_AXT1POST_003.h5/slices/0.png")
                      .c_str())
                ->status,
            403);
  auto lb = c.Get("/api/leaderboard/test/multicoil_8x")->body;
  EXPECT_EQ(lb.find("ssim_per_slice"), std::string::npos);
  EXPECT_EQ(lb.find("\"volumes\""), std::string::npos);
  // Hidden challenge-phase scores.
  auto hidden = body(c.Get("/api/leaderboard/challenge/multicoil_4x"));
  EXPECT_EQ(hidden["hidden"], true);
  EXPECT_TRUE(hidden["entries"].empty());
  // Ground truth and the data directory are not served.
  for (const char* p : {"/ground_truth/multicoil_test/file_brain_AXT2_001.h5", "/manifest.json", "/../CMakeLists.txt",
                        "/%2e%2e/CMakeLists.txt", "/..%2fCMakeLists.txt"}) {
    auto r = client().Get(p);
    ASSERT_TRUE(r);
    EXPECT_NE(r->status, 200) << p;
  }
}

// Many clients at once against two in-process workers: each submission is scored exactly
// once, quotas and the leaderboard stay consistent (and TSan sees every thread at work).
TEST_F(SecurityTest, ConcurrentClientsAndWorkers) {
  constexpr int kClients = 4;
  std::vector<std::thread> threads;
  std::vector<int64_t> ids(kClients, 0);
  std::vector<std::string> tokens(kClients);
  for (int k = 0; k < kClients; ++k)
    tokens[k] = register_user("conc" + std::to_string(k), "Team Conc " + std::to_string(k));
  std::atomic<bool> done{false};
  std::thread reader([&] {  // leaderboard readers hit the cache while scores land
    auto c = client();
    while (!done) {
      auto r = c.Get("/api/leaderboard/test/multicoil_4x");
      EXPECT_TRUE(r && r->status == 200);
      c.Get("/api/health");
    }
  });
  for (int k = 0; k < kClients; ++k)
    threads.emplace_back([&, k] {
      auto c = client(tokens[k]);
      auto dir = rb::testing::make_submission(data, root / ("conc" + std::to_string(k)), "multicoil_test", 4,
                                              0.02 * (k + 1), 100 + k);
      int status = 0;
      auto j = submit_multipart(c, dir, "multicoil_4x", &status);
      ids[k] = j.value("id", int64_t(0));
    });
  for (auto& t : threads) t.join();
  for (int k = 0; k < kClients; ++k) {
    ASSERT_GT(ids[k], 0);
    auto c = client(tokens[k]);
    EXPECT_EQ(wait_done(c, ids[k], "scored", 120).value("state", ""), "scored");
  }
  done = true;
  reader.join();
  auto lb = body(client().Get("/api/leaderboard/test/multicoil_4x"));
  int mine = 0;
  for (const auto& e : lb["entries"])
    if (e["team"].get<std::string>().rfind("Team Conc", 0) == 0) ++mine;
  EXPECT_EQ(mine, kClients) << lb.dump();
  for (int64_t id : ids) EXPECT_EQ(svc->store().count_scores(id), 1);
}

// Last: it locks 127.0.0.1 out for the rest of the window.
// Self-contained: ctest runs each case in its own process, so nothing here may rely on users
// or failures made by other cases.
TEST_F(SecurityTest, ZZ_FailedAuthenticationIsRateLimited) {
  const std::string tok = register_user("victim", "Team Victim");
  register_user("bystander", "Team Bystander");
  auto login = [](const std::string& user, const std::string& pw) {
    return client().Post("/api/login", json{{"username", user}, {"password", pw}}.dump(), "application/json");
  };
  // Per (account, address): 3 free wrong passwords, the 4th starts a delay, during which even
  // the right password is refused from this address.
  for (int i = 0; i < 4; ++i) {
    auto r = login("victim", "guess");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << i;
  }
  auto r = login("victim", "pw-victim-secret");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
  const int retry = std::atoi(r->get_header_value("Retry-After").c_str());
  EXPECT_GT(retry, 0);
  EXPECT_LE(retry, 60);
  // Another account from the same address still logs in (under the per-address limit).
  r = login("bystander", "pw-bystander-secret");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // Per address: guessed tokens, then 429 for every token from this address, valid or not.
  int n401 = 0, n429 = 0;
  for (int i = 0; i < 10; ++i) {
    auto g = client("rbt_1_" + ch::random_hex(32)).Get("/api/me");
    ASSERT_TRUE(g);
    n401 += g->status == 401;
    n429 += g->status == 429;
  }
  EXPECT_EQ(n401, 8 - 4);  // 4 failed logins already counted for 127.0.0.1
  EXPECT_EQ(n429, 10 - n401);
  auto g = client(tok).Get("/api/me");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 429);
  EXPECT_FALSE(g->get_header_value("Retry-After").empty());
}

}  // namespace
