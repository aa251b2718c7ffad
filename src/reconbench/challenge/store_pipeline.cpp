// Store: the validation queue, duplicate detection and the final-submission selection
// (declared in store.hpp; tables validation_jobs and final_selections in store.cpp's schema).
#include <algorithm>

#include "reconbench/challenge/store.hpp"
#include "reconbench/core/error.hpp"

namespace rb::challenge {

namespace {
const char* kLive = "'queued','evaluating','scored'";
const char* kLiveOrValidating = "'uploaded','validating','queued','evaluating','scored'";
}  // namespace

// ---------------------------------------------------------------- validation queue

void Store::request_validation(int64_t id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  db_->exec("UPDATE submissions SET state='validating', updated_at=? WHERE id=? AND state='uploaded'",
            {now(), id});
  if (db_->exec("INSERT INTO validation_jobs(submission_id, state, created_at) VALUES(?,'queued',?) "
                "ON CONFLICT(submission_id) DO NOTHING",
                {id, now()}) == 1)
    db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'validating',?)",
              {id, now(), "waiting for the validator"});
  tx.commit();
}

std::optional<Job> Store::claim_validation(const std::string& worker, double lease_s,
                                           int64_t submission_id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  for (const auto& r : q("SELECT id, submission_id, worker FROM validation_jobs WHERE state='leased' "
                         "AND lease_expires<?",
                         {now()}))
    if (db_->exec("UPDATE validation_jobs SET state='queued', worker='' WHERE id=? AND "
                  "state='leased' AND lease_expires<?",
                  {r.i(0), now()}) == 1)
      db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'validating',?)",
                {r.i(1), now(), "validation requeued: validator " + r.s(2) + " stopped heartbeating"});
  auto r = submission_id > 0
               ? q("SELECT id, submission_id, attempts FROM validation_jobs WHERE state='queued' "
                   "AND submission_id=?",
                   {submission_id})
               : q("SELECT id, submission_id, attempts FROM validation_jobs WHERE state='queued' "
                   "ORDER BY id LIMIT 1");
  if (r.empty()) {
    tx.commit();
    return std::nullopt;
  }
  Job j{r[0].i(0), r[0].i(1), r[0].i(2) + 1, "validate"};
  db_->exec("UPDATE validation_jobs SET state='leased', worker=?, lease_expires=?, attempts=? "
            "WHERE id=? AND state='queued'",
            {worker, now() + lease_s, j.attempts, j.id});
  db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'validating',?)",
            {j.submission_id, now(), "validator " + worker + ", attempt " + std::to_string(j.attempts)});
  tx.commit();
  return j;
}

bool Store::heartbeat_validation(int64_t job_id, const std::string& worker, double lease_s) {
  std::lock_guard lock(mu_);
  return db_->exec("UPDATE validation_jobs SET lease_expires=? WHERE id=? AND worker=? AND "
                   "state='leased'",
                   {now() + lease_s, job_id, worker}) > 0;
}

