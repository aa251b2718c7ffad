#include "reconbench/ml/spec.hpp"

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::ml {

const std::vector<std::string>& model_kind_names() {
  static const std::vector<std::string> names{"unet",          "varnet",  "unet-grappa",
                                              "varnet-grappa", "dualnet", "dualnet-grappa",
                                              "recurrentvarnet", "jointicnet"};
  return names;
}

ModelKind parse_model_kind(const std::string& name) {
  const auto& names = model_kind_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<ModelKind>(i);
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw UserError("unknown model '" + name + "' (expected one of " + list + ")");
}

std::string model_kind_name(ModelKind k) {
  return model_kind_names().at(static_cast<size_t>(k));
}

bool is_varnet(ModelKind k) { return k == ModelKind::VarNet || k == ModelKind::VarNetGrappa; }
bool is_kspace_model(ModelKind k) {
  return k != ModelKind::Unet && k != ModelKind::UnetGrappa;
}
bool uses_grappa(ModelKind k) {
  return k == ModelKind::UnetGrappa || k == ModelKind::VarNetGrappa ||
         k == ModelKind::DualNetGrappa;
}

ModelSpec ModelSpec::defaults(ModelKind kind) {
  ModelSpec s;
  s.kind = kind;
  s.chans = is_varnet(kind) ? 18 : 32;
  if (kind == ModelKind::UnetGrappa) s.in_chans = 2;
  if (kind == ModelKind::DualNet || kind == ModelKind::DualNetGrappa)
    s.chans = 8, s.num_cascades = 6;  // DualNetOptions' CPU size (dualnet.hpp)
  if (kind == ModelKind::RecurrentVarNet)  // RecurrentVarNetOptions (rvarnet.hpp)
    s.chans = 16, s.num_cascades = 8, s.pools = 4;
  if (kind == ModelKind::JointICNet)  // JointICNetOptions (jointicnet.hpp)
    s.chans = 16, s.num_cascades = 8;
  return s;
}

nlohmann::json to_json(const ModelSpec& s) {
  nlohmann::json j;
  j["format"] = "reconbench-weights-1";
  j["model"] = model_kind_name(s.kind);
  j["chans"] = s.chans;
  j["pools"] = s.pools;
  j["drop_prob"] = s.drop_prob;
  j["readout_oversampling"] = s.input.readout_oversampling;
  j["virtual_coils"] = s.input.virtual_coils;
  j["intensity_norm"] = s.input.intensity;
  if (!is_kspace_model(s.kind)) {
    j["in_chans"] = s.in_chans;
    j["out_chans"] = s.out_chans;
  } else {
    j["num_cascades"] = s.num_cascades;
    j["sens_chans"] = s.sens_chans;
    j["sens_pools"] = s.sens_pools;
    j["mask_center"] = s.mask_center;
  }
  j["training"] = s.training;
  return j;
}

ModelSpec spec_from_json(const nlohmann::json& j, const std::string& what) {
  try {
    RB_CHECK(j.is_object() && j.contains("model"), what, ": not a reconbench model description "
                                                         "(no \"model\" field)");
    ModelSpec s = ModelSpec::defaults(parse_model_kind(j.at("model").get<std::string>()));
    s.chans = j.value("chans", s.chans);
    s.pools = j.value("pools", s.pools);
    s.drop_prob = j.value("drop_prob", s.drop_prob);
    s.in_chans = j.value("in_chans", s.in_chans);
    s.out_chans = j.value("out_chans", s.out_chans);
    s.num_cascades = j.value("num_cascades", s.num_cascades);
    s.sens_chans = j.value("sens_chans", s.sens_chans);
    s.sens_pools = j.value("sens_pools", s.sens_pools);
    s.mask_center = j.value("mask_center", s.mask_center);
    s.input.readout_oversampling = j.value("readout_oversampling", s.input.readout_oversampling);
    s.input.virtual_coils = j.value("virtual_coils", s.input.virtual_coils);
    s.input.intensity = j.value("intensity_norm", s.input.intensity);
    if (j.contains("training")) s.training = j.at("training");
    RB_CHECK(s.chans > 0 && s.pools > 0 && s.num_cascades > 0 && s.sens_chans > 0 &&
                 s.sens_pools > 0 && s.in_chans > 0 && s.out_chans > 0,
             what, ": model sizes must be positive");
    RB_CHECK(s.input.readout_oversampling == 1 || s.input.readout_oversampling == 2, what,
             ": readout_oversampling must be 1 or 2");
    RB_CHECK(s.input.virtual_coils >= 0, what, ": virtual_coils must be >= 0");
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw UserError(what + ": invalid model description: " + e.what());
  }
}

std::filesystem::path spec_path_for(const std::filesystem::path& weights) {
  auto p = weights;
  return p.replace_extension(".json");
}

ModelSpec read_spec(const std::filesystem::path& weights) {
  const auto path = spec_path_for(weights);
  RB_CHECK(std::filesystem::exists(path), "weights ", weights.string(),
           ": model description ", path.string(), " not found (train/convert-weights write it "
           "beside the .pt file)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path.string() + ": not valid JSON: " + e.what());
  }
  return spec_from_json(j, path.string());
}

}  // namespace rb::ml
