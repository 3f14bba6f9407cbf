#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "runtime/sampler.h"

namespace quanta {
namespace {

TEST(Sampler, GreedyPicksArgmax) {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 2.0f, 1.5f};
  Sampler s(SamplingParams{});
  EXPECT_EQ(s.sample(logits.data(), 5), 1);  // first of the ties
}

TEST(Sampler, SeedReproducesAndTopKRestricts) {
  const std::vector<float> logits = {1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 2;
  p.seed = 42;
  Sampler a(p), b(p);
  std::map<int, int> counts;
  for (int i = 0; i < 500; ++i) {
    const int32_t x = a.sample(logits.data(), 6);
    EXPECT_EQ(x, b.sample(logits.data(), 6));
    counts[x]++;
  }
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GT(counts[0], counts[1]);  // e^0.1 more likely
}

TEST(Sampler, TopPKeepsSmallestPrefix) {
  // probabilities ~ [0.665, 0.245, 0.090]: top_p 0.6 keeps only the first.
  const std::vector<float> logits = {2.0f, 1.0f, 0.0f};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.6f;
  p.seed = 7;
  Sampler s(p);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(logits.data(), 3), 0);
}

TEST(Sampler, TopLogprobsAreLogSoftmaxMostLikelyFirst) {
  // logits (vocab 5) with a tie between ids 1 and 3; log-softmax computed by hand in double.
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 2.0f, 1.25f};
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l));
  const auto top = top_logprobs(logits.data(), 5, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].id, 1);  // tie: lower id first
  EXPECT_EQ(top[1].id, 3);
  EXPECT_EQ(top[2].id, 4);
  for (const auto& t : top) EXPECT_NEAR(t.logprob, logits[size_t(t.id)] - std::log(sum), 1e-6) << t.id;
  EXPECT_EQ(top_logprobs(logits.data(), 5, 9).size(), 5u);  // k > vocab: all of them
  EXPECT_TRUE(top_logprobs(logits.data(), 5, 0).empty());
  // Far-apart logits stay finite (shifted log-sum-exp).
  const std::vector<float> wide = {1000.0f, 0.0f};
  const auto w = top_logprobs(wide.data(), 2, 2);
  EXPECT_NEAR(w[0].logprob, 0.0f, 1e-6);
  EXPECT_NEAR(w[1].logprob, -1000.0f, 1e-3);
}

}  // namespace
}  // namespace quanta
