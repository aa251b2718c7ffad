#include "reconbench/challenge/store.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <regex>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/eval/stats.hpp"

namespace rb::challenge {

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
  label TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, revoked_at REAL);
CREATE TABLE IF NOT EXISTS challenges(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,
  per_day INTEGER NOT NULL DEFAULT 5, total INTEGER NOT NULL DEFAULT 0,
  attempts_per_day INTEGER NOT NULL DEFAULT 20,
  max_file_bytes INTEGER NOT NULL DEFAULT 2147483648);
CREATE TABLE IF NOT EXISTS phases(
  id INTEGER PRIMARY KEY, challenge_id INTEGER NOT NULL REFERENCES challenges(id),
  name TEXT NOT NULL, opens_at REAL NOT NULL DEFAULT 0, closes_at REAL NOT NULL DEFAULT 0,
  closed_at REAL NOT NULL DEFAULT 0, scores_hidden INTEGER NOT NULL,
  UNIQUE(challenge_id, name));
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

bool valid_name(const std::string& s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ' ')) return false;
  return true;
}

double or_nan(const SqlRow& r, size_t k) { return r.null(k) ? std::nan("") : r.d(k); }

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

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
    // Future migrations: if (have < 2) { ALTER TABLE ...; } then bump the stored version.
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

// ---------------------------------------------------------------- users and tokens

User Store::create_user(const std::string& username, const std::string& password,
                        const std::string& role) {
  RB_CHECK(valid_name(username, 64) && username.find(' ') == std::string::npos,
           "username must be 1-64 characters of letters, digits, '_', '-', '.'");
  RB_CHECK(role == "organiser" || role == "participant" || role == "reader",
           "role must be organiser, participant or reader");
  RB_CHECK(password.empty() || password.size() >= 8, "password must have at least 8 characters");
  std::lock_guard lock(mu_);
  RB_CHECK(!user_by_name(username), "username '", username, "' is taken");
  auto rows = q("INSERT INTO users(username, password_hash, role, created_at) VALUES(?,?,?,?) "
                "RETURNING id",
                {username, password.empty() ? SqlValue(nullptr) : SqlValue(hash_password(password)),
                 role, now()});
  User u{rows[0].i(0), username, role};
  audit(u.id, "create_user", username + " (" + role + ")");
  return u;
}

std::optional<User> Store::user_by_name(const std::string& username) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, username, role FROM users WHERE username=?", {username});
  if (r.empty()) return std::nullopt;
  return User{r[0].i(0), r[0].s(1), r[0].s(2)};
}

std::optional<User> Store::user_by_id(int64_t id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, username, role FROM users WHERE id=?", {id});
  if (r.empty()) return std::nullopt;
  return User{r[0].i(0), r[0].s(1), r[0].s(2)};
}

std::optional<User> Store::login(const std::string& username, const std::string& password) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, username, role, password_hash FROM users WHERE username=?", {username});
  if (r.empty() || r[0].null(3)) {
    verify_password(password, "20000$00$00");  // similar timing for unknown users
    return std::nullopt;
  }
  if (!verify_password(password, r[0].s(3))) return std::nullopt;
  return User{r[0].i(0), r[0].s(1), r[0].s(2)};
}

int64_t Store::count_users(const std::string& role) {
  std::lock_guard lock(mu_);
  return q("SELECT COUNT(*) FROM users WHERE role=?", {role})[0].i(0);
}

std::vector<User> Store::users() {
  std::lock_guard lock(mu_);
  std::vector<User> out;
  for (const auto& r : q("SELECT id, username, role FROM users ORDER BY id"))
    out.push_back({r.i(0), r.s(1), r.s(2)});
  return out;
}

std::string Store::create_token(int64_t user_id, const std::string& scope,
                                const std::string& label) {
  RB_CHECK(scope == "all" || scope == "submit" || scope == "read",
           "token scope must be all, submit or read");
  RB_CHECK(label.size() <= 100, "token label too long");
  std::lock_guard lock(mu_);
  const std::string secret = random_hex(32);
  auto rows = q("INSERT INTO tokens(user_id, secret_hash, scope, label, created_at) "
                "VALUES(?,?,?,?,?) RETURNING id",
                {user_id, sha256_hex(secret), scope, label, now()});
  return "rbt_" + std::to_string(rows[0].i(0)) + "_" + secret;
}

