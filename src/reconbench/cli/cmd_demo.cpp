// `reconbench demo`: the 2020 challenge on simulated data, composed of library stages, each
// leaving the files the next one (and `reconbench report`) reads: simulate (DIR/data) ->
// reconstruct (DIR/recon/<variant>/<method>/) -> evaluate (results/eval/) -> rank: each method
// a team of a local challenge (Service on DIR/challenge.db; results/leaderboard/) -> close the
// phase -> SIMULATED reader panel, reads stored in the study (results/) -> report (DIR/report).
#include <atomic>
#include <cstdio>

#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/ml/loader.hpp"
#include "reconbench/recon/run.hpp"
#include "reconbench/report/reader_panel.hpp"
#include "reconbench/report/report.hpp"
#include "reconbench/sim/dataset.hpp"

namespace fs = std::filesystem;
namespace ch = rb::challenge;
namespace rp = rb::report;
using rp::Json;

namespace {

struct DemoCmd final : rb::cli::Command {
  std::string out, profile = "small", data, models_dir;
  uint64_t seed = 0;
  // The VarNet entry is varnet-grappa (hours of training on the small profile); the
  // demo-sized `varnet` (minutes on ci) costs as much per slice: --methods adds it back.
  std::vector<std::string> methods{"zero-filled", "grappa",      "sense",        "cs-wavelet",
                                   "unet",        "unet-grappa", "varnet-grappa"};
  std::vector<std::string> params;
  size_t finalists = 3;
  int64_t readers = 5, cases = 6;
  bool no_nonorm = false;

  void declare(CLI::App& app) override {
    app.add_option("--out", out, "output folder (data/, recon/, results/, report/)")->required();
    app.add_option("--profile", profile, "simulator profile: ci (minutes), small (default)")
        ->check(CLI::IsMember({"ci", "small", "full"}))
        ->capture_default_str();
    app.add_option("--seed", seed, "simulator and reader-panel seed")->capture_default_str();
    app.add_option("--data", data, "use this simulated dataset (with manifest.json)");
    app.add_option("--methods", methods, "baselines (registered methods; learned: with weights)")
        ->delimiter(',')
        ->default_str("zero-filled,grappa,sense,cs-wavelet,unet,unet-grappa,varnet-grappa");
    app.add_option("--param", params,
                   "METHOD:key=value for one method (repeatable), e.g. sense:iter=10; keys as in "
                   "`reconbench recon --list-methods`, checked before any work");
    app.add_option("--models", models_dir, "folder of weights <method>_small.pt (default models/)");
    app.add_option("--finalists", finalists, "finalists per track (top N by SSIM)")->default_val(3);
    app.add_option("--readers", readers, "simulated readers in the reader panel")->default_val(5);
    app.add_option("--cases", cases, "reader-study cases per track")->default_val(6);
    app.add_flag("--no-nonorm", no_nonorm, "skip Transfer without vendor normalisation");
  }

  rp::RunRecord rec{"demo"};
  fs::path root, results, data_dir;
  std::map<std::string, std::map<std::string, std::string>> user_params;  // method -> key -> value
  std::vector<std::string> active;                          // the methods that could be built
  std::vector<rp::Variant> variants;                        // tracks (+ Transfer without norm)
  std::map<std::string, std::vector<std::string>> done;     // variant -> methods reconstructed
  std::map<std::string, std::map<std::string, rp::MethodEval>> evals;  // variant -> method ->
  std::map<std::string, std::unique_ptr<rp::CaseScores>> scores;      // track -> reader cases
  std::map<std::string, std::vector<std::string>> finalist_methods;    // track -> top N

  // A method with the demo's speed settings (2 cores; a 3x3 ESPIRiT kernel for the ci
  // profile's 8X centre of 5 lines) under the user's --param, and the variant's `norm`.
  std::unique_ptr<rb::ReconMethod> make(const std::string& m, const std::string& norm) const {
    rb::ReconMethodConfig cfg;
    if (!models_dir.empty()) cfg.weights = (fs::path(models_dir) / (m + "_small.pt")).string();
    if (m == "sense") cfg.params = {{"iter", profile == "ci" ? "10" : "20"}};
    if (m == "cs-wavelet" || m == "cs-tv") cfg.params = {{"iter", profile == "ci" ? "15" : "30"}};
    if (profile == "ci" && rb::method_has_param(m, "kernel")) cfg.params["kernel"] = "3";
    if (auto it = user_params.find(m); it != user_params.end())
      for (const auto& [k, v] : it->second) cfg.params[k] = v;  // the user's settings win
    if (!norm.empty()) cfg.params["normalize"] = norm;  // a method without it refuses the key
    return rb::make_recon_method(m, cfg);
  }

