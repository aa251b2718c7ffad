// The challenge as a service over Store + Manifest + BlobStore: the submission pipeline
// (validation before quota), the evaluation worker (lease, heartbeat, score, complete) and
// the two-stage close (phase closed -> top 3 per track form a reader study). The HTTP server,
// `reconbench worker`, `rescore` and `challenge` all go through this class, so the CLI and
// the server apply the same rules.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/blobs.hpp"
#include "reconbench/challenge/sandbox.hpp"
#include "reconbench/challenge/store.hpp"
#include "reconbench/challenge/tracks.hpp"

namespace rb::challenge {

struct ServiceOptions {
  std::filesystem::path data;   // DATA (manifest.json, inputs, ground_truth/)
  std::string db = "";          // sqlite:PATH (default DATA/../challenge.db)
  std::filesystem::path blobs;  // default <db dir>/blobs
  int64_t study_cases = 6;      // cases per reader study (paper: 6 per track)
  int64_t finalists = 3;        // top N teams by SSIM per track
  // The sandboxed validator (sandbox.hpp): a command speaking the validator-child protocol.
  // Empty: "$RECONBENCH_VALIDATOR validate-child" if that is set, else "/proc/self/exe
  // validate-child" when this process is the reconbench binary; in any other program
  // validation then fails as a platform error (no unsandboxed fallback).
  std::vector<std::string> validator = {};
  SandboxLimits validator_limits = {};
};

class Service {
 public:
  explicit Service(const ServiceOptions& opts, Store::Clock clock = {});
  Store& store() { return *store_; }
  const Manifest& manifest() const { return manifest_; }
  BlobStore& blobs() { return blobs_; }
  const ServiceOptions& options() const { return opts_; }

  // Submission name -> canonical copy (BlobStore::canonical_path) of a stored submission's
  // files: what scoring, slice images and exports read. A copy may be missing (a submission
  // validated before canonical copies existed, a restored blob store): ensure_canonical.
  std::map<std::string, std::filesystem::path> submission_files(const SubmissionRow& s);
  // Submission name -> the uploaded bytes: read only by the sandboxed validator.
  std::map<std::string, std::filesystem::path> upload_files(const SubmissionRow& s);
  // Makes the missing canonical copies of a validated submission by running the sandboxed
  // validator on its uploads again; UserError if they no longer validate.
  void ensure_canonical(const SubmissionRow& s);
  // The canonical copy of s's file `name` (ensure_canonical first); UserError if s has no
  // such file.
  std::filesystem::path canonical_file(const SubmissionRow& s, const std::string& name);

  // uploaded -> validating, returning at once: the validation job is queued and a validator
  // (validate_one: the server's validator threads, or a worker) runs it later. Returns the
  // submission's JSON view (submission_view).
  nlohmann::json submit(int64_t submission_id);
  // The same, validated here and now (CLI baselines, tests): uploaded -> validating ->
  // (failed: validation | failed: duplicate | failed: quota | failed: platform | queued).
  // Counts quota unless the submission is an organiser baseline.
  nlohmann::json process_submission(int64_t submission_id);
  // id, state, validation report, failure, validation/queue position, quota.
  nlohmann::json submission_view(int64_t submission_id);

  // One validation job, if any is queued (only submission_id's when > 0): lease, heartbeat,
  // run the validator in a sandboxed child process (sandbox.hpp), finish. A crash, hang or
  // memory blow-up of the child fails the submission's validation; a validator that cannot
  // run is a platform error (retried, then failed; never costs quota). Returns the job id
  // (0 if none was queued).
  int64_t validate_one(const std::string& worker, double lease_s,
                       const std::atomic<bool>* stop = nullptr, int64_t submission_id = 0);
  // Loop validate_one until stop is set.
  int64_t validation_loop(const std::string& worker, double lease_s, double poll_s,
                          const std::atomic<bool>& stop);
  // The validator command in effect (see ServiceOptions::validator); empty if none.
  std::vector<std::string> validator_command() const;

  // Quota of a team in a phase/track, as JSON (remaining, limits, next reset).
  nlohmann::json quota_json(int64_t team_id, const std::string& phase, const std::string& track);

