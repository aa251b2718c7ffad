// Unit tests of the report's table builders (against hand-computed values), the simulated
// reader panel, the results loader and the whole report on a small synthetic results folder.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <unistd.h>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/eval/metrics.hpp"
#include "reconbench/io/fastmri.hpp"
#include "reconbench/report/reader_panel.hpp"
#include "reconbench/report/report.hpp"
#include "reconbench/report/results.hpp"
#include "reconbench/report/tables.hpp"

namespace fs = std::filesystem;
using namespace rb::report;

namespace {

VolumeScore vol(const std::string& file, const std::string& acq, double ssim,
                const std::string& vendor = "") {
  VolumeScore v;
  v.file = file;
  v.acquisition = acq;
  v.contrast = contrast_of(acq);
  v.vendor = vendor;
  v.ssim = ssim;
  v.ssim_masked = ssim + 0.01;
  v.psnr = 30 + 10 * ssim;
  v.nmse = 1 - ssim;
  v.slices = 2;
  return v;
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("rb_report_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST(Contrast, PaperColumns) {
  EXPECT_EQ(contrast_of("AXT1"), "T1");
  EXPECT_EQ(contrast_of("AXT1PRE"), "T1");
  EXPECT_EQ(contrast_of("AXT1POST"), "T1POST");
  EXPECT_EQ(contrast_of("AXT2"), "T2");
  EXPECT_EQ(contrast_of("AXFLAIR"), "FLAIR");
  EXPECT_EQ(contrast_of("CORPD"), "");
}

// Table III cell: mean and type-7 quantiles of {0.8, 0.85, 0.9, 0.95, 1.0}:
//   Q(0.025): h = 4 * 0.025 = 0.1  -> 0.8 + 0.1 * 0.05 = 0.805
//   Q(0.975): h = 4 * 0.975 = 3.9  -> 0.95 + 0.9 * 0.05 = 0.995
TEST(Table3, IntervalCellHandComputed) {
  const auto c = interval_cell({0.9, 0.8, 0.95, 0.85, 1.0});
  EXPECT_EQ(c.n, 5);
  EXPECT_NEAR(c.mean, 0.9, 1e-15);
  EXPECT_NEAR(c.lo, 0.805, 1e-15);
  EXPECT_NEAR(c.hi, 0.995, 1e-15);
  // NaN (undefined metrics) are left out; an empty cell has n = 0.
  const auto d = interval_cell({0.5, std::nan(""), 0.7});
  EXPECT_EQ(d.n, 2);
  EXPECT_NEAR(d.mean, 0.6, 1e-15);
  EXPECT_NEAR(d.lo, 0.5 + 0.025 * 0.2, 1e-15);
  EXPECT_NEAR(d.hi, 0.5 + 0.975 * 0.2, 1e-15);
  EXPECT_EQ(interval_cell({}).n, 0);
}

TEST(Table3, FinalistsPerContrast) {
  Results r;
  MethodEval a, b, c;
  a.method = "a";
  a.volumes = {vol("1.h5", "AXT1", 0.90), vol("2.h5", "AXT1PRE", 0.80), vol("3.h5", "AXT2", 0.95),
               vol("4.h5", "AXFLAIR", 0.70)};
  b.method = "b";
  b.volumes = {vol("1.h5", "AXT1", 0.91), vol("2.h5", "AXT1PRE", 0.81), vol("3.h5", "AXT2", 0.96),
               vol("4.h5", "AXFLAIR", 0.71)};
  c.method = "c";
  c.volumes = {vol("1.h5", "AXT1", 0.5), vol("2.h5", "AXT1PRE", 0.5), vol("3.h5", "AXT2", 0.5),
               vol("4.h5", "AXFLAIR", 0.5)};
  r.evals["multicoil_4x"] = {{"a", a}, {"b", b}, {"c", c}};
  r.leaderboards["multicoil_4x"] =
      leaderboard_from_evals("multicoil_4x", r.evals["multicoil_4x"], "test");
  const auto t = build_table3(r, "multicoil_4x", 2);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0].team, "b");  // best mean SSIM first
  EXPECT_EQ(t.rows[1].team, "a");
  // a: AVG mean (0.9+0.8+0.95+0.7)/4 = 0.8375; sorted 0.7 0.8 0.9 0.95;
  //   Q(0.025): h = 0.075 -> 0.7 + 0.075 * 0.1 = 0.7075; Q(0.975): h = 2.925 -> 0.9 + 0.925 * 0.05
  const auto& avg = t.rows[1].avg;
  EXPECT_NEAR(avg.mean, 0.8375, 1e-15);
  EXPECT_NEAR(avg.lo, 0.7075, 1e-12);
  EXPECT_NEAR(avg.hi, 0.94625, 1e-12);
  // T1 = AXT1 + AXT1PRE: {0.9, 0.8}: mean 0.85, Q = 0.8 + p * 0.1
  const auto& t1 = t.rows[1].by_contrast.at("T1");
  EXPECT_EQ(t1.n, 2);
  EXPECT_NEAR(t1.mean, 0.85, 1e-15);
  EXPECT_NEAR(t1.lo, 0.8025, 1e-12);
  EXPECT_NEAR(t1.hi, 0.8975, 1e-12);
  EXPECT_EQ(t.rows[1].by_contrast.at("T1POST").n, 0);  // no T1POST volume
  EXPECT_NEAR(t.rows[1].by_contrast.at("FLAIR").mean, 0.70, 1e-15);
  EXPECT_NEAR(t.rows[1].by_contrast.at("FLAIR").lo, 0.70, 1e-15);
}