std::optional<Auth> Store::authenticate(const std::string& token) {
  // rbt_<id>_<64 hex>
  if (token.size() < 4 + 1 + 1 + 64 || token.rfind("rbt_", 0) != 0) return std::nullopt;
  const auto us = token.find('_', 4);
  if (us == std::string::npos || us == 4 || us > 24) return std::nullopt;
  int64_t id = 0;
  for (size_t k = 4; k < us; ++k) {
    if (token[k] < '0' || token[k] > '9') return std::nullopt;
    id = id * 10 + (token[k] - '0');
  }
  const std::string secret = token.substr(us + 1);
  if (secret.size() != 64) return std::nullopt;
  std::lock_guard lock(mu_);
  auto r = q("SELECT t.secret_hash, t.scope, t.revoked_at, u.id, u.username, u.role "
             "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id=?",
             {id});
  if (r.empty()) return std::nullopt;
  if (!constant_time_equal(sha256_hex(secret), r[0].s(0))) return std::nullopt;
  if (!r[0].null(2)) return std::nullopt;
  return Auth{User{r[0].i(3), r[0].s(4), r[0].s(5)}, id, r[0].s(1)};
}

bool Store::revoke_token(int64_t token_id, int64_t user_id, bool any_owner) {
  std::lock_guard lock(mu_);
  int64_t n = any_owner
                  ? db_->exec("UPDATE tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                              {now(), token_id})
                  : db_->exec("UPDATE tokens SET revoked_at=? WHERE id=? AND user_id=? AND "
                              "revoked_at IS NULL",
                              {now(), token_id, user_id});
  if (n > 0) audit(user_id, "revoke_token", std::to_string(token_id));
  return n > 0;
}

nlohmann::json Store::list_tokens(int64_t user_id) {
  std::lock_guard lock(mu_);
  auto a = nlohmann::json::array();
  for (const auto& r : q("SELECT id, scope, label, created_at, revoked_at FROM tokens WHERE "
                         "user_id=? ORDER BY id",
                         {user_id}))
    a.push_back({{"id", r.i(0)}, {"scope", r.s(1)}, {"label", r.s(2)}, {"created_at", r.d(3)},
                 {"revoked", !r.null(4)}});
  return a;
}

// ---------------------------------------------------------------- teams

Team Store::create_team(int64_t creator, const std::string& name) {
  RB_CHECK(valid_name(name, 64), "team name must be 1-64 characters of letters, digits, ' ', '_', '-', '.'");
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  RB_CHECK(q("SELECT 1 FROM team_members WHERE challenge_id=? AND user_id=?",
             {challenge_id_, creator}).empty(),
           "you are already in a team of this challenge (one user, one team)");
  RB_CHECK(q("SELECT 1 FROM teams WHERE challenge_id=? AND name=?", {challenge_id_, name}).empty(),
           "team name '", name, "' is taken");
  auto rows = q("INSERT INTO teams(challenge_id, name, created_by, created_at) VALUES(?,?,?,?) "
                "RETURNING id",
                {challenge_id_, name, creator, now()});
  const int64_t id = rows[0].i(0);
  db_->exec("INSERT INTO team_members(team_id, user_id, challenge_id, joined_at) VALUES(?,?,?,?)",
            {id, creator, challenge_id_, now()});
  audit(creator, "create_team", name);
  tx.commit();
  return {id, name};
}

void Store::add_team_member(int64_t team_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  RB_CHECK(!q("SELECT 1 FROM teams WHERE id=?", {team_id}).empty(), "no team ", team_id);
  RB_CHECK(q("SELECT 1 FROM team_members WHERE challenge_id=? AND user_id=?",
             {challenge_id_, user_id}).empty(),
           "user is already in a team of this challenge (one user, one team)");
  db_->exec("INSERT INTO team_members(team_id, user_id, challenge_id, joined_at) VALUES(?,?,?,?)",
            {team_id, user_id, challenge_id_, now()});
  audit(user_id, "join_team", std::to_string(team_id));
  tx.commit();
}

std::optional<Team> Store::team_of(int64_t user_id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT t.id, t.name FROM team_members m JOIN teams t ON t.id = m.team_id "
             "WHERE m.challenge_id=? AND m.user_id=?",
             {challenge_id_, user_id});
  if (r.empty()) return std::nullopt;
  return Team{r[0].i(0), r[0].s(1)};
}

