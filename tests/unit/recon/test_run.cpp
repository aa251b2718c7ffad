// The one reconstruction loop (recon/run.hpp): the padding rule (acquired columns), the crop,
// the mask of a test file vs the same mask applied in memory to the fully sampled file
// (training validation's path), and results independent of the thread count.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <limits>

#include "phantom.hpp"
#include "reconbench/core/parallel.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/recon/run.hpp"
#include "reconbench/sampling/undersample.hpp"

namespace rb {
namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("rb_recon_run_" + std::to_string(::getpid()) + "_" + name);
  fs::create_directories(p);
  return p;
}

// A 64 x 48 encoding that acquires phase columns [4, 44) only (padding_left = 48 / 2 - 20,
// padding_right = 4 + 39 + 1), reconSpace 32 x 32.
IsmrmrdInfo padded_header() {
  IsmrmrdInfo h;
  h.enc_x = 64, h.enc_y = 48, h.recon_x = h.recon_y = 32;
  h.pe_center = 20, h.pe_max = 39;
  return h;
}

// [slice coil read phase] = 2 slices of a 4-coil phantom under padded_header().
FastMriVolume phantom_volume() {
  const auto p = test::make_phantom(4, 64, 48);
  FastMriVolume v;
  v.kspace = Array<cfloat>({2, 4, 64, 48});
  for (int64_t s = 0; s < 2; ++s)
    std::copy(p.kspace.vec().begin(), p.kspace.vec().end(), v.kspace.data() + s * p.kspace.size());
  v.header_xml = make_ismrmrd_header(padded_header());
  v.acquisition = "AXT2";
  return v;
}

TEST(AcquiredColumns, FastMriPaddingClippedToTheWidth) {
  IsmrmrdInfo h = padded_header();
  EXPECT_EQ(acquired_columns(&h, 48), (std::pair<int64_t, int64_t>{4, 44}));
  EXPECT_EQ(acquired_columns(&h, 40), (std::pair<int64_t, int64_t>{4, 40}));  // numpy slicing
  EXPECT_EQ(acquired_columns(&h, 4), (std::pair<int64_t, int64_t>{0, 4}));    // does not fit
  EXPECT_FALSE(h.acquired_columns(4).has_value());
  h.pe_center = 30;  // padding_left < 0: not this matrix
  EXPECT_EQ(acquired_columns(&h, 48), (std::pair<int64_t, int64_t>{0, 48}));
  EXPECT_EQ(acquired_columns(nullptr, 48), (std::pair<int64_t, int64_t>{0, 48}));
}

TEST(ReconstructVolume, TestFileEqualsInMemoryUndersamplingAndIgnoresThreads) {
  const fs::path dir = scratch("mask");
  register_classical_methods();
  const auto zf = make_recon_method("zero-filled", {});
  const auto grappa = make_recon_method("grappa", {});
  write_fastmri(dir / "full.h5", phantom_volume());
  // The test file as `reconbench undersample` writes it (4X, fastMRI's per-file seed).
  UndersampleOptions uo;
  MaskFunc mf(uo.mask);
  const Mask m = undersample_file(dir / "full.h5", dir / "test.h5", std::nullopt, mf, uo);
  for (float v : std::vector<float>(m.mask.begin(), m.mask.begin() + 4)) EXPECT_EQ(v, 0.f);

  FastMriFile test(dir / "test.h5"), full(dir / "full.h5");
  RunOptions from_file;
  const auto a = reconstruct_volume(test, *grappa, from_file);
  EXPECT_EQ(a.shape(), (Shape{2, 32, 32}));  // reconSpace crop
  // The same mask drawn again for the fully sampled file, applied slice by slice.
  MaskFunc mf2(uo.mask);
  const Mask drawn = mf2(full.phase(), undersample_seed(uo, "full.h5"));
  RunOptions in_memory;
  in_memory.undersample = &drawn;
  EXPECT_EQ(reconstruct_volume(full, *grappa, in_memory).vec(), a.vec());

  // A fully sampled file is refused unless allowed; the crop can be set.
  EXPECT_THROW(reconstruct_volume(full, *zf, from_file), UserError);
  RunOptions allowed;
  allowed.allow_fully_sampled = true;
  allowed.crop_h = allowed.crop_w = 16;
  EXPECT_EQ(reconstruct_volume(full, *zf, allowed).shape(), (Shape{2, 16, 16}));

  // One thread or three: the same bits.
  RunOptions three = from_file;
  three.threads = 3;
  EXPECT_EQ(reconstruct_volume(test, *grappa, three).vec(), a.vec());

  // reconstruct_files writes the same volume under the input's name.
  reconstruct_files({dir / "test.h5"}, *grappa, dir / "out", {}, "test");
  EXPECT_EQ(read_reconstruction(dir / "out" / "test.h5").vec(), a.vec());
  fs::remove_all(dir);
}

TEST(ReconstructVolume, KspaceInMemoryEqualsTheFile) {
  const fs::path dir = scratch("memory");
  register_classical_methods();
  const auto grappa = make_recon_method("grappa", {});
  write_fastmri(dir / "full.h5", phantom_volume());
  UndersampleOptions uo;
  MaskFunc mf(uo.mask);
  undersample_file(dir / "full.h5", dir / "test.h5", std::nullopt, mf, uo);
  FastMriFile test(dir / "test.h5");
  const auto from_file = reconstruct_volume(test, *grappa);

  // The Python binding's path: the file's arrays in memory, its mask and header.
  const FastMriVolume t = test.read_all();
  const IsmrmrdInfo header = test.header();
  KspaceVolume v;
  v.kspace = t.kspace.view();
  v.mask = *t.mask;
  v.header = &header;
  v.num_low_frequency = *t.num_low_frequency;
  EXPECT_EQ(reconstruct_volume(v, *grappa).vec(), from_file.vec());
  RunOptions three;
  three.threads = 3;
  EXPECT_EQ(reconstruct_volume(v, *grappa, three).vec(), from_file.vec());
  // The header's padding columns are zeroed in the mask by the loop, as for files: SENSE
  // (which models the mask) sees the same mask as with those columns zeroed by hand.
  const FastMriVolume full = FastMriFile(dir / "full.h5").read_all();
  std::vector<float> ones(48, 1.f), acquired(48, 0.f);
  std::fill(acquired.begin() + 4, acquired.begin() + 44, 1.f);
  const auto sense = make_recon_method("sense", {"", {{"iter", "3"}}});
  RunOptions crop;
  crop.crop_h = crop.crop_w = 32;
  const KspaceVolume with_header{full.kspace.view(), ones, &header, 0, "full"};
  const KspaceVolume by_hand{full.kspace.view(), acquired, nullptr, 0, "full"};
  const auto a = reconstruct_volume(with_header, *sense, crop);
  EXPECT_EQ(a.vec(), reconstruct_volume(by_hand, *sense, crop).vec());
  const KspaceVolume unpadded{full.kspace.view(), ones, nullptr, 0, "full"};
  EXPECT_NE(a.vec(), reconstruct_volume(unpadded, *sense, crop).vec());  // the columns matter

  v.mask.resize(7);
  EXPECT_THROW(reconstruct_volume(v, *grappa), UserError);
  v.mask.assign(48, std::numeric_limits<float>::quiet_NaN());
  EXPECT_THROW(reconstruct_volume(v, *grappa), UserError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rb
