#include "reconbench/eval/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"

namespace rb::eval {

namespace fs = std::filesystem;

namespace {

bool has_ext(const fs::path& p, const std::string& ext) { return p.extension() == ext; }

std::vector<fs::path> list_h5(const fs::path& dir, const char* what) {
  RB_CHECK(fs::exists(dir), what, " ", dir.string(), ": no such file or directory");
  std::vector<fs::path> out;
  if (fs::is_regular_file(dir)) {
    out.push_back(dir);
    return out;
  }
  RB_CHECK(fs::is_directory(dir), what, " ", dir.string(), ": not a directory");
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && has_ext(e.path(), ".h5")) out.push_back(e.path());
  std::sort(out.begin(), out.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return out;
}

// A per-file problem, classified.
struct FileProblem {
  std::string kind, reason;
};

// Evaluate one pair; per-file problems become FileProblem (never silently skipped).
std::optional<FileProblem> evaluate_pair(const fs::path& tpath, const fs::path& ppath,
                                         const EvalOptions& opts, int threads,
                                         bool drop_maps, VolumeResult& out) {
  EvalVolume t, p;
  try {
    t = read_eval_volume(tpath, {"reconstruction_rss", "reconstruction"});
  } catch (const UserError& e) {
    return FileProblem{"invalid", cat("ground truth: ", e.what())};
  }
  try {
    p = read_eval_volume(ppath, {"reconstruction"});
  } catch (const UserError& e) {
    return FileProblem{"unreadable", e.what()};
  }
  out.file = tpath.filename().string();
  out.acquisition = t.acquisition;
  out.acceleration = t.acceleration;
  out.vendor = t.vendor;

  const ArrayView<const float> tv = t.volume.view(), pv = p.volume.view();
  const Shape& ts = tv.shape();
  const Shape& ps = pv.shape();
  const int64_t c = crop_side(ts);
  if (ps[0] != ts[0])
    return FileProblem{"shape", cat(ppath.string(), ": reconstruction has ", ps[0],
                                    " slices, the ground truth has ", ts[0], " (shapes ",
                                    shape_str(ps), " vs ", shape_str(ts), ")")};
  if (ps[1] < c || ps[2] < c)
    return FileProblem{"shape", cat(ppath.string(), ": reconstruction ", shape_str(ps),
                                    " is smaller than the evaluation crop ", c, "x", c,
                                    " of the ground truth ", shape_str(ts))};
  if (c < opts.metrics.ssim.win_size)
    return FileProblem{"invalid", cat(tpath.string(), ": ground truth ", shape_str(ts),
                                      " is smaller than the SSIM window")};
  MetricOptions mo = opts.metrics;
  mo.threads = threads;
  try {
    // NaN/Inf anywhere in either file is found inside evaluate_volume (fused with the
    // metrics), with the same messages as check_finite on the whole volumes.
    out.metrics = evaluate_volume(tv, pv, mo, tpath.string() + ": '" + t.key + "'",
                                  ppath.string() + ": 'reconstruction'");
  } catch (const NonFiniteError& e) {
    if (e.in_target) return FileProblem{"invalid", cat("ground truth: ", e.what())};
    return FileProblem{"nonfinite", e.what()};
  } catch (const UserError& e) {
    return FileProblem{"invalid", e.what()};
  }
  if (opts.on_volume) {
    Array<float> tc = crop_volume(tv, c, tpath.string());
    Array<float> pc = crop_volume(pv, c, ppath.string());
    opts.on_volume(out.file, tc.view(), pc.view(), out.metrics);
  }
  if (drop_maps) {  // a directory run keeps only the numbers (maps are ~12 MB per volume)
    out.metrics.ssim_maps.clear();
    out.metrics.mask.reset();
  }
  return std::nullopt;
}

nlohmann::json num(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

nlohmann::json nums(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) a.push_back(num(x));
  return a;
}

nlohmann::json to_json(const Summary& s) {
  return {{"mean", num(s.mean)},
          {"sd", num(s.sd)},
          {"n", s.n},
          {"quantile_interval", {num(s.quantile_interval.lo), num(s.quantile_interval.hi)}},
          {"bootstrap_ci", {num(s.bootstrap_ci.lo), num(s.bootstrap_ci.hi)}},
          {"bootstrap", {{"B", s.bootstrap.resamples}, {"seed", s.bootstrap.seed}}}};
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string pad(const std::string& s, size_t w) {
  return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' ');
}

std::string fmt(double v, int prec) { return format_number(v, prec); }

std::string interval_str(const Interval& iv, int prec) {
  if (std::isnan(iv.lo)) return "n/a";
  return cat("[", fmt(iv.lo, prec), ", ", fmt(iv.hi, prec), "]");
}

}  // namespace

bool EvalRun::failed() const {
  for (const auto& e : errors)
    if (!(options.allow_missing && (e.kind == "missing" || e.kind == "extra"))) return true;
  return false;
}

GroupSummary summarize_volumes(const std::vector<const VolumeResult*>& vols,
                               const BootstrapOptions& b) {
  GroupSummary g;
  g.n = static_cast<int64_t>(vols.size());
  std::vector<std::vector<double>> cols(7);
  for (auto& c : cols) c.reserve(vols.size());
  for (const VolumeResult* r : vols) {
    const VolumeMetrics& m = r->metrics;
    const double v[7] = {m.ssim, m.psnr, m.nmse, m.mse, m.ssim_masked, m.psnr_masked, m.nmse_masked};
    for (int k = 0; k < 7; ++k) cols[k].push_back(v[k]);
  }
  std::vector<Summary> s = summarize_columns(cols, b);
  g.ssim = s[0];
  g.psnr = s[1];
  g.nmse = s[2];
  g.mse = s[3];
  g.ssim_masked = s[4];
  g.psnr_masked = s[5];
  g.nmse_masked = s[6];
  return g;
}

VolumeResult evaluate_files(const fs::path& target_file, const fs::path& prediction_file,
                            const EvalOptions& opts) {
  VolumeResult r;
  auto problem = evaluate_pair(target_file, prediction_file, opts, opts.metrics.threads,
                               /*drop_maps=*/false, r);
  if (problem) throw UserError(problem->reason);
  return r;
}

EvalRun evaluate_directories(const fs::path& target_dir, const fs::path& prediction_dir,
                             const EvalOptions& opts) {
  EvalRun run;
  run.options = opts;
  run.options.on_volume = nullptr;
  const std::vector<fs::path> targets = list_h5(target_dir, "target");
  RB_CHECK(!targets.empty(), "target ", target_dir.string(), ": no .h5 files");
  std::vector<fs::path> preds;
  const bool pred_is_file = fs::is_regular_file(prediction_dir);
  if (!pred_is_file) preds = list_h5(prediction_dir, "predictions");
  else RB_CHECK(fs::exists(prediction_dir), "predictions ", prediction_dir.string(), ": no such file");

  std::set<std::string> target_names;
  for (const auto& t : targets) target_names.insert(t.filename().string());
  if (!pred_is_file)
    for (const auto& p : preds)
      if (!target_names.count(p.filename().string()))
        run.errors.push_back({p.filename().string(), "extra",
                              cat(p.string(), ": no ground truth ", p.filename().string(),
                                  " in ", target_dir.string())});

  // Filter on GT attributes (evaluate.py: --acquisition, --acceleration of the target).
  struct Job {
    fs::path target, prediction;
  };
  std::vector<Job> jobs;
  for (const auto& t : targets) {
    const std::string name = t.filename().string();
    if (!opts.acquisitions.empty() || opts.acceleration) {
      EvalInput a;
      try {
        a = read_eval_attrs(t);
      } catch (const UserError& e) {
        run.errors.push_back({name, "invalid", cat("ground truth: ", e.what())});
        continue;
      }
      if (!opts.acquisitions.empty() &&
          std::find(opts.acquisitions.begin(), opts.acquisitions.end(), a.acquisition) ==
              opts.acquisitions.end())
        continue;
      if (opts.acceleration && a.acceleration != opts.acceleration) continue;
    }
    const fs::path p = pred_is_file ? prediction_dir : prediction_dir / t.filename();
    if (!fs::exists(p)) {
      run.errors.push_back({name, "missing",
                            cat(t.string(), ": no reconstruction ", p.string())});
      continue;
    }
    jobs.push_back({t, p});
  }

  // Files in parallel when there are enough of them, else slices in parallel; every
  // volume's numbers are the same either way.
  const int threads = opts.metrics.threads > 0 ? opts.metrics.threads : num_threads();
  const int64_t nj = static_cast<int64_t>(jobs.size());
  const bool by_file = nj >= threads;
  std::vector<VolumeResult> results(jobs.size());
  std::vector<std::optional<FileProblem>> problems(jobs.size());
  std::optional<Progress> progress;
  if (opts.progress) progress.emplace("eval", nj, "file");
  parallel_for(
      nj,
      [&](int64_t i) {
        check_interrupted();
        problems[i] = evaluate_pair(jobs[i].target, jobs[i].prediction, opts,
                                    by_file ? 1 : threads, /*drop_maps=*/true, results[i]);
        if (progress) progress->tick(1, jobs[i].target.filename().string());
      },
      by_file ? threads : 1);
  if (progress) progress->done();

  for (int64_t i = 0; i < nj; ++i) {
    if (problems[i])
      run.errors.push_back(
          {jobs[i].target.filename().string(), problems[i]->kind, problems[i]->reason});
    else
      run.volumes.push_back(std::move(results[i]));
  }
  std::sort(run.errors.begin(), run.errors.end(),
            [](const FileError& a, const FileError& b) { return a.file < b.file; });

  // Summaries.
  std::vector<const VolumeResult*> all;
  std::map<std::string, std::vector<const VolumeResult*>> acq, ven;
  std::map<int64_t, std::vector<const VolumeResult*>> acc;
  for (const auto& v : run.volumes) {
    all.push_back(&v);
    acq[v.acquisition.empty() ? "unknown" : v.acquisition].push_back(&v);
    if (v.acceleration) acc[*v.acceleration].push_back(&v);
    if (!v.vendor.empty()) ven[v.vendor].push_back(&v);
  }
  // Every group is summarised independently (its own seeded draws), so the groups run in
  // parallel with the same results.
  for (const auto& [k, v] : acq) run.by_acquisition.emplace_back(k, GroupSummary{});
  for (const auto& [k, v] : acc) run.by_acceleration.emplace_back(std::to_string(k), GroupSummary{});
  for (const auto& [k, v] : ven) run.by_vendor.emplace_back(k, GroupSummary{});
  std::vector<std::pair<const std::vector<const VolumeResult*>*, GroupSummary*>> groups;
  groups.emplace_back(&all, &run.all);
  size_t gi = 0;
  for (const auto& [k, v] : acq) groups.emplace_back(&v, &run.by_acquisition[gi++].second);
  gi = 0;
  for (const auto& [k, v] : acc) groups.emplace_back(&v, &run.by_acceleration[gi++].second);
  gi = 0;
  for (const auto& [k, v] : ven) groups.emplace_back(&v, &run.by_vendor[gi++].second);
  parallel_for(
      static_cast<int64_t>(groups.size()),
      [&](int64_t i) { *groups[i].second = summarize_volumes(*groups[i].first, opts.bootstrap); },
      threads);
  return run;
}

nlohmann::json spec_json(const EvalOptions& opts) {
  nlohmann::json j;
  j["ssim"] = ssim_spec(opts.metrics.ssim);
  j["psnr"] = "10 log10(max(GT volume)^2 / MSE), MSE over the whole cropped volume "
              "(skimage peak_signal_noise_ratio, data_range=max(GT volume))";
  j["nmse"] = "||gt - pred||^2 / ||gt||^2 over the whole cropped volume";
  j["crop"] = "both volumes centre-cropped to (c, c), c = GT width (evaluate.py); "
              "c = min(GT height, width) for GT narrower in height (FLAIR-203 rule)";
  j["precision"] = "float32 inputs, all sums in double";
  j["mask_recipe"] = mask_recipe(opts.mask);
  j["masked"] = "ssim_masked = mean over slices of the mean SSIM map over valid window "
                "positions whose centre is in the mask; psnr/nmse_masked over masked voxels";
  j["quantile_interval"] = std::string(kQuantileIntervalLabel) +
                           ": [Q(0.025), Q(0.975)] of per-volume values, numpy linear (type 7)";
  j["bootstrap"] = std::string(kBootstrapLabel) + ": percentile bootstrap, volumes resampled "
                   "with replacement, mt19937_64(seed), level " +
                   format_number(opts.bootstrap.level, 3);
  j["version"] = kEvalVersion;
  j["hash"] = spec_hash(opts);
  return j;
}

std::string spec_hash(const EvalOptions& opts) {
  const std::string text = cat(kEvalVersion, "|", ssim_spec(opts.metrics.ssim), "|",
                               mask_recipe(opts.mask), "|", opts.bootstrap.level);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(text)));
  return buf;
}

