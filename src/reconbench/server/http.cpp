#include "reconbench/server/http.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <regex>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::server {

namespace fs = std::filesystem;

[[noreturn]] void fail(int status, std::string reason) { throw HttpError{status, std::move(reason)}; }

[[noreturn]] void fail_storage(const std::string& what) {
  throw HttpError{503,
                  "the server cannot store files right now (" + what +
                      "); nothing was counted against your quota, retry later",
                  60};
}

void send_json(httplib::Response& res, const json& j, int status) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

json parse_body(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  json j;
  try {
    j = json::parse(req.body);
  } catch (const json::exception& e) {
    // parse_error (malformed) and out_of_range (a number beyond double, e.g. 1e400): the
    // client's mistake; the reason may quote the input, so it is clipped.
    fail(400, "request body is not valid JSON (" + clip(e.what(), 120) + ")");
  }
  if (!j.is_object()) fail(400, "request body must be a JSON object");
  return j;
}

std::string str_field(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail(400, std::string("missing field '") + key + "'");
    return "";
  }
  if (!it->is_string()) fail(400, std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

int64_t int_field(const json& j, const char* key, int64_t def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (it->is_number_integer()) return it->get<int64_t>();
  // A float of integral value (1e3) is accepted; 1e30 or 0.5 is not (the cast would be UB).
  if (it->is_number_float()) {
    const double v = it->get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) <= 9007199254740992.0) return static_cast<int64_t>(v);
  }
  fail(400, std::string("field '") + key + "' must be an integer");
}

int64_t int_param(const httplib::Request& req, size_t k) {
  try {
    return std::stoll(req.matches[k].str());
  } catch (...) {
    fail(400, "bad number in URL");
  }
}

std::string clip(std::string_view s, size_t max) {
  std::string out;
  const size_t n = std::min(s.size(), max);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

namespace {

bool is_ip(const std::string& s) {
  in_addr a4{};
  in6_addr a6{};
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// "http://host:port" -> "host:port" (empty when not of that form).
std::string origin_host(const std::string& origin) {
  for (const char* scheme : {"http://", "https://"}) {
    const size_t n = std::strlen(scheme);
    if (origin.compare(0, n, scheme) == 0) return origin.substr(n, origin.find('/', n) - n);
  }
  return "";
}

}  // namespace

std::string client_address(const httplib::Request& req, const std::vector<std::string>& trusted) {
  auto is_trusted = [&](const std::string& a) { return std::find(trusted.begin(), trusted.end(), a) != trusted.end(); };
  const std::string& peer = req.remote_addr;
  if (!is_trusted(peer)) return peer;
  std::vector<std::string> hops;
  for (size_t i = 0, n = req.get_header_value_count("X-Forwarded-For"); i < n; ++i) {
    std::string v = req.get_header_value("X-Forwarded-For", i);
    for (size_t pos = 0; pos <= v.size();) {
      const size_t comma = std::min(v.find(',', pos), v.size());
      hops.push_back(trim(v.substr(pos, comma - pos)));
      pos = comma + 1;
    }
  }
  // Right to left: each trusted proxy appended the address it received from.
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!is_ip(*it)) return peer;  // garbage: nothing further left can be trusted
    if (!is_trusted(*it)) return *it;
  }
  return peer;
}

// ---------------------------------------------------------------- AuthLimiter

AuthLimiter::AuthLimiter(Policy p, std::function<double()> clock) : p_(p), clock_(std::move(clock)) {
  if (!clock_)
    clock_ = [] { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); };
}

void AuthLimiter::prune(double t) {
  // Bounded memory under a spray of addresses and names: forget what has expired.
  if (address_.size() + pair_.size() < 100000) return;
  for (auto it = address_.begin(); it != address_.end();)
    it = it->second.start + p_.window_s < t ? address_.erase(it) : std::next(it);
  for (auto it = pair_.begin(); it != pair_.end();)
    it = it->second.until < t && it->second.last + 86400 < t ? pair_.erase(it) : std::next(it);
}

