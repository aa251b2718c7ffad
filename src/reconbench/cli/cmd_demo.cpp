// `reconbench demo`: the whole 2020 challenge on simulated data, in one command.
//
//   simulate (DIR/data) -> reconstruct the challenge split of every track with every
//   available baseline (DIR/recon/<variant>/<method>/) -> evaluate (eval library, masked and
//   unmasked; DIR/results/eval/<variant>/<method>.json|.csv) -> leaderboards and finalists
//   (top 3 by SSIM; DIR/results/leaderboard/) -> SIMULATED reader panel on the lesion cases
//   (DIR/results/reader_study.json) -> Fig. 6 slices (DIR/results/fig6/) -> report
//   (DIR/report/index.html, regenerable by `reconbench report --results DIR/results`).
//
// Variants: the three tracks, plus transfer_4x_nonorm = the Transfer files reconstructed
// with the learned methods' vendor normalisation switched off (param vendor_norm=0), for the
// Transfer analysis. Every stage is timed; unavailable methods are skipped with a note that
// is printed and stored in run.json.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/database.hpp"
#include "reconbench/challenge/reader.hpp"
#include "reconbench/challenge/store.hpp"
#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/eval/evaluate.hpp"
#include "reconbench/eval/metrics.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/hdf5.hpp"
#include "reconbench/ml/register.hpp"
#include "reconbench/recon/method.hpp"
#include "reconbench/report/reader_panel.hpp"
#include "reconbench/report/report.hpp"
#include "reconbench/report/results.hpp"
#include "reconbench/sim/dataset.hpp"

namespace fs = std::filesystem;
using rb::report::Json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_learned(const std::string& m) { return m == "unet" || m == "varnet"; }

// One manifest entry, the fields the demo uses.
struct DataFile {
  std::string file, name, split, track, acquisition, vendor, truth, ground_truth;
  int64_t slices = 0, lesions = 0;
  Json entry;
};

std::vector<DataFile> read_manifest(const fs::path& data) {
  const fs::path mf = data / "manifest.json";
  RB_CHECK(fs::exists(mf), mf.string(), ": missing (simulator output expected)");
  Json j;
  try {
    j = Json::parse(rb::read_file(mf));
  } catch (const Json::exception& e) {
    throw rb::UserError(rb::cat(mf.string(), ": not valid JSON (", e.what(), ")"));
  }
  RB_CHECK(j.contains("files") && j["files"].is_array(), mf.string(), ": no \"files\" array");
  std::vector<DataFile> out;
  for (const auto& f : j["files"]) {
    DataFile d;
    d.entry = f;
    d.file = f.value("file", std::string());
    d.name = fs::path(d.file).filename().string();
    d.split = f.value("split", std::string());
    d.track = f.contains("track") && f["track"].is_string() ? f["track"].get<std::string>() : "";
    d.acquisition = f.value("contrast", std::string());
    d.vendor = f.value("vendor", std::string());
    d.truth = f.contains("truth") && f["truth"].is_string() ? f["truth"].get<std::string>() : "";
    d.ground_truth = f.contains("ground_truth") && f["ground_truth"].is_string()
                         ? f["ground_truth"].get<std::string>()
                         : "";
    d.slices = f.value("slices", int64_t{0});
    if (f.contains("lesions") && f["lesions"].is_array())
      d.lesions = static_cast<int64_t>(f["lesions"].size());
    out.push_back(std::move(d));
  }
  return out;
}

// lesion_mask uint8 [slice y x] of a simulator truth file (1 + lesion index, 0 = none).
rb::Array<uint8_t> read_lesion_mask(const fs::path& path) {
  auto lock = rb::h5::lock();
  rb::h5::Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  RB_CHECK(f.valid(), path.string(), ": cannot open truth file (", rb::h5::last_error(), ")");
  RB_CHECK(H5Lexists(f, "lesion_mask", H5P_DEFAULT) > 0, path.string(),
           ": no dataset 'lesion_mask'");
  rb::h5::Id d(H5Dopen2(f, "lesion_mask", H5P_DEFAULT));
  rb::h5::Id sp(H5Dget_space(d));
  RB_CHECK(H5Sget_simple_extent_ndims(sp) == 3, path.string(), ": lesion_mask is not [slice y x]");
  hsize_t dims[3];
  H5Sget_simple_extent_dims(sp, dims, nullptr);
  rb::Array<uint8_t> m({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1]),
                        static_cast<int64_t>(dims[2])});
  RB_CHECK(H5Dread(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, m.data()) >= 0,
           path.string(), ": cannot read lesion_mask (", rb::h5::last_error(), ")");
  return m;
}

