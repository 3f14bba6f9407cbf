#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/vexp.h"

namespace quanta {

double token_nll(const float* logits, int64_t vocab, int32_t target) {
  // The SIMD kernels of softmax attention: a double std::exp per logit was 8 % of a W4A16
  // `quanta ppl` (49152 logits a token). Each chunk's exps are summed in f32 lanes, the chunks in
  // double, so the sum keeps ~1e-7 relative.
  constexpr int64_t kChunk = 1024;
  const kernels::Isa isa = kernels::active_isa();
  const float mx = kernels::max_value(logits, vocab, isa);
  thread_local std::vector<float> e;
  e.assign(logits, logits + vocab);
  double sum = 0.0;
  for (int64_t c = 0; c < vocab; c += kChunk)
    sum += kernels::exp_shift_sum(e.data() + c, std::min(kChunk, vocab - c), mx, isa);
  return std::log(sum) + mx - double(logits[target]);
}

PplResult perplexity(LlamaModel& model, const std::vector<int32_t>& tokens, const PplOptions& opt,
                     const std::function<void(int64_t, int64_t)>& progress) {
  if (opt.ctx < 2) fail("perplexity: --ctx must be at least 2 (got {})", opt.ctx);
  int64_t n_windows = int64_t(tokens.size()) / opt.ctx;
  if (n_windows == 0)
    fail("perplexity: the text has {} tokens, fewer than one window of {}", tokens.size(), opt.ctx);
  if (opt.max_windows > 0) n_windows = std::min(n_windows, opt.max_windows);
  const int64_t vocab = model.config().vocab_size;
  // Logits of positions first .. ctx-1 of each window predict tokens first+1 .. ctx-1 (the
  // prediction from the last position has no target inside the window).
  const int64_t first = opt.scoring == PplScoring::kSecondHalf ? opt.ctx / 2 : 0;
  const int64_t n_logits = opt.ctx - first;
  std::vector<float> logits(static_cast<size_t>(n_logits * vocab));
  KvCache cache = model.make_cache(opt.ctx);
  ThreadPool& pool = ThreadPool::global();
  PplResult r;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t w = 0; w < n_windows; ++w) {
    const int32_t* win = tokens.data() + w * opt.ctx;
    cache.clear();
    model.forward(win, opt.ctx, cache, logits.data(), n_logits);
    std::vector<double> part(size_t(pool.size()), 0.0);
    pool.parallel_for(n_logits - 1, [&](int64_t b, int64_t e, int th) {
      for (int64_t i = b; i < e; ++i)
        part[size_t(th)] += token_nll(logits.data() + i * vocab, vocab, win[first + i + 1]);
    });
    for (double p : part) r.nll_sum += p;
    r.n_scored += n_logits - 1;
    ++r.n_windows;
    if (progress) progress(w + 1, n_windows);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.ppl = std::exp(r.nll_sum / double(r.n_scored));
  return r;
}

}  // namespace quanta
