#include "reconbench/challenge/reader.hpp"

#include <cmath>
#include <map>
#include <set>

#include "reconbench/core/error.hpp"
#include "reconbench/eval/stats.hpp"

namespace rb::challenge {

std::string letter(int64_t k) { return std::string(1, static_cast<char>('A' + k)); }

bool check_reader_response(const nlohmann::json& r, int64_t n) {
  RB_CHECK(r.is_object(), "response must be a JSON object");
  bool complete = true;
  std::set<int64_t> ranks;
  if (r.contains("rank")) {
    RB_CHECK(r["rank"].is_object(), "'rank' must be an object {letter: rank}");
    for (auto it = r["rank"].begin(); it != r["rank"].end(); ++it) {
      RB_CHECK(it.key().size() == 1 && it.key()[0] >= 'A' && it.key()[0] < 'A' + n,
               "rank: unknown candidate '", it.key(), "'");
      if (it.value().is_null()) continue;
      RB_CHECK(it.value().is_number_integer(), "rank of ", it.key(), " must be an integer");
      const int64_t v = it.value().get<int64_t>();
      RB_CHECK(v >= 1 && v <= n, "rank of ", it.key(), " must be in 1..", n);
      ranks.insert(v);
    }
  }
  for (int64_t k = 0; k < n; ++k)
    if (!r.contains("rank") || !r["rank"].contains(letter(k)) || r["rank"][letter(k)].is_null())
      complete = false;
  if (complete && static_cast<int64_t>(ranks.size()) != n) complete = false;  // not a permutation
  if (r.contains("likert")) {
    RB_CHECK(r["likert"].is_object(), "'likert' must be an object {letter: {item: score}}");
    for (auto it = r["likert"].begin(); it != r["likert"].end(); ++it) {
      RB_CHECK(it.key().size() == 1 && it.key()[0] >= 'A' && it.key()[0] < 'A' + n,
               "likert: unknown candidate '", it.key(), "'");
      RB_CHECK(it.value().is_object(), "likert of ", it.key(), " must be an object");
      for (auto jt = it.value().begin(); jt != it.value().end(); ++jt) {
        bool known = false;
        for (const auto& item : kLikertItems) known = known || item == jt.key();
        RB_CHECK(known, "likert: unknown item '", jt.key(), "' (artifacts, sharpness, cnr)");
        if (jt.value().is_null()) continue;
        RB_CHECK(jt.value().is_number_integer(), "likert ", jt.key(), " must be an integer");
        const int64_t v = jt.value().get<int64_t>();
        RB_CHECK(v >= 1 && v <= 4, "likert ", jt.key(), " of ", it.key(), " must be in 1..4");
      }
    }
  }
  for (int64_t k = 0; k < n && complete; ++k)
    for (const auto& item : kLikertItems)
      if (!r.contains("likert") || !r["likert"].contains(letter(k)) ||
          !r["likert"][letter(k)].contains(item) || r["likert"][letter(k)][item].is_null())
        complete = false;
  if (r.contains("comment"))
    RB_CHECK(r["comment"].is_string() && r["comment"].get<std::string>().size() <= 2000,
             "comment must be a string of at most 2000 characters");
  return complete;
}

nlohmann::json response_to_slots(const nlohmann::json& r, const std::vector<int64_t>& pos) {
  const size_t n = pos.size();
  nlohmann::json rank = nlohmann::json::array(), likert = nlohmann::json::array();
  for (size_t s = 0; s < n; ++s) {
    rank.push_back(nullptr);
    likert.push_back({nullptr, nullptr, nullptr});
  }
  for (size_t k = 0; k < n; ++k) {
    const size_t slot = static_cast<size_t>(pos[k]);
    const std::string L = letter(static_cast<int64_t>(k));
    if (r.contains("rank") && r["rank"].contains(L)) rank[slot] = r["rank"][L];
    if (r.contains("likert") && r["likert"].contains(L))
      for (size_t i = 0; i < kLikertItems.size(); ++i)
        if (r["likert"][L].contains(kLikertItems[i])) likert[slot][i] = r["likert"][L][kLikertItems[i]];
  }
  return {{"rank", rank}, {"likert", likert}};
}

namespace {
nlohmann::json mean_sd_json(const std::vector<double>& v) {
  const auto m = eval::mean_sd(v);
  auto f = [](double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); };
  return {{"n", m.n}, {"mean", f(m.mean)}, {"sd", f(m.sd)}};
}
}  // namespace