std::optional<Team> Store::team_by_id(int64_t team_id) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT id, name FROM teams WHERE id=?", {team_id});
  if (r.empty()) return std::nullopt;
  return Team{r[0].i(0), r[0].s(1)};
}

nlohmann::json Store::teams() {
  std::lock_guard lock(mu_);
  auto a = nlohmann::json::array();
  for (const auto& r : q("SELECT t.id, t.name, COUNT(m.user_id) FROM teams t LEFT JOIN "
                         "team_members m ON m.team_id = t.id WHERE t.challenge_id=? "
                         "GROUP BY t.id, t.name ORDER BY t.id",
                         {challenge_id_}))
    a.push_back({{"id", r.i(0)}, {"name", r.s(1)}, {"members", r.i(2)}});
  return a;
}

// ---------------------------------------------------------------- phases and limits

std::vector<Phase> Store::phases() {
  std::lock_guard lock(mu_);
  std::vector<Phase> out;
  for (const auto& r : q("SELECT id, name, opens_at, closes_at, closed_at, scores_hidden FROM "
                         "phases WHERE challenge_id=? ORDER BY id",
                         {challenge_id_}))
    out.push_back({r.i(0), r.s(1), r.d(2), r.d(3), r.d(4), r.i(5) != 0});
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

Limits Store::limits() {
  std::lock_guard lock(mu_);
  auto r = q("SELECT per_day, total, attempts_per_day, max_file_bytes FROM challenges WHERE id=?",
             {challenge_id_});
  return {r[0].i(0), r[0].i(1), r[0].i(2), r[0].i(3)};
}

void Store::set_limits(const Limits& l) {
  RB_CHECK(l.per_day >= 0 && l.total >= 0 && l.attempts_per_day >= 0 && l.max_file_bytes > 0,
           "limits must be non-negative");
  std::lock_guard lock(mu_);
  db_->exec("UPDATE challenges SET per_day=?, total=?, attempts_per_day=?, max_file_bytes=? "
            "WHERE id=?",
            {l.per_day, l.total, l.attempts_per_day, l.max_file_bytes, challenge_id_});
}

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
                                   "heartbeat_at=?, attempts=? WHERE id=? AND state='queued'",
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

// ---------------------------------------------------------------- scores and leaderboards

std::optional<ScoreRow> Store::score(int64_t submission_id, const std::string& spec_hash) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT ssim, ssim_masked, psnr, nmse, spec_hash, evaluator, manifest_hash, "
             "summary_json, volumes_json FROM scores WHERE submission_id=? "
             "ORDER BY (spec_hash=?) DESC, id DESC LIMIT 1",
             {submission_id, spec_hash});
  if (r.empty()) return std::nullopt;
  ScoreRow s{or_nan(r[0], 0), or_nan(r[0], 1), or_nan(r[0], 2), or_nan(r[0], 3),
             r[0].s(4), r[0].s(5), r[0].s(6),
             nlohmann::json::parse(r[0].s(7)), nlohmann::json::parse(r[0].s(8))};
  return s;
}

int64_t Store::count_scores(int64_t submission_id) {
  std::lock_guard lock(mu_);
  return q("SELECT COUNT(*) FROM scores WHERE submission_id=?", {submission_id})[0].i(0);
}

