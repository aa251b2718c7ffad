// The trainer (train.hpp): data, masks, optimiser, validation, checkpoints, c10d.
#include "reconbench/ml/train.hpp"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/fft/transforms.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/ml/pipeline.hpp"
#include "reconbench/recon/run.hpp"
#include "reconbench/sampling/masks.hpp"

namespace rb::ml {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------
// Data

struct SliceRef {
  int64_t file = 0, slice = 0;
};

class Split {
 public:
  Split() = default;
  explicit Split(const fs::path& dir) {
    files_ = list_inputs({dir.string()}, ".h5");
    handles_.resize(files_.size());
    for (size_t f = 0; f < files_.size(); ++f) {
      const auto& file = open(static_cast<int64_t>(f));
      RB_CHECK(file.has_target(), "training data ", files_[f].string(),
               ": no reconstruction_rss (train/val files must be fully sampled with a target)");
      for (int64_t s = 0; s < file.num_slices(); ++s)
        slices_.push_back({static_cast<int64_t>(f), s});
    }
  }
  const FastMriFile& open(int64_t f) {
    if (!handles_[f]) handles_[f] = std::make_unique<FastMriFile>(files_[f]);
    return *handles_[f];
  }
  const std::vector<fs::path>& files() const { return files_; }
  const std::vector<SliceRef>& slices() const { return slices_; }
  void keep_slices(std::vector<SliceRef> s) { slices_ = std::move(s); }

 private:
  std::vector<fs::path> files_;
  std::vector<std::unique_ptr<FastMriFile>> handles_;
  std::vector<SliceRef> slices_;
};

std::pair<int64_t, int64_t> padding_of(const FastMriFile& f) {
  return acquired_columns(f.has_header() ? &f.header() : nullptr, f.phase());
}

// fastMRI's crop for the U-Net input: the target size, or (W, W) when the k-space is
// narrower than the target (FLAIR-203 rule).
std::pair<int64_t, int64_t> unet_crop(const FastMriFile& f, int64_t th, int64_t tw) {
  if (f.phase() < tw) return {f.phase(), f.phase()};
  return {th, tw};
}

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

uint32_t mask_seed(uint32_t seed, int epoch, int rank) {
  return seed * 2654435761u + static_cast<uint32_t>(epoch) * 7919u +
         static_cast<uint32_t>(rank) * 104729u;
}

double ssim_slice(const torch::Tensor& gt, const torch::Tensor& pred, double data_range) {
  static SSIMLoss loss;  // constant buffers only
  auto x = pred.to(torch::kDouble).view({1, 1, pred.size(-2), pred.size(-1)});
  auto y = gt.to(torch::kDouble).view({1, 1, gt.size(-2), gt.size(-1)});
  return 1.0 - loss->forward(x, y, torch::full({1}, data_range, torch::kDouble)).item<double>();
}

// ---------------------------------------------------------------------------------------
// Distributed

class Dist {
 public:
  Dist(const TrainOptions& o) : rank_(o.rank), world_(o.world_size) {
    RB_CHECK(o.world_size >= 1, "--world-size must be >= 1");
    RB_CHECK(o.rank >= 0 && o.rank < o.world_size, "--rank ", o.rank, " outside [0, ",
             o.world_size, ")");
    if (world_ == 1) return;
    c10::intrusive_ptr<c10d::Store> store;
    try {
      if (!o.dist_file.empty()) {
        store = c10::make_intrusive<c10d::FileStore>(o.dist_file.string(), world_);
      } else {
        RB_CHECK(o.master_port > 0 && o.master_port < 65536, "--master-port ", o.master_port,
                 " is not a TCP port");
        c10d::TCPStoreOptions so;
        so.port = static_cast<uint16_t>(o.master_port);
        so.isServer = rank_ == 0;
        so.numWorkers = static_cast<size_t>(world_);
        so.waitWorkers = true;
        so.timeout = std::chrono::minutes(5);
        store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
      }
      auto opts = c10d::ProcessGroupGloo::Options::create(std::chrono::minutes(60));
      const bool loopback = o.master_addr == "127.0.0.1" || o.master_addr == "localhost";
      opts->devices.push_back(loopback
                                  ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                  : c10d::ProcessGroupGloo::createDefaultDevice());
      pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank_, world_, opts);
    } catch (const c10::Error& e) {
      std::string msg = e.what_without_backtrace();
      throw UserError("distributed rendezvous (--master-addr " + o.master_addr + ":" +
                      std::to_string(o.master_port) + ", rank " + std::to_string(rank_) + "/" +
                      std::to_string(world_) + ") failed: " + msg.substr(0, msg.find('\n')));
    }
  }
  int rank() const { return rank_; }
  int world() const { return world_; }

