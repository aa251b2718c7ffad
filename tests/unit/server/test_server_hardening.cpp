// Issue 15 against a live in-process server on loopback: each attack a participant (or an
// outsider) made, and its refusal -- the HTTP status and that nothing was stored or scored.
// Each test starts its own server (options of its own) on a fresh dataset and database.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "../challenge/fixture.hpp"
#include "../io/hdf5_attacks.hpp"
#include "reconbench/challenge/confine.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/server/http.hpp"
#include "reconbench/server/server.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;
using nlohmann::json;
using rb::testing::H5Attack;

namespace {

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A server of its own: dataset, database and blob store under one directory.
struct Live {
  explicit Live(const std::string& name, rb::server::ServerOptions so = {}, std::function<double()> clock = {}) {
    root = rb::testing::temp_dir("hard-" + name);
    data = rb::testing::make_dataset(root);
    rb::testing::write_kspace_inputs(data);
    ch::ServiceOptions o;
    o.data = data;
    o.db = "sqlite:" + (root / "c.db").string();
    o.blobs = root / "blobs";
    o.study_cases = 2;
    if (!std::getenv("RECONBENCH_VALIDATOR")) o.validator = {RECONBENCH_BIN, "validate-child"};
    svc = std::make_unique<ch::Service>(o, std::move(clock));
    auto u = svc->store().create_user("org", "", "organiser");
    org = svc->store().create_token(u.id, "all", "test");
    so.port = 0;
    so.lease_s = 5;
    server = std::make_unique<rb::server::Server>(*svc, so);
    port = server->bind();
    thread = std::thread([this] { server->run(); });
  }
  ~Live() {
    server->stop();
    thread.join();
    server.reset();
    svc.reset();
    fs::remove_all(root);
  }
  httplib::Client client(const std::string& token = "") const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60);
    if (!token.empty()) c.set_bearer_token_auth(token);
    return c;
  }
  std::string register_user(const std::string& name, const std::string& team) const {
    auto r = client().Post("/api/register",
                           json{{"username", name}, {"password", "pw-" + name + "-secret"}, {"team", team}}.dump(),
                           "application/json");
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no response");
    return r ? json::parse(r->body).value("token", "") : "";
  }
  // Multipart submission of every .h5 file of `dir`.
  httplib::Result submit(const std::string& token, const fs::path& dir, const std::string& track = "multicoil_4x",
                         const std::string& description = "") const {
    httplib::MultipartFormDataItems items = {{"phase", "test", "", ""}, {"track", track, "", ""},
                                             {"description", description, "", ""}};
    for (const auto& [name, path] : ch::list_submission_dir(dir))
      items.push_back({"file", rb::read_file(path), name, "application/x-hdf5"});
    return client(token).Post("/api/submissions", items);
  }
  json wait_done(const std::string& token, int64_t id) const {
    json j;
    for (int i = 0; i < 600; ++i) {
      j = json::parse(client(token).Get(("/api/submissions/" + std::to_string(id)).c_str())->body);
      const std::string s = j.value("state", "");
      if (s == "failed" || s == "scored") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return j;
  }
  // Files in the blob store (not counting resumable uploads in progress).
  int64_t blob_files() const {
    int64_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(root / "blobs"))
      n += e.is_regular_file() && e.path().parent_path().filename() != "uploads";
    return n;
  }

  fs::path root, data;
  std::unique_ptr<ch::Service> svc;
  std::unique_ptr<rb::server::Server> server;
  std::thread thread;
  std::string org;
  int port = 0;
};

// A server that neither validates nor scores (routes only).
rb::server::ServerOptions routes_only() {
  rb::server::ServerOptions so;
  so.workers = 0;
  so.validators = 0;
  return so;
}

json body(const httplib::Result& r) {
  if (!r) return json();
  try {
    return json::parse(r->body);
  } catch (...) {
    return json{{"raw", r->body}};
  }
}

// A TCP connection from a chosen loopback source address (127.0.0.0/8 is all loopback).
int connect_from(const char* source, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source, &src.sin_addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0);
  return fd;
}