  void simulate() {  // the challenge's splits only (the shipped weights saw train/val)
    data_dir = data.empty() ? root / "data" : fs::absolute(data);
    if (!data.empty() || fs::exists(data_dir / "manifest.json")) return rec.note("reusing data");
    rb::sim::simulate_dataset({.profile = rb::sim::make_profile(profile), .seed = seed,
                               .out = data_dir, .splits = {"challenge", "transfer"}});
  }

  // Every (variant, method) into DIR/recon/<variant>/<method>/ (kept when present: resumable).
  void reconstruct(const rb::sim::Manifest& manifest) {
    std::map<std::string, std::unique_ptr<rb::ReconMethod>> built;
    for (const auto& m : methods) {
      try {
        built[m] = make(m, "");
        active.push_back(m);
      } catch (const rb::UserError& e) {
        rec.skip(m, e.what());
      }
    }
    RB_CHECK(!active.empty(), "no reconstruction method is available (see the notes above)");
    variants = rp::evaluation_variants(manifest, !no_nonorm);
    for (const auto& v : variants) {
      std::vector<fs::path> in;
      for (const auto& f : ch::track_files(manifest, "challenge", *v.track))
        in.push_back(data_dir / f.file);
      for (const auto& m : active) {
        const fs::path dir = root / "recon" / v.name / m;
        try {
          const auto own = v.norm.empty() ? nullptr : make(m, v.norm);
          rb::reconstruct_files(in, own ? *own : *built.at(m), dir, {}, v.name + " " + m, true);
          done[v.name].push_back(m);
        } catch (const rb::UserError& e) {
          fs::remove_all(dir);
          rec.skip(m + " on " + v.name, e.what());
        }
      }
    }
  }

  // Each variant against the hidden ground truth with the challenge's scoring options; the
  // reader-study cases of each track (the challenge's case policy) scored on the way.
  void evaluate(const rb::sim::Manifest& manifest) {
    for (const auto& v : variants) {
      const auto files = ch::track_files(manifest, "challenge", *v.track);
      const bool track = v.name == v.track->name;
      if (track) {
        scores[v.name] = std::make_unique<rp::CaseScores>(rp::reader_cases(files, cases), data_dir);
        if (!scores[v.name]->cases().empty() && scores[v.name]->cases().front().volume.lesions == 0)
          rec.note(v.name + ": no lesion volumes; reader cases use middle slices");
      }
      const fs::path gt = root / "work" / "gt" / v.track->name;
      ch::link_ground_truth(manifest, files, gt);
      for (const auto& m : done[v.name]) {
        auto eo = ch::scoring_options();
        eo.progress = true;
        if (track) eo.on_volume = scores[v.name]->collector(m);
        const auto run = rb::eval::evaluate_directories(gt, root / "recon" / v.name / m, eo);
        RB_CHECK(!run.failed(), "evaluation of ", v.name, "/", m, " failed: ",
                 run.errors.empty() ? "?" : run.errors[0].file + ": " + run.errors[0].reason);
        evals[v.name][m] = rp::write_eval(results, v.name, m, run);
      }
    }
  }

  // Every method a team; its reconstructions submitted, validated and scored by the service.
  std::unique_ptr<ch::Service> rank() {
    const fs::path db = root / "challenge.db";
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(db.string() + suffix);
    fs::remove_all(root / "blobs");
    auto svc = std::make_unique<ch::Service>(ch::ServiceOptions{
        .data = data_dir, .db = "sqlite:" + db.string(), .blobs = root / "blobs",
        .study_cases = cases, .finalists = static_cast<int64_t>(finalists)});
    for (const auto& m : active) {
      const auto team = svc->add_team("demo-" + m, m);
      for (const auto& [track, ms] : evals)
        if (ms.count(m) && track != rp::kTransferNoNorm) {
          auto s = svc->submit_directory("challenge", track, team.team_id, team.user_id,
                                         root / "recon" / track / m, "reconbench demo: " + m);
          if (s["state"] == "failed") rec.note(m + " on " + track + ": " + s["failure"].dump());
        }
    }
    svc->work_loop("demo", 3600, 0.05, std::atomic<bool>{false}, /*exit_when_idle=*/true);
    const std::string source = "challenge database " + db.string() + " (phase challenge)";
    rec.fields()["leaderboard_source"] = source;
    rec.fields()["database"] = {{"path", db.string()}, {"engine", "sqlite"}};
    for (const auto& [track, ms] : evals) {
      if (track == rp::kTransferNoNorm) continue;
      const auto lb =
          rp::leaderboard_checked(svc->leaderboard("challenge", track), source, ms, rec);
      rp::write_leaderboard(results, lb);
      for (size_t i = 0; i < lb.rows.size() && i < finalists; ++i)
        finalist_methods[track].push_back(lb.rows[i].method);
    }
    return svc;
  }

