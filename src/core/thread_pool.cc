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
// Pieces per thread: enough that the last piece, where the other threads may wait, is short and a
// descheduled thread's unstarted pieces are taken by the others; few enough that the stealing at
// the end stays cheap (16 measured no better than 4 chunks from one queue, 8 measured 1-7 %
// faster in decode, W4A16 g32 and W8A16 in one process, steps alternating).
constexpr int64_t kPiecesPerThread = 8;
constexpr int64_t kMaxPieces = 0xffff;

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

constexpr uint32_t gen_of(uint64_t s) { return uint32_t(s >> 32); }
constexpr int64_t front_of(uint64_t s) { return int64_t((s >> 16) & 0xffff); }
constexpr int64_t back_of(uint64_t s) { return int64_t(s & 0xffff); }

// Claims one piece of a share of generation gen: its front piece (the owner) or its back one; -1
// when the share is empty or belongs to another generation.
int64_t claim(std::atomic<uint64_t>& share, uint32_t gen, bool front) {
  uint64_t w = share.load(std::memory_order_acquire);
  while (gen_of(w) == gen && front_of(w) < back_of(w)) {
    const uint64_t next = front ? w + (uint64_t(1) << 16) : w - 1;
    if (share.compare_exchange_weak(w, next, std::memory_order_acq_rel, std::memory_order_acquire))
      return front ? front_of(w) : back_of(w) - 1;
  }
  return -1;
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = default_threads();
  shares_ = std::make_unique<Share[]>(size_t(n_threads));
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

void ThreadPool::run_pieces(uint32_t gen, int index) {
  // A successful claim means the generation is still running (its caller waits for this piece),
  // so fn_, n_, align_ and pieces_, published before the generation, stay valid until done_
  // counts it; done_ is counted once, on the way out (one shared line per thread, not per piece).
  int64_t ran = 0;
  auto run_piece = [&](int64_t piece) {
    const int64_t blocks = (n_ + align_ - 1) / align_;
    const int64_t begin = std::min(n_, blocks * piece / pieces_ * align_);
    const int64_t end = std::min(n_, blocks * (piece + 1) / pieces_ * align_);
    if (begin < end) (*fn_)(begin, end, index);
    ++ran;
  };
  // Own share from the front: consecutive pieces, so the thread's reads stay one stream; then
  // the others' unstarted pieces, from the back.
  for (int o = 0; o < size(); ++o) {
    std::atomic<uint64_t>& share = shares_[size_t((index + o) % size())].word;
    for (int64_t piece; (piece = claim(share, gen, o == 0)) >= 0;) run_piece(piece);
  }
  if (ran > 0) done_.fetch_add(ran, std::memory_order_acq_rel);
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
    run_pieces(seen, index);
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
  const int64_t pieces = std::min({blocks, int64_t(size()) * kPiecesPerThread, kMaxPieces});
  uint32_t gen = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    align_ = align;
    pieces_ = pieces;
    done_.store(0, std::memory_order_relaxed);
    gen = gen_of(state_.load(std::memory_order_relaxed)) + 1;
    for (int i = 0; i < size(); ++i)
      shares_[size_t(i)].word.store((uint64_t(gen) << 32) | (uint64_t(pieces * i / size()) << 16) |
                                        uint64_t(pieces * (i + 1) / size()),
                                    std::memory_order_relaxed);
    state_.store(uint64_t(gen) << 32, std::memory_order_release);
  }
  cv_.notify_all();
  run_pieces(gen, 0);
  for (int spins = 0; done_.load(std::memory_order_acquire) != pieces; ++spins) {
    if (spins < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();  // the thread holding the last piece may need this core
    }
  }
}

}  // namespace quanta
