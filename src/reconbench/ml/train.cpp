// The trainer (train.hpp): model and optimiser set-up, the step loop over prefetched
// samples, checkpoints, time limit and signals, validation and outputs.
#include "reconbench/ml/train.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/core/progress.hpp"
#include "reconbench/ml/allocator.hpp"
#include "reconbench/ml/checkpoint.hpp"
#include "reconbench/ml/curve.hpp"
#include "reconbench/ml/dist.hpp"
#include "reconbench/ml/model_input.hpp"
#include "reconbench/ml/prefetch.hpp"
#include "reconbench/ml/sample_source.hpp"
#include "reconbench/ml/validate.hpp"
#include "reconbench/sampling/masks.hpp"
#include "reconbench/sim/dataset.hpp"
#include "reconbench/sim/rng.hpp"

namespace rb::ml {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string fmt(double v, int prec = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

// ---------------------------------------------------------------------------------------
// Model, format and optimiser

ModelSpec make_spec(const TrainOptions& o) {
  const ModelKind kind = parse_model_kind(o.model);
  ModelSpec spec = ModelSpec::defaults(kind);
  if (o.chans > 0) spec.chans = o.chans;
  spec.pools = o.pools;
  if (o.cascades > 0) spec.num_cascades = o.cascades;
  spec.sens_chans = o.sens_chans;
  spec.sens_pools = o.sens_pools;
  spec.drop_prob = o.drop_prob;
  const bool fastmri_format = kind == ModelKind::Unet;
  spec.input.readout_oversampling =
      o.readout_oversampling >= 0 ? o.readout_oversampling : (fastmri_format ? 2 : 1);
  spec.input.virtual_coils = o.virtual_coils >= 0 ? o.virtual_coils : (fastmri_format ? 0 : 8);
  spec.input.intensity = o.intensity >= 0 ? o.intensity != 0 : !fastmri_format;
  RB_CHECK(spec.input.readout_oversampling == 1 || spec.input.readout_oversampling == 2,
           "--readout-oversampling must be 1 or 2");
  return spec;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const ModelSpec& spec, Model& model,
                                                        double lr, double weight_decay) {
  if (spec.kind == ModelKind::Unet)
    return std::make_unique<torch::optim::RMSprop>(
        model.parameters(), torch::optim::RMSpropOptions(lr).weight_decay(weight_decay));
  return std::make_unique<torch::optim::Adam>(
      model.parameters(), torch::optim::AdamOptions(lr).weight_decay(weight_decay));
}

// Parameters copied by name from a weights file (fine-tuning, e.g. varnet -> varnet-grappa).
void load_init_weights(Model& model, const fs::path& path) {
  Model src = Model::load(path);
  auto from = src.module().named_parameters(true);
  torch::NoGradGuard ng;
  for (auto& p : model.module().named_parameters(true)) {
    const auto* t = from.find(p.key());
    RB_CHECK(t && t->sizes() == p.value().sizes(), "--init-weights ", path.string(),
             ": parameter ", p.key(), " missing or of another shape than the ", model_kind_name(model.spec().kind),
             " being trained");
    p.value().copy_(*t);
  }
}

// ---------------------------------------------------------------------------------------
// Data

struct Data {
  std::unique_ptr<SampleSource> source;
  std::vector<fs::path> val_files;
};

// The profile's validation split (same seed), simulated once into out/sim_val.
fs::path simulated_val_dir(const SimSourceOptions& so, const fs::path& out) {
  const fs::path root = out / "sim_val";
  if (!fs::exists(root / "manifest.json")) {
    std::fprintf(stderr, "simulating the %s validation split (seed %llu) into %s\n",
                 so.profile.c_str(), static_cast<unsigned long long>(so.seed), root.c_str());
    sim::DatasetOptions d;
    d.profile = sim::make_profile(so.profile);
    d.seed = so.seed;
    d.out = root;
    d.splits = {"val"};
    d.write_truth = false;
    sim::simulate_dataset(d);
  }
  return root / "multicoil_val";
}

Data open_data(const TrainOptions& o, bool lead) {
  Data d;
  fs::path val_dir = o.val_data;
  if (auto so = parse_sim_data(o.data)) {
    so->vendors = o.sim_vendors;
    so->epoch_size = o.epoch_steps;
    so->block_volumes = o.sim_block;
    so->reuse = o.sim_reuse;
    d.source = make_sim_source(*so);
    if (val_dir.empty() && lead) val_dir = simulated_val_dir(*so, o.out);
  } else {
    RB_CHECK(o.epoch_steps == 0, "--epoch-steps applies to sim: data only");
    const fs::path data = o.data;
    RB_CHECK(fs::is_directory(data), "--data ", o.data,
             ": not a directory (or sim:PROFILE[:SEED] for the simulator)");
    fs::path train_dir = data;
    if (fs::is_directory(data / "multicoil_train")) {
      train_dir = data / "multicoil_train";
      if (val_dir.empty() && fs::is_directory(data / "multicoil_val")) val_dir = data / "multicoil_val";
    }
    d.source = make_file_source(train_dir, o.seed, o.max_train_slices);
  }
  if (!val_dir.empty() && lead) {
    RB_CHECK(fs::is_directory(val_dir), "--val-data ", val_dir.string(), ": not a directory");
    d.val_files = list_inputs({val_dir.string()}, ".h5");
    if (o.max_val_files > 0 && o.max_val_files < static_cast<int64_t>(d.val_files.size()))
      d.val_files.resize(static_cast<size_t>(o.max_val_files));
  }
  return d;
}

// One training step's input, prepared off the training thread.
struct Step {
  ModelInput x;
  torch::Tensor target;  // [h w] data units
  double data_range = 0;
  std::string what;      // file and slice, for error messages
};

Step prepare_step(const SampleSource& src, const ModelSpec& spec, MaskFuncOptions masks,
                  uint32_t seed, int epoch, int64_t step, const Dist& dist) {
  TrainSample t = src.sample(epoch, step * dist.world() + dist.rank());
  masks.rng_seed = static_cast<uint32_t>(
      sim::stream_seed({seed, uint64_t(epoch), uint64_t(step), uint64_t(dist.rank()), 0x3A5C}));
  const int64_t W = t.kspace.dim(2);
  const Mask m = MaskFunc(masks)(W);
  const IsmrmrdInfo* header = t.header ? &*t.header : nullptr;
  const auto [pl, pr] = acquired_columns(header, W);
  const auto applied = apply_mask_inplace(t.kspace.view(), m.mask, pl, pr);
  SliceInput in;
  in.kspace = t.kspace.view();
  in.mask = applied;
  in.num_low_frequencies = m.num_low_frequencies;
  in.header = header;
  const int64_t th = t.target.dim(0), tw = t.target.dim(1);
  in.crop_h = W < tw ? W : th;  // fastMRI's FLAIR-203 rule
  in.crop_w = W < tw ? W : tw;
  Step s;
  s.what = cat(t.name, " slice ", t.slice);
  try {
    s.x = make_model_input(spec, in);
  } catch (const UserError& e) {
    throw UserError(cat("training data ", s.what, ": ", e.what()));
  }
  s.target = array_to_tensor(t.target.view());
  s.data_range = t.max_value;
  return s;
}

torch::Tensor step_loss(Model& model, const Step& s, bool l1, SSIMLoss& ssim) {
  const auto x = s.x.to(model.device());
  auto y = model_forward(model, x);  // [h w] network units
  auto target = s.target.to(model.device());
  std::tie(target, y) = center_crop_to_smallest(target, y);
  if (l1) {
    auto t = to_network_units(target, x);
    if (model.spec().kind == ModelKind::Unet) t = t.clamp(-6, 6);  // fastMRI's U-Net target
    return torch::l1_loss(y, t);
  }
  // SSIM in scaled data units (the luminance term is not shift invariant)
  auto pred = y * x.std + x.mean;
  const auto h = pred.size(-2), w = pred.size(-1);
  return ssim->forward(pred.view({1, 1, h, w}), (target * x.scale).view({1, 1, h, w}),
                       torch::full({1}, s.data_range * x.scale, torch::kFloat).to(model.device()));
}

// ---------------------------------------------------------------------------------------
// Outputs

// The options that must not change across a resume (they define the run).
json run_identity(const TrainOptions& o, const ModelSpec& spec, const SampleSource& src,
                  bool l1) {
  json s = to_json(spec);
  s.erase("training");
  return {{"spec", s},
          {"seed", o.seed},
          {"data", src.describe()},
          {"epoch_size", src.epoch_size()},
          {"loss", l1 ? "l1" : "ssim"},
          {"accelerations", o.accelerations},
          {"center_fractions", o.center_fractions},
          {"mask_type", o.mask_type},
          {"world_size", o.dist.world_size}};
}

void write_curve(const fs::path& png, const std::vector<EpochRecord>& hist) {
  CurveSeries model{"MODEL", {}, {}, {31, 119, 180}}, zf{"ZERO-FILLED", {}, {}, {150, 150, 150}},
      grappa{"GRAPPA", {}, {}, {255, 127, 14}};
  for (const auto& r : hist) {
    if (r.val_ssim < 0) continue;
    const double x = static_cast<double>(r.step);
    model.x.push_back(x), model.y.push_back(r.val_ssim);
    if (r.val_ssim_zero_filled >= 0) zf.x.push_back(x), zf.y.push_back(r.val_ssim_zero_filled);
    if (r.val_ssim_grappa >= 0) grappa.x.push_back(x), grappa.y.push_back(r.val_ssim_grappa);
  }
  if (!model.x.empty()) write_line_chart(png, {model, zf, grappa}, "STEP", "VAL SSIM");
}

void write_outputs(const TrainOptions& o, Model& model, const SampleSource& src,
                   const std::vector<EpochRecord>& hist, double lr, int64_t steps) {
  json h = json::array();
  for (const auto& r : hist) h.push_back(to_json(r));
  model.spec().training = {{"command", o.command_line},
                           {"data", src.describe()},
                           {"epoch_size", src.epoch_size()},
                           {"steps", steps},
                           {"seed", o.seed},
                           {"epochs", o.epochs},
                           {"lr", lr},
                           {"accelerations", o.accelerations},
                           {"center_fractions", o.center_fractions},
                           {"mask_type", o.mask_type},
                           {"world_size", o.dist.world_size},
                           {"parameters", count_parameters(model.module())},
                           {"history", h}};
  model.save(o.out / "model.pt");
  write_file_atomic(o.out / "history.json", h.dump(2) + "\n");
  write_curve(o.out / "curve.png", hist);
}

void check_options(const TrainOptions& o) {
  RB_CHECK(!o.out.empty(), "--out DIR is required");
  RB_CHECK(!o.data.empty(), "--data is required");
  RB_CHECK(o.epochs >= 1, "--epochs must be >= 1");
  RB_CHECK(o.checkpoint_every >= 1, "--checkpoint-every must be >= 1");
  RB_CHECK(o.checkpoint_minutes >= 0 && o.time_limit_s >= 0,
           "--checkpoint-minutes and --time-limit must be >= 0");
  RB_CHECK(o.data_threads >= 0 && o.prefetch >= 1, "--data-threads must be >= 0, --prefetch >= 1");
  RB_CHECK(o.lr >= 0 && o.lr_gamma > 0 && o.lr_step_size >= 1 && o.weight_decay >= 0,
           "--lr, --lr-gamma, --lr-step-size, --weight-decay must be positive");
  RB_CHECK(o.loss.empty() || o.loss == "l1" || o.loss == "ssim", "--loss ", o.loss,
           ": expected l1 or ssim");
  RB_CHECK(o.max_steps >= 0, "--max-steps must be >= 0");
  RB_CHECK(o.dist.world_size == 1 || o.time_limit_s == 0,
           "--time-limit is for single-process runs (ranks would stop at different steps)");
}

// The epoch loop of one run: what its steps, checkpoints and validations share.
struct EpochLoop {
  const TrainOptions& o;
  const SampleSource& src;
  const std::vector<fs::path>& val_files;
  const MaskFuncOptions& masks;
  Model& model;
  torch::optim::Optimizer& opt;
  std::vector<torch::Tensor>& params;
  SSIMLoss& ssim_loss;
  Dist& dist;
  Prefetcher<Step>& queue;
  const fs::path& ckpt;
  const json& identity;
  Progression& prog;
  TrainResult& result;
  const bool l1, lead;
  const int64_t spe;     // steps per epoch
  const double base_lr;
  const Clock::time_point start;
  Clock::time_point last_ckpt;
  double zf_ssim = -1, grappa_ssim = -1;  // validation references (computed once)
  bool refs_known = false;

  void checkpoint(const Progression& p) {
    if (lead) save_checkpoint(ckpt, model, opt, p, identity);
    last_ckpt = Clock::now();
  }
  // prog with the epoch's seconds so far (t0: when this process started the epoch).
  Progression snapshot(Clock::time_point t0) const {
    Progression p = prog;
    p.epoch_seconds = prog.epoch_seconds + seconds_since(t0);
    return p;
  }

  // The remaining steps of `epoch`. Returns true when the time or step limit stopped the run
  // (after a checkpoint); throws Interrupted after a checkpoint on a signal.
  bool train_steps(int epoch, Clock::time_point t0) {
    Progress progress(cat("epoch ", epoch + 1, "/", o.epochs), spe, "slice");
    if (prog.step > 0) progress.tick(prog.step);
    const int64_t first_step = prog.step;
    bool stopped = false;
    for (int64_t step = prog.step; step < spe; ++step) {
      if (interrupted()) {
        checkpoint(snapshot(t0));
        if (lead) std::fprintf(stderr, "checkpoint written to %s; continue with --resume\n", ckpt.c_str());
        throw Interrupted();
      }
      if ((o.time_limit_s > 0 && seconds_since(start) >= o.time_limit_s) ||
          (o.max_steps > 0 && static_cast<int64_t>(epoch) * spe + step >= o.max_steps)) {
        stopped = true;
        break;
      }
      Step s;
      try {
        s = queue.next();
      } catch (const Interrupted&) {
        checkpoint(snapshot(t0));
        throw;
      }
      opt.zero_grad();
      torch::Tensor loss = step_loss(model, s, l1, ssim_loss);
      loss.backward();
      dist.allreduce_grads(params);
      opt.step();
      const double l = loss.item<double>();
      RB_CHECK(std::isfinite(l), "training diverged (loss ", l, ") at epoch ", epoch + 1,
               " step ", step + 1, " (", s.what, "); lower --lr");
      result.last_loss = l;
      prog.loss_sum += l;
      prog.step = step + 1;
      const double rate = static_cast<double>(prog.step - first_step) / std::max(1e-9, seconds_since(t0));
      progress.tick(1, cat("loss ", fmt(prog.loss_sum / prog.step), " ", fmt(rate, 2), " sl/s"));
      const bool by_minutes = o.checkpoint_minutes > 0 && seconds_since(last_ckpt) >= 60 * o.checkpoint_minutes;
      if ((prog.step % o.checkpoint_every == 0 || by_minutes) && prog.step < spe) checkpoint(snapshot(t0));
    }
    progress.done();
    if (stopped) checkpoint(snapshot(t0));
    return stopped;
  }

  // After the steps of `epoch` (learning rate lr): validation (lead rank), the epoch's record,
  // outputs and checkpoint.
  void end_epoch(int epoch, double lr, Clock::time_point t0) {
    EpochRecord rec;
    rec.epoch = epoch + 1;
    rec.step = static_cast<int64_t>(epoch + 1) * spe;
    rec.train_loss = prog.loss_sum / std::max<int64_t>(1, prog.step);
    rec.lr = lr;
    rec.seconds = prog.epoch_seconds + seconds_since(t0);
    rec.slices_per_second = static_cast<double>(spe * dist.world()) / rec.seconds;
    if (lead && !val_files.empty()) {
      ValResult v;
      try {
        v = validate(model, val_files, masks, !refs_known);
      } catch (const Interrupted&) {
        checkpoint(snapshot(t0));  // steps done, validation pending
        throw;
      }
      if (!refs_known) refs_known = true, zf_ssim = v.ssim_zero_filled, grappa_ssim = v.ssim_grappa;
      rec.val_ssim = v.ssim;
      rec.val_ssim_zero_filled = zf_ssim;
      rec.val_ssim_grappa = grappa_ssim;
    }
    if (lead)
      std::fprintf(stderr, "epoch %d/%d: loss %.4f, val SSIM %.4f (zero-filled %.4f, GRAPPA "
                   "%.4f), %.1f s, %.2f slices/s\n", rec.epoch, o.epochs, rec.train_loss,
                   rec.val_ssim, rec.val_ssim_zero_filled, rec.val_ssim_grappa, rec.seconds,
                   rec.slices_per_second);
    prog.history.push_back(rec);
    prog.epoch = epoch + 1;
    prog.step = 0;
    prog.loss_sum = 0;
    prog.epoch_seconds = 0;
    if (lead) write_outputs(o, model, src, prog.history, base_lr, static_cast<int64_t>(prog.epoch) * spe);
    checkpoint(prog);
    dist.barrier();
  }

  // Epochs from prog onwards (StepLR schedule); returns true when stopped at a limit.
  bool run() {
    for (const auto& r : prog.history)
      zf_ssim = r.val_ssim_zero_filled, grappa_ssim = r.val_ssim_grappa;
    refs_known = !prog.history.empty() && zf_ssim >= 0;
    for (int epoch = prog.epoch; epoch < o.epochs; ++epoch) {
      const double lr = base_lr * std::pow(o.lr_gamma, epoch / o.lr_step_size);  // StepLR
      for (auto& g : opt.param_groups()) g.options().set_lr(lr);
      model.train(true);
      const auto t0 = Clock::now();
      if (train_steps(epoch, t0)) return true;
      end_epoch(epoch, lr, t0);
    }
    return false;
  }
};

// --dry-run: the model's parameters and the size of its weights file (written to a fresh
// temporary directory, then removed).
TrainResult dry_run(const ModelSpec& spec) {
  torch::manual_seed(0);
  Model model(spec);
  TrainResult r;
  r.parameters = count_parameters(model.module());
  const fs::path dir = fs::temp_directory_path() /
                       cat("reconbench-dry-run-", ::getpid(), "-", model_kind_name(spec.kind));
  fs::create_directories(dir);
  model.save(dir / "model.pt");
  r.weights_bytes = static_cast<int64_t>(fs::file_size(dir / "model.pt"));
  fs::remove_all(dir);
  return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------

TrainResult train_model(const TrainOptions& o) {
  if (o.dry_run) return dry_run(make_spec(o));
  check_options(o);
  const ModelSpec spec = make_spec(o);
  const bool l1 = o.loss.empty() ? spec.kind == ModelKind::Unet : o.loss == "l1";
  const double base_lr = o.lr > 0 ? o.lr : (spec.kind == ModelKind::Unet ? 1e-3 : 3e-4);
  MaskFuncOptions masks;
  masks.type = parse_mask_type(o.mask_type);
  masks.accelerations = o.accelerations;
  masks.center_fractions = o.center_fractions;
  (void)MaskFunc(masks);  // UserError on inconsistent mask options, before any work

  torch::set_num_threads(std::max(1, rb::num_threads()));
  keep_freed_memory();
  const torch::Device device = parse_device(o.device);
  Dist dist(o.dist);
  const bool lead = dist.rank() == 0;
  fs::create_directories(o.out);
  Data data = open_data(o, lead);
  const SampleSource& src = *data.source;

  torch::manual_seed(o.seed);
  Model model(spec);
  if (!o.init_weights.empty()) load_init_weights(model, o.init_weights);
  model.to(device);
  auto params = model.parameters();
  auto opt = make_optimizer(spec, model, base_lr, o.weight_decay);
  SSIMLoss ssim_loss;
  ssim_loss->to(device);

  const fs::path ckpt = o.out / "checkpoint.pt";
  const json identity = run_identity(o, spec, src, l1);
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

  const int64_t spe = src.epoch_size() / dist.world();  // steps per epoch
  RB_CHECK(spe >= 1, "--data: ", src.epoch_size(), " slices for ", dist.world(), " ranks");
  if (lead)
    std::fprintf(stderr, "training %s (%lld parameters) on %s: %lld steps per epoch, input "
                 "%s readout, %s coils\n", model_kind_name(spec.kind).c_str(),
                 static_cast<long long>(count_parameters(model.module())), src.describe().c_str(),
                 static_cast<long long>(spe), spec.input.readout_oversampling == 1 ? "1x" : "2x",
                 spec.input.virtual_coils > 0 ? std::to_string(spec.input.virtual_coils).c_str() : "all");

  const int64_t g0 = static_cast<int64_t>(prog.epoch) * spe + prog.step;
  Prefetcher<Step> queue(
      [&](int64_t g) {
        return prepare_step(src, spec, masks, o.seed, static_cast<int>(g / spe), g % spe, dist);
      },
      g0, static_cast<int64_t>(o.epochs) * spe, o.data_threads, o.prefetch);

  TrainResult result;
  const auto start = Clock::now();
  EpochLoop loop{.o = o, .src = src, .val_files = data.val_files, .masks = masks, .model = model,
                 .opt = *opt, .params = params, .ssim_loss = ssim_loss, .dist = dist,
                 .queue = queue, .ckpt = ckpt, .identity = identity, .prog = prog,
                 .result = result, .l1 = l1, .lead = lead, .spe = spe, .base_lr = base_lr,
                 .start = start, .last_ckpt = start};
  const bool stopped = loop.run();

  result.steps = static_cast<int64_t>(prog.epoch) * spe + prog.step;
  result.history = prog.history;
  result.weights = o.out / "model.pt";
  result.finished = prog.epoch >= o.epochs;
  result.parameters = count_parameters(model.module());
  {
    torch::NoGradGuard ng;
    for (const auto& p : params) result.parameter_checksum += p.to(torch::kDouble).sum().item<double>();
  }
  if (lead) {
    if (stopped) write_outputs(o, model, src, prog.history, base_lr, result.steps);
    if (stopped)
      std::fprintf(stderr, "stopped at the time/step limit after %lld steps: checkpoint and "
                   "weights written; continue with --resume\n",
                   static_cast<long long>(result.steps));
  }
  dist.barrier();
  return result;
}

}  // namespace rb::ml
