// reconbench render: montage of the middle slice of every file, grouped by contrast/vendor.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "reconbench/cli/command.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/io/png.hpp"
#include "reconbench/sim/manifest.hpp"
#include "reconbench/sim/volume.hpp"

namespace {

namespace fs = std::filesystem;

// Bilinear resize of [h w] to (n, n) after centre-cropping to a square.
rb::Array<float> square_resize(const rb::Array<float>& img, int64_t n) {
  const int64_t h = img.dim(0), w = img.dim(1), m = std::min(h, w);
  const int64_t r0 = (h - m) / 2, c0 = (w - m) / 2;
  rb::Array<float> out({n, n});
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x) {
      const double fy = (y + 0.5) * m / n - 0.5, fx = (x + 0.5) * m / n - 0.5;
      const int64_t y0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(fy)), 0, m - 1);
      const int64_t x0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(fx)), 0, m - 1);
      const int64_t y1 = std::min(y0 + 1, m - 1), x1 = std::min(x0 + 1, m - 1);
      const double ay = std::clamp(fy - y0, 0.0, 1.0), ax = std::clamp(fx - x0, 0.0, 1.0);
      auto at = [&](int64_t a, int64_t b) { return img[(a + r0) * w + b + c0]; };
      out[y * n + x] = static_cast<float>((1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x1)) +
                                          ay * ((1 - ax) * at(y1, x0) + ax * at(y1, x1)));
    }
  return out;
}

struct RenderCmd final : rb::cli::Command {
  std::vector<std::string> inputs;
  std::string out;
  int tile = 160;
  int per_row = 8;

  void declare(CLI::App& app) override {
    app.add_option("inputs", inputs,
                   "fastMRI .h5 files, directories of them, or a dataset root with manifest.json")
        ->required();
    app.add_option("--out", out, "output PNG")->required();
    app.add_option("--tile", tile, "tile size in pixels")->default_val(160)->check(CLI::Range(32, 1024));
    app.add_option("--per-row", per_row, "tiles per row at most")->default_val(8)->check(CLI::Range(1, 64));
  }

  int run() override {
    // (file, group key, middle-slice image)
    std::map<std::string, std::vector<std::pair<fs::path, rb::Array<float>>>> groups;
    size_t nfiles = 0;
    auto middle = [](const rb::Array<float>& vol) {
      const int64_t s = vol.dim(0) / 2, h = vol.dim(1), w = vol.dim(2);
      rb::Array<float> img({h, w});
      std::copy(vol.data() + s * h * w, vol.data() + (s + 1) * h * w, img.data());
      return img;
    };
    for (const auto& in : inputs) {
      const fs::path p(in);
      if (fs::is_directory(p) && fs::exists(p / "manifest.json")) {
        // A simulated dataset: masked files are shown through their hidden ground truth.
        for (const auto& e : rb::sim::read_manifest(p).files) {
          const fs::path f = p / e.file;
          rb::Array<float> img =
              !e.ground_truth.empty()
                  ? middle(rb::read_reconstruction(p / e.ground_truth, "reconstruction_rss"))
                  : rb::FastMriFile(f).read_target_slice(e.slices / 2);
          groups[e.contrast + " / " + e.vendor].emplace_back(f, std::move(img));
          ++nfiles;
        }
        continue;
      }
      for (const auto& f : rb::list_inputs({in}, ".h5")) {
        rb::FastMriFile fm(f);
        const int64_t s = fm.num_slices() / 2;
        rb::Array<float> img;
        if (fm.has_target()) {
          img = fm.read_target_slice(s);
        } else {
          const auto& hd = fm.header();
          const int64_t h = hd.recon_x > 0 ? std::min(hd.recon_x, fm.readout()) : fm.phase();
          const int64_t w = hd.recon_y > 0 ? std::min(hd.recon_y, fm.phase()) : fm.phase();
          img = rb::sim::rss_crop(fm.read_kspace_slice(s).view(), h, w);
        }
        const std::string vendor = fm.has_header() ? fm.header().vendor : "?";
        groups[fm.acquisition() + " / " + vendor].emplace_back(f, std::move(img));
        ++nfiles;
      }
    }
    RB_CHECK(nfiles > 0, "render: no .h5 files in the inputs");
    std::vector<rb::Image8> rows;
    int64_t row_width = 0;
    std::ofstream legend(out + ".txt");
    int row_index = 0;
    for (auto& [key, items] : groups) {
      for (size_t start = 0; start < items.size(); start += per_row) {
        std::vector<rb::Image8> tiles;
        std::cout << "row " << row_index << ": " << key << ":";
        legend << "row " << row_index << ": " << key << ":";
        for (size_t i = start; i < std::min(items.size(), start + per_row); ++i) {
          rb::Array<float> t = square_resize(items[i].second, tile);
          std::vector<float> v(t.flat().begin(), t.flat().end());
          std::nth_element(v.begin(), v.begin() + static_cast<int64_t>(v.size() * 0.995), v.end());
          const float hi = std::max(1e-20f, v[static_cast<size_t>(v.size() * 0.995)]);
          tiles.push_back(rb::to_grey(t.view(), 0.0f, hi));
          std::cout << " " << items[i].first.filename().string();
          legend << " " << items[i].first.filename().string();
        }
        std::cout << "\n";
        legend << "\n";
        rows.push_back(rb::hconcat(tiles, 2));
        row_width = std::max(row_width, rows.back().width);
        ++row_index;
      }
    }
    // Pad rows to a common width.
    for (auto& r : rows) {
      if (r.width == row_width) continue;
      rb::Image8 p;
      p.height = r.height;
      p.width = row_width;
      p.channels = r.channels;
      p.pixels.assign(static_cast<size_t>(p.height * p.width * p.channels), 0);
      for (int64_t y = 0; y < r.height; ++y)
        std::copy(r.pixels.begin() + y * r.width * r.channels,
                  r.pixels.begin() + (y + 1) * r.width * r.channels,
                  p.pixels.begin() + y * p.width * p.channels);
      r = std::move(p);
    }
    rb::write_png(out, rb::vconcat(rows, 4));
    std::cout << "wrote " << out << " (" << nfiles << " files, " << rows.size() << " rows)\n";
    return 0;
  }
};

const rb::cli::Registrar reg(
    {"render", "montage PNG of the middle slice of each file, per contrast and vendor",
     "For every fastMRI file (or every file of a dataset's manifest) renders the RSS of the "
     "middle slice (reconstruction_rss if present, the hidden ground truth for masked files of "
     "a dataset root, else the zero-filled RSS of the stored k-space cropped to reconSpace), windowed to its 99.5th percentile, as tiles in rows "
     "grouped by contrast and vendor. The row order is printed and written to OUT.txt.",
     {"reconbench render data/ci --out ci.png",
      "reconbench render data/small/multicoil_val --out val.png --tile 256"},
     11},
    [] { return std::make_unique<RenderCmd>(); });

}  // namespace
