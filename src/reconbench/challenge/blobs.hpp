// Content-addressed blob store on disk: DIR/ab/cdef... (sha256 hex, two-level fan-out), plus
// DIR/uploads/<id>.part for resumable uploads in progress, and DIR/canonical/ab/cdef....h5:
// the canonical copy of an uploaded blob, written by the sandboxed validator (sandbox.hpp)
// once the file passed validation; the only form of a submission file that anything outside
// that sandbox opens with libhdf5. DIR/canonical/tmp/ holds a validator's copies until they
// are moved into place. A blob is only ever created by
// renaming a fully written and hash-verified file into place, so a crash mid-upload leaves at
// most an orphaned .part file, never a partial blob.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace rb::challenge {

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path dir);
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path(const std::string& sha256) const;
  bool has(const std::string& sha256) const;
  // Hash the file, check it against `expected_sha256` (if not empty), move it into place
  // (the source is consumed). Returns the sha256. UserError on mismatch (source removed).
  std::string adopt(const std::filesystem::path& file, const std::string& expected_sha256 = "");
  // Store bytes (small files, multipart uploads).
  std::string put(const std::string& bytes);
  std::filesystem::path upload_path(int64_t upload_id) const;
  // The canonical copy of upload blob `sha256` (it may not exist yet).
  std::filesystem::path canonical_path(const std::string& sha256) const;
  bool has_canonical(const std::string& sha256) const;
  // A new, empty directory for one validator run's canonical copies (same filesystem).
  std::filesystem::path canonical_staging() const;
  // Moves `file` (a validator's copy) into place as the canonical copy of `sha256`, unless
  // one is there already (the same bytes validate to the same copy).
  void adopt_canonical(const std::filesystem::path& file, const std::string& sha256);

 private:
  std::filesystem::path dir_;
};

}  // namespace rb::challenge