nlohmann::json reader_results(const nlohmann::json& study, const nlohmann::json& responses) {
  const auto& cands = study["candidates"];
  const size_t n = cands.size();
  const size_t n_cases = study["cases"].size();
  std::vector<std::vector<double>> ranks(n);
  std::vector<std::vector<std::vector<double>>> likert(n, std::vector<std::vector<double>>(kLikertItems.size()));
  std::vector<std::vector<std::vector<double>>> per_case(n_cases);  // [case][reader][slot]
  std::set<int64_t> readers;
  for (const auto& r : responses) {
    const auto& s = r["slots"];
    const size_t c = r["case"].get<size_t>();
    readers.insert(r["reader_id"].get<int64_t>());
    std::vector<double> row(n);
    for (size_t k = 0; k < n; ++k) {
      row[k] = s["rank"][k].get<double>();
      ranks[k].push_back(row[k]);
      for (size_t i = 0; i < kLikertItems.size(); ++i)
        likert[k][i].push_back(s["likert"][k][i].get<double>());
    }
    if (c < n_cases) per_case[c].push_back(row);
  }
  nlohmann::json teams = nlohmann::json::array();
  for (size_t k = 0; k < n; ++k) {
    nlohmann::json t = {{"team", cands[k]["team"]}, {"slot", k}, {"ssim", cands[k]["ssim"]},
                        {"rank", mean_sd_json(ranks[k])}};
    for (size_t i = 0; i < kLikertItems.size(); ++i) t[kLikertItems[i]] = mean_sd_json(likert[k][i]);
    teams.push_back(t);
  }
  std::vector<std::vector<std::vector<double>>> cases_with_reads;
  nlohmann::json case_rows = nlohmann::json::array();
  for (size_t c = 0; c < n_cases; ++c) {
    nlohmann::json mean_rank = nlohmann::json::array();
    for (size_t k = 0; k < n; ++k) {
      std::vector<double> v;
      for (const auto& row : per_case[c]) v.push_back(row[k]);
      mean_rank.push_back(v.empty() ? nlohmann::json() : nlohmann::json(eval::mean(v)));
    }
    nlohmann::json cj = {{"case", c}, {"volume", study["cases"][c]["volume"]},
                         {"reads", per_case[c].size()}, {"mean_rank", mean_rank}};
    if (!per_case[c].empty()) {
      const auto w = eval::kendall_w(per_case[c]);
      cj["kendall_w_t"] = w.defined ? nlohmann::json(w.w_t) : nlohmann::json();
      cj["chi2"] = w.defined ? nlohmann::json(w.chi2) : nlohmann::json();
      cj["p_value"] = w.defined ? nlohmann::json(w.p_value) : nlohmann::json();
      cases_with_reads.push_back(per_case[c]);
    }
    case_rows.push_back(cj);
  }
  nlohmann::json agreement = {{"method", "Kendall's W with tie correction per case, averaged over cases"},
                              {"defined_cases", 0}, {"mean_w_t", nullptr}};
  if (!cases_with_reads.empty()) {
    const auto ks = eval::kendall_w_over_cases(cases_with_reads);
    agreement["defined_cases"] = ks.defined_cases;
    if (ks.defined_cases > 0) {
      agreement["mean_w_t"] = ks.mean_w_t;
      agreement["median_w_t"] = ks.median_w_t;
    }
  }
  return {{"study", study["id"]},         {"phase", study["phase"]},
          {"track", study["track"]},       {"readers", readers.size()},
          {"reads", responses.size()},     {"teams", teams},
          {"cases", case_rows},            {"agreement", agreement},
          {"scales", "rank 1 = best; Likert 1 = best, 4 = worst, 3 affects diagnosis"}};
}

}  // namespace rb::challenge
