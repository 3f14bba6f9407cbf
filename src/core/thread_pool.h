// One process-wide pool of worker threads. parallel_for splits [0, n) into contiguous chunks, one
// per thread; the calling thread takes the first chunk. Workers spin briefly before sleeping, so
// the many short parallel sections of a decode step do not pay a futex wake-up each.
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
  // (except the last). Blocks until all chunks are done. Not reentrant.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                    int64_t align = 1);

  // The shared pool (created on first use).
  static ThreadPool& global();

 private:
  void worker_loop(int index);
  void run_chunk(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  bool stop_ = false;
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t align_ = 1;
};

}  // namespace quanta
