#include "reconbench/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "reconbench/core/error.hpp"
#include "reconbench/core/fs.hpp"
#include "reconbench/report/figures.hpp"
#include "reconbench/report/tables.hpp"

namespace fs = std::filesystem;

namespace rb::report {

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

namespace {

std::string fmt(double v, int prec) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

std::string full(double v) {
  if (!std::isfinite(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Json jnum(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

// A table cell with its key and full-precision value.
std::string cell(const std::string& key, double v, int prec) {
  return "<td class=\"n\" data-k=\"" + html_escape(key) + "\" data-v=\"" + full(v) + "\">" +
         fmt(v, prec) + "</td>";
}

std::string interval_html(const std::string& key, const IntervalCell& c) {
  if (c.n == 0) return "<td class=\"n\">&mdash;</td>";
  return "<td class=\"n\" data-k=\"" + html_escape(key) + ".mean\" data-v=\"" + full(c.mean) +
         "\" data-lo=\"" + full(c.lo) + "\" data-hi=\"" + full(c.hi) + "\" data-count=\"" +
         std::to_string(c.n) + "\">" + fmt(c.mean, 3) + " <span class=\"ci\">(" + fmt(c.lo, 3) +
         ", " + fmt(c.hi, 3) + ")</span></td>";
}

std::string meansd_html(const std::string& key, const MeanSdCell& c) {
  if (c.n == 0) return "<td class=\"n\">&mdash;</td>";
  return "<td class=\"n\" data-k=\"" + html_escape(key) + ".mean\" data-v=\"" + full(c.mean) +
         "\" data-sd=\"" + full(c.sd) + "\">" + fmt(c.mean, 2) + " &plusmn; " + fmt(c.sd, 2) +
         "</td>";
}

Json interval_json(const IntervalCell& c) {
  return {{"n", c.n}, {"mean", jnum(c.mean)}, {"quantile_interval", {jnum(c.lo), jnum(c.hi)}}};
}
Json meansd_json(const MeanSdCell& c) {
  return {{"n", c.n}, {"mean", jnum(c.mean)}, {"sd", jnum(c.sd)}};
}

std::string figure_html(const Figure& f) {
  std::ostringstream h;
  h << "<figure id=\"" << html_escape(f.id) << "\"><img src=\"" << html_escape(f.file.string())
    << "\" alt=\"" << html_escape(f.title) << "\"><figcaption><b>" << html_escape(f.title)
    << ".</b> " << html_escape(f.caption) << "</figcaption></figure>\n";
  return h.str();
}

const char* kCss = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{padding:.28em .7em;border-bottom:1px solid #e5e5e5;text-align:left}
th{background:#f5f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.finalist td:first-child::after{content:" \2605";color:#b8860b}
.ci{color:#666;font-size:.88em}.sim{background:#fff4e5;border:1px solid #f0b35a;padding:.6em 1em;
border-radius:6px}.note{color:#555;font-size:.92em}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#333;margin-top:.3em}
code{background:#f5f5f7;padding:0 .25em;border-radius:3px}
nav a{margin-right:1em}
)";

// The page under construction: the HTML body, report.json and the output record; one member
// function per section, in page order.
struct Page {
  Page(const Results& results, fs::path folder, ReportOptions options)
      : r(results), out(std::move(folder)), opts(options) {}
  const Results& r;
  fs::path out;
  ReportOptions opts;
  ReportOutput ro;
  Json rj = Json::object();
  std::ostringstream body;

  void add_fig(const Figure& f) {
    ro.files.push_back(out / f.file);
    rj["figures"].push_back({{"id", f.id}, {"file", f.file.string()}, {"title", f.title}});
    body << figure_html(f);
  }

  // run summary
  void intro() {
    body << "<h1>reconbench challenge report</h1>\n<p class=\"note\">Regenerates the tables and "
            "figures of the fastMRI 2020 brain challenge results paper (Tables III, IV; Figs. 4, "
            "5, 6, S1) from the results in <code>"
         << html_escape(r.dir.string()) << "</code>.</p>\n";
    body << "<nav><a href=\"#leaderboards\">Leaderboards</a><a href=\"#fig4\">Fig. 4</a>"
            "<a href=\"#table3\">Table III</a><a href=\"#table4\">Table IV</a>"
            "<a href=\"#fig5\">Fig. 5</a><a href=\"#fig6\">Fig. 6</a><a href=\"#figS1\">Fig. S1</a>"
            "<a href=\"#transfer\">Transfer</a><a href=\"#run\">Run</a></nav>\n";
    if (r.run.contains("profile"))
      body << "<p class=\"sim\">Data: <b>simulated</b> challenge dataset (reconbench simulator, "
              "profile <code>"
           << html_escape(r.run.value("profile", "")) << "</code>, seed "
           << html_escape(r.run.contains("seed") ? r.run["seed"].dump() : "?")
           << "). Teams are the reconbench baseline methods.</p>\n";
  }

  // leaderboards
  void section_leaderboards() {
    body << "<h2 id=\"leaderboards\">Leaderboards</h2>\n<p class=\"note\">Ranked by mean SSIM over "
            "the track's challenge volumes (fastMRI evaluation: 7&times;7 uniform window, data "
            "range = GT volume max). Masked SSIM: background removed by the ground-truth "
            "foreground mask. &#9733; = finalist (top "
         << opts.finalists << " by SSIM).</p>\n";
    for (const auto& t : all_tracks()) {
      auto it = r.leaderboards.find(t.name);
      if (it == r.leaderboards.end()) {
        ro.notes.push_back("no results for track " + t.name);
        continue;
      }
      const auto& lb = it->second;
      body << "<h3>" << html_escape(t.title) << "</h3>\n<table class=\"leaderboard\" data-track=\""
           << t.name << "\"><tr><th>#</th><th>team</th><th>method</th><th>SSIM &uarr;</th>"
              "<th>masked SSIM &uarr;</th><th>PSNR (dB) &uarr;</th><th>NMSE &darr;</th>"
              "<th>volumes</th></tr>\n";
      Json rows = Json::array();
      for (const auto& row : lb.rows) {
        const std::string k = "lb." + t.name + "." + row.team;
        body << "<tr" << (static_cast<size_t>(row.rank) <= opts.finalists ? " class=\"finalist\"" : "")
             << "><td>" << row.rank << "</td><td>" << html_escape(row.team) << "</td><td>"
             << html_escape(row.method) << "</td>" << cell(k + ".ssim", row.ssim, 4)
             << cell(k + ".ssim_masked", row.ssim_masked, 4) << cell(k + ".psnr", row.psnr, 2)
             << cell(k + ".nmse", row.nmse, 4) << "<td class=\"n\">" << row.volumes << "</td></tr>\n";
      }
      body << "</table>\n";
      if (!lb.source.empty())
        body << "<p class=\"note\">Leaderboard source: " << html_escape(lb.source) << ".</p>\n";
      rj["leaderboards"][t.name] = leaderboard_json(lb);
    }
  }

  // Fig. 4
  void section_fig4() {
    body << "<h2 id=\"fig4\">Fig. 4: SSIM by team rank</h2>\n";
    {
      std::vector<Fig4Data> mc;
      for (const auto& id : {"multicoil_4x", "multicoil_8x"})
        if (r.leaderboards.count(id)) mc.push_back(build_fig4(r, id));
      if (!mc.empty()) add_fig(fig4_multicoil(out, mc));
      if (r.leaderboards.count(kTransfer)) {
        auto f4 = build_fig4(r, kTransfer);
        Json series = Json::object();
        for (const auto& s : f4.series) {
          Json v = Json::array();
          for (double x : s.ssim) v.push_back(jnum(x));
          series[s.label] = v;
        }
        rj["fig4_transfer"] = {{"teams", f4.teams}, {"series", series}};
        add_fig(fig4_transfer(out, f4));
      }
    }
  }

  // Table III
  void section_table3() {
    body << "<h2 id=\"table3\">Table III: SSIM per contrast of the finalists</h2>\n<p "
            "class=\"note\">Mean SSIM over volumes with the 95% interval of the paper: the 2.5% "
            "and 97.5% quantiles of the per-volume SSIMs (numpy percentile, linear) &mdash; a "
            "spread of volumes, not a confidence interval of the mean. T1 includes AXT1 and "
            "AXT1PRE. &mdash; = no volume of that contrast.</p>\n<table class=\"table3\"><tr>"
            "<th>Team</th><th>AVG</th>";
    for (const auto& c : contrasts()) body << "<th>" << c << "</th>";
    body << "</tr>\n";
    for (const auto& t : all_tracks()) {
      if (!r.leaderboards.count(t.name)) continue;
      const Table3 t3 = build_table3(r, t.name, opts.finalists);
      body << "<tr><th colspan=\"" << contrasts().size() + 2 << "\">" << html_escape(t.title)
           << " Track</th></tr>\n";
      Json rows = Json::array();
      for (const auto& row : t3.rows) {
        const std::string k = "t3." + t.name + "." + row.team;
        body << "<tr><td>" << html_escape(row.team) << "</td>" << interval_html(k + ".AVG", row.avg);
        Json jr = {{"team", row.team}, {"method", row.method}, {"AVG", interval_json(row.avg)}};
        for (const auto& c : contrasts()) {
          body << interval_html(k + "." + c, row.by_contrast.at(c));
          jr[c] = interval_json(row.by_contrast.at(c));
        }
        body << "</tr>\n";
        rows.push_back(jr);
      }
      rj["table3"][t.name] = rows;
    }
    body << "</table>\n";
  }

  // Table IV + Kendall's W
  void section_table4() {
    body << "<h2 id=\"table4\">Table IV: reader ranks and Likert scores (SIMULATED panel)</h2>\n";
    std::map<std::string, Table4> t4s;
    if (r.reader_studies.empty()) {
      body << "<p class=\"note\">No reader study in the results (reader_study.json).</p>\n";
      ro.notes.push_back("no reader study: Table IV and Fig. 5 left out");
    } else {
      body << "<p class=\"sim\"><b>"
           << (r.reader_panel_simulated ? "Simulated readers, not radiologists." : "Reader panel.")
           << "</b> " << html_escape(r.reader_panel_label)
           << ". Model: <code>" << html_escape(r.reader_model.dump()) << "</code></p>\n";
      body << "<p class=\"note\">Mean &plusmn; SD over all (case, reader) ratings. Rank: depiction "
              "of pathology among the finalists, 1 = best. Likert: 1 = best, 4 = worst. Kendall's "
              "W with tie correction computed per case from the readers' ranks, averaged over "
              "cases.</p>\n";
      std::vector<std::string> qs;
      for (const auto& [track, st] : r.reader_studies)
        if (st.questions.size() > qs.size()) qs = st.questions;
      body << "<table class=\"table4\"><tr><th>Team</th><th>Rank</th>";
      for (const auto& q : qs) body << "<th>" << html_escape(q) << "</th>";
      body << "</tr>\n";
      for (const auto& t : all_tracks()) {
        auto it = r.reader_studies.find(t.name);
        if (it == r.reader_studies.end()) continue;
        const Table4 t4 = build_table4(it->second);
        t4s[t.name] = t4;
        body << "<tr><th colspan=\"" << qs.size() + 2 << "\">" << html_escape(t.title)
             << " Track &mdash; " << it->second.cases.size() << " cases, "
             << it->second.readers.size() << " simulated readers; Kendall's W (mean over "
             << t4.kendall_defined_cases << " cases): <span data-k=\"kendall." << t.name
             << "\" data-v=\"" << full(t4.kendall_mean) << "\">" << fmt(t4.kendall_mean, 3)
             << "</span></th></tr>\n";
        Json rows = Json::array();
        for (const auto& row : t4.rows) {
          const std::string k = "t4." + t.name + "." + row.team;
          body << "<tr><td>" << html_escape(row.team) << "</td>" << meansd_html(k + ".rank", row.rank);
          Json jr = {{"team", row.team}, {"rank", meansd_json(row.rank)}};
          for (const auto& q : qs) {
            auto c = row.likert.find(q);
            body << (c == row.likert.end() ? "<td>&mdash;</td>" : meansd_html(k + "." + q, c->second));
            if (c != row.likert.end()) jr[q] = meansd_json(c->second);
          }
          body << "</tr>\n";
          rows.push_back(jr);
        }
        Json kpc = Json::array();
        for (double w : t4.kendall_per_case) kpc.push_back(jnum(w));
        rj["table4"][t.name] = {{"simulated", r.reader_panel_simulated},
                              {"rows", rows},
                              {"kendall_w_mean", jnum(t4.kendall_mean)},
                              {"kendall_w_per_case", kpc}};
      }
      body << "</table>\n";
    }
  }

  // Fig. 5
  void section_fig5() {
    body << "<h2 id=\"fig5\">Fig. 5: reader rank per case (SIMULATED panel)</h2>\n";
    for (const auto& t : all_tracks()) {
      auto it = r.reader_studies.find(t.name);
      if (it == r.reader_studies.end() || it->second.cases.empty()) continue;
      const Fig5Data d = build_fig5(it->second);
      rj["fig5"][t.name] = {{"cases", d.cases},
                          {"finalists", d.finalists},
                          {"mean_rank", d.mean_rank},
                          {"best_ssim_best_rank", d.best_ssim_best_rank}};
      add_fig(fig5(out, t.name, d));
    }
  }

  // Fig. 6
  void section_fig6() {
    body << "<h2 id=\"fig6\">Fig. 6: ground truth, reconstruction and residual &times;5</h2>\n"
            "<p class=\"note\">One lesion slice per track, the finalists in rows. The grey window "
            "is [0, 99.5th percentile of the ground-truth slice]; the residual panel shows "
            "|reconstruction &minus; ground truth| &times; 5 in the same window.</p>\n";
    if (r.fig6.empty()) ro.notes.push_back("no fig6/ specs: Fig. 6 left out");
    for (const auto& t : all_tracks()) {
      auto it = r.fig6.find(t.name);
      if (it == r.fig6.end()) continue;
      const auto f6 = fig6(out, it->second);
      Json panels = Json::array();
      for (size_t i = 0; i < it->second.panels.size(); ++i)
        panels.push_back({{"team", it->second.panels[i].team}, {"slice_ssim", f6.slice_ssim[i]}});
      rj["fig6"][t.name] = {{"file", it->second.file}, {"slice", it->second.slice}, {"panels", panels}};
      add_fig(f6.figure);
    }
  }

  // Fig. S1
  void section_fig_s1() {
    body << "<h2 id=\"figS1\">Fig. S1: background-masked vs unmasked SSIM</h2>\n";
    for (const auto& t : all_tracks()) {
      auto it = r.evals.find(t.name);
      if (it == r.evals.end()) continue;
      add_fig(fig_s1(out, t.name, it->second));
    }
  }

  // Transfer analysis
  void section_transfer() {
    body << "<h2 id=\"transfer\">Transfer analysis: vendor normalisation</h2>\n";
    const TransferAnalysis ta = build_transfer(r);
    if (ta.rows.empty()) {
      body << "<p class=\"note\">No Transfer results with and without vendor normalisation "
              "(eval/transfer_4x and eval/transfer_4x_nonorm).</p>\n";
      ro.notes.push_back("no transfer_4x_nonorm results: Transfer analysis left out");
    } else {
      body << "<p class=\"note\">Mean SSIM per vendor. GE-like data are written without readout "
              "oversampling, Philips-like data with it (as the training data). &Delta; = with "
              "&minus; without normalisation.</p>\n<table class=\"transfer\"><tr><th>method</th>";
      for (const auto& v : ta.vendors)
        body << "<th>" << html_escape(vendor_title(v)) << " normalised</th><th>"
             << html_escape(vendor_title(v)) << " not normalised</th><th>&Delta;</th>";
      body << "</tr>\n";
      for (const auto& row : ta.rows) {
        body << "<tr><td>" << html_escape(row.method) << "</td>";
        Json jr = {{"method", row.method}};
        for (const auto& v : ta.vendors) {
          const std::string k = "tr." + row.method + "." + v;
          const double a = row.with_norm.at(v), b = row.without_norm.at(v);
          body << cell(k + ".norm", a, 4) << cell(k + ".raw", b, 4) << cell(k + ".delta", a - b, 4);
          jr[v] = {{"normalised", jnum(a)}, {"not_normalised", jnum(b)}, {"volumes", row.volumes.at(v)}};
        }
        body << "</tr>\n";
        rj["transfer"].push_back(jr);
      }
      body << "</table>\n";
      add_fig(fig_transfer(out, ta));
    }
  }

  // run details
  void section_run() {
    body << "<h2 id=\"run\">Run</h2>\n<table>";
    auto kv = [&](const std::string& k, const std::string& v) {
      body << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
    };
    for (const char* k : {"profile", "seed", "data", "leaderboard_source"})
      if (r.run.contains(k))
        kv(k, r.run[k].is_string() ? r.run[k].get<std::string>() : r.run[k].dump());
    if (r.run.contains("methods")) kv("methods", r.run["methods"].dump());
    if (r.run.contains("skipped"))
      for (const auto& s : r.run["skipped"])
        kv("skipped " + s.value("method", std::string("?")), s.value("reason", std::string("")));
    if (r.run.contains("stages"))
      for (const auto& s : r.run["stages"])
        kv("stage " + s.value("name", std::string("?")),
           fmt(s.value("seconds", 0.0), 1) + " s");
    if (r.run.contains("notes"))
      for (const auto& n : r.run["notes"]) kv("note", n.is_string() ? n.get<std::string>() : n.dump());
    for (const auto& n : ro.notes) kv("report note", n);
    body << "</table>\n<p class=\"note\">Regenerate: <code>reconbench report --results "
         << html_escape(r.dir.string()) << " --out " << html_escape(fs::absolute(out).string())
         << "</code></p>\n";
  }

  ReportOutput finish() {
    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>reconbench challenge report</title><style>"
         << kCss << "</style></head><body>\n"
         << body.str() << "</body></html>\n";
    ro.index = out / "index.html";
    rj["notes"] = ro.notes;
    write_file_atomic(out / "report.json", rj.dump(1) + "\n");
    write_file_atomic(ro.index, page.str());
    return ro;
  }
};

}  // namespace

ReportOutput write_report(const Results& r, const fs::path& out, const ReportOptions& opts) {
  fs::create_directories(out);
  check_gnuplot();
  Page page{r, out, opts};
  page.rj["results"] = r.dir.string();
  page.rj["reader_panel_simulated"] = r.reader_panel_simulated;
  page.intro();
  page.section_leaderboards();
  page.section_fig4();
  page.section_table3();
  page.section_table4();
  page.section_fig5();
  page.section_fig6();
  page.section_fig_s1();
  page.section_transfer();
  page.section_run();
  return page.finish();
}

std::string run_summary_text(const Results& r, const ReportOutput& report, size_t finalists,
                             double total_seconds) {
  std::ostringstream os;
  char line[256];
  for (const auto& t : all_tracks()) {
    auto it = r.leaderboards.find(t.name);
    if (it == r.leaderboards.end()) continue;
    int64_t volumes = 0;
    for (const auto& row : it->second.rows) volumes = std::max(volumes, row.volumes);
    os << "\n" << t.title << " leaderboard (" << volumes << " volumes)\n";
    std::snprintf(line, sizeof line, "  %-4s %-14s %8s %12s %9s %9s\n", "rank", "team", "SSIM",
                  "masked SSIM", "PSNR", "NMSE");
    os << line;
    for (const auto& row : it->second.rows) {
      std::snprintf(line, sizeof line, "  %-4lld %-14s %8.4f %12.4f %9.2f %9.4f%s\n",
                    static_cast<long long>(row.rank), row.team.c_str(), row.ssim, row.ssim_masked,
                    row.psnr, row.nmse, static_cast<size_t>(row.rank) <= finalists ? "  finalist" : "");
      os << line;
    }
  }
  for (const auto& s : r.run.value("skipped", Json::array()))
    os << "\nskipped " << s.value("method", "?") << ": " << s.value("reason", "");
  size_t readers = 0;
  for (const auto& [track, st] : r.reader_studies) readers = std::max(readers, st.readers.size());
  if (!r.reader_studies.empty())
    os << "\n\nreader study: " << (r.reader_panel_simulated ? "SIMULATED reader panel (" : "reader panel (")
       << readers << (r.reader_panel_simulated ? " simulated readers), not radiologists" : " readers)");
  std::snprintf(line, sizeof line, "%.1f", total_seconds);
  os << "\nresults: " << r.dir.string() << "\nreport:  " << report.index.string()
     << "\ntotal:   " << line << " s\n";
  return os.str();
}

}  // namespace rb::report
