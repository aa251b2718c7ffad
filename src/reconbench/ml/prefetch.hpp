// A bounded, ordered prefetch queue: `threads` background threads compute make(i) for
// i = begin, begin + 1, ... at most `depth` items ahead of the consumer, and next() hands
// them out in index order. make must be a pure function of i (thread-safe), so the
// sequence is the same for any number of threads; threads = 0 computes each item in
// next() on the caller's thread. An exception thrown by make(i) is rethrown by the next()
// that asks for item i. Torch-free.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace rb::ml {

template <class T>
class Prefetcher {
 public:
  Prefetcher(std::function<T(int64_t)> make, int64_t begin, int64_t end, int threads, int depth)
      : make_(std::move(make)), next_(begin), claim_(begin), end_(end),
        depth_(std::max(1, depth)) {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
  }
  ~Prefetcher() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
  }
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The item at the current index; advances the index.
  T next() {
    const int64_t i = next_;
    if (workers_.empty()) {
      ++next_;
      return make_(i);
    }
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return ready_.count(i) > 0; });
    Slot slot = std::move(ready_.at(i));
    ready_.erase(i);
    ++next_;
    lock.unlock();
    wake_.notify_all();
    if (slot.error) std::rethrow_exception(slot.error);
    return std::move(*slot.value);
  }

 private:
  struct Slot {
    std::optional<T> value;
    std::exception_ptr error;
  };
  void work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || (claim_ < end_ && claim_ < next_ + depth_); });
      if (stop_) return;
      const int64_t i = claim_++;
      lock.unlock();
      Slot slot;
      try {
        slot.value.emplace(make_(i));
      } catch (...) {
        slot.error = std::current_exception();
      }
      lock.lock();
      ready_.emplace(i, std::move(slot));
      done_.notify_all();
    }
  }

  std::function<T(int64_t)> make_;
  int64_t next_, claim_, end_;
  int depth_;
  bool stop_ = false;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::map<int64_t, Slot> ready_;
  std::vector<std::thread> workers_;
};

}  // namespace rb::ml
