// Distance of a compressed model's next-token distribution from the original's, as
// llama-perplexity --kl-divergence reports it: the text is tokenized once and cut into
// non-overlapping windows of `ctx` tokens (as perplexity does); both models run each window from
// an empty cache and, at every position of the window, we take
//   KL(P || Q) = sum_v P(v) (log P(v) - log Q(v))   (P: original, Q: compressed; nats)
// and whether the two argmax tokens agree. Only one window's logits of each model are held.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/llama.h"

namespace quanta {

struct KlOptions {
  int64_t ctx = 512;
  int64_t max_windows = 0;  // 0: all windows
};

struct KlResult {
  double mean_kl = 0;      // nats per token
  double max_kl = 0;       // the largest single-position KL
  double top1_agree = 0;   // fraction of positions where the argmax tokens agree
  int64_t n_tokens = 0, n_windows = 0;
  double seconds = 0;
};

// KL(softmax(p_logits) || softmax(q_logits)) over `vocab` entries, in double.
double token_kl(const float* p_logits, const float* q_logits, int64_t vocab);

// progress(done_windows, total_windows) after each window.
KlResult kl_divergence(LlamaModel& original, LlamaModel& compressed, const std::vector<int32_t>& tokens,
                       const KlOptions& opt, const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace quanta
