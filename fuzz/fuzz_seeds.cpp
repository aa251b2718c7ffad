// Writes the seed corpora of every fuzz target: `fuzz_seeds OUT` creates OUT/<target>/...
// Seeds are real-layout files produced by reconbench's own writers (the ones `simulate`,
// `undersample`, `recon`, `convert` and the challenge fixtures use), kept tiny so that each
// mutation is cheap: fastMRI k-space files of the train/val layout (kspace, ground truth,
// ISMRMRD header, attrs) and of the test/challenge layout (undersampled kspace, mask,
// acceleration, num_low_frequency), reconstruction and ground-truth files, ISMRMRD headers
// of the three simulated vendors, BART .cfl/.hdr pairs, NIfTI volumes in the Colin27
// template's datatypes, HTTP requests for every server route, and HDF5 files that reach
// other files (external and soft links, virtual datasets, external raw storage, an
// unexpected filter: tests/unit/io/hdf5_attacks.hpp) for the HDF5 targets and as a
// multipart submission.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <sstream>

#include "../tests/unit/challenge/fixture.hpp"
#include "../tests/unit/io/hdf5_attacks.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/h5.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/io/cfl.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/sim/nifti.hpp"

namespace fs = std::filesystem;
using rb::Array;
using rb::cfloat;

namespace {

fs::path out_root;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(out_root / target);
  rb::write_file_atomic(out_root / target / name, bytes);
}

rb::IsmrmrdInfo header_info(int vendor, int64_t H, int64_t W, int64_t coils) {
  rb::IsmrmrdInfo hd;
  hd.enc_x = H;
  hd.enc_y = W + 4;
  hd.recon_x = W;
  hd.recon_y = W;
  hd.enc_fov_x = 440;
  hd.enc_fov_y = 220;
  hd.enc_fov_z = 5;
  hd.recon_fov_x = 220;
  hd.recon_fov_y = 220;
  hd.recon_fov_z = 5;
  hd.pe_max = W - 1;
  hd.pe_center = W / 2;
  const char* vendors[] = {"SIEMENS", "Philips Medical Systems", "GE MEDICAL SYSTEMS"};
  const char* models[] = {"Prisma_fit", "Ingenia", "DISCOVERY MR750"};
  hd.vendor = vendors[vendor];
  hd.model = models[vendor];
  hd.field_strength_t = vendor == 1 ? 1.5 : 2.89362;
  hd.receiver_channels = coils;
  hd.tr_ms = 6000;
  hd.te_ms = 113;
  hd.ti_ms = vendor == 2 ? 2500 : 0;
  hd.flip_angle_deg = 150;
  hd.protocol_name = "AXT2";
  return hd;
}

rb::FastMriVolume kspace_volume(int vendor, bool test_layout) {
  const int64_t S = 2, C = 2, H = 16, W = 12;
  rb::FastMriVolume v;
  v.kspace = Array<cfloat>({S, C, H, W});
  std::mt19937 rng(7 + vendor);
  std::normal_distribution<float> nd(0, 1e-5f);
  for (int64_t i = 0; i < v.kspace.size(); ++i) v.kspace[i] = cfloat(nd(rng), nd(rng));
  v.header_xml = rb::make_ismrmrd_header(header_info(vendor, H, W, C));
  v.acquisition = "AXT2";
  v.patient_id = "0123456789abcdef";
  if (test_layout) {
    std::vector<float> mask(static_cast<size_t>(W), 0.0f);
    for (int64_t x = 0; x < W; x += 4) mask[static_cast<size_t>(x)] = 1;
    mask[W / 2 - 1] = mask[W / 2] = 1;
    for (int64_t i = 0; i < v.kspace.size(); ++i)
      if (mask[static_cast<size_t>(i % W)] == 0) v.kspace[i] = cfloat(0, 0);
    v.mask = mask;
    v.acceleration = 4;
    v.num_low_frequency = 2;
  } else {
    Array<float> t({S, W, W});
    for (int64_t i = 0; i < t.size(); ++i) t[i] = 1e-4f * static_cast<float>(i % 13);
    v.target = t;
    v.max = 1.2e-3;
    v.norm = 0.05;
  }
  return v;
}

