// token_nll (eval/perplexity.h) against a direct long-double computation of -log softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "eval/perplexity.h"

namespace quanta {
namespace {

long double direct_nll(const std::vector<float>& z, int32_t target) {
  long double mx = z[0];
  for (float v : z) mx = std::max(mx, static_cast<long double>(v));
  long double sum = 0;
  for (float v : z) sum += std::exp(static_cast<long double>(v) - mx);
  return std::log(sum) + mx - z[size_t(target)];
}

// Lengths around the kernels' 8/16-lane steps and the 1024-logit chunks, up to SmolLM2's vocabulary;
// targets at the max, the min and elsewhere; logits spread over 50 nats, and all equal (log n).
TEST(Perplexity, TokenNllMatchesADirectComputation) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> d(-20.0f, 30.0f);
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(33), int64_t(1000), int64_t(1025), int64_t(49152)}) {
    std::vector<float> z(static_cast<size_t>(n));
    for (float& v : z) v = d(rng);
    int32_t hi = 0, lo = 0;
    for (int32_t i = 0; i < n; ++i) {
      if (z[size_t(i)] > z[size_t(hi)]) hi = i;
      if (z[size_t(i)] < z[size_t(lo)]) lo = i;
    }
    for (int32_t t : {hi, lo, int32_t(n / 2)}) {
      const long double want = direct_nll(z, t);
      EXPECT_NEAR(token_nll(z.data(), n, t), double(want), 1e-5 + 1e-6 * double(want)) << "n=" << n << " t=" << t;
    }
    const std::vector<float> flat(static_cast<size_t>(n), 3.0f);
    EXPECT_NEAR(token_nll(flat.data(), n, 0), std::log(double(n)), 1e-6) << "n=" << n;
  }
}

}  // namespace
}  // namespace quanta
