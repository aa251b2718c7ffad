// reconbench info: what a fastMRI file holds (shapes, attrs, ISMRMRD header essentials).
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "reconbench/cli/command.hpp"
#include "reconbench/cli/sandboxed.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/io/fastmri.hpp"

namespace fs = std::filesystem;

namespace {

using nlohmann::json;

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Phase-encode columns holding any non-zero sample in one k-space slice [coil read phase].
int64_t nonzero_columns(const rb::Array<rb::cfloat>& k) {
  const int64_t C = k.dim(0), H = k.dim(1), W = k.dim(2);
  std::vector<char> hit(static_cast<size_t>(W), 0);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < H; ++r)
      for (int64_t p = 0; p < W; ++p)
        if (k[(c * H + r) * W + p] != rb::cfloat(0.f, 0.f)) hit[static_cast<size_t>(p)] = 1;
  int64_t n = 0;
  for (char h : hit) n += h;
  return n;
}

json describe(const fs::path& path) {
  rb::FastMriFile f(path);
  json j;
  j["file"] = path.string();
  j["kspace_shape"] = f.kspace_shape();
  j["slices"] = f.num_slices();
  j["coils"] = f.num_coils();
  j["readout"] = f.readout();
  j["phase"] = f.phase();
  j["acquisition"] = f.acquisition();
  j["patient_id"] = f.patient_id();
  j["has_header"] = f.has_header();
  if (f.has_header()) {
    const rb::IsmrmrdInfo& h = f.header();
    j["vendor"] = h.vendor;
    j["model"] = h.model;
    j["field_strength_t"] = h.field_strength_t;
    j["receiver_channels"] = h.receiver_channels;
    j["protocol_name"] = h.protocol_name;
    j["encoded_size"] = {h.enc_x, h.enc_y, h.enc_z};
    j["recon_size"] = {h.recon_x, h.recon_y, h.recon_z};
    j["encoded_fov_mm"] = {h.enc_fov_x, h.enc_fov_y, h.enc_fov_z};
    j["recon_fov_mm"] = {h.recon_fov_x, h.recon_fov_y, h.recon_fov_z};
    j["pe_limits"] = {{"minimum", h.pe_min}, {"maximum", h.pe_max}, {"center", h.pe_center}};
    j["padding_left"] = h.padding_left();
    j["padding_right"] = h.padding_right();
    j["tr_ms"] = h.tr_ms;
    j["te_ms"] = h.te_ms;
    j["ti_ms"] = h.ti_ms;
    j["flip_angle_deg"] = h.flip_angle_deg;
  }
  j["has_mask"] = f.has_mask();
  if (f.has_mask()) {
    int64_t n = 0;
    for (float m : f.read_mask()) n += m != 0.f;
    j["mask_sampled_columns"] = n;
  } else {
    j["mask_sampled_columns"] = nullptr;
  }
  // Non-zero columns of the middle slice: tells undersampled from fully sampled k-space
  // without reading the whole volume.
  j["nonzero_columns_mid_slice"] = nonzero_columns(f.read_kspace_slice(f.num_slices() / 2));
  j["acceleration"] = opt(f.acceleration());
  j["num_low_frequency"] = opt(f.num_low_frequency());
  j["has_ground_truth"] = f.has_target();
  j["target_shape"] = f.has_target() ? json(f.target_shape()) : json(nullptr);
  j["max"] = opt(f.attr_max());
  j["norm"] = opt(f.attr_norm());
  return j;
}

std::string shape_of(const json& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + std::to_string(a[i].get<int64_t>());
  return s + ")";
}

