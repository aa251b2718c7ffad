#include "reconbench/challenge/store.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <regex>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/store_util.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/eval/stats.hpp"

namespace rb::challenge {

using store_util::num;
using store_util::or_nan;
using store_util::valid_name;

namespace {

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password_hash TEXT,
  role TEXT NOT NULL CHECK(role IN ('organiser','participant','reader')),
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
  secret_hash TEXT NOT NULL, scope TEXT NOT NULL CHECK(scope IN ('all','submit','read')),
  label TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, revoked_at REAL,
  expires_at REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS challenges(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,
  per_day INTEGER NOT NULL DEFAULT 5, total INTEGER NOT NULL DEFAULT 0,
  attempts_per_day INTEGER NOT NULL DEFAULT 20,
  max_file_bytes INTEGER NOT NULL DEFAULT 2147483648,
  max_team_bytes INTEGER NOT NULL DEFAULT 53687091200);
CREATE TABLE IF NOT EXISTS phases(
  id INTEGER PRIMARY KEY, challenge_id INTEGER NOT NULL REFERENCES challenges(id),
  name TEXT NOT NULL, opens_at REAL NOT NULL DEFAULT 0, closes_at REAL NOT NULL DEFAULT 0,
  closed_at REAL NOT NULL DEFAULT 0, scores_hidden INTEGER NOT NULL,
  published_at REAL NOT NULL DEFAULT 0, UNIQUE(challenge_id, name));
CREATE TABLE IF NOT EXISTS teams(
  id INTEGER PRIMARY KEY, challenge_id INTEGER NOT NULL REFERENCES challenges(id),
  name TEXT NOT NULL, created_by INTEGER NOT NULL REFERENCES users(id),
  created_at REAL NOT NULL, UNIQUE(challenge_id, name));
CREATE TABLE IF NOT EXISTS team_members(
  team_id INTEGER NOT NULL REFERENCES teams(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  challenge_id INTEGER NOT NULL REFERENCES challenges(id),
  joined_at REAL NOT NULL, PRIMARY KEY(team_id, user_id), UNIQUE(challenge_id, user_id));
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY, at REAL NOT NULL, user_id INTEGER, action TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs(
  sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS blob_owners(
  sha256 TEXT NOT NULL REFERENCES blobs(sha256), user_id INTEGER NOT NULL REFERENCES users(id),
  PRIMARY KEY(sha256, user_id));
CREATE TABLE IF NOT EXISTS uploads(
  id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id),
  filename TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
  received INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK(state IN ('open','complete')),
  created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS submissions(
  id INTEGER PRIMARY KEY, phase_id INTEGER NOT NULL REFERENCES phases(id),
  track TEXT NOT NULL, team_id INTEGER REFERENCES teams(id),
  user_id INTEGER NOT NULL REFERENCES users(id), baseline TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK(state IN ('uploaded','validating','queued','evaluating','scored','failed')),
  failure_kind TEXT NOT NULL DEFAULT '', failure_reason TEXT NOT NULL DEFAULT '',
  validation_json TEXT NOT NULL DEFAULT '{}', counted INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL, updated_at REAL NOT NULL, queued_at REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS submissions_team ON submissions(team_id, phase_id, track);
CREATE TABLE IF NOT EXISTS submission_files(
  submission_id INTEGER NOT NULL REFERENCES submissions(id), name TEXT NOT NULL,
  sha256 TEXT NOT NULL REFERENCES blobs(sha256), PRIMARY KEY(submission_id, name));
CREATE INDEX IF NOT EXISTS submission_files_sha ON submission_files(sha256);
CREATE TABLE IF NOT EXISTS submission_events(
  id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL REFERENCES submissions(id),
  at REAL NOT NULL, state TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS jobs(
  id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL REFERENCES submissions(id),
  spec_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('queued','leased','done','failed')),
  worker TEXT NOT NULL DEFAULT '', lease_expires REAL NOT NULL DEFAULT 0,
  heartbeat_at REAL NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, finished_at REAL NOT NULL DEFAULT 0,
  volumes_done INTEGER NOT NULL DEFAULT 0, volumes_total INTEGER NOT NULL DEFAULT 0,
  UNIQUE(submission_id, spec_hash));
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, id);
CREATE TABLE IF NOT EXISTS scores(
  id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL REFERENCES submissions(id),
  job_id INTEGER NOT NULL UNIQUE REFERENCES jobs(id), spec_hash TEXT NOT NULL,
  evaluator TEXT NOT NULL, manifest_hash TEXT NOT NULL,
  ssim REAL, ssim_masked REAL, psnr REAL, nmse REAL,
  summary_json TEXT NOT NULL, volumes_json TEXT NOT NULL, created_at REAL NOT NULL,
  UNIQUE(submission_id, spec_hash));
CREATE TABLE IF NOT EXISTS studies(
  id INTEGER PRIMARY KEY, phase_id INTEGER NOT NULL REFERENCES phases(id),
  track TEXT NOT NULL, seed INTEGER NOT NULL, spec_hash TEXT NOT NULL,
  created_at REAL NOT NULL, UNIQUE(phase_id, track));
CREATE TABLE IF NOT EXISTS study_candidates(
  study_id INTEGER NOT NULL REFERENCES studies(id), slot INTEGER NOT NULL,
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  team_id INTEGER NOT NULL REFERENCES teams(id), ssim REAL,
  PRIMARY KEY(study_id, slot));
CREATE TABLE IF NOT EXISTS study_cases(
  study_id INTEGER NOT NULL REFERENCES studies(id), case_index INTEGER NOT NULL,
  volume TEXT NOT NULL, slice INTEGER NOT NULL, PRIMARY KEY(study_id, case_index));
CREATE TABLE IF NOT EXISTS reader_responses(
  study_id INTEGER NOT NULL REFERENCES studies(id),
  user_id INTEGER NOT NULL REFERENCES users(id), case_index INTEGER NOT NULL,
  response_json TEXT NOT NULL, complete INTEGER NOT NULL DEFAULT 0,
  started_at REAL NOT NULL, updated_at REAL NOT NULL,
  PRIMARY KEY(study_id, user_id, case_index));
CREATE TABLE IF NOT EXISTS validation_jobs(
  id INTEGER PRIMARY KEY, submission_id INTEGER NOT NULL UNIQUE REFERENCES submissions(id),
  state TEXT NOT NULL CHECK(state IN ('queued','leased','done','failed')),
  worker TEXT NOT NULL DEFAULT '', lease_expires REAL NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '',
  created_at REAL NOT NULL, finished_at REAL NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS validation_jobs_state ON validation_jobs(state, id);
CREATE TABLE IF NOT EXISTS final_selections(
  team_id INTEGER NOT NULL REFERENCES teams(id), phase_id INTEGER NOT NULL REFERENCES phases(id),
  track TEXT NOT NULL, submission_id INTEGER NOT NULL REFERENCES submissions(id),
  user_id INTEGER NOT NULL REFERENCES users(id), selected_at REAL NOT NULL,
  PRIMARY KEY(team_id, phase_id, track));
)SQL";

// The schema in PostgreSQL's types: SQLite's INTEGER (64-bit) is BIGINT there, its REAL
// (64-bit) is DOUBLE PRECISION, and an "id INTEGER PRIMARY KEY" (SQLite's rowid alias,
// assigned automatically) becomes an identity column.
std::string postgres_schema(const std::string& sqlite) {
  std::string s = std::regex_replace(sqlite, std::regex(R"(\bINTEGER PRIMARY KEY\b)"),
                                     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
  s = std::regex_replace(s, std::regex(R"(\bINTEGER\b)"), "BIGINT");
  return std::regex_replace(s, std::regex(R"(\bREAL\b)"), "DOUBLE PRECISION");
}

double wall_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Store::Store(std::unique_ptr<Database> db, Clock clock)
    : db_(std::move(db)), clock_(clock ? std::move(clock) : Clock(wall_now)) {}

void Store::init(const std::string& challenge_name) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  db_->exec_script(db_->engine() == "postgresql" ? postgres_schema(kSchema) : kSchema);
  auto v = q("SELECT value FROM meta WHERE key='schema_version'");
  if (v.empty()) {
    db_->exec("INSERT INTO meta(key, value) VALUES('schema_version', ?)",
              {std::to_string(kSchemaVersion)});
  } else {
    const int have = std::stoi(v[0].s(0));
    RB_CHECK(have <= kSchemaVersion, "database schema version ", have,
             " is newer than this reconbench (", kSchemaVersion, "); upgrade reconbench");
    if (have < kSchemaVersion) migrate(have);
  }
  db_->exec("INSERT INTO challenges(name, created_at) VALUES(?, ?) ON CONFLICT(name) DO NOTHING",
            {challenge_name, now()});
  challenge_id_ = q("SELECT id FROM challenges WHERE name=?", {challenge_name})[0].i(0);
  db_->exec("INSERT INTO phases(challenge_id, name, scores_hidden) VALUES(?, 'test', 0) "
            "ON CONFLICT(challenge_id, name) DO NOTHING", {challenge_id_});
  db_->exec("INSERT INTO phases(challenge_id, name, scores_hidden) VALUES(?, 'challenge', 1) "
            "ON CONFLICT(challenge_id, name) DO NOTHING", {challenge_id_});
  tx.commit();
}

// Columns added after version 1 (the CREATE TABLE statements above have them already).
void Store::migrate(int from) {
  if (from < 2) {
    const char* v2 =
        "ALTER TABLE tokens ADD COLUMN expires_at REAL NOT NULL DEFAULT 0;\n"
        "ALTER TABLE phases ADD COLUMN published_at REAL NOT NULL DEFAULT 0;\n"
        "ALTER TABLE challenges ADD COLUMN max_team_bytes INTEGER NOT NULL DEFAULT 53687091200;\n";
    db_->exec_script(db_->engine() == "postgresql" ? postgres_schema(v2) : v2);
  }
  if (from < 3) {  // scoring progress of a leased job
    const char* v3 =
        "ALTER TABLE jobs ADD COLUMN volumes_done INTEGER NOT NULL DEFAULT 0;\n"
        "ALTER TABLE jobs ADD COLUMN volumes_total INTEGER NOT NULL DEFAULT 0;\n";
    db_->exec_script(db_->engine() == "postgresql" ? postgres_schema(v3) : v3);
  }
  db_->exec("UPDATE meta SET value=? WHERE key='schema_version'", {std::to_string(kSchemaVersion)});
}


// ---------------------------------------------------------------- phases and limits

std::vector<Phase> Store::phases() {
  std::lock_guard lock(mu_);
  std::vector<Phase> out;
  for (const auto& r : q("SELECT id, name, opens_at, closes_at, closed_at, scores_hidden, published_at "
                         "FROM phases WHERE challenge_id=? ORDER BY id",
                         {challenge_id_}))
    out.push_back({r.i(0), r.s(1), r.d(2), r.d(3), r.d(4), r.i(5) != 0, r.d(6)});
  return out;
}

Phase Store::phase(const std::string& name) {
  for (const auto& p : phases())
    if (p.name == name) return p;
  throw UserError("unknown phase '" + name + "' (valid: test, challenge)");
}

void Store::set_phase_window(const std::string& name, double opens_at, double closes_at) {
  std::lock_guard lock(mu_);
  phase(name);
  db_->exec("UPDATE phases SET opens_at=?, closes_at=? WHERE challenge_id=? AND name=?",
            {opens_at, closes_at, challenge_id_, name});
}

void Store::close_phase(const std::string& name) {
  std::lock_guard lock(mu_);
  phase(name);
  db_->exec("UPDATE phases SET closed_at=? WHERE challenge_id=? AND name=? AND closed_at=0",
            {now(), challenge_id_, name});
  audit(0, "close_phase", name);
}

void Store::publish_phase(const std::string& name) {
  std::lock_guard lock(mu_);
  RB_CHECK(phase(name).closed(), "phase '", name, "' is still open: close it before publishing its results");
  db_->exec("UPDATE phases SET published_at=? WHERE challenge_id=? AND name=? AND published_at=0",
            {now(), challenge_id_, name});
  audit(0, "publish_phase", name);
}

Limits Store::limits() {
  std::lock_guard lock(mu_);
  auto r = q("SELECT per_day, total, attempts_per_day, max_file_bytes, max_team_bytes FROM challenges "
             "WHERE id=?",
             {challenge_id_});
  return {r[0].i(0), r[0].i(1), r[0].i(2), r[0].i(3), r[0].i(4)};
}

void Store::set_limits(const Limits& l) {
  RB_CHECK(l.per_day >= 0 && l.total >= 0 && l.attempts_per_day >= 0 && l.max_file_bytes > 0 &&
               l.max_team_bytes >= 0,
           "limits must be non-negative");
  std::lock_guard lock(mu_);
  db_->exec("UPDATE challenges SET per_day=?, total=?, attempts_per_day=?, max_file_bytes=?, "
            "max_team_bytes=? WHERE id=?",
            {l.per_day, l.total, l.attempts_per_day, l.max_file_bytes, l.max_team_bytes, challenge_id_});
}

// ---------------------------------------------------------------- submissions

Quota Store::quota(int64_t team_id, int64_t phase_id, const std::string& track) {
  std::lock_guard lock(mu_);
  const Limits l = limits();
  const double t = now(), since = t - 86400.0;
  Quota qt;
  auto counted = q("SELECT queued_at FROM submissions WHERE team_id=? AND phase_id=? AND "
                   "track=? AND counted=1 ORDER BY queued_at",
                   {team_id, phase_id, track});
  qt.used_total = static_cast<int64_t>(counted.size());
  for (const auto& r : counted)
    if (r.d(0) > since) {
      if (qt.used_day == 0) qt.next_reset = r.d(0) + 86400.0;
      ++qt.used_day;
    }
  qt.attempts_day = q("SELECT COUNT(*) FROM submissions WHERE team_id=? AND phase_id=? AND "
                      "track=? AND created_at>?",
                      {team_id, phase_id, track, since})[0].i(0);
  qt.remaining = std::max<int64_t>(0, l.per_day - qt.used_day);
  if (l.total > 0) qt.remaining = std::min(qt.remaining, std::max<int64_t>(0, l.total - qt.used_total));
  qt.attempts_left = std::max<int64_t>(0, l.attempts_per_day - qt.attempts_day);
  return qt;
}

int64_t Store::create_submission(int64_t phase_id, const std::string& track, int64_t team_id,
                                 int64_t user_id, const std::string& baseline,
                                 const std::string& description,
                                 const std::vector<std::pair<std::string, std::string>>& files) {
  RB_CHECK(description.size() <= 500, "description too long (max 500 characters)");
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  auto rows = q("INSERT INTO submissions(phase_id, track, team_id, user_id, baseline, "
                "description, state, created_at, updated_at) VALUES(?,?,?,?,?,?,'uploaded',?,?) "
                "RETURNING id",
                {phase_id, track, team_id > 0 ? SqlValue(team_id) : SqlValue(nullptr), user_id,
                 baseline, description, now(), now()});
  const int64_t id = rows[0].i(0);
  for (const auto& [name, sha] : files)
    db_->exec("INSERT INTO submission_files(submission_id, name, sha256) VALUES(?,?,?)",
              {id, name, sha});
  db_->exec("INSERT INTO submission_events(submission_id, at, state) VALUES(?,?,'uploaded')",
            {id, now()});
  tx.commit();
  return id;
}

void Store::set_state(int64_t id, const std::string& state, const std::string& detail) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  db_->exec("UPDATE submissions SET state=?, updated_at=? WHERE id=?", {state, now(), id});
  db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,?,?)",
            {id, now(), state, detail});
  tx.commit();
}

void Store::fail_submission(int64_t id, const std::string& kind, const std::string& reason) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  // Validation, quota and platform failures never cost quota (design §4.2).
  db_->exec("UPDATE submissions SET state='failed', failure_kind=?, failure_reason=?, "
            "counted=0, updated_at=? WHERE id=?",
            {kind, reason, now(), id});
  db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'failed',?)",
            {id, now(), kind + ": " + reason});
  tx.commit();
}

