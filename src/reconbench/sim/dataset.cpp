#include "reconbench/sim/dataset.hpp"

#include <chrono>
#include <cinttypes>
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
#include "reconbench/sampling/masks.hpp"
#include "reconbench/sampling/tracks.hpp"
#include "reconbench/sim/rng.hpp"
#include "reconbench/sim/truth_io.hpp"

namespace rb::sim {

namespace fs = std::filesystem;

Profile make_profile(const std::string& name) {
  Profile p;
  p.name = name;
  if (name == "ci") {
    p.recon = 128;
    p.fine = 2;
    p.profile_samples = 3;
    p.slices_min = p.slices_max = 4;
    p.coils_min = 4;
    p.coils_max = 6;
    p.train = 3;
    p.val = 2;
    p.test_per_track = 1;
    p.challenge_per_track = 1;
    p.transfer_ge = 1;
    p.transfer_philips = 1;
    p.lesion_fraction = 0.5;
    p.padded_fraction = 0.3;
  } else if (name == "small") {
    p.recon = 192;
    p.fine = 2;
    p.profile_samples = 3;
    p.slices_min = 6;
    p.slices_max = 8;
    p.coils_min = 8;
    p.coils_max = 16;
    p.train = 32;
    p.val = 6;
    p.test_per_track = 4;
    p.challenge_per_track = 4;
    p.transfer_ge = 4;
    p.transfer_philips = 4;
    p.lesion_fraction = 0.4;
  } else if (name == "full") {
    // defaults: 640 x 320 readout x phase, 12-16 slices, 8-24 coils
  } else {
    throw UserError("--profile: unknown profile '" + name + "' (ci, small, full)");
  }
  return p;
}

namespace {

const std::vector<std::string> kSplits = {"train", "val", "test", "challenge", "transfer"};

std::string site_code(Vendor v, double field) {
  const bool hi = field > 2;
  switch (v) {
    case Vendor::Siemens: return hi ? "201" : "200";
    case Vendor::Philips: return hi ? "206" : "205";
    case Vendor::GE: return hi ? "209" : "208";
  }
  return "200";
}

// Contrast mix of fastMRI brain (T2 ~ 55 %, T1POST ~ 25 %, FLAIR ~ 12 %, T1 ~ 6 %,
// T1PRE ~ 2 %), dealt round-robin from a shuffled deck so small splits still mix contrasts.
std::vector<std::string> contrast_deck(Rng& rng, int n) {
  static const std::vector<std::string> base = {"AXT2",   "AXT1POST", "AXFLAIR", "AXT2",
                                                "AXT1",   "AXT2",     "AXT1POST", "AXFLAIR",
                                                "AXT2",   "AXT1PRE",  "AXT1POST", "AXT2"};
  std::vector<std::string> deck;
  const size_t off = static_cast<size_t>(rng.integer(0, static_cast<int64_t>(base.size()) - 1));
  for (int i = 0; i < n; ++i) deck.push_back(base[(off + i) % base.size()]);
  return deck;
}

}  // namespace

std::vector<FilePlan> plan_dataset(const Profile& prof, uint64_t seed,
                                   const std::vector<std::string>& splits) {
  for (const auto& s : splits)
    RB_CHECK(std::find(kSplits.begin(), kSplits.end(), s) != kSplits.end(), "--splits: unknown split '",
             s, "' (train, val, test, challenge, transfer)");
  auto wanted = [&](const std::string& s) {
    return splits.empty() || std::find(splits.begin(), splits.end(), s) != splits.end();
  };
  std::vector<FilePlan> out;
  uint64_t next_subject = 1;
  auto add_split = [&](const std::string& split, const std::string& dir, int split_code,
                       const std::vector<std::pair<std::string, int>>& tracks,
                       const std::vector<std::pair<Vendor, int>>& vendors) {
    // tracks: (track, count) with the track's acceleration; vendors: (vendor, count)
    std::vector<std::tuple<std::string, int, Vendor>> items;  // track, accel, vendor
    if (!tracks.empty()) {
      for (const auto& [t, n] : tracks)
        for (int i = 0; i < n; ++i)
          items.emplace_back(t, find_track(t).acceleration,
                             split == "transfer" ? (i < vendors[0].second ? vendors[0].first : vendors[1].first)
                                                 : Vendor::Siemens);
    } else {
      for (const auto& [v, n] : vendors)
        for (int i = 0; i < n; ++i) items.emplace_back("", 0, v);
    }
    Rng rng{seed, static_cast<uint64_t>(split_code), kPlan};
    const auto deck = contrast_deck(rng, static_cast<int>(items.size()));
    int lesion_count = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const auto& [track, accel, vendor] = items[i];
      FilePlan fp;
      fp.split = split;
      fp.dir = dir;
      fp.track = track;
      fp.acceleration = accel;
      VolumeSpec& s = fp.spec;
      s.seed = seed;
      s.index = static_cast<uint64_t>(split_code) * 100000 + i + 1;
      s.subject = next_subject++;
      s.acquisition = deck[i];
      s.vendor = vendor;
      s.field_t = rng.bernoulli(0.6) ? 3.0 : 1.5;
      int cmin = prof.coils_min, cmax = prof.coils_max;
      if (vendor == Vendor::Philips) cmax = std::min(32, cmax + 8);
      if (vendor == Vendor::GE) cmax = std::min(32, cmax + 12);
      s.coils = static_cast<int>(rng.integer(cmin, cmax));
      s.slices = static_cast<int>(rng.integer(prof.slices_min, prof.slices_max));
      s.recon = prof.recon;
      s.fine = prof.fine;
      s.profile_samples = prof.profile_samples;
      s.fov_mm = rng.uniform(195, 225);
      s.slice_thickness = 5;
      s.slice_gap = rng.uniform(0, 1.5);
      // PE resolution < 100 % for a share of files; the first masked file always has padding
      // so that every layout exercises it.
      const bool padded = (accel > 0 && i == 0) || rng.bernoulli(prof.padded_fraction);
      s.phase_resolution = padded ? rng.uniform(0.75, 0.95) : 1.0;
      // Lesions: a fixed share, spread evenly (at least one per masked split).
      const double want = prof.lesion_fraction * (i + 1);
      s.lesions = lesion_count < static_cast<int>(std::floor(want + 0.5)) || (accel > 0 && i == items.size() - 1 && lesion_count == 0);
      if (s.lesions) ++lesion_count;
      const std::string idx = [&] {
        char b[16];
        std::snprintf(b, sizeof b, "%07" PRIu64, static_cast<uint64_t>(split_code) * 1000000 + i + 1);
        return std::string(b);
      }();
      s.name = "file_brain_" + s.acquisition + "_" + site_code(vendor, s.field_t) + "_" + idx;
      char pid[32];
      std::snprintf(pid, sizeof pid, "%016" PRIx64, stream_seed({seed, s.subject, 0xFEED}));
      fp.patient_id = pid;
      out.push_back(std::move(fp));
    }
  };
  if (wanted("train")) add_split("train", "multicoil_train", 1, {}, {{Vendor::Siemens, prof.train}});
  if (wanted("val")) add_split("val", "multicoil_val", 2, {}, {{Vendor::Siemens, prof.val}});
  if (wanted("test"))
    add_split("test", "multicoil_test", 3,
              {{"multicoil_4x", prof.test_per_track}, {"multicoil_8x", prof.test_per_track}}, {});
  if (wanted("challenge"))
    add_split("challenge", "multicoil_challenge", 4,
              {{"multicoil_4x", prof.challenge_per_track}, {"multicoil_8x", prof.challenge_per_track}}, {});
  if (wanted("transfer"))
    add_split("transfer", "transfer_challenge", 5,
              {{"transfer_4x", prof.transfer_ge + prof.transfer_philips}},
              {{Vendor::GE, prof.transfer_ge}, {Vendor::Philips, prof.transfer_philips}});
  return out;
}

