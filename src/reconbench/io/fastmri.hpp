// fastMRI multi-coil HDF5 files, read and written exactly as the real dataset lays them out
// (fastmri/data/README.md, mri_data.py):
//
//   kspace              complex64 [slice coil read phase]  (HDF5 compound {r: f4, i: f4},
//                       as h5py writes numpy complex64); undersampled in test/challenge files
//   reconstruction_rss  float32 [slice y x] (ground truth, train/val only)
//   mask                float32 [phase] (test/challenge only)  -- h5py may also store bool
//   ismrmrd_header      bytes: ISMRMRD XML
//   attrs               acquisition (str), max (f8), norm (f8), patient_id (str),
//                       acceleration (i8), num_low_frequency (i8) on test files
//
// Reconstruction files (submissions, recon outputs): `reconstruction` float32 [slice y x].
#pragma once

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reconbench/core/array.hpp"

namespace rb {

// The subset of the ISMRMRD header that fastMRI and reconbench use.
struct IsmrmrdInfo {
  // encodedSpace / reconSpace matrix sizes (x = readout, y = phase, z) and FOV in mm.
  int64_t enc_x = 0, enc_y = 0, enc_z = 1;
  int64_t recon_x = 0, recon_y = 0, recon_z = 1;
  double enc_fov_x = 0, enc_fov_y = 0, enc_fov_z = 0;
  double recon_fov_x = 0, recon_fov_y = 0, recon_fov_z = 0;
  // encodingLimits.kspace_encoding_step_1
  int64_t pe_min = 0, pe_max = 0, pe_center = 0;
  std::string vendor, model;
  double field_strength_t = 0;
  int64_t receiver_channels = 0;
  double tr_ms = 0, te_ms = 0, ti_ms = 0, flip_angle_deg = 0;
  std::string protocol_name;

  // fastMRI (mri_data.py): padding_left = enc_y // 2 - center; padding_right =
  // padding_left + maximum + 1. Acquired phase columns are [padding_left, padding_right).
  int64_t padding_left() const { return enc_y / 2 - pe_center; }
  int64_t padding_right() const { return padding_left() + pe_max + 1; }
  // The acquired phase columns of k-space `width` columns wide: [padding_left,
  // min(padding_right, width)) (fastMRI zeroes mask[..., :padding_left] and
  // mask[..., padding_right:], a no-op past the width); nullopt when the range is empty or
  // starts outside [0, width), i.e. the header does not describe this matrix.
  std::optional<std::pair<int64_t, int64_t>> acquired_columns(int64_t width) const {
    const int64_t l = padding_left(), r = std::min(padding_right(), width);
    if (l < 0 || l >= r) return std::nullopt;
    return std::pair{l, r};
  }
};

// The one padding rule of reconstruction, training and undersampling: the header's acquired
// columns, or every column [0, width) without a header or with one that does not fit.
inline std::pair<int64_t, int64_t> acquired_columns(const IsmrmrdInfo* header, int64_t width) {
  if (header)
    if (auto c = header->acquired_columns(width)) return *c;
  return {0, width};
}

// Parse / write ISMRMRD XML with libismrmrd (throws UserError naming `what` on bad XML).
IsmrmrdInfo parse_ismrmrd_header(const std::string& xml, const std::string& what = "header");
std::string make_ismrmrd_header(const IsmrmrdInfo& info);

// Everything in one fastMRI file. Optional members are absent from the file when empty.
struct FastMriVolume {
  Array<cfloat> kspace;                      // [slice coil read phase]
  std::optional<Array<float>> target;        // reconstruction_rss [slice y x]
  std::optional<std::vector<float>> mask;    // [phase]
  std::string header_xml;                    // ismrmrd_header
  std::string acquisition;                   // attrs["acquisition"]
  std::optional<double> max, norm;           // attrs
  std::string patient_id;                    // attrs (empty -> not written)
  std::optional<int64_t> acceleration, num_low_frequency;
};

// Read-only handle on a fastMRI file with slice-wise access; validates layout on open and
// throws UserError naming the file and the problem (missing dataset, wrong dtype/rank,
// truncated/corrupt file, absurd shape, mask length mismatch).
//
// Thread-safety: every member may be called concurrently (e.g. read_kspace_slice from
// parallel_for workers). Debian's libhdf5 is not thread-safe, so all HDF5 calls in reconbench
// hold one process-wide lock (io/hdf5.hpp, rb::h5::lock()): reads are serialised, the work
// on the data read is not. The file stays open (one descriptor) for the handle's lifetime.
class FastMriFile {
 public:
  explicit FastMriFile(const std::filesystem::path& path);
  ~FastMriFile();
  FastMriFile(FastMriFile&&) noexcept;
  FastMriFile& operator=(FastMriFile&&) noexcept;

