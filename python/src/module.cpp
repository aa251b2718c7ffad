// The extension module reconbench._reconbench (re-exported by reconbench/__init__.py).
// API reference: docs/python.md.
//
// Errors carry the CLI's messages: rb::UserError -> ValueError, rb::InternalError ->
// RuntimeError, rb::Interrupted -> KeyboardInterrupt.
#include "common.hpp"
#include "reconbench/core/parallel.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_reconbench, m) {
  m.doc() = "reconbench: fastMRI metrics, masks, reconstruction, files and simulator (C++)";
  m.attr("__version__") = RECONBENCH_VERSION;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const rb::UserError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const rb::InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const rb::Interrupted& e) {
      PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
    }
  });

  m.def("set_num_threads", &rb::set_num_threads, py::arg("n"),
        "Threads for every later call (0: $RECONBENCH_THREADS, else $OMP_NUM_THREADS, else "
        "all cores). Results do not depend on it.");
  m.def("num_threads", &rb::num_threads, "Threads the library uses now.");

  rbpy::bind_eval(m);
  rbpy::bind_sampling(m);
  rbpy::bind_recon(m);
  rbpy::bind_io(m);
  rbpy::bind_sim(m);
}
