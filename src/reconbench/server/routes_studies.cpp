// Reader-study routes: the reader's cases in their own seeded order, blinded candidate images
// (A, B, C at per-reader, per-case positions) beside the ground truth, responses; results,
// progress and the responses CSV for organisers. An unknown study is a 404.
#include <sstream>

#include "reconbench/challenge/reader.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/eval/figures.hpp"
#include "reconbench/server/http.hpp"

namespace rb::server {

namespace {

// The study of the route's first capture (404 if there is none).
int64_t study_id(challenge::Store& store, const httplib::Request& req) {
  const int64_t sid = int_param(req, 1);
  if (!store.has_study(sid)) fail(404, "no reader study " + std::to_string(sid));
  return sid;
}

// Reader case k (position in the reader's own seeded order) -> study case index.
int64_t reader_case(challenge::Store& store, int64_t study, int64_t user, int64_t k) {
  auto order = store.reader_case_order(study, user);
  if (k < 0 || k >= static_cast<int64_t>(order.size())) fail(404, "no case " + std::to_string(k));
  return order[static_cast<size_t>(k)];
}

// The PNG of the ground truth ("GT") or of the candidate at letter position A, B, ... of
// reader `user`'s case k, windowed as the ground truth (?slice= another slice).
std::string case_png(challenge::Service& svc, int64_t sid, int64_t user, int64_t k, const httplib::Request& req) {
  challenge::Store* const store = &svc.store();
  const std::string which = req.matches[3].str();
  const int64_t cs_index = reader_case(*store, sid, user, k);
  auto st = store->study(sid);
  const auto& cs = st["cases"][static_cast<size_t>(cs_index)];
  const std::string volume = cs["volume"];
  const challenge::ManifestFile* mf = nullptr;
  auto files = challenge::track_files(svc.manifest(), st["phase"], challenge::find_track(st["track"]));
  for (const auto& f : files)
    if (f.name == volume) mf = &f;
  if (!mf) fail(404, "case volume missing from the manifest");
  auto gt = eval::read_eval_input(svc.manifest().root / mf->ground_truth, {"reconstruction_rss", "reconstruction"});
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
    auto pos = store->reader_positions(sid, user, cs_index);
    if (letter_idx >= static_cast<int64_t>(pos.size())) fail(404, "no candidate " + which);
    const int64_t slot = pos[static_cast<size_t>(letter_idx)];
    const int64_t sub = st["candidates"][static_cast<size_t>(slot)]["submission"].get<int64_t>();
    auto s = store->submission(sub);
    auto pr = eval::read_eval_input(svc.canonical_file(*s, volume), {"reconstruction"});
    auto p = eval::crop_volume(pr.volume.view(), cside, "reconstruction");
    img = Array<float>::from_view(p(slice));
  }
  auto grey = to_grey(img.view(), 0.0f, static_cast<float>(window));
  return png_bytes(grey, svc.blobs().dir() / "uploads");
}

// The study's results, progress and responses (organisers).
void study_admin_routes(httplib::Server& S, const Ctx& c) {
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Service* const svc = c.svc;
  challenge::Store* const store = c.store;
  S.Get(R"(/api/studies/(\d+)/results)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          send_json(res, svc->study_results(study_id(*store, req)));
        }));
  S.Get(R"(/api/studies/(\d+)/progress)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          send_json(res, store->reader_progress(study_id(*store, req)));
        }));
  S.Get(R"(/api/studies/(\d+)/responses\.csv)", wrap(Need::organiser, [=](RB_HANDLER_ARGS) {
          const int64_t sid = study_id(*store, req);
          auto st = store->study(sid);
          std::ostringstream os;
          os << "reader,case,volume,team,rank,artifacts,sharpness,cnr,seconds\n";
          for (const auto& r : store->study_responses(sid)) {
            const int64_t k = r["case"].get<int64_t>();
            auto pos = store->reader_positions(sid, r["reader_id"].get<int64_t>(), k);
            auto slots = challenge::response_to_slots(r["response"], pos);
            for (size_t s = 0; s < st["candidates"].size(); ++s)
              os << r["reader"].get<std::string>() << "," << k << ","
                 << st["cases"][static_cast<size_t>(k)]["volume"].get<std::string>() << ","
                 << st["candidates"][s]["team"].get<std::string>() << "," << slots["rank"][s] << ","
                 << slots["likert"][s][0] << "," << slots["likert"][s][1] << "," << slots["likert"][s][2]
                 << "," << r["seconds"].get<double>() << "\n";
          }
          res.set_content(os.str(), "text/csv");
        }));
}

}  // namespace

