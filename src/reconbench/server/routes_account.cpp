// Public and account routes: health, challenge description, teams, registration, login and
// logout, the caller's account, API tokens, team creation, quota.
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/eval/stats.hpp"
#include "reconbench/server/http.hpp"

namespace rb::server {

namespace {

json user_json(const challenge::User& u) { return {{"id", u.id}, {"username", u.username}, {"role", u.role}}; }

// Without a token: health, the challenge, teams, registration, login.
void public_routes(httplib::Server& S, const Ctx& c) {
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Service* const svc = c.svc;
  challenge::Store* const store = c.store;

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
                              {"closed", p.closed()}, {"scores_hidden", !p.scores_public()},
                              {"results_published", p.published()}});
          const auto l = store->limits();
          send_json(res, {{"name", "fastmri-2020"},
                          {"tracks", tracks},
                          {"phases", phases},
                          {"limits", {{"per_day", l.per_day}, {"total", l.total},
                                      {"attempts_per_day", l.attempts_per_day},
                                      {"max_file_bytes", l.max_file_bytes},
                                      {"max_team_bytes", l.max_team_bytes},
                                      {"max_chunk_bytes", c.opts.max_chunk_bytes},
                                      {"max_multipart_bytes", c.opts.max_multipart_bytes}}},
                          {"spec_hash", challenge::current_spec_hash()},
                          {"evaluator", challenge::evaluator_version()},
                          {"intervals_min_n", eval::kMinVolumesForIntervals},
                          {"registration_open", c.opts.open_registration}});
        }));

  // ?phase= -> {phase, tracks: {track: [file names]}}: which track each file of the phase
  // belongs to (challenge::track_files, the validator's rule); `submit` groups a directory
  // that mixes 4X and 8X files (multicoil_test/) by it. The names are those of the inputs
  // participants are given.
  S.Get("/api/challenge/files", wrap(Need::none, [=](RB_HANDLER_ARGS) {
          const std::string phase = req.get_param_value("phase");
          if (!challenge::is_phase(phase)) fail(400, "unknown phase '" + phase + "' (test, challenge)");
          json tracks = json::object();
          for (const auto& t : challenge::all_tracks()) {
            json names = json::array();
            for (const auto& f : challenge::track_files(svc->manifest(), phase, t)) names.push_back(f.name);
            tracks[t.name] = names;
          }
          send_json(res, {{"phase", phase}, {"tracks", tracks}});
        }));

  S.Get("/api/teams", wrap(Need::none, [=](RB_HANDLER_ARGS) { send_json(res, store->teams()); }));

  // Account, team and token in one transaction: a refused registration leaves no account.
  S.Post("/api/register", wrap(Need::none, [=](RB_HANDLER_ARGS) {
           if (!c.opts.open_registration) fail(403, "registration is closed; ask the organisers for an account");
           auto b = parse_body(req);
           auto r = store->register_participant(str_field(b, "username"), str_field(b, "password"),
                                                str_field(b, "team", false), "login (register)",
                                                c.login_token_expiry());
           json out = {{"user", user_json(r.user)}, {"token", r.token}};
           if (r.team) out["team"] = {{"id", r.team->id}, {"name", r.team->name}};
           send_json(res, out, 201);
         }));

  S.Post("/api/login", wrap(Need::none, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           const std::string username = str_field(b, "username");
           const std::string client = c.client(req);
           const int wait = std::max(c.cache->auth.address_wait(client), c.cache->auth.pair_wait(username, client));
           if (wait > 0)
             throw HttpError{429, "too many failed logins; retry in " + std::to_string(wait) + " s", wait};
           auto u = store->login(username, str_field(b, "password"));
           if (!u) {
             c.cache->auth.address_failure(client);
             c.cache->auth.pair_failure(username, client);
             fail(401, "wrong username or password");
           }
           c.cache->auth.pair_success(username, client);
           const double expires = c.login_token_expiry();
           send_json(res, {{"user", user_json(*u)},
                           {"token", store->create_token(u->id, "all", "login", expires)},
                           {"expires_at", expires > 0 ? json(expires) : json()}});
         }));

}

}  // namespace

void account_routes(httplib::Server& S, const Ctx& c) {
  public_routes(S, c);
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Service* const svc = c.svc;
  challenge::Store* const store = c.store;

  // Revokes the token of this request (the web UI's "Log out").
  S.Post("/api/logout", wrap(Need::user, [=](RB_HANDLER_ARGS) {
           store->revoke_token(a->token_id, a->user.id, false);
           send_json(res, {{"revoked", a->token_id}});
         }));

  // ------------------------------------------------------------ account
  S.Get("/api/me", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          json j = {{"user", user_json(a->user)}, {"scope", a->scope}, {"token_id", a->token_id}};
          if (auto t = store->team_of(a->user.id)) {
            j["team"] = {{"id", t->id}, {"name", t->name}};
            json q = json::array();
            for (const auto& p : challenge::all_phases())
              for (const auto& tr : challenge::all_tracks())
                if (!challenge::track_files(svc->manifest(), p.name, tr).empty())
                  q.push_back(svc->quota_json(t->id, p.name, tr.name));
            j["quota"] = q;
            j["storage_bytes"] = store->storage_bytes(t->id, a->user.id);
          }
          send_json(res, j);
        }));

  // API tokens: {scope, label, expires_in_days (0 or absent: never)}.
  S.Post("/api/tokens", wrap(Need::user, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           std::string scope = str_field(b, "scope", false);
           if (scope.empty()) scope = "submit";
           // A token can only create tokens of equal or narrower scope.
           if (a->scope == "read" || (a->scope == "submit" && scope == "all"))
             fail(403, "a '" + a->scope + "' token cannot create a '" + scope + "' token");
           const double days = b.value("expires_in_days", 0.0);
           if (!(days >= 0 && days <= 3650)) fail(400, "expires_in_days must be between 0 (never) and 3650");
           const double expires = days > 0 ? store->now() + days * 86400.0 : 0.0;
           send_json(res, {{"token", store->create_token(a->user.id, scope, str_field(b, "label", false), expires)},
                           {"scope", scope},
                           {"expires_at", expires > 0 ? json(expires) : json()}},
                     201);
         }));
  S.Get("/api/tokens", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto list = store->list_tokens(a->user.id);
          for (auto& t : list) t["current"] = t["id"] == a->token_id;
          send_json(res, list);
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
}

}  // namespace rb::server