TEST(Leaderboard, RanksBySsimAndMeans) {
  MethodEval a, b;
  a.method = "zero-filled";
  a.volumes = {vol("1.h5", "AXT2", 0.7), vol("2.h5", "AXT2", 0.8)};
  b.method = "varnet";
  b.volumes = {vol("1.h5", "AXT2", 0.9), vol("2.h5", "AXT2", 0.95)};
  b.volumes[1].ssim_masked = std::nan("");  // undefined values are left out of the mean
  const auto lb = leaderboard_from_evals("multicoil_4x", {{"zero-filled", a}, {"varnet", b}}, "t");
  ASSERT_EQ(lb.rows.size(), 2u);
  EXPECT_EQ(lb.rows[0].team, "varnet");
  EXPECT_EQ(lb.rows[0].rank, 1);
  EXPECT_NEAR(lb.rows[0].ssim, 0.925, 1e-15);
  EXPECT_NEAR(lb.rows[0].ssim_masked, 0.91, 1e-15);
  EXPECT_NEAR(lb.rows[1].ssim, 0.75, 1e-15);
  EXPECT_NEAR(lb.rows[1].psnr, 37.5, 1e-12);
  // JSON round trip
  const auto back = parse_leaderboard(leaderboard_json(lb), "lb.json");
  EXPECT_EQ(back.rows[1].team, "zero-filled");
  EXPECT_NEAR(back.rows[0].ssim, lb.rows[0].ssim, 0);
}

// Table IV: mean +- SD (ddof 1) over every (case, reader) rating.
TEST(Table4, MeanSdHandComputed) {
  const auto c = mean_sd_cell({1, 2, 2, 3});
  EXPECT_EQ(c.n, 4);
  EXPECT_NEAR(c.mean, 2.0, 1e-15);
  EXPECT_NEAR(c.sd, std::sqrt(2.0 / 3.0), 1e-15);
  EXPECT_TRUE(std::isnan(mean_sd_cell({4}).sd));
}

