// The challenge server's HTTP handlers (src/reconbench/server/ over challenge::Service),
// driven through the real stack: rb::server::Server (its own accept loop, server/listener.hpp;
// cpp-httplib is Debian's uninstrumented shared library) listens on 127.0.0.1 in-process,
// and each input is sent as raw bytes on a fresh TCP connection -- request line, query
// strings, headers, JSON bodies, chunked transfer encoding, multipart submissions, several
// pipelined requests per connection.
//
// State, made once: the fixture challenge dataset (tests/unit/challenge/fixture.hpp), an
// organiser, a participant in a team with an uploaded reconstruction, a reader, three teams
// whose scored challenge submissions became a reader study when the challenge phase was
// closed. In the input, @ORG@, @PART@ and @READ@ are replaced by those users' tokens and
// @UPLOAD@ by the id of a fresh open upload of the participant, so the fuzzer reaches the
// authenticated routes.
//
// Findings, beyond crashes and sanitizer reports in any server thread: a 500 response (a
// handler threw something other than a client error on client input), a connection that
// is not answered and closed within 20 s (a hang), and a server that stopped listening. The
// request is printed on stderr.
//
// A connect() that fails while the server's listening socket is alive is not a finding: it
// is retried with backoff for up to 20 s (issue 15, item 11: under a loaded machine the
// run stopped with "connection refused (server down?)" after 751 inputs: docs/testing.md).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <thread>

#include "../tests/unit/challenge/fixture.hpp"
#include "common.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/server/server.hpp"

namespace {

namespace ch = rb::challenge;
namespace fs = std::filesystem;

std::string round_trip(int port, const std::string& request, bool must_connect = true);
// The in-process server once started (round_trip asks whether it still listens).
rb::server::Server* g_server = nullptr;

struct World {
  ch::Service* svc = nullptr;
  rb::server::Server* server = nullptr;
  std::thread* thread = nullptr;  // serves for the life of the process
  int port = 0;
  int64_t participant = 0;
  std::string org, part, read;
};

// One scored submission per new team for the 4X challenge track (through the Service, as
// the server's handlers do).
void scored_submission(ch::Service& svc, const fs::path& data, const fs::path& dir, int k) {
  auto& st = svc.store();
  auto u = st.create_user("team" + std::to_string(k), "password" + std::to_string(k), "participant");
  auto t = st.create_team(u.id, "Team " + std::to_string(k));
  auto sub = rb::testing::make_submission(data, dir / ("t" + std::to_string(k)), "multicoil_challenge", 4,
                                          0.05 * (k + 1), 10 + k);
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& [name, path] : ch::list_submission_dir(sub)) {
    const std::string sha = svc.blobs().put(rb::read_file(path));
    st.record_blob(sha, static_cast<int64_t>(fs::file_size(path)), u.id);
    files.emplace_back(name, sha);
  }
  const int64_t id = st.create_submission(st.phase("challenge").id, "multicoil_4x", t.id, u.id, "", "fixture", files);
  svc.process_submission(id);
}

