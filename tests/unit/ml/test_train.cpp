// The trainer on the simulator as its data source (`--data sim:ci`): the loss falls over a
// few steps, a run stopped mid-epoch resumes bit-identically from its checkpoint, and the
// prefetch threads do not change what is trained on. Also the sim source itself (pure
// function of (epoch, step)) and the prefetch queue.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <unistd.h>

#include "reconbench/core/fs.hpp"
#include "reconbench/io/png.hpp"
#include "reconbench/ml/pipeline.hpp"
#include "reconbench/ml/prefetch.hpp"
#include "reconbench/ml/sample_source.hpp"
#include "reconbench/ml/train.hpp"

using namespace rb;
using namespace rb::ml;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("rb_train_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A small U-Net on one simulated `ci` volume visited many times (fresh masks each step), so
// that a handful of steps shows learning rather than data noise.
TrainOptions tiny_options(const fs::path& out) {
  TrainOptions o;
  o.model = "unet";
  o.data = "sim:ci:3";
  o.out = out;
  o.chans = 8;
  o.pools = 2;
  o.epochs = 3;
  o.epoch_steps = 6;
  o.sim_block = 1;
  o.sim_reuse = 50;
  o.lr = 3e-3;
  o.max_val_files = 1;
  o.checkpoint_every = 2;
  o.data_threads = 1;
  return o;
}

}  // namespace

TEST(Train, SimSourceIsAPureFunctionOfEpochAndStep) {
  SimSourceOptions so = *parse_sim_data("sim:ci:5");
  so.block_volumes = 2;
  auto a = make_sim_source(so), b = make_sim_source(so);
  // b visits the samples in another order: same data
  const auto s3 = b->sample(0, 3), s0 = b->sample(0, 0);
  EXPECT_EQ(a->sample(0, 0).kspace.vec(), s0.kspace.vec());
  EXPECT_EQ(a->sample(0, 3).kspace.vec(), s3.kspace.vec());
  EXPECT_EQ(s0.kspace.dim(1), 256);  // ci: 2x oversampled 128 readout
  EXPECT_GT(s0.max_value, 0);
  EXPECT_NE(s0.kspace.vec(), s3.kspace.vec());
  EXPECT_EQ(a->epoch_size(), 3 * 4);  // ci: 3 train volumes x 4 slices
  EXPECT_FALSE(parse_sim_data("/data/sim"));
  EXPECT_THROW(parse_sim_data("sim:nope"), UserError);
  EXPECT_THROW(parse_sim_data("sim:ci:x"), UserError);
}

TEST(Train, PrefetcherKeepsOrderAndRethrows) {
  for (int threads : {0, 1, 3}) {
    std::atomic<int> made{0};
    Prefetcher<int64_t> q(
        [&](int64_t i) {
          ++made;
          if (i == 7) throw UserError("bad item 7");
          return i * i;
        },
        2, 100, threads, 3);
    for (int64_t i = 2; i < 7; ++i) EXPECT_EQ(q.next(), i * i) << threads;
    EXPECT_THROW(q.next(), UserError);
    // never more than 'depth' items beyond the next one asked for (index 8 after the error)
    EXPECT_LE(made.load(), 9);
  }
}

TEST(Train, LossFallsAndAResumedRunIsBitIdentical) {
  const auto dir = temp_dir("resume");
  // A: uninterrupted
  auto oa = tiny_options(dir / "a");
  const auto a = train_model(oa);
  ASSERT_TRUE(a.finished);
  ASSERT_EQ(a.history.size(), 3u);
  EXPECT_LT(a.history.back().train_loss, a.history.front().train_loss)
      << "the training loss does not fall";
  EXPECT_GT(a.history.back().val_ssim, 0);
  EXPECT_GE(a.history.back().val_ssim_zero_filled, 0);
  EXPECT_TRUE(fs::exists(dir / "a" / "model.pt"));
  const Image8 curve = read_png(dir / "a" / "curve.png");
  EXPECT_EQ(curve.width, 640);

  // B: stopped after 4 steps (mid-epoch, between checkpoints at 2 and 4), then resumed
  auto ob = tiny_options(dir / "b");
  ob.max_steps = 4;
  ob.data_threads = 2;  // more prefetch threads: the same samples
  const auto b1 = train_model(ob);
  EXPECT_FALSE(b1.finished);
  EXPECT_EQ(b1.steps, 4);
  ob.max_steps = 0;
  EXPECT_THROW(train_model(ob), UserError);  // a checkpoint exists: --resume is required
  ob.resume = true;
  const auto b2 = train_model(ob);
  ASSERT_TRUE(b2.finished);
  EXPECT_EQ(b2.parameter_checksum, a.parameter_checksum);
  EXPECT_EQ(b2.last_loss, a.last_loss);
  ASSERT_EQ(b2.history.size(), a.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) {
    EXPECT_EQ(b2.history[i].train_loss, a.history[i].train_loss) << i;
    EXPECT_EQ(b2.history[i].val_ssim, a.history[i].val_ssim) << i;
  }
  // the weights files agree too
  Model ma = Model::load(dir / "a" / "model.pt"), mb = Model::load(dir / "b" / "model.pt");
  auto pa = ma.module().named_parameters(true), pb = mb.module().named_parameters(true);
  for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();

  // a resume with other options that define the run is refused, naming the checkpoint
  auto oc = tiny_options(dir / "b");
  oc.resume = true;
  oc.seed = 43;
  try {
    train_model(oc);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}
