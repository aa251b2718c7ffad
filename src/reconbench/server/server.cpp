#include "reconbench/server/server.hpp"

#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/reader.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/eval/figures.hpp"
#include "reconbench/io/png.hpp"

namespace rb::server {

namespace fs = std::filesystem;
using nlohmann::json;
using challenge::Auth;

// Failed authentications (wrong passwords, unknown or revoked tokens) counted per key
// ("ip:<addr>", "user:<name>") in a fixed window; a key at its limit is refused with 429 and
// Retry-After until its window ends, before any password hashing or token lookup is done.
class AuthLimiter {
 public:
  // Seconds until `key` may try again (0: allowed).
  int blocked(const std::string& key, int64_t limit, double window_s) {
    if (limit <= 0) return 0;
    std::lock_guard lock(mu_);
    auto it = m_.find(key);
    if (it == m_.end()) return 0;
    const double left = it->second.start + window_s - now();
    if (left <= 0) {
      m_.erase(it);
      return 0;
    }
    return it->second.count >= limit ? static_cast<int>(std::ceil(left)) : 0;
  }
  void failure(const std::string& key, double window_s) {
    std::lock_guard lock(mu_);
    const double t = now();
    if (m_.size() > 100000)  // bound memory under a spray of addresses/names
      for (auto it = m_.begin(); it != m_.end();)
        it = it->second.start + window_s < t ? m_.erase(it) : std::next(it);
    auto& e = m_[key];
    if (e.count == 0 || e.start + window_s < t) e = {t, 0};
    ++e.count;
  }

 private:
  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  struct Entry {
    double start = 0;
    int64_t count = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> m_;
};

struct Server::Cache {
  std::mutex mu;
  std::map<std::string, std::pair<int64_t, std::string>> leaderboards;  // key -> (version, body)
  AuthLimiter auth;
};

#define RB_HANDLER_ARGS                                                              \
  [[maybe_unused]] const httplib::Request& req, [[maybe_unused]] httplib::Response& res, \
      [[maybe_unused]] const std::optional<Auth>& a

namespace {

// An HTTP error with a status and a participant-safe reason.
struct HttpError {
  int status;
  std::string reason;
  int retry_after = 0;  // seconds, sent as Retry-After when > 0
};

[[noreturn]] void fail(int status, std::string reason) { throw HttpError{status, std::move(reason)}; }

[[noreturn]] void fail_storage(const std::string& what) {
  throw HttpError{503,
                  "the server cannot store files right now (" + what +
                      "); nothing was counted against your quota, retry later",
                  60};
}

// "http://host:port" -> "host:port" (empty when not of that form).
std::string origin_host(const std::string& origin) {
  for (const char* scheme : {"http://", "https://"}) {
    const size_t n = std::strlen(scheme);
    if (origin.compare(0, n, scheme) == 0) return origin.substr(n, origin.find('/', n) - n);
  }
  return "";
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

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

json parse_body(const httplib::Request& req) {
  if (req.body.empty()) return json::object();
  try {
    auto j = json::parse(req.body);
    if (!j.is_object()) fail(400, "request body must be a JSON object");
    return j;
  } catch (const json::parse_error&) {
    fail(400, "request body is not valid JSON");
  }
}

std::string str_field(const json& j, const char* key, bool required = true) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) fail(400, std::string("missing field '") + key + "'");
    return "";
  }
  if (!it->is_string()) fail(400, std::string("field '") + key + "' must be a string");
  return it->get<std::string>();
}

int64_t int_param(const httplib::Request& req, size_t k) {
  try {
    return std::stoll(req.matches[k].str());
  } catch (...) {
    fail(400, "bad number in URL");
  }
}

json submission_json(challenge::Service& svc, const challenge::SubmissionRow& s, bool show_scores,
                     bool organiser) {
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
  if (s.state == "failed") {
    j["failure"] = {{"kind", s.failure_kind}, {"reason", s.failure_reason}};
  }
  if (s.state == "queued" || s.state == "evaluating")
    j["queue_position"] = svc.store().queue_position(s.id);
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
      j["scores_hidden"] = "scores of the challenge phase are hidden until the organisers close it";
    }
  }
  return j;
}

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

}  // namespace

Server::Server(challenge::Service& service, ServerOptions opts)
    : svc_(service), opts_(std::move(opts)), http_(std::make_unique<httplib::Server>()),
      cache_(std::make_unique<Cache>()) {
  if (opts_.web_dir.empty()) opts_.web_dir = source_dir() / "web";
  const size_t threads = static_cast<size_t>(std::max(2, opts_.http_threads));
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  routes();
}

Server::~Server() { stop(); }

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
  http_->listen_after_bind();
}

void Server::stop() {
  stop_ = true;
  if (http_) http_->stop();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  workers_.clear();
}

