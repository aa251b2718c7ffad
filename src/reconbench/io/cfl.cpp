// BART .cfl/.hdr (src/misc/mmio.c, io.c): "<base>.hdr" is text, "# Dimensions\n" then the
// sizes separated by spaces; "<base>.cfl" is raw complex64 (little-endian, interleaved re/im)
// in column-major order, dims[0] fastest.
#include "reconbench/io/cfl.hpp"

#include <fstream>
#include <sstream>

#include "reconbench/core/fs.hpp"

namespace fs = std::filesystem;

namespace rb {

namespace {
constexpr int64_t kMaxCflElements = int64_t{1} << 31;

fs::path with_ext(const fs::path& base, const char* ext) {
  fs::path p = base;
  p += ext;
  return p;
}
}  // namespace

fs::path cfl_base(const fs::path& p) {
  if (p.extension() == ".cfl" || p.extension() == ".hdr") return fs::path(p).replace_extension();
  return p;
}

CflArray read_cfl(const fs::path& base_in) {
  const fs::path base = cfl_base(base_in);
  const fs::path hdr = with_ext(base, ".hdr"), cfl = with_ext(base, ".cfl");
  RB_CHECK(fs::exists(hdr), hdr.string(), ": no such file (BART header of ", base.string(), ")");
  RB_CHECK(fs::exists(cfl), cfl.string(), ": no such file (BART data of ", base.string(), ")");
  std::istringstream in(read_file(hdr));
  std::string line;
  std::vector<int64_t> dims;
  bool found = false;
  // Tolerant like BART: sections start with "# Name"; only "# Dimensions" matters here.
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) != 0) continue;
    std::string key = line.substr(1);
    key.erase(0, key.find_first_not_of(" \t"));
    key.erase(key.find_last_not_of(" \t\r") + 1);
    if (key != "Dimensions") continue;
    while (std::getline(in, line) && line.find_first_not_of(" \t\r") == std::string::npos) {
    }
    std::istringstream ds(line);
    std::string tok;
    while (ds >> tok) {
      size_t used = 0;
      long long v = -1;
      try {
        v = std::stoll(tok, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      RB_CHECK(used == tok.size() && v >= 1, hdr.string(), ": bad dimension '", tok,
               "' (BART header dims must be positive integers)");
      dims.push_back(v);
    }
    found = true;
    break;
  }
  RB_CHECK(found && !dims.empty(), hdr.string(), ": no '# Dimensions' line (not a BART header)");
  RB_CHECK(dims.size() <= kBartDims, hdr.string(), ": ", dims.size(), " dimensions, BART allows ",
           kBartDims);
  int64_t n = 1;
  for (int64_t d : dims) {
    RB_CHECK(d <= kMaxCflElements && n <= kMaxCflElements / d, hdr.string(),
             ": dimensions describe more than 2^31 elements");
    n *= d;
  }
  std::error_code ec;
  auto size = fs::file_size(cfl, ec);
  RB_CHECK(!ec, cfl.string(), ": cannot stat");
  RB_CHECK(size == static_cast<uintmax_t>(n) * 8, cfl.string(), ": has ", size, " bytes but ",
           hdr.string(), " describes ", n, " complex64 values (", n * 8, " bytes)");
  CflArray a;
  a.dims = dims;
  a.data.resize(static_cast<size_t>(n));
  std::ifstream f(cfl, std::ios::binary);
  RB_CHECK(f.good(), cfl.string(), ": cannot open for reading");
  f.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(n * 8));
  RB_CHECK(f.good(), cfl.string(), ": read failed");
  return a;
}

void write_cfl(const fs::path& base_in, const CflArray& a) {
  const fs::path base = cfl_base(base_in);
  int64_t n = 1;
  for (int64_t d : a.dims) {
    RB_CHECK(d >= 1, base.string(), ": BART dims must be positive");
    n *= d;
  }
  RB_CHECK(!a.dims.empty() && a.dims.size() <= kBartDims, base.string(), ": ", a.dims.size(),
           " dimensions (BART allows 1 to ", kBartDims, ")");
  RB_CHECK(static_cast<int64_t>(a.data.size()) == n, base.string(), ": ", a.data.size(),
           " values for dims of ", n, " elements");
  {
    AtomicOutput out(with_ext(base, ".cfl"));
    std::ofstream f(out.tmp(), std::ios::binary);
    RB_CHECK(f.good(), out.path().string(), ": cannot open for writing");
    f.write(reinterpret_cast<const char*>(a.data.data()), static_cast<std::streamsize>(n * 8));
    f.close();
    RB_CHECK(f.good(), out.path().string(), ": write failed (disk full?)");
    out.commit();
  }
  std::string hdr = "# Dimensions\n";
  for (int64_t d : a.dims) hdr += std::to_string(d) + " ";
  hdr += "\n";
  write_file_atomic(with_ext(base, ".hdr"), hdr);
}

