// Store: resumable uploads, blob ownership, per-team storage and the bookkeeping of blob
// garbage collection (declared in store.hpp; the files are in BlobStore, storage.hpp).
#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/store.hpp"
#include "reconbench/challenge/store_util.hpp"
#include "reconbench/core/error.hpp"

namespace rb::challenge {

using store_util::valid_name;

// ---------------------------------------------------------------- uploads and blobs

Upload Store::create_upload(int64_t user_id, const std::string& filename, int64_t size,
                            const std::string& sha) {
  RB_CHECK(is_sha256_hex(sha), "sha256 must be 64 lowercase hex digits");
  RB_CHECK(size > 0, "size must be positive");
  RB_CHECK(valid_name(filename, 200), "bad file name '", filename, "'");
  std::lock_guard lock(mu_);
  auto rows = q("INSERT INTO uploads(user_id, filename, size, sha256, state, created_at, "
                "updated_at) VALUES(?,?,?,?,'open',?,?) RETURNING id",
                {user_id, filename, size, sha, now(), now()});
  return {rows[0].i(0), user_id, size, 0, filename, sha, "open"};
}

std::optional<Upload> Store::upload(int64_t id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, user_id, size, received, filename, sha256, state FROM uploads WHERE id=?",
             {id});
  if (r.empty()) return std::nullopt;
  return Upload{r[0].i(0), r[0].i(1), r[0].i(2), r[0].i(3), r[0].s(4), r[0].s(5), r[0].s(6)};
}

void Store::set_upload_received(int64_t id, int64_t received) {
  std::lock_guard lock(mu_);
  db_->exec("UPDATE uploads SET received=?, updated_at=? WHERE id=?", {received, now(), id});
}

void Store::record_blob(const std::string& sha, int64_t size, int64_t owner) {
  std::lock_guard lock(mu_);
  db_->exec("INSERT INTO blobs(sha256, size, created_at) VALUES(?,?,?) "
            "ON CONFLICT(sha256) DO NOTHING",
            {sha, size, now()});
  db_->exec("INSERT INTO blob_owners(sha256, user_id) VALUES(?,?) ON CONFLICT DO NOTHING",
            {sha, owner});
}

void Store::complete_upload(int64_t id, int64_t size) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  auto u = upload(id);
  RB_ASSERT(u.has_value());
  record_blob(u->sha256, size, u->user_id);
  db_->exec("UPDATE uploads SET state='complete', received=?, updated_at=? WHERE id=?",
            {size, now(), id});
  tx.commit();
}

bool Store::blob_owned(const std::string& sha, int64_t user_id, int64_t team_id) {
  std::lock_guard lock(mu_);
  if (!q("SELECT 1 FROM blob_owners WHERE sha256=? AND user_id=?", {sha, user_id}).empty())
    return true;
  if (team_id <= 0) return false;
  return !q("SELECT 1 FROM blob_owners o JOIN team_members m ON m.user_id = o.user_id "
            "WHERE o.sha256=? AND m.team_id=?",
            {sha, team_id})
              .empty();
}

int64_t Store::storage_bytes(int64_t team_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  // The members whose files count: the team's, or the user alone.
  const std::string members = team_id > 0 ? "SELECT user_id FROM team_members WHERE team_id=?" : "SELECT ?";
  const int64_t who = team_id > 0 ? team_id : user_id;
  const int64_t blobs = q("SELECT COALESCE(SUM(b.size), 0) FROM blobs b WHERE b.sha256 IN (SELECT o.sha256 FROM "
                          "blob_owners o WHERE o.user_id IN (" + members + "))",
                          {who})[0].i(0);
  const int64_t open = q("SELECT COALESCE(SUM(size), 0) FROM uploads WHERE state='open' AND user_id IN (" +
                             members + ")",
                         {who})[0].i(0);
  return blobs + open;
}

std::vector<std::string> Store::orphan_blobs(double before) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& r : q("SELECT b.sha256 FROM blobs b WHERE b.created_at < ? AND NOT EXISTS "
                         "(SELECT 1 FROM submission_files f WHERE f.sha256 = b.sha256) ORDER BY b.sha256",
                         {before}))
    out.push_back(r.s(0));
  return out;
}

std::vector<int64_t> Store::stale_uploads(double before) {
  std::lock_guard lock(mu_);
  std::vector<int64_t> out;
  for (const auto& r : q("SELECT id FROM uploads WHERE state='open' AND updated_at < ? ORDER BY id", {before}))
    out.push_back(r.i(0));
  return out;
}

void Store::forget_blob(const std::string& sha) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  // Re-checked inside the transaction: a submission may have claimed it meanwhile.
  if (!q("SELECT 1 FROM submission_files WHERE sha256=?", {sha}).empty()) return;
  db_->exec("DELETE FROM blob_owners WHERE sha256=?", {sha});
  db_->exec("DELETE FROM blobs WHERE sha256=?", {sha});
  tx.commit();
}

void Store::forget_upload(int64_t id) {
  std::lock_guard lock(mu_);
  db_->exec("DELETE FROM uploads WHERE id=? AND state='open'", {id});
}

bool Store::blob_known(const std::string& sha) {
  std::lock_guard lock(mu_);
  return !q("SELECT 1 FROM blobs WHERE sha256=?", {sha}).empty();
}

}  // namespace rb::challenge