  const std::filesystem::path& path() const;
  int64_t num_slices() const;
  int64_t num_coils() const;
  int64_t readout() const;  // H
  int64_t phase() const;    // W
  Shape kspace_shape() const;

  bool has_target() const;
  Shape target_shape() const;  // empty if none
  bool has_mask() const;

  Array<cfloat> read_kspace() const;                 // [slice coil read phase]
  Array<cfloat> read_kspace_slice(int64_t s) const;  // [coil read phase]
  // Targets are checked with check_finite (UserError naming the file on NaN/Inf).
  Array<float> read_target() const;                  // [slice y x]; UserError if absent
  Array<float> read_target_slice(int64_t s) const;   // [y x]
  std::vector<float> read_mask() const;              // [phase]; UserError if absent

  const std::string& header_xml() const;
  const IsmrmrdInfo& header() const;  // parsed; UserError if the file has no header
  bool has_header() const;
  std::string acquisition() const;  // "" if absent
  std::optional<double> attr_max() const;
  std::optional<double> attr_norm() const;
  std::string patient_id() const;
  std::optional<int64_t> acceleration() const;
  std::optional<int64_t> num_low_frequency() const;

  FastMriVolume read_all() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Write atomically (temporary name + rename). Validates shapes (mask length == phase, target
// rank 3 with the same slice count) and throws UserError on inconsistency.
void write_fastmri(const std::filesystem::path& path, const FastMriVolume& vol);

// Reconstruction files: `reconstruction` float32 [slice y x] (+ optional attrs copied from
// the input: acquisition, and any string attrs given).
void write_reconstruction(const std::filesystem::path& path, const Array<float>& recon,
                          const std::string& acquisition = "");
// Reads `key` float32 (or float64, converted) [slice y x]; UserError naming the file if it is
// missing, has the wrong dtype/rank, or holds NaN/Inf (check_finite).
Array<float> read_reconstruction(const std::filesystem::path& path,
                                 const std::string& key = "reconstruction");

// Reads the 8-bit integer label volume `key` [slice y x] (e.g. the simulator's lesion_mask,
// sim/truth_io.hpp); UserError naming the file if it is missing or not such a dataset.
Array<uint8_t> read_label_volume(const std::filesystem::path& path, const std::string& key);

// True if `path` starts with the HDF5 signature (also at the user-block offsets 512, 1024,
// 2048, ... that HDF5 itself searches).
bool is_hdf5(const std::filesystem::path& path);

// Names of the objects in the file's root group, sorted (UserError if not a readable HDF5).
std::vector<std::string> list_datasets(const std::filesystem::path& path);

// UserError "<what>: N non-finite values (first at flat index i: nan)" unless every value is
// finite. Evaluation must refuse NaN/Inf reconstructions and targets rather than average them.
void check_finite(ArrayView<const float> a, const std::string& what);
inline void check_finite(const Array<float>& a, const std::string& what) {
  check_finite(a.view(), what);
}

}  // namespace rb