// Whatever the server sends within `seconds`, and whether it closed the connection.
std::pair<std::string, bool> read_for(int fd, double seconds) {
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  while (since(t0) < seconds) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return {out, true};
    out.append(buf, static_cast<size_t>(n));
  }
  return {out, false};
}

// ---------------------------------------------------------------- 1. HDF5 indirection

TEST(Hardening, Hdf5IndirectionIsRefusedThroughTheServer) {
  Live live("h5");
  const std::string tok = live.register_user("mallory", "Team Mallory");
  const std::string victim = "file_brain_AXT2_001.h5";
  const fs::path gt = live.data / "ground_truth/multicoil_test" / victim;
  // The relative link of the issue: from the blob's directory (BLOBS/ab/) to the data.
  const fs::path relative = fs::path("../..") / fs::relative(gt, live.root);
  struct Case {
    std::string name;
    H5Attack attack;
    fs::path target;
  };
  const std::vector<Case> cases = {{"external link, absolute", H5Attack::external_link, gt},
                                   {"external link, relative to the blob", H5Attack::external_link, relative},
                                   {"virtual dataset", H5Attack::virtual_dataset, gt},
                                   {"external storage", H5Attack::external_storage, gt},
                                   {"soft link to a missing object", H5Attack::soft_link_missing, gt}};
  const std::string expect_confinement = ch::to_string(ch::probe_confinement().best());
  int k = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path dir = live.root / ("attack" + std::to_string(k));
    rb::testing::make_submission(live.data, dir, "multicoil_test", 4, 0.05, 10 + k++);
    rb::testing::write_h5_attack(dir / victim, c.attack, "reconstruction", c.target, "reconstruction_rss", gt);
    auto r = live.submit(tok, dir);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    const int64_t id = body(r)["id"];
    auto j = live.wait_done(tok, id);
    EXPECT_EQ(j["state"], "failed") << j.dump();
    EXPECT_EQ(j["failure"]["kind"], "validation") << j.dump();
    bool named = false;
    for (const auto& e : j["validation"]["errors"]) named = named || (e["file"] == victim && e["kind"] == "unsafe");
    EXPECT_TRUE(named) << j["validation"].dump();
    EXPECT_EQ(j["validation"]["confinement"], expect_confinement);
    EXPECT_EQ(live.svc->store().count_scores(id), 0);
  }
  EXPECT_TRUE(body(live.client().Get("/api/leaderboard/test/multicoil_4x"))["entries"].empty());
  EXPECT_EQ(body(live.client(tok).Get("/api/quota?phase=test&track=multicoil_4x"))["used_total"], 0);
  EXPECT_EQ(live.svc->store().queue_stats()["done"], 0) << "no evaluation job ran";
}

// The real `reconbench validate-child` under each mechanism this kernel offers (forced
// through the environment the child inherits): valid files are scored, an attack refused.
TEST(Hardening, ValidatorWorksUnderEachConfinementThisKernelOffers) {
  const auto probe = ch::probe_confinement();
  std::vector<std::string> mechanisms;
  if (probe.landlock_abi > 0) mechanisms.push_back("landlock");
  if (probe.user_namespaces) mechanisms.push_back("namespace");
  if (mechanisms.empty()) GTEST_FAIL() << "no confinement here: see Confinement.WhatThisKernelOffersHolds";
  Live live("mechanisms");
  const std::string tok = live.register_user("val", "Team Val");
  const std::string victim = "file_brain_AXT2_001.h5";
  const fs::path gt = live.data / "ground_truth/multicoil_test" / victim;
  int k = 0;
  for (const auto& m : mechanisms) {
    SCOPED_TRACE(m);
    setenv("RECONBENCH_VALIDATOR_CONFINEMENT", m.c_str(), 1);
    const fs::path good = rb::testing::make_submission(live.data, live.root / ("good" + m), "multicoil_test", 4, 0.05, 40 + k++);
    auto r = live.submit(tok, good);
    ASSERT_EQ(r->status, 202) << r->body;
    auto j = live.wait_done(tok, body(r)["id"]);
    EXPECT_EQ(j["state"], "scored") << j.dump();
    EXPECT_EQ(j["validation"]["confinement"], m);
    const fs::path bad = live.root / ("bad" + m);
    rb::testing::make_submission(live.data, bad, "multicoil_test", 4, 0.05, 40 + k++);
    rb::testing::write_h5_attack(bad / victim, H5Attack::external_link, "reconstruction", gt, "reconstruction_rss", gt);
    r = live.submit(tok, bad);
    ASSERT_EQ(r->status, 202) << r->body;
    j = live.wait_done(tok, body(r)["id"]);
    EXPECT_EQ(j["state"], "failed") << j.dump();
    EXPECT_EQ(j["validation"]["confinement"], m);
  }
  unsetenv("RECONBENCH_VALIDATOR_CONFINEMENT");
}

