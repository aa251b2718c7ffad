// Thread budget of the reconstruction kernels. The CLI parallelises over slices and gives
// each slice's work a share of the threads through ScopedReconThreads (thread-local), so
// nested parallelism never oversubscribes. Kernels reduce in fixed index order: results are
// independent of the thread count.
#pragma once

namespace rb::recon {

// Threads a kernel running on this thread may use: the scoped value if set, else
// rb::num_threads().
int recon_threads();

class ScopedReconThreads {
 public:
  explicit ScopedReconThreads(int n);
  ~ScopedReconThreads();
  ScopedReconThreads(const ScopedReconThreads&) = delete;
  ScopedReconThreads& operator=(const ScopedReconThreads&) = delete;

 private:
  int saved_;
};

}  // namespace rb::recon
