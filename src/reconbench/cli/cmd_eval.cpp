// reconbench eval: fastMRI's evaluate.py (SSIM/PSNR/NMSE per volume) plus background-masked
// metrics, per-contrast summaries with labelled intervals, and residual figures.
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "reconbench/cli/command.hpp"
#include "reconbench/cli/sandboxed.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/eval/figures.hpp"
#include "reconbench/io/png.hpp"

namespace fs = std::filesystem;
namespace ev = rb::eval;

namespace {

struct EvalCmd final : rb::cli::Command {
  std::string target, predictions, figures, out, kendall;
  std::vector<std::string> acquisitions;
  int64_t acceleration = 0;
  bool masked = false, json = false, csv = false, allow_missing = false, sandbox = false;
  int64_t figure_slices = 1;
  int64_t bootstrap = ev::BootstrapOptions{}.resamples;
  uint64_t seed = ev::BootstrapOptions{}.seed;

  void declare(CLI::App& app) override {
    app.add_option("--target", target,
                   "ground-truth directory (or one file): fastMRI files with "
                   "`reconstruction_rss`, or reconstruction files (`reconstruction`)");
    app.add_option("--predictions", predictions,
                   "directory of reconstruction files (`reconstruction` float32 [slice y x]), "
                   "matched to the targets by file name");
    app.add_option("--acquisition", acquisitions,
                   "keep only targets with these attrs['acquisition'] (comma-separated: AXT1, "
                   "AXT1PRE, AXT1POST, AXT2, AXFLAIR)")
        ->delimiter(',');
    app.add_option("--acceleration", acceleration,
                   "keep only targets whose attrs['acceleration'] is this (evaluate.py "
                   "semantics; 0 = all)")
        ->default_val(0)
        ->check(CLI::NonNegativeNumber);
    app.add_flag("--masked", masked,
                 "compute the background-masked SSIM/PSNR/NMSE and show them in the text table "
                 "(always computed and written with --json/--csv/--out)");
    auto* j = app.add_flag("--json", json, "print one JSON object (volumes, summary, errors, spec)");
    auto* c = app.add_flag("--csv", csv, "print one CSV row per volume");
    j->excludes(c);
    app.add_option("--out", out, "also write the JSON report to this file (atomically)");
    app.add_flag("--sandbox", sandbox,
                 "read the files in a sandboxed child process that can only read the inputs and "
                 "write --out/--figures (for predictions from someone else)");
    app.add_option("--figures", figures,
                   "write per-slice PNGs (GT | recon | |residual| x 5 | SSIM map) into this "
                   "directory, named <file stem>_s<slice>.png");
    app.add_option("--figure-slices", figure_slices,
                   "slices per volume for --figures, spread evenly (1 = the middle slice)")
        ->default_val(1)
        ->check(CLI::PositiveNumber);
    app.add_option("--bootstrap", bootstrap, "bootstrap resamples B for the CI of the mean")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--seed", seed, "bootstrap seed (std::mt19937_64)")->capture_default_str();
    app.add_option("--kendall", kendall,
                   "instead of images: reader-study statistics from a CSV with header "
                   "`case,reader,<object>...` and one row of ratings (ranks or Likert scores) "
                   "per reader and case: Kendall's W with tie correction per case, chi2, "
                   "p-value, averaged over cases; mean +- SD per object (Table IV)");
    app.add_flag("--allow-missing", allow_missing,
                 "missing or extra reconstructions are still listed but do not make the exit "
                 "status non-zero");
  }

  int run() override {
    if (sandbox) return run_sandboxed();
    if (!kendall.empty()) return run_kendall();
    RB_CHECK(!target.empty() && !predictions.empty(),
             "--target and --predictions are required (or --kendall FILE)");
    ev::EvalOptions o;
    o.acquisitions = acquisitions;
    if (acceleration > 0) o.acceleration = acceleration;
    o.allow_missing = allow_missing;
    o.bootstrap.resamples = bootstrap;
    o.bootstrap.seed = seed;
    o.progress = true;
    // The masked variants cost about as much as evaluate.py's metrics again: computed when
    // shown (--masked), written (--json/--csv/--out) or drawn (--figures), not otherwise.
    o.metrics.masked = masked || json || csv || !out.empty() || !figures.empty();
    std::mutex fig_mutex;
    int64_t figures_written = 0;
    if (!figures.empty()) {
      fs::create_directories(figures);
      o.metrics.keep_maps = true;
      o.on_volume = [&](const std::string& file, rb::ArrayView<const float> gt,
                        rb::ArrayView<const float> pred, const ev::VolumeMetrics& m) {
        const double window = ev::figure_window(gt);
        const std::string stem = fs::path(file).stem().string();
        for (int64_t s : ev::figure_slices(m.slices, figure_slices)) {
          rb::Image8 img = ev::slice_figure(gt(s), pred(s), m.ssim_maps[s].view(), window);
          char name[32];
          std::snprintf(name, sizeof name, "_s%03lld.png", static_cast<long long>(s));
          rb::write_png(fs::path(figures) / (stem + name), img);
          std::lock_guard lock(fig_mutex);
          ++figures_written;
        }
      };
    }
    ev::EvalRun run = ev::evaluate_directories(target, predictions, o);
    const nlohmann::json j = ev::to_json(run);
    if (!out.empty()) rb::write_file_atomic(out, j.dump(2) + "\n");
    if (json) {
      std::cout << j.dump(2) << "\n";
    } else if (csv) {
      std::cout << ev::to_csv(run);
    } else {
      run.options.metrics.masked = masked;  // text table columns only
      std::cout << ev::to_text(run);
    }
    if (!figures.empty())
      std::fprintf(stderr, "eval: wrote %lld figure(s) to %s\n",
                   static_cast<long long>(figures_written), figures.c_str());
    for (const auto& e : run.errors)
      std::fprintf(stderr, "reconbench eval: %s: %s: %s\n", e.file.c_str(), e.kind.c_str(),
                   e.reason.c_str());
    if (run.failed()) {
      std::fprintf(stderr, "reconbench eval: error: %zu file(s) could not be evaluated%s\n",
                   run.errors.size(),
                   allow_missing ? "" : " (--allow-missing tolerates missing/extra files)");
      return 2;
    }
    return 0;
  }