  // Close the phase (finalists, cases); the simulated panel's reads stored in each study; the
  // final results published.
  void read(ch::Service& svc) {
    std::map<std::string, int64_t> study;
    const Json closed = svc.close_phase("challenge");
    for (const auto& s : closed["studies"]) study[s["track"]] = s["id"];
    const rp::ReaderPanelOptions po{.readers = readers, .seed = seed};
    Json rs = {{"simulated", true}, {"label", rp::kSimulatedPanelLabel},
               {"model", rp::reader_model_json(po)}, {"tracks", Json::object()}};
    for (const auto& [track, fin] : finalist_methods) {
      const auto& cs = *scores.at(track);
      cs.write_fig6(results, track, fin);
      if (fin.size() < 2) {
        rec.note(track + ": fewer than 2 teams, no reader study");
        continue;
      }
      const auto st = rp::simulate_reader_panel(track, fin, cs.panel_cases(fin), po);
      rs["tracks"][track] = rp::reader_study_json(st);
      if (!study.count(track) || st.cases.size() != cs.cases().size()) {
        rec.note(track + ": the simulated reads are not stored in the challenge database");
        continue;
      }
      rp::store_simulated_reads(svc, study[track], st);
      rec.fields()["database"]["studies"][track] = study[track];
    }
    rb::write_file_atomic(results / "reader_study.json", rs.dump(1) + "\n");
    // The reads are in: the organiser publishes the final results (scores public).
    const auto open = svc.publish_results("challenge");
    if (!open.empty()) rec.note("challenge results not published: reader studies incomplete " + open.dump());
  }

  int run() override {
    root = fs::absolute(out), results = root / "results";
    rb::install_interrupt_handler();
    rb::register_classical_methods();
    rb::ml::register_learned_methods();
    user_params = rb::parse_method_params(params);  // bad specs are refused before any work
    fs::create_directories(results);
    std::fprintf(stderr, "[demo] output %s, profile %s, seed %llu, %d threads\n", root.c_str(),
                 profile.c_str(), static_cast<unsigned long long>(seed), rb::num_threads());
    rec.stage("simulate", [&] { simulate(); });
    const auto manifest = rb::sim::read_manifest(data_dir);
    rp::write_dataset_json(results, manifest);
    rec.stage("reconstruct", [&] { reconstruct(manifest); });
    rec.stage("evaluate", [&] { evaluate(manifest); });
    std::unique_ptr<ch::Service> svc;
    rec.stage("rank", [&] { svc = rank(); });
    rec.stage("reader-study", [&] { read(*svc); });
    rec.fields().update({{"profile", profile}, {"seed", seed}, {"data", data_dir.string()},
                         {"methods", active}, {"threads", rb::num_threads()}});
    rec.write(results);
    rp::Results r;
    rp::ReportOutput ro;  // from the results folder alone
    rec.stage("report", [&] {
      ro = rp::write_report(r = rp::load_results(results), root / "report");
    });
    rec.write(results, /*final=*/true);
    std::printf("%s", rp::run_summary_text(r, ro, finalists, rec.seconds()).c_str());
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"demo", "run the whole challenge on simulated data and write the report",
     "Simulates a challenge dataset (profile small by default), reconstructs the challenge "
     "split of the Multi-Coil 4X, 8X and Transfer tracks with every available baseline "
     "(methods that are not available are skipped with a note), evaluates them, submits each "
     "method as a team to a local challenge (DIR/challenge.db: the server's validation, "
     "scoring and leaderboards), closes the challenge phase (finalists: top 3 per track), "
     "fills the reader study with a SIMULATED reader panel (ranks and Likert scores from "
     "lesion-region SSIM plus seeded noise: not radiologists) and writes the HTML report, "
     "regenerable from DIR/results by `reconbench report`. Prints stage times and leaderboards.",
     {"reconbench demo --out demo-out", "reconbench demo --profile ci --out /tmp/demo-ci",
      "reconbench demo --out demo-out --methods zero-filled,sense,varnet --param sense:iter=10"},
     90},
    [] { return std::make_unique<DemoCmd>(); });

}  // namespace
