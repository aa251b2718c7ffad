// The server's accept loop and connection guard (issue 15), replacing cpp-httplib 0.11's
// listen loop, which (a) closes the listening socket for good on any accept() error but
// EMFILE/EINTR/EAGAIN -- ENOMEM, ENOBUFS, ENFILE or ECONNABORTED under load left the server
// up but refusing every connection -- (b) listens with a backlog of 5 and (c) lets one
// client hold a request thread for as long as it trickles bytes.
//
// Here:
//   accept      transient errors are logged (rate-limited) and retried after a short pause;
//               only stop() ends the loop. Backlog SOMAXCONN.
//   per address at most max_per_address concurrent connections from one peer address (a
//               configured trusted proxy is exempt): the next one is answered 429 and closed
//               at once, without taking a request thread; at most max_total overall (503).
//   deadlines   a connection that is reading a request (between requests, or before its
//               handler starts) is closed when the request is not complete within
//               request_timeout_s, or when it received fewer than min_bytes bytes in the
//               last stall_window_s (the kernel's count, TCP_INFO): a slow-loris client, a
//               PUT whose body never comes or an overstated Content-Length release their
//               thread within seconds. Handlers themselves are not timed (a slice image may
//               take a while); responses have httplib's write timeout.
// Each accepted socket is handed to httplib's own request processing
// (Server::process_and_close_socket), so routing, parsing and keep-alive stay httplib's.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace rb::server {

struct ListenerOptions {
  int threads = 32;                  // request threads
  int max_per_address = 16;          // concurrent connections per peer address (0 = no cap)
  int max_total = 256;               // concurrent connections overall
  double request_timeout_s = 300;    // one request (headers + body) must arrive within this
  double stall_window_s = 10;        // ... receiving at least min_bytes in every such window
  int64_t min_bytes = 1024;
  std::set<std::string> exempt;      // peer addresses without a per-address cap (proxies)
};

// httplib::Server whose per-connection processing (read requests, route, respond, keep-alive;
// private in 0.11) our accept loop calls; listener.cpp reaches it through an explicit template
// instantiation, where C++ does not check access ([temp.spec.general]/6).
class HttpServer : public httplib::Server {
 public:
  bool process_connection(int fd);
};

// Bytes the kernel has received on a TCP connection so far (TCP_INFO), -1 if unknown
// (tcp_stats.cpp: linux/tcp.h cannot share a translation unit with httplib.h).
int64_t tcp_bytes_received(int fd);

class Listener {
 public:
  Listener(HttpServer& http, ListenerOptions opts);
  ~Listener();
  // Call before HttpServer::bind_to_port: records the listening socket httplib creates.
  void attach();
  // Serves until stop(); returns when the accept loop has ended and every connection closed.
  void run();
  void stop();
  // The listening socket is open and listening (tests: a refused connection with a live
  // listener is a full backlog or a client-side error, not a dead server).
  bool listening() const;
  // A request handler starts / its response was written (the deadlines apply only while a
  // connection reads a request). Keyed by the peer address and port httplib reports.
  void handler_started(const std::string& addr, int port);
  void response_written(const std::string& addr, int port);
  struct Stats {
    int64_t accepted = 0, refused_per_address = 0, refused_total = 0, cut_slow = 0, accept_errors = 0;
  };
  Stats stats() const;

 private:
  struct Conn;
  void accept_loop();
  void watchdog_loop();
  bool admit(int fd, const std::string& addr, int port);
  void release(int64_t id);

  HttpServer& http_;
  ListenerOptions opts_;
  std::atomic<int> listen_fd_{-1};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<int64_t, std::shared_ptr<Conn>> conns_;
  std::map<std::string, int> per_address_;
  int64_t next_id_ = 0;
  Stats stats_;
  std::unique_ptr<httplib::ThreadPool> pool_;
  std::thread watchdog_;
};

}  // namespace rb::server
