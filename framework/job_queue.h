// A queue between the node's strand and one of its worker threads (disk, apply): the strand
// pushes without blocking, the worker takes everything queued at once, which is what lets the
// disk thread sync once for many Readys.
//
// It has no bound of its own: what can be queued is bounded upstream (see NodeConfig: the
// uncommitted budget and the inflight window bound the writes, max_applying_bytes the applies).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <utility>

namespace framework {

template <typename Job>
class JobQueue {
 public:
  void push(Job job) {
    {
      std::lock_guard lock(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  // Blocks until there is at least one job or the queue is closed; returns every job queued
  // (empty only once closed and drained).
  std::deque<Job> take_all() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !jobs_.empty(); });
    return std::exchange(jobs_, {});
  }

  // Wakes the worker; take_all() returns what is left, then empty batches.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool closed_ = false;
};

}  // namespace framework
