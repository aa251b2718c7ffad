// Store: score rows, the leaderboard with its rank uncertainty, and the organisers' outlier
// flags (declared in store.hpp; tables scores, submissions in store.cpp's schema).
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "reconbench/challenge/crypto.hpp"
#include "reconbench/challenge/store.hpp"
#include "reconbench/challenge/store_util.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/eval/stats.hpp"

namespace rb::challenge {

using store_util::num;
using store_util::or_nan;

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

namespace {

// One leaderboard row from a submission joined with its score (columns of
// Store::leaderboard's query): the overall metrics with their intervals and the
// per-contrast and per-vendor means.
nlohmann::json leaderboard_entry(const SqlRow& r, const std::string& spec_hash) {
  nlohmann::json summary = nlohmann::json::parse(r.s(10));
  auto metric = [&](const char* m) {
    const auto& g = summary["all"][m];
    return nlohmann::json{{"mean", g.value("mean", nlohmann::json())},
                          {"n", g.value("n", nlohmann::json())},
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
  return {{"submission", r.i(0)},
          {"team", r.s(3).empty() ? r.s(2) : r.s(3)},
          {"submitted_at", r.d(4)},
          {"ssim", metric("ssim")},
          {"ssim_masked", metric("ssim_masked")},
          {"psnr", metric("psnr")},
          {"nmse", metric("nmse")},
          {"spec_hash", r.s(9)},
          {"current_spec", r.s(9) == spec_hash},
          {"by_contrast", sub("by_contrast")},
          {"by_vendor", sub("by_vendor")}};
}

}  // namespace

nlohmann::json Store::leaderboard(const std::string& phase_name, const std::string& track,
                                  const std::string& spec_hash, bool descriptions) {
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
    const double ssim = or_nan(r, 5);
    nlohmann::json e = leaderboard_entry(r, spec_hash);
    if (descriptions) e["description"] = r.s(11);
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
  const eval::BootstrapOptions bo;  // the one bootstrap rule (eval's B and seed)
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
          {"rank_uncertainty", "P(rank = 1): volume bootstrap (B = " + std::to_string(bo.resamples) +
                                   ", seed " + std::to_string(bo.seed) +
                                   "); tied with #1: paired bootstrap 95% CI of the SSIM difference "
                                   "to #1 includes 0"},
          {"entries", entries},
          {"baselines", base}};
}

// ---------------------------------------------------------------- outliers

std::map<int64_t, nlohmann::json> Store::outlier_flags(const std::string& spec_hash, double threshold) {
  std::lock_guard lock(mu_);
  std::map<int64_t, nlohmann::json> out;
  for (const auto& r : q("SELECT s.id, c.ssim FROM submissions s JOIN scores c ON c.id = (SELECT c2.id FROM "
                         "scores c2 WHERE c2.submission_id = s.id ORDER BY (c2.spec_hash = ?) DESC, c2.id DESC "
                         "LIMIT 1) WHERE c.ssim >= ? ORDER BY s.id",
                         {spec_hash, threshold}))
    out[r.i(0)]["ssim_at_least"] = threshold;
  // A file whose bytes another team also submitted (baselines excluded).
  for (const auto& r : q("SELECT a.submission_id, a.name, b.submission_id, t.name FROM submission_files a "
                         "JOIN submission_files b ON b.sha256 = a.sha256 AND b.submission_id != a.submission_id "
                         "JOIN submissions sa ON sa.id = a.submission_id JOIN submissions sb ON sb.id = b.submission_id "
                         "JOIN teams t ON t.id = sb.team_id WHERE sa.team_id != sb.team_id "
                         "ORDER BY a.submission_id, a.name, b.submission_id")) {
    auto& shared = out[r.i(0)]["shared_files"];
    if (shared.size() < 50) shared.push_back({{"file", r.s(1)}, {"submission", r.i(2)}, {"team", r.s(3)}});
  }
  return out;
}

}  // namespace rb::challenge