  // One evaluation job, if any is queued: claim with a lease, heartbeat from a helper thread
  // every lease/3 while scoring, complete. Returns the job id (0 if the queue was empty).
  // `stop` aborts between steps (the job then stays leased until its lease expires).
  int64_t work_one(const std::string& worker, double lease_s,
                   const std::atomic<bool>* stop = nullptr);
  // Loop validate_one + work_one until stop is set (or, when exit_when_idle, until both
  // queues are empty).
  int64_t work_loop(const std::string& worker, double lease_s, double poll_s,
                    const std::atomic<bool>& stop, bool exit_when_idle = false);

  // Adds a job with the current metric spec for every scored submission that has no score
  // for it (old score rows are kept). Returns the number of jobs added.
  int64_t rescore_all();

  // Close a phase; for the challenge phase create the reader studies (top `finalists` per
  // track by SSIM; cases: study_cases() of the track's volumes).
  nlohmann::json close_phase(const std::string& phase);

  // Make the final results of a closed phase public. Published scores unblind a reader study
  // (a reader could match candidates to teams by their SSIM), so while a study of the phase is
  // incomplete nothing is published unless `force`: returns those studies ({study, track,
  // progress}); an empty array when the results were published.
  nlohmann::json publish_results(const std::string& phase, bool force = false);

  // --- front ends' submission paths (service_submit.cpp): `reconbench challenge`, the demo

  // A participant account (random password; API tokens via `challenge token`) with its team.
  struct TeamAccount {
    int64_t user_id = 0, team_id = 0;
  };
  TeamAccount add_team(const std::string& username, const std::string& team);
  // The first organiser account (created as "admin" if there is none).
  int64_t organiser_id();

  // The .h5 files of `dir` (names = submission file names) as one submission of `user_id`
  // for team `team_id`, or, with team_id 0 and a `baseline` label, an organiser's pinned
  // baseline row: stored in the blob store and validated here and now
  // (process_submission). Returns submission_view.
  nlohmann::json submit_directory(const std::string& phase, const std::string& track,
                                  int64_t team_id, int64_t user_id,
                                  const std::filesystem::path& dir,
                                  const std::string& description,
                                  const std::string& baseline = "");

  // The leaderboard of a phase and track under the current metric spec, without the
  // participant visibility rules (organiser view; Store::leaderboard).
  nlohmann::json leaderboard(const std::string& phase, const std::string& track);

  // One reader's read of one case in candidate-slot terms (slot k = the study's k-th
  // finalist): rank[k] (1 = best) and likert[item][k] (1..4).
  struct SlotRead {
    std::vector<int64_t> rank;
    std::map<std::string, std::vector<int64_t>> likert;
  };
  // Stores `reads` (one per case, in case order) as reader `reader` (a reader account,
  // created if missing), each translated to the blinded letters this reader is shown
  // (Store::reader_positions), as the web reading UI saves them.
  void save_reads(int64_t study_id, const std::string& reader, const std::vector<SlotRead>& reads,
                  const std::string& comment);

  // Reader-study results with letters mapped back to teams (organisers only).
  nlohmann::json study_results(int64_t study_id);

 private:
  ServiceOptions opts_;
  Manifest manifest_;
  std::unique_ptr<Store> store_;
  BlobStore blobs_;

  // The sandboxed validator on s's uploads, writing canonical copies that are moved into the
  // blob store when the report is ok (staging removed either way).
  IsolatedValidation validate_and_canonicalise(const SubmissionRow& s);
};

// The reader-study case policy (paper: 6 cases per track, 2 each of T1POST, T2, FLAIR): the
// track's volumes with the most lesions first, contrasts interleaved (at most
// ceil(want / 3) per contrast before any contrast gets more), each shown at the slice through
// its first lesion (the middle slice without one). Used by close_phase and the demo.
std::vector<Store::StudyCase> study_cases(std::vector<ManifestFile> files, int64_t want);

// Default database/blob locations for a data directory.
std::string default_db_url(const std::filesystem::path& data);
std::filesystem::path default_blob_dir(const std::string& db_url);

}  // namespace rb::challenge
