// The challenge's persistent state over a Database (SQLite by default): users and roles,
// scoped API tokens (sha256 of the secret at rest, constant-time compare, revocable), one
// challenge with its phases, teams (one user, one team per challenge), resumable uploads,
// submissions and their state machine, per-team quotas, the evaluation job queue with leases,
// versioned score rows, and reader studies.
//
// Submission states (design §4.1):
//   uploaded -> validating -> queued -> evaluating -> scored
//                          \-> failed (validation: costs no quota)
//                                        evaluating -> failed (platform: costs no quota)
// Quota: a submission counts once it is queued (validated) and stops counting if it fails
// for platform reasons; per team, track and phase, at most `per_day` in any rolling 24 h and
// `total` overall. Every attempt (valid or not) counts towards `attempts_per_day`.
//
// Job queue: claim() takes the oldest queued job (after requeueing jobs whose lease expired)
// and leases it to one worker for `lease_s`; heartbeat() extends the lease; complete()
// stores the score only if the caller still holds the lease, in the same transaction that
// marks the job done, so each job is scored exactly once even when a worker that lost its
// lease finishes late. A job that fails `max_attempts` times is failed as a platform error.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/database.hpp"

namespace rb::challenge {

// 2: tokens.expires_at, phases.published_at, challenges.max_team_bytes (issue 15).
inline constexpr int kSchemaVersion = 3;

struct User {
  int64_t id = 0;
  std::string username, role;  // role: "organiser" | "participant" | "reader"
};

struct Auth {
  User user;
  int64_t token_id = 0;
  std::string scope;  // "all" | "submit" | "read"
  bool can_write() const { return scope == "all" || scope == "submit"; }
  bool organiser() const { return user.role == "organiser" && scope == "all"; }
};

struct Team {
  int64_t id = 0;
  std::string name;
};

struct Phase {
  int64_t id = 0;
  std::string name;
  double opens_at = 0, closes_at = 0;  // 0 = unbounded
  double closed_at = 0;                // 0 = open
  bool scores_hidden = false;
  // Challenge phase: its scores stay hidden from everyone but organisers after close, while
  // the reader study runs, until an organiser publishes the final results (issue 15).
  double published_at = 0;
  bool closed() const { return closed_at > 0; }
  bool published() const { return published_at > 0; }
  // Scores (leaderboard, submission scores, per-volume drill-down) for non-organisers.
  bool scores_public() const { return !scores_hidden || published(); }
};

struct Limits {
  int64_t per_day = 5;            // counted submissions per team/track/phase in 24 h
  int64_t total = 0;              // 0 = unlimited
  int64_t attempts_per_day = 20;  // every attempt, including invalid ones
  int64_t max_file_bytes = int64_t(2) << 30;  // one uploaded file
  // Bytes a team may keep in the blob store (its members' blobs + open uploads; 0 = no cap).
  int64_t max_team_bytes = int64_t(50) << 30;
};

struct Quota {
  int64_t used_day = 0, used_total = 0, attempts_day = 0;
  int64_t remaining = 0;       // submissions that may still count now
  int64_t attempts_left = 0;
  double next_reset = 0;       // when the oldest counted submission of the window leaves it
};

struct Upload {
  int64_t id = 0, user_id = 0, size = 0, received = 0;
  std::string filename, sha256, state;  // state: "open" | "complete"
};

struct SubmissionRow {
  int64_t id = 0, phase_id = 0, team_id = 0, user_id = 0;
  std::string phase, track, team, baseline, state, failure_kind, failure_reason, description;
  double created_at = 0, updated_at = 0;
  bool counted = false;
  std::vector<std::pair<std::string, std::string>> files;  // name, sha256
  nlohmann::json validation;
};

struct Job {
  int64_t id = 0, submission_id = 0, attempts = 0;
  std::string spec_hash;
};

struct ScoreRow {
  double ssim = 0, ssim_masked = 0, psnr = 0, nmse = 0;
  std::string spec_hash, evaluator, manifest_hash;
  nlohmann::json summary, volumes;
};

class Store {
 public:
  using Clock = std::function<double()>;
  explicit Store(std::unique_ptr<Database> db, Clock clock = {});
  Database& db() { return *db_; }
  double now() const { return clock_(); }