// Centre crop [slice h w] -> [slice c c] (start (size - c) / 2, as fastMRI's center_crop).
rb::Array<uint8_t> crop_mask(const rb::Array<uint8_t>& m, int64_t c) {
  const int64_t s = m.dim(0), h = m.dim(1), w = m.dim(2);
  rb::Array<uint8_t> out({s, c, c});
  const int64_t y0 = (h - c) / 2, x0 = (w - c) / 2;
  for (int64_t k = 0; k < s; ++k)
    for (int64_t y = 0; y < c; ++y)
      for (int64_t x = 0; x < c; ++x) {
        const int64_t yy = y + y0, xx = x + x0;
        out.at(k, y, x) = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? (m.at(k, yy, xx) ? 1 : 0) : 0;
      }
  return out;
}

struct Timer {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
};

// A reader-study case chosen before evaluation: the slice with the largest lesion area.
struct StudyCase {
  std::string name, acquisition, vendor;
  int64_t slice = 0, area = 0;
  fs::path truth;
};

struct DemoCmd final : rb::cli::Command {
  std::string out, profile = "small", data;
  uint64_t seed = 0;
  std::vector<std::string> methods{"zero-filled", "grappa", "sense", "cs-wavelet", "unet",
                                   "varnet"};
  std::vector<std::string> params;
  std::string models_dir;
  size_t finalists = 3;
  int64_t readers = 5, cases = 6;
  bool no_nonorm = false;

  void declare(CLI::App& app) override {
    app.add_option("--out", out, "output folder (data/, recon/, results/, report/)")->required();
    app.add_option("--profile", profile, "simulator profile: ci (minutes), small (default)")
        ->check(CLI::IsMember({"ci", "small", "full"}))
        ->capture_default_str();
    app.add_option("--seed", seed, "simulator and reader-panel seed")->capture_default_str();
    app.add_option("--data", data,
                   "use this simulated dataset (DATA with manifest.json) instead of simulating");
    app.add_option("--methods", methods,
                   "baselines to run (registered methods; learned ones need their weights)")
        ->delimiter(',')
        ->default_str("zero-filled,grappa,sense,cs-wavelet,unet,varnet");
    app.add_option("--param", params,
                   "METHOD:key=value passed to one method (repeatable), e.g. sense:iters=10");
    app.add_option("--models", models_dir,
                   "folder of shipped weights <method>_small.pt (default: the source tree's "
                   "models/)");
    app.add_option("--finalists", finalists, "finalists per track (top N by SSIM)")
        ->default_val(3);
    app.add_option("--readers", readers, "simulated readers in the reader panel")->default_val(5);
    app.add_option("--cases", cases, "reader-study cases per track (lesion slices)")
        ->default_val(6);
    app.add_flag("--no-nonorm", no_nonorm,
                 "skip the Transfer reconstruction without vendor normalisation");
  }

  Json run_json = Json::object();
  Json stages = Json::array();
  Json skipped = Json::array();
  Json notes = Json::array();

  void stage_done(const std::string& name, const Timer& t) {
    stages.push_back({{"name", name}, {"seconds", t.seconds()}});
    std::fprintf(stderr, "[demo] stage %-12s %8.1f s\n", name.c_str(), t.seconds());
  }
  void skip(const std::string& method, const std::string& reason) {
    skipped.push_back({{"method", method}, {"reason", reason}});
    std::fprintf(stderr, "[demo] note: skipping %s: %s\n", method.c_str(), reason.c_str());
  }
  void note(const std::string& n) {
    notes.push_back(n);
    std::fprintf(stderr, "[demo] note: %s\n", n.c_str());
  }

  std::map<std::string, std::string> method_params(const std::string& m) const {
    std::map<std::string, std::string> p;
    // Settings that keep the demo within its time budget on 2 cores.
    if (profile == "ci") {
      // 128-column phase: the 8X centre has 5 lines, so a 3x3 ESPIRiT kernel
      if (m == "sense") p = {{"iter", "10"}, {"kernel", "3"}};
      if (m == "cs-wavelet" || m == "cs-tv") p = {{"iter", "15"}, {"kernel", "3"}};
    } else {
      if (m == "sense") p = {{"iter", "20"}};
      if (m == "cs-wavelet" || m == "cs-tv") p = {{"iter", "30"}};
    }
    for (const auto& s : params) {
      const auto colon = s.find(':'), eq = s.find('=');
      RB_CHECK(colon != std::string::npos && eq != std::string::npos && eq > colon,
               "--param '", s, "': expected METHOD:key=value");
      if (s.substr(0, colon) == m) p[s.substr(colon + 1, eq - colon - 1)] = s.substr(eq + 1);
    }
    return p;
  }

