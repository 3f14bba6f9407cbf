#include "eval/kl_divergence.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"

namespace quanta {
namespace {

// log sum exp of logits, in double.
double log_sum_exp(const float* x, int64_t n) {
  const float mx = *std::max_element(x, x + n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - mx);
  return std::log(s) + mx;
}

}  // namespace

double token_kl(const float* p_logits, const float* q_logits, int64_t vocab) {
  const double lp = log_sum_exp(p_logits, vocab), lq = log_sum_exp(q_logits, vocab);
  double kl = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double log_p = double(p_logits[i]) - lp;
    kl += std::exp(log_p) * (log_p - (double(q_logits[i]) - lq));
  }
  return std::max(kl, 0.0);  // rounding can leave a tiny negative for equal distributions
}

KlResult kl_divergence(LlamaModel& original, LlamaModel& compressed, const std::vector<int32_t>& tokens,
                       const KlOptions& opt, const std::function<void(int64_t, int64_t)>& progress) {
  if (opt.ctx < 1) fail("KL divergence: ctx must be positive (got {})", opt.ctx);
  const int64_t vocab = original.config().vocab_size;
  if (compressed.config().vocab_size != vocab)
    fail("KL divergence: the models' vocabularies differ ({} vs {} tokens)", vocab,
         compressed.config().vocab_size);
  int64_t n_windows = int64_t(tokens.size()) / opt.ctx;
  if (n_windows == 0)
    fail("KL divergence: the text has {} tokens, fewer than one window of {}", tokens.size(), opt.ctx);
  if (opt.max_windows > 0) n_windows = std::min(n_windows, opt.max_windows);
  std::vector<float> lp(static_cast<size_t>(opt.ctx * vocab)), lq(lp.size());
  KvCache cp = original.make_cache(opt.ctx), cq = compressed.make_cache(opt.ctx);
  ThreadPool& pool = ThreadPool::global();
  KlResult r;
  double kl_sum = 0;
  int64_t agree = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t w = 0; w < n_windows; ++w) {
    const int32_t* win = tokens.data() + w * opt.ctx;
    cp.clear();
    cq.clear();
    original.forward(win, opt.ctx, cp, lp.data(), opt.ctx);
    compressed.forward(win, opt.ctx, cq, lq.data(), opt.ctx);
    std::vector<double> sum(size_t(pool.size()), 0.0), mx(sum.size(), 0.0);
    std::vector<int64_t> same(sum.size(), 0);
    pool.parallel_for(opt.ctx, [&](int64_t b, int64_t e, int th) {
      for (int64_t i = b; i < e; ++i) {
        const float* p = lp.data() + i * vocab;
        const float* q = lq.data() + i * vocab;
        const double kl = token_kl(p, q, vocab);
        sum[size_t(th)] += kl;
        mx[size_t(th)] = std::max(mx[size_t(th)], kl);
        same[size_t(th)] += std::max_element(p, p + vocab) - p == std::max_element(q, q + vocab) - q;
      }
    });
    for (size_t t = 0; t < sum.size(); ++t) {
      kl_sum += sum[t];
      r.max_kl = std::max(r.max_kl, mx[t]);
      agree += same[t];
    }
    r.n_tokens += opt.ctx;
    ++r.n_windows;
    if (progress) progress(w + 1, n_windows);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.mean_kl = kl_sum / double(r.n_tokens);
  r.top1_agree = double(agree) / double(r.n_tokens);
  return r;
}

}  // namespace quanta
