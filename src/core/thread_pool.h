// One process-wide pool of worker threads. parallel_for splits [0, n) into pieces and gives each
// thread a contiguous share of them. A thread runs its own share front to back, so what it reads
// (a decode GEMV's weight rows) stays one stream the hardware prefetcher follows; then it takes
// the others' unstarted pieces from the back. A thread the OS has descheduled (other processes on
// the cores) delays the call by at most the piece it holds, and the wait at the end is at most
// one short piece. Workers spin briefly before sleeping, so the many short parallel sections of a
// decode step do not pay a futex wake-up each.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
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

  // fn(begin, end, thread_index) over pieces of [0, n); piece boundaries are multiples of `align`
  // (except the last). A thread may run several pieces, one after another, always with its own
  // thread_index (0 = the caller), so per-thread scratch indexed by it is safe; which thread runs
  // which piece varies from call to call. Blocks until all pieces are done. Not reentrant.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                    int64_t align = 1);

  // The shared pool (created on first use).
  static ThreadPool& global();

 private:
  void worker_loop(int index);
  // Claims and runs pieces of generation `gen` until none is left or another generation began.
  void run_pieces(uint32_t gen, int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  // generation << 32: a new value starts a parallel_for (or, with stop_, ends the workers).
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t align_ = 1;
  // Each thread's contiguous share of the pieces: (generation << 32) | (front << 16) | back. The
  // owner takes pieces from the front, the others from the back once their own share is done.
  struct alignas(64) Share {
    std::atomic<uint64_t> word{0};
  };
  std::unique_ptr<Share[]> shares_;
  int64_t pieces_ = 0;
};

}  // namespace quanta
