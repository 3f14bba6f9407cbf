// HellaSwag multiple choice (the 6-lines-per-item file llama.cpp's `llama-perplexity --hellaswag`
// reads: "activity_label: ctx", the gold label 0-3, then the four endings, one per line).
//
// Scoring follows llama.cpp so the numbers compare: each candidate is tokenized as
// context + " " + ending (with the tokenizer's special tokens, e.g. BOS if it adds one); the
// tokens after the longest prefix common to all four candidates are scored by their
// log-probability given everything before them. Per ending, over those n_s tokens:
//   acc      picks argmax_s  sum_t log p(t)          (raw log-likelihood)
//   acc_norm picks argmax_s (sum_t log p(t)) / n_s   (mean log-prob per token: llama.cpp's
//            "acc_norm"; lm-evaluation-harness normalises by the ending's bytes instead)
// Ties go to the lowest index, as in llama.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/tokenizer.h"
#include "model/llama.h"

namespace quanta {

struct HellaswagItem {
  std::string context;
  int gold = 0;  // 0..3
  std::array<std::string, 4> endings;
};

// Parses the whole file text; `source` names it in errors ("FILE:LINE: ..."). Throws
// quanta::Error on a line count that is not a multiple of 6, a label that is not 0-3, or an empty
// context/ending. max_items > 0 keeps only the first max_items.
std::vector<HellaswagItem> parse_hellaswag(const std::string& text, const std::string& source,
                                           int64_t max_items = 0);
std::vector<HellaswagItem> load_hellaswag(const std::string& path, int64_t max_items = 0);

struct HellaswagItemScore {
  std::array<double, 4> logprob_sum{};  // over the scored tokens of each candidate
  std::array<int64_t, 4> n_tokens{};    // scored tokens of each candidate
  int pred = 0, pred_norm = 0;          // argmax of the sum / of the mean
};

struct HellaswagResult {
  int64_t n_items = 0, n_correct = 0, n_correct_norm = 0;
  double acc = 0, acc_norm = 0;  // fractions
  double seconds = 0;
  std::vector<HellaswagItemScore> items;
};

// Token sequences of one item's four candidates and their common prefix length. Throws
// quanta::Error if a candidate adds no token after the common prefix or the prefix is empty.
struct HellaswagTokens {
  std::array<std::vector<int32_t>, 4> seqs;
  int64_t common_prefix = 0;
};
HellaswagTokens hellaswag_tokens(const HellaswagItem& item, const Tokenizer& tok);

// Scores one item: the common prefix runs once, then each candidate's remaining tokens continue
// from the prefix's KV cache.
HellaswagItemScore hellaswag_score_item(LlamaModel& model, const HellaswagTokens& t, KvCache& cache);

// progress(done_items, total_items).
HellaswagResult hellaswag_eval(LlamaModel& model, const Tokenizer& tok,
                               const std::vector<HellaswagItem>& items,
                               const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace quanta