void hdf5_seeds(const fs::path& tmp) {
  int n = 0;
  auto add = [&](const fs::path& p) {
    const std::string bytes = rb::read_file(p);
    put("hdf5_raw", "seed_" + std::to_string(n++) + ".h5", bytes);
    put("validate", "seed_h5_" + std::to_string(n) + ".bin", std::string(1, '\0') + bytes);
  };
  for (int vendor = 0; vendor < 3; ++vendor)
    for (bool test : {false, true}) {
      const fs::path p = tmp / ("k" + std::to_string(vendor) + (test ? "t" : "f") + ".h5");
      rb::write_fastmri(p, kspace_volume(vendor, test));
      add(p);
    }
  Array<float> rec({2, 12, 12});
  for (int64_t i = 0; i < rec.size(); ++i) rec[i] = 1e-4f * static_cast<float>(i % 11);
  rb::write_reconstruction(tmp / "recon.h5", rec, "AXT2");
  add(tmp / "recon.h5");
  rb::challenge::write_float_volume(tmp / "gt.h5", "reconstruction_rss", rec, {{"acquisition", "AXFLAIR"}},
                                    {{"max", 1e-3}});
  add(tmp / "gt.h5");
  // The structured target decodes any bytes; a few deterministic random inputs start it.
  std::mt19937 rng(1);
  for (int k = 0; k < 8; ++k) {
    std::string s(static_cast<size_t>(64 + 96 * k), '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    put("hdf5_layout", "seed_" + std::to_string(k), s);
  }
}

void validate_seeds(const fs::path& tmp) {
  const fs::path data = rb::testing::make_dataset(tmp / "vfix");
  auto sub = rb::testing::make_submission(data, tmp / "vsub", "multicoil_test", 8, 0.05, 1);
  int n = 0;
  for (const auto& [name, path] : rb::challenge::list_submission_dir(sub))
    for (char mode : {0, 1, 2, 3, 4, 5, 6, 7, 8})
      put("validate", "seed_sub_" + std::to_string(n++) + ".bin", std::string(1, mode) + rb::read_file(path));
  Array<float> bad({2, 32, 32});
  for (int64_t i = 0; i < bad.size(); ++i) bad[i] = i == 77 ? NAN : (i % 5 == 0 ? -1e-4f : 5.0f);
  rb::challenge::write_float_volume(tmp / "bad.h5", "reconstruction", bad);
  put("validate", "seed_bad.bin", std::string(1, '\0') + rb::read_file(tmp / "bad.h5"));
}

// The attack files of issue 15 on the fixture's ground truth, with targets relative to the
// fuzz scratch directory where the targets write their input (fuzz_validate's fixture lives
// in scratch/challenge/): file name -> bytes.
std::vector<std::pair<std::string, std::string>> indirection_files(const fs::path& tmp) {
  const fs::path data = rb::testing::make_dataset(tmp / "ifix");
  const std::string gt_rel = "challenge/data/ground_truth/multicoil_test/file_brain_AXT1POST_003.h5";
  std::vector<std::pair<std::string, std::string>> out;
  for (auto attack : rb::testing::all_h5_attacks()) {
    const fs::path p = tmp / ("attack_" + rb::testing::h5_attack_name(attack) + ".h5");
    rb::testing::write_h5_attack(p, attack, "reconstruction", gt_rel, "reconstruction_rss",
                                 data / "ground_truth/multicoil_test/file_brain_AXT1POST_003.h5");
    out.emplace_back(p.filename().string(), rb::read_file(p));
  }
  return out;
}

void indirection_seeds(const fs::path& tmp) {
  for (const auto& [name, bytes] : indirection_files(tmp)) {
    put("hdf5_raw", name, bytes);
    for (char mode : {0, 3}) put("validate", name + "." + std::to_string(int(mode)) + ".bin", std::string(1, mode) + bytes);
  }
}

void ismrmrd_seeds() {
  for (int vendor = 0; vendor < 3; ++vendor)
    put("ismrmrd_xml", "vendor_" + std::to_string(vendor) + ".xml",
        rb::make_ismrmrd_header(header_info(vendor, 640, 320, 16)));
  // fastMRI files carry schema version 1 headers that libismrmrd 1.x rejects as incomplete
  // (no experimentalConditions): the fallback reader's path.
  std::string x = rb::make_ismrmrd_header(header_info(0, 640, 320, 16));
  const size_t a = x.find("<experimentalConditions>"), b = x.find("</experimentalConditions>");
  if (a != std::string::npos && b != std::string::npos) x.erase(a, b + 25 - a);
  put("ismrmrd_xml", "fallback.xml", x);
  put("ismrmrd_xml", "version.xml",
      "<?xml version=\"1.0\"?><ismrmrdHeader xmlns=\"http://www.ismrm.org/ISMRMRD\"><version>1</version>"
      "<encoding><encodedSpace><matrixSize><x>640</x><y>372</y><z>1</z></matrixSize></encodedSpace>"
      "<reconSpace><matrixSize><x>320</x><y>320</y><z>1</z></matrixSize></reconSpace>"
      "<encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>319</maximum>"
      "<center>160</center></kspace_encoding_step_1></encodingLimits></encoding></ismrmrdHeader>");
}

void cfl_seeds(const fs::path& tmp) {
  auto pack = [](const fs::path& base) {
    const std::string hdr = rb::read_file(fs::path(base.string() + ".hdr"));
    const std::string cfl = rb::read_file(fs::path(base.string() + ".cfl"));
    std::string s;
    s += static_cast<char>(hdr.size() & 0xff);
    s += static_cast<char>(hdr.size() >> 8);
    return s + hdr + cfl;
  };
  rb::FastMriVolume v = kspace_volume(0, false);
  rb::write_cfl(tmp / "vol", rb::kspace_volume_to_cfl(v.kspace.view()));
  put("cfl", "volume", pack(tmp / "vol"));
  rb::write_cfl(tmp / "slice", rb::kspace_slice_to_cfl(v.kspace.view()(0)));
  put("cfl", "slice", pack(tmp / "slice"));
  rb::CflArray small{{3, 2}, std::vector<cfloat>(6, cfloat(1, -1))};
  rb::write_cfl(tmp / "small", small);
  put("cfl", "small", pack(tmp / "small"));
}

void nifti_seeds(const fs::path& tmp) {
  rb::sim::NiftiVolume v;
  v.nx = 5;
  v.ny = 4;
  v.nz = 3;
  v.dx = v.dy = v.dz = 1;
  v.affine = {1, 0, 0, -90, 0, 1, 0, -126, 0, 0, 1, -72};
  for (int64_t i = 0; i < 60; ++i) v.data.push_back(static_cast<float>(i % 9) * 10.0f);
  rb::sim::write_nifti(tmp / "f32.nii", v);
  rb::sim::write_nifti(tmp / "f32.nii.gz", v);
  const std::string f32 = rb::read_file(tmp / "f32.nii");
  put("nifti", "float32.nii", f32);
  put("nifti", "float32.nii.gz", rb::read_file(tmp / "f32.nii.gz"));
  // The Colin27 templates are uint8 / int16 with scl_slope and sform; same header, other data.
  auto variant = [&](int16_t datatype, int16_t bitpix, int bytes, int16_t sform) {
    std::string s = f32.substr(0, 352);
    std::memcpy(&s[70], &datatype, 2);
    std::memcpy(&s[72], &bitpix, 2);
    std::memcpy(&s[254], &sform, 2);
    const float slope = 0.5f, inter = 3.0f;
    std::memcpy(&s[112], &slope, 4);
    std::memcpy(&s[116], &inter, 4);
    for (int i = 0; i < 60 * bytes; ++i) s += static_cast<char>(i * 37);
    return s;
  };
  put("nifti", "uint8.nii", variant(2, 8, 1, 1));
  put("nifti", "int16.nii", variant(4, 16, 2, 0));
  put("nifti", "float64.nii", variant(64, 64, 8, 1));
}

void server_seeds(const fs::path& tmp) {
  auto req = [](const std::string& method, const std::string& target, const std::string& token,
                const std::string& body = "", const std::string& ctype = "application/json") {
    std::string s = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token.empty()) s += "Authorization: Bearer " + token + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT")
      s += "Content-Type: " + ctype + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    return s + "\r\n" + body;
  };
  int n = 0;
  auto add = [&](const std::string& s) { put("server_http", "req_" + std::to_string(n++), s); };
  add(req("GET", "/api/health", ""));
  add(req("GET", "/api/challenge", ""));
  add(req("GET", "/api/teams", ""));
  add(req("GET", "/index.html", ""));
  add(req("GET", "/../../etc/passwd", ""));
  add(req("POST", "/api/register", "", R"({"username":"bob","password":"hunter22hunter","team":"Bob"})"));
  add(req("POST", "/api/login", "", R"({"username":"alice","password":"alice-password"})"));
  add(req("GET", "/api/me", "@PART@"));
  add(req("GET", "/api/me", "rbt_1_deadbeef"));
  add(req("POST", "/api/tokens", "@PART@", R"({"scope":"read","label":"ci"})"));
  add(req("GET", "/api/tokens", "@PART@"));
  add(req("DELETE", "/api/tokens/99", "@PART@"));
  add(req("POST", "/api/teams", "@PART@", R"({"name":"Second team"})"));
  add(req("GET", "/api/quota?phase=test&track=multicoil_8x", "@PART@"));
  add(req("GET", "/api/quota?phase=%74est&track=multicoil_4x&track=x", "@PART@"));
  add(req("POST", "/api/uploads", "@PART@",
          R"({"filename":"file_brain_AXT1POST_003.h5","size":64,"sha256":")" + std::string(64, '0') + "\"}"));
  add(req("GET", "/api/uploads/@UPLOAD@", "@PART@"));
  add(req("PUT", "/api/uploads/@UPLOAD@?offset=0", "@PART@", std::string(64, 'x'), "application/octet-stream"));
  add(req("POST", "/api/uploads/@UPLOAD@/finalize", "@PART@"));
  add("PUT /api/uploads/@UPLOAD@?offset=0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer @PART@\r\n"
      "Transfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n30\r\n" + std::string(48, 'y') + "\r\n0\r\n\r\n");
  add(req("GET", "/api/submissions", "@PART@"));
  add(req("GET", "/api/submissions/1", "@ORG@"));
  add(req("GET", "/api/submissions/1/volumes", "@ORG@"));
  add(req("GET", "/api/submissions/1/volumes/file_brain_AXT2_101.h5/slices/1.png", "@ORG@"));
  add(req("GET", "/api/leaderboard/challenge/multicoil_4x", ""));
  add(req("GET", "/api/leaderboard/test/multicoil_8x", "@PART@"));
  add(req("POST", "/api/submissions", "@PART@",
          R"({"phase":"test","track":"multicoil_8x","description":"d","files":{"file_brain_AXT1POST_003.h5":")" +
              std::string(64, 'a') + "\"}}"));
  add(req("POST", "/api/admin/users", "@ORG@", R"({"username":"carol","role":"participant","team":"C"})"));
  add(req("POST", "/api/admin/teams/1/members", "@ORG@", R"({"username":"alice"})"));
  add(req("POST", "/api/admin/phases/test/window", "@ORG@", R"({"opens_at":0,"closes_at":0})"));
  add(req("PUT", "/api/admin/limits", "@ORG@", R"({"per_day":1000000000,"attempts_per_day":1000000000})"));
  add(req("GET", "/api/admin/queue", "@ORG@"));
  add(req("POST", "/api/admin/rescore", "@ORG@"));
  add(req("GET", "/api/studies", "@READ@"));
  add(req("GET", "/api/studies/1/cases", "@READ@"));
  add(req("GET", "/api/studies/1/cases/0", "@READ@"));
  add(req("GET", "/api/studies/1/cases/0/image/A.png?slice=1", "@READ@"));
  add(req("PUT", "/api/studies/1/cases/0", "@READ@",
          R"({"response":{"rank":["A","B","C"],"likert":{"A":[1,2,3],"B":[2,3,4],"C":[3,4,5]}},"seconds":12})"));
  add(req("GET", "/api/studies/1/results", "@ORG@"));
  add(req("GET", "/api/studies/1/progress", "@ORG@"));
  add(req("GET", "/api/studies/1/responses.csv", "@ORG@"));
  add(req("GET", "/api/health", "") + req("GET", "/api/teams", ""));  // pipelined
  // A multipart submission of a real reconstruction file (the only 8X test volume).
  const fs::path data = rb::testing::make_dataset(tmp / "sfix");
  auto sub = rb::testing::make_submission(data, tmp / "ssub", "multicoil_test", 8, 0.05, 2);
  const std::string b = "----rbfuzz";
  std::string body;
  auto field = [&](const std::string& name, const std::string& value) {
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  };
  field("phase", "test");
  field("track", "multicoil_8x");
  field("description", "fuzz seed");
  for (const auto& [name, path] : rb::challenge::list_submission_dir(sub))
    body += "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name +
            "\"\r\nContent-Type: application/x-hdf5\r\n\r\n" + rb::read_file(path) + "\r\n";
  body += "--" + b + "--\r\n";
  add(req("POST", "/api/submissions", "@PART@", body, "multipart/form-data; boundary=" + b));
  // The same with an HDF5 indirection in place of the reconstruction.
  for (const auto& [name, bytes] : indirection_files(tmp / "sattack")) {
    std::string a;
    a += "--" + b + "\r\nContent-Disposition: form-data; name=\"track\"\r\n\r\nmulticoil_8x\r\n";
    a += "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file_brain_AXT1POST_003.h5\"\r\n"
         "Content-Type: application/x-hdf5\r\n\r\n" + bytes + "\r\n--" + b + "--\r\n";
    add(req("POST", "/api/submissions", "@PART@", a, "multipart/form-data; boundary=" + b));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR\n");
    return 2;
  }
  out_root = argv[1];
  const fs::path tmp = rb::testing::temp_dir("fuzz-seeds");
  hdf5_seeds(tmp);
  validate_seeds(tmp);
  indirection_seeds(tmp);
  ismrmrd_seeds();
  cfl_seeds(tmp);
  nifti_seeds(tmp);
  server_seeds(tmp);
  fs::remove_all(tmp);
  for (const auto& d : fs::directory_iterator(out_root)) {
    size_t n = 0;
    for ([[maybe_unused]] const auto& f : fs::directory_iterator(d.path())) ++n;
    std::printf("%s: %zu seeds\n", d.path().filename().c_str(), n);
  }
  return 0;
}