  // Creates or migrates the schema; the challenge row and its phases (idempotent).
  void init(const std::string& challenge_name = "fastmri-2020");
  int64_t challenge_id() const { return challenge_id_; }

  // --- users and tokens
  User create_user(const std::string& username, const std::string& password,
                   const std::string& role);
  std::optional<User> user_by_name(const std::string& username);
  std::optional<User> user_by_id(int64_t id);
  std::optional<User> login(const std::string& username, const std::string& password);
  int64_t count_users(const std::string& role);
  std::vector<User> users();
  // Returns the plaintext token "rbt_<id>_<secret>" (shown once). expires_at: a time of
  // now() after which the token is refused (0 = never).
  std::string create_token(int64_t user_id, const std::string& scope, const std::string& label,
                           double expires_at = 0);
  // The token's user and scope, unless unknown, revoked or expired.
  std::optional<Auth> authenticate(const std::string& token);
  // POST /api/register in one transaction: the participant, their team (if `team` is not
  // empty) and a token -- a refusal (name taken, team taken) leaves nothing behind.
  struct Registration {
    User user;
    std::optional<Team> team;
    std::string token;
  };
  Registration register_participant(const std::string& username, const std::string& password,
                                    const std::string& team, const std::string& token_label,
                                    double token_expires_at);
  // Revokes a token of `user_id` (any token when `any_owner`); false if none matched.
  bool revoke_token(int64_t token_id, int64_t user_id, bool any_owner);
  // id, scope, label, created_at, expires_at (null: never), revoked, expired.
  nlohmann::json list_tokens(int64_t user_id);

  // --- teams
  Team create_team(int64_t creator_user_id, const std::string& name);
  void add_team_member(int64_t team_id, int64_t user_id);
  std::optional<Team> team_of(int64_t user_id);
  std::optional<Team> team_by_id(int64_t team_id);
  nlohmann::json teams();

  // --- phases and limits
  std::vector<Phase> phases();
  Phase phase(const std::string& name);  // UserError if unknown
  void set_phase_window(const std::string& name, double opens_at, double closes_at);
  void close_phase(const std::string& name);  // idempotent
  // Final results of a closed phase become public (UserError if it is not closed; idempotent).
  void publish_phase(const std::string& name);
  Limits limits();
  void set_limits(const Limits& l);

  // --- uploads (resumable) and blobs
  Upload create_upload(int64_t user_id, const std::string& filename, int64_t size,
                       const std::string& sha256);
  std::optional<Upload> upload(int64_t id);
  void set_upload_received(int64_t id, int64_t received);
  void complete_upload(int64_t id, int64_t size);  // also records the blob and its owner
  void record_blob(const std::string& sha256, int64_t size, int64_t owner_user_id);
  // True if the blob was uploaded by `user_id` or a member of `team_id`.
  bool blob_owned(const std::string& sha256, int64_t user_id, int64_t team_id);
  // Bytes held for a team (team_id > 0) or a team-less user: the distinct blobs its members
  // uploaded plus the declared sizes of their open uploads (the per-team storage cap).
  int64_t storage_bytes(int64_t team_id, int64_t user_id);
  // Garbage collection (challenge/storage.hpp): blobs no submission references, recorded
  // before `before`; open uploads untouched since `before`; and the removal of either.
  std::vector<std::string> orphan_blobs(double before);
  std::vector<int64_t> stale_uploads(double before);
  void forget_blob(const std::string& sha256);
  void forget_upload(int64_t upload_id);
  bool blob_known(const std::string& sha256);

