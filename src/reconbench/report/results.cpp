#include "reconbench/report/results.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "reconbench/challenge/tracks.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace fs = std::filesystem;

namespace rb::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Json read_json(const fs::path& path) {
  RB_CHECK(fs::exists(path), path.string(), ": missing (is --results a directory written by "
                                            "`reconbench demo`?)");
  try {
    return Json::parse(read_file(path));
  } catch (const Json::parse_error& e) {
    throw UserError(cat(path.string(), ": not valid JSON (", e.what(), ")"));
  }
}

// A number, or NaN for null / absent.
double num(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return kNaN;
  RB_CHECK(it->is_number(), "field '", key, "' is not a number");
  return it->get<double>();
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  RB_CHECK(it->is_string(), "field '", key, "' is not a string");
  return it->get<std::string>();
}

std::vector<std::vector<double>> matrix(const Json& j, const std::string& what) {
  RB_CHECK(j.is_array(), what, " is not an array of arrays");
  std::vector<std::vector<double>> m;
  for (const auto& row : j) {
    RB_CHECK(row.is_array(), what, " is not an array of arrays");
    std::vector<double> r;
    for (const auto& v : row) r.push_back(v.is_null() ? kNaN : v.get<double>());
    m.push_back(std::move(r));
  }
  return m;
}

std::string base_name(const std::string& file) { return fs::path(file).filename().string(); }

}  // namespace

std::string track_title(const std::string& id) {
  for (const auto& t : all_tracks())
    if (t.name == id) return t.title;
  if (id == kTransferNoNorm) return find_track(kTransfer).title + " (no vendor normalisation)";
  return id;
}

std::vector<Variant> evaluation_variants(const sim::Manifest& manifest, bool with_nonorm) {
  std::vector<Variant> out;
  for (const auto& t : all_tracks())
    if (!challenge::track_files(manifest, "challenge", t).empty())
      out.push_back({t.name, &t, t.transfer ? "1" : ""});
  if (with_nonorm && !out.empty() && out.back().name == kTransfer)
    out.push_back({kTransferNoNorm, out.back().track, "0"});
  return out;
}

const std::vector<std::string>& contrasts() {
  static const std::vector<std::string> c = {"T1", "T1POST", "T2", "FLAIR"};
  return c;
}

std::string contrast_of(const std::string& acq) {
  if (acq == "AXT1" || acq == "AXT1PRE") return "T1";
  if (acq == "AXT1POST") return "T1POST";
  if (acq == "AXT2") return "T2";
  if (acq == "AXFLAIR") return "FLAIR";
  return "";
}

double finite_mean(const std::vector<double>& v) {
  double s = 0;
  int64_t n = 0;
  for (double x : v)
    if (std::isfinite(x)) s += x, ++n;
  return n ? s / static_cast<double>(n) : kNaN;
}

MethodEval parse_eval(const Json& j, const std::string& variant, const std::string& method,
                      const std::map<std::string, Json>& dataset, const fs::path& path) {
  MethodEval me;
  me.variant = variant;
  me.method = method;
  me.path = path;
  try {
    RB_CHECK(j.is_object() && j.contains("volumes") && j["volumes"].is_array(),
             "no \"volumes\" array");
    for (const auto& v : j["volumes"]) {
      VolumeScore s;
      s.file = base_name(str(v, "file"));
      RB_CHECK(!s.file.empty(), "a volume without \"file\"");
      s.acquisition = str(v, "acquisition");
      s.contrast = contrast_of(s.acquisition);
      if (auto it = dataset.find(s.file); it != dataset.end()) {
        s.vendor = str(it->second, "vendor");
        if (s.contrast.empty()) s.contrast = str(it->second, "contrast");
      }
      s.slices = v.value("slices", int64_t{0});
      s.ssim = num(v, "ssim");
      s.ssim_masked = num(v, "ssim_masked");
      s.psnr = num(v, "psnr");
      s.nmse = num(v, "nmse");
      if (v.contains("ssim_per_slice") && v["ssim_per_slice"].is_array())
        for (const auto& x : v["ssim_per_slice"])
          s.ssim_per_slice.push_back(x.is_null() ? kNaN : x.get<double>());
      me.volumes.push_back(std::move(s));
    }
  } catch (const UserError& e) {
    throw UserError(cat(path.string(), ": ", e.what()));
  } catch (const Json::exception& e) {
    throw UserError(cat(path.string(), ": malformed evaluation file (", e.what(), ")"));
  }
  std::sort(me.volumes.begin(), me.volumes.end(),
            [](const auto& a, const auto& b) { return a.file < b.file; });
  return me;
}

