// The submission validator (challenge/validate.cpp + challenge/h5.cpp), exactly as the server
// and `reconbench validate` call it: a fixture challenge dataset in the real layout
// (manifest.json, ground truth with reconstruction_rss, k-space inputs; the same writer as
// the challenge unit tests, tests/unit/challenge/fixture.hpp) is made once; each input is an
// uploaded reconstruction file for the Multi-Coil 8X track of the test phase.
//
// Input: byte 0 selects the scale reference (ground truth as the server, zero-filled
// k-space as `reconbench validate`, none) and the submission's file names (the expected
// name, an unknown name, or both); the remaining bytes are the uploaded file.
#include <map>

#include "../tests/unit/challenge/fixture.hpp"
#include "common.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/io/fastmri.hpp"

namespace {

namespace ch = rb::challenge;

struct Fixture {
  std::filesystem::path root, data;
  ch::Manifest manifest;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    x.root = rb::fuzz::scratch() / "challenge";
    x.data = rb::testing::make_dataset(x.root);
    x.manifest = ch::load_manifest(x.data);
    // k-space inputs for the local (zero-filled) scale reference.
    for (const auto& mf : x.manifest.files) {
      rb::FastMriVolume v;
      v.kspace = rb::Array<rb::cfloat>({mf.slices, 2, mf.recon_h, mf.recon_w});
      for (int64_t i = 0; i < v.kspace.size(); ++i)
        v.kspace[i] = rb::cfloat(static_cast<float>(i % 7) * 1e-6f, static_cast<float>(i % 3) * 1e-6f);
      std::filesystem::create_directories((x.data / mf.file).parent_path());
      rb::write_fastmri(x.data / mf.file, v);
    }
    return x;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Fixture& fx = fixture();
  const ch::Track& track = ch::find_track("multicoil_8x");
  const auto expected_files = ch::track_files(fx.manifest, "test", track);
  const auto p = rb::fuzz::write_bytes("submission.h5", data + 1, size - 1);
  std::map<std::string, std::filesystem::path> files;
  const int names = data[0] % 3;
  if (names != 1) files[expected_files.front().name] = p;
  if (names != 0) files["file_brain_AXT2_999.h5"] = p;
  ch::ValidationOptions opts;
  opts.scale = (data[0] / 3) % 2 ? ch::ScaleReference::zero_filled : ch::ScaleReference::none;
  // Problems go into the report; at most a UserError may escape (the server turns any
  // exception into an "unreadable" report, but a crash would take the server down).
  rb::fuzz::expected([&] {
    const auto report = ch::validate_submission(files, fx.manifest, "test", track, opts);
    (void)ch::to_json(report).dump();
    (void)ch::to_text(report);
  });
  return 0;
}
