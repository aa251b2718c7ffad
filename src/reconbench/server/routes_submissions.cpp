// Uploads (resumable, sha256-verified), submissions (JSON over uploaded blobs, or multipart),
// the final-submission choice, and the per-volume drill-down with slice images.
//
// Nothing reaches the blob store before every check that does not need the bytes on disk
// has passed (issue 15): phase open, team, track, quota and attempts, file names, sizes, the
// per-team storage cap, duplicates. A refused request stores nothing.
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/eval/figures.hpp"
#include "reconbench/server/http.hpp"

namespace rb::server {

namespace fs = std::filesystem;

namespace {

struct SubmissionRequest {
  std::string phase = "test", track, description, baseline;
  std::vector<std::pair<std::string, std::string>> files;  // name, sha256
  int64_t team_id = 0;
};

// A participant's team may submit to `phase`/`track` now: in a team, phase open, quota and
// attempts left. Returns the team id; HttpError (403/429) naming the phase otherwise.
int64_t check_may_submit(const Ctx& c, const Auth& a, const std::string& phase, const std::string& track) {
  if (a.user.role != "participant") fail(403, "only participants submit (organisers submit baselines)");
  auto team = c.store->team_of(a.user.id);
  if (!team) fail(403, "create or join a team before submitting");
  auto ph = c.phase_open(phase);
  auto q = c.store->quota(team->id, ph.id, track);
  if (q.attempts_left <= 0)
    fail(429, "attempt limit reached (" + std::to_string(c.store->limits().attempts_per_day) +
                  " attempts per 24 h, valid or not)");
  if (q.remaining <= 0) fail(429, "submission limit reached for " + track + " in phase " + phase);
  return team->id;
}

// Who may submit what, now (everything but the files' presence in the blob store).
void check_submission(const Ctx& c, const Auth& a, SubmissionRequest& r) {
  if (!valid_track(r.track)) fail(400, "unknown track '" + r.track + "' (multicoil_4x, multicoil_8x, transfer_4x)");
  if (!challenge::is_phase(r.phase)) fail(400, "unknown phase '" + r.phase + "' (test, challenge)");
  if (r.files.empty()) fail(400, "a submission needs files");
  if (r.files.size() > 5000) fail(413, "too many files");
  if (!r.baseline.empty()) {
    if (!a.organiser()) fail(403, "only organisers submit baselines");
    c.store->phase(r.phase);
  } else {
    r.team_id = check_may_submit(c, a, r.phase, r.track);
  }
  std::sort(r.files.begin(), r.files.end());
  for (size_t k = 0; k < r.files.size(); ++k) {
    const auto& [name, sha] = r.files[k];
    bool bad = name.empty() || name.size() > 200 || name[0] == '.';
    for (unsigned char ch : name) bad = bad || ch < 0x20 || ch == 0x7f || ch == '/' || ch == '\\';
    if (bad) fail(400, "bad file name " + json(name).dump(-1, ' ', true, json::error_handler_t::replace));
    if (!challenge::is_sha256_hex(sha)) fail(400, "file '" + name + "': bad sha256");
    if (k > 0 && name == r.files[k - 1].first) fail(400, "file '" + name + "' given twice");
  }
  if (const int64_t dup = c.store->duplicate_of(r.team_id, c.store->phase(r.phase).id, r.track, r.files, 0, true))
    fail(409, "duplicate: the same files as submission " + std::to_string(dup) +
                  " of your team in this phase and track; not submitted again and not charged");
}

// 413 unless `more` bytes fit the per-team storage cap.
void check_storage(const Ctx& c, const Auth& a, int64_t team_id, int64_t more) {
  const int64_t cap = c.store->limits().max_team_bytes;
  if (cap <= 0 || a.organiser()) return;
  const int64_t used = c.store->storage_bytes(team_id, a.user.id);
  if (used + more > cap)
    fail(413, "your team stores " + std::to_string(used) + " bytes; " + std::to_string(more) +
                  " more would exceed the per-team limit of " + std::to_string(cap) +
                  " bytes (files no submission uses are removed after a day)");
}

// Appends the body of a resumable-upload PUT at `offset` (fsynced; nothing past `offset` is
// acknowledged if it fails).
void append_chunk(const fs::path& part, int64_t id, int64_t offset, const std::string& body) {
  if (fs::exists(part) && static_cast<int64_t>(fs::file_size(part)) != offset)
    fs::resize_file(part, static_cast<uintmax_t>(offset));  // a crash after a write, before the db update
  FILE* f = std::fopen(part.c_str(), offset == 0 ? "wb" : "ab");
  if (!f) {
    const int err = errno;
    std::fprintf(stderr, "serve: upload %lld: %s: %s\n", static_cast<long long>(id), part.c_str(), std::strerror(err));
    fail_storage(std::strerror(err));
  }
  const bool ok = std::fwrite(body.data(), 1, body.size(), f) == body.size() && std::fflush(f) == 0 &&
                  ::fdatasync(fileno(f)) == 0;
  const int err = errno;
  std::fclose(f);
  if (!ok) {
    std::fprintf(stderr, "serve: upload %lld: %s: %s\n", static_cast<long long>(id), part.c_str(), std::strerror(err));
    fail_storage(std::strerror(err));
  }
}

// The multipart form's fields and files; the files are checked, then stored.
SubmissionRequest multipart_submission(const Ctx& c, const httplib::Request& req, const Auth& a) {
  auto field = [&](const char* k) { return req.has_file(k) ? req.get_file_value(k).content : std::string(); };
  SubmissionRequest r;
  r.phase = field("phase");
  if (r.phase.empty()) r.phase = "test";
  r.track = field("track");
  r.description = field("description");
  r.baseline = field("baseline");
  int64_t total = 0;
  std::vector<const httplib::MultipartFormData*> parts;
  for (const auto& [key, f] : req.files) {
    if (f.filename.empty()) continue;
    total += static_cast<int64_t>(f.content.size());
    if (static_cast<int64_t>(f.content.size()) > c.store->limits().max_file_bytes)
      fail(413, "file '" + f.filename + "' exceeds the size limit");
    parts.push_back(&f);
    r.files.emplace_back(fs::path(f.filename).filename().string(), challenge::sha256_hex(f.content));
  }
  if (total > c.opts.max_multipart_bytes) fail(413, "multipart submission too large; use the resumable upload API");
  check_submission(c, a, r);
  check_storage(c, a, r.team_id, total);
  for (const auto* f : parts) {
    const std::string sha = c.svc->blobs().put(f->content);
    c.store->record_blob(sha, static_cast<int64_t>(f->content.size()), a.user.id);
  }
  return r;
}

SubmissionRequest json_submission(const Ctx& c, const httplib::Request& req, const Auth& a) {
  auto b = parse_body(req);
  SubmissionRequest r;
  r.phase = str_field(b, "phase", false);
  if (r.phase.empty()) r.phase = "test";
  r.track = str_field(b, "track");
  r.description = str_field(b, "description", false);
  r.baseline = str_field(b, "baseline", false);
  if (!b.contains("files") || !b["files"].is_object()) fail(400, "missing object field 'files' {name: sha256}");
  for (auto it = b["files"].begin(); it != b["files"].end(); ++it) {
    if (!it.value().is_string()) fail(400, "files: values must be sha256 strings");
    r.files.emplace_back(it.key(), it.value().get<std::string>());
  }
  check_submission(c, a, r);
  for (const auto& [name, sha] : r.files)
    if (!c.svc->blobs().has(sha) || !c.store->blob_owned(sha, a.user.id, r.team_id))
      fail(400, "file '" + name + "': no completed upload with sha256 " + sha + " by your team");
  return r;
}

void upload_routes(httplib::Server& S, const Ctx& c) {
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Service* const svc = c.svc;
  challenge::Store* const store = c.store;

  // {filename, size, sha256, phase?}: a participant uploads only while a phase (the given
  // one, else any) accepts submissions, and within the team's storage cap.
  S.Post("/api/uploads", wrap(Need::write, [=](RB_HANDLER_ARGS) {
           auto b = parse_body(req);
           if (!b.contains("size") || !b["size"].is_number_integer()) fail(400, "missing integer field 'size'");
           const int64_t size = b["size"].get<int64_t>();
           if (size < 0) fail(400, "field 'size' must not be negative");
           const auto l = store->limits();
           if (size > l.max_file_bytes)
             fail(413, "file of " + std::to_string(size) + " bytes exceeds the limit of " +
                           std::to_string(l.max_file_bytes) + " bytes");
           if (!a->organiser()) {
             const std::string phase = str_field(b, "phase", false);
             if (!phase.empty()) {
               c.phase_open(phase);
             } else {
               bool any = false;
               for (const auto& p : store->phases()) try {
                   c.phase_open(p.name);
                   any = true;
                 } catch (const HttpError&) {
                 }
               if (!any) fail(403, "no phase accepts submissions now");
             }
             auto team = store->team_of(a->user.id);
             check_storage(c, *a, team ? team->id : 0, size);
           }
           auto u = store->create_upload(a->user.id, str_field(b, "filename"), size, str_field(b, "sha256"));
           send_json(res, {{"id", u.id}, {"offset", 0}, {"size", size},
                           {"chunk_size", std::min<int64_t>(c.opts.max_chunk_bytes, 8 << 20)}},
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
          if (n > c.opts.max_chunk_bytes) fail(413, "chunk larger than " + std::to_string(c.opts.max_chunk_bytes) + " bytes");
          if (offset + n > u.size)
            fail(413, "chunk runs past the declared size of " + std::to_string(u.size) + " bytes");
          append_chunk(svc->blobs().upload_path(u.id), u.id, offset, req.body);
          svc->blobs().upload_hashes().append(u.id, offset, req.body);
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
             // Hashed as the chunks arrived (UploadHashes); read again only after a restart.
             sha = svc->blobs().adopt(part, u.sha256, svc->blobs().upload_hashes().finish(u.id, u.size));
           } catch (const UserError& e) {
             store->set_upload_received(u.id, 0);  // data discarded; the client must re-send
             fail(422, e.what());
           }
           store->complete_upload(u.id, u.size);
           send_json(res, {{"id", u.id}, {"sha256", sha}, {"state", "complete"}});
         }));
}

}  // namespace

void submission_routes(httplib::Server& S, const Ctx& c) {
  upload_routes(S, c);
  auto wrap = [&c](Need need, Fn fn) { return c.wrap(need, std::move(fn)); };
  challenge::Service* const svc = c.svc;
  challenge::Store* const store = c.store;

  // ?phase=&track= -> 200 {phase, track, ok: true}, or the 4xx that creating a submission
  // would give now (phase closed, no team, quota): `submit` asks before uploading anything.
  S.Get("/api/submissions/check", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          const std::string phase = req.get_param_value("phase"), track = req.get_param_value("track");
          if (!valid_track(track)) fail(400, "unknown track '" + track + "' (multicoil_4x, multicoil_8x, transfer_4x)");
          if (!challenge::is_phase(phase)) fail(400, "unknown phase '" + phase + "' (test, challenge)");
          check_may_submit(c, *a, phase, track);  // organisers submit baselines only, not here
          send_json(res, {{"phase", phase}, {"track", track}, {"ok", true}});
        }));

  // -> 202 {id, state: "validating"}: validated in the background (validator threads).
  S.Post("/api/submissions", wrap(Need::write, [=](RB_HANDLER_ARGS) {
           SubmissionRequest r = req.is_multipart_form_data() ? multipart_submission(c, req, *a) : json_submission(c, req, *a);
           const int64_t id = store->create_submission(store->phase(r.phase).id, r.track, r.team_id, a->user.id,
                                                      r.baseline, r.description, r.files);
           auto out = svc->submit(id);
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
          // Organisers: outliers flagged (SSIM >= 0.999, files identical to another team's).
          const auto flags = a->organiser() ? store->outlier_flags(challenge::current_spec_hash(), 0.999)
                                            : std::map<int64_t, json>{};
          for (const auto& s : store->submissions(team_id > 0 ? team_id : 0)) {
            auto f = flags.find(s.id);
            arr.push_back(submission_json(*svc, s, c.scores_visible(s.phase, a), a->organiser(),
                                          f == flags.end() ? json() : f->second));
          }
          send_json(res, arr);
        }));

  S.Get(R"(/api/submissions/(\d+))", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto s = c.visible_submission(int_param(req, 1), *a);
          json flags;
          if (a->organiser()) {
            const auto all = store->outlier_flags(challenge::current_spec_hash(), 0.999);
            if (auto f = all.find(s.id); f != all.end()) flags = f->second;
          }
          auto j = submission_json(*svc, s, c.scores_visible(s.phase, a), a->organiser(), flags);
          j["events"] = store->submission_events(s.id);
          if (a->organiser()) j["identical_to_other_teams"] = store->identical_elsewhere(s.id);
          send_json(res, j);
        }));

  S.Put(R"(/api/submissions/(\d+)/final)", wrap(Need::write, [=](RB_HANDLER_ARGS) {
          auto s = c.visible_submission(int_param(req, 1), *a);
          auto team = store->team_of(a->user.id);
          if (!team || s.team_id != team->id)
            fail(403, "only a member of the submitting team selects its final submission");
          store->select_final(s.id, team->id, a->user.id);  // UserError (400) with the reason
          send_json(res, {{"submission", s.id}, {"final", true}});
        }));

  S.Get(R"(/api/submissions/(\d+)/volumes)", wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto s = c.visible_submission(int_param(req, 1), *a);
          if (!c.per_case_visible(s.phase, a))
            fail(403, "per-volume scores of the " + s.phase + " phase are shown once its final results are public");
          auto sc = store->score(s.id, challenge::current_spec_hash());
          if (!sc) fail(404, "this submission has no scores yet");
          send_json(res, {{"submission", s.id}, {"spec_hash", sc->spec_hash}, {"volumes", sc->volumes}});
        }));

  S.Get(R"(/api/submissions/(\d+)/volumes/([A-Za-z0-9_.\-]+)/slices/(\d+)\.png)",
        wrap(Need::user, [=](RB_HANDLER_ARGS) {
          auto s = c.visible_submission(int_param(req, 1), *a);
          if (!c.per_case_visible(s.phase, a))
            fail(403, "images of the " + s.phase + " phase are shown once its final results are public");
          // Only files that passed validation (shape checked against the manifest before any
          // read, so a compressed "HDF5 bomb" with a huge declared shape is never read here).
          if (s.state != "scored") fail(404, "this submission has no scores yet");
          const std::string name = req.matches[2].str();
          const int64_t k = int_param(req, 3);
          bool has = false;
          for (const auto& f : s.files) has = has || f.first == name;
          if (!has) fail(404, "no volume '" + name + "' in this submission");
          const auto track_files = challenge::track_files(svc->manifest(), s.phase, challenge::find_track(s.track));
          const challenge::ManifestFile* mf = nullptr;
          for (const auto& f : track_files)
            if (f.name == name) mf = &f;
          if (!mf) fail(404, "no volume '" + name + "'");
          auto gt = eval::read_eval_input(svc->manifest().root / mf->ground_truth, {"reconstruction_rss", "reconstruction"});
          // The canonical copy (sandbox.hpp): the uploaded bytes never reach libhdf5 here.
          auto pr = eval::read_eval_input(svc->canonical_file(s, name), {"reconstruction"});
          if (k < 0 || k >= gt.volume.dim(0) || k >= pr.volume.dim(0)) fail(404, "no slice " + std::to_string(k));
          const int64_t cs = eval::crop_side(gt.volume.shape());
          auto g = eval::crop_volume(gt.volume.view(), cs, "ground truth");
          auto p = eval::crop_volume(pr.volume.view(), cs, "reconstruction");
          double range = 0;
          for (float v : g.flat()) range = std::max(range, double(v));
          auto map = eval::ssim_map(g(k), p(k), range > 0 ? range : 1.0);
          auto img = eval::slice_figure(g(k), p(k), map.view(), eval::figure_window(g.view()));
          res.set_content(png_bytes(img, svc->blobs().dir() / "uploads"), "image/png");
        }));
}

}  // namespace rb::server