void Store::set_validation(int64_t id, const nlohmann::json& report) {
  std::lock_guard lock(mu_);
  db_->exec("UPDATE submissions SET validation_json=? WHERE id=?", {report.dump(), id});
}

bool Store::queue_submission(int64_t id, const std::string& spec_hash, bool count_quota) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  auto s = submission(id);
  RB_ASSERT(s.has_value());
  if (count_quota && s->team_id > 0) {
    // Re-checked inside the write transaction: two concurrent submissions cannot both take
    // the last slot.
    if (quota(s->team_id, s->phase_id, s->track).remaining <= 0) return false;
  }
  db_->exec("UPDATE submissions SET state='queued', counted=?, queued_at=?, updated_at=? WHERE id=?",
            {int64_t(count_quota ? 1 : 0), now(), now(), id});
  db_->exec("INSERT INTO submission_events(submission_id, at, state) VALUES(?,?,'queued')",
            {id, now()});
  db_->exec("INSERT INTO jobs(submission_id, spec_hash, state, created_at) VALUES(?,?,'queued',?) "
            "ON CONFLICT(submission_id, spec_hash) DO NOTHING",
            {id, spec_hash, now()});
  tx.commit();
  return true;
}

SubmissionRow Store::load_submission(const SqlRow& r) {
  SubmissionRow s;
  s.id = r.i(0);
  s.phase_id = r.i(1);
  s.phase = r.s(2);
  s.track = r.s(3);
  s.team_id = r.i(4);
  s.team = r.s(5);
  s.user_id = r.i(6);
  s.baseline = r.s(7);
  s.state = r.s(8);
  s.failure_kind = r.s(9);
  s.failure_reason = r.s(10);
  s.created_at = r.d(11);
  s.updated_at = r.d(12);
  s.counted = r.i(13) != 0;
  s.description = r.s(14);
  try {
    s.validation = nlohmann::json::parse(r.s(15));
  } catch (...) {
    s.validation = nlohmann::json::object();
  }
  for (const auto& f : q("SELECT name, sha256 FROM submission_files WHERE submission_id=? "
                         "ORDER BY name",
                         {s.id}))
    s.files.emplace_back(f.s(0), f.s(1));
  return s;
}

