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
//
// Untrusted files: every file reconbench reads is opened through open_readonly(), which
// checks the whole object graph before a single value is read (docs/security.md). HDF5 can
// make a file read *other* files: an external link (h5py.ExternalLink) opens another HDF5
// file, a virtual dataset maps data from other files, and external raw storage
// (H5Pset_external, h5py's external=[(path, offset, size)]) reads any file the process can
// open. A participant's reconstruction built that way would be scored against itself out of
// the hidden ground truth. Refused, naming the object:
//   links     anything but a hard link (soft, external and user-defined links)
//   datasets  a layout other than contiguous, chunked or compact (virtual), external raw
//             storage, a filter other than deflate, shuffle or fletcher32 (and filter plugins
//             are never loaded: H5PLset_loading_state(0))
//   size      more than kMaxObjects links (a file that is all structure)
// The walk uses a link-access list that forbids traversing soft or external links
// (H5Pset_nlinks, an H5Pset_elink_cb that refuses); link_access() and dataset_access() give
// readers the same for their own opens. libhdf5 1.10.8 has no file-access or dataset-access
// setting that stops a virtual dataset or external storage from reading other files (a VDS
// source prefix is only tried first, then the file's own directory), hence the explicit walk
// before anything is read.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>

#include "reconbench/core/error.hpp"

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

// A file whose structure open_readonly() refuses (a UserError: the file's fault). what()
// names the file; reason() does not, for reports that must not show server-side paths.
class UnsafeFile : public UserError {
 public:
  UnsafeFile(const std::filesystem::path& path, const std::string& reason)
      : UserError(path.string() + ": " + reason), reason_(reason) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

inline constexpr int64_t kMaxObjects = 10000;

// Helpers shared by every reader of fastMRI-style files (io/fastmri.cpp, eval/input.cpp).
// `msg` plus the innermost HDF5 error message, if any.
std::string with_error(const std::string& msg);
// Open read-only without POSIX locks, then check the object graph (above); UserError naming
// the file if it is missing, not HDF5, truncated or corrupt, UnsafeFile if refused.
Id open_readonly(const std::filesystem::path& path);
// The object-graph check of open_readonly() on an open file (UnsafeFile naming `path`).
void check_object_graph(hid_t file, const std::filesystem::path& path);
// Access lists for H5Dopen2 / H5Lexists / H5Oget_info_by_name on untrusted files: soft and
// external links are not traversed. Process-lifetime ids, created on first use.
hid_t link_access();
hid_t dataset_access();
// A string-like value (fixed/variable-length string, or 1-D bytes) of an attribute
// (is_attr) or dataset; UserError naming the file and `name` otherwise.
std::string read_string(hid_t obj, hid_t ftype, hid_t space, bool is_attr,
                        const std::filesystem::path& path, const std::string& name);
// attrs[name] as a string, "" if absent.
std::string read_attr_string(hid_t obj, const char* name, const std::filesystem::path& path);

}  // namespace rb::h5
