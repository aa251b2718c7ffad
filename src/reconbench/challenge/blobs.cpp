#include "reconbench/challenge/blobs.hpp"

#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <system_error>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/core/error.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

namespace {
// The data on disk before a rename makes the file visible.
void fsync_file(const fs::path& file) {
  if (FILE* f = std::fopen(file.c_str(), "rb")) {
    ::fsync(fileno(f));
    std::fclose(f);
  }
}
}  // namespace

BlobStore::BlobStore(fs::path dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_ / "uploads");
}

fs::path BlobStore::path(const std::string& sha) const {
  RB_ASSERT(is_sha256_hex(sha), "bad blob id ", sha);
  return dir_ / sha.substr(0, 2) / sha.substr(2);
}

bool BlobStore::has(const std::string& sha) const {
  return is_sha256_hex(sha) && fs::is_regular_file(path(sha));
}

void UploadHashes::append(int64_t id, int64_t offset, std::string_view chunk) {
  std::lock_guard lock(mu_);
  if (offset == 0) states_[id] = State{};
  auto it = states_.find(id);
  if (it == states_.end()) return;
  if (it->second.bytes != offset) {  // not a continuation: finalize hashes the file
    states_.erase(it);
    return;
  }
  it->second.sha.update(chunk);
  it->second.bytes += static_cast<int64_t>(chunk.size());
}

std::optional<std::string> UploadHashes::finish(int64_t id, int64_t size) {
  std::lock_guard lock(mu_);
  auto it = states_.find(id);
  if (it == states_.end()) return std::nullopt;
  State st = it->second;
  states_.erase(it);
  if (st.bytes != size) return std::nullopt;
  return st.sha.hex_digest();
}

std::string BlobStore::adopt(const fs::path& file, const std::string& expected,
                             const std::optional<std::string>& known) {
  const std::string sha = known ? *known : sha256_file(file);
  if (!expected.empty() && sha != expected) {
    fs::remove(file);
    throw UserError("sha256 mismatch: received data hashes to " + sha + ", expected " + expected);
  }
  const fs::path dst = path(sha);
  fs::create_directories(dst.parent_path());
  if (fs::exists(dst)) {
    fs::remove(file);
  } else {
    fsync_file(file);
    fs::rename(file, dst);
  }
  return sha;
}

std::string BlobStore::put(const std::string& bytes) {
  const fs::path tmp = dir_ / "uploads" / ("put-" + random_hex(8) + ".part");
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out.good()) {
      // A platform failure (disk full, read-only store), not the caller's mistake.
      const int err = errno != 0 ? errno : EIO;
      out.close();
      std::error_code ignore;
      fs::remove(tmp, ignore);
      throw fs::filesystem_error("cannot write blob", tmp, std::error_code(err, std::generic_category()));
    }
  }
  return adopt(tmp);
}

fs::path BlobStore::upload_path(int64_t upload_id) const {
  return dir_ / "uploads" / (std::to_string(upload_id) + ".part");
}

fs::path BlobStore::canonical_path(const std::string& sha) const {
  RB_ASSERT(is_sha256_hex(sha), "bad blob id ", sha);
  return dir_ / "canonical" / sha.substr(0, 2) / (sha.substr(2) + ".h5");
}

bool BlobStore::has_canonical(const std::string& sha) const {
  return is_sha256_hex(sha) && fs::is_regular_file(canonical_path(sha));
}

fs::path BlobStore::canonical_staging() const {
  const fs::path d = dir_ / "canonical" / "tmp" / (std::to_string(::getpid()) + "-" + random_hex(8));
  fs::create_directories(d);
  return d;
}

void BlobStore::adopt_canonical(const fs::path& file, const std::string& sha) {
  const fs::path dst = canonical_path(sha);
  fs::create_directories(dst.parent_path());
  if (fs::exists(dst)) return;
  fsync_file(file);
  fs::rename(file, dst);
}

}  // namespace rb::challenge