  // Build a method. norm: "" = the method's default, "1" / "0" = vendor normalisation on /
  // off (param normalize; classical and learned methods all take it). A method without the
  // switch gets its default for "1" and a UserError for "0". A rejected demo speed setting
  // falls back to the method's defaults with a note.
  std::unique_ptr<rb::ReconMethod> make_method(const std::string& m, const std::string& norm) {
    rb::ReconMethodConfig cfg;
    if (is_learned(m)) {
      fs::path dir = models_dir.empty() ? rb::source_dir() / "models" : fs::path(models_dir);
      cfg.weights = (dir / (m + "_small.pt")).string();
    }
    cfg.params = method_params(m);
    if (!norm.empty()) cfg.params["normalize"] = norm;
    const bool user_given = std::any_of(params.begin(), params.end(), [&](const auto& s) {
      return s.rfind(m + ":", 0) == 0;
    });
    try {
      return rb::make_recon_method(m, cfg);
    } catch (const rb::UserError& e) {
      const std::string what = e.what();
      if (what.find("param") == std::string::npos) throw;
      if (norm == "0") throw;
      auto cfg2 = cfg;
      cfg2.params.erase("normalize");
      if (!user_given) cfg2.params.clear();
      if (cfg2.params == cfg.params) throw;
      try {
        auto method = rb::make_recon_method(m, cfg2);
        note("method " + m + ": parameters " + Json(cfg.params).dump() + " not accepted (" +
             what + "); using " + Json(cfg2.params).dump());
        return method;
      } catch (const rb::UserError&) {
        throw rb::UserError(what);
      }
    }
  }

  // Reconstruct every file of a variant with one method into dir.
  void reconstruct(const rb::ReconMethod& method, const std::vector<DataFile>& files,
                   const fs::path& data_dir, const fs::path& dir, const std::string& label) {
    fs::create_directories(dir);
    int64_t total_slices = 0;
    for (const auto& f : files) total_slices += std::max<int64_t>(1, f.slices);
    rb::Progress progress(label, total_slices, "slice");
    for (const auto& f : files) {
      rb::check_interrupted();
      const fs::path outp = dir / f.name;
      if (fs::exists(outp)) {  // resumable: a finished file is kept
        progress.tick(std::max<int64_t>(1, f.slices));
        continue;
      }
      rb::FastMriFile in(data_dir / f.file);
      const auto mask = in.read_mask();
      const rb::IsmrmrdInfo* header = in.has_header() ? &in.header() : nullptr;
      const auto [ch, cw] = rb::fastmri_crop_size(header, in.readout(), in.phase());
      const int64_t ns = in.num_slices();
      std::vector<rb::Array<float>> slices(ns);
      std::vector<rb::Array<rb::cfloat>> ks(ns);
      for (int64_t s = 0; s < ns; ++s) ks[s] = in.read_kspace_slice(s);
      auto one = [&](int64_t s) {
        rb::check_interrupted();
        rb::SliceInput si;
        si.kspace = ks[s].view();
        si.mask = mask;
        si.num_low_frequencies = in.num_low_frequency().value_or(0);
        si.acceleration = static_cast<double>(in.acceleration().value_or(0));
        si.header = header;
        si.crop_h = ch;
        si.crop_w = cw;
        si.slice_index = s;
        slices[s] = method.reconstruct_slice(si);
        progress.tick(1, f.name);
      };
      if (method.parallel_slices())
        rb::parallel_for(ns, one);
      else
        for (int64_t s = 0; s < ns; ++s) one(s);
      const int64_t h = slices[0].dim(0), w = slices[0].dim(1);
      rb::Array<float> vol({ns, h, w});
      for (int64_t s = 0; s < ns; ++s) {
        RB_ASSERT(slices[s].dim(0) == h && slices[s].dim(1) == w, "slice shapes differ");
        std::copy(slices[s].flat().begin(), slices[s].flat().end(), vol(s).data());
      }
      rb::write_reconstruction(outp, vol, in.acquisition());
    }
    progress.done();
  }

