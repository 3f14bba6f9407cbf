// One process-wide pool of worker threads. parallel_for splits [0, n) into a few contiguous chunks
// per thread, which the calling thread and the workers claim one at a time from a shared counter:
// a worker the OS has descheduled (other processes on the cores) delays the call by at most the
// chunk it holds, since the others take the chunks it has not started. Workers spin briefly
// before sleeping, so the many short parallel sections of a decode step do not pay a futex
// wake-up each.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace quanta {

class ThreadPool {
 public:
  // n_threads <= 0: hardware concurrency (QUANTA_THREADS overrides).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // fn(begin, end, thread_index) over chunks of [0, n); chunk boundaries are multiples of `align`
  // (except the last). A thread may run several chunks, one after another, always with its own
  // thread_index (0 = the caller), so per-thread scratch indexed by it is safe; which thread runs
  // which chunk varies from call to call. Blocks until all chunks are done. Not reentrant.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                    int64_t align = 1);

  // The shared pool (created on first use).
  static ThreadPool& global();

 private:
  void worker_loop(int index);
  // Claims and runs chunks of generation `gen` until none is left or another generation began.
  void run_chunks(uint32_t gen, int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  // (generation << 32) | (chunk count << 16) | next unclaimed chunk.
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t align_ = 1;
};

}  // namespace quanta