void study_routes(httplib::Server& S, const Ctx& c) {
  study_admin_routes(S, c);
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Service* const svc = c.svc;
  challenge::Store* const store = c.store;

  S.Get("/api/studies", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          if (a->user.role != "reader" && !a->organiser()) fail(403, "readers and organisers only");
          json arr = json::array();
          for (auto s : store->studies()) {
            const int64_t id = s["id"].get<int64_t>();
            if (a->user.role == "reader") {
              int64_t done = 0;
              const int64_t n = s["cases"].get<int64_t>();
              for (int64_t k = 0; k < n; ++k) {
                auto r = store->reader_response(id, a->user.id, k);
                if (!r.is_null() && r["complete"].get<bool>()) ++done;
              }
              s["complete"] = done;
            }
            arr.push_back(s);
          }
          send_json(res, arr);
        }));

  S.Get(R"(/api/studies/(\d+)/cases)", wrap(Need::reader, [=](RB_HANDLER_ARGS) {
          const int64_t sid = study_id(*store, req);
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
          const int64_t sid = study_id(*store, req), k = int_param(req, 2);
          const int64_t cs_index = reader_case(*store, sid, a->user.id, k);
          auto st = store->study(sid);
          const auto& cs = st["cases"][static_cast<size_t>(cs_index)];
          json letters = json::array();
          for (size_t i = 0; i < st["candidates"].size(); ++i) letters.push_back(challenge::letter(static_cast<int64_t>(i)));
          auto saved = store->reader_response(sid, a->user.id, cs_index);
          json slices;  // the case volume's slice count (the viewer scrolls through them)
          const std::string volume = cs.value("volume", std::string());
          for (const auto& f : challenge::track_files(svc->manifest(), st["phase"],
                                                      challenge::find_track(st["track"])))
            if (f.name == volume && f.slices > 0) slices = f.slices;
          send_json(res, {{"study", sid}, {"k", k}, {"cases", st["cases"].size()}, {"track", st["track"]},
                          {"slice", cs["slice"]}, {"slices", slices}, {"letters", letters},
                          {"saved", saved.is_null() ? json() : saved["response"]},
                          {"complete", !saved.is_null() && saved["complete"].get<bool>()}});
        }));

  S.Get(R"(/api/studies/(\d+)/cases/(\d+)/image/(GT|[A-Z])\.png)", wrap(Need::reader, [=](RB_HANDLER_ARGS) {
          res.set_content(case_png(*svc, study_id(*store, req), a->user.id, int_param(req, 2), req), "image/png");
        }));

  S.Put(R"(/api/studies/(\d+)/cases/(\d+))", wrap(Need::reader, [=](RB_HANDLER_ARGS) {
          const int64_t sid = study_id(*store, req), k = int_param(req, 2);
          const int64_t cs_index = reader_case(*store, sid, a->user.id, k);
          auto b = parse_body(req);
          auto r = b.contains("response") ? b["response"] : b;
          const int64_t n = static_cast<int64_t>(store->study(sid)["candidates"].size());
          const bool complete = challenge::check_reader_response(r, n);
          store->save_reader_response(sid, a->user.id, cs_index, r, complete);
          send_json(res, {{"saved", true}, {"complete", complete}});
        }));
}

}  // namespace rb::server