TEST(Table4, RanksLikertAndKendall) {
  ReaderStudy st;
  st.track = "multicoil_4x";
  st.finalists = {"A", "B", "C"};
  st.questions = {"artifacts"};
  for (int j = 0; j < 6; ++j) st.readers.push_back("r" + std::to_string(j));
  // Case 1 = design note §3.3 test vector A: W_t = 0.58333 (no ties).
  ReaderCase c1;
  c1.file = "x.h5";
  c1.ssim = {0.9, 0.8, 0.7};
  c1.ranks = {{1, 2, 3}, {1, 3, 2}, {1, 2, 3}, {2, 1, 3}, {1, 2, 3}, {1, 3, 2}};
  c1.likert["artifacts"] = {{1, 2, 2}, {1, 2, 2}, {1, 2, 2}, {2, 2, 3}, {1, 3, 3}, {1, 1, 4}};
  // Case 2: every reader agrees: W_t = 1.
  ReaderCase c2;
  c2.file = "y.h5";
  c2.ssim = {0.9, 0.8, 0.7};
  c2.ranks.assign(6, {1, 2, 3});
  c2.likert["artifacts"].assign(6, {2, 2, 2});
  st.cases = {c1, c2};
  const auto t = build_table4(st);
  ASSERT_EQ(t.rows.size(), 3u);
  // A's ranks: {1,1,1,2,1,1} + six 1s: mean 13/12, SD sqrt(((11/12)^2*... ) computed below
  std::vector<double> ra = {1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1};
  double m = 13.0 / 12.0, ss = 0;
  for (double x : ra) ss += (x - m) * (x - m);
  EXPECT_NEAR(t.rows[0].rank.mean, m, 1e-15);
  EXPECT_NEAR(t.rows[0].rank.sd, std::sqrt(ss / 11.0), 1e-15);
  // B's ranks: {2,3,2,1,2,3} + six 2s = 25 / 12
  EXPECT_NEAR(t.rows[1].rank.mean, 25.0 / 12.0, 1e-15);
  // C's artifacts: {2,2,2,3,3,4} + six 2s = 28 / 12
  EXPECT_NEAR(t.rows[2].likert.at("artifacts").mean, 28.0 / 12.0, 1e-15);
  ASSERT_EQ(t.kendall_per_case.size(), 2u);
  EXPECT_NEAR(t.kendall_per_case[0], 0.58333333333333333, 1e-12);
  EXPECT_NEAR(t.kendall_per_case[1], 1.0, 1e-12);
  EXPECT_EQ(t.kendall_defined_cases, 2);
  EXPECT_NEAR(t.kendall_mean, (0.58333333333333333 + 1.0) / 2, 1e-12);

  const auto f5 = build_fig5(st);
  ASSERT_EQ(f5.mean_rank.size(), 2u);
  EXPECT_NEAR(f5.mean_rank[0][0], 7.0 / 6.0, 1e-15);   // R = 7, 13, 16 over 6 readers
  EXPECT_NEAR(f5.mean_rank[0][1], 13.0 / 6.0, 1e-15);
  EXPECT_NEAR(f5.mean_rank[0][2], 16.0 / 6.0, 1e-15);
  EXPECT_EQ(f5.best_ssim_best_rank, 2);
}

TEST(ReaderPanel, DeterministicLabelledAndFollowsScores) {
  std::vector<PanelCase> cases;
  for (int c = 0; c < 8; ++c)
    cases.push_back({"f" + std::to_string(c) + ".h5", "T2", "siemens", c, {0.95, 0.9, 0.85},
                     {0.93, 0.88, 0.80}});
  ReaderPanelOptions o;
  o.seed = 7;
  const auto a = simulate_reader_panel("multicoil_4x", {"A", "B", "C"}, cases, o);
  const auto b = simulate_reader_panel("multicoil_4x", {"A", "B", "C"}, cases, o);
  EXPECT_EQ(reader_study_json(a), reader_study_json(b));
  ASSERT_EQ(a.readers.size(), 5u);
  for (const auto& r : a.readers) EXPECT_NE(r.find("simulated"), std::string::npos);
  for (const auto& c : a.cases) {
    for (const auto& ranks : c.ranks) {
      auto s = ranks;
      std::sort(s.begin(), s.end());
      EXPECT_EQ(s, (std::vector<double>{1, 2, 3}));  // a permutation
    }
    for (const auto& [q, m] : c.likert)
      for (const auto& row : m)
        for (double l : row) {
          EXPECT_GE(l, 1);
          EXPECT_LE(l, 4);
          EXPECT_EQ(l, std::round(l));
        }
  }
  o.seed = 8;
  const auto d = simulate_reader_panel("multicoil_4x", {"A", "B", "C"}, cases, o);
  EXPECT_NE(reader_study_json(a), reader_study_json(d));
  // Without noise the readers follow the lesion SSIM exactly and agree: W = 1, Likert
  // round(1 + 10 (1 - q)) = round(1.7) = 2, round(2.2) = 2, round(3.0) = 3.
  o.rank_noise = 0;
  o.likert_noise = 0;
  const auto z = simulate_reader_panel("multicoil_4x", {"A", "B", "C"}, cases, o);
  for (const auto& c : z.cases) {
    for (const auto& r : c.ranks) EXPECT_EQ(r, (std::vector<double>{1, 2, 3}));
    EXPECT_EQ(c.likert.at("cnr")[0], (std::vector<double>{2, 2, 3}));
  }
  EXPECT_NEAR(build_table4(z).kendall_mean, 1.0, 1e-12);
  // Round trip through the results file format.
  const auto back = parse_reader_study("multicoil_4x", reader_study_json(a), "rs.json");
  EXPECT_EQ(reader_study_json(back), reader_study_json(a));
}

