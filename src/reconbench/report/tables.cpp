#include "reconbench/report/tables.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "reconbench/core/error.hpp"
#include "reconbench/eval/stats.hpp"

namespace rb::report {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> finite(const std::vector<double>& v) {
  std::vector<double> out;
  for (double x : v)
    if (std::isfinite(x)) out.push_back(x);
  return out;
}
}  // namespace

IntervalCell interval_cell(const std::vector<double>& values) {
  IntervalCell c;
  const auto v = finite(values);
  c.n = static_cast<int64_t>(v.size());
  if (v.empty()) {
    c.mean = c.lo = c.hi = kNaN;
    return c;
  }
  c.mean = eval::mean(v);
  const auto qi = eval::quantile_interval(v, 0.025, 0.975);
  c.lo = qi.lo;
  c.hi = qi.hi;
  return c;
}

MeanSdCell mean_sd_cell(const std::vector<double>& values) {
  MeanSdCell c;
  const auto v = finite(values);
  const auto ms = eval::mean_sd(v);
  c.n = ms.n;
  c.mean = v.empty() ? kNaN : ms.mean;
  c.sd = v.size() < 2 ? kNaN : ms.sd;
  return c;
}

Table3 build_table3(const Results& r, const std::string& track, size_t finalists) {
  Table3 t;
  t.track = track;
  auto lb = r.leaderboards.find(track);
  auto ev = r.evals.find(track);
  if (lb == r.leaderboards.end() || ev == r.evals.end()) return t;
  for (const auto& row : lb->second.rows) {
    if (t.rows.size() >= finalists) break;
    const std::string method = row.method.empty() ? row.team : row.method;
    auto me = ev->second.find(method);
    RB_CHECK(me != ev->second.end(), "leaderboard of ", track, " lists '", method,
             "' but eval/", track, "/", method, ".json is missing");
    Table3Row tr;
    tr.team = row.team;
    tr.method = method;
    std::vector<double> all;
    std::map<std::string, std::vector<double>> by;
    for (const auto& v : me->second.volumes) {
      all.push_back(v.ssim);
      if (!v.contrast.empty()) by[v.contrast].push_back(v.ssim);
    }
    tr.avg = interval_cell(all);
    for (const auto& c : contrasts()) tr.by_contrast[c] = interval_cell(by[c]);
    t.rows.push_back(std::move(tr));
  }
  return t;
}

Table4 build_table4(const ReaderStudy& st) {
  Table4 t;
  t.track = st.track;
  t.questions = st.questions;
  const size_t nf = st.finalists.size();
  for (size_t i = 0; i < nf; ++i) {
    Table4Row row;
    row.team = st.finalists[i];
    std::vector<double> ranks;
    std::map<std::string, std::vector<double>> lik;
    for (const auto& c : st.cases) {
      for (const auto& reader : c.ranks) ranks.push_back(reader[i]);
      for (const auto& [q, m] : c.likert)
        for (const auto& reader : m) lik[q].push_back(reader[i]);
    }
    row.rank = mean_sd_cell(ranks);
    for (const auto& q : st.questions) row.likert[q] = mean_sd_cell(lik[q]);
    t.rows.push_back(std::move(row));
  }
  std::vector<std::vector<std::vector<double>>> cases;
  for (const auto& c : st.cases) cases.push_back(c.ranks);
  if (!cases.empty()) {
    const auto ks = eval::kendall_w_over_cases(cases);
    for (const auto& k : ks.cases) t.kendall_per_case.push_back(k.defined ? k.w_t : kNaN);
    t.kendall_defined_cases = ks.defined_cases;
    t.kendall_mean = ks.defined_cases ? ks.mean_w_t : kNaN;
  } else {
    t.kendall_mean = kNaN;
  }
  return t;
}