ManifestFile write_volume(const fs::path& out, const FilePlan& plan, SimulatedVolume& vol,
                          bool write_truth) {
  const VolumeSpec& s = plan.spec;
  const std::string file = plan.dir + "/" + s.name + ".h5";
  const std::string truth = "truth/" + plan.dir + "/" + s.name + "_truth.h5";
  const std::string nolesion = "truth/" + plan.dir + "/" + s.name + "_nolesion.h5";
  const std::string gt = "ground_truth/" + plan.dir + "/" + s.name + ".h5";
  fs::create_directories(out / plan.dir);
  if (write_truth) fs::create_directories(out / "truth" / plan.dir);
  const std::string xml = make_ismrmrd_header(vol.header);
  auto stats = [](const Array<float>& r) {
    double mx = 0, ss = 0;
    for (float v : r.flat()) {
      mx = std::max(mx, static_cast<double>(v));
      ss += static_cast<double>(v) * v;
    }
    return std::pair{mx, std::sqrt(ss)};
  };
  const auto [mx, nrm] = stats(vol.rss);
  const bool masked = plan.acceleration > 0;
  FastMriVolume fv;
  fv.header_xml = xml;
  fv.acquisition = s.acquisition;
  fv.patient_id = plan.patient_id;
  int64_t nlf = 0;
  if (masked) {
    MaskFunc mf(track_mask_options(find_track(plan.track)));
    const Mask m = mf(vol.header.enc_y, seed_from_filename(s.name + ".h5"));
    nlf = m.num_low_frequencies;
    Array<cfloat> k = vol.kspace;  // keep the fully sampled copy for the pair/truth
    const std::vector<float> applied = apply_mask_inplace(
        k.view(), m.mask, vol.header.padding_left(), vol.header.padding_right());
    fv.kspace = std::move(k);
    fv.mask = applied;
    fv.acceleration = plan.acceleration;
    fv.num_low_frequency = nlf;
    write_fastmri(out / file, fv);
    fs::create_directories(out / "ground_truth" / plan.dir);
    write_ground_truth_file(out / gt, vol.rss, xml, s.acquisition, mx, nrm, plan.patient_id,
                            plan.acceleration, nlf);
  } else {
    fv.kspace = std::move(vol.kspace);
    fv.target = vol.rss;
    fv.max = mx;
    fv.norm = nrm;
    write_fastmri(out / file, fv);
    vol.kspace = std::move(fv.kspace);
  }
  const bool pair = !vol.kspace_nolesion.empty();
  if (write_truth) {
    write_truth_file(out / truth, vol, s.name + ".h5");
    if (pair) {
      FastMriVolume pv;
      pv.header_xml = xml;
      pv.acquisition = s.acquisition;
      pv.patient_id = plan.patient_id;
      pv.kspace = std::move(vol.kspace_nolesion);
      pv.target = vol.rss_nolesion;
      const auto [pm, pn] = stats(vol.rss_nolesion);
      pv.max = pm;
      pv.norm = pn;
      write_fastmri(out / nolesion, pv);
      vol.kspace_nolesion = std::move(pv.kspace);
    }
  }
  ManifestFile e;
  e.file = file;
  e.sim_split = plan.split;
  e.track = plan.track;
  e.contrast = s.acquisition;
  e.vendor = vendor_name(s.vendor);
  e.field_t = s.field_t;
  e.coils = s.coils;
  e.slices = s.slices;
  e.readout = vol.header.enc_x;
  e.phase = vol.header.enc_y;
  e.recon_h = vol.header.recon_x;
  e.recon_w = vol.header.recon_y;
  e.acceleration = masked ? plan.acceleration : 0;
  e.patient_id = plan.patient_id;
  for (size_t l = 0; l < vol.lesions.size(); ++l) {
    int s0 = -1, s1 = -1, x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1;
    for (const auto& b : vol.boxes) {
      if (b.lesion != static_cast<int>(l)) continue;
      if (s0 < 0) s0 = b.slice;
      s1 = b.slice;
      x0 = std::min(x0, b.x);
      y0 = std::min(y0, b.y);
      x1 = std::max(x1, b.x + b.width);
      y1 = std::max(y1, b.y + b.height);
    }
    ManifestLesion lj;
    lj.type = lesion_type_name(vol.lesions[l].type);
    if (s0 >= 0) {
      lj.slice_range = std::array<int64_t, 2>{s0, s1};
      lj.box = std::array<int64_t, 4>{x0, y0, x1 - x0, y1 - y0};
    }
    e.lesion_info.push_back(lj);
  }
  e.has_pair = pair && write_truth;
  e.truth = write_truth ? truth : "";
  e.nolesion = pair && write_truth ? nolesion : "";
  e.ground_truth = masked ? gt : "";
  e.snr = vol.snr;
  derive_fields(e);
  return e;
}

