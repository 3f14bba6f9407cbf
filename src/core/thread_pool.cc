#include "core/thread_pool.h"

#include <algorithm>
#include <cstdlib>

#include "core/error.h"

namespace quanta {
namespace {

int default_threads() {
  if (const char* env = std::getenv("QUANTA_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : int(hc);
}

constexpr int kSpinIterations = 20000;
// Chunks per thread: enough that a descheduled thread's unstarted share is taken by the others,
// few enough that the per-chunk cost (kernel setup, one atomic) stays negligible.
constexpr int64_t kChunksPerThread = 4;
constexpr int64_t kMaxChunks = 0xffff;

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

constexpr uint32_t gen_of(uint64_t s) { return uint32_t(s >> 32); }
constexpr int64_t count_of(uint64_t s) { return int64_t((s >> 16) & 0xffff); }
constexpr int64_t next_of(uint64_t s) { return int64_t(s & 0xffff); }

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = default_threads();
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    state_.store((uint64_t(gen_of(state_.load()) + 1)) << 32);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

void ThreadPool::run_chunks(uint32_t gen, int index) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (gen_of(s) != gen || next_of(s) >= count_of(s)) return;
    // A successful claim means the generation is still running (its caller waits for this chunk),
    // so fn_, n_ and align_, published before the generation, are valid until done_ counts it.
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    const int64_t chunk = next_of(s), chunks = count_of(s);
    const int64_t blocks = (n_ + align_ - 1) / align_;
    const int64_t begin = std::min(n_, blocks * chunk / chunks * align_);
    const int64_t end = std::min(n_, blocks * (chunk + 1) / chunks * align_);
    if (begin < end) (*fn_)(begin, end, index);
    done_.fetch_add(1, std::memory_order_acq_rel);
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_loop(int index) {
  uint32_t seen = 0;
  for (;;) {
    int spins = 0;
    while (gen_of(state_.load(std::memory_order_acquire)) == seen && spins < kSpinIterations) {
      ++spins;
      cpu_relax();
    }
    if (gen_of(state_.load(std::memory_order_acquire)) == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return gen_of(state_.load()) != seen; });
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = gen_of(state_.load(std::memory_order_acquire));
    run_chunks(seen, index);
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn,
                              int64_t align) {
  if (n <= 0) return;
  QUANTA_ASSERT(align >= 1);
  if (workers_.empty() || n <= align) {
    fn(0, n, 0);
    return;
  }
  const int64_t blocks = (n + align - 1) / align;
  const int64_t chunks = std::min({blocks, int64_t(size()) * kChunksPerThread, kMaxChunks});
  uint32_t gen = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    align_ = align;
    done_.store(0, std::memory_order_relaxed);
    gen = gen_of(state_.load(std::memory_order_relaxed)) + 1;
    state_.store((uint64_t(gen) << 32) | (uint64_t(chunks) << 16), std::memory_order_release);
  }
  cv_.notify_all();
  run_chunks(gen, 0);
  for (int spins = 0; done_.load(std::memory_order_acquire) != chunks; ++spins) {
    if (spins < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();  // the thread holding the last chunk may need this core
    }
  }
}

}  // namespace quanta
