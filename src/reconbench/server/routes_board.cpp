// Leaderboards and the organisers' routes (accounts, team members, phases: close, window,
// publish; limits, rescore, queue, blob garbage collection).
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/storage.hpp"
#include "reconbench/server/http.hpp"

namespace rb::server {

namespace {

void admin_routes(httplib::Server& S, const Ctx& c) {
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Service* const svc = c.svc;
  challenge::Store* const store = c.store;

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
  // The final results of a closed phase become public (Service::publish_results: refused
  // with 409 while a reader study of the phase is incomplete, unless {"force": true}).
  S.Post(R"(/api/admin/phases/([a-z]+)/publish)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           const std::string phase = req.matches[1].str();
           const auto open_studies = svc->publish_results(phase, parse_body(req).value("force", false));
           if (!open_studies.empty()) {
             send_json(res, {{"error", "reader studies of this phase are not complete; publishing now would "
                                       "unblind them (send {\"force\": true} to publish anyway)"},
                             {"incomplete", open_studies}},
                       409);
             return;
           }
           store->audit(a->user.id, "publish_results", phase);
           send_json(res, {{"phase", phase}, {"published", true}});
         }));
  S.Post(R"(/api/admin/phases/([a-z]+)/window)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           store->set_phase_window(req.matches[1].str(), b.value("opens_at", 0.0), b.value("closes_at", 0.0));
           send_json(res, {{"ok", true}});
         }));
  S.Put("/api/admin/limits", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          auto b = parse_body(req);
          auto l = store->limits();
          l.per_day = int_field(b, "per_day", l.per_day);
          l.total = int_field(b, "total", l.total);
          l.attempts_per_day = int_field(b, "attempts_per_day", l.attempts_per_day);
          l.max_file_bytes = int_field(b, "max_file_bytes", l.max_file_bytes);
          l.max_team_bytes = int_field(b, "max_team_bytes", l.max_team_bytes);
          store->set_limits(l);
          send_json(res, {{"per_day", l.per_day}, {"total", l.total}, {"attempts_per_day", l.attempts_per_day},
                          {"max_file_bytes", l.max_file_bytes}, {"max_team_bytes", l.max_team_bytes}});
        }));
  S.Post("/api/admin/rescore", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           send_json(res, {{"jobs_added", svc->rescore_all()}, {"spec_hash", challenge::current_spec_hash()}});
         }));
  S.Get("/api/admin/queue", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          send_json(res, store->queue_stats());
        }));
  // {grace_s?}: blob-store garbage collection now (challenge/storage.hpp).
  S.Post("/api/admin/gc", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           const double grace = b.value("grace_s", c.opts.gc_grace_s);
           if (!(grace >= 0)) fail(400, "grace_s must be >= 0");
           send_json(res, challenge::to_json(challenge::collect_garbage(*store, svc->blobs(), grace)));
         }));
}

}  // namespace

void board_routes(httplib::Server& S, const Ctx& c) {
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Store* const store = c.store;
  Cache* const cache = c.cache;

  S.Get(R"(/api/leaderboard/([a-z]+)/([a-z0-9_]+))", wrap(Need::none, [=](RB_HANDLER_ARGS) {
          const std::string phase = req.matches[1].str(), track = req.matches[2].str();
          if (!valid_track(track)) fail(404, "unknown track '" + track + "'");
          if (!challenge::is_phase(phase)) fail(404, "unknown phase '" + phase + "'");
          if (!c.scores_visible(phase, a)) {
            send_json(res, {{"phase", phase}, {"track", track}, {"hidden", true},
                            {"reason", "scores of the challenge phase are hidden until the organisers publish the "
                                       "final results (after the reader study)"},
                            {"entries", json::array()}, {"baselines", json::array()}});
            return;
          }
          // Organisers see the submission descriptions (private to the teams otherwise); their
          // view is not cached.
          const bool organiser = a && a->organiser();
          const std::string key = phase + "/" + track;
          const int64_t version = store->score_version();
          if (!organiser) {
            std::lock_guard lock(cache->mu);
            auto it = cache->leaderboards.find(key);
            if (it != cache->leaderboards.end() && it->second.first == version) {
              res.set_content(it->second.second, "application/json");
              return;
            }
          }
          auto lb = store->leaderboard(phase, track, challenge::current_spec_hash(), organiser);
          lb["hidden"] = false;
          lb["closed"] = store->phase(phase).closed();
          std::string body = lb.dump();
          if (!organiser) {
            std::lock_guard lock(cache->mu);
            cache->leaderboards[key] = {version, body};
          }
          res.set_content(body, "application/json");
        }));
  admin_routes(S, c);
}

}  // namespace rb::server
