#include "reconbench/challenge/storage.hpp"

#include <chrono>
#include <system_error>

#include "reconbench/challenge/crypto.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

nlohmann::json to_json(const GcReport& r) {
  return {{"blobs_removed", r.blobs}, {"bytes_removed", r.blob_bytes}, {"uploads_removed", r.uploads},
          {"stray_files_removed", r.stray_files}};
}

namespace {

bool older_than(const fs::path& p, double seconds) {
  std::error_code ec;
  const auto t = fs::last_write_time(p, ec);
  if (ec) return false;
  return std::chrono::duration<double>(fs::file_time_type::clock::now() - t).count() > seconds;
}

// Canonical copies of blobs no row names, and validator staging directories left by a crash.
int64_t remove_stray_canonical(Store& store, const BlobStore& blobs, double grace_s) {
  int64_t n = 0;
  std::error_code ec;
  for (const auto& fan : fs::directory_iterator(blobs.dir() / "canonical", ec)) {
    const std::string a = fan.path().filename().string();
    if (a == "tmp") {
      for (const auto& t : fs::directory_iterator(fan.path(), ec))
        if (older_than(t.path(), grace_s) && fs::remove_all(t.path(), ec) > 0) ++n;
      continue;
    }
    if (!fan.is_directory() || a.size() != 2) continue;
    for (const auto& e : fs::directory_iterator(fan.path(), ec)) {
      const std::string sha = a + e.path().stem().string();
      if (!is_sha256_hex(sha) || store.blob_known(sha) || !older_than(e.path(), grace_s)) continue;
      if (fs::remove(e.path(), ec)) ++n;
    }
  }
  return n;
}

// Files of the blob directory that no database row names.
int64_t remove_stray_files(Store& store, const BlobStore& blobs, double grace_s) {
  int64_t n = 0;
  std::error_code ec;
  for (const auto& fan : fs::directory_iterator(blobs.dir(), ec)) {
    const std::string a = fan.path().filename().string();
    if (!fan.is_directory() || a.size() != 2) continue;
    for (const auto& e : fs::directory_iterator(fan.path(), ec)) {
      const std::string sha = a + e.path().filename().string();
      if (!is_sha256_hex(sha) || store.blob_known(sha) || !older_than(e.path(), grace_s)) continue;
      if (fs::remove(e.path(), ec)) ++n;
    }
  }
  n += remove_stray_canonical(store, blobs, grace_s);
  for (const auto& e : fs::directory_iterator(blobs.dir() / "uploads", ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".part" || !older_than(e.path(), grace_s)) continue;
    // <id>.part of an upload still open is the stale-upload step's business.
    const std::string stem = e.path().stem().string();
    if (!stem.empty() && stem.find_first_not_of("0123456789") == std::string::npos) {
      auto u = store.upload(std::stoll(stem));
      if (u && u->state == "open") continue;
    }
    if (fs::remove(e.path(), ec)) ++n;
  }
  return n;
}

}  // namespace

GcReport collect_garbage(Store& store, BlobStore& blobs, double grace_s) {
  GcReport r;
  const double before = store.now() - grace_s;
  std::error_code ec;
  for (const auto& sha : store.orphan_blobs(before)) {
    const fs::path p = blobs.path(sha);
    const auto size = fs::file_size(p, ec);
    store.forget_blob(sha);
    if (store.blob_known(sha)) continue;  // claimed by a submission meanwhile
    fs::remove(blobs.canonical_path(sha), ec);
    if (fs::remove(p, ec)) {
      ++r.blobs;
      r.blob_bytes += static_cast<int64_t>(size);
    }
  }
  for (int64_t id : store.stale_uploads(before)) {
    fs::remove(blobs.upload_path(id), ec);
    store.forget_upload(id);
    ++r.uploads;
  }
  r.stray_files = remove_stray_files(store, blobs, grace_s);
  return r;
}

}  // namespace rb::challenge
