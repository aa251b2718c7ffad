// `reconbench export`: a static HTML/JSON bundle of the final leaderboards and reader-study
// results that works without the server (the fastMRI leaderboards went offline with the site).
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/service.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/cli/service_args.hpp"
#include "reconbench/core/fs.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string fmt(const json& v, int prec = 4) {
  if (!v.is_number()) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v.get<double>());
  return buf;
}

std::string interval(const json& m, const char* key, int prec = 4) {
  if (!m.contains(key) || !m[key].is_array() || m[key].size() != 2) return "";
  return "[" + fmt(m[key][0], prec) + ", " + fmt(m[key][1], prec) + "]";
}

std::string lb_table(const json& lb) {
  std::ostringstream os;
  os << "<table><thead><tr><th>Rank</th><th>Team</th><th>SSIM &uarr;</th><th>95% bootstrap CI</th>"
        "<th>quantile interval of volumes</th><th>masked SSIM &uarr;</th><th>PSNR &uarr;</th>"
        "<th>NMSE &darr;</th></tr></thead><tbody>";
  auto row = [&](const json& e, const std::string& rank, const char* cls) {
    os << "<tr class=\"" << cls << "\"><td>" << rank << "</td><td>" << esc(e["team"].get<std::string>())
       << "</td><td>" << fmt(e["ssim"]["mean"]) << "</td><td>" << interval(e["ssim"], "bootstrap_ci")
       << "</td><td>" << interval(e["ssim"], "quantile_interval") << "</td><td>"
       << fmt(e["ssim_masked"]["mean"]) << "</td><td>" << fmt(e["psnr"]["mean"], 2) << "</td><td>"
       << fmt(e["nmse"]["mean"], 5) << "</td></tr>";
  };
  for (const auto& e : lb["entries"]) row(e, std::to_string(e["rank"].get<int64_t>()), "team");
  for (const auto& e : lb["baselines"]) row(e, "baseline", "baseline");
  os << "</tbody></table>";
  // Per-contrast / per-vendor SSIM sub-tables.
  for (const char* key : {"by_contrast", "by_vendor"}) {
    std::set<std::string> groups;
    for (const auto* list : {&lb["entries"], &lb["baselines"]})
      for (const auto& e : *list)
        for (auto it = e[key].begin(); it != e[key].end(); ++it) groups.insert(it.key());
    if (groups.size() < 1) continue;
    os << "<h4>SSIM " << (std::string(key) == "by_contrast" ? "per contrast" : "per vendor")
       << "</h4><table><thead><tr><th>Team</th>";
    for (const auto& g : groups) os << "<th>" << esc(g) << "</th>";
    os << "</tr></thead><tbody>";
    for (const auto* list : {&lb["entries"], &lb["baselines"]})
      for (const auto& e : *list) {
        os << "<tr><td>" << esc(e["team"].get<std::string>()) << "</td>";
        for (const auto& g : groups)
          os << "<td>" << (e[key].contains(g) ? fmt(e[key][g]["ssim"]) : "") << "</td>";
        os << "</tr>";
      }
    os << "</tbody></table>";
  }
  return os.str();
}

std::string study_table(const json& r) {
  std::ostringstream os;
  os << "<table><thead><tr><th>Team</th><th>Rank</th><th>Artifacts</th><th>Sharpness</th>"
        "<th>CNR</th></tr></thead><tbody>";
  auto ms = [](const json& m) { return fmt(m["mean"], 2) + " &plusmn; " + fmt(m["sd"], 2); };
  for (const auto& t : r["teams"])
    os << "<tr><td>" << esc(t["team"].get<std::string>()) << "</td><td>" << ms(t["rank"]) << "</td><td>"
       << ms(t["artifacts"]) << "</td><td>" << ms(t["sharpness"]) << "</td><td>" << ms(t["cnr"])
       << "</td></tr>";
  os << "</tbody></table><p>Kendall's W (tie-corrected, per case, averaged over "
     << r["agreement"]["defined_cases"] << " cases): " << fmt(r["agreement"]["mean_w_t"], 3)
     << ". Readers: " << r["readers"] << ", reads: " << r["reads"] << ".</p>";
  return os.str();
}