  // Registers every method as a team on a local challenge database (DIR/challenge.db,
  // SQLite, the server's schema), stores one scored submission per team and track in the
  // challenge phase (scores from the evaluation files: no second evaluation) and returns
  // the database's leaderboard per track, converted to the report's format.
  std::map<std::string, rb::report::Leaderboard> register_on_db(
      const fs::path& root, const fs::path& data_dir, const std::vector<std::string>& teams,
      const std::vector<std::string>& track_ids, const fs::path& results) {
    namespace ch = rb::challenge;
    const fs::path dbp = root / "challenge.db";
    for (const char* suf : {"", "-wal", "-shm"}) fs::remove(fs::path(dbp.string() + suf));
    ch::Store store(ch::open_database("sqlite:" + dbp.string()));
    store.init();
    store.create_user("demo-organiser", rb::challenge::random_hex(12), "organiser");
    std::map<std::string, std::pair<int64_t, int64_t>> team_ids;  // method -> (user, team)
    for (const auto& m : teams) {
      const auto u = store.create_user("demo-" + m, ch::random_hex(12), "participant");
      const auto t = store.create_team(u.id, m);
      team_ids[m] = {u.id, t.id};
    }
    const std::string manifest_hash = ch::sha256_file(data_dir / "manifest.json");
    const auto phase = store.phase("challenge");
    std::map<std::string, rb::report::Leaderboard> out;
    for (const auto& track : track_ids) {
      std::string spec_hash;
      for (const auto& m : teams) {
        const fs::path ef = results / "eval" / track / (m + ".json");
        if (!fs::exists(ef)) continue;
        const Json ej = Json::parse(rb::read_file(ef));
        spec_hash = ej["spec"].value("hash", std::string("unknown"));
        std::vector<std::pair<std::string, std::string>> files;
        for (const auto& e : fs::directory_iterator(root / "recon" / track / m))
          if (e.path().extension() == ".h5")
            files.emplace_back(e.path().filename().string(), ch::sha256_file(e.path()));
        std::sort(files.begin(), files.end());
        const auto [uid, tid] = team_ids[m];
        for (const auto& [name, sha] : files)
          store.record_blob(sha, static_cast<int64_t>(fs::file_size(root / "recon" / track / m / name)), uid);
        const int64_t sid = store.create_submission(phase.id, track, tid, uid, "",
                                                    "reconbench demo baseline: " + m, files);
        RB_ASSERT(store.queue_submission(sid, spec_hash, false), "queue ", m);
        const auto job = store.claim("demo", 3600);
        RB_ASSERT(job && job->submission_id == sid, "demo job queue out of order");
        ch::ScoreRow sr;
        const auto& all = ej["summary"]["all"];
        auto mean = [&](const char* k) {
          return all.contains(k) && all[k]["mean"].is_number() ? all[k]["mean"].get<double>() : kNaN;
        };
        sr.ssim = mean("ssim");
        sr.ssim_masked = mean("ssim_masked");
        sr.psnr = mean("psnr");
        sr.nmse = mean("nmse");
        sr.spec_hash = spec_hash;
        sr.evaluator = "reconbench demo (in-process evaluation, " + std::string(rb::eval::kEvalVersion) + ")";
        sr.manifest_hash = manifest_hash;
        sr.summary = ej["summary"];
        sr.volumes = ej["volumes"];
        RB_ASSERT(store.complete(job->id, "demo", sr), "score of ", m);
      }
      const Json lb = store.leaderboard("challenge", track, spec_hash);
      rb::report::Leaderboard l;
      l.track = track;
      l.source = "challenge database " + dbp.string() + " (phase challenge)";
      for (const auto& e : lb["entries"]) {
        rb::report::LeaderboardRow row;
        row.rank = e["rank"].get<int64_t>();
        row.team = e["team"].get<std::string>();
        row.method = row.team;
        auto num = [](const Json& j) { return j.is_number() ? j.get<double>() : kNaN; };
        row.ssim = num(e["ssim"]["mean"]);
        row.ssim_masked = num(e["ssim_masked"]["mean"]);
        row.psnr = num(e["psnr"]["mean"]);
        row.nmse = num(e["nmse"]["mean"]);
        l.rows.push_back(row);
      }
      out[track] = l;
      db_spec_hash[track] = spec_hash;
    }
    store.close_phase("challenge");
    db_path = dbp;
    return out;
  }

  // The simulated panel's reads stored as reader responses in the database's reader study
  // (blinded letters through the study's seeded positions), as the web reading UI would.
  void store_reads_on_db(const std::string& track, const rb::report::ReaderStudy& st,
                         Json& db_info) {
    namespace ch = rb::challenge;
    ch::Store store(ch::open_database("sqlite:" + db_path.string()));
    store.init();
    std::vector<ch::Store::StudyCase> cs;
    for (const auto& c : st.cases) cs.push_back({c.file, c.slice});
    const int64_t sid = store.create_study("challenge", track, db_spec_hash[track], cs,
                                           static_cast<int64_t>(st.finalists.size()));
    if (sid == 0) return;
    const Json study = store.study(sid);
    for (size_t j = 0; j < st.readers.size(); ++j) {
      const std::string name = "simulated-reader-" + std::to_string(j + 1);
      auto u = store.user_by_name(name);
      const int64_t uid = u ? u->id : store.create_user(name, ch::random_hex(12), "reader").id;
      for (size_t c = 0; c < st.cases.size(); ++c) {
        const auto pos = store.reader_positions(sid, uid, static_cast<int64_t>(c));
        Json resp = {{"rank", Json::object()}, {"likert", Json::object()},
                     {"comment", "SIMULATED reader (reconbench demo), not a radiologist"}};
        for (size_t k = 0; k < pos.size(); ++k) {
          const std::string L = ch::letter(static_cast<int64_t>(k));
          const size_t slot = static_cast<size_t>(pos[k]);
          resp["rank"][L] = st.cases[c].ranks[j][slot];
          for (const auto& [q, m] : st.cases[c].likert) resp["likert"][L][q] = m[j][slot];
        }
        store.save_reader_response(sid, uid, static_cast<int64_t>(c), resp, true);
      }
    }
    db_info["studies"][track] = {{"study_id", sid}, {"candidates", study.value("candidates", Json())}};
  }

