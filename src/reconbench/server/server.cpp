#include "reconbench/server/server.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "reconbench/challenge/confine.hpp"
#include "reconbench/challenge/storage.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/server/http.hpp"
#include "reconbench/server/listener.hpp"

namespace rb::server {

namespace fs = std::filesystem;

Server::Server(challenge::Service& service, ServerOptions opts)
    : svc_(service), opts_(std::move(opts)), http_(std::make_unique<HttpServer>()) {
  if (opts_.web_dir.empty()) opts_.web_dir = source_dir() / "web";
  cache_ = std::make_unique<Cache>(AuthLimiter::Policy{opts_.auth_failures_per_ip, opts_.auth_window_s,
                                                       opts_.auth_free_failures, opts_.auth_first_delay_s,
                                                       opts_.auth_max_delay_s});
  ListenerOptions lo;
  lo.threads = opts_.http_threads;
  lo.max_per_address = opts_.max_connections_per_address;
  lo.max_total = std::max(64, 8 * opts_.http_threads);
  lo.request_timeout_s = opts_.request_timeout_s;
  lo.stall_window_s = opts_.stall_window_s;
  lo.min_bytes = opts_.min_bytes_per_window;
  lo.exempt.insert(opts_.trusted_proxies.begin(), opts_.trusted_proxies.end());
  listener_ = std::make_unique<Listener>(*http_, lo);
  listener_->attach();
  routes();
}

Server::~Server() { stop(); }

bool Server::listening() const { return listener_->listening(); }

int Server::bind() {
  if (opts_.port == 0) {
    port_ = http_->bind_to_any_port(opts_.host);
  } else {
    RB_CHECK(http_->bind_to_port(opts_.host, opts_.port), "--port ", opts_.port,
             ": cannot listen on ", opts_.host, ":", opts_.port, " (in use?)");
    port_ = opts_.port;
  }
  RB_CHECK(port_ > 0, "cannot bind a port on ", opts_.host);
  return port_;
}

// Periodic blob-store garbage collection (storage.hpp), until stop().
void Server::maintenance() {
  if (opts_.gc_interval_s <= 0) return;
  double next = 0;
  for (double t = 0; !stop_.load(); t += 0.2) {
    if (t >= next) {
      try {
        const auto r = challenge::collect_garbage(svc_.store(), svc_.blobs(), opts_.gc_grace_s);
        if (r.blobs + r.uploads + r.stray_files > 0)
          std::fprintf(stderr, "serve: storage: %s\n", challenge::to_json(r).dump().c_str());
      } catch (const std::exception& e) {
        std::fprintf(stderr, "serve: storage garbage collection: %s\n", clip(e.what(), 300).c_str());
      }
      next = t + opts_.gc_interval_s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void Server::run() {
  // A submission a killed server left between its creation and its validation request
  // ('uploaded') would otherwise stay there forever: request its validation now (idempotent;
  // validation costs no quota, queueing re-checks it; leased validation jobs requeue
  // themselves when their lease expires).
  for (const auto& s : svc_.store().submissions(0, 1000000))
    if (s.state == "uploaded") {
      std::fprintf(stderr, "serve: resuming submission %lld left in state '%s'\n", static_cast<long long>(s.id),
                   s.state.c_str());
      try {
        svc_.submit(s.id);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "serve: submission %lld: %s\n", static_cast<long long>(s.id), e.what());
      }
    }
  if (opts_.validators > 0)
    std::fprintf(stderr, "serve: validator filesystem confinement: %s\n",
                 challenge::probe_confinement().describe().c_str());
  for (int k = 0; k < opts_.validators; ++k)
    workers_.emplace_back([this, k] {
      const std::string id = "serve-" + std::to_string(::getpid()) + "-validator-" + std::to_string(k);
      svc_.validation_loop(id, opts_.lease_s, 0.2, stop_);
    });
  for (int k = 0; k < opts_.workers; ++k) {
    workers_.emplace_back([this, k] {
      const std::string id = "serve-" + std::to_string(::getpid()) + "-" + std::to_string(k);
      svc_.work_loop(id, opts_.lease_s, 0.5, stop_);
    });
  }
  workers_.emplace_back([this] { maintenance(); });
  listener_->run();
}

void Server::stop() {
  stop_ = true;
  if (listener_) listener_->stop();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void Server::routes() {
  auto& S = *http_;
  Ctx c;
  c.svc = &svc_;
  c.store = &svc_.store();
  c.opts = opts_;
  c.cache = cache_.get();
  c.listener = listener_.get();

  S.set_payload_max_length(static_cast<size_t>(std::max(opts_.max_chunk_bytes, opts_.max_multipart_bytes)));
  const auto io = static_cast<time_t>(std::max(1.0, opts_.io_timeout_s));
  S.set_read_timeout(io, 0);
  S.set_write_timeout(io, 0);
  S.set_keep_alive_timeout(5);

  S.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string reason = res.status == 413 ? "request too large (see the size limits in /api/challenge)"
                         : res.status == 404 ? "not found: " + clip(req.path)
                                             : "HTTP " + std::to_string(res.status);
    // The path is client bytes: invalid UTF-8 must not make dump() throw (std::terminate in
    // httplib's thread, the whole server down).
    res.set_content(json{{"error", reason}}.dump(-1, ' ', false, json::error_handler_t::replace),
                    "application/json");
  });

  // Every response: no MIME sniffing, no framing (clickjacking), no referrer leaking paths.
  S.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
  });
  // After each response: the connection reads a request again (listener deadlines).
  S.set_logger([l = listener_.get()](const httplib::Request& req, const httplib::Response&) {
    l->response_written(req.remote_addr, req.remote_port);
  });

  account_routes(S, c);
  submission_routes(S, c);
  board_routes(S, c);
  study_routes(S, c);
  pre_routing(S, c);
}

}  // namespace rb::server
