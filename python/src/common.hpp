// Shared pieces of the Python binding: numpy arrays in and out of rb::Array / rb::ArrayView,
// heavy calls without the GIL (and interruptible by Ctrl-C), JSON to Python objects.
//
// Arrays in: a numpy array that is already C-contiguous with the wanted dtype is viewed in
// place (no copy); anything else is converted once by numpy (e.g. float64 -> float32).
// Real-valued parameters refuse complex input rather than dropping the imaginary part.
// Arrays out: an rb::Array is moved into a capsule that the numpy array owns (no copy).
#pragma once

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "reconbench/core/array.hpp"

namespace rbpy {

namespace py = pybind11;

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// `obj` as a C-contiguous float32 array (UserError naming `what` for complex or non-numeric
// input). No copy when it already is one.
CArray<float> real_array(const py::handle& obj, const std::string& what);
// `obj` as a C-contiguous complex64 array (real input is promoted).
CArray<rb::cfloat> complex_array(const py::handle& obj, const std::string& what);
// True if `obj` is a numpy array (or array-like) of complex dtype.
bool is_complex(const py::handle& obj);

template <class T>
rb::ArrayView<const T> view(const CArray<T>& a) {
  return {a.data(), rb::Shape(a.shape(), a.shape() + a.ndim())};
}

// UserError unless `a` has `ndim` axes; `layout` names them, e.g. "[slice y x]".
template <class T>
void check_ndim(const CArray<T>& a, int ndim, const std::string& what, const std::string& layout) {
  if (a.ndim() != ndim)
    throw rb::UserError(rb::cat(what, ": expected a ", ndim, "-D array ", layout, ", got shape ",
                                rb::shape_str(view(a).shape())));
}

template <class T>
py::array_t<T> to_numpy(rb::Array<T>&& a) {
  auto* owner = new rb::Array<T>(std::move(a));
  py::capsule keep(owner, [](void* p) { delete static_cast<rb::Array<T>*>(p); });
  return py::array_t<T>(std::vector<py::ssize_t>(owner->shape().begin(), owner->shape().end()),
                         owner->data(), keep);
}

template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return to_numpy(rb::Array<T>({n}, std::move(v)));
}

// nlohmann::json -> the Python object json.loads gives for its text (NaN was written as null).
py::object to_python(const nlohmann::json& j);

// Runs f() on a worker thread while the calling thread, without the GIL, waits; every 50 ms
// it takes the GIL and lets Python handle pending signals. On Ctrl-C (KeyboardInterrupt from
// Python's handler) the library's interrupt flag is raised, so that loops calling
// rb::check_interrupted() stop at the next work item; the KeyboardInterrupt is then raised.
// Exceptions of f() are rethrown here (and translated by the module's translator).
void run_released_impl(void (*fn)(void*), void* ctx);

template <class F>
auto run_released(F&& f) -> std::invoke_result_t<F&> {
  using R = std::invoke_result_t<F&>;
  if constexpr (std::is_void_v<R>) {
    run_released_impl([](void* c) { (*static_cast<std::remove_reference_t<F>*>(c))(); }, &f);
  } else {
    std::optional<R> out;
    auto call = [&] { out.emplace(f()); };
    run_released_impl([](void* c) { (*static_cast<decltype(call)*>(c))(); }, &call);
    return std::move(*out);
  }
}

// Module parts, defined in bind_*.cpp.
void bind_eval(py::module_& m);
void bind_sampling(py::module_& m);
void bind_recon(py::module_& m);
void bind_io(py::module_& m);
void bind_sim(py::module_& m);

}  // namespace rbpy
