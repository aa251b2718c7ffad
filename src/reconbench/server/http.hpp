// The pieces every route file of the server shares (not part of the public API): HTTP
// errors, JSON bodies, the handler wrapper (CSRF/origin check, client address, rate limits,
// authentication, roles, error mapping, log hygiene) and the visibility rules.
#pragma once

#include <httplib.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/service.hpp"
#include "reconbench/io/png.hpp"
#include "reconbench/server/listener.hpp"
#include "reconbench/server/server.hpp"

namespace rb::server {

using nlohmann::json;
using challenge::Auth;

// An HTTP error with a status and a participant-safe reason.
struct HttpError {
  int status;
  std::string reason;
  int retry_after = 0;  // seconds, sent as Retry-After when > 0
};
[[noreturn]] void fail(int status, std::string reason);
// 503 + Retry-After: the blob store cannot be written (disk full, read-only).
[[noreturn]] void fail_storage(const std::string& what);

void send_json(httplib::Response& res, const json& j, int status = 200);
// The body as a JSON object ({} if empty); 400 if it is not one (malformed, a number beyond
// double such as 1e400, nesting too deep).
json parse_body(const httplib::Request& req);
std::string str_field(const json& j, const char* key, bool required = true);
// An integer field (absent or null: `def`); 400 unless a whole number within +-2^53.
int64_t int_field(const json& j, const char* key, int64_t def);
int64_t int_param(const httplib::Request& req, size_t k);

// A client-supplied value for a log line or an error message: at most `max` bytes,
// control characters and invalid UTF-8 escaped, "...(N bytes)" when cut.
std::string clip(std::string_view s, size_t max = 200);

// The client's address: the connection's peer, or -- only when the peer is one of
// `trusted` proxies -- the right-most X-Forwarded-For entry that is not a trusted proxy.
std::string client_address(const httplib::Request& req, const std::vector<std::string>& trusted);

// Failed authentications (issue 15):
//   per address   wrong passwords and unknown tokens from one client address, in a fixed
//                 window: `per_address` of them, then 429 until the window ends (token
//                 guessing, password spraying across accounts);
//   per (account, address)
//                 `free` wrong passwords for an account from one address, then an
//                 escalating delay before the next try from that address -- first_delay_s,
//                 twice that, four times, ... at most max_delay_s -- reset by a successful
//                 login. An attacker cannot lock the owner out from the owner's own
//                 address, and no captcha is needed.
class AuthLimiter {
 public:
  struct Policy {
    int64_t per_address = 50;
    double window_s = 300;
    int64_t free = 5;
    double first_delay_s = 1;
    double max_delay_s = 900;
  };
  // clock: seconds (default: steady_clock); tests pass their own.
  explicit AuthLimiter(Policy p, std::function<double()> clock = {});
  int address_wait(const std::string& address);  // seconds until allowed (0: now)
  int pair_wait(const std::string& account, const std::string& address);
  void address_failure(const std::string& address);
  void pair_failure(const std::string& account, const std::string& address);
  void pair_success(const std::string& account, const std::string& address);

 private:
  double now() const { return clock_(); }
  void prune(double t);
  struct Window {
    double start = 0;
    int64_t count = 0;
  };
  struct Backoff {
    int64_t failures = 0;
    double until = 0, last = 0;
  };
  Policy p_;
  std::function<double()> clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Window> address_;
  std::unordered_map<std::string, Backoff> pair_;
};

struct Cache {
  explicit Cache(AuthLimiter::Policy p) : auth(p) {}
  std::mutex mu;
  std::map<std::string, std::pair<int64_t, std::string>> leaderboards;  // key -> (version, body)
  AuthLimiter auth;
};

enum class Need { none, user, write, organiser, reader };
using Fn = std::function<void(const httplib::Request&, httplib::Response&, const std::optional<Auth>&)>;

#define RB_HANDLER_ARGS                                                              \
  [[maybe_unused]] const httplib::Request& req, [[maybe_unused]] httplib::Response& res, \
      [[maybe_unused]] const std::optional<Auth>& a

// What the route files need; copied into each handler (pointers and options only).
struct Ctx {
  challenge::Service* svc = nullptr;
  challenge::Store* store = nullptr;
  ServerOptions opts;
  Cache* cache = nullptr;
  Listener* listener = nullptr;

  // A handler with the origin check, authentication, the role `need` and error mapping.
  httplib::Server::Handler wrap(Need need, Fn fn) const;
  std::string client(const httplib::Request& req) const { return client_address(req, opts.trusted_proxies); }
  // Token lifetime for /api/login and /api/register (a time of Store::now()).
  double login_token_expiry() const;

  // 403 unless the phase accepts submissions now.
  challenge::Phase phase_open(const std::string& name) const;
  // Scores of `phase` for this caller: organisers always; others once they are public
  // (test phase: always; challenge phase: after the organisers publish the final results,
  // i.e. not while the reader study runs).
  bool scores_visible(const std::string& phase, const std::optional<Auth>& a) const;
  // Per-volume scores and slice images: organisers; others after the phase closed and its
  // scores are public.
  bool per_case_visible(const std::string& phase, const std::optional<Auth>& a) const;
  // A submission the caller may see (404 otherwise, not revealing it exists).
  challenge::SubmissionRow visible_submission(int64_t id, const Auth& a) const;
};

// The route groups (one file each).
void account_routes(httplib::Server& S, const Ctx& c);     // routes_account.cpp
void submission_routes(httplib::Server& S, const Ctx& c);  // routes_submissions.cpp
void board_routes(httplib::Server& S, const Ctx& c);       // routes_board.cpp (+ admin)
void study_routes(httplib::Server& S, const Ctx& c);       // routes_studies.cpp
// Before routing: body-less requests get Content-Length: 0; static files of the web
// directory through an allow-list (http.cpp).
void pre_routing(httplib::Server& S, const Ctx& c);

// JSON view of a submission (scores only if `show_scores`; the organisers' view adds the
// unredacted validation report and outlier `flags`).
json submission_json(challenge::Service& svc, const challenge::SubmissionRow& s, bool show_scores, bool organiser,
                     const json& flags = nullptr);
json redact_validation(json v);
bool valid_track(const std::string& t);
// An image as PNG bytes (written through a temporary file in tmp_dir).
std::string png_bytes(const Image8& img, const std::filesystem::path& tmp_dir);

}  // namespace rb::server