Leaderboard parse_leaderboard(const Json& j, const fs::path& path) {
  Leaderboard lb;
  try {
    lb.track = j.at("track").get<std::string>();
    lb.source = str(j, "source");
    for (const auto& r : j.at("rows")) {
      LeaderboardRow row;
      row.rank = r.at("rank").get<int64_t>();
      row.team = r.at("team").get<std::string>();
      row.method = str(r, "method");
      row.ssim = num(r, "ssim");
      row.ssim_masked = num(r, "ssim_masked");
      row.psnr = num(r, "psnr");
      row.nmse = num(r, "nmse");
      row.volumes = r.value("volumes", int64_t{0});
      lb.rows.push_back(row);
    }
  } catch (const Json::exception& e) {
    throw UserError(cat(path.string(), ": malformed leaderboard (", e.what(), ")"));
  }
  std::stable_sort(lb.rows.begin(), lb.rows.end(),
                   [](const auto& a, const auto& b) { return a.rank < b.rank; });
  return lb;
}

ReaderStudy parse_reader_study(const std::string& track, const Json& j, const fs::path& path) {
  ReaderStudy st;
  st.track = track;
  try {
    st.finalists = j.at("finalists").get<std::vector<std::string>>();
    st.readers = j.at("readers").get<std::vector<std::string>>();
    st.questions = j.value("questions", std::vector<std::string>{});
    const size_t nf = st.finalists.size(), nr = st.readers.size();
    for (const auto& c : j.at("cases")) {
      ReaderCase rc;
      rc.file = c.at("file").get<std::string>();
      rc.slice = c.value("slice", int64_t{0});
      rc.contrast = str(c, "contrast");
      rc.vendor = str(c, "vendor");
      for (const auto& x : c.at("ssim")) rc.ssim.push_back(x.is_null() ? kNaN : x.get<double>());
      if (c.contains("lesion_ssim"))
        for (const auto& x : c["lesion_ssim"])
          rc.lesion_ssim.push_back(x.is_null() ? kNaN : x.get<double>());
      rc.ranks = matrix(c.at("ranks"), "ranks");
      RB_CHECK(rc.ssim.size() == nf, "case ", rc.file, ": ", rc.ssim.size(),
               " SSIM values for ", nf, " finalists");
      RB_CHECK(rc.ranks.size() == nr, "case ", rc.file, ": ranks of ", rc.ranks.size(),
               " readers, expected ", nr);
      for (const auto& r : rc.ranks)
        RB_CHECK(r.size() == nf, "case ", rc.file, ": a reader ranked ", r.size(),
                 " finalists, expected ", nf);
      for (const auto& q : st.questions) {
        auto m = matrix(c.at("likert").at(q), "likert." + q);
        RB_CHECK(m.size() == nr, "case ", rc.file, ": likert '", q, "' has ", m.size(),
                 " readers, expected ", nr);
        for (const auto& r : m)
          RB_CHECK(r.size() == nf, "case ", rc.file, ": likert '", q, "' row of ", r.size(),
                   " values, expected ", nf);
        rc.likert[q] = std::move(m);
      }
      st.cases.push_back(std::move(rc));
    }
  } catch (const UserError& e) {
    throw UserError(cat(path.string(), ": track ", track, ": ", e.what()));
  } catch (const Json::exception& e) {
    throw UserError(cat(path.string(), ": track ", track, ": malformed reader study (",
                        e.what(), ")"));
  }
  return st;
}

Results load_results(const fs::path& dir) {
  RB_CHECK(fs::is_directory(dir), dir.string(), ": not a results directory");
  Results r;
  r.dir = fs::absolute(dir);
  r.run = read_json(dir / "run.json");

  if (fs::exists(dir / "dataset.json")) {
    Json ds = read_json(dir / "dataset.json");
    RB_CHECK(ds.contains("volumes") && ds["volumes"].is_array(),
             (dir / "dataset.json").string(), ": no \"volumes\" array");
    for (const auto& v : ds["volumes"]) r.dataset[base_name(str(v, "file"))] = v;
  }

  const fs::path eval_dir = dir / "eval";
  RB_CHECK(fs::is_directory(eval_dir), eval_dir.string(),
           ": missing (the evaluation results the report is built from)");
  std::vector<fs::path> variants;
  for (const auto& e : fs::directory_iterator(eval_dir))
    if (e.is_directory()) variants.push_back(e.path());
  std::sort(variants.begin(), variants.end());
  for (const auto& vdir : variants) {
    const std::string variant = vdir.filename().string();
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(vdir))
      if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const std::string method = f.stem().string();
      r.evals[variant][method] = parse_eval(read_json(f), variant, method, r.dataset, f);
    }
  }
  RB_CHECK(!r.evals.empty(), eval_dir.string(), ": no evaluation files (eval/<track>/<method>.json)");

  for (const auto& t : all_tracks()) {
    const fs::path lb = dir / "leaderboard" / (t.name + ".json");
    if (fs::exists(lb)) {
      r.leaderboards[t.name] = parse_leaderboard(read_json(lb), lb);
    } else if (r.evals.count(t.name)) {
      r.leaderboards[t.name] = leaderboard_from_evals(t.name, r.evals.at(t.name), "eval files");
    }
  }

  const fs::path rs = dir / "reader_study.json";
  if (fs::exists(rs)) {
    Json j = read_json(rs);
    r.reader_panel_simulated = j.value("simulated", true);
    r.reader_panel_label = str(j, "label");
    if (j.contains("model")) r.reader_model = j["model"];
    if (j.contains("tracks"))
      for (const auto& [track, tj] : j["tracks"].items())
        r.reader_studies[track] = parse_reader_study(track, tj, rs);
  }

  for (const auto& t : all_tracks()) {
    const fs::path f = dir / "fig6" / (t.name + ".json");
    if (!fs::exists(f)) continue;
    Json j = read_json(f);
    Fig6Spec s;
    try {
      s.track = t.name;
      s.file = j.at("file").get<std::string>();
      s.slice = j.at("slice").get<int64_t>();
      s.data_range = j.at("data_range").get<double>();
      s.gt = r.dir / j.at("gt").get<std::string>();
      for (const auto& p : j.at("panels"))
        s.panels.push_back({p.at("team").get<std::string>(), str(p, "method"),
                            r.dir / p.at("recon").get<std::string>()});
    } catch (const Json::exception& e) {
      throw UserError(cat(f.string(), ": malformed figure spec (", e.what(), ")"));
    }
    r.fig6[t.name] = std::move(s);
  }
  return r;
}

