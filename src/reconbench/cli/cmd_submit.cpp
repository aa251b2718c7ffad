// `reconbench submit`: upload a submission to a challenge server (chunked, resumable,
// sha256-verified).
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/tracks.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct SubmitCmd final : rb::cli::Command {
  std::string dir, server, token, track = "auto", phase = "test", description, data, state_file;
  double chunk_mb = 8, wait_s = 0, validate_wait_s = 900;
  void declare(CLI::App& app) override {
    app.add_option("dir", dir, "directory of reconstruction files")->required();
    app.add_option("--server", server, "server URL, e.g. http://127.0.0.1:8080")->required();
    app.add_option("--token", token, "API token (or $RECONBENCH_TOKEN)")->envname("RECONBENCH_TOKEN");
    app.add_option("--track", track,
                   "multicoil_4x, multicoil_8x, transfer_4x, or auto: each file to the track the "
                   "server lists it in (one submission per track)")
        ->default_val("auto");
    app.add_option("--phase", phase, "test or challenge")->default_val("test");
    app.add_option("--description", description, "a note shown with the submission");
    app.add_option("--data", data, "validate locally first against this data directory");
    app.add_option("--chunk-mb", chunk_mb, "upload chunk size in MiB")->default_val(8);
    app.add_option("--state", state_file,
                   "resume state file (default $XDG_STATE_HOME/reconbench/uploads/KEY.json, "
                   "else ~/.local/state/reconbench/uploads/KEY.json; KEY from the server and "
                   "DIR)");
    app.add_option("--validate-wait", validate_wait_s,
                   "seconds to wait for the server's validation (it runs after the upload)")
        ->default_val(900);
    app.add_option("--wait", wait_s, "wait up to this many seconds for the score (0 = don't wait)")
        ->default_val(0);
  }

  static json parse(const httplib::Result& r, const std::string& what) {
    RB_CHECK(r, what, ": cannot reach the server (", httplib::to_string(r.error()), ")");
    json j;
    try {
      j = json::parse(r->body);
    } catch (...) {
      j = json{{"error", r->body.substr(0, 200)}};
    }
    RB_CHECK(r->status < 400, what, ": HTTP ", r->status, ": ", j.value("error", r->body.substr(0, 200)));
    return j;
  }

  using Files = std::map<std::string, fs::path>;  // submission name -> path

  // The same validator as the server's, before anything is uploaded.
  void validate_locally(const std::string& trk, const Files& files) const {
    rb::challenge::ValidationOptions vo;
    auto rep = rb::challenge::validate_submission(files, rb::challenge::load_manifest(data), phase,
                                                  rb::challenge::find_track(trk), vo);
    std::cerr << rb::challenge::to_text(rep);
    RB_CHECK(rep.ok(), "local validation failed (", trk, "); nothing uploaded");
  }

  // DIR's files by track: all under --track, or (auto) each under the track whose file list
  // the server gives for the phase (GET /api/challenge/files: challenge::track_files, the
  // validator's rule). UserError naming the files no track of the phase has.
  std::map<std::string, Files> group_by_track(httplib::Client& cli) const {
    const Files listing = rb::challenge::list_submission_dir(dir);
    RB_CHECK(!listing.empty(), dir, ": no .h5 files");
    if (track != "auto") {
      rb::challenge::find_track(track);
      return {{track, listing}};
    }
    auto j = parse(cli.Get("/api/challenge/files?phase=" + phase), "listing the tracks' files of phase '" + phase + "'");
    std::map<std::string, std::string> track_of;
    for (auto& [trk, names] : j.at("tracks").items())
      for (const auto& n : names) track_of[n.get<std::string>()] = trk;
    std::map<std::string, Files> groups;
    std::string unknown;
    int n_unknown = 0;
    for (const auto& [name, path] : listing) {
      auto it = track_of.find(name);
      if (it != track_of.end()) {
        groups[it->second][name] = path;
      } else if (++n_unknown <= 5) {
        unknown += (unknown.empty() ? "" : ", ") + name;
      }
    }
    RB_CHECK(n_unknown == 0, dir, ": ", n_unknown, " file(s) belong to no track of phase '", phase, "' (",
             unknown, n_unknown > 5 ? ", ..." : "", "); nothing uploaded");
    for (const auto& [trk, files] : groups)
      std::fprintf(stderr, "%s: %zu file(s)\n", trk.c_str(), files.size());
    return groups;
  }

  // Asks the server whether the team may submit to phase/track now (phase open, in a team,
  // quota and attempts left) before any byte is uploaded.
  void check_open(httplib::Client& cli, const std::string& trk) const {
    parse(cli.Get("/api/submissions/check?phase=" + phase + "&track=" + trk),
          "cannot submit to " + trk + " in phase '" + phase + "' (nothing uploaded)");
  }

  // $XDG_STATE_HOME/reconbench/uploads (else ~/.local/state/...)/KEY.json, KEY the first 16
  // hex digits of sha256(server URL, newline, DIR's absolute path): never inside DIR.
  std::string default_state_file() const {
    fs::path base;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) {
      base = x;
    } else if (const char* h = std::getenv("HOME"); h && *h) {
      base = fs::path(h) / ".local" / "state";
    } else {
      base = fs::temp_directory_path();
    }
    const std::string key = rb::challenge::sha256_hex(server + "\n" + fs::weakly_canonical(dir).string());
    const fs::path d = base / "reconbench" / "uploads";
    fs::create_directories(d);
    return (d / (key.substr(0, 16) + ".json")).string();
  }

  // One file uploaded in chunks (resumed from the server's offset when the state file knows
  // its upload) and finalised with the server's sha256 check. Returns the file's sha256.
  std::string upload(httplib::Client& cli, const std::string& name, const fs::path& path,
                     json& state) const {
    const std::string sha = rb::challenge::sha256_file(path);
    const int64_t size = static_cast<int64_t>(fs::file_size(path));
    const int64_t chunk = static_cast<int64_t>(chunk_mb * 1024 * 1024);
    int64_t id = 0, offset = 0;
    if (state.contains(name) && state[name].value("sha256", "") == sha) {
      id = state[name].value("upload", int64_t{0});
      auto r = cli.Get("/api/uploads/" + std::to_string(id));
      if (r && r->status == 200) {
        auto j = json::parse(r->body);
        if (j["state"] == "complete") {
          std::fprintf(stderr, "  %s: already uploaded\n", name.c_str());
          return sha;
        }
        offset = j["offset"].get<int64_t>();
        std::fprintf(stderr, "  %s: resuming at byte %lld\n", name.c_str(), static_cast<long long>(offset));
      } else {
        id = 0;
      }
    }
    if (id == 0) {
      auto j = parse(cli.Post("/api/uploads",
                              json{{"filename", name}, {"size", size}, {"sha256", sha}, {"phase", phase}}.dump(),
                              "application/json"),
                     name + ": starting upload");
      id = j["id"].get<int64_t>();
      offset = 0;
      state[name] = {{"upload", id}, {"sha256", sha}};
      rb::write_file_atomic(state_file, state.dump());
    }
    std::ifstream in(path, std::ios::binary);
    std::string buf;
    while (offset < size) {
      const int64_t n = std::min(chunk, size - offset);
      buf.resize(static_cast<size_t>(n));
      in.seekg(offset);
      in.read(buf.data(), n);
      RB_CHECK(in.gcount() == n, path.string(), ": read failed");
      auto put = [&] {
        return cli.Put("/api/uploads/" + std::to_string(id) + "?offset=" + std::to_string(offset), buf,
                       "application/octet-stream");
      };
      auto r = put();
      for (int attempt = 0; attempt < 4 && !(r && r->status < 500); ++attempt) {
        std::this_thread::sleep_for(std::chrono::seconds(1 << attempt));
        r = put();
      }
      if (r && r->status == 409) {  // server has a different offset: resume from it
        auto g = parse(cli.Get("/api/uploads/" + std::to_string(id)), name);
        offset = g["offset"].get<int64_t>();
        continue;
      }
      offset = parse(r, name + ": uploading")["offset"].get<int64_t>();
      std::fprintf(stderr, "\r  %s: %lld / %lld bytes", name.c_str(), static_cast<long long>(offset),
                   static_cast<long long>(size));
    }
    std::fprintf(stderr, "\n");
    auto fin = parse(cli.Post("/api/uploads/" + std::to_string(id) + "/finalize", "", "application/json"),
                     name + ": finalising (sha256 check)");
    RB_CHECK(fin["sha256"] == sha, name, ": server stored sha256 ", fin["sha256"].get<std::string>(),
             ", local file hashes to ", sha);
    return sha;
  }

  // Polls the submission until it leaves validation (the server validates in the background)
  // or --validate-wait passes since t0; adds the team's quota. Returns the submission (state
  // "validating" when the server stopped answering).
  json await_validation(httplib::Client& cli, json sub, std::chrono::steady_clock::time_point t0) const {
    const int64_t id = sub["id"].get<int64_t>();
    double last_contact = 0;  // seconds since t0 of the last answer from the server
    std::string st = sub.value("state", "");
    bool lost = false;
    for (bool said = false; (st == "validating" || st == "uploaded") && since(t0) < validate_wait_s;) {
      if (since(t0) - last_contact > 15) {  // the server is gone (restarted elsewhere?)
        lost = true;
        break;
      }
      if (!said) std::fprintf(stderr, "  submission %lld: validating on the server...\n", static_cast<long long>(id));
      said = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      auto j = fetch(cli, id, t0, last_contact);
      if (j.is_object() && j.contains("state")) {
        sub = j;
        st = j["state"].get<std::string>();
      }
    }
    const std::string trk = sub.value("track", track);
    if (auto q = cli.Get("/api/quota?phase=" + phase + "&track=" + trk); q && q->status == 200) {
      try {
        sub["quota"] = json::parse(q->body);
      } catch (...) {
      }
    }
    if (st == "validating" || st == "uploaded")
      std::fprintf(stderr, "submission %lld: %s; it is validated on the server regardless: "
                   "follow it with GET /api/submissions/%lld\n", static_cast<long long>(id),
                   lost ? "no answer from the server for 15 s" : "still being validated",
                   static_cast<long long>(id));
    return sub;
  }

  // With --wait: polls a validated submission until it is scored or failed (or --wait
  // seconds since t0 pass). Returns its latest state.
  json await_score(httplib::Client& cli, json sub, std::chrono::steady_clock::time_point t0) const {
    double last_contact = 0;
    while (wait_s > 0 && since(t0) < wait_s && sub.value("state", "") != "scored" &&
           sub.value("state", "") != "failed") {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      auto j = fetch(cli, sub["id"].get<int64_t>(), t0, last_contact);
      if (!j.is_object() || !j.contains("state")) continue;
      if (sub.contains("quota")) j["quota"] = sub["quota"];
      sub = j;
    }
    return sub;
  }

  static double since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // The submission's JSON (null when the server does not answer); last_contact updated.
  static json fetch(httplib::Client& cli, int64_t id, std::chrono::steady_clock::time_point t0,
                    double& last_contact) {
    auto s = cli.Get("/api/submissions/" + std::to_string(id));
    if (s) last_contact = since(t0);
    if (!s || s->status != 200) return json();
    try {
      return json::parse(s->body);
    } catch (...) {
      return json();
    }
  }

  // Uploads one track's files (resuming from `state`) and creates its submission. With
  // --track auto, a track whose files equal a live submission of the team (HTTP 409) is
  // reported as {"state": "duplicate"} and the other tracks go on.
  json create(httplib::Client& cli, const std::string& trk, const Files& listing, json& state) const {
    json files = json::object();
    for (const auto& [name, path] : listing) files[name] = upload(cli, name, path, state);
    auto r = cli.Post("/api/submissions",
                      json{{"phase", phase}, {"track", trk}, {"description", description}, {"files", files}}.dump(),
                      "application/json");
    RB_CHECK(r, "creating the submission (", trk, "): cannot reach the server");
    json sub;
    try {
      sub = json::parse(r->body);
    } catch (...) {
      sub = json{{"error", r->body.substr(0, 200)}};
    }
    if (r->status == 409 && track == "auto") {  // this track's files are a live submission already
      const std::string why = sub.value("error", std::string("duplicate"));
      std::fprintf(stderr, "%s: %s\n", trk.c_str(), why.c_str());
      return json{{"phase", phase}, {"track", trk}, {"state", "duplicate"}, {"error", why}};
    }
    if (r->status >= 400 && !sub.contains("id"))
      throw rb::UserError("creating the submission (" + trk + "): HTTP " + std::to_string(r->status) + ": " +
                          sub.value("error", std::string("?")));
    return sub;
  }

  int run() override {
    RB_CHECK(!token.empty(), "--token (or $RECONBENCH_TOKEN) is required");
    RB_CHECK(rb::challenge::is_phase(phase), "--phase ", phase, ": unknown phase (test or challenge)");
    httplib::Client cli(server);
    cli.set_bearer_token_auth(token);
    cli.set_connection_timeout(10);
    cli.set_read_timeout(600);
    cli.set_write_timeout(600);
    const auto groups = group_by_track(cli);
    if (!data.empty())
      for (const auto& [trk, files] : groups) validate_locally(trk, files);
    for (const auto& [trk, files] : groups) check_open(cli, trk);
    if (state_file.empty()) state_file = default_state_file();
    json state = json::object();
    if (fs::exists(state_file)) {
      try {
        state = json::parse(rb::read_file(state_file));
      } catch (...) {
        state = json::object();
      }
    }
    std::vector<json> subs;
    for (const auto& [trk, files] : groups) subs.push_back(create(cli, trk, files, state));
    fs::remove(state_file);
    const auto t0 = std::chrono::steady_clock::now();
    int rc = 0;
    for (auto& sub : subs) {
      if (!sub.contains("id")) continue;  // a duplicate: nothing created
      sub = await_validation(cli, sub, t0);
      const std::string st = sub.value("state", "");
      if (st == "validating" || st == "uploaded" || st == "failed") {
        rc = 1;
        continue;
      }
      sub = await_score(cli, sub, t0);
      if (sub.value("state", "") == "failed") rc = 1;
    }
    // One JSON document on stdout: the submission (--track NAME), or all of them (auto).
    if (track == "auto")
      std::cout << json{{"phase", phase}, {"submissions", subs}}.dump(2) << "\n";
    else
      std::cout << subs.at(0).dump(2) << "\n";
    return rc;
  }
};