  fs::path db_path;
  std::map<std::string, std::string> db_spec_hash;

  int run() override {
    Timer total;
    const fs::path root = fs::absolute(out);
    const fs::path results = root / "results";
    fs::create_directories(results);
    rb::install_interrupt_handler();
    std::fprintf(stderr, "[demo] output %s, profile %s, seed %llu, %d threads\n",
                 root.c_str(), profile.c_str(), static_cast<unsigned long long>(seed),
                 rb::num_threads());

    // --- 1. simulate ------------------------------------------------------------------------
    fs::path data_dir = data.empty() ? root / "data" : fs::absolute(data);
    {
      Timer t;
      if (data.empty()) {
        if (fs::exists(data_dir / "manifest.json")) {
          note("reusing the simulated dataset in " + data_dir.string());
        } else {
          // Only what the challenge needs: the challenge and transfer splits (the shipped
          // weights were trained on train/val, see models/README.md).
          rb::sim::DatasetOptions so;
          so.profile = rb::sim::make_profile(profile);
          so.seed = seed;
          so.out = data_dir;
          so.splits = {"challenge", "transfer"};
          const auto sum = rb::sim::simulate_dataset(so);
          std::fprintf(stderr, "[demo] simulated %zu volumes (%s)\n", sum.files.size(),
                       sum.anatomy.c_str());
        }
      }
      stage_done("simulate", t);
    }
    const auto files = read_manifest(data_dir);

    // Track -> challenge files. The manifest's "track" names them (multicoil_4x, ...).
    std::map<std::string, std::vector<DataFile>> track_files;
    for (const auto& f : files)
      if (!f.track.empty() && (f.split == "challenge" || f.split == "transfer"))
        track_files[f.track].push_back(f);
    for (auto& [t, v] : track_files)
      std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    Json dataset = {{"volumes", Json::array()}};
    for (const auto& f : files) {
      Json v = {{"file", f.name}, {"split", f.split}, {"track", f.track}, {"acquisition", f.acquisition},
                {"contrast", rb::report::contrast_of(f.acquisition)}, {"vendor", f.vendor},
                {"slices", f.slices}, {"lesions", f.lesions}};
      dataset["volumes"].push_back(v);
    }
    rb::write_file_atomic(results / "dataset.json", dataset.dump(1) + "\n");

    // --- 2. methods ---------------------------------------------------------------------------
    rb::register_classical_methods();
    rb::register_ml_methods();
    std::set<std::string> registered;
    for (const auto& [n, h] : rb::recon_method_names()) registered.insert(n);
    std::vector<std::string> active;
    std::map<std::string, std::unique_ptr<rb::ReconMethod>> method_objs;
    for (const auto& m : methods) {
      if (!registered.count(m)) {
        skip(m, "not a registered reconstruction method in this build");
        continue;
      }
      try {
        method_objs[m] = make_method(m, "");
        active.push_back(m);
      } catch (const rb::UserError& e) {
        skip(m, e.what());
      }
    }
    RB_CHECK(!active.empty(), "no reconstruction method is available (see the notes above)");

    // --- 3. reconstruct ------------------------------------------------------------------------
    std::vector<std::pair<std::string, std::string>> variants;  // (variant, track)
    for (const auto& t : rb::report::tracks())
      if (track_files.count(t.id)) variants.emplace_back(t.id, t.id);
      else note("the dataset has no challenge files for track " + t.id);
    std::map<std::string, std::vector<std::string>> variant_methods;
    {
      Timer t;
      for (const auto& [variant, track] : variants)
        for (const auto& m : active) {
          std::unique_ptr<rb::ReconMethod> transfer_method;
          const rb::ReconMethod* method = method_objs[m].get();
          if (track == rb::report::kTransfer) {  // with vendor normalisation
            transfer_method = make_method(m, "1");
            method = transfer_method.get();
          }
          try {
            reconstruct(*method, track_files[track], data_dir, root / "recon" / variant / m,
                        variant + " " + m);
          } catch (const rb::UserError& e) {
            fs::remove_all(root / "recon" / variant / m);
            skip(m + " on " + variant, e.what());
            continue;
          }
          variant_methods[variant].push_back(m);
        }
      if (!no_nonorm && track_files.count(rb::report::kTransfer)) {
        const std::string v = rb::report::kTransferNoNorm;
        for (const auto& m : active) {
          std::unique_ptr<rb::ReconMethod> raw;
          try {
            raw = make_method(m, "0");
          } catch (const rb::UserError& e) {
            note("Transfer without vendor normalisation: " + m + " cannot switch it off (" +
                 e.what() + ")");
            continue;
          }
          try {
            reconstruct(*raw, track_files[rb::report::kTransfer], data_dir, root / "recon" / v / m,
                        v + " " + m);
          } catch (const rb::UserError& e) {
            fs::remove_all(root / "recon" / v / m);
            skip(m + " on " + v, e.what());
            continue;
          }
          variant_methods[v].push_back(m);
        }
        if (!variant_methods.count(v)) note("no Transfer reconstruction without vendor normalisation");
        else variants.emplace_back(v, rb::report::kTransfer);
      }
      method_objs.clear();
      stage_done("reconstruct", t);
    }

    // --- 4. evaluate ------------------------------------------------------------------------------
    // Reader-study cases per track: lesion volumes, the slice with the largest lesion area.
    std::map<std::string, std::vector<StudyCase>> study_cases;
    for (const auto& [track, tf] : track_files) {
      std::vector<StudyCase> cs;
      for (const auto& f : tf) {
        if (f.lesions == 0 || f.truth.empty() || !fs::exists(data_dir / f.truth)) continue;
        const auto m = read_lesion_mask(data_dir / f.truth);
        StudyCase best;
        for (int64_t s = 0; s < m.dim(0); ++s) {
          int64_t a = 0;
          for (uint8_t v : m(s).flat()) a += v != 0;
          if (a > best.area) best = {f.name, f.acquisition, f.vendor, s, a, data_dir / f.truth};
        }
        if (best.area > 0) cs.push_back(best);
      }
      std::stable_sort(cs.begin(), cs.end(), [](const auto& a, const auto& b) { return a.area > b.area; });
      if (static_cast<int64_t>(cs.size()) > cases) cs.resize(cases);
      if (cs.empty()) {
        // No lesions: middle slices of the first volumes, scored on the foreground mask.
        for (const auto& f : tf) {
          if (static_cast<int64_t>(cs.size()) >= cases) break;
          cs.push_back({f.name, f.acquisition, f.vendor, std::max<int64_t>(0, f.slices / 2), 0, {}});
        }
        note("track " + track + ": no lesion volumes; reader cases use middle slices and "
             "foreground-masked SSIM");
      }
      study_cases[track] = cs;
    }
    // Per (variant, method, case): slice SSIM and lesion SSIM; per variant the Fig. 6 slices.
    struct CaseScore {
      double ssim = kNaN, lesion = kNaN;
    };
    std::map<std::string, std::map<std::string, std::map<std::string, CaseScore>>> case_scores;
    struct SliceStore {
      rb::Array<float> gt;
      std::map<std::string, rb::Array<float>> recon;
      double data_range = 0;
    };
    std::map<std::string, SliceStore> fig6_slices;  // variant -> first case's slices
    std::mutex cb_mutex;
    {
      Timer t;
      for (const auto& [variant, track] : variants) {
        // GT of the track's files, linked into one folder.
        const fs::path gt_dir = root / "work" / "gt" / track;
        fs::create_directories(gt_dir);
        for (const auto& f : track_files[track]) {
          RB_CHECK(!f.ground_truth.empty(), "manifest: ", f.file, " has no ground_truth file");
          const fs::path link = gt_dir / f.name;
          if (!fs::exists(link)) fs::create_symlink(data_dir / f.ground_truth, link);
        }
        std::map<std::string, const StudyCase*> cases_by_name;
        for (const auto& c : study_cases[track]) cases_by_name[c.name] = &c;
        for (const auto& m : variant_methods[variant]) {
          rb::check_interrupted();
          rb::eval::EvalOptions eo;
          eo.metrics.masked = true;
          eo.progress = true;
          eo.on_volume = [&, variant = variant, m = m](const std::string& file,
                                                        rb::ArrayView<const float> target,
                                                        rb::ArrayView<const float> pred,
                                                        const rb::eval::VolumeMetrics& vm) {
            auto it = cases_by_name.find(file);
            if (it == cases_by_name.end()) return;
            const StudyCase& c = *it->second;
            const int64_t s = std::min<int64_t>(c.slice, target.dim(0) - 1);
            CaseScore cs;
            cs.ssim = vm.ssim_per_slice.at(s);
            if (!c.truth.empty()) {
              const auto lm = crop_mask(read_lesion_mask(c.truth), target.dim(1));
              const auto map = rb::eval::ssim_map(target(s), pred(s), vm.data_range);
              cs.lesion = rb::eval::masked_map_mean(map.view(), lm(s)).mean;
            }
            if (!std::isfinite(cs.lesion) && s < static_cast<int64_t>(vm.ssim_masked_per_slice.size()))
              cs.lesion = vm.ssim_masked_per_slice[s];
            if (!std::isfinite(cs.lesion)) cs.lesion = cs.ssim;
            std::lock_guard lock(cb_mutex);
            case_scores[variant][m][file] = cs;
            if (!study_cases[track].empty() && file == study_cases[track].front().name) {
              auto& st = fig6_slices[variant];
              auto copy = [&](rb::ArrayView<const float> v) {
                rb::Array<float> a({1, v.dim(0), v.dim(1)});
                std::copy(v.data(), v.data() + v.size(), a.data());
                return a;
              };
              st.gt = copy(target(s));
              st.recon[m] = copy(pred(s));
              st.data_range = vm.data_range;
            }
          };
          std::fprintf(stderr, "[demo] evaluate %s %s\n", variant.c_str(), m.c_str());
          const auto run = rb::eval::evaluate_directories(gt_dir, root / "recon" / variant / m, eo);
          RB_CHECK(!run.failed(), "evaluation of ", variant, "/", m, " failed: ",
                   run.errors.empty() ? std::string("?") : run.errors[0].file + ": " + run.errors[0].reason);
          const fs::path ed = results / "eval" / variant;
          rb::write_file_atomic(ed / (m + ".json"), rb::eval::to_json(run).dump(1) + "\n");
          rb::write_file_atomic(ed / (m + ".csv"), rb::eval::to_csv(run));
        }
      }
      stage_done("evaluate", t);
    }

    // --- 5. leaderboards and finalists -----------------------------------------------------
    // Teams registered on a local challenge database; the leaderboard read back from it. If
    // the database cannot be used, the same ranking is computed from the evaluation files.
    Timer t_rank;
    rb::write_file_atomic(results / "run.json", Json({{"profile", profile}, {"seed", seed}}).dump());
    const auto loaded = rb::report::load_results(results);
    std::vector<std::string> track_ids;
    for (const auto& [variant, track] : variants)
      if (variant == track) track_ids.push_back(track);
    std::map<std::string, rb::report::Leaderboard> lbs;
    Json db_info = Json::object();
    try {
      lbs = register_on_db(root, data_dir, active, track_ids, results);
      db_info = {{"path", db_path.string()}, {"engine", "sqlite"}, {"phase", "challenge"}};
      run_json["leaderboard_source"] = "challenge database " + db_path.string();
    } catch (const std::exception& e) {
      note(std::string("challenge database not used (") + e.what() +
           "); leaderboards computed from the evaluation files");
      lbs.clear();
      run_json["leaderboard_source"] = "leaderboard JSON written by the demo from the evaluation files";
    }
    std::map<std::string, std::vector<std::string>> track_finalists;
    for (const auto& track : track_ids) {
      if (!loaded.evals.count(track)) continue;
      const auto from_files = rb::report::leaderboard_from_evals(
          track, loaded.evals.at(track), "reconbench demo (from the evaluation files)");
      if (!lbs.count(track)) lbs[track] = from_files;
      auto& lb = lbs[track];
      // The database ranks the same numbers; it must give the same order.
      bool same = lb.rows.size() == from_files.rows.size();
      for (size_t i = 0; same && i < lb.rows.size(); ++i) {
        same = lb.rows[i].team == from_files.rows[i].team;
        lb.rows[i].volumes = from_files.rows[i].volumes;
      }
      if (!same) {
        note("track " + track + ": database leaderboard order differs from the evaluation "
             "files (ties?); using the evaluation files' order");
        lb = from_files;
      }
      rb::write_file_atomic(results / "leaderboard" / (track + ".json"),
                            rb::report::leaderboard_json(lb).dump(1) + "\n");
      rb::write_file_atomic(results / "leaderboard" / (track + ".csv"), rb::report::leaderboard_csv(lb));
      for (size_t i = 0; i < lb.rows.size() && i < finalists; ++i)
        track_finalists[track].push_back(lb.rows[i].method);
    }
    stage_done("rank", t_rank);

    // --- 6. SIMULATED reader panel -------------------------------------------------------------
    Timer t_read;
    rb::report::ReaderPanelOptions po;
    po.readers = readers;
    po.seed = seed;
    Json rs = {{"simulated", true},
               {"label", rb::report::kSimulatedPanelLabel},
               {"model", rb::report::reader_model_json(po)},
               {"tracks", Json::object()}};
    for (const auto& [track, fin] : track_finalists) {
      if (fin.size() < 2) {
        note("track " + track + ": fewer than 2 teams, no reader study");
        continue;
      }
      std::vector<rb::report::PanelCase> pcs;
      for (const auto& c : study_cases[track]) {
        rb::report::PanelCase pc;
        pc.file = c.name;
        pc.slice = c.slice;
        pc.contrast = rb::report::contrast_of(c.acquisition);
        pc.vendor = c.vendor;
        bool ok = true;
        for (const auto& m : fin) {
          auto& byfile = case_scores[track][m];
          auto it = byfile.find(c.name);
          if (it == byfile.end()) {
            ok = false;
            break;
          }
          pc.ssim.push_back(it->second.ssim);
          pc.lesion_ssim.push_back(it->second.lesion);
        }
        if (ok) pcs.push_back(std::move(pc));
      }
      const auto st = rb::report::simulate_reader_panel(track, fin, pcs, po);
      rs["tracks"][track] = rb::report::reader_study_json(st);
      if (!db_path.empty()) {
        try {
          store_reads_on_db(track, st, db_info);
        } catch (const std::exception& e) {
          note("track " + track + ": reader study not stored in the database (" + e.what() + ")");
        }
      }
    }
    rb::write_file_atomic(results / "reader_study.json", rs.dump(1) + "\n");

    // Fig. 6 slices of the finalists.
    for (const auto& [track, fin] : track_finalists) {
      auto it = fig6_slices.find(track);
      if (it == fig6_slices.end() || it->second.gt.empty()) continue;
      const fs::path d = results / "fig6" / track;
      fs::create_directories(d);
      rb::write_reconstruction(d / "gt.h5", it->second.gt);
      Json panels = Json::array();
      for (const auto& m : fin) {
        if (!it->second.recon.count(m)) continue;
        rb::write_reconstruction(d / (m + ".h5"), it->second.recon[m]);
        panels.push_back({{"team", m}, {"method", m}, {"recon", "fig6/" + track + "/" + m + ".h5"}});
      }
      const auto& c = study_cases[track].front();
      rb::write_file_atomic(results / "fig6" / (track + ".json"),
                            Json({{"file", c.name}, {"slice", c.slice},
                                  {"data_range", it->second.data_range},
                                  {"gt", "fig6/" + track + "/gt.h5"}, {"panels", panels}})
                                    .dump(1) + "\n");
    }
    stage_done("reader-study", t_read);

    // --- 7. run.json and the report ------------------------------------------------------------
    run_json["profile"] = profile;
    run_json["seed"] = seed;
    run_json["data"] = data_dir.string();
    run_json["methods"] = active;
    run_json["skipped"] = skipped;
    run_json["threads"] = rb::num_threads();
    run_json["notes"] = notes;
    run_json["stages"] = stages;
    run_json["database"] = db_info;
    rb::write_file_atomic(results / "run.json", run_json.dump(1) + "\n");
    Timer t_rep;
    const auto r = rb::report::load_results(results);
    const auto ro = rb::report::write_report(r, root / "report");
    stage_done("report", t_rep);
    stages.push_back({{"name", "total"}, {"seconds", total.seconds()}});
    run_json["stages"] = stages;
    rb::write_file_atomic(results / "run.json", run_json.dump(1) + "\n");

    // --- 8. print -----------------------------------------------------------------------------
    for (const auto& t : rb::report::tracks()) {
      auto it = r.leaderboards.find(t.id);
      if (it == r.leaderboards.end()) continue;
      std::printf("\n%s leaderboard (%zu volumes)\n", t.title.c_str(),
                  track_files[t.id].size());
      std::printf("  %-4s %-14s %8s %12s %9s %9s\n", "rank", "team", "SSIM", "masked SSIM",
                  "PSNR", "NMSE");
      for (const auto& row : it->second.rows)
        std::printf("  %-4lld %-14s %8.4f %12.4f %9.2f %9.4f%s\n",
                    static_cast<long long>(row.rank), row.team.c_str(), row.ssim,
                    row.ssim_masked, row.psnr, row.nmse,
                    static_cast<size_t>(row.rank) <= finalists ? "  finalist" : "");
    }
    for (const auto& s : skipped)
      std::printf("\nskipped %s: %s", s["method"].get<std::string>().c_str(),
                  s["reason"].get<std::string>().c_str());
    std::printf("\n\nreader study: SIMULATED reader panel (%lld simulated readers), not radiologists\n",
                static_cast<long long>(readers));
    std::printf("results: %s\nreport:  %s\ntotal:   %.1f s\n", results.c_str(), ro.index.c_str(),
                total.seconds());
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"demo", "run the whole challenge on simulated data and write the report",
     "Simulates a challenge dataset (profile small by default), reconstructs the challenge "
     "split of the Multi-Coil 4X, 8X and Transfer tracks with every available baseline "
     "(zero-filled, GRAPPA, SENSE, CS, U-Net and VarNet with the shipped weights; methods "
     "that are not available are skipped with a note), evaluates them (masked and unmasked "
     "SSIM, PSNR, NMSE), ranks them per track, selects the top 3 per track as finalists, "
     "fills the reader study with a SIMULATED reader panel (ranks and Likert scores derived "
     "from lesion-region SSIM plus seeded noise: not radiologists) and writes the HTML report. "
     "Every intermediate result is a file under DIR/results, from which `reconbench report` "
     "regenerates the report. Prints the time of each stage and the leaderboards.",
     {"reconbench demo --out demo-out", "reconbench demo --profile ci --out /tmp/demo-ci",
      "reconbench demo --out demo-out --methods zero-filled,sense,varnet"},
     90},
    [] { return std::make_unique<DemoCmd>(); });

}  // namespace
