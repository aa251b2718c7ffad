// Issue 21: the sha256 of a resumable upload is computed while its chunks arrive
// (UploadHashes), so finalize does not read a GB file again; anything but an exact
// continuation falls back to hashing the file, and a wrong digest is still refused.
#include <gtest/gtest.h>

#include <fstream>

#include "fixture.hpp"
#include "reconbench/challenge/blobs.hpp"
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/core/error.hpp"

namespace ch = rb::challenge;
namespace fs = std::filesystem;

namespace {

TEST(UploadHashes, ChunksInOrderGiveTheFileDigest) {
  ch::UploadHashes h;
  std::string all;
  for (int k = 0; k < 5; ++k) {
    const std::string chunk(1000 + 37 * k, static_cast<char>('a' + k));
    h.append(7, static_cast<int64_t>(all.size()), chunk);
    all += chunk;
  }
  EXPECT_EQ(h.finish(7, static_cast<int64_t>(all.size())), ch::sha256_hex(all));
  EXPECT_EQ(h.finish(7, static_cast<int64_t>(all.size())), std::nullopt) << "finish forgets the upload";
}

TEST(UploadHashes, AnythingButAnExactContinuationFallsBack) {
  ch::UploadHashes h;
  h.append(1, 0, "abcd");
  h.append(1, 2, "cdef");  // a retried, overlapping chunk (the server truncated the file to 2)
  EXPECT_EQ(h.finish(1, 6), std::nullopt);
  h.append(2, 4, "efgh");  // resumed after a restart: no state from offset 0
  EXPECT_EQ(h.finish(2, 8), std::nullopt);
  h.append(3, 0, "abcd");
  EXPECT_EQ(h.finish(3, 8), std::nullopt) << "fewer bytes than the declared size";
  h.append(4, 0, "abcd");
  h.append(4, 0, "wxyz");  // restarted from zero
  EXPECT_EQ(h.finish(4, 4), ch::sha256_hex("wxyz"));
}

TEST(UploadHashes, AdoptTrustsTheStreamedDigestAndStillChecksTheDeclaredOne) {
  const fs::path root = rb::testing::temp_dir("uploads");
  ch::BlobStore blobs(root / "blobs");
  const std::string data(100000, 'q');
  const fs::path part = blobs.upload_path(9);
  std::ofstream(part, std::ios::binary) << data;
  auto& h = blobs.upload_hashes();
  h.append(9, 0, data.substr(0, 60000));
  h.append(9, 60000, data.substr(60000));
  const std::string sha = blobs.adopt(part, ch::sha256_hex(data), h.finish(9, 100000));
  EXPECT_EQ(sha, ch::sha256_hex(data));
  EXPECT_EQ(ch::sha256_file(blobs.path(sha)), sha);
  // The declared digest must still match (a client announcing one file and sending another).
  const fs::path part2 = blobs.upload_path(10);
  std::ofstream(part2, std::ios::binary) << "other";
  h.append(10, 0, "other");
  EXPECT_THROW(blobs.adopt(part2, ch::sha256_hex(data), h.finish(10, 5)), rb::UserError);
  EXPECT_FALSE(fs::exists(part2));
  fs::remove_all(root);
}

}  // namespace