int AuthLimiter::address_wait(const std::string& address) {
  if (p_.per_address <= 0) return 0;
  std::lock_guard lock(mu_);
  auto it = address_.find(address);
  if (it == address_.end()) return 0;
  const double left = it->second.start + p_.window_s - now();
  if (left <= 0) {
    address_.erase(it);
    return 0;
  }
  return it->second.count >= p_.per_address ? static_cast<int>(std::ceil(left)) : 0;
}

int AuthLimiter::pair_wait(const std::string& account, const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = pair_.find(account + '\n' + address);
  if (it == pair_.end()) return 0;
  const double left = it->second.until - now();
  return left > 0 ? static_cast<int>(std::ceil(left)) : 0;
}

void AuthLimiter::address_failure(const std::string& address) {
  std::lock_guard lock(mu_);
  const double t = now();
  prune(t);
  auto& w = address_[address];
  if (w.count == 0 || w.start + p_.window_s < t) w = {t, 0};
  ++w.count;
}

void AuthLimiter::pair_failure(const std::string& account, const std::string& address) {
  std::lock_guard lock(mu_);
  const double t = now();
  prune(t);
  auto& b = pair_[account + '\n' + address];
  if (b.last + 86400 < t) b = {};  // a day without failures starts over
  ++b.failures;
  b.last = t;
  if (b.failures > p_.free) {
    const double delay =
        p_.first_delay_s * std::ldexp(1.0, static_cast<int>(std::min<int64_t>(b.failures - p_.free - 1, 30)));
    b.until = t + std::min(delay, p_.max_delay_s);
  }
}

void AuthLimiter::pair_success(const std::string& account, const std::string& address) {
  std::lock_guard lock(mu_);
  pair_.erase(account + '\n' + address);
}

// ---------------------------------------------------------------- Ctx

double Ctx::login_token_expiry() const {
  return opts.login_token_hours > 0 ? store->now() + opts.login_token_hours * 3600.0 : 0.0;
}

challenge::Phase Ctx::phase_open(const std::string& name) const {
  auto ph = store->phase(name);
  const double t = store->now();
  if (ph.closed()) fail(403, "phase '" + name + "' is closed");
  if (ph.opens_at > 0 && t < ph.opens_at) fail(403, "phase '" + name + "' has not opened yet");
  if (ph.closes_at > 0 && t >= ph.closes_at) fail(403, "phase '" + name + "' has ended");
  return ph;
}

bool Ctx::scores_visible(const std::string& phase, const std::optional<Auth>& a) const {
  if (a && a->organiser()) return true;
  return store->phase(phase).scores_public();
}

bool Ctx::per_case_visible(const std::string& phase, const std::optional<Auth>& a) const {
  if (a && a->organiser()) return true;
  const auto ph = store->phase(phase);
  return ph.closed() && ph.scores_public();
}

challenge::SubmissionRow Ctx::visible_submission(int64_t id, const Auth& a) const {
  auto s = store->submission(id);
  if (!s) fail(404, "no such submission");
  if (a.organiser()) return *s;
  auto team = store->team_of(a.user.id);
  if (!team || s->team_id != team->id) fail(404, "no such submission");
  return *s;
}

