#include "reconbench/sim/realism_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/sim/dataset.hpp"
#include "reconbench/sim/manifest.hpp"

namespace rb::sim {

namespace fs = std::filesystem;

// Measured with this code (`reconbench simulate --stats /work/realdata --stats-json`) on
// the public, fully sampled, measured multi-coil brain slices below, converted to the
// fastMRI layout (one slice each; all T1-weighted; vendors and field strengths unknown):
//   marcsous/parallel head.mat                   8 coils, 256 x 256, T1w axial
//   ESPIRiT brain_alias_8ch (Lustig/Uecker)      8 coils, 320 x 256 (168 PE lines acquired),
//                                                and the same data cropped to its 168 lines
//   mchiew/SENSE-tutorial raw_data               16 coils, 96 x 96, 2D GRE
//   mikgroup/espirit-matlab-examples full.cfl    8 coils, 230 x 180, 3D T1w (ky, kz) slice
//   LORAKS 2.1 MPRAGE_multi_channel (Kim, Haldar) 4 coils, 256 x 256, MPRAGE slice
// Each range is [min, max] over those files of the per-file statistic. The noise statistics
// and SNR leave out the 96 x 96 set, whose head fills the FOV (1,110 background pixels next
// to the scalp, where ringing inflates sigma); issue 17's Why lists the same sets' values.
const char* const kRealSource =
    "public fully sampled multi-coil brain slices (marcsous head.mat 8ch 256x256; ESPIRiT "
    "brain_alias_8ch 8ch 320x256 and its 168-line crop; mchiew SENSE-tutorial 16ch 96x96; "
    "espirit-matlab-examples full.cfl 8ch 230x180; LORAKS MPRAGE 4ch 256x256), min-max of the "
    "per-file values measured with this code";

const std::array<RealRange, kNumStats> kRealRanges = {{
    {-3.17, -2.33},  // kspace_slope         (full.cfl -3.16 .. SENSE-tutorial -2.33)
    {0.10, 0.24},    // fine_phase_rad       (head.mat 0.107 .. MPRAGE 0.232)
    {0.12, 0.49},    // coil_map_residual    (full.cfl 0.120 .. SENSE-tutorial 0.486)
    {0.42, 0.74},    // coil_highk_ratio     (MPRAGE 0.422 .. head.mat 0.740)
    {0.15, 0.61},    // background_fraction  (brain_alias 0.155 .. MPRAGE 0.605)
    {1.20, 1.67},    // noise_spread         (head.mat 1.20 .. brain_alias 1.66)
    {0.10, 0.18},    // noise_mean_rho       (MPRAGE 0.101 .. brain_alias 0.175)
    {0.12, 0.34},    // noise_max_rho        (MPRAGE 0.127 .. brain_alias 0.338)
    {23, 40},        // snr                  (brain_alias 23.0 .. head.mat 39.6)
    {0.58, 0.81},    // zf_ssim_4x           (full.cfl 0.585 .. head.mat 0.808)
    {0.47, 0.74},    // zf_ssim_8x           (SENSE-tutorial 0.475 .. head.mat 0.740)
}};

namespace {

double median_of(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

SliceRealism median_over(const std::vector<const SliceRealism*>& rows) {
  SliceRealism m;
  for (int s = 0; s < kNumStats; ++s) {
    std::vector<double> v;
    for (const auto* r : rows) v.push_back(r->v[s]);
    m.v[s] = median_of(std::move(v));
  }
  return m;
}

struct Candidate {
  fs::path path;
  std::string rel, contrast, vendor;
  bool masked = false;
};

// Fully sampled k-space of a masked simulated file, re-simulated from its plan.
struct Replanner {
  bool ok = false;
  std::map<std::string, FilePlan> plans;  // by file name
  const TissueAtlas* atlas = nullptr;
  explicit Replanner(const fs::path& dir) {
    if (!fs::exists(dir / "manifest.json")) return;
    const Manifest m = read_manifest(dir);
    if (m.version != kSimulatorVersion || m.profile.empty()) return;
    for (auto& p : plan_dataset(make_profile(m.profile), m.seed)) plans.emplace(p.spec.name + ".h5", p);
    atlas = m.anatomy == "procedural" ? &cached_procedural_atlas() : &cached_atlas();
    ok = true;
  }
};

FileRealism analyse(const Candidate& c, Replanner& rp) {
  FileRealism fr;
  fr.file = c.rel;
  fr.contrast = c.contrast;
  fr.vendor = c.vendor;
  const std::string name = c.path.filename().string();
  if (!c.masked) {
    const FastMriFile f(c.path);
    const Array<float> target = f.has_target() ? f.read_target() : Array<float>{};
    fr.slices = volume_realism(f.read_kspace().view(), f.header(), target, name);
    return fr;
  }
  const auto it = rp.plans.find(name);
  RB_ASSERT(it != rp.plans.end());
  SimulatedVolume v = simulate_volume(it->second.spec, *rp.atlas);
  fr.resimulated = true;
  fr.slices = volume_realism(v.kspace.view(), v.header, v.rss, name);
  return fr;
}

std::string fmt(double v, int s) {
  char b[32];
  if (std::isnan(v)) return "-";
  const bool big = s == kStatSnr;
  std::snprintf(b, sizeof b, big ? "%.1f" : (s == kStatSlope ? "%.2f" : "%.3f"), v);
  return b;
}

const char* kShort[kNumStats] = {"slope", "phase", "coilres", "highk", "backgr", "nspread",
                                 "nrho", "nrhomax", "snr", "zf4x", "zf8x"};

}  // namespace

std::string vendor_of(const std::string& sv) {
  std::string s = sv;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (s.find("siemens") != std::string::npos) return "siemens";
  if (s.find("philips") != std::string::npos) return "philips";
  if (s.rfind("ge", 0) == 0 || s.find("general electric") != std::string::npos) return "ge";
  return "unknown";
}

SliceRealism FileRealism::median() const {
  std::vector<const SliceRealism*> rows;
  for (const auto& s : slices) rows.push_back(&s);
  return median_over(rows);
}

RealismScan scan_realism(const fs::path& dir) {
  RB_CHECK(fs::is_directory(dir), "--stats: ", dir.string(), " is not a directory");
  std::vector<Candidate> cands;
  RealismScan scan;
  std::set<std::string> full_vendors;
  for (const auto& e : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink)) {
    if (!e.is_regular_file() || e.path().extension() != ".h5") continue;
    const std::string rel = e.path().lexically_relative(dir).generic_string();
    if (rel.rfind("truth/", 0) == 0 || rel.rfind("ground_truth/", 0) == 0) continue;
    Candidate c;
    c.path = e.path();
    c.rel = rel;
    try {
      const FastMriFile f(c.path);
      c.contrast = f.acquisition().empty() ? "unknown" : f.acquisition();
      c.vendor = f.has_header() ? vendor_of(f.header().vendor) : "unknown";
      c.masked = f.has_mask();
    } catch (const UserError& err) {
      scan.skipped.push_back(rel + ": " + err.what());
      continue;
    }
    if (!c.masked) full_vendors.insert(c.vendor);
    cands.push_back(std::move(c));
  }
  std::sort(cands.begin(), cands.end(), [](const auto& a, const auto& b) { return a.rel < b.rel; });
  Replanner rp(dir);
  std::vector<const Candidate*> todo;
  for (const auto& c : cands) {
    if (!c.masked) todo.push_back(&c);
    else if (full_vendors.count(c.vendor))
      scan.skipped.push_back(c.rel + ": masked (its vendor has fully sampled files)");
    else if (!rp.ok || !rp.plans.count(c.path.filename().string()))
      scan.skipped.push_back(c.rel + ": masked, and no simulator manifest to re-simulate it from");
    else
      todo.push_back(&c);
  }
  RB_CHECK(!todo.empty(), "--stats: no fully sampled fastMRI file (or re-simulable masked file) in ",
           dir.string());
  Progress progress("realism", static_cast<int64_t>(todo.size()), "file");
  for (const Candidate* c : todo) {
    check_interrupted();
    scan.files.push_back(analyse(*c, rp));
    progress.tick();
  }
  progress.done();
  return scan;
}

std::vector<RealismGroup> group_realism(const std::vector<FileRealism>& files) {
  std::map<std::pair<std::string, std::string>, std::vector<const FileRealism*>> by;
  std::set<std::string> vendors;
  for (const auto& f : files) vendors.insert(f.vendor);
  for (const auto& f : files) {
    by[{f.contrast, f.vendor}].push_back(&f);
    if (vendors.size() > 1) by[{f.contrast, "all"}].push_back(&f);
  }
  std::vector<RealismGroup> out;
  for (const auto& [key, fl] : by) {
    RealismGroup g;
    g.contrast = key.first;
    g.vendor = key.second;
    std::vector<const SliceRealism*> rows;
    for (const auto* f : fl) {
      ++g.files;
      for (const auto& s : f->slices) rows.push_back(&s);
    }
    g.slices = static_cast<int>(rows.size());
    g.median = median_over(rows);
    for (int s = 0; s < kNumStats; ++s) {
      const double v = g.median.v[s];
      g.outside[s] = !std::isnan(v) && (v < kRealRanges[s].lo || v > kRealRanges[s].hi);
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::string realism_table(const RealismScan& scan) {
  std::ostringstream os;
  char line[256];
  os << "Realism statistics (median slice per contrast and vendor; '!' = outside the real "
        "range)\nreal ranges: "
     << kRealSource << "\n";
  for (int s = 0; s < kNumStats; ++s) {
    std::snprintf(line, sizeof line, "  %-8s %-20s [%s, %s]\n", kShort[s], stat_name(s),
                  fmt(kRealRanges[s].lo, s).c_str(), fmt(kRealRanges[s].hi, s).c_str());
    os << line;
  }
  std::snprintf(line, sizeof line, "\n%-18s %5s %6s", "contrast/vendor", "files", "slices");
  os << line;
  for (int s = 0; s < kNumStats; ++s) {
    std::snprintf(line, sizeof line, " %8s", kShort[s]);
    os << line;
  }
  os << "\n";
  int outside = 0, total = 0;
  for (const auto& g : group_realism(scan.files)) {
    std::snprintf(line, sizeof line, "%-18s %5d %6d", (g.contrast + "/" + g.vendor).c_str(),
                  g.files, g.slices);
    os << line;
    for (int s = 0; s < kNumStats; ++s) {
      std::snprintf(line, sizeof line, " %7s%c", fmt(g.median.v[s], s).c_str(),
                    g.outside[s] ? '!' : ' ');
      os << line;
      outside += g.outside[s];
      total += !std::isnan(g.median.v[s]);
    }
    os << "\n";
  }
  os << "\n" << outside << " of " << total << " group medians outside the real ranges\n";
  for (const auto& f : scan.files)
    if (f.resimulated) os << "re-simulated from the manifest: " << f.file << "\n";
  for (const auto& s : scan.skipped) os << "skipped " << s << "\n";
  return os.str();
}

nlohmann::json realism_json(const RealismScan& scan) {
  using nlohmann::json;
  auto stats = [](const SliceRealism& r) {
    json o = json::object();
    for (int s = 0; s < kNumStats; ++s) o[stat_name(s)] = std::isnan(r.v[s]) ? json(nullptr) : json(r.v[s]);
    return o;
  };
  json j;
  j["source"] = kRealSource;
  for (int s = 0; s < kNumStats; ++s) j["ranges"][stat_name(s)] = {kRealRanges[s].lo, kRealRanges[s].hi};
  j["groups"] = json::array();
  for (const auto& g : group_realism(scan.files)) {
    json o = {{"contrast", g.contrast}, {"vendor", g.vendor}, {"files", g.files},
              {"slices", g.slices}, {"median", stats(g.median)}};
    json out = json::array();
    for (int s = 0; s < kNumStats; ++s)
      if (g.outside[s]) out.push_back(stat_name(s));
    o["outside"] = out;
    j["groups"].push_back(o);
  }
  j["files"] = json::array();
  for (const auto& f : scan.files) {
    json sl = json::array();
    for (const auto& s : f.slices) sl.push_back(stats(s));
    j["files"].push_back({{"file", f.file}, {"contrast", f.contrast}, {"vendor", f.vendor},
                          {"resimulated", f.resimulated}, {"median", stats(f.median())},
                          {"slices", sl}});
  }
  j["skipped"] = scan.skipped;
  return j;
}

}  // namespace rb::sim
