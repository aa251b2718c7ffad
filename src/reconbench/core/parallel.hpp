// Threads and interruption.
//
// parallel_for(n, f) calls f(i) for i in [0, n) on num_threads() threads. Work items must
// write disjoint outputs; reductions are done afterwards in index order, so results never
// depend on the thread count (the project's determinism rule).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace rb {

// Threads to use: set_num_threads(), else $RECONBENCH_THREADS, else $OMP_NUM_THREADS, else
// the hardware concurrency.
int num_threads();
void set_num_threads(int n);

// SIGINT/SIGTERM set a flag; long loops call check_interrupted() between work items, which
// throws rb::Interrupted. Writers create files under a temporary name and rename them when
// complete, so an interrupt never leaves a partial output behind.
void install_interrupt_handler();
bool interrupted();
void check_interrupted();
void request_interrupt_for_testing(bool v);

template <class F>
void parallel_for(int64_t n, F&& f, int threads = 0) {
  if (threads <= 0) threads = num_threads();
  threads = static_cast<int>(std::min<int64_t>(threads, n));
  if (threads <= 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (;;) {
      int64_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        f(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n);
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace rb