  // --- submissions
  Quota quota(int64_t team_id, int64_t phase_id, const std::string& track);
  // Records an attempt in state "uploaded" (team_id 0 for organiser baselines).
  int64_t create_submission(int64_t phase_id, const std::string& track, int64_t team_id,
                            int64_t user_id, const std::string& baseline,
                            const std::string& description,
                            const std::vector<std::pair<std::string, std::string>>& files);
  void set_state(int64_t submission_id, const std::string& state, const std::string& detail = "");
  void fail_submission(int64_t submission_id, const std::string& kind, const std::string& reason);
  void set_validation(int64_t submission_id, const nlohmann::json& report);
  // queued + counted + a job for spec_hash, atomically; false if the quota ran out meanwhile.
  bool queue_submission(int64_t submission_id, const std::string& spec_hash, bool count_quota);
  std::optional<SubmissionRow> submission(int64_t id);
  std::vector<SubmissionRow> submissions(int64_t team_id /* 0 = all */, int64_t limit = 200);
  nlohmann::json submission_events(int64_t id);
  // 1-based position among queued/leased jobs (0 if none pending).
  int64_t queue_position(int64_t submission_id);

  // --- validation queue: validation runs after the submit request has returned, in a
  // sandboxed child (sandbox.hpp), claimed with a lease like evaluation jobs so that a
  // validator that dies is retried. Validation before quota: only finish_validation of a
  // valid, non-duplicate submission counts it.
  // uploaded -> validating, plus a queued validation job (idempotent).
  void request_validation(int64_t submission_id);
  // Leases the oldest queued validation job (only submission_id's when > 0), after
  // requeueing validation jobs whose lease expired. Job::spec_hash is "validate".
  std::optional<Job> claim_validation(const std::string& worker, double lease_s,
                                      int64_t submission_id = 0);
  bool heartbeat_validation(int64_t job_id, const std::string& worker, double lease_s);
  // One transaction, only while `worker` holds the lease: stores the report, then
  //   invalid                          -> failed (validation), no quota
  //   identical to another queued/evaluating/scored submission of the team, phase and
  //   track                            -> failed (duplicate), no quota
  //   quota used up meanwhile          -> failed (quota)
  //   else                             -> queued, counted (unless a baseline), evaluation job
  // Returns the new state, or "" when the lease was lost.
  std::string finish_validation(int64_t job_id, const std::string& worker,
                                const nlohmann::json& report, bool valid,
                                const std::string& failure_reason, const std::string& spec_hash);
  // A platform fault (the validator could not run): retried until max_attempts, then the
  // submission fails with kind "platform" (no quota).
  void fail_validation_job(int64_t job_id, const std::string& worker, const std::string& reason,
                           bool retryable, int64_t max_attempts = 3);
  // 1-based position among pending validation jobs (0 if none).
  int64_t validation_position(int64_t submission_id);

  // --- duplicates and the final selection (design §4.4)
  // A submission of the team, phase and track, other than `exclude`, with exactly these
  // files (names and sha256), in state queued/evaluating/scored (and uploaded/validating
  // when include_validating); 0 if none.
  int64_t duplicate_of(int64_t team_id, int64_t phase_id, const std::string& track,
                       std::vector<std::pair<std::string, std::string>> files, int64_t exclude,
                       bool include_validating);
  // Submissions of other teams with exactly the same files, not failed (an organiser's signal).
  std::vector<int64_t> identical_elsewhere(int64_t submission_id);
  // Outliers for the organisers' view (design §4.4), by submission id: "ssim_at_least"
  // (its SSIM for spec_hash, when >= ssim_threshold: a reconstruction that is the ground
  // truth) and "shared_files" ([{file, submission, team}]: a file with the same sha256 in
  // another team's submission). Submissions without a flag are absent.
  std::map<int64_t, nlohmann::json> outlier_flags(const std::string& spec_hash, double ssim_threshold);
  // The team marks which of its scored challenge-phase submissions counts for the
  // leaderboard and the reader study (UserError: not scored, not the challenge phase, phase
  // closed). Frozen once the phase closes.
  void select_final(int64_t submission_id, int64_t team_id, int64_t user_id);
  struct FinalChoice {
    int64_t submission_id = 0;
    bool selected = false;  // chosen by the team (else: its latest scored submission)
  };
  // team -> the submission that counts in a phase/track.
  std::map<int64_t, FinalChoice> final_submissions(int64_t phase_id, const std::string& track);

