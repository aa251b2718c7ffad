// `reconbench serve`: the challenge's HTTP JSON API and static web UI over challenge::Service.
//
// Auth: "Authorization: Bearer rbt_<id>_<secret>" (tokens from /api/register, /api/login,
// /api/tokens or `reconbench challenge add-user`). Scopes: all | submit | read. Roles:
// organiser (everything, incl. hidden scores and /api/admin/*), participant (own team's
// submissions; aggregate scores where the phase shows them), reader (reader studies).
//
// Every error is a JSON object {"error": "<reason>"} with a 4xx status for client mistakes
// (400 malformed, 401 no/bad token, 403 role/scope, 404 unknown or not yours, 409 conflict,
// 413 too large, 429 quota or too many failed authentications, with Retry-After), 503 with
// Retry-After when the blob store cannot be written (disk full, read-only), and 500 with a generic reason for server faults (details go to
// the server log only, never test data).
//
// Endpoints (JSON unless noted):
//   GET  /api/health | /api/challenge | /api/teams
//   POST /api/register {username, password, team?}     POST /api/login {username, password}
//   GET  /api/me       POST|GET /api/tokens            DELETE /api/tokens/<id>
//   POST /api/teams {name}                             GET /api/quota?phase=&track=
//   POST /api/uploads {filename, size, sha256}         resumable upload: GET /api/uploads/<id>
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
//   POST /api/admin/phases/<p>/window | /api/admin/rescore   PUT /api/admin/limits
//   GET  /api/admin/queue   (organisers see every team's submissions in GET /api/submissions)
//   GET  /*  static files from the web directory
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "reconbench/challenge/service.hpp"

namespace httplib {
class Server;
}

namespace rb::server {

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
  // Failed authentications (bad token or password) before 429 + Retry-After, per client
  // address and per username, in a fixed window of auth_window_s seconds.
  int64_t auth_failures_per_ip = 50;
  int64_t auth_failures_per_user = 10;
  double auth_window_s = 300;
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

 private:
  void routes();
  challenge::Service& svc_;
  ServerOptions opts_;
  std::unique_ptr<httplib::Server> http_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  int port_ = 0;
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace rb::server