  // parameters of rank 0 to every rank
  void broadcast(const std::vector<torch::Tensor>& params) {
    if (world_ == 1) return;
    torch::NoGradGuard ng;
    auto flat = flatten(params, false);
    std::vector<at::Tensor> v{flat};
    c10d::BroadcastOptions bo;
    bo.rootRank = 0;
    pg_->broadcast(v, bo)->wait();
    unflatten(flat, params, false);
  }
  // gradients averaged over ranks
  void allreduce_grads(const std::vector<torch::Tensor>& params) {
    if (world_ == 1) return;
    torch::NoGradGuard ng;
    auto flat = flatten(params, true);
    std::vector<at::Tensor> v{flat};
    pg_->allreduce(v)->wait();
    flat.div_(world_);
    unflatten(flat, params, true);
  }
  void barrier() {
    if (world_ == 1) return;
    // a tiny all-reduce is a barrier that works on every Gloo build
    std::vector<at::Tensor> v{torch::zeros({1})};
    pg_->allreduce(v)->wait();
  }

 private:
  static torch::Tensor flatten(const std::vector<torch::Tensor>& params, bool grads) {
    std::vector<torch::Tensor> parts;
    for (const auto& p : params) {
      torch::Tensor t = grads ? p.grad() : p;
      if (!t.defined()) t = torch::zeros_like(p);
      parts.push_back(t.detach().reshape(-1).to(torch::kCPU));
    }
    return torch::cat(parts);
  }
  static void unflatten(const torch::Tensor& flat, const std::vector<torch::Tensor>& params,
                        bool grads) {
    int64_t off = 0;
    for (const auto& p : params) {
      auto part = flat.narrow(0, off, p.numel()).view(p.sizes()).to(p.device());
      off += p.numel();
      if (grads) {
        if (p.grad().defined())
          p.mutable_grad().copy_(part);
        else
          p.mutable_grad() = part.clone();
      } else {
        p.copy_(part);
      }
    }
  }
  int rank_ = 0, world_ = 1;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg_;
};

// ---------------------------------------------------------------------------------------
// Checkpoints

struct Progression {
  int epoch = 0;              // completed epochs
  int64_t step = 0;           // steps done in the current epoch
  double loss_sum = 0;        // of the current epoch
  double epoch_seconds = 0;   // of the current epoch before the last checkpoint
  std::vector<EpochRecord> history;
};

json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"val_ssim", r.val_ssim},
          {"val_ssim_zero_filled", r.val_ssim_zero_filled}, {"lr", r.lr},
          {"seconds", r.seconds}, {"slices_per_second", r.slices_per_second}};
}
EpochRecord record_from_json(const json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch");
  r.train_loss = j.at("train_loss");
  r.val_ssim = j.at("val_ssim");
  r.val_ssim_zero_filled = j.at("val_ssim_zero_filled");
  r.lr = j.at("lr");
  r.seconds = j.at("seconds");
  r.slices_per_second = j.value("slices_per_second", 0.0);
  return r;
}

