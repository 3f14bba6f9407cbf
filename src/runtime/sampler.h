// Token sampling from logits: greedy (temperature 0), or temperature + top-k + top-p with a
// seeded generator (same seed, same logits -> same tokens).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace quanta {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}
  // logits (vocab,) -> token id.
  int32_t sample(const float* logits, int64_t vocab);

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
};

// Index of the largest logit (the first on ties).
int32_t argmax(const float* logits, int64_t n);

struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;  // natural log of softmax(logits)[id], temperature 1 (as OpenAI/vLLM report)
};

// The k most likely tokens of logits (vocab,), most likely first (ties: lower id first).
std::vector<TokenLogprob> top_logprobs(const float* logits, int64_t vocab, int k);

}  // namespace quanta
