#include "reconbench/challenge/service.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "reconbench/challenge/reader.hpp"
#include "reconbench/challenge/scoring.hpp"
#include "reconbench/challenge/validate.hpp"
#include "reconbench/core/error.hpp"

namespace rb::challenge {

namespace fs = std::filesystem;

std::string default_db_url(const fs::path& data) {
  return "sqlite:" + (fs::absolute(data).lexically_normal().parent_path() / "challenge.db").string();
}

fs::path default_blob_dir(const std::string& db_url) {
  RB_CHECK(!is_postgres_url(db_url), "--blobs DIR is required with a PostgreSQL database (a "
           "directory that the server and every worker can read)");
  return fs::path(sqlite_file(db_url)).parent_path() / "blobs";
}

Service::Service(const ServiceOptions& opts, Store::Clock clock)
    : opts_(opts),
      manifest_(load_manifest(opts.data)),
      store_(std::make_unique<Store>(open_database(opts.db.empty() ? default_db_url(opts.data) : opts.db),
                                     std::move(clock))),
      blobs_(opts.blobs.empty() ? default_blob_dir(opts.db.empty() ? default_db_url(opts.data) : opts.db)
                                : opts.blobs) {
  store_->init();
}

std::map<std::string, fs::path> Service::submission_files(const SubmissionRow& s) {
  std::map<std::string, fs::path> out;
  for (const auto& [name, sha] : s.files) out[name] = blobs_.canonical_path(sha);
  return out;
}

std::map<std::string, fs::path> Service::upload_files(const SubmissionRow& s) {
  std::map<std::string, fs::path> out;
  for (const auto& [name, sha] : s.files) out[name] = blobs_.path(sha);
  return out;
}

IsolatedValidation Service::validate_and_canonicalise(const SubmissionRow& s) {
  const auto files = upload_files(s);
  for (const auto& [name, path] : files)
    RB_CHECK(fs::exists(path), "blob of ", name, " is missing from the blob store");
  const Track& track = find_track(s.track);
  SandboxLimits limits = opts_.validator_limits;
  limits.file_bytes = std::max(limits.file_bytes, canonical_file_bytes(manifest_, s.phase, track));
  const fs::path staging = blobs_.canonical_staging();
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{staging};
  auto iv = validate_isolated(validator_command(), opts_.data, files, s.phase, track, limits, staging);
  if (iv.outcome != IsolatedValidation::Outcome::report || !iv.report.ok()) return iv;
  for (const auto& [name, sha] : s.files) {
    if (!fs::is_regular_file(staging / name)) {
      iv.outcome = IsolatedValidation::Outcome::platform;
      iv.reason = "the validator wrote no canonical copy of " + name;
      return iv;
    }
    blobs_.adopt_canonical(staging / name, sha);
  }
  return iv;
}

void Service::ensure_canonical(const SubmissionRow& s) {
  bool all = true;
  for (const auto& [name, sha] : s.files) all = all && blobs_.has_canonical(sha);
  if (all) return;
  const auto iv = validate_and_canonicalise(s);
  RB_CHECK(iv.outcome == IsolatedValidation::Outcome::report,
           "cannot make the canonical copies of submission ", s.id, ": ", iv.reason);
  RB_CHECK(iv.report.ok(), "submission ", s.id, " no longer validates: ", to_text(iv.report));
}

fs::path Service::canonical_file(const SubmissionRow& s, const std::string& name) {
  for (const auto& [n, sha] : s.files) {
    if (n != name) continue;
    if (!blobs_.has_canonical(sha)) ensure_canonical(s);
    return blobs_.canonical_path(sha);
  }
  throw UserError("submission " + std::to_string(s.id) + " has no file " + name);
}

nlohmann::json Service::quota_json(int64_t team_id, const std::string& phase,
                                   const std::string& track) {
  const auto ph = store_->phase(phase);
  const auto q = store_->quota(team_id, ph.id, track);
  const auto l = store_->limits();
  return {{"phase", phase},           {"track", track},
          {"remaining", q.remaining}, {"used_24h", q.used_day},
          {"used_total", q.used_total}, {"attempts_24h", q.attempts_day},
          {"attempts_left", q.attempts_left}, {"per_day", l.per_day},
          {"total", l.total},         {"attempts_per_day", l.attempts_per_day},
          {"next_reset", q.next_reset > 0 ? nlohmann::json(q.next_reset) : nlohmann::json()}};
}

namespace {

// Keeps a lease alive from a helper thread (heartbeat every lease/3) until finish().
class LeaseKeeper {
 public:
  LeaseKeeper(double lease_s, std::function<bool()> beat, const std::atomic<bool>* stop)
      : thread_([this, lease_s, beat = std::move(beat), stop] {
          std::unique_lock lock(mu_);
          while (!done_) {
            if (cv_.wait_for(lock, std::chrono::duration<double>(lease_s / 3.0), [&] { return done_; }))
              break;
            if (stop && stop->load()) continue;  // stopping: let the lease lapse
            try {
              if (!beat()) lost_ = true;
            } catch (...) {
            }
          }
        }) {}
  ~LeaseKeeper() { finish(); }
  void finish() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::atomic<bool> lost_{false};
  std::thread thread_;
};

}  // namespace

std::vector<std::string> Service::validator_command() const {
  if (!opts_.validator.empty()) return opts_.validator;
  if (const char* v = std::getenv("RECONBENCH_VALIDATOR"); v && *v) return {v, "validate-child"};
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && self.filename() == "reconbench") return {"/proc/self/exe", "validate-child"};
  return {};
}