// ---------------------------------------------------------------- 2. slow clients

TEST(Hardening, OneAddressCannotTakeEveryRequestThread) {
  rb::server::ServerOptions so;
  so.workers = 0;
  so.http_threads = 4;
  so.max_connections_per_address = 2;
  so.stall_window_s = 60;  // only the cap is at work here
  Live live("cap", so);
  // Two clients from 127.0.0.2 trickle a request line; a third from there is refused at once.
  int slow[2];
  for (int& fd : slow) {
    fd = connect_from("127.0.0.2", live.port);
    ::send(fd, "GET /api/hea", 12, MSG_NOSIGNAL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int third = connect_from("127.0.0.2", live.port);
  ::send(third, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n", 37, MSG_NOSIGNAL);
  auto [answer, closed] = read_for(third, 10);
  EXPECT_EQ(answer.rfind("HTTP/1.1 429", 0), 0u) << answer;
  EXPECT_TRUE(closed);
  // Everyone else is served.
  const auto t0 = std::chrono::steady_clock::now();
  auto h = live.client().Get("/api/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_LT(since(t0), 5.0);
  for (int fd : slow) ::close(fd);
  ::close(third);
}

TEST(Hardening, SlowRequestsAreCutAndTheirThreadsFreed) {
  rb::server::ServerOptions so;
  so.workers = 0;
  so.http_threads = 2;
  so.max_connections_per_address = 0;
  so.stall_window_s = 1;
  so.min_bytes_per_window = 512;
  so.request_timeout_s = 30;
  Live live("slow", so);
  const std::string tok = live.register_user("slowpoke", "Team Slow");
  // Both request threads taken: a slow-loris client and a PUT whose announced body never comes.
  const int loris = connect_from("127.0.0.3", live.port);
  const int put = connect_from("127.0.0.4", live.port);
  const std::string head = "PUT /api/uploads/1?offset=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
                           "\r\nContent-Length: 100000\r\n\r\n0123456789";
  ::send(put, head.data(), head.size(), MSG_NOSIGNAL);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread trickle([&] {
    const std::string req = "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (size_t i = 0; i < req.size() && since(t0) < 20; ++i) {
      if (::send(loris, &req[i], 1, MSG_NOSIGNAL) <= 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  // A third client waits for a thread; it is served once the watchdog has cut the slow two.
  auto h = live.client().Get("/api/health");
  const double waited = since(t0);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_LT(waited, 15.0) << "before: until the clients gave up (60 s read timeout per byte)";
  EXPECT_TRUE(read_for(loris, 10).second) << "slow-loris connection closed";
  EXPECT_TRUE(read_for(put, 10).second) << "stalled upload closed";
  trickle.join();
  ::close(loris);
  ::close(put);
  // A POST without Content-Length has no body (RFC 9112): answered at once, not read until
  // the client leaves (`curl -X POST URL` used to wait out the read timeout).
  const int bare = connect_from("127.0.0.5", live.port);
  const std::string logout = "POST /api/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok + "\r\n\r\n";
  ::send(bare, logout.data(), logout.size(), MSG_NOSIGNAL);
  const auto t1 = std::chrono::steady_clock::now();
  auto [answer, closed] = read_for(bare, 10);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_LT(since(t1), 5.0);
  ::close(bare);
}

// ---------------------------------------------------------------- 3. blob store

TEST(Hardening, RefusedRequestsStoreNothingAndStorageIsCappedAndCollected) {
  Live live("blobs");
  auto& st = live.svc->store();
  st.set_limits({1, 0, 20, 1 << 20, 0});
  const std::string tok = live.register_user("filler", "Team Filler");
  auto first = live.submit(tok, rb::testing::make_submission(live.data, live.root / "s1", "multicoil_test", 4, 0.05, 1));
  ASSERT_EQ(first->status, 202) << first->body;
  EXPECT_EQ(live.wait_done(tok, body(first)["id"])["state"], "scored");
  const int64_t stored = live.blob_files();
  // Quota used up: refused with 429 before a byte reaches the blob store.
  auto second = live.submit(tok, rb::testing::make_submission(live.data, live.root / "s2", "multicoil_test", 4, 0.07, 2));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429) << second->body;
  EXPECT_EQ(live.blob_files(), stored);
  // A per-team storage cap: an upload or a multipart submission past it is 413, nothing kept.
  st.set_limits({5, 0, 20, 1 << 20, 20000});
  auto c = live.client(tok);
  const std::string sha = std::string(64, 'b');
  auto up = c.Post("/api/uploads", json{{"filename", "a.h5"}, {"size", 30000}, {"sha256", sha}}.dump(), "application/json");
  EXPECT_EQ(up->status, 413) << up->body;
  auto third = live.submit(tok, live.root / "s2");
  EXPECT_EQ(third->status, 413) << third->body;
  EXPECT_EQ(live.blob_files(), stored);
  // After the phase closed, no new upload (the issue: 201 after close).
  st.set_limits({5, 0, 20, 1 << 20, 0});
  up = c.Post("/api/uploads", json{{"filename", "a.h5"}, {"size", 300}, {"sha256", sha}, {"phase", "test"}}.dump(),
              "application/json");
  EXPECT_EQ(up->status, 201) << up->body;
  live.client(live.org).Post("/api/admin/phases/test/close", "{}", "application/json");
  live.client(live.org).Post("/api/admin/phases/challenge/close", "{}", "application/json");
  up = c.Post("/api/uploads", json{{"filename", "a.h5"}, {"size", 300}, {"sha256", sha}}.dump(), "application/json");
  EXPECT_EQ(up->status, 403) << up->body;
  // Garbage collection: an uploaded blob nobody submitted and the stale open upload go; the
  // scored submission's files stay.
  const std::string orphan = "orphan bytes";
  st.record_blob(live.svc->blobs().put(orphan), 12, 2);
  auto gc = body(live.client(live.org).Post("/api/admin/gc", R"({"grace_s": 0})", "application/json"));
  EXPECT_EQ(gc["blobs_removed"], 1) << gc.dump();
  EXPECT_EQ(gc["uploads_removed"], 1) << gc.dump();
  EXPECT_FALSE(live.svc->blobs().has(ch::sha256_hex(orphan)));
  EXPECT_EQ(live.blob_files(), stored);
}

// ---------------------------------------------------------------- 4. lock-outs

TEST(Hardening, LockOutIsPerAccountAndAddressBehindATrustedProxy) {
  rb::server::ServerOptions so = routes_only();
  so.trusted_proxies = {"127.0.0.1"};
  so.auth_free_failures = 2;
  so.auth_first_delay_s = 60;
  Live live("lockout", so);
  live.register_user("victim", "Team Victim");
  auto login = [&](const std::string& xff, const std::string& pw) {
    return live.client().Post("/api/login", httplib::Headers{{"X-Forwarded-For", xff}},
                              json{{"username", "victim"}, {"password", pw}}.dump(), "application/json");
  };
  // The attacker (forwarded as 203.0.113.66, even when it puts the victim's address first).
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login("198.51.100.7, 203.0.113.66", "guess")->status, 401);
  auto r = login("203.0.113.66", "pw-victim-secret");
  EXPECT_EQ(r->status, 429) << r->body;
  // The victim, from their own address, is not locked out.
  r = login("198.51.100.7", "pw-victim-secret");
  EXPECT_EQ(r->status, 200) << r->body;

  // Without a trusted proxy, X-Forwarded-For is ignored: rotating it evades nothing.
  rb::server::ServerOptions plain = so;
  plain.trusted_proxies.clear();
  Live direct("lockout2", plain);
  direct.register_user("victim", "Team Victim");
  auto login2 = [&](const std::string& xff, const std::string& pw) {
    return direct.client().Post("/api/login", httplib::Headers{{"X-Forwarded-For", xff}},
                                json{{"username", "victim"}, {"password", pw}}.dump(), "application/json");
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login2("10.0.0." + std::to_string(i), "guess")->status, 401);
  EXPECT_EQ(login2("10.0.0.99", "guess")->status, 429);
}

TEST(Hardening, AuthDelaysEscalatePerAccountAndAddress) {
  double t = 1000;
  rb::server::AuthLimiter lim({50, 300, 2, 1, 8}, [&t] { return t; });
  for (int i = 0; i < 2; ++i) {
    lim.pair_failure("victim", "203.0.113.66");
    EXPECT_EQ(lim.pair_wait("victim", "203.0.113.66"), 0) << "free failure " << i;
  }
  // 1, 2, 4, 8, 8 s: doubling, capped.
  for (int want : {1, 2, 4, 8, 8}) {
    lim.pair_failure("victim", "203.0.113.66");
    EXPECT_EQ(lim.pair_wait("victim", "203.0.113.66"), want);
    t += want;
    EXPECT_EQ(lim.pair_wait("victim", "203.0.113.66"), 0);
  }
  // The owner's address and other accounts were never delayed.
  EXPECT_EQ(lim.pair_wait("victim", "198.51.100.7"), 0);
  EXPECT_EQ(lim.pair_wait("other", "203.0.113.66"), 0);
  // A success resets the pair; a day without failures too.
  lim.pair_failure("victim", "203.0.113.66");
  lim.pair_success("victim", "203.0.113.66");
  lim.pair_failure("victim", "203.0.113.66");
  EXPECT_EQ(lim.pair_wait("victim", "203.0.113.66"), 0);
  for (int i = 0; i < 3; ++i) lim.pair_failure("x", "a");
  EXPECT_GT(lim.pair_wait("x", "a"), 0);
  t += 86401;
  lim.pair_failure("x", "a");
  EXPECT_EQ(lim.pair_wait("x", "a"), 0);
  // Per address: a fixed window of `per_address` failures, whatever the account.
  rb::server::AuthLimiter addr({3, 300, 5, 1, 900}, [&t] { return t; });
  for (int i = 0; i < 3; ++i) addr.address_failure("10.1.1.1");
  EXPECT_EQ(addr.address_wait("10.1.1.1"), 300);
  EXPECT_EQ(addr.address_wait("10.1.1.2"), 0);
  t += 301;
  EXPECT_EQ(addr.address_wait("10.1.1.1"), 0);
}

// ---------------------------------------------------------------- 6-10

TEST(Hardening, HugeNumbersAndValuesAreClientErrors) {
  Live live("json", routes_only());
  const std::string tok = live.register_user("num", "Team Num");
  auto c = live.client(tok);
  const std::string digits(1 << 20, '7');
  for (const std::string& b : {std::string(R"({"filename":"a.h5","size":1e400,"sha256":"x"})"),
                               R"({"filename":"a.h5","size":)" + digits + R"(,"sha256":"x"})",
                               R"({"filename":")" + digits + R"(","size":5,"sha256":")" + std::string(64, 'a') + R"("})"}) {
    auto r = c.Post("/api/uploads", b, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body.substr(0, 300);
    EXPECT_LT(r->body.size(), 2000u) << "the reason is clipped";
  }
  auto org = live.client(live.org);
  for (const char* b : {R"({"per_day": 1e30})", R"({"per_day": "many"})", R"({"per_day": 0.5})"}) {
    auto r = org.Put("/api/admin/limits", b, "application/json");
    EXPECT_EQ(r->status, 400) << b << " " << r->body;
  }
  EXPECT_EQ(org.Post("/api/admin/phases/test/window", R"({"opens_at": "soon"})", "application/json")->status, 400);
}

TEST(Hardening, RefusedRegistrationLeavesNoAccount) {
  Live live("register", routes_only());
  live.register_user("alice", "Team A");
  auto r = live.client().Post("/api/register", R"({"username":"bob","password":"bob-password-1","team":"Team A"})",
                              "application/json");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_FALSE(live.svc->store().user_by_name("bob").has_value()) << "the account was rolled back";
  r = live.client().Post("/api/register", R"({"username":"bob","password":"bob-password-2","team":"Team B"})",
                         "application/json");
  EXPECT_EQ(r->status, 201) << r->body;
}

TEST(Hardening, LoginTokensExpireAndLogoutRevokes) {
  double now = 1.8e9;
  rb::server::ServerOptions so = routes_only();
  so.login_token_hours = 1;
  Live live("tokens", so, [&now] { return now; });
  const std::string reg = live.register_user("tess", "Team Tess");
  auto login = [&] {
    return body(live.client().Post("/api/login", R"({"username":"tess","password":"pw-tess-secret"})", "application/json"));
  };
  auto j = login();
  const std::string tok = j["token"];
  EXPECT_DOUBLE_EQ(j["expires_at"].get<double>(), now + 3600);
  EXPECT_EQ(live.client(tok).Get("/api/me")->status, 200);
  now += 7200;  // expired
  EXPECT_EQ(live.client(tok).Get("/api/me")->status, 401);
  EXPECT_EQ(live.client(reg).Get("/api/me")->status, 401) << "the registration token too";
  // Log-out revokes the token at once.
  const std::string tok2 = login()["token"];
  EXPECT_EQ(live.client(tok2).Post("/api/logout", "", "application/json")->status, 200);
  EXPECT_EQ(live.client(tok2).Get("/api/me")->status, 401);
  // API tokens: listed (with the current one marked), expiring if asked, revocable.
  const std::string tok3 = login()["token"];
  auto c = live.client(tok3);
  auto api = body(c.Post("/api/tokens", R"({"scope":"submit","label":"ci","expires_in_days":1})", "application/json"));
  EXPECT_DOUBLE_EQ(api["expires_at"].get<double>(), now + 86400);
  auto list = body(c.Get("/api/tokens"));
  int current = 0, expired = 0;
  for (const auto& t : list) {
    current += t["current"].get<bool>();
    expired += t["expired"].get<bool>();
  }
  EXPECT_EQ(current, 1) << list.dump();
  EXPECT_EQ(expired, 2) << list.dump();
  const std::string api_tok = api["token"];
  const int64_t api_id = std::stoll(api_tok.substr(4, api_tok.find('_', 4) - 4));
  EXPECT_EQ(live.client(api_tok).Get("/api/me")->status, 200);
  EXPECT_EQ(c.Delete(("/api/tokens/" + std::to_string(api_id)).c_str())->status, 200);
  EXPECT_EQ(live.client(api_tok).Get("/api/me")->status, 401);
}

TEST(Hardening, StaticRouteServesOnlyTheUi) {
  // A web directory as a checkout has it after the browser tests' `npm ci`.
  const fs::path web = rb::testing::temp_dir("web");
  for (const auto& e : fs::directory_iterator(rb::source_dir() / "web"))
    if (e.is_regular_file()) fs::copy_file(e.path(), web / e.path().filename());
  fs::create_directories(web / "node_modules/playwright-core");
  rb::write_file_atomic(web / "node_modules/playwright-core/package.json", "{\"name\": \"playwright-core\"}");
  rb::write_file_atomic(web / "package.json", "{\"name\": \"reconbench-web\"}");
  fs::create_symlink("/etc/passwd", web / "passwd.html");
  rb::server::ServerOptions so = routes_only();
  so.web_dir = web;
  Live live("static", so);
  httplib::Client c("127.0.0.1", live.port);
  for (const char* ok : {"/", "/index.html", "/app.js", "/style.css", "/account.html"})
    EXPECT_EQ(c.Get(ok)->status, 200) << ok;
  for (const char* no : {"/node_modules/playwright-core/package.json", "/package.json", "/package-lock.json",
                         "/index.html%00.png", "/app.js%00", "/passwd.html", "/index.html/", "/%2e%2e/CMakeLists.txt",
                         "/.hidden", "/node_modules/"}) {
    auto r = c.Get(no);
    ASSERT_TRUE(r) << no;
    EXPECT_EQ(r->status, 404) << no << " " << r->body.substr(0, 100);
  }
  // An unknown reader study is "not found", not a bad request.
  auto rd = live.svc->store().create_user("rad", "", "reader");
  const std::string rtok = live.svc->store().create_token(rd.id, "all", "t");
  EXPECT_EQ(live.client(rtok).Get("/api/studies/999/cases")->status, 404);
  EXPECT_EQ(live.client(rtok).Get("/api/studies/999/cases/0/image/A.png")->status, 404);
  EXPECT_EQ(live.client(live.org).Get("/api/studies/999/results")->status, 404);
  fs::remove_all(web);
}

TEST(Hardening, DescriptionsArePrivateAndOutliersAreFlaggedForOrganisers) {
  Live live("outliers");
  const std::string a = live.register_user("ann", "Team Ann"), b = live.register_user("ben", "Team Ben");
  // Team Ann submits the ground truth itself (SSIM 1); Team Ben the same bytes.
  const fs::path perfect = rb::testing::make_submission(live.data, live.root / "perfect", "multicoil_test", 4, 0.0, 3);
  const std::string secret = "<script>alert(1)</script> our method";
  auto ra = live.submit(a, perfect, "multicoil_4x", secret);
  auto rb_ = live.submit(b, perfect);
  ASSERT_EQ(ra->status, 202);
  ASSERT_EQ(rb_->status, 202);
  const int64_t ia = body(ra)["id"], ib = body(rb_)["id"];
  ASSERT_EQ(live.wait_done(a, ia)["state"], "scored");
  ASSERT_EQ(live.wait_done(b, ib)["state"], "scored");
  // Descriptions: not in the public leaderboard; the team and the organisers see them.
  const std::string lb = live.client().Get("/api/leaderboard/test/multicoil_4x")->body;
  EXPECT_EQ(lb.find("description"), std::string::npos) << lb;
  EXPECT_EQ(lb.find("<script>"), std::string::npos);
  EXPECT_NE(live.client(live.org).Get("/api/leaderboard/test/multicoil_4x")->body.find("our method"), std::string::npos);
  EXPECT_EQ(body(live.client(a).Get(("/api/submissions/" + std::to_string(ia)).c_str()))["description"], secret);
  // Outliers in the organisers' view only.
  json flags;
  for (const auto& s : body(live.client(live.org).Get("/api/submissions")))
    if (s["id"] == ia) flags = s["flags"];
  EXPECT_EQ(flags["ssim_at_least"], 0.999) << flags.dump();
  ASSERT_TRUE(flags["shared_files"].is_array()) << flags.dump();
  EXPECT_EQ(flags["shared_files"][0]["team"], "Team Ben");
  EXPECT_EQ(flags["shared_files"][0]["submission"], ib);
  EXPECT_TRUE(body(live.client(live.org).Get(("/api/submissions/" + std::to_string(ib)).c_str())).contains("flags"));
  EXPECT_FALSE(body(live.client(a).Get(("/api/submissions/" + std::to_string(ia)).c_str())).contains("flags"));
  // The admin page shows them.
  EXPECT_NE(rb::read_file(rb::source_dir() / "web/admin.html").find("s.flags"), std::string::npos);
}

}  // namespace
