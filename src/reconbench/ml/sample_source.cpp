// Training sample sources (sample_source.hpp). The simulator is used through one adapter,
// simulate_block_volume(), so that a cheaper per-slice simulator entry point can replace
// the whole-volume call in one place.
#include "reconbench/ml/sample_source.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/sim/dataset.hpp"
#include "reconbench/sim/rng.hpp"

namespace rb::ml {

namespace fs = std::filesystem;

namespace {

// Fisher-Yates with a fixed generator: the order depends only on the seed.
std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 g(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(g() % static_cast<uint64_t>(i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

// ---------------------------------------------------------------------------------------
// Files

class FileSource final : public SampleSource {
 public:
  FileSource(const fs::path& dir, uint32_t seed, int64_t max_slices) : dir_(dir), seed_(seed) {
    files_ = list_inputs({dir.string()}, ".h5");
    for (size_t f = 0; f < files_.size(); ++f) {
      FastMriFile file(files_[f]);
      RB_CHECK(file.has_target(), "training data ", files_[f].string(),
               ": no reconstruction_rss (train/val files must be fully sampled with a target)");
      for (int64_t s = 0; s < file.num_slices(); ++s)
        slices_.push_back({static_cast<int64_t>(f), s});
    }
    RB_CHECK(!slices_.empty(), "--data ", dir.string(), ": no slices");
    if (max_slices > 0 && max_slices < static_cast<int64_t>(slices_.size())) {
      // a fixed, seeded subset (sorted so that files are read in order)
      auto perm = permutation(static_cast<int64_t>(slices_.size()), seed);
      std::vector<int64_t> keep(perm.begin(), perm.begin() + max_slices);
      std::sort(keep.begin(), keep.end());
      std::vector<Ref> sub;
      for (auto i : keep) sub.push_back(slices_[i]);
      slices_ = std::move(sub);
    }
  }
  int64_t epoch_size() const override { return static_cast<int64_t>(slices_.size()); }
  std::string describe() const override { return dir_.string(); }

  TrainSample sample(int epoch, int64_t i) const override {
    const auto order = permutation(epoch_size(), static_cast<uint64_t>(seed_) * 1000003ull + epoch);
    const Ref ref = slices_[order[i]];
    std::lock_guard lock(mutex_);
    FastMriFile file(files_[ref.file]);
    TrainSample t;
    t.kspace = file.read_kspace_slice(ref.slice);
    t.target = file.read_target_slice(ref.slice);
    t.max_value = file.attr_max().value_or(0.0);
    if (t.max_value <= 0)
      for (float v : t.target.flat()) t.max_value = std::max(t.max_value, static_cast<double>(v));
    if (file.has_header()) t.header = file.header();
    t.name = files_[ref.file].filename().string();
    t.slice = ref.slice;
    return t;
  }

 private:
  struct Ref {
    int64_t file = 0, slice = 0;
  };
  fs::path dir_;
  uint32_t seed_;
  std::vector<fs::path> files_;
  std::vector<Ref> slices_;
  mutable std::mutex mutex_;  // one HDF5 reader at a time
};

// ---------------------------------------------------------------------------------------
// Simulator

struct SimVolume {
  Array<cfloat> kspace;  // [slice coil read phase]
  Array<float> rss;      // [slice y x]
  double max_value = 0;
  IsmrmrdInfo header;
  std::string name;
};

// The adapter to the simulator: one planned volume, simulated whole.
SimVolume simulate_block_volume(const sim::VolumeSpec& spec) {
  const sim::TissueAtlas& atlas = sim::cached_atlas();
  sim::SimulatedVolume v = sim::simulate_volume(spec, atlas);
  SimVolume out;
  out.kspace = std::move(v.kspace);
  out.rss = std::move(v.rss);
  for (float x : out.rss.flat()) out.max_value = std::max(out.max_value, static_cast<double>(x));
  out.header = v.header;
  out.name = spec.name;
  return out;
}

class SimSource final : public SampleSource {
 public:
  explicit SimSource(const SimSourceOptions& o) : o_(o), prof_(sim::make_profile(o.profile)) {
    RB_CHECK(o.block_volumes >= 1 && o.reuse >= 1, "sim data: block volumes and reuse must be >= 1");
    RB_CHECK(!o.vendors.empty(), "sim data: at least one vendor is needed");
    for (const auto& v : o.vendors) vendors_.push_back(sim::parse_vendor(v));
    S_ = prof_.slices_max;
    block_steps_ = o.block_volumes * S_ * o.reuse;
    epoch_ = o.epoch_size > 0 ? o.epoch_size : int64_t{prof_.train} * S_;
    (void)sim::cached_atlas();  // load (and report a missing template) before threads start
  }
  int64_t epoch_size() const override { return epoch_; }
  std::string describe() const override {
    std::string v;
    for (const auto& s : o_.vendors) v += (v.empty() ? "" : ",") + s;
    return cat("sim:", o_.profile, ":", o_.seed, " (vendors ", v, ", ", o_.block_volumes,
               " volumes per block, reuse ", o_.reuse, ")");
  }

  TrainSample sample(int epoch, int64_t i) const override {
    const int64_t g = static_cast<int64_t>(epoch) * epoch_ + i;
    const int64_t b = g / block_steps_, p = g % block_steps_;
    const int64_t q = permutation(block_steps_, sim::stream_seed({o_.seed, uint64_t(b), 0xB10C}))[p] %
                      (o_.block_volumes * S_);
    const int64_t j = q / S_, s = q % S_;
    auto vol = volume(b, j);
    TrainSample t;
    t.kspace = Array<cfloat>::from_view(vol->kspace(s));
    t.target = Array<float>::from_view(vol->rss(s));
    t.max_value = vol->max_value;
    t.header = vol->header;
    t.name = vol->name;
    t.slice = s;
    return t;
  }

 private:
  sim::VolumeSpec plan(int64_t b, int64_t j) const {
    sim::Profile p = prof_;
    p.train = static_cast<int>(o_.block_volumes);
    const uint64_t seed = sim::stream_seed({o_.seed, uint64_t(b), 0x5EED});
    auto plans = sim::plan_dataset(p, seed, {"train"});
    sim::VolumeSpec spec = plans.at(j).spec;
    spec.slices = static_cast<int>(S_);
    sim::Rng rng{o_.seed, uint64_t(b), uint64_t(j), 0xBE4D};
    spec.vendor = vendors_[static_cast<size_t>(rng.integer(0, int64_t(vendors_.size()) - 1))];
    spec.name = cat("sim_", o_.profile, "_", o_.seed, "_b", b, "_v", j, "_", spec.acquisition);
    return spec;
  }

  // Volume j of block b, simulated once by the first thread that needs it (the others
  // wait); blocks two behind the newest requested one are dropped.
  std::shared_ptr<const SimVolume> volume(int64_t b, int64_t j) const {
    const int64_t key = b * o_.block_volumes + j;
    std::unique_lock lock(mutex_);
    if (b > newest_block_) {
      newest_block_ = b;
      cache_.erase(cache_.begin(), cache_.lower_bound((b - 1) * o_.block_volumes));
    }
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      cache_[key] = Entry{};
      lock.unlock();
      Entry e;
      try {
        e.volume = std::make_shared<const SimVolume>(simulate_block_volume(plan(b, j)));
      } catch (...) {
        e.error = std::current_exception();
      }
      e.ready = true;
      lock.lock();
      cache_[key] = e;
      ready_.notify_all();
      if (e.error) std::rethrow_exception(e.error);
      return e.volume;
    }
    ready_.wait(lock, [&] {
      auto f = cache_.find(key);
      return f == cache_.end() || f->second.ready;
    });
    auto f = cache_.find(key);
    RB_ASSERT(f != cache_.end(), "sim data: volume dropped while waited for");
    if (f->second.error) std::rethrow_exception(f->second.error);
    return f->second.volume;
  }

  struct Entry {
    bool ready = false;
    std::shared_ptr<const SimVolume> volume;
    std::exception_ptr error;
  };
  SimSourceOptions o_;
  sim::Profile prof_;
  std::vector<sim::Vendor> vendors_;
  int64_t S_ = 1, block_steps_ = 1, epoch_ = 1;
  mutable std::mutex mutex_;
  mutable std::condition_variable ready_;
  mutable std::map<int64_t, Entry> cache_;
  mutable int64_t newest_block_ = -1;
};

}  // namespace

std::unique_ptr<SampleSource> make_file_source(const fs::path& dir, uint32_t seed,
                                               int64_t max_slices) {
  return std::make_unique<FileSource>(dir, seed, max_slices);
}

std::optional<SimSourceOptions> parse_sim_data(const std::string& spec) {
  if (spec.rfind("sim:", 0) != 0) return std::nullopt;
  SimSourceOptions o;
  const std::string rest = spec.substr(4);
  const auto colon = rest.find(':');
  o.profile = rest.substr(0, colon);
  RB_CHECK(!o.profile.empty(), "--data ", spec, ": expected sim:PROFILE[:SEED] (e.g. sim:small:7)");
  (void)sim::make_profile(o.profile);  // UserError naming unknown profiles
  if (colon != std::string::npos) {
    const std::string s = rest.substr(colon + 1);
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    RB_CHECK(!s.empty() && *end == 0 && s[0] != '-', "--data ", spec, ": seed '", s,
             "' is not a non-negative integer");
    o.seed = v;
  }
  return o;
}

std::unique_ptr<SampleSource> make_sim_source(const SimSourceOptions& opts) {
  return std::make_unique<SimSource>(opts);
}

}  // namespace rb::ml
