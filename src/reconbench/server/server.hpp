// `reconbench serve`: the challenge's HTTP JSON API and static web UI over challenge::Service.
//
// Auth: "Authorization: Bearer rbt_<id>_<secret>" (tokens from /api/register, /api/login,
// /api/tokens or `reconbench challenge add-user`). Scopes: all | submit | read. Roles:
// organiser (everything, incl. hidden scores and /api/admin/*), participant (own team's
// submissions; aggregate scores where the phase shows them), reader (reader studies).
//
// Every error is a JSON object {"error": "<reason>"} with a 4xx status for client mistakes
// (400 malformed, 401 no/bad/expired token, 403 role/scope, 404 unknown or not yours, 409
// conflict, 413 too large, 429 quota, too many failed authentications or too many
// connections from one address, with Retry-After), 503 with Retry-After when the blob store
// cannot be written (disk full, read-only), and 500 with a generic reason for server faults
// (details go to the server log only, clipped, never test data). Threat model and what each
// protection is tested by: docs/security.md.
//
// Endpoints (JSON unless noted):
//   GET  /api/health | /api/challenge | /api/teams
//   GET  /api/challenge/files?phase=   {phase, tracks: {track: [file names]}}
//   GET  /api/submissions/check?phase=&track=   200 when the team may submit there now, else
//        the 4xx that POST /api/submissions would give (phase closed, no team, quota)
//   POST /api/register {username, password, team?}     POST /api/login {username, password}
//   POST /api/logout (revokes the token used)          GET  /api/me
//   POST|GET /api/tokens  {scope, label, expires_in_days?}   DELETE /api/tokens/<id>
//   POST /api/teams {name}                             GET /api/quota?phase=&track=
//   POST /api/uploads {filename, size, sha256, phase?} resumable upload: GET /api/uploads/<id>
//   PUT  /api/uploads/<id>?offset=N  (raw bytes)       POST /api/uploads/<id>/finalize
//   POST /api/submissions {phase, track, description, files: {name: sha256}} or multipart
//        -> 202 {id, state: "validating"} at once (poll GET /api/submissions/<id>); 409 for the
//        same files as a live submission of the team (duplicate: not charged)
//   PUT  /api/submissions/<id>/final   (challenge phase: the team's submission that counts)
//   GET  /api/submissions | /api/submissions/<id> | /api/submissions/<id>/volumes
//   GET  /api/submissions/<id>/volumes/<name>/slices/<k>.png  (GT | recon | residual x5 | SSIM)
//   GET  /api/leaderboard/<phase>/<track>
//   GET  /api/studies | /api/studies/<id>/cases | /api/studies/<id>/cases/<k>
//   GET  /api/studies/<id>/cases/<k>/image/<GT|A|B|C>.png   PUT /api/studies/<id>/cases/<k>
//   GET  /api/studies/<id>/results | /progress | /responses.csv          (organiser)
//   POST /api/admin/users | /api/admin/teams/<id>/members | /api/admin/phases/<p>/close
//   POST /api/admin/phases/<p>/window | /publish {force?} | /api/admin/rescore | /api/admin/gc
//   PUT  /api/admin/limits  GET /api/admin/queue  (organisers see every team's submissions in
//        GET /api/submissions, with outlier flags)
//   GET  /*  the UI's own files from the web directory (an allow-list: http.cpp)
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>


#include "reconbench/challenge/service.hpp"

namespace rb::server {

class HttpServer;
class Listener;
struct Cache;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0 = any free port
  std::filesystem::path web_dir;      // static UI; default <source>/web
  int workers = 1;                    // in-process evaluation workers
  int validators = 1;                 // validation threads (each runs sandboxed child processes)
  int http_threads = 32;              // request threads (a keep-alive connection holds one)
  double lease_s = 30;                // job lease
  bool open_registration = true;      // POST /api/register allowed
  int64_t max_chunk_bytes = 64 << 20; // one PUT of a resumable upload
  int64_t max_multipart_bytes = 512 << 20;  // one multipart submission
  // Connections (listener.hpp): concurrent per client address (0 = no cap), a deadline for
  // receiving each request, and a minimum rate while receiving it; one socket read or write
  // may block io_timeout_s.
  int max_connections_per_address = 16;
  double request_timeout_s = 300;
  double stall_window_s = 10;
  int64_t min_bytes_per_window = 1024;
  double io_timeout_s = 20;
  // Peers whose X-Forwarded-For names the client (a reverse proxy): rate limits then key on
  // the forwarded address, and the proxy has no per-address connection cap. Nobody else's
  // X-Forwarded-For is believed.
  std::vector<std::string> trusted_proxies;
  // Failed authentications (http.hpp AuthLimiter): wrong passwords or tokens per client
  // address in a window; per (account, address) `auth_free_failures`, then a delay before the
  // next try of auth_first_delay_s, doubling with each failure (at most auth_max_delay_s).
  int64_t auth_failures_per_ip = 50;
  double auth_window_s = 300;
  int64_t auth_free_failures = 5;
  double auth_first_delay_s = 1;
  double auth_max_delay_s = 900;
  // Tokens from /api/login and /api/register expire after this (0 = never).
  double login_token_hours = 12;
  // Blob-store garbage collection (challenge/storage.hpp): every gc_interval_s (0 = only on
  // POST /api/admin/gc), removing what no submission uses after gc_grace_s.
  double gc_interval_s = 3600;
  double gc_grace_s = 86400;
};

class Server {
 public:
  Server(challenge::Service& service, ServerOptions opts);
  ~Server();
  // Binds (port 0 = any free port) and returns the port.
  int bind();
  // Serves until stop(); starts the in-process workers.
  void run();
  void stop();
  int port() const { return port_; }
  // The listening socket is open (tests tell a dead server from a busy one).
  bool listening() const;

 private:
  void routes();
  void maintenance();
  challenge::Service& svc_;
  ServerOptions opts_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<Cache> cache_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  int port_ = 0;
};

}  // namespace rb::server
