// Backup and restore of a challenge (docs/operations.md): the database and the blob store,
// consistent with each other while the server and workers keep running.
//
// backup DIR (DIR must not exist):
//   DIR/challenge.db   SQLite: `VACUUM INTO`, a transactionally consistent copy taken inside
//                      one read transaction (writers are not blocked in WAL mode)
//   DIR/blobs/...      the blob store copied *after* the snapshot: blobs are immutable and
//                      content-addressed, written before any row names them, and a blob a
//                      submission row names is never removed (storage.hpp), so every blob
//                      the snapshot references is there to copy. Canonical copies and
//                      uploads in progress (resumed from the offset the snapshot recorded:
//                      the server truncates a longer .part to it) are copied too.
//   DIR/backup.json    what was copied: engine, counts, bytes, the manifest's hash
// PostgreSQL databases are backed up with pg_dump (the honest tool for it; the blob store
// with `backup --blobs-only`): `backup` refuses them with that advice.
//
// restore DIR into a database URL that does not exist yet (SQLite; for PostgreSQL
// pg_restore into an empty database, then `restore --blobs-only`) and a blob directory:
// every blob the database names is copied and its sha256 checked (a corrupted backup is a
// UserError naming the blob); nothing existing is overwritten.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/blobs.hpp"
#include "reconbench/challenge/store.hpp"

namespace rb::challenge {

struct BackupOptions {
  bool blobs_only = false;  // PostgreSQL: the database goes through pg_dump / pg_restore
};

// Returns backup.json's content.
nlohmann::json backup_challenge(Store& store, const BlobStore& blobs, const std::string& manifest_hash,
                                const std::filesystem::path& dir, const BackupOptions& opts = {});

// db_url: where the restored database goes (sqlite:PATH, must not exist; ignored with
// blobs_only, when the database was restored with pg_restore and db_url names it).
nlohmann::json restore_challenge(const std::filesystem::path& dir, const std::string& db_url,
                                 const std::filesystem::path& blob_dir, const BackupOptions& opts = {});

}  // namespace rb::challenge
