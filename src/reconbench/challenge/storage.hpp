// Blob-store garbage collection (issue 15): what no submission needs any more.
//
// A blob is kept while any submission (of any state: organisers audit failed ones too)
// references it. Removed once they are older than `grace_s` (so a participant can still
// submit a file uploaded a while ago):
//   orphan blobs    recorded (complete upload or multipart part) but never submitted, or
//                   left by a refused request; the file and its rows
//   stale uploads   resumable uploads not touched for grace_s; the .part file and the row
//   stray files     files under the blob directory that no row names (a crash between
//                   writing a file and recording it), canonical copies of blobs no row
//                   names, validator staging directories (canonical/tmp) older than grace_s
// The canonical copy of a removed orphan blob goes with it.
// The server runs it periodically (ServerOptions::gc_interval_s) and on
// POST /api/admin/gc; it is safe while submissions arrive (forget_blob re-checks inside its
// transaction, and only files older than grace_s are touched).
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/blobs.hpp"
#include "reconbench/challenge/store.hpp"

namespace rb::challenge {

struct GcReport {
  int64_t blobs = 0, blob_bytes = 0, uploads = 0, stray_files = 0;
};
nlohmann::json to_json(const GcReport& r);

GcReport collect_garbage(Store& store, BlobStore& blobs, double grace_s);

}  // namespace rb::challenge