std::string summary_table(const std::vector<FilePlan>& files) {
  struct Row {
    int volumes = 0, slices = 0, lesions = 0;
    std::map<std::string, int> contrast, vendor;
  };
  std::vector<std::string> order;
  std::map<std::string, Row> rows;
  for (const auto& f : files) {
    const std::string key = f.split + (f.track.empty() ? "" : " " + f.track);
    if (!rows.count(key)) order.push_back(key);
    Row& r = rows[key];
    ++r.volumes;
    r.slices += f.spec.slices;
    r.lesions += f.spec.lesions;
    ++r.contrast[f.spec.acquisition];
    ++r.vendor[vendor_name(f.spec.vendor)];
  }
  const std::vector<std::string> cs = {"AXT1", "AXT1PRE", "AXT1POST", "AXT2", "AXFLAIR"};
  const std::vector<std::string> vs = {"siemens", "philips", "ge"};
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-24s %7s %7s %7s |", "split / track", "volumes", "slices", "lesion");
  os << line;
  for (const auto& c : cs) {
    std::snprintf(line, sizeof line, " %8s", c.c_str());
    os << line;
  }
  os << " |";
  for (const auto& v : vs) {
    std::snprintf(line, sizeof line, " %7s", v.c_str());
    os << line;
  }
  os << "\n" << std::string(24 + 3 * 8 + 2 + 9 * cs.size() + 2 + 8 * vs.size(), '-') << "\n";
  Row total;
  for (const auto& k : order) {
    const Row& r = rows[k];
    std::snprintf(line, sizeof line, "%-24s %7d %7d %7d |", k.c_str(), r.volumes, r.slices, r.lesions);
    os << line;
    for (const auto& c : cs) {
      const int n = r.contrast.count(c) ? r.contrast.at(c) : 0;
      std::snprintf(line, sizeof line, " %8d", n);
      os << line;
      total.contrast[c] += n;
    }
    os << " |";
    for (const auto& v : vs) {
      const int n = r.vendor.count(v) ? r.vendor.at(v) : 0;
      std::snprintf(line, sizeof line, " %7d", n);
      os << line;
      total.vendor[v] += n;
    }
    os << "\n";
    total.volumes += r.volumes;
    total.slices += r.slices;
    total.lesions += r.lesions;
  }
  std::snprintf(line, sizeof line, "%-24s %7d %7d %7d |", "total", total.volumes, total.slices, total.lesions);
  os << line;
  for (const auto& c : cs) {
    std::snprintf(line, sizeof line, " %8d", total.contrast[c]);
    os << line;
  }
  os << " |";
  for (const auto& v : vs) {
    std::snprintf(line, sizeof line, " %7d", total.vendor[v]);
    os << line;
  }
  os << "\n";
  return os.str();
}

