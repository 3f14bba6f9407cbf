#include <gtest/gtest.h>

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

}  // namespace
}  // namespace quanta