std::string Store::finish_validation(int64_t job_id, const std::string& worker,
                                     const nlohmann::json& report, bool valid,
                                     const std::string& failure_reason, const std::string& spec_hash) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  if (db_->exec("UPDATE validation_jobs SET state='done', finished_at=? WHERE id=? AND worker=? "
                "AND state='leased'",
                {now(), job_id, worker}) != 1)
    return "";  // lease lost: another validator owns (or finished) this job
  const int64_t id = q("SELECT submission_id FROM validation_jobs WHERE id=?", {job_id})[0].i(0);
  auto s = submission(id);
  RB_ASSERT(s.has_value());
  db_->exec("UPDATE submissions SET validation_json=? WHERE id=?", {report.dump(), id});
  auto fail = [&](const std::string& kind, const std::string& reason) {
    db_->exec("UPDATE submissions SET state='failed', failure_kind=?, failure_reason=?, counted=0, "
              "updated_at=? WHERE id=?",
              {kind, reason, now(), id});
    db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'failed',?)",
              {id, now(), kind + ": " + reason});
    tx.commit();
    return std::string("failed");
  };
  if (!valid) return fail("validation", failure_reason);
  const bool count = s->baseline.empty() && s->team_id > 0;
  if (count) {
    if (const int64_t dup = duplicate_of(s->team_id, s->phase_id, s->track, s->files, id, false))
      return fail("duplicate", "the same files as submission " + std::to_string(dup) +
                                   " of your team; not evaluated again and not charged");
    // Re-checked inside the write transaction: two submissions cannot both take the last slot.
    if (quota(s->team_id, s->phase_id, s->track).remaining <= 0)
      return fail("quota", "submission limit reached for this track");
  }
  db_->exec("UPDATE submissions SET state='queued', counted=?, queued_at=?, updated_at=? WHERE id=?",
            {int64_t(count ? 1 : 0), now(), now(), id});
  db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'queued',?)",
            {id, now(), "validated"});
  db_->exec("INSERT INTO jobs(submission_id, spec_hash, state, created_at) VALUES(?,?,'queued',?) "
            "ON CONFLICT(submission_id, spec_hash) DO NOTHING",
            {id, spec_hash, now()});
  tx.commit();
  return "queued";
}

void Store::fail_validation_job(int64_t job_id, const std::string& worker, const std::string& reason,
                                bool retryable, int64_t max_attempts) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  auto r = q("SELECT submission_id, attempts FROM validation_jobs WHERE id=? AND worker=? AND "
             "state='leased'",
             {job_id, worker});
  if (r.empty()) return;
  const int64_t id = r[0].i(0);
  if (retryable && r[0].i(1) < max_attempts) {
    db_->exec("UPDATE validation_jobs SET state='queued', worker='', error=? WHERE id=?", {reason, job_id});
    db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'validating',?)",
              {id, now(), "validation retried after a platform error"});
  } else {
    db_->exec("UPDATE validation_jobs SET state='failed', error=?, finished_at=? WHERE id=?",
              {reason, now(), job_id});
    db_->exec("UPDATE submissions SET state='failed', failure_kind='platform', failure_reason=?, "
              "counted=0, updated_at=? WHERE id=?",
              {"validation could not run (platform error; this submission does not count against "
               "your quota)",
               now(), id});
    db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'failed',?)",
              {id, now(), "platform: " + reason});
  }
  tx.commit();
}

int64_t Store::validation_position(int64_t submission_id) {
  std::lock_guard lock(mu_);
  auto mine = q("SELECT id FROM validation_jobs WHERE submission_id=? AND state IN ('queued','leased')",
                {submission_id});
  if (mine.empty()) return 0;
  return q("SELECT COUNT(*) FROM validation_jobs WHERE state IN ('queued','leased') AND id<=?",
           {mine[0].i(0)})[0].i(0);
}

// ---------------------------------------------------------------- duplicates

int64_t Store::duplicate_of(int64_t team_id, int64_t phase_id, const std::string& track,
                            std::vector<std::pair<std::string, std::string>> files, int64_t exclude,
                            bool include_validating) {
  if (team_id <= 0 || files.empty()) return 0;
  std::lock_guard lock(mu_);
  std::sort(files.begin(), files.end());
  // Candidates share the first file's content; then the whole file list must match.
  auto cands = q(std::string("SELECT DISTINCT s.id FROM submissions s JOIN submission_files f ON "
                             "f.submission_id = s.id WHERE s.team_id=? AND s.phase_id=? AND "
                             "s.track=? AND s.id<>? AND f.name=? AND f.sha256=? AND s.state IN (") +
                     (include_validating ? kLiveOrValidating : kLive) + ") ORDER BY s.id",
                 {team_id, phase_id, track, exclude, files[0].first, files[0].second});
  for (const auto& c : cands) {
    std::vector<std::pair<std::string, std::string>> theirs;
    for (const auto& f : q("SELECT name, sha256 FROM submission_files WHERE submission_id=? "
                           "ORDER BY name",
                           {c.i(0)}))
      theirs.emplace_back(f.s(0), f.s(1));
    std::sort(theirs.begin(), theirs.end());
    if (theirs == files) return c.i(0);
  }
  return 0;
}

