// Progress for long work: a bar with rate and ETA on a terminal, plain lines otherwise.
//
//   Progress p("simulate", files.size(), "file");
//   for (...) { ...; p.tick(); }
//   p.done();
//
// Thread-safe: tick() may be called from parallel_for workers. Output goes to stderr so
// stdout stays machine-readable. RECONBENCH_PROGRESS=0 silences it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace rb {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "item");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void tick(int64_t n = 1, const std::string& note = "");
  void done();
  int64_t count() const { return count_; }

 private:
  void render(bool final);

  std::string label_, unit_, note_;
  int64_t total_ = 0, count_ = 0;
  bool tty_ = false, enabled_ = true, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_print_;
  int last_percent_printed_ = -1;
  std::mutex mutex_;
};

}  // namespace rb
