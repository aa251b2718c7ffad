// The results directory: every number the report shows, as files written by `reconbench
// demo` (or by hand from the CLI stages), so that `reconbench report --results DIR` needs
// nothing else. Layout (all JSON unless stated):
//
//   run.json                     {"profile","seed","data","methods":[..],"skipped":[{"method",
//                                 "reason"}],"stages":[{"name","seconds"}],
//                                 "leaderboard_source","notes":[..]}
//   dataset.json                 {"volumes":[{"file","split","track","contrast","vendor",
//                                 "acquisition","slices","lesion_slices":[..]}]}
//                                 (the simulator manifest, reduced to what the report uses)
//   eval/<variant>/<method>.json evaluation output, the `reconbench eval --json` format:
//                                 {"volumes":[{"file","acquisition","slices","ssim","psnr",
//                                 "nmse","mse","ssim_masked",..,"ssim_per_slice":[..]}],
//                                 "summary":{..},"errors":[..],"spec":{..}}
//                                 variant = a track id ("multicoil_4x", "multicoil_8x",
//                                 "transfer_4x") or "transfer_4x_nonorm" (Transfer track
//                                 reconstructed WITHOUT vendor normalisation)
//   leaderboard/<track>.json     {"track","source","rows":[{"rank","team","method","ssim",
//                                 "ssim_masked","psnr","nmse","volumes"}]} (+ .csv copy)
//   reader_study.json            the SIMULATED reader panel (see reader_panel.hpp):
//                                 {"simulated":true,"label","model":{..},"tracks":{<track>:
//                                 {"finalists":[..],"readers":[..],"questions":[..],
//                                 "cases":[{"file","slice","contrast","vendor",
//                                 "ssim":[per finalist],"lesion_ssim":[per finalist],
//                                 "ranks":[[reader][finalist]],
//                                 "likert":{<question>:[[reader][finalist]]}}]}}}
//   fig6/<track>.json            {"file","slice","data_range","gt":"fig6/<track>/gt.h5",
//                                 "panels":[{"team","method","recon":"fig6/<track>/<m>.h5"}]}
//                                 the .h5 files are reconstruction files holding one cropped
//                                 slice [1 c c]
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reconbench/core/array.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/sampling/tracks.hpp"
#include "reconbench/sim/manifest.hpp"