const rb::cli::Registrar reg(
    {"submit", "upload a submission to a challenge server (resumable, sha256-verified)",
     "Uploads every .h5 file of DIR in chunks (PUT with offsets; an interrupted upload resumes "
     "from the server's offset when run again, from a state file outside DIR), has the server "
     "verify each file's sha256, then creates the submission, which the server validates in "
     "the background before it counts against the team's quota; submit polls until validation "
     "is done. Without --track (or --track auto) each file goes to the track the server lists "
     "it in for the phase, one submission per track: the reconstructions of multicoil_test/, "
     "which mixes 4X and 8X files, are submitted by one command. Before uploading anything it "
     "asks the server whether the phase is open and the team may submit to each track. The "
     "same files as a live submission of the team are refused as a duplicate (not charged). "
     "With --data it first runs the same validator locally. Prints one JSON document on "
     "stdout: the submission (state, validation report, queue position, remaining quota), or "
     "with auto {\"phase\", \"submissions\": [...]} (a track whose files are already a live "
     "submission of the team is listed as a duplicate, the others go on); exit status 1 if one "
     "failed. --wait polls until they are scored.",
     {"reconbench submit recon/zf --server http://127.0.0.1:8080 --token $TOKEN",
      "reconbench submit recon-4x/ --server http://127.0.0.1:8080 --token $TOKEN --track multicoil_4x",
      "reconbench submit recon-ch/ --server https://challenge.example.org --track transfer_4x --phase challenge --data data/ --wait 600"},
     71},
    [] { return std::make_unique<SubmitCmd>(); });

}  // namespace