DatasetSummary simulate_dataset(const DatasetOptions& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  DatasetSummary sum;
  sum.files = plan_dataset(opts.profile, opts.seed, opts.splits);
  RB_CHECK(!opts.out.empty(), "--out: an output directory is required");
  fs::create_directories(opts.out);
  const TissueAtlas& atlas =
      opts.procedural ? cached_procedural_atlas()
                      : cached_atlas(opts.template_dir, /*allow_fallback=*/opts.template_dir.empty());
  sum.anatomy = atlas.source;
  int64_t total_slices = 0;
  for (const auto& f : sum.files) total_slices += f.spec.slices;
  Progress progress("simulate", total_slices, "slice");
  Manifest manifest;
  manifest.root = opts.out;
  manifest.seed = opts.seed;
  manifest.profile = opts.profile.name;
  manifest.version = kSimulatorVersion;
  manifest.anatomy = atlas.procedural ? "procedural" : "colin27";
  std::ostringstream csv;
  csv << "file,slice,study_level,x,y,width,height,label\n";
  for (const auto& plan : sum.files) {
    check_interrupted();
    SimulatedVolume vol = simulate_volume(plan.spec, atlas, &progress);
    manifest.files.push_back(write_volume(opts.out, plan, vol, opts.write_truth));
    for (const auto& b : vol.boxes)
      csv << plan.spec.name << ".h5," << b.slice << ",No," << b.x << "," << b.y << "," << b.width
          << "," << b.height << "," << lesion_type_name(vol.lesions[b.lesion].type) << "\n";
  }
  progress.done();
  if (opts.write_truth) {
    fs::create_directories(opts.out / "truth");
    write_file_atomic(opts.out / "truth" / "annotations.csv", csv.str());
  }
  write_manifest(opts.out, manifest);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace rb::sim
