// fastMRI's mask functions and apply_mask (sampling/masks.hpp), bit-identical to
// fastmri.data.subsample for the same seeds:
//
//   MaskFunc(type, center_fractions, accelerations, allow_any_combination=False, seed=0)
//       (fastMRI create_mask_for_mask_type + its RandomState(seed)); f(width, offset=None,
//       seed=None, seed_file=None) -> (mask float32 [width], num_low_frequencies)
//   mask(...)   one draw from a fresh MaskFunc
//   seed: an int or a tuple of ints (numpy RandomState.seed); seed_file: a file name whose
//   base name gives fastMRI's per-file seed tuple(map(ord, fname)).
#include <pybind11/stl.h>

#include "common.hpp"
#include "reconbench/sampling/masks.hpp"

namespace rbpy {

namespace {

std::optional<rb::MaskSeed> mask_seed(const py::object& seed, const py::object& seed_file) {
  RB_CHECK(seed.is_none() || seed_file.is_none(), "mask: give seed or seed_file, not both");
  if (!seed_file.is_none()) {
    // os.fsencode: the name's bytes as the OS stores them (surrogateescape for str), which
    // seed_from_filename decodes back to Python's code points.
    const std::string bytes = py::bytes(py::module_::import("os").attr("fsencode")(seed_file));
    return rb::seed_from_filename(bytes);
  }
  if (seed.is_none()) return std::nullopt;
  auto u32 = [](const py::handle& v) {
    // operator.index (Python and numpy integers), then numpy RandomState's range check.
    py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
    if (!i) PyErr_Clear();
    int overflow = 0;
    const long long x = i ? PyLong_AsLongLongAndOverflow(i.ptr(), &overflow) : 0;
    RB_CHECK(i, "mask: seed must be an int or a tuple of ints, got ", std::string(py::repr(v)));
    RB_CHECK(!overflow && x >= 0 && x <= 0xffffffffLL, "mask: seed ", std::string(py::repr(v)),
             " must be between 0 and 2**32 - 1 (numpy RandomState)");
    return static_cast<uint32_t>(x);
  };
  if (PyIndex_Check(seed.ptr())) return rb::MaskSeed(u32(seed));
  RB_CHECK(py::isinstance<py::iterable>(seed), "mask: seed must be an int or a tuple of ints, got ",
           std::string(py::repr(seed)));
  std::vector<uint32_t> key;
  for (const auto& v : py::iterable(seed)) key.push_back(u32(v));
  RB_CHECK(!key.empty(), "mask: an empty seed tuple");
  return rb::MaskSeed(std::move(key));
}

rb::MaskFunc make_func(const std::string& type, const std::vector<double>& center_fractions,
                       const std::vector<double>& accelerations, bool allow_any_combination,
                       uint32_t rng_seed) {
  rb::MaskFuncOptions o;
  o.type = rb::parse_mask_type(type);
  o.center_fractions = center_fractions;
  o.accelerations = accelerations;
  o.allow_any_combination = allow_any_combination;
  o.rng_seed = rng_seed;
  return rb::MaskFunc(o);
}

py::tuple draw(rb::MaskFunc& f, int64_t width, std::optional<int64_t> offset,
               const py::object& seed, const py::object& seed_file) {
  RB_CHECK(width >= 1, "mask: width ", width, " must be >= 1");
  rb::Mask m = f(width, mask_seed(seed, seed_file), offset);
  return py::make_tuple(to_numpy(std::move(m.mask)), m.num_low_frequencies);
}

}  // namespace

void bind_sampling(py::module_& m) {
  using namespace pybind11::literals;
  m.def("mask_types", &rb::mask_type_names,
        "The mask function names: random, equispaced, equispaced_fraction, magic, "
        "magic_fraction.");
  py::class_<rb::MaskFunc>(m, "MaskFunc",
                           "fastMRI's mask function (create_mask_for_mask_type) with its own "
                           "numpy RandomState(seed); unseeded calls draw from it in turn.")
      .def(py::init(&make_func), "type"_a, "center_fractions"_a, "accelerations"_a,
           "allow_any_combination"_a = false, "seed"_a = 0)
      .def("__call__", &draw, "width"_a, "offset"_a = py::none(), "seed"_a = py::none(),
           "seed_file"_a = py::none(),
           "(mask float32 [width], num_low_frequencies) as fastMRI's MaskFunc(shape, offset, "
           "seed) returns them (mask squeezed to 1-D). With seed or seed_file the function's "
           "RandomState is reseeded for this draw and restored afterwards (temp_seed).");
  m.def(
      "mask",
      [](const std::string& type, int64_t width, const std::vector<double>& center_fractions,
         const std::vector<double>& accelerations, const py::object& seed,
         const py::object& seed_file, std::optional<int64_t> offset, bool allow_any_combination,
         uint32_t rng_seed) {
        rb::MaskFunc f = make_func(type, center_fractions, accelerations, allow_any_combination,
                                   rng_seed);
        return draw(f, width, offset, seed, seed_file);
      },
      "type"_a, "width"_a, "center_fractions"_a = std::vector<double>{0.08},
      "accelerations"_a = std::vector<double>{4.0}, "seed"_a = py::none(),
      "seed_file"_a = py::none(), py::kw_only(), "offset"_a = py::none(),
      "allow_any_combination"_a = false, "rng_seed"_a = 0,
      "One mask of a fresh MaskFunc(type, center_fractions, accelerations, "
      "allow_any_combination, seed=rng_seed): (mask float32 [width], num_low_frequencies). "
      "seed: int or tuple of ints; seed_file: fastMRI's per-file seed tuple(map(ord, "
      "basename)).");
  m.def(
      "undersample",
      [](const py::handle& kspace, const py::handle& mask, std::pair<int64_t, int64_t> padding) {
        auto k = complex_array(kspace, "undersample: kspace");
        auto mk = real_array(mask, "undersample: mask");
        RB_CHECK(mk.ndim() == 1, "undersample: mask must be 1-D [phase], got shape ",
                 rb::shape_str(view(mk).shape()));
        return to_numpy(run_released([&] {
          rb::Array<rb::cfloat> out = rb::Array<rb::cfloat>::from_view(view(k));
          rb::apply_mask_inplace(out.view(), view(mk).flat(), padding.first, padding.second);
          return out;
        }));
      },
      "kspace"_a, "mask"_a, "padding"_a = std::pair<int64_t, int64_t>{0, -1},
      "fastMRI apply_mask: kspace [... phase] * mask [phase] + 0.0 (unsampled entries exactly "
      "+0.0), mask columns outside padding = (left, right) zeroed first (right -1: the "
      "width). Returns a new complex64 array.");
}

}  // namespace rbpy