void Server::routes() {
  // Handlers outlive this function: they capture pointers and copies only, never locals by
  // reference.
  auto& S = *http_;
  challenge::Service* const svc = &svc_;
  challenge::Store* const store = &svc_.store();
  const ServerOptions opts = opts_;
  Cache* const cache = cache_.get();

  S.set_payload_max_length(static_cast<size_t>(std::max(opts.max_chunk_bytes, opts.max_multipart_bytes)));
  S.set_read_timeout(60, 0);
  S.set_write_timeout(60, 0);
  if (fs::is_directory(opts.web_dir)) S.set_mount_point("/", opts.web_dir.string());

  S.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string reason = res.status == 413 ? "request too large (see the size limits in /api/challenge)"
                         : res.status == 404 ? "not found: " + req.path
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

  // Wrap a handler: CSRF/origin check, rate limit, auth, error mapping.
  //
  // CSRF: the API authenticates with an Authorization header only (the web UI keeps its token
  // in localStorage; no cookie is ever read), which a cross-site form or image cannot set.
  // As a second line, a state-changing request that a browser marks as cross-origin (Origin
  // not this Host, or Sec-Fetch-Site: cross-site) is refused, which also covers the
  // token-less /api/register and /api/login. Non-browser clients send neither header.
  enum class Need { none, user, write, organiser, reader };
  using Fn = std::function<void(const httplib::Request&, httplib::Response&, const std::optional<Auth>&)>;
  auto wrap = [store, cache, opts](Need need, Fn fn) {
    return [store, cache, opts, need, fn](const httplib::Request& req, httplib::Response& res) {
      try {
        if (req.method != "GET" && req.method != "HEAD") {
          const auto origin = req.get_header_value("Origin");
          if (!origin.empty() && origin_host(origin) != req.get_header_value("Host"))
            fail(403, "cross-origin request refused (Origin " + origin + ")");
          if (req.get_header_value("Sec-Fetch-Site") == "cross-site") fail(403, "cross-site request refused");
        }
        std::optional<Auth> auth;
        auto h = req.get_header_value("Authorization");
        if (h.rfind("Bearer ", 0) == 0) {
          const std::string ip_key = "ip:" + req.remote_addr;
          if (int wait = cache->auth.blocked(ip_key, opts.auth_failures_per_ip, opts.auth_window_s))
            throw HttpError{429, "too many failed authentications from your address; retry in " +
                                     std::to_string(wait) + " s", wait};
          auth = store->authenticate(h.substr(7));
          if (!auth) {
            cache->auth.failure(ip_key, opts.auth_window_s);
            fail(401, "invalid or revoked token");
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
        send_json(res, {{"error", e.reason}}, e.status);
      } catch (const std::filesystem::filesystem_error& e) {
        // Disk full, read-only or vanished blob directory: a platform failure, retryable.
        std::fprintf(stderr, "serve: %s %s: storage: %s\n", req.method.c_str(), req.path.c_str(), e.what());
        res.set_header("Retry-After", "60");
        send_json(res, {{"error", "the server cannot store or read files right now; nothing was counted "
                                  "against your quota, retry later"}},
                  503);
      } catch (const UserError& e) {
        send_json(res, {{"error", e.what()}}, 400);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "serve: %s %s: %s\n", req.method.c_str(), req.path.c_str(), e.what());
        send_json(res, {{"error", "internal server error"}}, 500);
      }
    };
  };

  auto phase_open = [store](const std::string& name) {
    auto ph = store->phase(name);
    const double t = store->now();
    if (ph.closed()) fail(403, "phase '" + name + "' is closed");
    if (ph.opens_at > 0 && t < ph.opens_at) fail(403, "phase '" + name + "' has not opened yet");
    if (ph.closes_at > 0 && t >= ph.closes_at) fail(403, "phase '" + name + "' has ended");
    return ph;
  };
  auto scores_visible = [store](const std::string& phase, const std::optional<Auth>& a) {
    if (a && a->organiser()) return true;
    auto ph = store->phase(phase);
    return !ph.scores_hidden || ph.closed();
  };
  auto per_case_visible = [store](const std::string& phase, const std::optional<Auth>& a) {
    if (a && a->organiser()) return true;
    return store->phase(phase).closed();
  };
  // A submission the caller may see (404 otherwise, not revealing it exists).
  auto visible_submission = [store](int64_t id, const Auth& a) {
    auto s = store->submission(id);
    if (!s) fail(404, "no such submission");
    if (a.organiser()) return *s;
    auto team = store->team_of(a.user.id);
    if (!team || s->team_id != team->id) fail(404, "no such submission");
    return *s;
  };

  // ------------------------------------------------------------ public
  S.Get("/api/health", wrap(Need::none, [=](RB_HANDLER_ARGS) {
          send_json(res, {{"ok", true}, {"queue", store->queue_stats()}});
        }));

  S.Get("/api/challenge", wrap(Need::none, [=](RB_HANDLER_ARGS) {
          json tracks = json::array(), phases = json::array();
          for (const auto& t : challenge::all_tracks()) {
            json files = json::object();
            for (const auto& p : challenge::all_phases())
              files[p.name] = challenge::track_files(svc->manifest(), p.name, t).size();
            tracks.push_back({{"name", t.name}, {"title", t.title}, {"acceleration", t.acceleration},
                              {"transfer", t.transfer}, {"files", files}});
          }
          for (const auto& p : store->phases())
            phases.push_back({{"name", p.name}, {"opens_at", p.opens_at}, {"closes_at", p.closes_at},
                              {"closed", p.closed()}, {"scores_hidden", p.scores_hidden}});
          const auto l = store->limits();
          send_json(res, {{"name", "fastmri-2020"},
                          {"tracks", tracks},
                          {"phases", phases},
                          {"limits", {{"per_day", l.per_day}, {"total", l.total},
                                      {"attempts_per_day", l.attempts_per_day},
                                      {"max_file_bytes", l.max_file_bytes},
                                      {"max_chunk_bytes", opts.max_chunk_bytes},
                                      {"max_multipart_bytes", opts.max_multipart_bytes}}},
                          {"spec_hash", challenge::current_spec_hash()},
                          {"evaluator", challenge::evaluator_version()},
                          {"registration_open", opts.open_registration}});
        }));

  S.Get("/api/teams", wrap(Need::none, [=](RB_HANDLER_ARGS) { send_json(res, store->teams()); }));

  S.Post("/api/register", wrap(Need::none, [=](RB_HANDLER_ARGS) {
           if (!opts.open_registration) fail(403, "registration is closed; ask the organisers for an account");
           auto b = parse_body(req);
           auto u = store->create_user(str_field(b, "username"), str_field(b, "password"), "participant");
           json out = {{"user", {{"id", u.id}, {"username", u.username}, {"role", u.role}}},
                       {"token", store->create_token(u.id, "all", "register")}};
           auto team = str_field(b, "team", false);
           if (!team.empty()) out["team"] = {{"id", store->create_team(u.id, team).id}, {"name", team}};
           send_json(res, out, 201);
         }));

  S.Post("/api/login", wrap(Need::none, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           const std::string username = str_field(b, "username");
           const std::string ip_key = "ip:" + req.remote_addr, user_key = "user:" + username;
           int wait = std::max(cache->auth.blocked(ip_key, opts.auth_failures_per_ip, opts.auth_window_s),
                               cache->auth.blocked(user_key, opts.auth_failures_per_user, opts.auth_window_s));
           if (wait > 0)
             throw HttpError{429, "too many failed logins; retry in " + std::to_string(wait) + " s", wait};
           auto u = store->login(username, str_field(b, "password"));
           if (!u) {
             cache->auth.failure(ip_key, opts.auth_window_s);
             cache->auth.failure(user_key, opts.auth_window_s);
             fail(401, "wrong username or password");
           }
           send_json(res, {{"user", {{"id", u->id}, {"username", u->username}, {"role", u->role}}},
                           {"token", store->create_token(u->id, "all", "login")}});
         }));

  // ------------------------------------------------------------ account
  S.Get("/api/me", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          json j = {{"user", {{"id", a->user.id}, {"username", a->user.username}, {"role", a->user.role}}},
                    {"scope", a->scope}};
          if (auto t = store->team_of(a->user.id)) {
            j["team"] = {{"id", t->id}, {"name", t->name}};
            json q = json::array();
            for (const auto& p : challenge::all_phases())
              for (const auto& tr : challenge::all_tracks())
                if (!challenge::track_files(svc->manifest(), p.name, tr).empty())
                  q.push_back(svc->quota_json(t->id, p.name, tr.name));
            j["quota"] = q;
          }
          send_json(res, j);
        }));

  S.Post("/api/tokens", wrap(Need::user, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           std::string scope = str_field(b, "scope", false);
           if (scope.empty()) scope = "submit";
           // A token can only create tokens of equal or narrower scope.
           if (a->scope == "read" || (a->scope == "submit" && scope == "all"))
             fail(403, "a '" + a->scope + "' token cannot create a '" + scope + "' token");
           send_json(res, {{"token", store->create_token(a->user.id, scope, str_field(b, "label", false))},
                           {"scope", scope}},
                     201);
         }));
  S.Get("/api/tokens", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          send_json(res, store->list_tokens(a->user.id));
        }));
  S.Delete(R"(/api/tokens/(\d+))", wrap(Need::user, [=](RB_HANDLER_ARGS) {
             if (!store->revoke_token(int_param(req, 1), a->user.id, a->organiser()))
               fail(404, "no such active token");
             send_json(res, {{"revoked", true}});
           }));

  S.Post("/api/teams", wrap(Need::write, [=](RB_HANDLER_ARGS) {
           if (a->user.role != "participant") fail(403, "only participants join teams");
           auto b = parse_body(req);
           auto t = store->create_team(a->user.id, str_field(b, "name"));
           send_json(res, {{"id", t.id}, {"name", t.name}}, 201);
         }));

  S.Get("/api/quota", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto t = store->team_of(a->user.id);
          if (!t) fail(404, "you are not in a team");
          auto track = req.get_param_value("track");
          if (!valid_track(track)) fail(400, "unknown track '" + track + "'");
          send_json(res, svc->quota_json(t->id, req.get_param_value("phase"), track));
        }));

  // ------------------------------------------------------------ uploads
  S.Post("/api/uploads", wrap(Need::write, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           if (!b.contains("size") || !b["size"].is_number_integer()) fail(400, "missing integer field 'size'");
           const int64_t size = b["size"].get<int64_t>();
           if (size < 0) fail(400, "field 'size' must not be negative");
           const auto l = store->limits();
           if (size > l.max_file_bytes)
             fail(413, "file of " + std::to_string(size) + " bytes exceeds the limit of " +
                           std::to_string(l.max_file_bytes) + " bytes");
           auto u = store->create_upload(a->user.id, str_field(b, "filename"), size, str_field(b, "sha256"));
           send_json(res, {{"id", u.id}, {"offset", 0}, {"size", size}, {"chunk_size", std::min<int64_t>(opts.max_chunk_bytes, 8 << 20)}},
                     201);
         }));

  auto own_upload = [store](int64_t id, const Auth& a) {
    auto u = store->upload(id);
    if (!u || u->user_id != a.user.id) fail(404, "no such upload");
    return *u;
  };

  S.Get(R"(/api/uploads/(\d+))", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto u = own_upload(int_param(req, 1), *a);
          send_json(res, {{"id", u.id}, {"offset", u.received}, {"size", u.size}, {"state", u.state},
                          {"sha256", u.sha256}});
        }));

  S.Put(R"(/api/uploads/(\d+))", wrap(Need::write, [=](RB_HANDLER_ARGS) {
          auto u = own_upload(int_param(req, 1), *a);
          if (u.state != "open") fail(409, "upload already finalised");
          if (!req.has_param("offset")) fail(400, "missing query parameter 'offset'");
          int64_t offset = 0;
          try {
            offset = std::stoll(req.get_param_value("offset"));
          } catch (...) {
            fail(400, "bad offset");
          }
          if (offset != u.received)
            fail(409, "offset " + std::to_string(offset) + " does not match the " +
                          std::to_string(u.received) + " bytes received; resume from there");
          const int64_t n = static_cast<int64_t>(req.body.size());
          if (n > opts.max_chunk_bytes) fail(413, "chunk larger than " + std::to_string(opts.max_chunk_bytes) + " bytes");
          if (offset + n > u.size)
            fail(413, "chunk runs past the declared size of " + std::to_string(u.size) + " bytes");
          const fs::path part = svc->blobs().upload_path(u.id);
          {
            // Drop anything past the acknowledged offset (a crash after a write, before the
            // database update), then append.
            if (fs::exists(part) && static_cast<int64_t>(fs::file_size(part)) != offset)
              fs::resize_file(part, static_cast<uintmax_t>(offset));
            FILE* f = std::fopen(part.c_str(), offset == 0 ? "wb" : "ab");
            if (!f) {
              const int err = errno;
              std::fprintf(stderr, "serve: upload %lld: %s: %s\n", static_cast<long long>(u.id), part.c_str(),
                           std::strerror(err));
              fail_storage(std::strerror(err));
            }
            const bool ok = std::fwrite(req.body.data(), 1, req.body.size(), f) == req.body.size() &&
                            std::fflush(f) == 0 && ::fdatasync(fileno(f)) == 0;
            const int err = errno;
            std::fclose(f);
            if (!ok) {
              // Nothing past `offset` is acknowledged; the next PUT truncates back to it.
              std::fprintf(stderr, "serve: upload %lld: %s: %s\n", static_cast<long long>(u.id), part.c_str(),
                           std::strerror(err));
              fail_storage(std::strerror(err));
            }
          }
          store->set_upload_received(u.id, offset + n);
          send_json(res, {{"id", u.id}, {"offset", offset + n}, {"size", u.size}});
        }));

  S.Post(R"(/api/uploads/(\d+)/finalize)", wrap(Need::write, [=](RB_HANDLER_ARGS) {
           auto u = own_upload(int_param(req, 1), *a);
           if (u.state == "complete") {
             send_json(res, {{"id", u.id}, {"sha256", u.sha256}, {"state", "complete"}});
             return;
           }
           if (u.received != u.size)
             fail(409, "upload incomplete: " + std::to_string(u.received) + " of " + std::to_string(u.size) + " bytes");
           const fs::path part = svc->blobs().upload_path(u.id);
           if (!fs::exists(part) && challenge::is_sha256_hex(u.sha256) && svc->blobs().has(u.sha256)) {
             // A crash after the blob was stored, before the upload row was completed.
             store->complete_upload(u.id, u.size);
             send_json(res, {{"id", u.id}, {"sha256", u.sha256}, {"state", "complete"}});
             return;
           }
           std::string sha;
           try {
             sha = svc->blobs().adopt(part, u.sha256);
           } catch (const UserError& e) {
             store->set_upload_received(u.id, 0);  // data discarded; the client must re-send
             fail(422, e.what());
           }
           store->complete_upload(u.id, u.size);
           send_json(res, {{"id", u.id}, {"sha256", sha}, {"state", "complete"}});
         }));

  // ------------------------------------------------------------ submissions
  auto create_submission = [=](const Auth& a, const std::string& phase, const std::string& track,
                                           const std::string& description, const std::string& baseline,
                                           const std::vector<std::pair<std::string, std::string>>& files) {
    if (!valid_track(track)) fail(400, "unknown track '" + track + "' (multicoil_4x, multicoil_8x, transfer_4x)");
    if (phase != "test" && phase != "challenge") fail(400, "unknown phase '" + phase + "' (test, challenge)");
    if (files.empty()) fail(400, "a submission needs files");
    if (files.size() > 5000) fail(413, "too many files");
    int64_t team_id = 0;
    if (!baseline.empty()) {
      if (!a.organiser()) fail(403, "only organisers submit baselines");
      store->phase(phase);
    } else {
      if (a.user.role != "participant") fail(403, "only participants submit (organisers submit baselines)");
      auto team = store->team_of(a.user.id);
      if (!team) fail(403, "create or join a team before submitting");
      team_id = team->id;
      auto ph = phase_open(phase);
      auto q = store->quota(team_id, ph.id, track);
      if (q.attempts_left <= 0)
        fail(429, "attempt limit reached (" + std::to_string(store->limits().attempts_per_day) +
                      " attempts per 24 h, valid or not)");
      if (q.remaining <= 0) fail(429, "submission limit reached for " + track + " in phase " + phase);
    }
    for (const auto& [name, sha] : files) {
      bool bad = name.empty() || name.size() > 200 || name[0] == '.';
      for (unsigned char c : name) bad = bad || c < 0x20 || c == 0x7f || c == '/' || c == '\\';
      if (bad) fail(400, "bad file name " + json(name).dump(-1, ' ', true, json::error_handler_t::replace));
      if (!challenge::is_sha256_hex(sha)) fail(400, "file '" + name + "': bad sha256");
      if (!svc->blobs().has(sha) || !store->blob_owned(sha, a.user.id, team_id))
        fail(400, "file '" + name + "': no completed upload with sha256 " + sha + " by your team");
    }
    if (const int64_t dup = store->duplicate_of(team_id, store->phase(phase).id, track, files, 0, true))
      fail(409, "duplicate: the same files as submission " + std::to_string(dup) +
                    " of your team in this phase and track; not submitted again and not charged");
    const int64_t id = store->create_submission(store->phase(phase).id, track, team_id, a.user.id,
                                               baseline, description, files);
    return svc->submit(id);  // validated in the background (validator threads)
  };

  S.Post("/api/submissions", wrap(Need::write, [=](RB_HANDLER_ARGS) {
           std::vector<std::pair<std::string, std::string>> files;
           std::string phase, track, description, baseline;
           if (req.is_multipart_form_data()) {
             auto field = [&](const char* k) { return req.has_file(k) ? req.get_file_value(k).content : std::string(); };
             phase = field("phase");
             track = field("track");
             description = field("description");
             baseline = field("baseline");
             int64_t total = 0;
             for (const auto& [key, f] : req.files) {
               if (f.filename.empty()) continue;
               total += static_cast<int64_t>(f.content.size());
               if (static_cast<int64_t>(f.content.size()) > store->limits().max_file_bytes)
                 fail(413, "file '" + f.filename + "' exceeds the size limit");
             }
             if (total > opts.max_multipart_bytes) fail(413, "multipart submission too large; use the resumable upload API");
             if (phase.empty()) phase = "test";
             for (const auto& [key, f] : req.files) {
               if (f.filename.empty()) continue;
               const std::string name = fs::path(f.filename).filename().string();
               const std::string sha = svc->blobs().put(f.content);
               store->record_blob(sha, static_cast<int64_t>(f.content.size()), a->user.id);
               files.emplace_back(name, sha);
             }
           } else {
             auto b = parse_body(req);
             phase = str_field(b, "phase", false);
             if (phase.empty()) phase = "test";
             track = str_field(b, "track");
             description = str_field(b, "description", false);
             baseline = str_field(b, "baseline", false);
             if (!b.contains("files") || !b["files"].is_object()) fail(400, "missing object field 'files' {name: sha256}");
             for (auto it = b["files"].begin(); it != b["files"].end(); ++it) {
               if (!it.value().is_string()) fail(400, "files: values must be sha256 strings");
               files.emplace_back(it.key(), it.value().get<std::string>());
             }
           }
           std::sort(files.begin(), files.end());
           for (size_t k = 1; k < files.size(); ++k)
             if (files[k].first == files[k - 1].first) fail(400, "file '" + files[k].first + "' given twice");
           auto out = create_submission(*a, phase, track, description, baseline, files);
           if (!a->organiser() && out.contains("validation")) out["validation"] = redact_validation(out["validation"]);
           send_json(res, out, out["state"] == "failed" ? 422 : 202);
         }));

  S.Get("/api/submissions", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          json arr = json::array();
          int64_t team_id = -1;
          if (!a->organiser()) {
            auto t = store->team_of(a->user.id);
            if (!t) {
              send_json(res, arr);
              return;
            }
            team_id = t->id;
          }
          for (const auto& s : store->submissions(team_id > 0 ? team_id : 0))
            arr.push_back(submission_json(*svc, s, scores_visible(s.phase, a), a->organiser()));
          send_json(res, arr);
        }));

  S.Get(R"(/api/submissions/(\d+))", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto s = visible_submission(int_param(req, 1), *a);
          auto j = submission_json(*svc, s, scores_visible(s.phase, a), a->organiser());
          j["events"] = store->submission_events(s.id);
          if (a->organiser()) j["identical_to_other_teams"] = store->identical_elsewhere(s.id);
          send_json(res, j);
        }));

  S.Put(R"(/api/submissions/(\d+)/final)", wrap(Need::write, [=](RB_HANDLER_ARGS) {
          auto s = visible_submission(int_param(req, 1), *a);
          auto team = store->team_of(a->user.id);
          if (!team || s.team_id != team->id)
            fail(403, "only a member of the submitting team selects its final submission");
          store->select_final(s.id, team->id, a->user.id);  // UserError (400) with the reason
          send_json(res, {{"submission", s.id}, {"final", true}});
        }));

  S.Get(R"(/api/submissions/(\d+)/volumes)", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto s = visible_submission(int_param(req, 1), *a);
          if (!per_case_visible(s.phase, a))
            fail(403, "per-volume scores of the " + s.phase + " phase are shown after it closes");
          auto sc = store->score(s.id, challenge::current_spec_hash());
          if (!sc) fail(404, "this submission has no scores yet");
          send_json(res, {{"submission", s.id}, {"spec_hash", sc->spec_hash}, {"volumes", sc->volumes}});
        }));

  S.Get(R"(/api/submissions/(\d+)/volumes/([A-Za-z0-9_.\-]+)/slices/(\d+)\.png)",
        wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto s = visible_submission(int_param(req, 1), *a);
          if (!per_case_visible(s.phase, a))
            fail(403, "images of the " + s.phase + " phase are shown after it closes");
          // Only files that passed validation (shape checked against the manifest before any
          // read, so a compressed "HDF5 bomb" with a huge declared shape is never read here).
          if (s.state != "scored") fail(404, "this submission has no scores yet");
          const std::string name = req.matches[2].str();
          const int64_t k = int_param(req, 3);
          std::string sha;
          for (const auto& [n, h] : s.files)
            if (n == name) sha = h;
          if (sha.empty()) fail(404, "no volume '" + name + "' in this submission");
          const auto track_files = challenge::track_files(svc->manifest(), s.phase, challenge::find_track(s.track));
          const challenge::ManifestFile* mf = nullptr;
          for (const auto& f : track_files)
            if (f.name == name) mf = &f;
          if (!mf) fail(404, "no volume '" + name + "'");
          auto gt = eval::read_eval_input(svc->manifest().root / mf->ground_truth, {"reconstruction_rss", "reconstruction"});
          auto pr = eval::read_eval_input(svc->blobs().path(sha), {"reconstruction"});
          if (k < 0 || k >= gt.volume.dim(0) || k >= pr.volume.dim(0)) fail(404, "no slice " + std::to_string(k));
          const int64_t c = eval::crop_side(gt.volume.shape());
          auto g = eval::crop_volume(gt.volume.view(), c, "ground truth");
          auto p = eval::crop_volume(pr.volume.view(), c, "reconstruction");
          double range = 0;
          for (float v : g.flat()) range = std::max(range, double(v));
          auto map = eval::ssim_map(g(k), p(k), range > 0 ? range : 1.0);
          auto img = eval::slice_figure(g(k), p(k), map.view(), eval::figure_window(g.view()));
          res.set_content(png_bytes(img, svc->blobs().dir() / "uploads"), "image/png");
        }));

  // ------------------------------------------------------------ leaderboards
  S.Get(R"(/api/leaderboard/([a-z]+)/([a-z0-9_]+))", wrap(Need::none, [=](RB_HANDLER_ARGS) {
          const std::string phase = req.matches[1].str(), track = req.matches[2].str();
          if (!valid_track(track)) fail(404, "unknown track '" + track + "'");
          if (phase != "test" && phase != "challenge") fail(404, "unknown phase '" + phase + "'");
          const bool visible = scores_visible(phase, a);
          if (!visible) {
            send_json(res, {{"phase", phase}, {"track", track}, {"hidden", true},
                            {"reason", "scores of the challenge phase are hidden until the organisers close it"},
                            {"entries", json::array()}, {"baselines", json::array()}});
            return;
          }
          const std::string key = phase + "/" + track;
          const int64_t version = store->score_version();
          {
            std::lock_guard lock(cache->mu);
            auto it = cache->leaderboards.find(key);
            if (it != cache->leaderboards.end() && it->second.first == version) {
              res.set_content(it->second.second, "application/json");
              return;
            }
          }
          auto lb = store->leaderboard(phase, track, challenge::current_spec_hash());
          lb["hidden"] = false;
          lb["closed"] = store->phase(phase).closed();
          std::string body = lb.dump();
          {
            std::lock_guard lock(cache->mu);
            cache->leaderboards[key] = {version, body};
          }
          res.set_content(body, "application/json");
        }));

  // ------------------------------------------------------------ admin
  S.Post("/api/admin/users", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           auto u = store->create_user(str_field(b, "username"), str_field(b, "password", false),
                                      str_field(b, "role"));
           store->audit(a->user.id, "admin_create_user", u.username);
           json out = {{"user", {{"id", u.id}, {"username", u.username}, {"role", u.role}}},
                       {"token", store->create_token(u.id, "all", "created by organiser")}};
           auto team = str_field(b, "team", false);
           if (!team.empty() && u.role == "participant")
             out["team"] = {{"id", store->create_team(u.id, team).id}, {"name", team}};
           send_json(res, out, 201);
         }));
  S.Post(R"(/api/admin/teams/(\d+)/members)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           auto u = store->user_by_name(str_field(b, "username"));
           if (!u) fail(404, "no such user");
           if (u->role != "participant") fail(400, "only participants join teams");
           store->add_team_member(int_param(req, 1), u->id);
           send_json(res, {{"ok", true}});
         }));
  S.Post(R"(/api/admin/phases/([a-z]+)/close)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           send_json(res, svc->close_phase(req.matches[1].str()));
         }));
  S.Post(R"(/api/admin/phases/([a-z]+)/window)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           store->set_phase_window(req.matches[1].str(), b.value("opens_at", 0.0), b.value("closes_at", 0.0));
           send_json(res, {{"ok", true}});
         }));
  S.Put("/api/admin/limits", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          auto b = parse_body(req);
          auto l = store->limits();
          l.per_day = b.value("per_day", l.per_day);
          l.total = b.value("total", l.total);
          l.attempts_per_day = b.value("attempts_per_day", l.attempts_per_day);
          l.max_file_bytes = b.value("max_file_bytes", l.max_file_bytes);
          store->set_limits(l);
          send_json(res, {{"per_day", l.per_day}, {"total", l.total}, {"attempts_per_day", l.attempts_per_day},
                          {"max_file_bytes", l.max_file_bytes}});
        }));
  S.Post("/api/admin/rescore", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           send_json(res, {{"jobs_added", svc->rescore_all()}, {"spec_hash", challenge::current_spec_hash()}});
         }));
  S.Get("/api/admin/queue", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          send_json(res, store->queue_stats());
        }));

  // ------------------------------------------------------------ reader studies
  S.Get("/api/studies", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          if (a->user.role != "reader" && !a->organiser()) fail(403, "readers and organisers only");
          json arr = json::array();
          for (auto s : store->studies()) {
            const int64_t id = s["id"].get<int64_t>();
            if (a->user.role == "reader") {
              int64_t done = 0;
              const int64_t n = s["cases"].get<int64_t>();
              for (int64_t c = 0; c < n; ++c) {
                auto r = store->reader_response(id, a->user.id, c);
                if (!r.is_null() && r["complete"].get<bool>()) ++done;
              }
              s["complete"] = done;
            }
            arr.push_back(s);
          }
          send_json(res, arr);
        }));

  // Reader case k (position in the reader's own seeded order) -> study case index.
  auto reader_case = [store](int64_t study, int64_t user, int64_t k) {
    auto order = store->reader_case_order(study, user);
    if (k < 0 || k >= static_cast<int64_t>(order.size())) fail(404, "no case " + std::to_string(k));
    return order[static_cast<size_t>(k)];
  };

  S.Get(R"(/api/studies/(\d+)/cases)", wrap(Need::reader, [=](RB_HANDLER_ARGS) {
          const int64_t sid = int_param(req, 1);
          auto order = store->reader_case_order(sid, a->user.id);
          json arr = json::array();
          for (size_t k = 0; k < order.size(); ++k) {
            auto r = store->reader_response(sid, a->user.id, order[k]);
            arr.push_back({{"k", k}, {"started", !r.is_null()},
                           {"complete", !r.is_null() && r["complete"].get<bool>()}});
          }
          send_json(res, arr);
        }));

  S.Get(R"(/api/studies/(\d+)/cases/(\d+))", wrap(Need::reader, [=](RB_HANDLER_ARGS) {
          const int64_t sid = int_param(req, 1), k = int_param(req, 2);
          const int64_t c = reader_case(sid, a->user.id, k);
          auto st = store->study(sid);
          const auto& cs = st["cases"][static_cast<size_t>(c)];
          json letters = json::array();
          for (size_t i = 0; i < st["candidates"].size(); ++i) letters.push_back(challenge::letter(static_cast<int64_t>(i)));
          auto saved = store->reader_response(sid, a->user.id, c);
          send_json(res, {{"study", sid}, {"k", k}, {"cases", st["cases"].size()}, {"track", st["track"]},
                          {"slice", cs["slice"]}, {"letters", letters},
                          {"saved", saved.is_null() ? json() : saved["response"]},
                          {"complete", !saved.is_null() && saved["complete"].get<bool>()}});
        }));

  S.Get(R"(/api/studies/(\d+)/cases/(\d+)/image/(GT|[A-Z])\.png)", wrap(Need::reader, [=](RB_HANDLER_ARGS) {
          const int64_t sid = int_param(req, 1), k = int_param(req, 2);
          const std::string which = req.matches[3].str();
          const int64_t c = reader_case(sid, a->user.id, k);
          auto st = store->study(sid);
          const auto& cs = st["cases"][static_cast<size_t>(c)];
          const std::string volume = cs["volume"];
          const challenge::ManifestFile* mf = nullptr;
          auto files = challenge::track_files(svc->manifest(), st["phase"], challenge::find_track(st["track"]));
          for (const auto& f : files)
            if (f.name == volume) mf = &f;
          if (!mf) fail(404, "case volume missing from the manifest");
          auto gt = eval::read_eval_input(svc->manifest().root / mf->ground_truth, {"reconstruction_rss", "reconstruction"});
          const int64_t cside = eval::crop_side(gt.volume.shape());
          auto g = eval::crop_volume(gt.volume.view(), cside, "ground truth");
          const double window = eval::figure_window(g.view());
          int64_t slice = cs["slice"].get<int64_t>();
          if (req.has_param("slice")) {
            try {
              slice = std::stoll(req.get_param_value("slice"));
            } catch (...) {
              fail(400, "bad slice");
            }
          }
          if (slice < 0 || slice >= g.dim(0)) fail(404, "no slice " + std::to_string(slice));
          Array<float> img;
          if (which == "GT") {
            img = Array<float>::from_view(g(slice));
          } else {
            const int64_t letter_idx = which[0] - 'A';
            auto pos = store->reader_positions(sid, a->user.id, c);
            if (letter_idx >= static_cast<int64_t>(pos.size())) fail(404, "no candidate " + which);
            const int64_t slot = pos[static_cast<size_t>(letter_idx)];
            const int64_t sub = st["candidates"][static_cast<size_t>(slot)]["submission"].get<int64_t>();
            auto s = store->submission(sub);
            std::string sha;
            for (const auto& [n, h] : s->files)
              if (n == volume) sha = h;
            auto pr = eval::read_eval_input(svc->blobs().path(sha), {"reconstruction"});
            auto p = eval::crop_volume(pr.volume.view(), cside, "reconstruction");
            img = Array<float>::from_view(p(slice));
          }
          auto grey = to_grey(img.view(), 0.0f, static_cast<float>(window));
          res.set_content(png_bytes(grey, svc->blobs().dir() / "uploads"), "image/png");
        }));

  S.Put(R"(/api/studies/(\d+)/cases/(\d+))", wrap(Need::reader, [=](RB_HANDLER_ARGS) {
          const int64_t sid = int_param(req, 1), k = int_param(req, 2);
          const int64_t c = reader_case(sid, a->user.id, k);
          auto b = parse_body(req);
          auto r = b.contains("response") ? b["response"] : b;
          const int64_t n = static_cast<int64_t>(store->study(sid)["candidates"].size());
          const bool complete = challenge::check_reader_response(r, n);
          store->save_reader_response(sid, a->user.id, c, r, complete);
          send_json(res, {{"saved", true}, {"complete", complete}});
        }));

  S.Get(R"(/api/studies/(\d+)/results)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          send_json(res, svc->study_results(int_param(req, 1)));
        }));
  S.Get(R"(/api/studies/(\d+)/progress)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          send_json(res, store->reader_progress(int_param(req, 1)));
        }));
  S.Get(R"(/api/studies/(\d+)/responses\.csv)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          const int64_t sid = int_param(req, 1);
          auto st = store->study(sid);
          std::ostringstream os;
          os << "reader,case,volume,team,rank,artifacts,sharpness,cnr,seconds\n";
          for (const auto& r : store->study_responses(sid)) {
            const int64_t c = r["case"].get<int64_t>();
            auto pos = store->reader_positions(sid, r["reader_id"].get<int64_t>(), c);
            auto slots = challenge::response_to_slots(r["response"], pos);
            for (size_t s = 0; s < st["candidates"].size(); ++s)
              os << r["reader"].get<std::string>() << "," << c << ","
                 << st["cases"][static_cast<size_t>(c)]["volume"].get<std::string>() << ","
                 << st["candidates"][s]["team"].get<std::string>() << "," << slots["rank"][s] << ","
                 << slots["likert"][s][0] << "," << slots["likert"][s][1] << "," << slots["likert"][s][2]
                 << "," << r["seconds"].get<double>() << "\n";
          }
          res.set_content(os.str(), "text/csv");
        }));
}

}  // namespace rb::server