  // The same command in a confined child (cli/sandboxed.hpp).
  int run_sandboxed() {
    rb::cli::SandboxAccess access;
    for (const auto& p : {target, predictions, kendall})
      if (!p.empty()) access.read.emplace_back(p);
    if (!out.empty()) access.write.push_back(fs::absolute(out).parent_path());
    if (!figures.empty()) access.write.emplace_back(figures);
    return rb::cli::rerun_sandboxed("eval", access);
  }

  // Reader-study statistics from a ratings CSV.
  int run_kendall() {
    const std::string text = rb::read_file(kendall);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      std::vector<std::string> cells;
      std::string cell;
      std::istringstream ls(line);
      while (std::getline(ls, cell, ',')) cells.push_back(cell);
      if (!line.empty() && line.back() == ',') cells.emplace_back();
      rows.push_back(std::move(cells));
    }
    RB_CHECK(rows.size() >= 2, kendall, ": expected a header `case,reader,<object>...` and rows");
    const auto& header = rows[0];
    RB_CHECK(header.size() >= 4, kendall, ": header needs case, reader and at least two objects");
    const size_t n = header.size() - 2;
    std::vector<std::string> case_order;
    std::map<std::string, std::vector<std::vector<double>>> cases;
    std::vector<std::vector<double>> columns(n);
    for (size_t r = 1; r < rows.size(); ++r) {
      RB_CHECK(rows[r].size() == header.size(), kendall, ": line ", r + 1, " has ",
               rows[r].size(), " fields, the header has ", header.size());
      std::vector<double> ratings(n);
      for (size_t k = 0; k < n; ++k) {
        const std::string& c = rows[r][k + 2];
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(c, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        RB_CHECK(used == c.size() && !c.empty() && std::isfinite(v), kendall, ": line ", r + 1,
                 ", column '", header[k + 2], "': '", c, "' is not a number");
        ratings[k] = v;
        columns[k].push_back(v);
      }
      if (!cases.count(rows[r][0])) case_order.push_back(rows[r][0]);
      cases[rows[r][0]].push_back(std::move(ratings));
    }
    std::vector<std::vector<std::vector<double>>> ordered;
    for (const auto& c : case_order) ordered.push_back(cases[c]);
    const ev::KendallSummary ks = ev::kendall_w_over_cases(ordered);
    std::vector<std::vector<double>> all_rows;
    for (const auto& c : ordered) all_rows.insert(all_rows.end(), c.begin(), c.end());
    const ev::KendallW pooled = ev::kendall_w(all_rows);

    auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    auto kw = [&](const ev::KendallW& k) {
      return nlohmann::json{{"m", k.m},         {"n", k.n},         {"s", k.s},
                            {"t", k.t},         {"w", num(k.w)},    {"w_t", num(k.w_t)},
                            {"chi2", num(k.chi2)}, {"df", k.df},    {"p_value", num(k.p_value)},
                            {"defined", k.defined}};
    };
    nlohmann::json j;
    j["cases"] = nlohmann::json::array();
    for (size_t c = 0; c < case_order.size(); ++c) {
      nlohmann::json e = kw(ks.cases[c]);
      e["case"] = case_order[c];
      j["cases"].push_back(e);
    }
    j["summary"] = {{"cases", static_cast<int64_t>(case_order.size())},
                    {"defined_cases", ks.defined_cases},
                    {"mean_w_t", num(ks.mean_w_t)},
                    {"median_w_t", num(ks.median_w_t)},
                    {"mean_chi2", num(ks.mean_chi2)},
                    {"mean_p_value", num(ks.mean_p_value)},
                    {"method", "Kendall's W with tie correction (mid-ranks) per case, chi2 = "
                               "m(n-1)W_t, p from chi2(n-1); averaged over defined cases"}};
    j["pooled"] = kw(pooled);
    j["objects"] = nlohmann::json::object();
    for (size_t k = 0; k < n; ++k) {
      const ev::MeanSd ms = ev::mean_sd(columns[k]);
      j["objects"][header[k + 2]] = {{"n", ms.n}, {"mean", num(ms.mean)}, {"sd", num(ms.sd)}};
    }
    if (!out.empty()) rb::write_file_atomic(out, j.dump(2) + "\n");
    if (json) {
      std::cout << j.dump(2) << "\n";
      return 0;
    }
    std::printf("%-16s %4s %4s %9s %9s %9s %4s %10s\n", "case", "m", "n", "W", "W_t", "chi2",
                "df", "p");
    for (size_t c = 0; c < case_order.size(); ++c) {
      const ev::KendallW& k = ks.cases[c];
      std::printf("%-16s %4lld %4lld %9s %9s %9s %4lld %10s\n", case_order[c].c_str(),
                  static_cast<long long>(k.m), static_cast<long long>(k.n),
                  ev::format_number(k.w).c_str(), ev::format_number(k.w_t).c_str(),
                  ev::format_number(k.chi2).c_str(), static_cast<long long>(k.df),
                  ev::format_number(k.p_value, 6).c_str());
    }
    std::printf("\nmean W_t over %lld of %zu cases (n/a cases left out): %s (median %s)\n",
                static_cast<long long>(ks.defined_cases), case_order.size(),
                ev::format_number(ks.mean_w_t).c_str(), ev::format_number(ks.median_w_t).c_str());
    std::printf("\n%-16s %6s %8s %8s   (mean +- SD, ddof 1)\n", "object", "n", "mean", "SD");
    for (size_t k = 0; k < n; ++k) {
      const ev::MeanSd ms = ev::mean_sd(columns[k]);
      std::printf("%-16s %6lld %8s %8s\n", header[k + 2].c_str(), static_cast<long long>(ms.n),
                  ev::format_number(ms.mean, 3).c_str(), ev::format_number(ms.sd, 3).c_str());
    }
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"eval", "score reconstructions against ground truth: SSIM, PSNR, NMSE as fastMRI, masked",
     "Evaluates every ground-truth file against the reconstruction of the same name, exactly as "
     "fastMRI's evaluate.py: both volumes centre-cropped to (W, W) of the target, SSIM with "
     "scikit-image defaults (7x7 uniform window, K1 0.01, K2 0.03, sample covariance, valid "
     "windows only, data range = max of the cropped GT volume) per slice and averaged per "
     "volume; PSNR and NMSE over the whole volume. Everything accumulates in double; results "
     "do not depend on --threads.\n\n"
     "Background-masked metrics (paper supplement Fig. S1) use a foreground mask from the GT "
     "only, recipe rb-fg-1: threshold t = max(3 x the median of the corner-square medians of "
     "all slices (air noise floor), 0.02 x the 99th percentile of the volume); per slice "
     "x > t, closing with a 5x5 square, keep the largest 8-connected component (and any of "
     ">= 10% of its size; none if it is < 0.2% of the slice), fill holes. Masked SSIM = mean "
     "of the SSIM map over window centres inside the mask, averaged over slices with a "
     "non-empty mask; masked PSNR/NMSE over the masked voxels.\n\n"
     "Summaries per acquisition, acceleration, vendor and overall give the mean, the "
     "'quantile interval of volumes' [2.5%, 97.5%] (numpy percentile, type 7; spread of the "
     "volumes, as the paper's Table III) and the 'bootstrap CI of the mean' (percentile "
     "bootstrap over volumes, B and seed recorded). A missing, extra, unreadable, mis-shaped "
     "or non-finite (NaN/Inf) reconstruction is listed per file with its reason and makes "
     "the exit status 2 (--allow-missing tolerates missing/extra files); it is never "
     "silently skipped. Undefined values (e.g. PSNR of identical volumes) are null in JSON.\n\n"
     "With --kendall FILE it computes the reader-study statistics instead: per case Kendall's "
     "W with tie correction (mid-ranks), chi2 = m(n-1)W_t and its p-value (df n-1), 'n/a' "
     "when every reader ties every object; the mean over cases; mean +- SD per object.",
     {"reconbench eval --target data/val --predictions recon/val",
      "reconbench eval --target data/val --predictions recon/val --acquisition AXT2,AXFLAIR "
      "--masked",
      "reconbench eval --target gt --predictions sub --json --figures figs --figure-slices 3",
      "reconbench eval --kendall reader_study.csv"},
     60},
    [] { return std::make_unique<EvalCmd>(); });

}  // namespace