int64_t Store::score_version() {
  std::lock_guard lock(mu_);
  auto r = q("SELECT (SELECT COALESCE(MAX(id), 0) FROM scores) * 1000 + "
             "(SELECT COUNT(*) FROM phases WHERE closed_at > 0) + "
             "(SELECT COUNT(*) FROM studies) * 100 + "
             // a final-submission selection changes the challenge leaderboard (audit rows only grow)
             "(SELECT COUNT(*) FROM audit WHERE action='select_final') * 1000000000000");
  return r[0].i(0);
}

nlohmann::json Store::leaderboard(const std::string& phase_name, const std::string& track,
                                  const std::string& spec_hash) {
  std::lock_guard lock(mu_);
  const Phase ph = phase(phase_name);
  // Per submission: the score for spec_hash if present, else its newest score.
  auto rows = q(
      "SELECT s.id, s.team_id, COALESCE(t.name, ''), s.baseline, s.created_at, c.ssim, "
      "c.ssim_masked, c.psnr, c.nmse, c.spec_hash, c.summary_json, s.description "
      "FROM submissions s LEFT JOIN teams t ON t.id = s.team_id "
      "JOIN scores c ON c.id = (SELECT c2.id FROM scores c2 WHERE c2.submission_id = s.id "
      "  ORDER BY (c2.spec_hash = ?) DESC, c2.id DESC LIMIT 1) "
      "WHERE s.phase_id=? AND s.track=? AND s.state='scored' ORDER BY s.id",
      {spec_hash, ph.id, track});
  struct Entry {
    nlohmann::json j;
    double ssim;
  };
  std::map<int64_t, Entry> best;  // team -> best submission
  std::vector<Entry> baselines;
  std::map<int64_t, int64_t> counts;
  // Challenge phase: the row of a team is its final submission (its choice, else its latest
  // scored one), not its best; the test phase shows each team's best.
  const bool use_final = phase_name == "challenge";
  const auto finals = use_final ? final_submissions(ph.id, track) : std::map<int64_t, FinalChoice>{};
  for (const auto& r : rows) {
    nlohmann::json summary = nlohmann::json::parse(r.s(10));
    auto metric = [&](const char* m) {
      const auto& g = summary["all"][m];
      return nlohmann::json{{"mean", g.value("mean", nlohmann::json())},
                            {"quantile_interval", g.value("quantile_interval", nlohmann::json())},
                            {"bootstrap_ci", g.value("bootstrap_ci", nlohmann::json())}};
    };
    auto sub = [&](const char* key) {
      nlohmann::json out = nlohmann::json::object();
      if (summary.contains(key))
        for (auto it = summary[key].begin(); it != summary[key].end(); ++it)
          out[it.key()] = {{"n", it.value().value("n", 0)},
                           {"ssim", it.value()["ssim"].value("mean", nlohmann::json())},
                           {"ssim_masked", it.value()["ssim_masked"].value("mean", nlohmann::json())},
                           {"psnr", it.value()["psnr"].value("mean", nlohmann::json())},
                           {"nmse", it.value()["nmse"].value("mean", nlohmann::json())}};
      return out;
    };
    const double ssim = or_nan(r, 5);
    nlohmann::json e = {{"submission", r.i(0)},
                        {"team", r.s(3).empty() ? r.s(2) : r.s(3)},
                        {"description", r.s(11)},
                        {"submitted_at", r.d(4)},
                        {"ssim", metric("ssim")},
                        {"ssim_masked", metric("ssim_masked")},
                        {"psnr", metric("psnr")},
                        {"nmse", metric("nmse")},
                        {"spec_hash", r.s(9)},
                        {"current_spec", r.s(9) == spec_hash},
                        {"by_contrast", sub("by_contrast")},
                        {"by_vendor", sub("by_vendor")}};
    if (!r.s(3).empty()) {
      e["baseline"] = true;
      baselines.push_back({e, ssim});
      continue;
    }
    const int64_t team = r.i(1);
    ++counts[team];
    if (use_final) {
      auto f = finals.find(team);
      if (f == finals.end() || f->second.submission_id != r.i(0)) continue;
      e["final"] = f->second.selected ? "selected" : "latest";
    }
    auto it = best.find(team);
    // Highest SSIM wins; NaN never ranks above a number (Codabench #1640).
    if (it == best.end() || (std::isfinite(ssim) && !(ssim <= it->second.ssim)))
      best[team] = {e, std::isfinite(ssim) ? ssim : -1e300};
  }
  std::vector<Entry> ranked;
  for (auto& [team, e] : best) {
    e.j["submissions_scored"] = counts[team];
    ranked.push_back(e);
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Entry& a, const Entry& b) { return a.ssim > b.ssim; });
  // Rank uncertainty over the ranked teams (design §3.2): per-volume SSIM of each team's
  // best submission on the same volumes; P(rank = 1) from a volume bootstrap, and a paired
  // bootstrap of (#1 - team) whose 95% CI containing 0 marks "statistically tied with #1".
  std::vector<std::vector<double>> per_volume;
  bool comparable = ranked.size() >= 2;
  for (size_t k = 0; k < ranked.size() && comparable; ++k) {
    auto v = q("SELECT volumes_json FROM scores WHERE submission_id=? ORDER BY (spec_hash=?) DESC, "
               "id DESC LIMIT 1",
               {ranked[k].j["submission"].get<int64_t>(), spec_hash});
    std::map<std::string, double> by_file;
    for (const auto& vol : nlohmann::json::parse(v[0].s(0)))
      by_file[vol.value("file", "")] = vol["ssim"].is_number() ? vol["ssim"].get<double>() : std::nan("");
    std::vector<double> row;
    for (const auto& [file, ssim] : by_file) row.push_back(ssim);
    for (double x : row) comparable = comparable && std::isfinite(x);
    if (!per_volume.empty() && row.size() != per_volume[0].size()) comparable = false;
    per_volume.push_back(std::move(row));
  }
  eval::BootstrapOptions bo;
  bo.resamples = 1000;
  bo.seed = 20202;
  std::vector<double> p_first;
  if (comparable) p_first = eval::probability_rank_first(per_volume, true, bo);
  nlohmann::json entries = nlohmann::json::array(), base = nlohmann::json::array();
  for (size_t k = 0; k < ranked.size(); ++k) {
    ranked[k].j["rank"] = k + 1;
    if (comparable) {
      ranked[k].j["p_rank_first"] = p_first[k];
      if (k > 0) {
        auto pb = eval::paired_bootstrap(per_volume[0], per_volume[k], bo);
        ranked[k].j["difference_to_first"] = {{"mean", num(pb.mean_difference)},
                                              {"ci", {num(pb.ci.lo), num(pb.ci.hi)}}};
        ranked[k].j["tied_with_first"] = pb.ci.lo <= 0.0;
      }
    }
    entries.push_back(ranked[k].j);
  }
  for (auto& b : baselines) base.push_back(b.j);
  return {{"phase", phase_name},
          {"track", track},
          {"spec_hash", spec_hash},
          {"ranking_metric", "ssim"},
          {"higher_is_better", {{"ssim", true}, {"ssim_masked", true}, {"psnr", true}, {"nmse", false}}},
          {"interval_labels", {{"quantile_interval", eval::kQuantileIntervalLabel},
                               {"bootstrap_ci", eval::kBootstrapLabel}}},
          {"rank_uncertainty", "P(rank = 1): volume bootstrap (B = 1000); tied with #1: paired "
                               "bootstrap 95% CI of the SSIM difference to #1 includes 0"},
          {"entries", entries},
          {"baselines", base}};
}