std::string num(const json& v) {
  if (v.is_null()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
  return buf;
}

void print_text(const json& j) {
  std::printf("%s\n", j["file"].get<std::string>().c_str());
  std::printf("  kspace            %s  (slices, coils, readout, phase) complex64\n",
              shape_of(j["kspace_shape"]).c_str());
  std::printf("  acquisition       %s\n",
              j["acquisition"].get<std::string>().empty()
                  ? "-"
                  : j["acquisition"].get<std::string>().c_str());
  if (!j["patient_id"].get<std::string>().empty())
    std::printf("  patient_id        %s\n", j["patient_id"].get<std::string>().c_str());
  if (j["has_header"].get<bool>()) {
    std::printf("  system            %s %s, %s T, %lld receiver channels\n",
                j["vendor"].get<std::string>().c_str(), j["model"].get<std::string>().c_str(),
                num(j["field_strength_t"]).c_str(),
                static_cast<long long>(j["receiver_channels"].get<int64_t>()));
    if (!j["protocol_name"].get<std::string>().empty())
      std::printf("  protocol          %s  (TR %s ms, TE %s ms, TI %s ms, flip %s deg)\n",
                  j["protocol_name"].get<std::string>().c_str(), num(j["tr_ms"]).c_str(),
                  num(j["te_ms"]).c_str(), num(j["ti_ms"]).c_str(),
                  num(j["flip_angle_deg"]).c_str());
    std::printf("  encoded size      %s  FOV %s x %s x %s mm\n", shape_of(j["encoded_size"]).c_str(),
                num(j["encoded_fov_mm"][0]).c_str(), num(j["encoded_fov_mm"][1]).c_str(),
                num(j["encoded_fov_mm"][2]).c_str());
    std::printf("  recon size        %s  FOV %s x %s x %s mm\n", shape_of(j["recon_size"]).c_str(),
                num(j["recon_fov_mm"][0]).c_str(), num(j["recon_fov_mm"][1]).c_str(),
                num(j["recon_fov_mm"][2]).c_str());
    std::printf("  phase encoding    limits %lld..%lld, center %lld; padding left %lld, right %lld\n",
                static_cast<long long>(j["pe_limits"]["minimum"].get<int64_t>()),
                static_cast<long long>(j["pe_limits"]["maximum"].get<int64_t>()),
                static_cast<long long>(j["pe_limits"]["center"].get<int64_t>()),
                static_cast<long long>(j["padding_left"].get<int64_t>()),
                static_cast<long long>(j["padding_right"].get<int64_t>()));
  } else {
    std::printf("  ismrmrd_header    absent\n");
  }
  if (j["has_mask"].get<bool>())
    std::printf("  mask              %lld of %lld columns sampled\n",
                static_cast<long long>(j["mask_sampled_columns"].get<int64_t>()),
                static_cast<long long>(j["phase"].get<int64_t>()));
  else
    std::printf("  mask              absent\n");
  std::printf("  non-zero columns  %lld of %lld (middle slice)\n",
              static_cast<long long>(j["nonzero_columns_mid_slice"].get<int64_t>()),
              static_cast<long long>(j["phase"].get<int64_t>()));
  if (!j["acceleration"].is_null() || !j["num_low_frequency"].is_null())
    std::printf("  acceleration      %s, num_low_frequency %s\n", num(j["acceleration"]).c_str(),
                num(j["num_low_frequency"]).c_str());
  if (j["has_ground_truth"].get<bool>())
    std::printf("  ground truth      reconstruction_rss %s float32\n",
                shape_of(j["target_shape"]).c_str());
  else
    std::printf("  ground truth      absent\n");
  std::printf("  max, norm         %s, %s\n", num(j["max"]).c_str(), num(j["norm"]).c_str());
}

struct InfoCmd final : rb::cli::Command {
  std::vector<std::string> inputs;
  bool as_json = false, sandbox = false;

  void declare(CLI::App& app) override {
    app.add_option("files", inputs, "fastMRI .h5 files, or directories of them")->required();
    app.add_flag("--json", as_json, "print a JSON array, one object per file");
    app.add_flag("--sandbox", sandbox,
                 "parse the files in a sandboxed child process that can only read them (for "
                 "files from someone else: a crafted file crashes or hangs the child, not you)");
  }

  int run() override {
    if (sandbox) return rb::cli::rerun_sandboxed("info", {{inputs.begin(), inputs.end()}, {}});
    std::vector<fs::path> files = rb::list_inputs(inputs, ".h5");
    json all = json::array();
    int failed = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      json j;
      try {
        j = describe(files[i]);
      } catch (const rb::UserError& e) {
        ++failed;
        std::fprintf(stderr, "reconbench info: error: %s\n", e.what());
        j = {{"file", files[i].string()}, {"error", e.what()}};
      }
      if (as_json) {
        all.push_back(j);
      } else if (!j.contains("error")) {
        if (i) std::printf("\n");
        print_text(j);
      }
    }
    if (as_json) std::cout << all.dump(2) << "\n";
    return failed ? 2 : 0;
  }
};

const rb::cli::Registrar reg(
    {"info", "describe fastMRI files: shapes, attributes, ISMRMRD header, mask",
     "For each file prints the k-space shape (slices, coils, readout, phase), acquisition, "
     "vendor/model and field strength, the encoded and recon matrix sizes and FOV, the "
     "phase-encode limits with fastMRI's padding_left/padding_right, whether a mask is "
     "present and how many columns it samples, acceleration and num_low_frequency, whether "
     "ground truth (reconstruction_rss) is present, and max/norm. Files that cannot be read "
     "are reported on stderr (exit status 2) and the others are still described; with "
     "--json they appear as {\"file\", \"error\"} objects.",
     {"reconbench info data/val/file_brain_AXT2_200_2000019.h5",
      "reconbench info --json data/test_4x", "reconbench info data/train/*.h5"},
     10},
    [] { return std::make_unique<InfoCmd>(); });

}  // namespace
