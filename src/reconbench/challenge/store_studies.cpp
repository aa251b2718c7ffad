// Store: reader studies -- the finalists of a closed phase, per-reader seeded case order and
// candidate positions, responses and progress (declared in store.hpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/store.hpp"
#include "reconbench/challenge/store_util.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/eval/stats.hpp"

namespace rb::challenge {

using store_util::num;
using store_util::or_nan;

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

bool Store::has_study(int64_t id) {
  std::lock_guard lock(mu_);
  return !q("SELECT 1 FROM studies WHERE id=?", {id}).empty();
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

}  // namespace rb::challenge