static const char* kSubmissionCols =
    "SELECT s.id, s.phase_id, p.name, s.track, s.team_id, COALESCE(t.name, ''), s.user_id, "
    "s.baseline, s.state, s.failure_kind, s.failure_reason, s.created_at, s.updated_at, "
    "s.counted, s.description, s.validation_json FROM submissions s JOIN phases p ON "
    "p.id = s.phase_id LEFT JOIN teams t ON t.id = s.team_id ";

std::optional<SubmissionRow> Store::submission(int64_t id) {
  std::lock_guard lock(mu_);
  auto r = q(std::string(kSubmissionCols) + "WHERE s.id=?", {id});
  if (r.empty()) return std::nullopt;
  return load_submission(r[0]);
}

std::vector<SubmissionRow> Store::submissions(int64_t team_id, int64_t limit) {
  std::lock_guard lock(mu_);
  std::vector<SubmissionRow> out;
  auto rows = team_id > 0 ? q(std::string(kSubmissionCols) + "WHERE s.team_id=? ORDER BY s.id DESC LIMIT ?",
                              {team_id, limit})
                          : q(std::string(kSubmissionCols) + "ORDER BY s.id DESC LIMIT ?", {limit});
  for (const auto& r : rows) out.push_back(load_submission(r));
  return out;
}

