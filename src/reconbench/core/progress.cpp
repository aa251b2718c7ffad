#include "reconbench/core/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace rb {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  tty_ = isatty(STDERR_FILENO) != 0;
  if (const char* v = std::getenv("RECONBENCH_PROGRESS")) enabled_ = std::string(v) != "0";
  start_ = last_print_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_) done();
}

void Progress::tick(int64_t n, const std::string& note) {
  std::lock_guard lock(mutex_);
  count_ += n;
  if (!note.empty()) note_ = note;
  render(false);
}

void Progress::done() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  render(true);
}

static std::string fmt_seconds(double s) {
  char buf[32];
  if (!std::isfinite(s)) return "--:--";
  int t = static_cast<int>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%02d:%02d", t / 60, t % 60);
  return buf;
}

void Progress::render(bool final) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double since = std::chrono::duration<double>(now - last_print_).count();
  double rate = elapsed > 0 ? count_ / elapsed : 0.0;
  double eta = rate > 0 && total_ > 0 ? (total_ - count_) / rate : NAN;
  int percent = total_ > 0 ? static_cast<int>(100.0 * count_ / total_) : 0;
  if (tty_) {
    if (!final && since < 0.1) return;
    const int width = 30;
    int filled = total_ > 0 ? static_cast<int>(width * count_ / std::max<int64_t>(total_, 1)) : 0;
    std::string bar(filled, '#');
    bar += std::string(width - filled, '-');
    std::fprintf(stderr, "\r%s [%s] %lld/%lld %s  %.2f %s/s  ETA %s %s\033[K", label_.c_str(),
                 bar.c_str(), static_cast<long long>(count_), static_cast<long long>(total_),
                 unit_.c_str(), rate, unit_.c_str(), fmt_seconds(final ? elapsed : eta).c_str(),
                 note_.c_str());
    if (final) std::fprintf(stderr, "\n");
  } else {
    // Plain lines: at most one per 10% step (and the final one), for logs and CI.
    int step = percent / 10;
    if (!final && step == last_percent_printed_) return;
    last_percent_printed_ = step;
    std::fprintf(stderr, "%s: %lld/%lld %s (%d%%), %.2f %s/s, %s %s %s\n", label_.c_str(),
                 static_cast<long long>(count_), static_cast<long long>(total_), unit_.c_str(),
                 percent, rate, unit_.c_str(), final ? "elapsed" : "ETA",
                 fmt_seconds(final ? elapsed : eta).c_str(), note_.c_str());
  }
  std::fflush(stderr);
  last_print_ = now;
}

}  // namespace rb