// ---------------------------------------------------------------- reader studies

int64_t Store::create_study(const std::string& phase_name, const std::string& track,
                            const std::string& spec_hash, const std::vector<StudyCase>& cases,
                            int64_t finalists) {
  std::lock_guard lock(mu_);
  const Phase ph = phase(phase_name);
  auto existing = q("SELECT id FROM studies WHERE phase_id=? AND track=?", {ph.id, track});
  if (!existing.empty()) return existing[0].i(0);
  auto lb = leaderboard(phase_name, track, spec_hash);
  const auto& entries = lb["entries"];
  if (entries.size() < 2 || cases.empty()) return 0;
  Transaction tx(*db_);
  const uint64_t seed = std::stoull(random_hex(6), nullptr, 16);
  auto rows = q("INSERT INTO studies(phase_id, track, seed, spec_hash, created_at) VALUES(?,?,?,?,?) "
                "RETURNING id",
                {ph.id, track, static_cast<int64_t>(seed), spec_hash, now()});
  const int64_t id = rows[0].i(0);
  const int64_t n = std::min<int64_t>(finalists, static_cast<int64_t>(entries.size()));
  for (int64_t k = 0; k < n; ++k) {
    const auto& e = entries[static_cast<size_t>(k)];
    const int64_t sub = e["submission"].get<int64_t>();
    const int64_t team = q("SELECT team_id FROM submissions WHERE id=?", {sub})[0].i(0);
    db_->exec("INSERT INTO study_candidates(study_id, slot, submission_id, team_id, ssim) "
              "VALUES(?,?,?,?,?)",
              {id, k, sub, team,
               e["ssim"]["mean"].is_number() ? SqlValue(e["ssim"]["mean"].get<double>())
                                             : SqlValue(nullptr)});
  }
  for (size_t c = 0; c < cases.size(); ++c)
    db_->exec("INSERT INTO study_cases(study_id, case_index, volume, slice) VALUES(?,?,?,?)",
              {id, static_cast<int64_t>(c), cases[c].volume, cases[c].slice});
  audit(0, "create_study", phase_name + "/" + track);
  tx.commit();
  return id;
}