nlohmann::json Store::submission_events(int64_t id) {
  std::lock_guard lock(mu_);
  auto a = nlohmann::json::array();
  for (const auto& r : q("SELECT at, state, detail FROM submission_events WHERE submission_id=? "
                         "ORDER BY id",
                         {id}))
    a.push_back({{"at", r.d(0)}, {"state", r.s(1)}, {"detail", r.s(2)}});
  return a;
}

int64_t Store::queue_position(int64_t submission_id) {
  std::lock_guard lock(mu_);
  auto mine = q("SELECT MIN(id) FROM jobs WHERE submission_id=? AND state IN ('queued','leased')",
                {submission_id});
  if (mine.empty() || mine[0].null(0)) return 0;
  return q("SELECT COUNT(*) FROM jobs WHERE state IN ('queued','leased') AND id<=?",
           {mine[0].i(0)})[0].i(0);
}

// ---------------------------------------------------------------- jobs

int64_t Store::enqueue(int64_t submission_id, const std::string& spec_hash) {
  std::lock_guard lock(mu_);
  db_->exec("INSERT INTO jobs(submission_id, spec_hash, state, created_at) VALUES(?,?,'queued',?) "
            "ON CONFLICT(submission_id, spec_hash) DO NOTHING",
            {submission_id, spec_hash, now()});
  return q("SELECT id FROM jobs WHERE submission_id=? AND spec_hash=?",
           {submission_id, spec_hash})[0].i(0);
}