Fig5Data build_fig5(const ReaderStudy& st) {
  Fig5Data f;
  f.finalists = st.finalists;
  for (const auto& c : st.cases) {
    f.cases.push_back(c.file + ":" + std::to_string(c.slice));
    std::vector<double> mr(st.finalists.size(), 0.0);
    for (const auto& reader : c.ranks)
      for (size_t i = 0; i < mr.size(); ++i) mr[i] += reader[i];
    for (auto& x : mr) x /= static_cast<double>(std::max<size_t>(1, c.ranks.size()));
    // The finalist with the best slice SSIM in this case: does it get the best mean rank?
    if (!c.ssim.empty()) {
      const size_t best_ssim =
          static_cast<size_t>(std::max_element(c.ssim.begin(), c.ssim.end()) - c.ssim.begin());
      const double best_rank = *std::min_element(mr.begin(), mr.end());
      if (mr[best_ssim] == best_rank) ++f.best_ssim_best_rank;
    }
    f.mean_rank.push_back(std::move(mr));
  }
  return f;
}

Fig4Data build_fig4(const Results& r, const std::string& track) {
  Fig4Data f;
  f.track = track;
  auto lb = r.leaderboards.find(track);
  if (lb == r.leaderboards.end()) return f;
  const bool transfer = track == kTransfer;
  Fig4Series avg{transfer ? "AVG" : track_title(track) + " SSIM", {}};
  std::map<std::string, Fig4Series> vendors;
  std::set<std::string> vendor_names;
  if (transfer && r.evals.count(track))
    for (const auto& [m, me] : r.evals.at(track))
      for (const auto& v : me.volumes)
        if (!v.vendor.empty()) vendor_names.insert(v.vendor);
  for (const auto& row : lb->second.rows) {
    f.teams.push_back(row.team);
    avg.ssim.push_back(row.ssim);
    if (!transfer) continue;
    const std::string method = row.method.empty() ? row.team : row.method;
    std::map<std::string, std::vector<double>> by;
    if (r.evals.count(track) && r.evals.at(track).count(method))
      for (const auto& v : r.evals.at(track).at(method).volumes) by[v.vendor].push_back(v.ssim);
    for (const auto& vn : vendor_names) {
      auto& s = vendors[vn];
      s.label = vendor_title(vn);
      s.ssim.push_back(finite_mean(by[vn]));
    }
  }
  for (auto& [vn, s] : vendors) f.series.push_back(std::move(s));
  f.series.push_back(std::move(avg));
  return f;
}

std::string vendor_title(const std::string& v) {
  if (v == "ge") return "GE-like";
  if (v == "philips") return "Philips-like";
  if (v == "siemens") return "Siemens-like";
  if (v == "all") return "all";
  return v.empty() ? "unknown vendor" : v;
}

TransferAnalysis build_transfer(const Results& r) {
  TransferAnalysis t;
  auto with = r.evals.find(kTransfer);
  auto without = r.evals.find(kTransferNoNorm);
  if (with == r.evals.end() || without == r.evals.end()) return t;
  std::set<std::string> vendors;
  for (const auto& [m, me] : with->second)
    for (const auto& v : me.volumes) vendors.insert(v.vendor);
  t.vendors.assign(vendors.begin(), vendors.end());
  t.vendors.push_back("all");
  for (const auto& [m, me] : with->second) {
    auto other = without->second.find(m);
    if (other == without->second.end()) continue;
    TransferRow row;
    row.method = m;
    auto fill = [&](const MethodEval& e, std::map<std::string, double>& out, bool count) {
      std::map<std::string, std::vector<double>> by;
      for (const auto& v : e.volumes) {
        by[v.vendor].push_back(v.ssim);
        by["all"].push_back(v.ssim);
      }
      for (const auto& vn : t.vendors) {
        out[vn] = finite_mean(by[vn]);
        if (count) row.volumes[vn] = static_cast<int64_t>(by[vn].size());
      }
    };
    fill(me, row.with_norm, true);
    fill(other->second, row.without_norm, false);
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace rb::report