// The options that must not change across a resume (they define the run).
json run_identity(const TrainOptions& o, const ModelSpec& spec) {
  json s = to_json(spec);
  s.erase("training");
  return {{"spec", s},
          {"seed", o.seed},
          {"accelerations", o.accelerations},
          {"center_fractions", o.center_fractions},
          {"mask_type", o.mask_type},
          {"max_train_slices", o.max_train_slices},
          {"world_size", o.world_size}};
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

std::string fmt(double v, int prec = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

// ---------------------------------------------------------------------------------------
// Validation: SSIM of model and zero-filled on per-file seeded masks.

struct ValResult {
  double ssim = -1, ssim_zero_filled = -1;
};

// Mean over slices of the SSIM of pred against gt [S h w] (centre-cropped to the smaller).
double volume_ssim(const torch::Tensor& gt, const torch::Tensor& pred, double data_range) {
  double sum = 0;
  for (int64_t s = 0; s < gt.size(0); ++s) {
    auto g = gt[s], p = pred[s];
    if (p.sizes() != g.sizes()) std::tie(g, p) = center_crop_to_smallest(g, p);
    sum += ssim_slice(g, p, data_range);
  }
  return sum / static_cast<double>(gt.size(0));
}

ValResult validate(Model& model, Split& val, MaskFunc& mf, int64_t max_files, bool with_zf) {
  const int64_t nfiles = max_files > 0 ? std::min<int64_t>(max_files, val.files().size())
                                       : static_cast<int64_t>(val.files().size());
  if (nfiles == 0) return {};
  int64_t total = 0;
  for (int64_t f = 0; f < nfiles; ++f) total += val.open(f).num_slices();
  Progress progress("validate", total * (with_zf ? 2 : 1), "slice");
  const auto method = model_method(model);
  std::unique_ptr<ReconMethod> zero_filled;
  if (with_zf) {
    register_classical_methods();
    zero_filled = make_recon_method("zero-filled", {});
  }
  double sum = 0, sum_zf = 0;
  for (int64_t f = 0; f < nfiles; ++f) {
    const auto& file = val.open(f);
    const auto target = file.read_target();  // [S h w]
    auto gt = array_to_tensor(target.view());
    const double data_range = gt.max().item<double>();
    // The file's validation mask (seeded by its name), applied by the one reconstruction loop.
    const Mask m = mf(file.phase(), seed_from_filename(file.path().filename().string()));
    RunOptions ro;
    ro.undersample = &m;
    ro.crop_h = target.dim(1);
    ro.crop_w = target.dim(2);
    ro.progress = &progress;
    sum += volume_ssim(gt, array_to_tensor(reconstruct_volume(file, *method, ro).view()), data_range);
    if (with_zf)
      sum_zf += volume_ssim(gt, array_to_tensor(reconstruct_volume(file, *zero_filled, ro).view()),
                            data_range);
  }
  progress.done();
  return {sum / nfiles, with_zf ? sum_zf / nfiles : -1};
}

}  // namespace

// ---------------------------------------------------------------------------------------

TrainResult train_model(const TrainOptions& o) {
  const ModelKind kind = parse_model_kind(o.model);
  RB_CHECK(!o.out.empty(), "--out DIR is required");
  RB_CHECK(o.epochs >= 1, "--epochs must be >= 1");
  RB_CHECK(o.checkpoint_every >= 1, "--checkpoint-every must be >= 1");
  RB_CHECK(fs::is_directory(o.data), "--data ", o.data.string(), ": not a directory");
  fs::path train_dir = o.data, val_dir = o.val_data;
  if (fs::is_directory(o.data / "multicoil_train")) {
    train_dir = o.data / "multicoil_train";
    if (val_dir.empty() && fs::is_directory(o.data / "multicoil_val"))
      val_dir = o.data / "multicoil_val";
  }
  if (!val_dir.empty())
    RB_CHECK(fs::is_directory(val_dir), "--val-data ", val_dir.string(), ": not a directory");

  ModelSpec spec = ModelSpec::defaults(kind);
  if (o.chans > 0) spec.chans = o.chans;
  spec.pools = o.pools;
  spec.num_cascades = o.cascades;
  spec.sens_chans = o.sens_chans;
  spec.sens_pools = o.sens_pools;
  spec.drop_prob = o.drop_prob;
  const double base_lr = o.lr > 0 ? o.lr : (kind == ModelKind::Unet ? 1e-3 : 3e-4);
  RB_CHECK(o.lr >= 0 && o.lr_gamma > 0 && o.lr_step_size >= 1 && o.weight_decay >= 0,
           "--lr, --lr-gamma, --lr-step-size, --weight-decay must be positive");

  MaskFuncOptions mopts;
  mopts.type = parse_mask_type(o.mask_type);
  mopts.accelerations = o.accelerations;
  mopts.center_fractions = o.center_fractions;
  MaskFunc val_mf(mopts);  // validation: per-file seeds (temp_seed), own state irrelevant

  torch::set_num_threads(std::max(1, rb::num_threads()));
  const torch::Device device = parse_device(o.device);
  Dist dist(o);
  const bool lead = dist.rank() == 0;

  Split train(train_dir);
  RB_CHECK(!train.slices().empty(), "--data ", train_dir.string(), ": no slices");
  if (o.max_train_slices > 0 && o.max_train_slices < static_cast<int64_t>(train.slices().size())) {
    // a fixed, seeded subset (sorted so that files are read in order)
    auto perm = permutation(static_cast<int64_t>(train.slices().size()), o.seed);
    std::vector<int64_t> keep(perm.begin(), perm.begin() + o.max_train_slices);
    std::sort(keep.begin(), keep.end());
    std::vector<SliceRef> sub;
    for (auto i : keep) sub.push_back(train.slices()[i]);
    train.keep_slices(std::move(sub));
  }
  std::unique_ptr<Split> val;
  if (!val_dir.empty()) val = std::make_unique<Split>(val_dir);

  torch::manual_seed(o.seed);
  Model model(spec);
  model.to(device);
  auto params = model.parameters();
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (kind == ModelKind::Unet)
    opt = std::make_unique<torch::optim::RMSprop>(
        params, torch::optim::RMSpropOptions(base_lr).weight_decay(o.weight_decay));
  else
    opt = std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(base_lr).weight_decay(o.weight_decay));
  SSIMLoss ssim_loss;
  ssim_loss->to(device);

  fs::create_directories(o.out);
  const fs::path ckpt = o.out / "checkpoint.pt";
  const json identity = run_identity(o, spec);
  Progression prog;
  if (fs::exists(ckpt)) {
    RB_CHECK(o.resume, "--out ", o.out.string(), " already holds a training checkpoint; pass "
             "--resume to continue it or choose another --out");
    prog = load_checkpoint(ckpt, model, *opt, identity);
    if (lead)
      std::fprintf(stderr, "resuming from %s: epoch %d, step %lld\n", ckpt.string().c_str(),
                   prog.epoch + 1, static_cast<long long>(prog.step));
  } else {
    dist.broadcast(params);
  }

  const int64_t n_all = static_cast<int64_t>(train.slices().size());
  const int64_t steps_per_epoch = n_all / dist.world();
  RB_CHECK(steps_per_epoch >= 1, "--data: ", n_all, " slices for ", dist.world(), " ranks");
  bool zf_known = false;
  double zf_ssim = -1;
  for (const auto& r : prog.history)
    if (r.val_ssim_zero_filled >= 0) zf_known = true, zf_ssim = r.val_ssim_zero_filled;

  for (int epoch = prog.epoch; epoch < o.epochs; ++epoch) {
    const double lr = base_lr * std::pow(o.lr_gamma, epoch / o.lr_step_size);  // StepLR
    for (auto& g : opt->param_groups()) g.options().set_lr(lr);
    model.train(true);
    const auto order = permutation(n_all, static_cast<uint64_t>(o.seed) * 1000003ull + epoch);
    MaskFuncOptions eo = mopts;
    eo.rng_seed = mask_seed(o.seed, epoch, dist.rank());
    MaskFunc mf(eo);
    auto slice_at = [&](int64_t step) {
      return train.slices()[order[step * dist.world() + dist.rank()]];
    };
    // replay the mask draws of steps already done (exact resume)
    for (int64_t step = 0; step < prog.step; ++step) mf(train.open(slice_at(step).file).phase());

    Progress progress(cat("epoch ", epoch + 1, "/", o.epochs), steps_per_epoch, "slice");
    if (prog.step > 0) progress.tick(prog.step);
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] {
      return prog.epoch_seconds +
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    const int64_t first_step = prog.step;
    for (int64_t step = prog.step; step < steps_per_epoch; ++step) {
      check_interrupted();
      const SliceRef ref = slice_at(step);
      const auto& file = train.open(ref.file);
      auto k = file.read_kspace_slice(ref.slice);
      auto target = array_to_tensor(file.read_target_slice(ref.slice).view()).to(device);
      Mask m = mf(file.phase());
      auto [pl, pr] = padding_of(file);
      auto applied = apply_mask_inplace(k.view(), m.mask, pl, pr);
      opt->zero_grad();
      torch::Tensor loss;
      if (kind == ModelKind::Unet) {
        auto [ch, cw] = unet_crop(file, target.size(-2), target.size(-1));
        auto x = unet_transform(k.view(), std::min(ch, file.readout()), cw);
        auto y = unet_target(center_crop(target, x.image.size(-2), x.image.size(-1)), x);
        auto out = model.unet->forward(x.image.to(device));
        loss = torch::l1_loss(out.view_as(y), y);
      } else {
        auto kt = kspace_to_tensor(k.view()).to(device);
        auto mt = mask_to_tensor(applied).to(device);
        auto out = model.varnet->forward(kt, mt, m.num_low_frequencies);  // [1 H W]
        auto [t, p] = center_crop_to_smallest(target.unsqueeze(0), out);
        double max_value = file.attr_max().value_or(target.max().item<double>());
        loss = ssim_loss->forward(p.unsqueeze(1), t.unsqueeze(1),
                                  torch::full({1}, max_value, torch::kFloat).to(device));
      }
      loss.backward();
      dist.allreduce_grads(params);
      opt->step();
      const double l = loss.item<double>();
      RB_CHECK(std::isfinite(l), "training diverged (loss ", l, ") at epoch ", epoch + 1,
               " step ", step + 1, " (", file.path().string(), " slice ", ref.slice,
               "); lower --lr");
      prog.loss_sum += l;
      prog.step = step + 1;
      const double rate = static_cast<double>(prog.step - first_step) /
                          std::max(1e-9, elapsed() - prog.epoch_seconds);
      progress.tick(1, cat("loss ", fmt(prog.loss_sum / prog.step), " ", fmt(rate, 2), " sl/s"));
      if (lead && prog.step % o.checkpoint_every == 0 && prog.step < steps_per_epoch) {
        Progression snap = prog;
        snap.epoch_seconds = elapsed();
        save_checkpoint(ckpt, model, *opt, snap, identity);
      }
    }
    progress.done();

    EpochRecord rec;
    rec.epoch = epoch + 1;
    rec.train_loss = prog.loss_sum / std::max<int64_t>(1, prog.step);
    rec.lr = lr;
    rec.seconds = elapsed();
    rec.slices_per_second = static_cast<double>(steps_per_epoch * dist.world()) / rec.seconds;
    if (lead && val) {
      auto v = validate(model, *val, val_mf, o.max_val_files, !zf_known);
      if (!zf_known) zf_known = true, zf_ssim = v.ssim_zero_filled;
      rec.val_ssim = v.ssim;
      rec.val_ssim_zero_filled = zf_ssim;
    }
    if (lead)
      std::fprintf(stderr, "epoch %d/%d: loss %.4f, val SSIM %.4f (zero-filled %.4f), %.1f s\n",
                   rec.epoch, o.epochs, rec.train_loss, rec.val_ssim, rec.val_ssim_zero_filled,
                   rec.seconds);
    prog.history.push_back(rec);
    prog.epoch = epoch + 1;
    prog.step = 0;
    prog.loss_sum = 0;
    prog.epoch_seconds = 0;
    if (lead) save_checkpoint(ckpt, model, *opt, prog, identity);
    dist.barrier();
  }

  TrainResult result;
  result.history = prog.history;
  result.weights = o.out / "model.pt";
  {
    torch::NoGradGuard ng;
    for (const auto& p : params) result.parameter_checksum += p.to(torch::kDouble).sum().item<double>();
  }
  if (lead) {
    json hist = json::array();
    for (const auto& r : prog.history) hist.push_back(to_json(r));
    json info = {{"command", o.command_line},
                 {"data", o.data.string()},
                 {"train_slices", n_all},
                 {"seed", o.seed},
                 {"epochs", o.epochs},
                 {"lr", base_lr},
                 {"accelerations", o.accelerations},
                 {"center_fractions", o.center_fractions},
                 {"mask_type", o.mask_type},
                 {"world_size", dist.world()},
                 {"parameters", count_parameters(model.module())},
                 {"history", hist}};
    model.spec().training = info;
    model.save(result.weights);
    write_file_atomic(o.out / "history.json", hist.dump(2) + "\n");
  }
  dist.barrier();
  return result;
}

}  // namespace rb::ml
