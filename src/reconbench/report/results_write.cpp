// Writers of the results directory (results.hpp): what the demo's stages leave for the report.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/report/results.hpp"

namespace fs = std::filesystem;

namespace rb::report {

namespace {
double num(const Json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

void RunRecord::stage(const std::string& name, const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stages_.push_back({{"name", name}, {"seconds", s}});
  std::fprintf(stderr, "[%s] stage %-12s %8.1f s\n", label_.c_str(), name.c_str(), s);
}

void RunRecord::skip(const std::string& what, const std::string& reason) {
  skipped_.push_back({{"method", what}, {"reason", reason}});
  std::fprintf(stderr, "[%s] note: skipping %s: %s\n", label_.c_str(), what.c_str(), reason.c_str());
}

void RunRecord::note(const std::string& text) {
  notes_.push_back(text);
  std::fprintf(stderr, "[%s] note: %s\n", label_.c_str(), text.c_str());
}

double RunRecord::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void RunRecord::write(const fs::path& results, bool final) const {
  Json j = fields_;
  j["stages"] = stages_;
  if (final) j["stages"].push_back({{"name", "total"}, {"seconds", seconds()}});
  j["skipped"] = skipped_;
  j["notes"] = notes_;
  write_file_atomic(results / "run.json", j.dump(1) + "\n");
}

void write_dataset_json(const fs::path& results, const sim::Manifest& manifest) {
  Json dataset = {{"volumes", Json::array()}};
  for (const auto& f : manifest.files)
    dataset["volumes"].push_back({{"file", f.name}, {"split", f.sim_split}, {"track", f.track},
                                  {"acquisition", f.contrast},
                                  {"contrast", contrast_of(f.contrast)}, {"vendor", f.vendor},
                                  {"slices", f.slices}, {"lesions", f.lesions}});
  write_file_atomic(results / "dataset.json", dataset.dump(1) + "\n");
}

MethodEval write_eval(const fs::path& results, const std::string& variant,
                      const std::string& method, const eval::EvalRun& run) {
  const fs::path dir = results / "eval" / variant;
  const Json j = eval::to_json(run);
  write_file_atomic(dir / (method + ".json"), j.dump(1) + "\n");
  write_file_atomic(dir / (method + ".csv"), eval::to_csv(run));
  return parse_eval(j, variant, method, {}, dir / (method + ".json"));
}

void write_leaderboard(const fs::path& results, const Leaderboard& lb) {
  write_file_atomic(results / "leaderboard" / (lb.track + ".json"), leaderboard_json(lb).dump(1) + "\n");
  write_file_atomic(results / "leaderboard" / (lb.track + ".csv"), leaderboard_csv(lb));
}

Leaderboard leaderboard_from_store(const Json& lb, const std::string& source) {
  Leaderboard l;
  l.track = lb.at("track").get<std::string>();
  l.source = source;
  for (const auto& e : lb.at("entries")) {
    LeaderboardRow row;
    row.rank = e.at("rank").get<int64_t>();
    row.team = e.at("team").get<std::string>();
    row.method = row.team;
    row.ssim = num(e["ssim"]["mean"]);
    row.ssim_masked = num(e["ssim_masked"]["mean"]);
    row.psnr = num(e["psnr"]["mean"]);
    row.nmse = num(e["nmse"]["mean"]);
    const Json by_contrast = e.value("by_contrast", Json::object());  // alive for the loop
    for (const auto& [contrast, cell] : by_contrast.items()) row.volumes += cell.value("n", int64_t{0});
    l.rows.push_back(row);
  }
  return l;
}

Leaderboard leaderboard_checked(const Json& store_lb, const std::string& source,
                                const std::map<std::string, MethodEval>& evals, RunRecord& record) {
  Leaderboard lb = leaderboard_from_store(store_lb, source);
  if (lb.rows.size() == evals.size()) return lb;
  record.note(cat(lb.track, ": the challenge database ranked ", lb.rows.size(), " of ", evals.size(),
                  " methods; leaderboard from the evaluation files"));
  return leaderboard_from_evals(lb.track, evals, "the evaluation files");
}

void write_fig6(const fs::path& results, const std::string& track, const std::string& file,
                int64_t slice, double data_range, const Array<float>& gt,
                const std::map<std::string, Array<float>>& recon,
                const std::vector<std::string>& methods) {
  const fs::path d = results / "fig6" / track;
  fs::create_directories(d);
  write_reconstruction(d / "gt.h5", gt);
  Json panels = Json::array();
  for (const auto& m : methods) {
    auto it = recon.find(m);
    if (it == recon.end()) continue;
    write_reconstruction(d / (m + ".h5"), it->second);
    panels.push_back({{"team", m}, {"method", m}, {"recon", "fig6/" + track + "/" + m + ".h5"}});
  }
  write_file_atomic(results / "fig6" / (track + ".json"),
                    Json({{"file", file}, {"slice", slice}, {"data_range", data_range},
                          {"gt", "fig6/" + track + "/gt.h5"}, {"panels", panels}})
                            .dump(1) + "\n");
}

}  // namespace rb::report