int64_t Store::requeue_expired() {
  std::lock_guard lock(mu_);
  auto expired = q("SELECT id, submission_id, worker FROM jobs WHERE state='leased' AND lease_expires<?",
                   {now()});
  int64_t n = 0;
  for (const auto& r : expired) {
    // Re-checked in the UPDATE: another process may have requeued it, or a heartbeat renewed it.
    if (db_->exec("UPDATE jobs SET state='queued', worker='' WHERE id=? AND state='leased' AND "
                  "lease_expires<?",
                  {r.i(0), now()}) != 1)
      continue;
    ++n;
    db_->exec("UPDATE submissions SET state='queued', updated_at=? WHERE id=? AND state='evaluating'",
              {now(), r.i(1)});
    db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'queued',?)",
              {r.i(1), now(), "requeued: worker " + r.s(2) + " stopped heartbeating"});
  }
  return n;
}

std::optional<Job> Store::claim(const std::string& worker, double lease_s) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  requeue_expired();
  auto r = q("SELECT id, submission_id, attempts, spec_hash FROM jobs WHERE state='queued' "
             "ORDER BY id LIMIT 1");
  if (r.empty()) {
    tx.commit();
    return std::nullopt;
  }
  Job j{r[0].i(0), r[0].i(1), r[0].i(2) + 1, r[0].s(3)};
  // Transactions are serialised on both engines (database.hpp), so the row just read is
  // still queued; the state check in the UPDATE makes a violation loud instead of a double lease.
  const int64_t leased = db_->exec("UPDATE jobs SET state='leased', worker=?, lease_expires=?, "
                                   "heartbeat_at=?, attempts=?, volumes_done=0, volumes_total=0 "
                                   "WHERE id=? AND state='queued'",
                                   {worker, now() + lease_s, now(), j.attempts, j.id});
  RB_ASSERT(leased == 1, "job ", j.id, " was claimed twice");
  db_->exec("UPDATE submissions SET state='evaluating', updated_at=? WHERE id=? AND state!='scored'",
            {now(), j.submission_id});
  db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'evaluating',?)",
            {j.submission_id, now(), "worker " + worker + ", attempt " + std::to_string(j.attempts)});
  tx.commit();
  return j;
}