nlohmann::json to_json(const VolumeResult& v) {
  const VolumeMetrics& m = v.metrics;
  nlohmann::json j;
  j["file"] = v.file;
  j["acquisition"] = v.acquisition;
  j["acceleration"] = v.acceleration ? nlohmann::json(*v.acceleration) : nlohmann::json(nullptr);
  j["vendor"] = v.vendor;
  j["slices"] = m.slices;
  j["crop"] = m.crop;
  j["data_range"] = num(m.data_range);
  j["ssim"] = num(m.ssim);
  j["psnr"] = num(m.psnr);
  j["nmse"] = num(m.nmse);
  j["mse"] = num(m.mse);
  j["ssim_masked"] = num(m.ssim_masked);
  j["psnr_masked"] = num(m.psnr_masked);
  j["nmse_masked"] = num(m.nmse_masked);
  j["mask_fraction"] = num(m.mask_fraction);
  j["ssim_per_slice"] = nums(m.ssim_per_slice);
  j["ssim_masked_per_slice"] = nums(m.ssim_masked_per_slice);
  return j;
}

nlohmann::json to_json(const GroupSummary& g) {
  return {{"n", g.n},
          {"ssim", to_json(g.ssim)},
          {"psnr", to_json(g.psnr)},
          {"nmse", to_json(g.nmse)},
          {"mse", to_json(g.mse)},
          {"ssim_masked", to_json(g.ssim_masked)},
          {"psnr_masked", to_json(g.psnr_masked)},
          {"nmse_masked", to_json(g.nmse_masked)}};
}