// CSRF: the API authenticates with an Authorization header only (the web UI keeps its token
// in localStorage; no cookie is ever read), which a cross-site form or image cannot set. As
// a second line, a state-changing request that a browser marks as cross-origin (Origin not
// this Host, or Sec-Fetch-Site: cross-site) is refused, which also covers the token-less
// /api/register and /api/login. Non-browser clients send neither header.
httplib::Server::Handler Ctx::wrap(Need need, Fn fn) const {
  return [c = *this, need, fn = std::move(fn)](const httplib::Request& req, httplib::Response& res) {
    if (c.listener) c.listener->handler_started(req.remote_addr, req.remote_port);
    try {
      if (req.method != "GET" && req.method != "HEAD") {
        const auto origin = req.get_header_value("Origin");
        if (!origin.empty() && origin_host(origin) != req.get_header_value("Host"))
          fail(403, "cross-origin request refused (Origin " + clip(origin, 100) + ")");
        if (req.get_header_value("Sec-Fetch-Site") == "cross-site") fail(403, "cross-site request refused");
      }
      std::optional<Auth> auth;
      auto h = req.get_header_value("Authorization");
      if (h.rfind("Bearer ", 0) == 0) {
        const std::string client = c.client(req);
        if (int wait = c.cache->auth.address_wait(client))
          throw HttpError{429, "too many failed authentications from your address; retry in " +
                                   std::to_string(wait) + " s", wait};
        auth = c.store->authenticate(h.substr(7));
        if (!auth) {
          c.cache->auth.address_failure(client);
          fail(401, "invalid, expired or revoked token");
        }
      }
      if (need != Need::none && !auth) fail(401, "this endpoint needs a token (Authorization: Bearer ...)");
      if ((need == Need::write || (need == Need::reader && req.method != "GET")) && !auth->can_write())
        fail(403, "this token's scope ('" + auth->scope + "') does not allow changes");
      if (need == Need::organiser && !auth->organiser()) fail(403, "organisers only");
      if (need == Need::reader && auth->user.role != "reader") fail(403, "readers only");
      fn(req, res, auth);
    } catch (const HttpError& e) {
      if (e.retry_after > 0) res.set_header("Retry-After", std::to_string(e.retry_after));
      send_json(res, {{"error", clip(e.reason, 1000)}}, e.status);
    } catch (const std::filesystem::filesystem_error& e) {
      // Disk full, read-only or vanished blob directory: a platform failure, retryable.
      std::fprintf(stderr, "serve: %s %s: storage: %s\n", req.method.c_str(), clip(req.path).c_str(),
                   clip(e.what(), 300).c_str());
      res.set_header("Retry-After", "60");
      send_json(res, {{"error", "the server cannot store or read files right now; nothing was counted "
                                "against your quota, retry later"}},
                503);
    } catch (const json::exception& e) {
      // A value of the wrong type or range in the request (e.g. a string where a number goes).
      send_json(res, {{"error", "bad value in the request (" + clip(e.what(), 200) + ")"}}, 400);
    } catch (const UserError& e) {
      send_json(res, {{"error", clip(e.what(), 1000)}}, 400);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "serve: %s %s: %s\n", req.method.c_str(), clip(req.path).c_str(),
                   clip(e.what(), 300).c_str());
      send_json(res, {{"error", "internal server error"}}, 500);
    }
  };
}

// ---------------------------------------------------------------- before routing

// Before routing (httplib reads a request's body after this):
//   - a POST/PUT/DELETE without Content-Length or Transfer-Encoding has no body (RFC 9112
//     §6.3); httplib 0.11 would read until the client closes -- `curl -X POST URL` hung for
//     the read timeout -- so it is given Content-Length: 0;
//   - static files: only the UI's own, a name of letters, digits, '-', '_' with one of these
//     extensions, directly in the web directory, a regular file (not a symlink). Everything
//     else -- the node_modules/ of the browser tests, package*.json, dot files, names with NUL
//     or other control characters after percent-decoding (/index.html%00.png),
//     sub-directories -- is a 404 before httplib's file handler sees it.
void pre_routing(httplib::Server& S, const Ctx& c) {
  const fs::path dir = c.opts.web_dir;
  const bool web = fs::is_directory(dir);
  if (web) S.set_mount_point("/", dir.string());
  static const std::regex allowed(R"(/([A-Za-z0-9_-]+\.(html|js|css|png|svg|ico))?)");
  S.set_pre_routing_handler([dir, web](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding"))
      const_cast<httplib::Request&>(req).set_header("Content-Length", "0");  // httplib's own object
    if (req.path.rfind("/api/", 0) == 0) return httplib::Server::HandlerResponse::Unhandled;
    std::error_code ec;
    const bool ok = web && std::regex_match(req.path, allowed) &&
                    fs::is_regular_file(fs::symlink_status(dir / (req.path == "/" ? "index.html" : req.path.substr(1)), ec));
    if (ok) return httplib::Server::HandlerResponse::Unhandled;
    send_json(res, {{"error", "not found"}}, 404);
    return httplib::Server::HandlerResponse::Handled;
  });
}

