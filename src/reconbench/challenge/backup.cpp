#include "reconbench/challenge/backup.hpp"

#include <chrono>
#include <cstdio>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/database.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

namespace {

constexpr const char* kBackupFormat = "reconbench-challenge-backup-1";

struct CopyCount {
  int64_t blobs = 0, canonical = 0, uploads = 0, bytes = 0;
};

// Copies `from` to `to` (a new file; its directory is created), counting bytes.
void copy_new(const fs::path& from, const fs::path& to, CopyCount& n) {
  RB_CHECK(fs::is_regular_file(from), from.string(), ": missing");
  fs::create_directories(to.parent_path());
  fs::copy_file(from, to, fs::copy_options::none);
  n.bytes += static_cast<int64_t>(fs::file_size(to));
}

// Every blob `db` names, its canonical copy if any and the .part files of its open uploads,
// from blob store `from` into blob store `to`. verify: check each blob's sha256 (restore).
CopyCount copy_blobs(Database& db, const BlobStore& from, const BlobStore& to, bool verify) {
  CopyCount n;
  for (const auto& r : db.query("SELECT sha256 FROM blobs ORDER BY sha256")) {
    const std::string sha = r.s(0);
    RB_CHECK(is_sha256_hex(sha), "the database names a malformed blob id '", sha, "'");
    if (!fs::exists(to.path(sha))) {
      copy_new(from.path(sha), to.path(sha), n);
      if (verify) {
        const std::string got = sha256_file(to.path(sha));
        RB_CHECK(got == sha, from.path(sha).string(), ": corrupted (its sha256 is ", got, ")");
      }
    }
    ++n.blobs;
    if (from.has_canonical(sha) && !fs::exists(to.canonical_path(sha))) {
      copy_new(from.canonical_path(sha), to.canonical_path(sha), n);
      ++n.canonical;
    }
  }
  for (const auto& r : db.query("SELECT id FROM uploads WHERE state='open' ORDER BY id")) {
    const fs::path part = from.upload_path(r.i(0));
    if (!fs::exists(part) || fs::exists(to.upload_path(r.i(0)))) continue;
    copy_new(part, to.upload_path(r.i(0)), n);
    ++n.uploads;
  }
  return n;
}

nlohmann::json to_json(const CopyCount& n) {
  return {{"blobs", n.blobs}, {"canonical_copies", n.canonical}, {"uploads_in_progress", n.uploads},
          {"bytes", n.bytes}};
}

std::string sqlite_path(const std::string& url) {
  RB_CHECK(!is_postgres_url(url), "a PostgreSQL database is backed up with pg_dump and restored with "
           "pg_restore; then use --blobs-only for the blob store (docs/operations.md)");
  return sqlite_file(url);
}

}  // namespace

nlohmann::json backup_challenge(Store& store, const BlobStore& blobs, const std::string& manifest_hash,
                                const fs::path& dir, const BackupOptions& opts) {
  RB_CHECK(!fs::exists(dir), dir.string(), ": already exists (a backup goes into a new directory)");
  const std::string engine = store.db().engine();
  RB_CHECK(opts.blobs_only || engine == "sqlite",
           "the challenge database is PostgreSQL: back it up with pg_dump -Fc, and the blob store "
           "with `challenge backup --blobs-only` (docs/operations.md)");
  const fs::path tmp = dir.string() + ".part-" + random_hex(4);
  fs::create_directories(tmp);
  nlohmann::json meta = {{"format", kBackupFormat}, {"engine", engine}, {"manifest_hash", manifest_hash},
                         {"created_at", store.now()}, {"blobs_only", opts.blobs_only}};
  try {
    CopyCount n;
    BlobStore out(tmp / "blobs");
    if (opts.blobs_only) {
      n = copy_blobs(store.db(), blobs, out, false);
    } else {
      // One consistent snapshot, then the blobs it names (see backup.hpp for why in this order).
      store.db().exec("VACUUM INTO ?", {(tmp / "challenge.db").string()});
      auto snap = open_database("sqlite:" + (tmp / "challenge.db").string());
      n = copy_blobs(*snap, blobs, out, false);
    }
    meta["copied"] = to_json(n);
    write_file_atomic(tmp / "backup.json", meta.dump(2) + "\n");
    fs::rename(tmp, dir);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  return meta;
}

nlohmann::json restore_challenge(const fs::path& dir, const std::string& db_url, const fs::path& blob_dir,
                                 const BackupOptions& opts) {
  const fs::path meta_file = dir / "backup.json";
  RB_CHECK(fs::is_regular_file(meta_file), dir.string(), ": not a challenge backup (no backup.json)");
  auto meta = nlohmann::json::parse(read_file(meta_file), nullptr, false);
  RB_CHECK(!meta.is_discarded() && meta.value("format", "") == kBackupFormat, meta_file.string(),
           ": not a ", kBackupFormat, " file");
  RB_CHECK(opts.blobs_only || !meta.value("blobs_only", false), dir.string(),
           ": holds only the blob store (restore the database with pg_restore, then use --blobs-only)");
  std::unique_ptr<Database> db;
  if (opts.blobs_only) {
    db = open_database(db_url);
  } else {
    const fs::path target = sqlite_path(db_url);
    RB_CHECK(!fs::exists(target), target.string(), ": already exists (restore never overwrites a database)");
    fs::create_directories(fs::absolute(target).parent_path());
    fs::copy_file(dir / "challenge.db", target);
    db = open_database("sqlite:" + target.string());
  }
  BlobStore to(blob_dir);
  const auto n = copy_blobs(*db, BlobStore(dir / "blobs"), to, true);
  return {{"restored_from", dir.string()}, {"engine", meta.value("engine", "")},
          {"manifest_hash", meta.value("manifest_hash", "")}, {"copied", to_json(n)}};
}

}  // namespace rb::challenge