namespace rb::report {

using Json = nlohmann::json;

// Tracks in the paper's order: rb::all_tracks() (sampling/tracks.hpp). The title of a track
// or evaluation variant (kTransferNoNorm), the id itself if unknown.
std::string track_title(const std::string& id);
// The evaluation variant of the Transfer track reconstructed without vendor normalisation.
inline constexpr const char* kTransferNoNorm = "transfer_4x_nonorm";
inline constexpr const char* kTransfer = "transfer_4x";

// The evaluation variants of a dataset: each track with challenge files (vendor
// normalisation on for the Transfer track: norm "1"; the method's default elsewhere: ""),
// plus kTransferNoNorm (norm "0") when `with_nonorm`.
struct Variant {
  std::string name;
  const Track* track = nullptr;
  std::string norm;  // --param normalize value, "" = the method's default
};
std::vector<Variant> evaluation_variants(const sim::Manifest& manifest, bool with_nonorm);

// Paper Table III columns: T1 (AXT1, AXT1PRE), T1POST, T2, FLAIR.
const std::vector<std::string>& contrasts();
std::string contrast_of(const std::string& acquisition);  // "" if not a brain contrast

struct VolumeScore {
  std::string file;         // base name of the volume
  std::string acquisition;  // AXT2, ...
  std::string contrast;     // contrast_of(acquisition)
  std::string vendor;       // from dataset.json ("" if unknown)
  int64_t slices = 0;
  double ssim = 0, ssim_masked = 0, psnr = 0, nmse = 0;  // NaN where null
  std::vector<double> ssim_per_slice;
};

struct MethodEval {
  std::string variant, method;
  std::filesystem::path path;  // the eval file it was read from
  std::vector<VolumeScore> volumes;
};

struct LeaderboardRow {
  int64_t rank = 0;
  std::string team, method;
  double ssim = 0, ssim_masked = 0, psnr = 0, nmse = 0;
  int64_t volumes = 0;
};
struct Leaderboard {
  std::string track, source;
  std::vector<LeaderboardRow> rows;  // by rank
};

struct ReaderCase {
  std::string file, contrast, vendor;
  int64_t slice = 0;
  std::vector<double> ssim;         // slice SSIM per finalist
  std::vector<double> lesion_ssim;  // lesion-region SSIM per finalist (what readers "see")
  std::vector<std::vector<double>> ranks;                         // [reader][finalist], 1 = best
  std::map<std::string, std::vector<std::vector<double>>> likert;  // question -> [reader][finalist]
};
struct ReaderStudy {
  std::string track;
  std::vector<std::string> finalists;  // in SSIM order (best first)
  std::vector<std::string> readers;
  std::vector<std::string> questions;  // Likert questions (1 best .. 4 worst)
  std::vector<ReaderCase> cases;
};

struct Fig6Spec {
  std::string track, file;
  int64_t slice = 0;
  double data_range = 0;
  std::filesystem::path gt;  // absolute
  struct Panel {
    std::string team, method;
    std::filesystem::path recon;  // absolute
  };
  std::vector<Panel> panels;
};

struct Results {
  std::filesystem::path dir;
  Json run = Json::object();
  std::map<std::string, Json> dataset;  // file -> dataset.json entry
  std::map<std::string, std::map<std::string, MethodEval>> evals;  // variant -> method -> eval
  std::map<std::string, Leaderboard> leaderboards;                 // track -> leaderboard
  bool reader_panel_simulated = true;
  std::string reader_panel_label;
  Json reader_model = Json::object();
  std::map<std::string, ReaderStudy> reader_studies;  // track -> study
  std::map<std::string, Fig6Spec> fig6;               // track -> figure spec
};

// Reads a results directory; UserError naming the file for anything missing or malformed.
// Only run.json and eval/ are required; other parts are optional and their sections are
// left out of the report (with a note).
Results load_results(const std::filesystem::path& dir);

// Parsers for single files (also used by tests).
MethodEval parse_eval(const Json& j, const std::string& variant, const std::string& method,
                      const std::map<std::string, Json>& dataset,
                      const std::filesystem::path& path);
Leaderboard parse_leaderboard(const Json& j, const std::filesystem::path& path);
ReaderStudy parse_reader_study(const std::string& track, const Json& j,
                               const std::filesystem::path& path);

// Leaderboard of a set of evaluated methods on one track: rank by mean SSIM (higher first;
// ties broken by name), means taken over volumes as the eval summary does.
Leaderboard leaderboard_from_evals(const std::string& track,
                                   const std::map<std::string, MethodEval>& evals,
                                   const std::string& source);
Json leaderboard_json(const Leaderboard& lb);
std::string leaderboard_csv(const Leaderboard& lb);
Json reader_study_json(const ReaderStudy& study);

// Mean of finite values (NaN if none) — the track score of per-volume values.
double finite_mean(const std::vector<double>& v);

// --- writers of the results directory (results_write.cpp; the demo's stages) -----------------

// run.json as a run records it: the time of each stage, skipped methods and notes (each
// also printed to stderr as "[<label>] ..." when it happens), plus free fields (profile,
// seed, data, methods, ...).
class RunRecord {
 public:
  explicit RunRecord(std::string label)
      : label_(std::move(label)), start_(std::chrono::steady_clock::now()) {}
  // Runs f and records its wall time as stage `name`.
  void stage(const std::string& name, const std::function<void()>& f);
  void skip(const std::string& what, const std::string& reason);
  void note(const std::string& text);
  Json& fields() { return fields_; }
  const Json& skipped() const { return skipped_; }
  double seconds() const;  // since the record was made
  // results/run.json, atomically: the stages so far, plus the stage "total" (seconds()) when
  // `final`.
  void write(const std::filesystem::path& results, bool final = false) const;

 private:
  std::string label_;
  std::chrono::steady_clock::time_point start_;
  Json fields_ = Json::object(), stages_ = Json::array(), skipped_ = Json::array(),
       notes_ = Json::array();
};

// dataset.json from the dataset's manifest.
void write_dataset_json(const std::filesystem::path& results, const sim::Manifest& manifest);
// eval/<variant>/<method>.json (eval::to_json, the `reconbench eval --json` format) and .csv;
// returns the file as load_results reads it.
MethodEval write_eval(const std::filesystem::path& results, const std::string& variant,
                      const std::string& method, const eval::EvalRun& run);
// leaderboard/<track>.json and .csv.
void write_leaderboard(const std::filesystem::path& results, const Leaderboard& lb);
// A leaderboard of the challenge database (challenge::Service::leaderboard) in the report's
// terms: ranked entries, team = method, volumes = the entry's per-contrast counts summed.
Leaderboard leaderboard_from_store(const Json& lb, const std::string& source);
// The database's leaderboard if it ranks every evaluated method, else (noted in `record`)
// the one computed from the evaluation files.
Leaderboard leaderboard_checked(const Json& store_lb, const std::string& source,
                                const std::map<std::string, MethodEval>& evals, RunRecord& record);
// fig6/<track>.json with fig6/<track>/gt.h5 and one <method>.h5 per method that has a slice,
// each a [1 c c] reconstruction file.
void write_fig6(const std::filesystem::path& results, const std::string& track,
                const std::string& file, int64_t slice, double data_range,
                const Array<float>& gt, const std::map<std::string, Array<float>>& recon,
                const std::vector<std::string>& methods);

}  // namespace rb::report