bool Store::heartbeat(int64_t job_id, const std::string& worker, double lease_s) {
  std::lock_guard lock(mu_);
  return db_->exec("UPDATE jobs SET lease_expires=?, heartbeat_at=? WHERE id=? AND worker=? AND "
                   "state='leased'",
                   {now() + lease_s, now(), job_id, worker}) > 0;
}

bool Store::set_job_progress(int64_t job_id, const std::string& worker, int64_t done, int64_t total) {
  std::lock_guard lock(mu_);
  return db_->exec("UPDATE jobs SET volumes_done=?, volumes_total=? WHERE id=? AND worker=? AND state='leased'",
                   {done, total, job_id, worker}) > 0;
}

std::optional<std::pair<int64_t, int64_t>> Store::job_progress(int64_t submission_id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT volumes_done, volumes_total FROM jobs WHERE submission_id=? AND state='leased' "
             "AND volumes_total > 0 ORDER BY id DESC LIMIT 1", {submission_id});
  if (r.empty()) return std::nullopt;
  return std::pair{r[0].i(0), r[0].i(1)};
}

bool Store::complete(int64_t job_id, const std::string& worker, const ScoreRow& s) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  if (db_->exec("UPDATE jobs SET state='done', finished_at=? WHERE id=? AND worker=? AND "
                "state='leased'",
                {now(), job_id, worker}) != 1)
    return false;  // lease lost: another worker owns (or finished) the job
  const int64_t sub = q("SELECT submission_id FROM jobs WHERE id=?", {job_id})[0].i(0);
  auto val = [](double v) { return std::isfinite(v) ? SqlValue(v) : SqlValue(nullptr); };
  db_->exec("INSERT INTO scores(submission_id, job_id, spec_hash, evaluator, manifest_hash, ssim, "
            "ssim_masked, psnr, nmse, summary_json, volumes_json, created_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
            {sub, job_id, s.spec_hash, s.evaluator, s.manifest_hash, val(s.ssim),
             val(s.ssim_masked), val(s.psnr), val(s.nmse), s.summary.dump(), s.volumes.dump(),
             now()});
  db_->exec("UPDATE submissions SET state='scored', updated_at=? WHERE id=?", {now(), sub});
  db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'scored',?)",
            {sub, now(), "spec " + s.spec_hash + " by " + worker});
  tx.commit();
  return true;
}

