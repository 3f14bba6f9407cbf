// Perplexity over non-overlapping windows (the GPTQ paper's and llama.cpp's convention):
// the text is tokenized once (no BOS), cut into windows of `ctx` tokens (a last partial window is
// dropped), each window is run from an empty cache, and exp(mean NLL) is reported over
//   - kAllButFirst: every token after the first of each window (predictions from positions
//     0..ctx-2), or
//   - kSecondHalf: only tokens ctx/2+1 .. ctx-1 of each window, as llama-perplexity scores.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/llama.h"

namespace quanta {

enum class PplScoring { kAllButFirst, kSecondHalf };

struct PplOptions {
  int64_t ctx = 512;
  int64_t max_windows = 0;  // 0: all windows
  PplScoring scoring = PplScoring::kAllButFirst;
};

struct PplResult {
  double ppl = 0;
  double nll_sum = 0;
  int64_t n_scored = 0;
  int64_t n_windows = 0;
  double seconds = 0;
};

// progress(done_windows, total_windows) after each window.
PplResult perplexity(LlamaModel& model, const std::vector<int32_t>& tokens, const PplOptions& opt,
                     const std::function<void(int64_t, int64_t)>& progress = {});

// -log softmax(logits)[target]: the max and exp(logit - max) by the SIMD kernels of kernels/vexp.h
// (exp within kExpRelTol of std::exp), their sum and the log in double.
double token_nll(const float* logits, int64_t vocab, int32_t target);

}  // namespace quanta