TEST(Transfer, PerVendorWithAndWithoutNormalisation) {
  Results r;
  MethodEval n, raw;
  n.volumes = {vol("g1.h5", "AXT2", 0.9, "ge"), vol("g2.h5", "AXT2", 0.8, "ge"),
               vol("p1.h5", "AXT2", 0.95, "philips")};
  raw.volumes = {vol("g1.h5", "AXT2", 0.5, "ge"), vol("g2.h5", "AXT2", 0.6, "ge"),
                 vol("p1.h5", "AXT2", 0.94, "philips")};
  r.evals[kTransfer]["unet"] = n;
  r.evals[kTransferNoNorm]["unet"] = raw;
  const auto t = build_transfer(r);
  ASSERT_EQ(t.vendors, (std::vector<std::string>{"ge", "philips", "all"}));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_NEAR(t.rows[0].with_norm.at("ge"), 0.85, 1e-15);
  EXPECT_NEAR(t.rows[0].without_norm.at("ge"), 0.55, 1e-15);
  EXPECT_NEAR(t.rows[0].with_norm.at("philips"), 0.95, 1e-15);
  EXPECT_NEAR(t.rows[0].without_norm.at("all"), (0.5 + 0.6 + 0.94) / 3, 1e-15);
  EXPECT_EQ(t.rows[0].volumes.at("ge"), 2);
  // Fig. 4 bottom: per vendor series + AVG.
  r.leaderboards[kTransfer] = leaderboard_from_evals(kTransfer, r.evals[kTransfer], "t");
  const auto f4 = build_fig4(r, kTransfer);
  ASSERT_EQ(f4.series.size(), 3u);
  EXPECT_EQ(f4.series[0].label, "GE-like");
  EXPECT_NEAR(f4.series[0].ssim[0], 0.85, 1e-15);
  EXPECT_EQ(f4.series[2].label, "AVG");
  EXPECT_NEAR(f4.series[2].ssim[0], (0.9 + 0.8 + 0.95) / 3, 1e-15);
}