CflArray kspace_slice_to_cfl(ArrayView<const cfloat> slice) {
  RB_CHECK(slice.ndim() == 3, "k-space slice has shape ", shape_str(slice.shape()),
           ", expected (coils, readout, phase)");
  const int64_t C = slice.dim(0), H = slice.dim(1), W = slice.dim(2);
  CflArray a;
  a.dims.assign(kBartDims, 1);
  a.dims[kBartReadDim] = H;
  a.dims[kBartPhs1Dim] = W;
  a.dims[kBartCoilDim] = C;
  a.data.resize(static_cast<size_t>(C * H * W));
  // row-major [c r p] -> column-major [r p 1 c]: out[r + H (p + W c)] = in[(c H + r) W + p]
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < H; ++r)
      for (int64_t p = 0; p < W; ++p)
        a.data[static_cast<size_t>(r + H * (p + W * c))] = slice[(c * H + r) * W + p];
  return a;
}

namespace {
// dims padded to 16; checks that only the allowed axes differ from 1.
std::vector<int64_t> padded_dims(const CflArray& a, const std::string& what, bool allow_slice) {
  std::vector<int64_t> d = a.dims;
  d.resize(kBartDims, 1);
  for (int i = 0; i < kBartDims; ++i) {
    bool allowed = i == kBartReadDim || i == kBartPhs1Dim || i == kBartCoilDim ||
                   (allow_slice && i == kBartSliceDim);
    RB_CHECK(allowed || d[i] == 1, what, ": BART dims ", shape_str(a.dims), " have size ", d[i],
             " in dim ", i, "; expected k-space [read phase 1 coil", allow_slice ? " ... slice(13)" : "",
             "] with all other dims 1");
  }
  return d;
}
}  // namespace

Array<cfloat> cfl_to_kspace_slice(const CflArray& a, const std::string& what) {
  std::vector<int64_t> d = padded_dims(a, what, false);
  const int64_t H = d[kBartReadDim], W = d[kBartPhs1Dim], C = d[kBartCoilDim];
  RB_ASSERT(static_cast<int64_t>(a.data.size()) == C * H * W);
  Array<cfloat> out({C, H, W});
  for (int64_t c = 0; c < C; ++c)
    for (int64_t r = 0; r < H; ++r)
      for (int64_t p = 0; p < W; ++p)
        out[(c * H + r) * W + p] = a.data[static_cast<size_t>(r + H * (p + W * c))];
  return out;
}

CflArray kspace_volume_to_cfl(ArrayView<const cfloat> vol) {
  RB_CHECK(vol.ndim() == 4, "k-space volume has shape ", shape_str(vol.shape()),
           ", expected (slices, coils, readout, phase)");
  const int64_t S = vol.dim(0), per = vol.size() / std::max<int64_t>(S, 1);
  CflArray a;
  a.dims.assign(kBartDims, 1);
  a.dims[kBartReadDim] = vol.dim(2);
  a.dims[kBartPhs1Dim] = vol.dim(3);
  a.dims[kBartCoilDim] = vol.dim(1);
  a.dims[kBartSliceDim] = S;
  a.data.resize(static_cast<size_t>(vol.size()));
  for (int64_t s = 0; s < S; ++s) {
    CflArray one = kspace_slice_to_cfl(vol(s));
    std::copy(one.data.begin(), one.data.end(), a.data.begin() + s * per);
  }
  return a;
}

Array<cfloat> cfl_to_kspace_volume(const CflArray& a, const std::string& what) {
  std::vector<int64_t> d = padded_dims(a, what, true);
  const int64_t H = d[kBartReadDim], W = d[kBartPhs1Dim], C = d[kBartCoilDim],
                S = d[kBartSliceDim];
  const int64_t per = C * H * W;
  Array<cfloat> out({S, C, H, W});
  for (int64_t s = 0; s < S; ++s) {
    CflArray one;
    one.dims = {H, W, 1, C};
    one.data.assign(a.data.begin() + s * per, a.data.begin() + (s + 1) * per);
    Array<cfloat> sl = cfl_to_kspace_slice(one, what);
    std::copy(sl.vec().begin(), sl.vec().end(), out.data() + s * per);
  }
  return out;
}

}  // namespace rb
