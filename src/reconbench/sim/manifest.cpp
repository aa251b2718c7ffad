#include "reconbench/sim/manifest.hpp"

#include "reconbench/core/error.hpp"
#include <tuple>
#include <utility>

#include "reconbench/core/fs.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rb::sim {

namespace {

template <class T>
T get_or(const json& j, const char* key, T def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  return it->get<T>();
}

template <size_t N>
std::optional<std::array<int64_t, N>> int_array(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array() || it->size() != N) return std::nullopt;
  std::array<int64_t, N> a{};
  for (size_t i = 0; i < N; ++i) {
    if (!(*it)[i].is_number_integer()) return std::nullopt;
    a[i] = (*it)[i].get<int64_t>();
  }
  return a;
}

json string_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

template <class A>
json array_or_null(const std::optional<A>& a) {
  return a ? json(*a) : json(nullptr);
}

ManifestFile parse_entry(const json& f) {
  ManifestFile e;
  e.file = f.at("file").get<std::string>();
  e.sim_split = get_or<std::string>(f, "split", "");
  e.track = get_or<std::string>(f, "track", "");
  e.contrast = get_or<std::string>(f, "contrast", "");
  e.vendor = get_or<std::string>(f, "vendor", "");
  e.patient_id = get_or<std::string>(f, "patient_id", "");
  e.field_t = get_or<double>(f, "field_t", 0.0);
  e.snr = get_or<double>(f, "snr", 0.0);
  e.coils = get_or<int64_t>(f, "coils", 0);
  e.slices = get_or<int64_t>(f, "slices", 0);
  e.readout = get_or<int64_t>(f, "readout", 0);
  e.phase = get_or<int64_t>(f, "phase", 0);
  if (auto r = int_array<2>(f, "recon")) std::tie(e.recon_h, e.recon_w) = std::pair{(*r)[0], (*r)[1]};
  e.acceleration = get_or<int64_t>(f, "acceleration", 0);
  if (f.contains("lesions") && f["lesions"].is_array())
    for (const auto& l : f["lesions"])
      e.lesion_info.push_back({l.is_object() ? get_or<std::string>(l, "type", "") : "",
                               l.is_object() ? int_array<2>(l, "slice_range") : std::nullopt,
                               l.is_object() ? int_array<4>(l, "box") : std::nullopt});
  e.has_pair = get_or<bool>(f, "has_pair", false);
  e.truth = get_or<std::string>(f, "truth", "");
  e.nolesion = get_or<std::string>(f, "nolesion", "");
  e.ground_truth = get_or<std::string>(f, "ground_truth", "");
  derive_fields(e);
  return e;
}

}  // namespace

void derive_fields(ManifestFile& e) {
  e.name = fs::path(e.file).filename().string();
  e.split = fs::path(e.file).parent_path().string();
  if (e.split.empty()) e.split = e.sim_split;
  e.lesions = static_cast<int64_t>(e.lesion_info.size());
  e.lesion_slice = -1;
  for (const auto& l : e.lesion_info)
    if (l.slice_range) {
      e.lesion_slice = ((*l.slice_range)[0] + (*l.slice_range)[1]) / 2;
      break;
    }
}

Manifest parse_manifest(const std::string& text, const fs::path& data_dir, const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    throw UserError(what + ": not valid JSON: " + e.what());
  }
  RB_CHECK(j.is_object() && j.contains("files") && j["files"].is_array(), what,
           ": expected an object with a \"files\" array");
  Manifest m;
  m.root = data_dir;
  try {
    m.seed = get_or<uint64_t>(j, "seed", 0);
    m.profile = get_or<std::string>(j, "profile", "");
    m.version = get_or<std::string>(j, "version", "");
    m.anatomy = get_or<std::string>(j, "anatomy", "");
  } catch (const json::exception& ex) {
    throw UserError(what + ": " + ex.what());
  }
  size_t idx = 0;
  for (const auto& f : j["files"]) {
    try {
      m.files.push_back(parse_entry(f));
    } catch (const json::exception& ex) {
      throw UserError(what + ": files[" + std::to_string(idx) + "]: " + ex.what());
    }
    ++idx;
  }
  return m;
}

Manifest read_manifest(const fs::path& data_dir) {
  const fs::path path = data_dir / "manifest.json";
  RB_CHECK(fs::is_regular_file(path), path.string(),
           ": no manifest (is the data folder written by `reconbench simulate`?)");
  return parse_manifest(read_file(path), data_dir, path.string());
}

json to_json(const ManifestFile& f) {
  json les = json::array();
  for (const auto& l : f.lesion_info)
    les.push_back({{"type", l.type}, {"slice_range", array_or_null(l.slice_range)},
                   {"box", array_or_null(l.box)}});
  return {{"file", f.file}, {"split", f.sim_split}, {"track", string_or_null(f.track)},
          {"contrast", f.contrast}, {"vendor", f.vendor}, {"field_t", f.field_t},
          {"coils", f.coils}, {"slices", f.slices}, {"readout", f.readout}, {"phase", f.phase},
          {"recon", {f.recon_h, f.recon_w}},
          {"acceleration", f.acceleration > 0 ? json(f.acceleration) : json(nullptr)},
          {"patient_id", f.patient_id}, {"lesions", les}, {"has_pair", f.has_pair},
          {"truth", string_or_null(f.truth)}, {"nolesion", string_or_null(f.nolesion)},
          {"ground_truth", string_or_null(f.ground_truth)}, {"snr", f.snr}};
}

json to_json(const Manifest& m) {
  json j;
  j["seed"] = m.seed;
  j["profile"] = m.profile;
  j["version"] = m.version;
  j["anatomy"] = m.anatomy;
  j["files"] = json::array();
  for (const auto& f : m.files) j["files"].push_back(to_json(f));
  return j;
}

void write_manifest(const fs::path& data_dir, const Manifest& m) {
  write_file_atomic(data_dir / "manifest.json", to_json(m).dump(1) + "\n");
}

}  // namespace rb::sim
