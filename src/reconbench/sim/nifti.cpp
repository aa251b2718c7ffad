#include "reconbench/sim/nifti.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include "reconbench/core/error.hpp"

namespace rb::sim {
namespace {

template <class T>
T get(const unsigned char* h, size_t off) {
  T v;
  std::memcpy(&v, h + off, sizeof(T));
  return v;
}
template <class T>
void put(unsigned char* h, size_t off, T v) {
  std::memcpy(h + off, &v, sizeof(T));
}

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Read exactly n bytes (or fewer at EOF); returns the count read.
size_t gz_read_all(gzFile f, void* buf, size_t n, const std::filesystem::path& path) {
  size_t got = 0;
  auto* p = static_cast<unsigned char*>(buf);
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
    const int r = gzread(f, p + got, chunk);
    if (r < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      throw UserError(cat("NIfTI file ", path.string(), ": read error (", msg ? msg : "?",
                          "); corrupt gzip stream?"));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace

NiftiVolume read_nifti(const std::filesystem::path& path) {
  const std::string name = path.string();
  RB_CHECK(std::filesystem::is_regular_file(path), "NIfTI file ", name, ": does not exist");
  GzFile gz;
  gz.f = gzopen(name.c_str(), "rb");
  RB_CHECK(gz.f, "NIfTI file ", name, ": cannot open");
  unsigned char h[348];
  RB_CHECK(gz_read_all(gz.f, h, 348, path) == 348, "NIfTI file ", name,
           ": shorter than the 348-byte NIfTI-1 header");
  const int32_t sizeof_hdr = get<int32_t>(h, 0);
  RB_CHECK(sizeof_hdr != 0x5C010000, "NIfTI file ", name,
           ": big-endian NIfTI is not supported (convert it to little-endian)");
  RB_CHECK(sizeof_hdr == 348, "NIfTI file ", name, ": sizeof_hdr is ", sizeof_hdr,
           ", not 348 (not a NIfTI-1 file; NIfTI-2 is not supported)");
  RB_CHECK(std::memcmp(h + 344, "n+1\0", 4) == 0, "NIfTI file ", name,
           ": magic is not \"n+1\" (only single-file .nii/.nii.gz is supported)");
  const int16_t ndim = get<int16_t>(h, 40);
  RB_CHECK(ndim >= 3 && ndim <= 7, "NIfTI file ", name, ": dim[0] = ", ndim,
           " (need a 3-D volume)");
  NiftiVolume v;
  v.nx = get<int16_t>(h, 42);
  v.ny = get<int16_t>(h, 44);
  v.nz = get<int16_t>(h, 46);
  for (int d = 4; d <= ndim; ++d)
    RB_CHECK(get<int16_t>(h, 40 + 2 * d) == 1, "NIfTI file ", name,
             ": more than one volume (dim[", d, "] = ", get<int16_t>(h, 40 + 2 * d), ")");
  RB_CHECK(v.nx > 0 && v.ny > 0 && v.nz > 0, "NIfTI file ", name, ": bad dimensions ", v.nx,
           "x", v.ny, "x", v.nz);
  const int16_t datatype = get<int16_t>(h, 70);
  const int16_t bitpix = get<int16_t>(h, 72);
  v.dx = get<float>(h, 80);
  v.dy = get<float>(h, 84);
  v.dz = get<float>(h, 88);
  RB_CHECK(v.dx > 0 && v.dy > 0 && v.dz > 0, "NIfTI file ", name, ": non-positive voxel size");
  const float vox_offset = get<float>(h, 108);
  RB_CHECK(vox_offset >= 348 && vox_offset < 1e7, "NIfTI file ", name, ": bad vox_offset ",
           vox_offset);
  float slope = get<float>(h, 112), inter = get<float>(h, 116);
  if (slope == 0 || !std::isfinite(slope)) {
    slope = 1;
    inter = 0;
  }
  const int16_t sform = get<int16_t>(h, 254);
  if (sform > 0) {
    for (int i = 0; i < 12; ++i) v.affine[i] = get<float>(h, 280 + 4 * i);
  } else {
    v.affine = {v.dx, 0, 0, get<float>(h, 268), 0, v.dy, 0, get<float>(h, 272),
                0,    0, v.dz, get<float>(h, 276)};
  }
  int bytes = 0;
  switch (datatype) {
    case 2: case 256: bytes = 1; break;             // uint8, int8
    case 4: case 512: bytes = 2; break;             // int16, uint16
    case 8: case 16: case 768: bytes = 4; break;    // int32, float32, uint32
    case 64: bytes = 8; break;                      // float64
    default:
      throw UserError(cat("NIfTI file ", name, ": unsupported datatype ", datatype,
                          " (supported: uint8, int8, int16, uint16, int32, uint32, float32, "
                          "float64)"));
  }
  RB_CHECK(bitpix == 8 * bytes, "NIfTI file ", name, ": bitpix ", bitpix,
           " does not match datatype ", datatype);
  // Skip to vox_offset.
  const size_t skip = static_cast<size_t>(vox_offset) - 348;
  std::vector<unsigned char> pad(skip);
  RB_CHECK(gz_read_all(gz.f, pad.data(), skip, path) == skip, "NIfTI file ", name,
           ": truncated before vox_offset");
  // The header alone can claim 32767^3 voxels; refuse absurd volumes, and read the data in
  // bounded chunks so that a short (or truncated) file fails before the full volume is
  // allocated. 2^28 voxels is 37x the 0.5 mm Colin27 template.
  constexpr int64_t kMaxVoxels = int64_t{1} << 28;
  RB_CHECK(v.nx * v.ny * v.nz <= kMaxVoxels, "NIfTI file ", name, ": ", v.nx, "x", v.ny, "x", v.nz,
           " voxels, more than the ", kMaxVoxels, " supported");
  const size_t n = static_cast<size_t>(v.nx * v.ny * v.nz);
  constexpr size_t kChunkVoxels = size_t{1} << 21;
  std::vector<unsigned char> raw;
  v.data.reserve(std::min(n, kChunkVoxels));
  for (size_t done = 0; done < n;) {
    const size_t m = std::min(n - done, kChunkVoxels);
    raw.resize(m * static_cast<size_t>(bytes));
    const size_t got = gz_read_all(gz.f, raw.data(), raw.size(), path);
    RB_CHECK(got == raw.size(), "NIfTI file ", name, ": truncated: ",
             done * static_cast<size_t>(bytes) + got, " of ", n * static_cast<size_t>(bytes),
             " data bytes");
    for (size_t i = 0; i < m; ++i) {
      const unsigned char* p = raw.data() + i * static_cast<size_t>(bytes);
      double x = 0;
      switch (datatype) {
        case 2: x = p[0]; break;
        case 256: x = static_cast<int8_t>(p[0]); break;
        case 4: x = get<int16_t>(p, 0); break;
        case 512: x = get<uint16_t>(p, 0); break;
        case 8: x = get<int32_t>(p, 0); break;
        case 768: x = get<uint32_t>(p, 0); break;
        case 16: x = get<float>(p, 0); break;
        case 64: x = get<double>(p, 0); break;
      }
      v.data.push_back(static_cast<float>(x * slope + inter));
    }
    done += m;
  }
  return v;
}

void write_nifti(const std::filesystem::path& path, const NiftiVolume& vol) {
  unsigned char h[352] = {};
  put<int32_t>(h, 0, 348);
  put<int16_t>(h, 40, 3);
  put<int16_t>(h, 42, static_cast<int16_t>(vol.nx));
  put<int16_t>(h, 44, static_cast<int16_t>(vol.ny));
  put<int16_t>(h, 46, static_cast<int16_t>(vol.nz));
  for (int d = 4; d <= 7; ++d) put<int16_t>(h, 40 + 2 * d, 1);
  put<int16_t>(h, 70, 16);
  put<int16_t>(h, 72, 32);
  put<float>(h, 76, 1.0f);
  put<float>(h, 80, static_cast<float>(vol.dx));
  put<float>(h, 84, static_cast<float>(vol.dy));
  put<float>(h, 88, static_cast<float>(vol.dz));
  put<float>(h, 108, 352.0f);
  put<float>(h, 112, 1.0f);
  put<int16_t>(h, 254, 1);
  for (int i = 0; i < 12; ++i) put<float>(h, 280 + 4 * i, static_cast<float>(vol.affine[i]));
  std::memcpy(h + 344, "n+1\0", 4);
  const std::string name = path.string();
  const bool gzipped = name.size() > 3 && name.substr(name.size() - 3) == ".gz";
  gzFile f = gzopen(name.c_str(), gzipped ? "wb6" : "wbT");
  RB_CHECK(f, "NIfTI file ", name, ": cannot create");
  bool ok = gzwrite(f, h, 352) == 352;
  const unsigned nbytes = static_cast<unsigned>(vol.data.size() * sizeof(float));
  ok = ok && gzwrite(f, vol.data.data(), nbytes) == static_cast<int>(nbytes);
  ok = (gzclose(f) == Z_OK) && ok;
  RB_CHECK(ok, "NIfTI file ", name, ": write failed");
}

}  // namespace rb::sim