void Store::fail_job(int64_t job_id, const std::string& worker, const std::string& reason,
                     bool retryable, int64_t max_attempts) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  auto r = q("SELECT submission_id, attempts FROM jobs WHERE id=? AND worker=? AND state='leased'",
             {job_id, worker});
  if (r.empty()) return;
  const int64_t sub = r[0].i(0);
  if (retryable && r[0].i(1) < max_attempts) {
    db_->exec("UPDATE jobs SET state='queued', worker='', error=? WHERE id=?", {reason, job_id});
    db_->exec("UPDATE submissions SET state='queued', updated_at=? WHERE id=? AND state='evaluating'",
              {now(), sub});
    db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'queued',?)",
              {sub, now(), "retry after: " + reason});
  } else {
    db_->exec("UPDATE jobs SET state='failed', error=?, finished_at=? WHERE id=?",
              {reason, now(), job_id});
    // A rescore job that fails leaves the submission's earlier score in place.
    if (q("SELECT 1 FROM scores WHERE submission_id=?", {sub}).empty()) {
      db_->exec("UPDATE submissions SET state='failed', failure_kind='platform', "
                "failure_reason=?, counted=0, updated_at=? WHERE id=?",
                {"evaluation failed (platform error; this submission does not count against "
                 "your quota)",
                 now(), sub});
      db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'failed',?)",
                {sub, now(), "platform: " + reason});
    }
  }
  tx.commit();
}

nlohmann::json Store::queue_stats() {
  std::lock_guard lock(mu_);
  nlohmann::json j = {{"queued", 0}, {"leased", 0}, {"done", 0}, {"failed", 0}};
  for (const auto& r : q("SELECT state, COUNT(*) FROM jobs GROUP BY state")) j[r.s(0)] = r.i(1);
  return j;
}

void Store::audit(int64_t user_id, const std::string& action, const std::string& detail) {
  std::lock_guard lock(mu_);
  db_->exec("INSERT INTO audit(at, user_id, action, detail) VALUES(?,?,?,?)",
            {now(), user_id > 0 ? SqlValue(user_id) : SqlValue(nullptr), action, detail});
}

}  // namespace rb::challenge
