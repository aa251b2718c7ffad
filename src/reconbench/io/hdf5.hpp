// Thin RAII layer over the HDF5 C API, shared by the io module's readers and writers.
//
// Thread-safety: Debian's libhdf5 is built without --enable-threadsafe, so *every* HDF5 call
// in the process must be serialised. All reconbench code that touches HDF5 holds
// rb::h5::lock() (one global recursive mutex) for the whole scope in which it calls HDF5 or
// owns an h5::Id; Ids are therefore closed while the lock is held (declare the lock first).
// Any other module that calls HDF5 directly must take the same lock.
//
// Errors: HDF5's automatic error-stack printing is switched off (H5Eset_auto2) on first
// use; failures become rb::UserError naming the file and the problem, with the innermost
// HDF5 message appended (h5::last_error()).
#pragma once

#include <hdf5.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <utility>

namespace rb::h5 {

// The process-wide HDF5 lock; also silences HDF5's error printing the first time.
std::unique_lock<std::recursive_mutex> lock();

// Innermost message of the current HDF5 error stack ("" if none), e.g.
// "truncated file: eof = 2048, sblock->base_addr = 0, stored_eof = 4096".
std::string last_error();

// Owning HDF5 identifier, closed with H5Idec_ref (works for every id type).
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  hid_t release() { return std::exchange(id_, H5I_INVALID_HID); }
  void reset() {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Helpers shared by every reader of fastMRI-style files (io/fastmri.cpp, eval/input.cpp).
// `msg` plus the innermost HDF5 error message, if any.
std::string with_error(const std::string& msg);
// Open read-only without POSIX locks; UserError naming the file if it is missing, not HDF5,
// truncated or corrupt.
Id open_readonly(const std::filesystem::path& path);
// A string-like value (fixed/variable-length string, or 1-D bytes) of an attribute
// (is_attr) or dataset; UserError naming the file and `name` otherwise.
std::string read_string(hid_t obj, hid_t ftype, hid_t space, bool is_attr,
                        const std::filesystem::path& path, const std::string& name);
// attrs[name] as a string, "" if absent.
std::string read_attr_string(hid_t obj, const char* name, const std::filesystem::path& path);

}  // namespace rb::h5