nlohmann::json Store::studies() {
  std::lock_guard lock(mu_);
  auto a = nlohmann::json::array();
  for (const auto& r : q("SELECT s.id, p.name, s.track, (SELECT COUNT(*) FROM study_cases c "
                         "WHERE c.study_id=s.id), (SELECT COUNT(*) FROM study_candidates c WHERE "
                         "c.study_id=s.id) FROM studies s JOIN phases p ON p.id=s.phase_id "
                         "ORDER BY s.id"))
    a.push_back({{"id", r.i(0)}, {"phase", r.s(1)}, {"track", r.s(2)}, {"cases", r.i(3)},
                 {"candidates", r.i(4)}});
  return a;
}

nlohmann::json Store::study(int64_t id) {
  std::lock_guard lock(mu_);
  auto s = q("SELECT s.id, p.name, s.track, s.seed, s.spec_hash FROM studies s JOIN phases p ON "
             "p.id=s.phase_id WHERE s.id=?",
             {id});
  RB_CHECK(!s.empty(), "no reader study ", id);
  nlohmann::json cands = nlohmann::json::array(), cases = nlohmann::json::array();
  for (const auto& r : q("SELECT c.slot, c.submission_id, t.name, c.ssim FROM study_candidates c "
                         "JOIN teams t ON t.id=c.team_id WHERE c.study_id=? ORDER BY c.slot",
                         {id}))
    cands.push_back({{"slot", r.i(0)}, {"submission", r.i(1)}, {"team", r.s(2)},
                     {"ssim", num(or_nan(r, 3))}});
  for (const auto& r : q("SELECT case_index, volume, slice FROM study_cases WHERE study_id=? "
                         "ORDER BY case_index",
                         {id}))
    cases.push_back({{"case", r.i(0)}, {"volume", r.s(1)}, {"slice", r.i(2)}});
  return {{"id", s[0].i(0)}, {"phase", s[0].s(1)}, {"track", s[0].s(2)},
          {"seed", s[0].i(3)}, {"spec_hash", s[0].s(4)}, {"candidates", cands},
          {"cases", cases}};
}

uint64_t Store::study_seed(int64_t study_id) {
  auto r = q("SELECT seed FROM studies WHERE id=?", {study_id});
  RB_CHECK(!r.empty(), "no reader study ", study_id);
  return static_cast<uint64_t>(r[0].i(0));
}