std::vector<int64_t> Store::identical_elsewhere(int64_t submission_id) {
  std::lock_guard lock(mu_);
  auto s = submission(submission_id);
  std::vector<int64_t> out;
  if (!s || s->files.empty()) return out;
  auto files = s->files;
  std::sort(files.begin(), files.end());
  for (const auto& c : q("SELECT DISTINCT s.id FROM submissions s JOIN submission_files f ON "
                         "f.submission_id = s.id WHERE s.id<>? AND s.team_id IS NOT NULL AND "
                         "s.team_id<>? AND s.state<>'failed' AND f.name=? AND f.sha256=? "
                         "ORDER BY s.id",
                         {submission_id, s->team_id, files[0].first, files[0].second})) {
    std::vector<std::pair<std::string, std::string>> theirs;
    for (const auto& f : q("SELECT name, sha256 FROM submission_files WHERE submission_id=? "
                           "ORDER BY name",
                           {c.i(0)}))
      theirs.emplace_back(f.s(0), f.s(1));
    std::sort(theirs.begin(), theirs.end());
    if (theirs == files) out.push_back(c.i(0));
  }
  return out;
}

// ---------------------------------------------------------------- final selection

void Store::select_final(int64_t submission_id, int64_t team_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  Transaction tx(*db_);
  auto s = submission(submission_id);
  RB_CHECK(s && s->team_id == team_id && team_id > 0, "submission ", submission_id,
           " is not one of your team's");
  RB_CHECK(s->phase == "challenge", "only challenge-phase submissions are selected as final "
                                    "(the test leaderboard shows each team's best)");
  RB_CHECK(s->state == "scored", "submission ", submission_id, " is ", s->state,
           "; only a scored submission can be the final one");
  RB_CHECK(!phase(s->phase).closed(), "the challenge phase is closed; the final selection is frozen");
  db_->exec("INSERT INTO final_selections(team_id, phase_id, track, submission_id, user_id, "
            "selected_at) VALUES(?,?,?,?,?,?) ON CONFLICT(team_id, phase_id, track) DO UPDATE SET "
            "submission_id=excluded.submission_id, user_id=excluded.user_id, "
            "selected_at=excluded.selected_at",
            {team_id, s->phase_id, s->track, submission_id, user_id, now()});
  db_->exec("INSERT INTO submission_events(submission_id, at, state, detail) VALUES(?,?,'scored',?)",
            {submission_id, now(), "selected as the team's final submission"});
  audit(user_id, "select_final", std::to_string(submission_id));
  tx.commit();
}

std::map<int64_t, Store::FinalChoice> Store::final_submissions(int64_t phase_id,
                                                               const std::string& track) {
  std::lock_guard lock(mu_);
  std::map<int64_t, FinalChoice> out;
  for (const auto& r : q("SELECT s.team_id, MAX(s.id) FROM submissions s WHERE s.phase_id=? AND "
                         "s.track=? AND s.state='scored' AND s.team_id IS NOT NULL GROUP BY s.team_id",
                         {phase_id, track}))
    out[r.i(0)] = {r.i(1), false};
  for (const auto& r : q("SELECT f.team_id, f.submission_id FROM final_selections f JOIN "
                         "submissions s ON s.id = f.submission_id WHERE f.phase_id=? AND f.track=? "
                         "AND s.state='scored'",
                         {phase_id, track}))
    out[r.i(0)] = {r.i(1), true};
  return out;
}

}  // namespace rb::challenge