TEST(Results, MissingFilesAreUserErrorsNamingThem) {
  const auto d = temp_dir("missing");
  try {
    load_results(d);
    FAIL() << "expected UserError";
  } catch (const rb::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("run.json"), std::string::npos) << e.what();
  }
  rb::write_file_atomic(d / "run.json", "{}");
  fs::create_directories(d / "eval" / "multicoil_4x");
  rb::write_file_atomic(d / "eval" / "multicoil_4x" / "unet.json", "{\"volumes\": 3}");
  try {
    load_results(d);
    FAIL() << "expected UserError";
  } catch (const rb::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("unet.json"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

// The whole report from a small synthetic results folder: every figure is written and valid,
// and the page's numbers are the eval files' numbers.
TEST(Report, WritesEveryFigureFromSyntheticResults) {
  const auto d = temp_dir("full");
  const fs::path res = d / "results";
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Json dataset = {{"volumes", Json::array()}};
  const std::vector<std::string> methods = {"zero-filled", "sense", "unet", "varnet"};
  const std::vector<std::string> acqs = {"AXT1", "AXT1POST", "AXT2", "AXFLAIR"};
  for (const std::string variant : {"multicoil_4x", "multicoil_8x", "transfer_4x", "transfer_4x_nonorm"}) {
    for (size_t m = 0; m < methods.size(); ++m) {
      Json vols = Json::array();
      for (int i = 0; i < 6; ++i) {
        const std::string file = variant.substr(0, 11) + "_" + std::to_string(i) + ".h5";
        const double s = 0.6 + 0.08 * static_cast<double>(m) + 0.02 * u(rng);
        vols.push_back({{"file", file}, {"acquisition", acqs[i % 4]}, {"slices", 2},
                        {"ssim", s}, {"ssim_masked", s + 0.01}, {"psnr", 30.0 + m},
                        {"nmse", 0.1 / (1 + m)}, {"ssim_per_slice", {s, s}}});
        if (m == 0 && variant != "transfer_4x_nonorm")
          dataset["volumes"].push_back({{"file", file}, {"vendor", i % 2 ? "ge" : "philips"}});
      }
      rb::write_file_atomic(res / "eval" / variant / (methods[m] + ".json"),
                            Json({{"volumes", vols}}).dump());
    }
  }
  rb::write_file_atomic(res / "dataset.json", dataset.dump());
  rb::write_file_atomic(res / "run.json", Json({{"profile", "ci"}, {"seed", 1}}).dump());
  // Reader study and Fig. 6 for one track.
  std::vector<PanelCase> cases = {{"multicoil_4x_0.h5", "T1", "siemens", 0, {0.9, 0.8, 0.7}, {0.9, 0.8, 0.7}},
                                  {"multicoil_4x_1.h5", "T2", "siemens", 1, {0.9, 0.8, 0.7}, {0.85, 0.86, 0.7}}};
  ReaderPanelOptions po;
  const auto st = simulate_reader_panel("multicoil_4x", {"varnet", "unet", "sense"}, cases, po);
  Json rs = {{"simulated", true}, {"label", kSimulatedPanelLabel}, {"model", reader_model_json(po)},
             {"tracks", {{"multicoil_4x", reader_study_json(st)}}}};
  rb::write_file_atomic(res / "reader_study.json", rs.dump());
  rb::Array<float> gt({1, 32, 32}), rec({1, 32, 32});
  for (int64_t i = 0; i < gt.size(); ++i) {
    gt[i] = static_cast<float>(u(rng));
    rec[i] = gt[i] + 0.05f * static_cast<float>(u(rng));
  }
  fs::create_directories(res / "fig6" / "multicoil_4x");
  rb::write_reconstruction(res / "fig6" / "multicoil_4x" / "gt.h5", gt);
  rb::write_reconstruction(res / "fig6" / "multicoil_4x" / "varnet.h5", rec);
  rb::write_file_atomic(res / "fig6" / "multicoil_4x.json",
                        Json({{"file", "multicoil_4x_0.h5"}, {"slice", 0}, {"data_range", 1.0},
                              {"gt", "fig6/multicoil_4x/gt.h5"},
                              {"panels", {{{"team", "varnet"}, {"method", "varnet"},
                                           {"recon", "fig6/multicoil_4x/varnet.h5"}}}}})
                            .dump());

  const auto r = load_results(res);
  EXPECT_EQ(r.evals.size(), 4u);
  EXPECT_EQ(r.leaderboards.at("multicoil_4x").rows[0].team, "varnet");
  const auto ro = write_report(r, d / "report");
  ASSERT_TRUE(fs::exists(ro.index));
  // 2 x Fig. 4, 1 x Fig. 5, 1 x Fig. 6, 3 x Fig. S1, transfer
  EXPECT_EQ(ro.files.size(), 8u);
  for (const auto& f : ro.files) {
    ASSERT_TRUE(fs::exists(f)) << f;
    const std::string s = rb::read_file(f);
    if (f.extension() == ".svg") {
      EXPECT_NE(s.find("<svg"), std::string::npos) << f;
      EXPECT_NE(s.find("</svg>"), std::string::npos) << f;
    } else {
      ASSERT_GE(s.size(), 8u);
      EXPECT_EQ(s.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << f;
    }
  }
  const std::string html = rb::read_file(ro.index);
  EXPECT_NE(html.find("SIMULATED"), std::string::npos);
  // The page shows the leaderboard mean of the eval file, at full precision in data-v.
  const auto& top = r.leaderboards.at("multicoil_8x").rows[0];
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", top.ssim);
  EXPECT_NE(html.find("data-k=\"lb.multicoil_8x." + top.team + ".ssim\" data-v=\"" + buf + "\""),
            std::string::npos);
  const Json rj = Json::parse(rb::read_file(d / "report" / "report.json"));
  EXPECT_NEAR(rj["fig6"]["multicoil_4x"]["panels"][0]["slice_ssim"].get<double>(),
              rb::eval::ssim_2d(gt(0), rec(0), 1.0), 1e-12);
  fs::remove_all(d);
}
