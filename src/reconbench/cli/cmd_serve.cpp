// `reconbench serve`: the challenge server (HTTP API, web UI, in-process workers).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "reconbench/challenge/service.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/cli/service_args.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/server/server.hpp"

namespace {

struct ServeCmd final : rb::cli::Command {
  rb::cli::ServiceArgs service;
  std::string web, host = "127.0.0.1", admin_token_file, port_file;
  int port = 8080, workers = 1, validators = 1, http_threads = 32, per_address = 16;
  double lease = 30, request_timeout = 300, login_hours = 12, gc_grace_hours = 24;
  bool closed_registration = false;
  int64_t per_day = -1, total = -1, attempts = -1;
  double max_file_mb = -1, max_team_mb = -1;
  std::vector<std::string> trusted_proxies;
  void declare(CLI::App& app) override {
    service.declare(app);
    service.declare_validator(app);
    app.add_option("--port", port, "TCP port; 0 = any free port (see --port-file)")->default_val(8080);
    app.add_option("--host", host, "address to listen on")->default_val("127.0.0.1");
    app.add_option("--workers", workers, "in-process evaluation workers (0 = only external `reconbench worker`)")
        ->default_val(1);
    app.add_option("--validators", validators,
                   "validation threads: each validates one submission at a time in a sandboxed "
                   "child process (submit returns before validation; 0 = only `reconbench worker`)")
        ->default_val(1);
    app.add_option("--http-threads", http_threads, "HTTP request threads (each keep-alive connection holds one)")
        ->default_val(32);
    app.add_option("--lease", lease, "evaluation job lease in seconds (requeued when a worker stops heartbeating)")
        ->default_val(30);
    app.add_option("--web", web, "directory of the web UI (default: the source tree's web/)");
    app.add_flag("--closed-registration", closed_registration,
                 "disable POST /api/register (organisers create accounts)");
    app.add_option("--admin-token-file", admin_token_file,
                   "if the database has no organiser yet, create 'admin' and write its token here");
    app.add_option("--port-file", port_file, "write the bound port to this file once listening");
    app.add_option("--per-day", per_day, "submissions per team, track and phase in 24 h (stored)");
    app.add_option("--total", total, "total submissions per team, track and phase; 0 = unlimited (stored)");
    app.add_option("--attempts-per-day", attempts, "attempts (valid or not) per team and track in 24 h (stored)");
    app.add_option("--max-file-mb", max_file_mb, "largest uploaded file in MiB (stored)");
    app.add_option("--max-team-mb", max_team_mb,
                   "blob storage a team may hold in MiB, uploads included; 0 = no cap (stored; default 51200)");
    app.add_option("--max-connections-per-address", per_address,
                   "concurrent connections from one client address; more are answered 429 (0 = no cap; "
                   "raise it for many users behind one NAT address)")
        ->default_val(16);
    app.add_option("--request-timeout", request_timeout,
                   "seconds a client may take to send one request (headers and body); a connection "
                   "sending under 1 KiB in 10 s while a request is due is closed as well")
        ->default_val(300);
    app.add_option("--trusted-proxy", trusted_proxies,
                   "address of a reverse proxy whose X-Forwarded-For names the client (repeatable); "
                   "nobody else's X-Forwarded-For is believed");
    app.add_option("--login-token-hours", login_hours,
                   "tokens from logging in or registering expire after this many hours (0 = never)")
        ->default_val(12);
    app.add_option("--gc-grace-hours", gc_grace_hours,
                   "uploaded files no submission uses, and stale uploads, are deleted after this many hours")
        ->default_val(24);
  }
  int run() override {
    rb::challenge::ServiceOptions so = service.options();
    rb::challenge::Service svc(so);
    auto& store = svc.store();
    auto l = store.limits();
    if (per_day >= 0) l.per_day = per_day;
    if (total >= 0) l.total = total;
    if (attempts >= 0) l.attempts_per_day = attempts;
    if (max_file_mb > 0) l.max_file_bytes = static_cast<int64_t>(max_file_mb * 1024 * 1024);
    if (max_team_mb >= 0) l.max_team_bytes = static_cast<int64_t>(max_team_mb * 1024 * 1024);
    store.set_limits(l);
    if (!admin_token_file.empty() && store.count_users("organiser") == 0) {
      auto u = store.create_user("admin", "", "organiser");
      rb::write_file_atomic(admin_token_file, store.create_token(u.id, "all", "serve bootstrap") + "\n");
    }
    rb::server::ServerOptions opts;
    opts.host = host;
    opts.port = port;
    opts.workers = workers;
    opts.validators = validators;
    opts.http_threads = http_threads;
    opts.lease_s = lease;
    opts.web_dir = web;
    opts.open_registration = !closed_registration;
    opts.max_connections_per_address = per_address;
    opts.request_timeout_s = request_timeout;
    opts.trusted_proxies = trusted_proxies;
    opts.login_token_hours = login_hours;
    opts.gc_grace_s = gc_grace_hours * 3600;
    rb::server::Server server(svc, opts);
    const int bound = server.bind();
    std::printf("reconbench serve: listening on http://%s:%d (data %s)\n", host.c_str(), bound,
                service.data.c_str());
    std::fflush(stdout);
    if (!port_file.empty()) rb::write_file_atomic(port_file, std::to_string(bound) + "\n");
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      while (!done.load()) {
        if (rb::interrupted()) {
          server.stop();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    server.run();
    done = true;
    watcher.join();
    server.stop();
    std::printf("reconbench serve: stopped\n");
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"serve", "run the challenge server: API, web UI, evaluation workers",
     "Serves the challenge over HTTP: accounts, teams and scoped API tokens; resumable "
     "sha256-verified uploads; validation before quota; an evaluation queue in the database "
     "with leases and heartbeats (in-process workers, plus any `reconbench worker` processes "
     "on the same database); per-track leaderboards with per-contrast and per-vendor "
     "sub-tables and intervals; the reader study; and the web UI from web/. Closing the "
     "challenge phase creates the reader studies (top 3 per track by SSIM); its scores stay "
     "hidden from everyone but organisers until they publish the final results. Uploaded files "
     "are validated in a confined child process; slow or hostile clients are cut off "
     "(docs/security.md). Stop with Ctrl-C.",
     {"reconbench serve --data data/ --port 8080",
      "reconbench serve --data data/ --db sqlite:/srv/rb/challenge.db --workers 2 --admin-token-file admin.token",
      "reconbench serve --data data/ --port 0 --port-file port.txt --closed-registration",
      "reconbench serve --data data/ --db postgresql://rb@db-host:5432/challenge --blobs /srv/rb/blobs"},
     72},
    [] { return std::make_unique<ServeCmd>(); });

}  // namespace
