// The thread pool behind parallel_for (parallel.hpp).
//
// One job at a time runs on the pool. The caller publishes it (job_, slots_ = threads - 1,
// a new generation) and works on it itself; pool workers that wake while slots remain join
// in. Work is handed out in chunks by an atomic counter, so it balances itself when a worker
// wakes late. When the caller has found no more chunks it closes the job (no worker can join
// after that) and waits only for the workers that did join: a sleeping worker never delays
// the end of a parallel region. Work items write disjoint outputs, so which thread runs which
// chunk never changes a result.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "reconbench/core/parallel.hpp"

namespace rb::detail {
namespace {

struct Job {
  RangeFn fn = nullptr;
  void* ctx = nullptr;
  int64_t n = 0, chunk = 1;
  std::atomic<int64_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;

  void work() {
    for (;;) {
      const int64_t i0 = next.fetch_add(chunk);
      if (i0 >= n) return;
      try {
        fn(ctx, i0, std::min(n, i0 + chunk));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(n);
        return;
      }
    }
  }
};

int64_t chunk_size(int64_t n, int threads) {
  // ~8 chunks per thread: coarse enough that the counter is not contended, fine enough to
  // balance a late or preempted thread.
  return std::max<int64_t>(1, n / (int64_t(threads) * 8));
}

class Pool {
 public:
  // false when another job is running (the caller then uses its own threads).
  bool try_run(Job& job, int helpers) {
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acquire)) return false;
    {
      std::unique_lock lock(mutex_);
      while (static_cast<int>(workers_.size()) < helpers)
        workers_.emplace_back([this] { loop(); });
      job_ = &job;
      slots_ = helpers;
      ++generation_;
    }
    wake_.notify_all();
    job.work();
    {
      std::unique_lock lock(mutex_);
      job_ = nullptr;
      slots_ = 0;
      done_.wait(lock, [this] { return active_ == 0; });
    }
    busy_.store(false, std::memory_order_release);
    return true;
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    uint64_t seen = generation_;
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (job_ == nullptr || slots_ == 0) continue;
      --slots_;
      ++active_;
      Job* job = job_;
      lock.unlock();
      job->work();
      lock.lock();
      if (--active_ == 0) done_.notify_all();
    }
  }

  std::atomic<bool> busy_{false};
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  Job* job_ = nullptr;
  int slots_ = 0, active_ = 0;
  uint64_t generation_ = 0;
};

// Never destroyed: workers sleep in wake_.wait() until the process exits (destroying
// joinable threads at exit would call std::terminate).
Pool& pool() {
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

void parallel_run(int64_t n, int threads, RangeFn fn, void* ctx, int64_t chunk) {
  Job job;
  job.fn = fn;
  job.ctx = ctx;
  job.n = n;
  job.chunk = chunk > 0 ? chunk : chunk_size(n, threads);
  if (!pool().try_run(job, threads - 1)) {
    std::vector<std::thread> extra;
    for (int t = 1; t < threads; ++t) extra.emplace_back([&job] { job.work(); });
    job.work();
    for (auto& t : extra) t.join();
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace rb::detail