struct ExportCmd final : rb::cli::Command {
  rb::cli::ServiceArgs service;
  std::string out;
  bool all = false;
  void declare(CLI::App& app) override {
    service.declare(app);
    app.add_option("--out", out, "output directory (index.html, bundle.json, leaderboards/, reader/)")
        ->required();
    app.add_flag("--all", all, "also export phases whose scores are still hidden");
  }
  int run() override {
    rb::challenge::ServiceOptions so = service.options();
    rb::challenge::Service svc(so);
    auto& store = svc.store();
    fs::create_directories(fs::path(out) / "leaderboards");
    fs::create_directories(fs::path(out) / "reader");
    const std::string spec = rb::challenge::current_spec_hash();
    json bundle = {{"challenge", "fastmri-2020"}, {"spec_hash", spec},
                   {"evaluator", rb::challenge::evaluator_version()},
                   {"manifest_hash", svc.manifest().hash}, {"exported_at", store.now()},
                   {"leaderboards", json::array()}, {"reader_studies", json::array()}};
    std::ostringstream html;
    html << "<!doctype html><html><head><meta charset=\"utf-8\"><title>reconbench challenge results</title>"
            "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
            "margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
            "td:nth-child(2),th:nth-child(2){text-align:left}tr.baseline{color:#666;font-style:italic}"
            "</style></head><body><h1>fastMRI 2020 brain challenge (reconbench): final results</h1>"
         << "<p>Metric specification <code>" << spec << "</code> (" << esc(rb::challenge::evaluator_version())
         << "). SSIM ranks; intervals: 95% bootstrap CI of the mean and 2.5-97.5% quantile interval of volumes.</p>";
    for (const auto& ph : store.phases()) {
      if (ph.scores_hidden && !ph.closed() && !all) continue;
      for (const auto& tr : rb::challenge::all_tracks()) {
        if (rb::challenge::track_files(svc.manifest(), ph.name, tr).empty()) continue;
        auto lb = store.leaderboard(ph.name, tr.name, spec);
        lb["closed"] = ph.closed();
        rb::write_file_atomic(fs::path(out) / "leaderboards" / (ph.name + "_" + tr.name + ".json"), lb.dump(2));
        bundle["leaderboards"].push_back(lb);
        html << "<h2>" << esc(tr.title) << " &mdash; " << esc(ph.name) << " phase"
             << (ph.closed() ? " (final)" : "") << "</h2>" << lb_table(lb);
      }
    }
    for (const auto& s : store.studies()) {
      auto r = svc.study_results(s["id"].get<int64_t>());
      rb::write_file_atomic(fs::path(out) / "reader" / ("study_" + std::to_string(s["id"].get<int64_t>()) + ".json"),
                            r.dump(2));
      bundle["reader_studies"].push_back(r);
      html << "<h2>Reader study: " << esc(s["track"].get<std::string>()) << "</h2>" << study_table(r);
    }
    html << "<script type=\"application/json\" id=\"bundle\">" << bundle.dump() << "</script></body></html>\n";
    rb::write_file_atomic(fs::path(out) / "bundle.json", bundle.dump(2));
    rb::write_file_atomic(fs::path(out) / "index.html", html.str());
    std::printf("export: %zu leaderboards, %zu reader studies -> %s\n", bundle["leaderboards"].size(),
                bundle["reader_studies"].size(), out.c_str());
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"export", "write a static HTML/JSON bundle of final leaderboards and reader results",
     "Writes OUT/index.html (self-contained tables, no server or JavaScript needed), "
     "OUT/bundle.json, OUT/leaderboards/<phase>_<track>.json and OUT/reader/study_<id>.json: "
     "per-track leaderboards with intervals, per-contrast and per-vendor sub-tables, pinned "
     "baselines, the metric-spec hash, and the reader-study tables (mean rank and Likert "
     "mean +- SD per team, Kendall's W). Phases whose scores are hidden are left out unless "
     "--all.",
     {"reconbench export --data data/ --out results/", "reconbench export --data data/ --db sqlite:challenge.db --out site/ --all"},
     76},
    [] { return std::make_unique<ExportCmd>(); });

}  // namespace