// ---------------------------------------------------------------- shared views

std::string png_bytes(const Image8& img, const fs::path& tmp_dir) {
  const fs::path tmp = tmp_dir / ("img-" + challenge::random_hex(8) + ".png");
  write_png(tmp, img);
  std::string bytes = read_file(tmp);
  fs::remove(tmp);
  return bytes;
}

bool valid_track(const std::string& t) {
  for (const auto& tr : challenge::all_tracks())
    if (tr.name == t) return true;
  return false;
}

// Validation reports shown to participants. The scale check's reference is the zero-filled
// RSS of the public undersampled k-space (validate.hpp: the sandboxed validator refuses the
// hidden ground truth as a reference, since even whether the warning fires would leak one bit
// of its maximum per submission). The reference number is thus public (`reconbench validate`
// prints it locally); non-organisers still get a fixed sentence in its place.
json redact_validation(json v) {
  if (v.is_object() && v.contains("warnings") && v["warnings"].is_array())
    for (auto& w : v["warnings"])
      if (w.is_object() && w.value("kind", "") == "scale")
        w["reason"] = "intensity scale looks wrong: the middle-slice maximum is far from the expected "
                      "range (reconstructions must be RSS magnitudes on the scale of the input k-space)";
  return v;
}

json submission_json(challenge::Service& svc, const challenge::SubmissionRow& s, bool show_scores, bool organiser,
                     const json& flags) {
  json j = {{"id", s.id},
            {"phase", s.phase},
            {"track", s.track},
            {"team", s.baseline.empty() ? s.team : s.baseline},
            {"baseline", !s.baseline.empty()},
            {"description", s.description},
            {"state", s.state},
            {"counted", s.counted},
            {"created_at", s.created_at},
            {"updated_at", s.updated_at},
            {"files", s.files.size()},
            {"validation", organiser ? s.validation : redact_validation(s.validation)}};
  if (organiser && !flags.is_null()) j["flags"] = flags;
  if (s.state == "failed") j["failure"] = {{"kind", s.failure_kind}, {"reason", s.failure_reason}};
  if (s.state == "queued" || s.state == "evaluating") j["queue_position"] = svc.store().queue_position(s.id);
  if (s.state == "validating") j["validation_position"] = svc.store().validation_position(s.id);
  if (s.phase == "challenge" && s.state == "scored" && s.team_id > 0) {
    // The team's final submission for the leaderboard and reader study (default: latest).
    const auto finals = svc.store().final_submissions(s.phase_id, s.track);
    const auto f = finals.find(s.team_id);
    j["final"] = f != finals.end() && f->second.submission_id == s.id;
    j["final_selected"] = j["final"].get<bool>() && f->second.selected;
  }
  if (s.state == "scored" || svc.store().count_scores(s.id) > 0) {
    if (show_scores) {
      auto sc = svc.store().score(s.id, challenge::current_spec_hash());
      if (sc) {
        auto n = [](double v) { return std::isfinite(v) ? json(v) : json(); };
        j["scores"] = {{"ssim", n(sc->ssim)},        {"ssim_masked", n(sc->ssim_masked)},
                       {"psnr", n(sc->psnr)},        {"nmse", n(sc->nmse)},
                       {"summary", sc->summary},     {"spec_hash", sc->spec_hash},
                       {"evaluator", sc->evaluator}, {"manifest_hash", sc->manifest_hash}};
      }
    } else {
      j["scores_hidden"] = "scores of the challenge phase are hidden until the organisers publish the final "
                           "results (after the reader study)";
    }
  }
  return j;
}

}  // namespace rb::server
