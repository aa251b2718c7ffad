// A tiny challenge dataset written in the simulator's layout (manifest.json, ground truth
// with reconstruction_rss + attrs) and submissions derived from it, for the challenge and
// server tests. Volumes are 2-3 slices of 32x32 smooth phantoms so scoring takes
// milliseconds.
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdlib>
#include <numbers>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/h5.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/fft/fft.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rb::testing {

namespace fs = std::filesystem;

inline fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() /
               ("rbtest-" + name + "-" + std::to_string(::getpid()) + "-" +
                std::to_string(std::random_device{}()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline Array<float> phantom(int64_t slices, int64_t n, int seed) {
  Array<float> a({slices, n, n});
  for (int64_t s = 0; s < slices; ++s)
    for (int64_t y = 0; y < n; ++y)
      for (int64_t x = 0; x < n; ++x) {
        const double cy = (y - n / 2.0) / (n / 3.0), cx = (x - n / 2.0) / (n / 2.6);
        const double r2 = cy * cy + cx * cx;
        double v = r2 < 1 ? 1e-4 * (0.6 + 0.4 * std::cos(3 * cx + s + seed) * std::sin(2 * cy)) : 2e-6;
        a.at(s, y, x) = static_cast<float>(v);
      }
  return a;
}

// recon = gt + noise of relative level `noise` (deterministic per seed).
inline Array<float> noisy(const Array<float>& gt, double noise, unsigned seed) {
  Array<float> out = gt;
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, 1.0);
  for (auto& v : out.flat()) v = static_cast<float>(std::max(0.0, v + noise * 1e-4 * nd(rng)));
  return out;
}

struct FixtureFile {
  std::string split, name, contrast, vendor, track;
  int acceleration;
  int64_t slices;
};

// Writes DATA with test (2 x 4X, 1 x 8X), challenge (2 x 4X incl. a lesion case, 1 x 8X)
// and transfer (2 x 4X: ge, philips) volumes. Returns DATA.
inline fs::path make_dataset(const fs::path& root) {
  const fs::path data = root / "data";
  const std::vector<FixtureFile> files = {
      {"multicoil_test", "file_brain_AXT2_001.h5", "AXT2", "siemens", "", 4, 2},
      {"multicoil_test", "file_brain_AXFLAIR_002.h5", "AXFLAIR", "siemens", "", 4, 3},
      {"multicoil_test", "file_brain_AXT1POST_003.h5", "AXT1POST", "siemens", "", 8, 2},
      {"multicoil_challenge", "file_brain_AXT2_101.h5", "AXT2", "siemens", "multicoil_4x", 4, 2},
      {"multicoil_challenge", "file_brain_AXT1POST_102.h5", "AXT1POST", "siemens", "multicoil_4x", 4, 2},
      {"multicoil_challenge", "file_brain_AXFLAIR_103.h5", "AXFLAIR", "siemens", "multicoil_8x", 8, 2},
      {"transfer_challenge", "file_brain_AXT2_201.h5", "AXT2", "ge", "transfer_4x", 4, 2},
      {"transfer_challenge", "file_brain_AXT1_202.h5", "AXT1", "philips", "transfer_4x", 4, 2},
  };
  nlohmann::json m = {{"seed", 7}, {"profile", "unit"}, {"files", nlohmann::json::array()}};
  int seed = 0;
  for (const auto& f : files) {
    const std::string gt = "ground_truth/" + f.split + "/" + f.name;
    fs::create_directories(data / "ground_truth" / f.split);
    auto vol = phantom(f.slices, 32, seed++);
    double mx = 0;
    for (float v : vol.flat()) mx = std::max(mx, double(v));
    challenge::write_float_volume(data / gt, "reconstruction_rss", vol, {{"acquisition", f.contrast}},
                                  {{"max", mx}});
    m["files"].push_back({{"file", f.split + "/" + f.name},
                          {"split", f.split},
                          {"track", f.track.empty() ? nlohmann::json() : nlohmann::json(f.track)},
                          {"contrast", f.contrast},
                          {"vendor", f.vendor},
                          {"field_t", 3.0},
                          {"coils", 4},
                          {"slices", f.slices},
                          {"recon", {32, 32}},
                          {"acceleration", f.acceleration},
                          {"lesions", f.name == "file_brain_AXT2_101.h5" ? nlohmann::json::array({{{"type", "glioma"}, {"slice_range", {1, 1}}}})
                                                                         : nlohmann::json::array()},
                          {"ground_truth", gt}});
  }
  write_file_atomic(data / "manifest.json", m.dump(2));
  return data;
}

// The public inputs of DATA written by make_dataset (each manifest "file"): fastMRI k-space
// [slice 4 32 32] whose fully sampled RSS is exactly the ground truth (coil c sees the image
// times 0.5 e^{i c pi/3}), undersampled by a centre-keeping column mask of the file's
// acceleration. The validator's scale reference (zero-filled RSS) is computed from these.
inline void write_kspace_inputs(const fs::path& data) {
  auto m = nlohmann::json::parse(read_file(data / "manifest.json"));
  for (const auto& f : m["files"]) {
    auto gt = challenge::read_float32(data / f["ground_truth"].get<std::string>(), "reconstruction_rss");
    const int64_t S = gt.dim(0), H = gt.dim(1), W = gt.dim(2), C = 4;
    const int acc = f["acceleration"].get<int>();
    std::vector<float> mask(size_t(W), 0.f);
    for (int64_t x = 0; x < W; ++x)
      if (std::abs(x - W / 2) < std::max<int64_t>(2, W / (3 * acc)) || x % acc == 0) mask[size_t(x)] = 1.f;
    FastMriVolume vol;
    vol.kspace = Array<cfloat>({S, C, H, W});
    for (int64_t s = 0; s < S; ++s)
      for (int64_t c = 0; c < C; ++c) {
        const cfloat sens = std::polar(0.5f, float(double(c) * std::numbers::pi / 3));
        for (int64_t y = 0; y < H; ++y)
          for (int64_t x = 0; x < W; ++x) vol.kspace.at(s, c, y, x) = sens * gt.at(s, y, x);
      }
    fft2c(vol.kspace.view());
    for (int64_t s = 0; s < S; ++s)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
          for (int64_t x = 0; x < W; ++x) vol.kspace.at(s, c, y, x) *= mask[size_t(x)];
    vol.mask = mask;
    vol.acquisition = f["contrast"].get<std::string>();
    vol.acceleration = acc;
    const fs::path out = data / f["file"].get<std::string>();
    fs::create_directories(out.parent_path());
    write_fastmri(out, vol);
  }
}

// A submission directory for (split, acceleration): GT + noise; noise 0 = perfect.
inline fs::path make_submission(const fs::path& data, const fs::path& out, const std::string& split,
                                int acceleration, double noise, unsigned seed) {
  fs::create_directories(out);
  auto m = nlohmann::json::parse(read_file(data / "manifest.json"));
  for (const auto& f : m["files"]) {
    if (f["split"] != split || f["acceleration"] != acceleration) continue;
    auto gt = challenge::read_float32(data / f["ground_truth"].get<std::string>(), "reconstruction_rss");
    challenge::write_float_volume(out / fs::path(f["file"].get<std::string>()).filename(), "reconstruction",
                                  noisy(gt, noise, seed++));
  }
  return out;
}

}  // namespace rb::testing