nlohmann::json Service::submission_view(int64_t id) {
  auto s = store_->submission(id);
  RB_ASSERT(s.has_value());
  nlohmann::json out = {{"id", id}, {"state", s->state}, {"validation", s->validation}};
  if (s->state == "failed") out["failure"] = {{"kind", s->failure_kind}, {"reason", s->failure_reason}};
  if (s->state == "validating") out["validation_position"] = store_->validation_position(id);
  if (s->state == "queued" || s->state == "evaluating") out["queue_position"] = store_->queue_position(id);
  if (s->state == "evaluating")
    if (const auto p = store_->job_progress(id)) out["progress"] = {{"volumes_scored", p->first}, {"volumes", p->second}};
  if (s->team_id > 0) out["quota"] = quota_json(s->team_id, s->phase, s->track);
  return out;
}

nlohmann::json Service::submit(int64_t id) {
  store_->request_validation(id);
  return submission_view(id);
}

nlohmann::json Service::process_submission(int64_t id) {
  store_->request_validation(id);
  const std::string worker = "inline-" + std::to_string(::getpid());
  // A job another validator holds is finished by it; wait for that (bounded by its lease).
  for (int k = 0; k < 100000 && store_->submission(id)->state == "validating"; ++k)
    if (validate_one(worker, 30, nullptr, id) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return submission_view(id);
}

int64_t Service::validate_one(const std::string& worker, double lease_s,
                              const std::atomic<bool>* stop, int64_t submission_id) {
  auto job = store_->claim_validation(worker, lease_s, submission_id);
  if (!job) return 0;
  LeaseKeeper keeper(lease_s, [&] { return store_->heartbeat_validation(job->id, worker, lease_s); }, stop);
  try {
    auto s = store_->submission(job->submission_id);
    RB_ASSERT(s.has_value());
    const auto iv = validate_and_canonicalise(*s);
    keeper.finish();
    if (iv.outcome == IsolatedValidation::Outcome::platform) {
      std::fprintf(stderr, "validator %s: submission %lld: %s\n", worker.c_str(),
                   static_cast<long long>(s->id), iv.reason.c_str());
      store_->fail_validation_job(job->id, worker, iv.reason, /*retryable=*/true);
      return job->id;
    }
    auto rj = to_json(iv.report);
    rj["seconds"] = iv.seconds;
    rj["confinement"] = iv.confinement;
    const std::string reason = std::to_string(iv.report.errors.size()) +
                               " validation error(s); this attempt does not count against your quota";
    if (store_->finish_validation(job->id, worker, rj, iv.report.ok(), reason, current_spec_hash()).empty())
      std::fprintf(stderr, "validator %s: lease of validation job %lld was lost; result discarded\n",
                   worker.c_str(), static_cast<long long>(job->id));
  } catch (const std::exception& e) {
    keeper.finish();
    store_->fail_validation_job(job->id, worker, e.what(), /*retryable=*/true);
  }
  return job->id;
}

int64_t Service::validation_loop(const std::string& worker, double lease_s, double poll_s,
                                 const std::atomic<bool>& stop) {
  int64_t n = 0;
  while (!stop.load()) {
    int64_t id = 0;
    try {
      id = validate_one(worker, lease_s, &stop);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "validator %s: %s\n", worker.c_str(), e.what());
    }
    if (id > 0) {
      ++n;
      continue;
    }
    for (double t = 0; t < poll_s && !stop.load(); t += 0.05)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return n;
}

int64_t Service::work_one(const std::string& worker, double lease_s, const std::atomic<bool>* stop) {
  auto job = store_->claim(worker, lease_s);
  if (!job) return 0;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::atomic<bool> lost{false};
  std::thread hb([&] {
    std::unique_lock lock(mu);
    while (!done) {
      if (cv.wait_for(lock, std::chrono::duration<double>(lease_s / 3.0), [&] { return done; })) break;
      if (stop && stop->load()) continue;  // stopping: let the lease lapse
      try {
        if (!store_->heartbeat(job->id, worker, lease_s)) lost = true;
      } catch (...) {
      }
    }
  });
  auto finish_hb = [&] {
    {
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_all();
    hb.join();
  };
  try {
    auto s = store_->submission(job->submission_id);
    RB_ASSERT(s.has_value());
    if (const char* delay = std::getenv("RECONBENCH_TEST_SCORE_DELAY"))  // fault-injection tests
      std::this_thread::sleep_for(std::chrono::duration<double>(std::atof(delay)));
    if (stop && stop->load()) {
      finish_hb();
      return job->id;
    }
    ensure_canonical(*s);
    // Progress for the team's view, written at most once a second (and for the first volume).
    auto last = std::chrono::steady_clock::time_point{};
    auto progress = [&](int64_t done, int64_t total) {
      const auto t = std::chrono::steady_clock::now();
      if (done < total && t - last < std::chrono::seconds(1)) return;
      last = t;
      store_->set_job_progress(job->id, worker, done, total);
    };
    auto r = score_submission(submission_files(*s), manifest_, s->phase, find_track(s->track), progress);
    finish_hb();
    // The row carries the spec actually computed (a job queued by an older build is scored
    // with the current spec and labelled so).
    ScoreRow row{r.ssim, r.ssim_masked, r.psnr, r.nmse, r.spec_hash, r.evaluator,
                 r.manifest_hash, r.summary, r.volumes};
    if (!store_->complete(job->id, worker, row))
      std::fprintf(stderr, "worker %s: lease of job %lld was lost; result discarded\n",
                   worker.c_str(), static_cast<long long>(job->id));
  } catch (const std::exception& e) {
    if (hb.joinable()) finish_hb();
    store_->fail_job(job->id, worker, e.what(), /*retryable=*/true);
  }
  return job->id;
}

int64_t Service::work_loop(const std::string& worker, double lease_s, double poll_s,
                           const std::atomic<bool>& stop, bool exit_when_idle) {
  int64_t n = 0;
  while (!stop.load()) {
    int64_t id = 0, validated = 0;
    try {
      validated = validate_one(worker, lease_s, &stop);
      id = work_one(worker, lease_s, &stop);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "worker %s: %s\n", worker.c_str(), e.what());
    }
    if (id > 0) ++n;
    if (id > 0 || validated > 0) continue;
    if (exit_when_idle) break;
    for (double t = 0; t < poll_s && !stop.load(); t += 0.05)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return n;
}

int64_t Service::rescore_all() {
  const std::string spec = current_spec_hash();
  int64_t added = 0;
  for (const auto& s : store_->submissions(0, 1000000)) {
    if (s.state != "scored") continue;
    auto sc = store_->score(s.id, spec);
    if (sc && sc->spec_hash == spec) continue;
    const auto before = store_->queue_stats();
    store_->enqueue(s.id, spec);
    if (store_->queue_stats()["queued"] != before["queued"]) ++added;
  }
  return added;
}

// Incomplete: a study of `phase` with no reader yet or a reader short of its cases.
nlohmann::json Service::publish_results(const std::string& phase, bool force) {
  nlohmann::json open = nlohmann::json::array();
  for (const auto& s : store_->studies()) {
    if (s["phase"] != phase) continue;
    const auto progress = store_->reader_progress(s["id"].get<int64_t>());
    bool done = !progress.empty();
    for (const auto& r : progress) done = done && r["complete"] == r["cases"];
    if (!done) open.push_back({{"study", s["id"]}, {"track", s["track"]}, {"progress", progress}});
  }
  if (!open.empty() && !force) return open;
  store_->publish_phase(phase);
  return nlohmann::json::array();
}

nlohmann::json Service::close_phase(const std::string& phase) {
  store_->close_phase(phase);
  nlohmann::json out = {{"phase", phase}, {"closed", true}, {"studies", nlohmann::json::array()}};
  if (phase != "challenge") return out;
  for (const auto& track : all_tracks()) {
    const auto cases = study_cases(track_files(manifest_, phase, track), opts_.study_cases);
    if (cases.empty()) continue;
    const int64_t id = store_->create_study(phase, track.name, current_spec_hash(), cases, opts_.finalists);
    if (id > 0) out["studies"].push_back({{"id", id}, {"track", track.name}, {"cases", cases.size()}});
  }
  return out;
}

nlohmann::json Service::study_results(int64_t study_id) {
  auto study = store_->study(study_id);
  auto responses = store_->study_responses(study_id);
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& r : responses) {
    const int64_t reader = r["reader_id"].get<int64_t>();
    const int64_t c = r["case"].get<int64_t>();
    auto pos = store_->reader_positions(study_id, reader, c);
    slots.push_back({{"reader_id", reader}, {"case", c}, {"slots", response_to_slots(r["response"], pos)}});
  }
  auto res = reader_results(study, slots);
  res["responses"] = responses.size();
  return res;
}

}  // namespace rb::challenge