World& world() {
  static World w = [] {
    World x;
    const fs::path root = rb::fuzz::scratch() / "server";
    const fs::path data = rb::testing::make_dataset(root);
    ch::ServiceOptions o;
    o.data = data;
    o.db = "sqlite:" + (root / "challenge.db").string();
    o.study_cases = 2;
    x.svc = new ch::Service(o);
    auto& st = x.svc->store();
    st.set_limits({1000000000, 0, 1000000000, 256 << 10});
    auto org = st.create_user("org", "organiser-password", "organiser");
    x.org = st.create_token(org.id, "all", "fuzz");
    auto part = st.create_user("alice", "alice-password", "participant");
    st.create_team(part.id, "Alice team");
    x.participant = part.id;
    x.part = st.create_token(part.id, "all", "fuzz");
    for (int k = 0; k < 3; ++k) scored_submission(*x.svc, data, root, k);
    while (x.svc->work_one("fuzz-setup", 30) > 0) {
    }
    x.svc->close_phase("challenge");
    auto reader = st.create_user("rad", "reader-password", "reader");
    x.read = st.create_token(reader.id, "all", "fuzz");
    // An uploaded reconstruction of the participant for the test phase's 8X track.
    auto sub = rb::testing::make_submission(data, root / "alice", "multicoil_test", 8, 0.05, 3);
    for (const auto& [name, path] : ch::list_submission_dir(sub))
      st.record_blob(x.svc->blobs().put(rb::read_file(path)), static_cast<int64_t>(fs::file_size(path)),
                     part.id);
    rb::server::ServerOptions so;
    so.port = 0;
    so.workers = 0;  // evaluation happens in setup; requests only queue jobs
    so.http_threads = 2;
    so.max_chunk_bytes = 64 << 10;
    so.max_multipart_bytes = 256 << 10;
    x.server = new rb::server::Server(*x.svc, so);
    x.port = x.server->bind();
    g_server = x.server;
    x.thread = new std::thread([s = x.server] { s->run(); });
    // run() starts listening asynchronously: wait until /api/health answers.
    for (int i = 0; i < 1000; ++i) {
      const std::string r = round_trip(x.port, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n", false);
      if (r.rfind("HTTP/1.1 200", 0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return x;
  }();
  return w;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Whether the server has all of the first request (headers end, Content-Length bytes or the
// last chunk of a chunked body), so that it will answer without waiting for more bytes.
bool request_complete(const std::string& q) {
  size_t end = q.find("\r\n\r\n"), skip = 4;
  if (const size_t e2 = q.find("\n\n"); e2 < end) end = e2, skip = 2;
  if (end == std::string::npos) return false;
  const std::string head = lower(q.substr(0, end));
  const std::string body = q.substr(end + skip);
  if (head.find("transfer-encoding: chunked") != std::string::npos)
    return body.find("0\r\n\r\n") != std::string::npos;
  const size_t cl = head.find("content-length:");
  if (cl == std::string::npos) return true;
  const unsigned long long n = std::strtoull(head.c_str() + cl + 15, nullptr, 10);
  return body.size() >= n;
}

// True once `r` holds a whole response: headers and Content-Length bytes of body (httplib
// sends a length with every response it writes).
bool response_complete(const std::string& r) {
  const size_t end = r.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const size_t cl = r.find("Content-Length: ");
  if (cl == std::string::npos || cl > end) return true;
  return r.size() >= end + 4 + std::strtoull(r.c_str() + cl + 16, nullptr, 10);
}

[[noreturn]] void finding(const std::string& what, const std::string& request, const std::string& response) {
  std::fprintf(stderr, "\n==== fuzz_server_http: %s\n---- request (%zu bytes):\n%.*s\n---- response:\n%.*s\n",
               what.c_str(), request.size(), static_cast<int>(std::min<size_t>(request.size(), 4000)),
               request.data(), static_cast<int>(std::min<size_t>(response.size(), 4000)), response.data());
  std::abort();
}

// A blocking connect to the server on a fresh socket; -1 with `err` on failure (libFuzzer's
// -timeout alarm, SIGALRM without SA_RESTART, lands on this thread and can interrupt it).
int connect_once(int port, int& err) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return fd;
  err = errno;
  ::close(fd);
  return -1;
}

std::string round_trip(int port, const std::string& request, bool must_connect) {
  int fd = -1, err = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int delay_ms = 5; fd < 0; delay_ms = std::min(delay_ms * 2, 1000)) {
    fd = connect_once(port, err);
    if (fd >= 0 || !must_connect) break;
    // A dead server is a finding at once; a live one that did not take the connection now
    // (a signal, a full backlog on a starved machine) is asked again.
    if (g_server && !g_server->listening())
      finding(std::string("the server stopped listening (connect: ") + std::strerror(err) + ")", request, "");
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(20))
      finding(std::string("connect failed for 20 s with a live listener: ") + std::strerror(err), request, "");
    static int retries = 0;
    if (++retries <= 20) std::fprintf(stderr, "fuzz_server_http: connect: %s; the listener is alive, retrying\n", std::strerror(err));
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  }
  if (fd < 0) return "";
  // httplib drops a response when the client has already half-closed (its is_writable()
  // peeks at the socket and sees EOF), and it loses pipelined requests (each request reads
  // through a fresh buffered stream). So a request that looks complete is answered first:
  // read until one whole response has arrived (or nothing for 0.3 s), then shut the write
  // side. An incomplete request (the server would wait for more bytes) is shut at once.
  // Either way the server must then close the connection.
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed early (e.g. 413): read what it answered
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[65536];
  int quiet_ms = 0;
  bool shut = false;
  const bool wait_for_answer = request_complete(request);
  for (;;) {
    if (!shut && (!wait_for_answer || quiet_ms >= 300 || response_complete(response))) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r == 0) {
      quiet_ms += 100;
      if (quiet_ms >= 20000) {
        ::close(fd);
        finding("connection neither answered nor closed within 20 s (hang)", request, response);
      }
      continue;
    }
    quiet_ms = 0;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return response;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  std::string req(reinterpret_cast<const char*>(data), size);
  replace_all(req, "@ORG@", w.org);
  replace_all(req, "@PART@", w.part);
  replace_all(req, "@READ@", w.read);
  if (req.find("@UPLOAD@") != std::string::npos) {
    auto u = w.svc->store().create_upload(w.participant, "file_brain_AXT1POST_003.h5", 64,
                                          std::string(64, '0'));
    replace_all(req, "@UPLOAD@", std::to_string(u.id));
  }
  const std::string res = round_trip(w.port, req);
  // Walk the (pipelined) responses: status line, headers, Content-Length body.
  for (size_t pos = 0; pos + 12 <= res.size();) {
    if (res.compare(pos, 9, "HTTP/1.1 ") != 0) break;
    if (res[pos + 9] == '5') finding("server error response", req, res.substr(pos));
    const size_t end = res.find("\r\n\r\n", pos);
    if (end == std::string::npos) break;
    size_t len = 0;
    const std::string head = res.substr(pos, end - pos);
    const size_t cl = head.find("Content-Length: ");
    if (cl != std::string::npos) len = std::strtoull(head.c_str() + cl + 16, nullptr, 10);
    pos = end + 4 + len;
  }
  return 0;
}