namespace {
// Fisher-Yates with eval::uniform_index (portable, unlike std::shuffle).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(p[i], p[eval::uniform_index(static_cast<uint64_t>(i + 1), rng)]);
  return p;
}
uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}
}  // namespace

std::vector<int64_t> Store::reader_case_order(int64_t study_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  const int64_t n = q("SELECT COUNT(*) FROM study_cases WHERE study_id=?", {study_id})[0].i(0);
  return seeded_permutation(n, mix(study_seed(study_id), static_cast<uint64_t>(user_id)));
}

std::vector<int64_t> Store::reader_positions(int64_t study_id, int64_t user_id, int64_t case_index) {
  std::lock_guard lock(mu_);
  const int64_t n = q("SELECT COUNT(*) FROM study_candidates WHERE study_id=?", {study_id})[0].i(0);
  return seeded_permutation(
      n, mix(mix(study_seed(study_id), static_cast<uint64_t>(user_id)),
             static_cast<uint64_t>(case_index) + 1000003ULL));
}

nlohmann::json Store::reader_response(int64_t study_id, int64_t user_id, int64_t case_index) {
  std::lock_guard lock(mu_);
  auto r = q("SELECT response_json, complete FROM reader_responses WHERE study_id=? AND user_id=? "
             "AND case_index=?",
             {study_id, user_id, case_index});
  if (r.empty()) return nullptr;
  return {{"response", nlohmann::json::parse(r[0].s(0))}, {"complete", r[0].i(1) != 0}};
}

void Store::save_reader_response(int64_t study_id, int64_t user_id, int64_t case_index,
                                 const nlohmann::json& response, bool complete) {
  std::lock_guard lock(mu_);
  db_->exec("INSERT INTO reader_responses(study_id, user_id, case_index, response_json, complete, "
            "started_at, updated_at) VALUES(?,?,?,?,?,?,?) ON CONFLICT(study_id, user_id, "
            "case_index) DO UPDATE SET response_json=excluded.response_json, "
            "complete=excluded.complete, updated_at=excluded.updated_at",
            {study_id, user_id, case_index, response.dump(), int64_t(complete ? 1 : 0), now(),
             now()});
}

nlohmann::json Store::reader_progress(int64_t study_id) {
  std::lock_guard lock(mu_);
  const int64_t n = q("SELECT COUNT(*) FROM study_cases WHERE study_id=?", {study_id})[0].i(0);
  auto a = nlohmann::json::array();
  for (const auto& r : q("SELECT u.id, u.username, (SELECT COUNT(*) FROM reader_responses x WHERE "
                         "x.study_id=? AND x.user_id=u.id AND x.complete=1) FROM users u WHERE "
                         "u.role='reader' ORDER BY u.id",
                         {study_id}))
    a.push_back({{"reader", r.s(1)}, {"complete", r.i(2)}, {"cases", n}});
  return a;
}

nlohmann::json Store::study_responses(int64_t study_id) {
  std::lock_guard lock(mu_);
  auto a = nlohmann::json::array();
  for (const auto& r : q("SELECT x.user_id, u.username, x.case_index, x.response_json, "
                         "x.updated_at - x.started_at FROM reader_responses x JOIN users u ON "
                         "u.id=x.user_id WHERE x.study_id=? AND x.complete=1 ORDER BY "
                         "x.case_index, x.user_id",
                         {study_id}))
    a.push_back({{"reader_id", r.i(0)}, {"reader", r.s(1)}, {"case", r.i(2)},
                 {"response", nlohmann::json::parse(r.s(3))}, {"seconds", r.d(4)}});
  return a;
}

void Store::audit(int64_t user_id, const std::string& action, const std::string& detail) {
  std::lock_guard lock(mu_);
  db_->exec("INSERT INTO audit(at, user_id, action, detail) VALUES(?,?,?,?)",
            {now(), user_id > 0 ? SqlValue(user_id) : SqlValue(nullptr), action, detail});
}

}  // namespace rb::challenge
