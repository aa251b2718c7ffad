// Threads and interruption.
//
// parallel_for(n, f) calls f(i) for i in [0, n) on num_threads() threads. Work items must
// write disjoint outputs; reductions are done afterwards in index order, so results never
// depend on the thread count (the project's determinism rule).
#pragma once

#include <algorithm>
#include <cstdint>

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

namespace detail {
using RangeFn = void (*)(void* ctx, int64_t i0, int64_t i1);
// Runs fn(ctx, i0, i1) over chunks covering [0, n) on `threads` threads: the caller plus
// workers of a persistent pool (created on first use, grown on demand), so that iterative
// solvers calling many short parallel regions do not pay a thread start per region. A call
// made while the pool is busy (nested parallel_for inside a work item, or parallel_for from
// two threads at once) runs on freshly started threads instead, as before the pool existed.
// The first exception thrown by a work item is rethrown after all threads have stopped.
// chunk > 0 hands out that many indices at a time; 0 picks ~8 chunks per thread.
void parallel_run(int64_t n, int threads, RangeFn fn, void* ctx, int64_t chunk = 0);
}  // namespace detail

// `chunk`: indices handed out at a time (0: ~8 chunks per thread). Pass 1 for few heavy
// items of uneven cost, so that no thread idles while the other finishes a long chunk.
template <class F>
void parallel_for(int64_t n, F&& f, int threads = 0, int64_t chunk = 0) {
  if (threads <= 0) threads = num_threads();
  threads = static_cast<int>(std::min<int64_t>(threads, n));
  if (threads <= 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  auto body = [&f](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) f(i);
  };
  detail::parallel_run(
      n, threads,
      [](void* ctx, int64_t i0, int64_t i1) { (*static_cast<decltype(body)*>(ctx))(i0, i1); },
      &body, chunk);
}

}  // namespace rb