Leaderboard leaderboard_from_evals(const std::string& track,
                                   const std::map<std::string, MethodEval>& evals,
                                   const std::string& source) {
  Leaderboard lb;
  lb.track = track;
  lb.source = source;
  for (const auto& [method, me] : evals) {
    LeaderboardRow row;
    row.team = method;
    row.method = method;
    std::vector<double> ssim, ssim_m, psnr, nmse;
    for (const auto& v : me.volumes) {
      ssim.push_back(v.ssim);
      ssim_m.push_back(v.ssim_masked);
      psnr.push_back(v.psnr);
      nmse.push_back(v.nmse);
    }
    row.ssim = finite_mean(ssim);
    row.ssim_masked = finite_mean(ssim_m);
    row.psnr = finite_mean(psnr);
    row.nmse = finite_mean(nmse);
    row.volumes = static_cast<int64_t>(me.volumes.size());
    lb.rows.push_back(row);
  }
  std::sort(lb.rows.begin(), lb.rows.end(), [](const auto& a, const auto& b) {
    const double sa = std::isfinite(a.ssim) ? a.ssim : -1e300;
    const double sb = std::isfinite(b.ssim) ? b.ssim : -1e300;
    if (sa != sb) return sa > sb;
    return a.team < b.team;
  });
  for (size_t i = 0; i < lb.rows.size(); ++i) lb.rows[i].rank = static_cast<int64_t>(i + 1);
  return lb;
}

namespace {
Json num_json(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }
}  // namespace

Json leaderboard_json(const Leaderboard& lb) {
  Json rows = Json::array();
  for (const auto& r : lb.rows)
    rows.push_back({{"rank", r.rank},
                    {"team", r.team},
                    {"method", r.method},
                    {"ssim", num_json(r.ssim)},
                    {"ssim_masked", num_json(r.ssim_masked)},
                    {"psnr", num_json(r.psnr)},
                    {"nmse", num_json(r.nmse)},
                    {"volumes", r.volumes}});
  return {{"track", lb.track}, {"source", lb.source}, {"rows", rows}};
}

std::string leaderboard_csv(const Leaderboard& lb) {
  std::ostringstream os;
  os.precision(17);
  os << "rank,team,method,ssim,ssim_masked,psnr,nmse,volumes\n";
  for (const auto& r : lb.rows)
    os << r.rank << ',' << r.team << ',' << r.method << ',' << r.ssim << ',' << r.ssim_masked
       << ',' << r.psnr << ',' << r.nmse << ',' << r.volumes << '\n';
  return os.str();
}

Json reader_study_json(const ReaderStudy& st) {
  Json cases = Json::array();
  for (const auto& c : st.cases) {
    Json likert = Json::object();
    for (const auto& [q, m] : c.likert) likert[q] = m;
    Json ssim = Json::array(), lesion = Json::array();
    for (double v : c.ssim) ssim.push_back(num_json(v));
    for (double v : c.lesion_ssim) lesion.push_back(num_json(v));
    cases.push_back({{"file", c.file},
                     {"slice", c.slice},
                     {"contrast", c.contrast},
                     {"vendor", c.vendor},
                     {"ssim", ssim},
                     {"lesion_ssim", lesion},
                     {"ranks", c.ranks},
                     {"likert", likert}});
  }
  return {{"finalists", st.finalists},
          {"readers", st.readers},
          {"questions", st.questions},
          {"cases", cases}};
}

}  // namespace rb::report
