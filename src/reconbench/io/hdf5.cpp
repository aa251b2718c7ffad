#include "reconbench/io/hdf5.hpp"

#include <H5PLpublic.h>

#include "reconbench/io/fastmri.hpp"

namespace rb::h5 {

namespace fs = std::filesystem;

std::unique_lock<std::recursive_mutex> lock() {
  static std::recursive_mutex mutex;
  std::unique_lock guard(mutex);
  static const bool silenced = [] {
    // Errors are reported through UserError with last_error(); never printed by HDF5.
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    // A file naming an unknown filter must not make libhdf5 dlopen() a plugin.
    H5PLset_loading_state(0);
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

// H5Pset_elink_cb: every external-link traversal is refused.
herr_t refuse_external_link(const char*, const char*, const char*, const char*, unsigned*, hid_t,
                            void*) {
  return -1;
}

// Soft and user-defined link traversals: none (HDF5 requires at least one; the walk refuses
// every such link before anything else opens the file).
void forbid_link_traversal(hid_t plist) {
  if (H5Pset_nlinks(plist, 0) < 0) H5Pset_nlinks(plist, 1);
  H5Pset_elink_cb(plist, refuse_external_link, nullptr);
}
}  // namespace

std::string last_error() {
  auto guard = lock();
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg;
}

std::string with_error(const std::string& msg) {
  const std::string e = last_error();
  return e.empty() ? msg : msg + " (HDF5: " + e + ")";
}

namespace {
// A process-lifetime access list of class `cls` that traverses no soft or external link.
hid_t traversal_free(hid_t cls) {
  const hid_t p = H5Pcreate(cls);
  forbid_link_traversal(p);
  return p;
}
}  // namespace

hid_t link_access() {
  auto guard = lock();
  static const hid_t lapl = traversal_free(H5P_LINK_ACCESS);
  return lapl;
}

hid_t dataset_access() {
  auto guard = lock();
  static const hid_t dapl = traversal_free(H5P_DATASET_ACCESS);
  return dapl;
}

namespace {

struct Walk {
  int64_t objects = 0;
  std::string refused;  // why the walk stopped ("" while everything is acceptable)
  std::string failed;   // an HDF5 failure (corrupt file), not a refusal
};

std::string link_kind(H5L_type_t t) {
  switch (t) {
    case H5L_TYPE_SOFT: return "a soft link";
    case H5L_TYPE_EXTERNAL: return "an external link (to another file)";
    default: return "a user-defined link";
  }
}

// The reason a dataset's storage is refused, "" if it is acceptable.
std::string dataset_refusal(hid_t d, const std::string& name) {
  Id dcpl(H5Dget_create_plist(d));
  if (!dcpl.valid()) return "'" + name + "': unreadable storage properties";
  const H5D_layout_t layout = H5Pget_layout(dcpl);
  if (layout == H5D_VIRTUAL) return "'" + name + "' is a virtual dataset (its data are mapped from other files)";
  if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT)
    return "'" + name + "' has an unsupported storage layout (" + std::to_string(static_cast<int>(layout)) + ")";
  if (H5Pget_external_count(dcpl) != 0)
    return "'" + name + "' keeps its data in external files (HDF5 external storage)";
  const int nfilters = H5Pget_nfilters(dcpl);
  if (nfilters < 0) return "'" + name + "': unreadable filter pipeline";
  for (int k = 0; k < nfilters; ++k) {
    unsigned flags = 0;
    size_t nvalues = 0;
    const H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(k), &flags, &nvalues, nullptr, 0,
                                           nullptr, nullptr);
    if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32)
      return "'" + name + "' uses HDF5 filter " + std::to_string(id) +
             " (accepted: deflate/gzip, shuffle, fletcher32)";
  }
  return "";
}

herr_t visit_link(hid_t group, const char* name, const H5L_info_t* info, void* op) {
  auto& w = *static_cast<Walk*>(op);
  if (++w.objects > kMaxObjects) {
    w.refused = "more than " + std::to_string(kMaxObjects) + " links";
    return -1;
  }
  if (info->type != H5L_TYPE_HARD) {
    w.refused = cat("'", name, "' is ", link_kind(info->type),
                    "; only datasets and groups stored in the file itself are accepted");
    return -1;
  }
  H5O_info_t oi;
  if (H5Oget_info_by_name2(group, name, &oi, H5O_INFO_BASIC, link_access()) < 0) {
    w.failed = with_error(cat("cannot inspect '", name, "'"));
    return -1;
  }
  if (oi.type != H5O_TYPE_DATASET) return 0;
  Id d(H5Dopen2(group, name, dataset_access()));
  if (!d.valid()) {
    w.failed = with_error(cat("cannot open dataset '", name, "'"));
    return -1;
  }
  w.refused = dataset_refusal(d, name);
  return w.refused.empty() ? 0 : -1;
}

}  // namespace

void check_object_graph(hid_t file, const fs::path& path) {
  auto guard = lock();
  Walk w;
  const herr_t r = H5Lvisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, visit_link, &w);
  if (!w.refused.empty()) throw UnsafeFile(path, w.refused);
  if (!w.failed.empty()) throw UserError(path.string() + ": " + w.failed + " (corrupt file?)");
  RB_CHECK(r >= 0, with_error(path.string() + ": cannot list the file's objects (corrupt file?)"));
}

Id open_readonly(const fs::path& path) {
  RB_CHECK(fs::exists(path), path.string(), ": no such file");
  RB_CHECK(fs::is_regular_file(path), path.string(), ": not a regular file");
  RB_CHECK(is_hdf5(path), path.string(), ": not an HDF5 file (no HDF5 signature)");
  auto guard = lock();
  Id fapl(H5Pcreate(H5P_FILE_ACCESS));
  // No POSIX file locks: files may sit on filesystems without lock support, and readers
  // never modify them. The default (sec2) driver: one file, no family/split/multi members.
  H5Pset_file_locking(fapl, false, true);
  H5Pset_fapl_sec2(fapl);
  Id f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl));
  RB_CHECK(f.valid(), with_error(path.string() + ": cannot open HDF5 file (truncated or corrupt file?)"));
  check_object_graph(f, path);
  return f;
}

}  // namespace rb::h5
