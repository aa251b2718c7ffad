// NIfTI-1 single-file volumes (.nii or .nii.gz, read through zlib), enough to load the
// Colin27 templates of Debian's mricron-data. The 348-byte header is validated (sizeof_hdr,
// magic "n+1", dimensions, datatype, vox_offset, data length) and errors name the file.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace rb::sim {

struct NiftiVolume {
  int64_t nx = 0, ny = 0, nz = 0;   // dim[1..3]
  double dx = 1, dy = 1, dz = 1;    // pixdim[1..3] in mm
  // Voxel (i, j, k) -> world mm: srow (sform) if present, else pixdim * index + qoffset.
  std::array<double, 12> affine{};
  std::vector<float> data;          // [z y x] = NIfTI order (x fastest), scl_slope applied

  float at(int64_t i, int64_t j, int64_t k) const { return data[(k * ny + j) * nx + i]; }
  // World position (mm) of voxel (i, j, k).
  std::array<double, 3> world(double i, double j, double k) const {
    return {affine[0] * i + affine[1] * j + affine[2] * k + affine[3],
            affine[4] * i + affine[5] * j + affine[6] * k + affine[7],
            affine[8] * i + affine[9] * j + affine[10] * k + affine[11]};
  }
};

// Throws rb::UserError naming the file on any problem.
NiftiVolume read_nifti(const std::filesystem::path& path);

// Write an uncompressed-or-gzip NIfTI-1 float32 volume (for tests and debugging).
void write_nifti(const std::filesystem::path& path, const NiftiVolume& vol);

}  // namespace rb::sim
