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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "reconbench/challenge/crypto.hpp"

namespace rb::challenge {

// The sha256 of resumable uploads, advanced as their chunks arrive, so that finalizing a GB
// upload does not read it again. In memory only: after a server restart, or when a chunk
// does not continue exactly where the state ends (a retried or truncated chunk), the upload's
// state is dropped and finalize hashes the file instead (BlobStore::adopt).
class UploadHashes {
 public:
  // `chunk` was written at `offset` of upload `id`'s .part file.
  void append(int64_t id, int64_t offset, std::string_view chunk);
  // The hex digest when the state covers exactly `size` bytes, else nothing; forgets `id`.
  std::optional<std::string> finish(int64_t id, int64_t size);

 private:
  struct State {
    int64_t bytes = 0;
    Sha256 sha;
  };
  std::mutex mu_;
  std::map<int64_t, State> states_;
};

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path dir);
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path path(const std::string& sha256) const;
  bool has(const std::string& sha256) const;
  // Hash the file, check it against `expected_sha256` (if not empty), move it into place
  // (the source is consumed). Returns the sha256. UserError on mismatch (source removed).
  // `known_sha256`: the file's digest computed while it was written (UploadHashes); the file
  // is then not read again.
  std::string adopt(const std::filesystem::path& file, const std::string& expected_sha256 = "",
                    const std::optional<std::string>& known_sha256 = std::nullopt);
  // Store bytes (small files, multipart uploads).
  std::string put(const std::string& bytes);
  std::filesystem::path upload_path(int64_t upload_id) const;
  UploadHashes& upload_hashes() { return *hashes_; }
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
  std::shared_ptr<UploadHashes> hashes_ = std::make_shared<UploadHashes>();
};

}  // namespace rb::challenge
