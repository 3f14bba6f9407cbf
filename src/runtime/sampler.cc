#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace quanta {

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return int32_t(best);
}

std::vector<TokenLogprob> top_logprobs(const float* logits, int64_t vocab, int k) {
  const int64_t n = std::min<int64_t>(std::max(k, 0), vocab);
  std::vector<int32_t> idx(static_cast<size_t>(vocab));
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  // log-sum-exp in double, shifted by the maximum.
  const double mx = logits[argmax(logits, vocab)];
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  std::vector<TokenLogprob> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = {idx[size_t(i)], float(double(logits[idx[size_t(i)]]) - lse)};
  return out;
}

int32_t Sampler::sample(const float* logits, int64_t vocab) {
  if (p_.temperature <= 0.0f) return argmax(logits, vocab);
  std::vector<int32_t> idx(static_cast<size_t>(vocab));
  std::iota(idx.begin(), idx.end(), 0);
  int64_t n = vocab;
  if (p_.top_k > 0 && p_.top_k < n) {
    std::partial_sort(idx.begin(), idx.begin() + p_.top_k, idx.end(),
                      [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
    n = p_.top_k;
  } else {
    std::sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  }
  // Softmax over the kept candidates (sorted by descending logit), at the temperature.
  std::vector<double> prob(static_cast<size_t>(n));
  const double mx = logits[idx[0]];
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    prob[size_t(i)] = std::exp((double(logits[idx[size_t(i)]]) - mx) / p_.temperature);
    sum += prob[size_t(i)];
  }
  // Top-p: the smallest prefix whose mass reaches top_p (at least one token).
  if (p_.top_p < 1.0f) {
    double acc = 0.0;
    int64_t keep = n;
    for (int64_t i = 0; i < n; ++i) {
      acc += prob[size_t(i)] / sum;
      if (acc >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
    n = keep;
    sum = std::accumulate(prob.begin(), prob.begin() + n, 0.0);
  }
  std::uniform_real_distribution<double> uni(0.0, sum);
  double r = uni(rng_);
  for (int64_t i = 0; i < n; ++i) {
    r -= prob[size_t(i)];
    if (r <= 0.0) return idx[size_t(i)];
  }
  return idx[size_t(n - 1)];
}

}  // namespace quanta