nlohmann::json to_json(const EvalRun& run) {
  nlohmann::json j;
  j["volumes"] = nlohmann::json::array();
  for (const auto& v : run.volumes) j["volumes"].push_back(to_json(v));
  nlohmann::json s;
  s["all"] = to_json(run.all);
  auto groups = [](const auto& list) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& [k, g] : list) o[k] = to_json(g);
    return o;
  };
  s["by_acquisition"] = groups(run.by_acquisition);
  s["by_acceleration"] = groups(run.by_acceleration);
  s["by_vendor"] = groups(run.by_vendor);
  j["summary"] = s;
  j["errors"] = nlohmann::json::array();
  for (const auto& e : run.errors)
    j["errors"].push_back({{"file", e.file}, {"kind", e.kind}, {"reason", e.reason}});
  j["spec"] = spec_json(run.options);
  return j;
}

std::string to_text(const EvalRun& run) {
  std::ostringstream os;
  const bool masked = run.options.metrics.masked;
  size_t fw = 6;
  for (const auto& v : run.volumes) fw = std::max(fw, v.file.size() + 2);
  os << pad("file", fw) << pad("acq", 10) << pad("acc", 5) << pad("slices", 7) << pad("SSIM", 9)
     << pad("PSNR", 9) << pad("NMSE", 9) << (masked ? pad("SSIM_masked", 12) : "") << "\n";
  for (const auto& v : run.volumes) {
    const VolumeMetrics& m = v.metrics;
    os << pad(v.file, fw) << pad(v.acquisition.empty() ? "-" : v.acquisition, 10)
       << pad(v.acceleration ? std::to_string(*v.acceleration) : "-", 5)
       << pad(std::to_string(m.slices), 7) << pad(fmt(m.ssim, 4), 9) << pad(fmt(m.psnr, 2), 9)
       << pad(fmt(m.nmse, 4), 9) << (masked ? pad(fmt(m.ssim_masked, 4), 12) : "") << "\n";
  }
  const BootstrapOptions& b = run.options.bootstrap;
  os << "\nSummary over volumes: mean; " << kQuantileIntervalLabel
     << " [2.5%, 97.5%]; " << kBootstrapLabel << " (95%, B=" << b.resamples
     << ", seed=" << b.seed << ")\n";
  os << pad("group", 16) << pad("metric", 13) << pad("n", 5) << pad("mean", 9)
     << pad("quantile interval", 22) << "bootstrap CI of the mean\n";
  auto rows = [&](const std::string& name, const GroupSummary& g) {
    struct M {
      const char* label;
      const Summary* s;
      int prec;
    };
    std::vector<M> ms = {{"SSIM", &g.ssim, 4}, {"PSNR", &g.psnr, 2}, {"NMSE", &g.nmse, 4}};
    if (masked) {
      ms.push_back({"SSIM_masked", &g.ssim_masked, 4});
      ms.push_back({"PSNR_masked", &g.psnr_masked, 2});
      ms.push_back({"NMSE_masked", &g.nmse_masked, 4});
    }
    for (const auto& m : ms) {
      // Below kMinVolumesForIntervals volumes an interval would suggest false certainty.
      const bool few = m.s->n < kMinVolumesForIntervals;
      os << pad(name, 16) << pad(m.label, 13) << pad(std::to_string(m.s->n), 5)
         << pad(fmt(m.s->mean, m.prec), 9)
         << pad(few ? "n too small" : interval_str(m.s->quantile_interval, m.prec), 22)
         << (few ? "n too small" : interval_str(m.s->bootstrap_ci, m.prec)) << "\n";
    }
  };
  for (const auto& [k, g] : run.by_acquisition) rows(k, g);
  for (const auto& [k, g] : run.by_acceleration) rows(k + "X", g);
  for (const auto& [k, g] : run.by_vendor) rows(k, g);
  rows("all", run.all);
  if (!run.errors.empty()) {
    os << "\nErrors (" << run.errors.size() << " file" << (run.errors.size() == 1 ? "" : "s")
       << "):\n";
    for (const auto& e : run.errors) os << "  " << e.file << ": " << e.kind << ": " << e.reason << "\n";
  }
  return os.str();
}

std::string to_csv(const EvalRun& run) {
  std::ostringstream os;
  os << "file,acquisition,acceleration,vendor,slices,ssim,psnr,nmse,mse,ssim_masked,"
        "psnr_masked,nmse_masked,mask_fraction\n";
  auto q = [](const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string o = "\"";
    for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o + "\"";
  };
  auto g = [](double v) {
    if (!std::isfinite(v)) return std::string(std::isnan(v) ? "" : (v > 0 ? "inf" : "-inf"));
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  for (const auto& v : run.volumes) {
    const VolumeMetrics& m = v.metrics;
    os << q(v.file) << "," << q(v.acquisition) << ","
       << (v.acceleration ? std::to_string(*v.acceleration) : "") << "," << q(v.vendor) << ","
       << m.slices << "," << g(m.ssim) << "," << g(m.psnr) << "," << g(m.nmse) << ","
       << g(m.mse) << "," << g(m.ssim_masked) << "," << g(m.psnr_masked) << ","
       << g(m.nmse_masked) << "," << g(m.mask_fraction) << "\n";
  }
  return os.str();
}

}  // namespace rb::eval
