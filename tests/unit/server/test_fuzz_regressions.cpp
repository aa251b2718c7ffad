// Regressions found by fuzz/fuzz_server_http (README "Fuzzing"): each request here once
// crashed the server or made a handler answer 500 to client input.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <thread>

#include "../challenge/fixture.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/server/server.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;

namespace {

class ServerFuzzRegression : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root = rb::testing::temp_dir("server-fuzzreg");
    ch::ServiceOptions o;
    o.data = rb::testing::make_dataset(root);
    o.db = "sqlite:" + (root / "c.db").string();
    svc = new ch::Service(o);
    auto org = svc->store().create_user("org", "", "organiser");
    org_token = new std::string(svc->store().create_token(org.id, "all", "test"));
    rb::server::ServerOptions so;
    so.port = 0;
    so.workers = 0;
    server = new rb::server::Server(*svc, so);
    port = server->bind();
    thread = new std::thread([] { server->run(); });
    // Serving once /api/health answers (run() starts listening asynchronously).
    for (int i = 0; i < 500 && !httplib::Client("127.0.0.1", port).Get("/api/health"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
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

  // Raw bytes on a fresh connection (no client-side encoding; the request says
  // "Connection: close"); the whole answer.
  static std::string raw(const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }
  static int status(const std::string& response) {
    return response.size() > 12 ? std::atoi(response.c_str() + 9) : 0;
  }

  static inline fs::path root;
  static inline ch::Service* svc = nullptr;
  static inline std::string* org_token = nullptr;
  static inline rb::server::Server* server = nullptr;
  static inline std::thread* thread = nullptr;
  static inline int port = 0;
};

}  // namespace

// The 404 handler put the raw path into JSON; nlohmann::json::dump() threw on invalid UTF-8
// inside httplib's worker thread: std::terminate, the whole server down.
TEST_F(ServerFuzzRegression, NotFoundPathWithInvalidUtf8) {
  const std::string r = raw("GET /\xde\xad%DE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status(r), 404) << r;
  EXPECT_NE(r.find("not found"), std::string::npos) << r;
  // Still serving.
  EXPECT_EQ(status(raw("GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")), 200);
}
