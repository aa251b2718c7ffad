#include "common.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "reconbench/core/parallel.hpp"

namespace rbpy {

namespace {

py::array any_array(const py::handle& obj, const std::string& what) {
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw rb::UserError(rb::cat(what, ": expected an array, got ",
                                std::string(py::str(py::type::handle_of(obj).attr("__name__")))));
  }
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b' && kind != 'c')
    throw rb::UserError(rb::cat(what, ": expected a numeric array, got dtype ",
                                std::string(py::str(a.dtype()))));
  return a;
}

template <class T>
CArray<T> cast_array(const py::array& a, const std::string& what) {
  auto out = CArray<T>::ensure(a);
  if (!out) {
    PyErr_Clear();
    throw rb::UserError(rb::cat(what, ": cannot convert dtype ", std::string(py::str(a.dtype()))));
  }
  return out;
}

}  // namespace

bool is_complex(const py::handle& obj) {
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    return false;
  }
  return a.dtype().kind() == 'c';
}

CArray<float> real_array(const py::handle& obj, const std::string& what) {
  py::array a = any_array(obj, what);
  if (a.dtype().kind() == 'c')
    throw rb::UserError(rb::cat(what, ": complex values (dtype ", std::string(py::str(a.dtype())),
                                "), a real image is expected (take the magnitude first)"));
  return cast_array<float>(a, what);
}

CArray<rb::cfloat> complex_array(const py::handle& obj, const std::string& what) {
  return cast_array<rb::cfloat>(any_array(obj, what), what);
}

py::object to_python(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

void run_released_impl(void (*fn)(void*), void* ctx) {
  std::exception_ptr err;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false, interrupted = false;
  {
    py::gil_scoped_release release;
    std::thread worker([&] {
      try {
        fn(ctx);
      } catch (...) {
        err = std::current_exception();
      }
      {
        std::lock_guard lock(mu);
        done = true;
      }
      cv.notify_one();
    });
    std::unique_lock lock(mu);
    while (!cv.wait_for(lock, std::chrono::milliseconds(50), [&] { return done; })) {
      if (interrupted) continue;
      lock.unlock();
      {
        py::gil_scoped_acquire gil;
        // Runs Python's signal handlers; on Ctrl-C the KeyboardInterrupt stays pending.
        interrupted = PyErr_CheckSignals() != 0;
      }
      if (interrupted) rb::request_interrupt_for_testing(true);
      lock.lock();
    }
    lock.unlock();
    worker.join();
  }
  if (interrupted) {
    rb::request_interrupt_for_testing(false);
    throw py::error_already_set();
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace rbpy
