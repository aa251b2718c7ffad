#include "reconbench/server/listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "reconbench/core/error.hpp"

namespace rb::server {

namespace {

using ProcessFn = bool (httplib::Server::*)(socket_t);
ProcessFn httplib_process_and_close_socket();
template <ProcessFn M>
struct Reach {
  friend ProcessFn httplib_process_and_close_socket() { return M; }
};
template struct Reach<&httplib::Server::process_and_close_socket>;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t bytes_received(int fd) { return tcp_bytes_received(fd); }

// The peer's numeric address and port, formatted as httplib formats Request::remote_addr.
std::string peer_address(const sockaddr_storage& ss, socklen_t len, int& port) {
  char host[NI_MAXHOST] = "", serv[NI_MAXSERV] = "";
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&ss), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "";
  port = std::atoi(serv);
  return host;
}

// A whole short response on a fresh connection, then close (no request thread taken).
void refuse(int fd, int status, const char* reason) {
  const std::string body = std::string("{\"error\":\"") + reason + "\"}";
  const std::string msg = "HTTP/1.1 " + std::to_string(status) +
                          (status == 429 ? " Too Many Requests" : " Service Unavailable") +
                          "\r\nContent-Type: application/json\r\nRetry-After: 5\r\nConnection: close\r\n"
                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const ssize_t n = ::send(fd, msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)n;
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace

bool HttpServer::process_connection(int fd) { return (this->*httplib_process_and_close_socket())(fd); }

struct Listener::Conn {
  int64_t id = 0;
  int fd = -1;  // a dup of the socket: stays ours until release(), so a late shutdown()
                // can never hit a number httplib has closed and the kernel reused
  std::string addr, key;
  bool started = false;   // a request thread has taken it
  bool handling = false;  // a handler runs (no read deadline)
  bool cut = false;
  double read_start = 0, window_start = 0;
  int64_t window_bytes = 0;
};

Listener::Listener(HttpServer& http, ListenerOptions opts) : http_(http), opts_(std::move(opts)) {}

Listener::~Listener() {
  stop();
  if (const int fd = listen_fd_.exchange(-1); fd >= 0) ::close(fd);  // bound, never run
}

void Listener::attach() {
  http_.set_socket_options([this](socket_t s) {
    // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second server bind the
    // same port and take half of its connections.
    int yes = 1;
    ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = s;
  });
}

bool Listener::listening() const {
  const int fd = listen_fd_;
  int on = 0;
  socklen_t len = sizeof on;
  return fd >= 0 && ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

Listener::Stats Listener::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Listener::admit(int fd, const std::string& addr, int port) {
  std::lock_guard lock(mu_);
  if (static_cast<int>(conns_.size()) >= opts_.max_total) {
    ++stats_.refused_total;
    refuse(fd, 503, "the server is busy; retry in a few seconds");
    return false;
  }
  int& mine = per_address_[addr];
  if (opts_.max_per_address > 0 && mine >= opts_.max_per_address && !opts_.exempt.count(addr)) {
    ++stats_.refused_per_address;
    refuse(fd, 429, "too many concurrent connections from your address");
    if (mine == 0) per_address_.erase(addr);
    return false;
  }
  auto c = std::make_shared<Conn>();
  c->id = ++next_id_;
  c->fd = ::dup(fd);
  c->addr = addr;
  c->key = addr + "|" + std::to_string(port);
  conns_[c->id] = c;
  ++mine;
  ++stats_.accepted;
  const int64_t id = c->id;
  pool_->enqueue([this, fd, id] {
    {
      std::lock_guard l(mu_);
      if (auto it = conns_.find(id); it != conns_.end()) {
        auto& conn = *it->second;
        conn.started = true;
        conn.read_start = conn.window_start = now_s();
        conn.window_bytes = bytes_received(conn.fd);
      }
    }
    http_.process_connection(fd);
    release(id);
  });
  return true;
}

void Listener::release(int64_t id) {
  std::lock_guard lock(mu_);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  if (it->second->fd >= 0) ::close(it->second->fd);
  if (--per_address_[it->second->addr] <= 0) per_address_.erase(it->second->addr);
  conns_.erase(it);
}

void Listener::handler_started(const std::string& addr, int port) {
  const std::string key = addr + "|" + std::to_string(port);
  std::lock_guard lock(mu_);
  for (auto& [id, c] : conns_)
    if (c->key == key) c->handling = true;
}

void Listener::response_written(const std::string& addr, int port) {
  const std::string key = addr + "|" + std::to_string(port);
  std::lock_guard lock(mu_);
  for (auto& [id, c] : conns_)
    if (c->key == key) {
      c->handling = false;
      c->read_start = c->window_start = now_s();
      c->window_bytes = bytes_received(c->fd);
    }
}

void Listener::watchdog_loop() {
  while (!stop_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    std::lock_guard lock(mu_);
    const double t = now_s();
    for (auto& [id, c] : conns_) {
      if (!c->started || c->handling || c->cut) continue;
      bool slow = t - c->read_start > opts_.request_timeout_s;
      if (!slow && t - c->window_start >= opts_.stall_window_s) {
        const int64_t b = bytes_received(c->fd);
        slow = b >= 0 && c->window_bytes >= 0 && b - c->window_bytes < opts_.min_bytes;
        c->window_start = t;
        c->window_bytes = b;
      }
      if (slow) {
        // The request thread's next read fails; it closes the connection and is free again.
        ::shutdown(c->fd, SHUT_RDWR);
        c->cut = true;
        ++stats_.cut_slow;
      }
    }
  }
}

void Listener::accept_loop() {
  const int fd = listen_fd_;
  double last_log = 0;
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int s = ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (s < 0) {
      if (stop_) break;
      const int err = errno;
      if (err == EAGAIN || err == EINTR) continue;
      {
        std::lock_guard lock(mu_);
        ++stats_.accept_errors;
      }
      // ENOMEM, ENOBUFS, EMFILE, ENFILE, ECONNABORTED, EPROTO...: transient; keep listening.
      if (now_s() - last_log > 10) {
        std::fprintf(stderr, "serve: accept: %s (retrying)\n", std::strerror(err));
        last_log = now_s();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(err == EMFILE || err == ENFILE ? 50 : 5));
      continue;
    }
    int port = 0;
    const std::string addr = peer_address(ss, len, port);
    admit(s, addr, port);
  }
}

void Listener::run() {
  const int fd = listen_fd_;
  RB_ASSERT(fd >= 0, "Listener::run before the socket was bound");
  ::listen(fd, SOMAXCONN);  // httplib listened with a backlog of 5
  pool_ = std::make_unique<httplib::ThreadPool>(static_cast<size_t>(std::max(2, opts_.threads)));
  watchdog_ = std::thread([this] { watchdog_loop(); });
  accept_loop();
  {
    // Wake every connection so that keep-alive waits end now, not at their timeout.
    std::lock_guard lock(mu_);
    for (auto& [id, c] : conns_) ::shutdown(c->fd, SHUT_RDWR);
  }
  pool_->shutdown();
  if (watchdog_.joinable()) watchdog_.join();
  if (const int lfd = listen_fd_.exchange(-1); lfd >= 0) ::close(lfd);
}

void Listener::stop() {
  stop_ = true;
  // Wakes the accept loop; run() closes the socket once the loop has left it.
  if (const int fd = listen_fd_; fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace rb::server
