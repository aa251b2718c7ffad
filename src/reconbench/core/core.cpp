#include <atomic>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "reconbench/core/array.hpp"
#include "reconbench/core/error.hpp"
#include "reconbench/core/parallel.hpp"

namespace rb {

void throw_internal(const std::string& msg, std::source_location loc) {
  throw InternalError(cat(msg, " at ", loc.file_name(), ":", loc.line(), " (",
                          loc.function_name(), ")"));
}

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace {
std::atomic<int> g_threads{0};
std::atomic<bool> g_interrupted{false};
extern "C" void on_signal(int) { g_interrupted.store(true); }
}  // namespace

int num_threads() {
  int n = g_threads.load();
  if (n > 0) return n;
  for (const char* var : {"RECONBENCH_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int k = std::atoi(v);
      if (k > 0) return k;
    }
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void set_num_threads(int n) { g_threads.store(n); }

void install_interrupt_handler() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}
bool interrupted() { return g_interrupted.load(); }
void check_interrupted() {
  if (g_interrupted.load()) throw Interrupted();
}
void request_interrupt_for_testing(bool v) { g_interrupted.store(v); }

}  // namespace rb
