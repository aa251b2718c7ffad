#include "reconbench/ml/checkpoint.hpp"

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::ml {

namespace fs = std::filesystem;
using nlohmann::json;

json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch}, {"step", r.step}, {"train_loss", r.train_loss},
          {"val_ssim", r.val_ssim}, {"val_ssim_zero_filled", r.val_ssim_zero_filled},
          {"val_ssim_grappa", r.val_ssim_grappa}, {"lr", r.lr}, {"seconds", r.seconds},
          {"slices_per_second", r.slices_per_second}};
}
EpochRecord record_from_json(const json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch");
  r.train_loss = j.at("train_loss");
  r.val_ssim = j.at("val_ssim");
  r.val_ssim_zero_filled = j.at("val_ssim_zero_filled");
  r.step = j.value("step", int64_t{0});
  r.val_ssim_grappa = j.value("val_ssim_grappa", -1.0);
  r.lr = j.at("lr");
  r.seconds = j.at("seconds");
  r.slices_per_second = j.value("slices_per_second", 0.0);
  return r;
}

void save_checkpoint(const fs::path& path, Model& model, torch::optim::Optimizer& opt,
                     const Progression& prog, const json& identity) {
  json meta = {{"identity", identity},
               {"epoch", prog.epoch},
               {"step", prog.step},
               {"loss_sum", prog.loss_sum},
               {"epoch_seconds", prog.epoch_seconds},
               {"history", json::array()}};
  for (const auto& r : prog.history) meta["history"].push_back(to_json(r));
  torch::serialize::OutputArchive ar, mar, oar;
  model.module().save(mar);
  opt.save(oar);
  ar.write("model", mar);
  ar.write("optimizer", oar);
  ar.write("meta", c10::IValue(meta.dump()));
  AtomicOutput out(path);
  ar.save_to(out.tmp().string());
  out.commit();
}

Progression load_checkpoint(const fs::path& path, Model& model, torch::optim::Optimizer& opt,
                            const json& identity) {
  torch::serialize::InputArchive ar, mar, oar;
  c10::IValue meta_v;
  try {
    ar.load_from(path.string(), model.device());
    ar.read("model", mar);
    ar.read("optimizer", oar);
    ar.read("meta", meta_v);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw UserError("checkpoint " + path.string() + ": cannot read (" +
                    msg.substr(0, msg.find('\n')) + ")");
  }
  json meta = json::parse(meta_v.toStringRef());
  RB_CHECK(meta.at("identity") == identity, "--resume: checkpoint ", path.string(),
           " was made with different options (", meta.at("identity").dump(), "); use the same "
           "model/mask/seed options or a new --out");
  try {
    model.module().load(mar);
    opt.load(oar);
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    throw UserError("checkpoint " + path.string() + ": does not match the model (" +
                    msg.substr(0, msg.find('\n')) + ")");
  }
  Progression p;
  p.epoch = meta.at("epoch");
  p.step = meta.at("step");
  p.loss_sum = meta.at("loss_sum");
  p.epoch_seconds = meta.at("epoch_seconds");
  for (const auto& r : meta.at("history")) p.history.push_back(record_from_json(r));
  return p;
}

}  // namespace rb::ml
