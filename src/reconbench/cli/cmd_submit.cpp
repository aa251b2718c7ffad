// `reconbench submit`: upload a submission to a challenge server (chunked, resumable,
// sha256-verified).
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct SubmitCmd final : rb::cli::Command {
  std::string dir, server, token, track, phase = "test", description, data, state_file;
  double chunk_mb = 8, wait_s = 0, validate_wait_s = 900;
  void declare(CLI::App& app) override {
    app.add_option("dir", dir, "directory of reconstruction files")->required();
    app.add_option("--server", server, "server URL, e.g. http://127.0.0.1:8080")->required();
    app.add_option("--token", token, "API token (or $RECONBENCH_TOKEN)")->envname("RECONBENCH_TOKEN");
    app.add_option("--track", track, "multicoil_4x, multicoil_8x or transfer_4x")->required();
    app.add_option("--phase", phase, "test or challenge")->default_val("test");
    app.add_option("--description", description, "a note shown with the submission");
    app.add_option("--data", data, "validate locally first against this data directory");
    app.add_option("--chunk-mb", chunk_mb, "upload chunk size in MiB")->default_val(8);
    app.add_option("--state", state_file,
                   "resume state file (default DIR/.reconbench-upload.json)");
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

  // The same validator as the server's, before anything is uploaded.
  void validate_locally() const {
    rb::challenge::ValidationOptions vo;
    auto rep = rb::challenge::validate_submission(rb::challenge::list_submission_dir(dir),
                                                  rb::challenge::load_manifest(data), phase,
                                                  rb::challenge::find_track(track), vo);
    std::cerr << rb::challenge::to_text(rep);
    RB_CHECK(rep.ok(), "local validation failed; nothing uploaded");
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
      auto j = parse(cli.Post("/api/uploads", json{{"filename", name}, {"size", size}, {"sha256", sha}}.dump(),
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
  // or --validate-wait passes since t0; prints it with the team's quota. Returns its state
  // ("validating" when the server stopped answering).
  std::string await_validation(httplib::Client& cli, json sub,
                               std::chrono::steady_clock::time_point t0) const {
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
    if (auto q = cli.Get("/api/quota?phase=" + phase + "&track=" + track); q && q->status == 200) {
      try {
        sub["quota"] = json::parse(q->body);
      } catch (...) {
      }
    }
    std::cout << sub.dump(2) << "\n";
    if (st == "validating" || st == "uploaded")
      std::fprintf(stderr, "submission %lld: %s; it is validated on the server regardless: "
                   "follow it with GET /api/submissions/%lld\n", static_cast<long long>(id),
                   lost ? "no answer from the server for 15 s" : "still being validated",
                   static_cast<long long>(id));
    return st;
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

  int run() override {
    RB_CHECK(!token.empty(), "--token (or $RECONBENCH_TOKEN) is required");
    if (!data.empty()) validate_locally();
    httplib::Client cli(server);
    cli.set_bearer_token_auth(token);
    cli.set_connection_timeout(10);
    cli.set_read_timeout(600);
    cli.set_write_timeout(600);
    if (state_file.empty()) state_file = (fs::path(dir) / ".reconbench-upload.json").string();
    json state = json::object();
    if (fs::exists(state_file)) {
      try {
        state = json::parse(rb::read_file(state_file));
      } catch (...) {
        state = json::object();
      }
    }
    json files = json::object();
    const auto listing = rb::challenge::list_submission_dir(dir);
    RB_CHECK(!listing.empty(), dir, ": no .h5 files");
    for (const auto& [name, path] : listing) files[name] = upload(cli, name, path, state);
    auto r = cli.Post("/api/submissions",
                      json{{"phase", phase}, {"track", track}, {"description", description}, {"files", files}}.dump(),
                      "application/json");
    RB_CHECK(r, "creating the submission: cannot reach the server");
    json sub = json::parse(r->body);
    if (r->status >= 400 && !sub.contains("id"))
      throw rb::UserError("creating the submission: HTTP " + std::to_string(r->status) + ": " +
                          sub.value("error", std::string("?")));
    fs::remove(state_file);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string st = await_validation(cli, sub, t0);
    if (st == "validating" || st == "uploaded" || st == "failed") return 1;
    double last_contact = 0;
    while (wait_s > 0 && since(t0) < wait_s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      auto j = fetch(cli, sub["id"].get<int64_t>(), t0, last_contact);
      if (!j.is_object()) continue;
      const std::string now = j.value("state", "");
      if (now == "scored" || now == "failed") {
        std::cout << j.dump(2) << "\n";
        return now == "scored" ? 0 : 1;
      }
    }
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"submit", "upload a submission to a challenge server (resumable, sha256-verified)",
     "Uploads every .h5 file of DIR in chunks (PUT with offsets; an interrupted upload resumes "
     "from the server's offset when run again), has the server verify each file's sha256, "
     "then creates the submission, which the server validates in the background before it "
     "counts against the team's quota; submit polls until validation is done. The same files "
     "as a live submission of the team are refused as a duplicate (not charged). With --data "
     "it first runs the same validator locally. Prints the submission (state, validation "
     "report, queue position, remaining quota); exit status 1 if it failed. --wait polls until "
     "it is scored.",
     {"reconbench submit recon-4x/ --server http://127.0.0.1:8080 --token $TOKEN --track multicoil_4x",
      "reconbench submit recon-ch/ --server https://challenge.example.org --track transfer_4x --phase challenge --data data/ --wait 600"},
     71},
    [] { return std::make_unique<SubmitCmd>(); });

}  // namespace
