// fastMRI HDF5 files (io/fastmri.hpp) as dicts of numpy arrays, named as the file's datasets:
//
//   {"kspace": complex64 [slice coil read phase], "reconstruction_rss": float32 [slice y x],
//    "mask": float32 [phase], "ismrmrd_header": str (XML),
//    "attrs": {"acquisition", "max", "norm", "patient_id", "acceleration", "num_low_frequency"}}
//
// with absent datasets/attributes left out, so that write_fastmri(path, **read_fastmri(p))
// writes the same file.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include "common.hpp"
#include "reconbench/io/fastmri.hpp"

namespace rbpy {

namespace {

namespace fs = std::filesystem;

py::dict attrs_dict(const std::string& acquisition, std::optional<double> max,
                    std::optional<double> norm, const std::string& patient_id,
                    std::optional<int64_t> acceleration, std::optional<int64_t> nlf) {
  py::dict a;
  if (!acquisition.empty()) a["acquisition"] = acquisition;
  if (max) a["max"] = *max;
  if (norm) a["norm"] = *norm;
  if (!patient_id.empty()) a["patient_id"] = patient_id;
  if (acceleration) a["acceleration"] = *acceleration;
  if (nlf) a["num_low_frequency"] = *nlf;
  return a;
}

py::dict volume_dict(rb::FastMriVolume&& v) {
  py::dict d;
  d["kspace"] = to_numpy(std::move(v.kspace));
  if (v.target) d["reconstruction_rss"] = to_numpy(std::move(*v.target));
  if (v.mask) d["mask"] = to_numpy(std::move(*v.mask));
  if (!v.header_xml.empty()) d["ismrmrd_header"] = v.header_xml;
  d["attrs"] = attrs_dict(v.acquisition, v.max, v.norm, v.patient_id, v.acceleration,
                          v.num_low_frequency);
  return d;
}

py::dict read_fastmri(const fs::path& path, std::optional<int64_t> slice) {
  if (!slice) return volume_dict(run_released([&] { return rb::FastMriFile(path).read_all(); }));
  struct SliceData {
    rb::Array<rb::cfloat> kspace;
    std::optional<rb::Array<float>> target;
    std::optional<std::vector<float>> mask;
    std::string header;
  };
  std::optional<rb::FastMriFile> f;
  auto s = run_released([&] {
    f.emplace(path);
    int64_t i = *slice < 0 ? *slice + f->num_slices() : *slice;
    RB_CHECK(i >= 0 && i < f->num_slices(), path.string(), ": slice ", *slice, " out of range (",
             f->num_slices(), " slices)");
    SliceData d;
    d.kspace = f->read_kspace_slice(i);
    if (f->has_target()) d.target = f->read_target_slice(i);
    if (f->has_mask()) d.mask = f->read_mask();
    d.header = f->header_xml();
    return d;
  });
  rb::FastMriVolume v;
  v.kspace = std::move(s.kspace);
  v.target = std::move(s.target);
  v.mask = std::move(s.mask);
  v.header_xml = std::move(s.header);
  v.acquisition = f->acquisition();
  v.max = f->attr_max();
  v.norm = f->attr_norm();
  v.patient_id = f->patient_id();
  v.acceleration = f->acceleration();
  v.num_low_frequency = f->num_low_frequency();
  return volume_dict(std::move(v));
}

// attrs as write_fastmri takes them; UserError for keys a fastMRI file does not have.
void set_attrs(rb::FastMriVolume& v, const py::dict& attrs) {
  for (const auto& [k, val] : attrs) {
    const std::string key = py::str(k);
    try {
      if (key == "acquisition") {
        v.acquisition = py::str(val);
      } else if (key == "patient_id") {
        v.patient_id = py::str(val);
      } else if (key == "max") {
        v.max = val.cast<double>();
      } else if (key == "norm") {
        v.norm = val.cast<double>();
      } else if (key == "acceleration") {
        v.acceleration = val.cast<int64_t>();
      } else if (key == "num_low_frequency") {
        v.num_low_frequency = val.cast<int64_t>();
      } else {
        throw rb::UserError(rb::cat("write_fastmri: unknown attribute '", key,
                                    "' (acquisition, max, norm, patient_id, acceleration, "
                                    "num_low_frequency)"));
      }
    } catch (const py::cast_error&) {
      throw rb::UserError(rb::cat("write_fastmri: attribute ", key, "=",
                                  std::string(py::repr(val)), " has the wrong type"));
    }
  }
}

void write_fastmri(const fs::path& path, const py::handle& kspace,
                   const py::object& reconstruction_rss, const py::object& mask,
                   const py::object& ismrmrd_header, const py::object& attrs) {
  auto k = complex_array(kspace, "write_fastmri: kspace");
  check_ndim(k, 4, "write_fastmri: kspace", "[slice coil read phase]");
  rb::FastMriVolume v;
  std::optional<CArray<float>> target;
  if (!reconstruction_rss.is_none()) {
    target = real_array(reconstruction_rss, "write_fastmri: reconstruction_rss");
    check_ndim(*target, 3, "write_fastmri: reconstruction_rss", "[slice y x]");
  }
  if (!mask.is_none()) {
    auto mk = real_array(mask, "write_fastmri: mask");
    check_ndim(mk, 1, "write_fastmri: mask", "[phase]");
    v.mask = std::vector<float>(mk.data(), mk.data() + mk.size());
  }
  if (!ismrmrd_header.is_none()) v.header_xml = py::cast<std::string>(ismrmrd_header);
  if (!attrs.is_none()) set_attrs(v, attrs.cast<py::dict>());
  run_released([&] {
    v.kspace = rb::Array<rb::cfloat>::from_view(view(k));
    if (target) v.target = rb::Array<float>::from_view(view(*target));
    rb::write_fastmri(path, v);
  });
}

}  // namespace

void bind_io(py::module_& m) {
  using namespace pybind11::literals;
  m.def("read_fastmri", &read_fastmri, "path"_a, "slice"_a = py::none(),
        "A fastMRI .h5 file as a dict (kspace, reconstruction_rss, mask, ismrmrd_header, "
        "attrs; absent ones left out). slice: read only that slice (kspace [coil read phase], "
        "reconstruction_rss [y x]). ValueError naming the file for a bad file.");
  m.def("write_fastmri", &write_fastmri, "path"_a, "kspace"_a, "reconstruction_rss"_a = py::none(),
        "mask"_a = py::none(), "ismrmrd_header"_a = py::none(), "attrs"_a = py::none(),
        "Write a fastMRI .h5 file exactly as the dataset lays it out (kspace complex64 [slice "
        "coil read phase], reconstruction_rss float32 [slice y x], mask float32 [phase], "
        "ismrmrd_header XML, attrs), atomically. write_fastmri(p, **read_fastmri(q)) copies "
        "a file.");
  m.def(
      "read_reconstruction",
      [](const fs::path& path, const std::string& key) {
        return to_numpy(run_released([&] { return rb::read_reconstruction(path, key); }));
      },
      "path"_a, "key"_a = "reconstruction",
      "The float32 [slice y x] volume `key` of a reconstruction (or ground-truth) file; "
      "ValueError if missing, of the wrong type, or holding NaN/Inf.");
  m.def(
      "write_reconstruction",
      [](const fs::path& path, const py::handle& volume, const std::string& acquisition) {
        auto v = real_array(volume, "write_reconstruction: volume");
        check_ndim(v, 3, "write_reconstruction: volume", "[slice y x]");
        run_released([&] {
          rb::write_reconstruction(path, rb::Array<float>::from_view(view(v)), acquisition);
        });
      },
      "path"_a, "volume"_a, "acquisition"_a = "",
      "Write a fastMRI reconstruction file (`reconstruction` float32 [slice y x], attribute "
      "acquisition), as `reconbench recon` and the challenge's submissions have them.");
}

}  // namespace rbpy
