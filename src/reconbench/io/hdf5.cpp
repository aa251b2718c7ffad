#include "reconbench/io/hdf5.hpp"

namespace rb::h5 {

std::unique_lock<std::recursive_mutex> lock() {
  static std::recursive_mutex mutex;
  std::unique_lock guard(mutex);
  static const bool silenced = [] {
    // Errors are reported through UserError with last_error(); never printed by HDF5.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
  return guard;
}

namespace {
herr_t walk_cb(unsigned n, const H5E_error2_t* err, void* client) {
  auto* out = static_cast<std::string*>(client);
  // Walking upward, entry 0 is where the error was detected (the most specific message).
  if (n == 0 && err && err->desc) *out = err->desc;
  return 0;
}
}  // namespace

std::string last_error() {
  auto guard = lock();
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

}  // namespace rb::h5