  // --- jobs
  int64_t enqueue(int64_t submission_id, const std::string& spec_hash);  // idempotent
  std::optional<Job> claim(const std::string& worker, double lease_s);
  bool heartbeat(int64_t job_id, const std::string& worker, double lease_s);
  // Scoring progress of a leased job (volumes scored of the track's total), while `worker`
  // holds it; reset when the job is claimed again.
  bool set_job_progress(int64_t job_id, const std::string& worker, int64_t done, int64_t total);
  // {done, total} of the submission's leased job once its worker reported any; else none.
  std::optional<std::pair<int64_t, int64_t>> job_progress(int64_t submission_id);
  bool complete(int64_t job_id, const std::string& worker, const ScoreRow& score);
  // Retryable failures go back to the queue until max_attempts; otherwise the submission
  // fails with kind "platform" (no quota).
  void fail_job(int64_t job_id, const std::string& worker, const std::string& reason,
                bool retryable, int64_t max_attempts = 3);
  int64_t requeue_expired();
  nlohmann::json queue_stats();

  // --- scores
  // The score of a submission for spec_hash, else its newest score.
  std::optional<ScoreRow> score(int64_t submission_id, const std::string& spec_hash);
  int64_t count_scores(int64_t submission_id);
  int64_t score_version();  // changes when a score row is added, a phase closes or a team
                            // selects its final submission

  // Leaderboard of a phase and track: best-SSIM submission per team, ranked; baselines
  // pinned (unranked). Visibility rules are applied by the caller.
  // Submission descriptions are included only with `descriptions` (organisers): they are
  // private to the team otherwise (issue 15).
  nlohmann::json leaderboard(const std::string& phase, const std::string& track,
                             const std::string& spec_hash, bool descriptions = false);

  // --- reader studies (two-stage evaluation)
  struct StudyCase {
    std::string volume;
    int64_t slice = 0;
  };
  // Creates the study of a track (top `finalists` teams by SSIM); returns 0 if fewer than 2
  // teams have scores. Idempotent per (phase, track).
  int64_t create_study(const std::string& phase, const std::string& track,
                       const std::string& spec_hash, const std::vector<StudyCase>& cases,
                       int64_t finalists = 3);
  nlohmann::json studies();
  bool has_study(int64_t study_id);
  nlohmann::json study(int64_t study_id);  // with candidates (team names) and cases
  // The per-reader view: case order and A/B/C -> candidate slot, seeded per reader.
  std::vector<int64_t> reader_case_order(int64_t study_id, int64_t user_id);
  std::vector<int64_t> reader_positions(int64_t study_id, int64_t user_id, int64_t case_index);
  nlohmann::json reader_response(int64_t study_id, int64_t user_id, int64_t case_index);
  void save_reader_response(int64_t study_id, int64_t user_id, int64_t case_index,
                            const nlohmann::json& response, bool complete);
  nlohmann::json reader_progress(int64_t study_id);
  // All responses, one row per (reader, case), in candidate-slot terms.
  nlohmann::json study_responses(int64_t study_id);

  void audit(int64_t user_id, const std::string& action, const std::string& detail);

 private:
  std::vector<SqlRow> q(const std::string& sql, const std::vector<SqlValue>& p = {}) {
    return db_->query(sql, p);
  }
  void migrate(int from_version);
  // Inserts without a transaction of their own (the caller holds mu_ and one).
  User insert_user(const std::string& username, const std::string& password, const std::string& role);
  Team insert_team(int64_t creator, const std::string& name);
  SubmissionRow load_submission(const SqlRow& r);
  uint64_t study_seed(int64_t study_id);

  std::unique_ptr<Database> db_;
  Clock clock_;
  int64_t challenge_id_ = 0;
  std::recursive_mutex mu_;
};

}  // namespace rb::challenge
