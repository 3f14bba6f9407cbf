// HellaSwag: the 6-line parser and its errors, and item scoring (shared prefix run once, endings
// continued from its cache) against a direct computation: each full candidate run from an empty
// cache, log-softmax of every scored token taken from the logits of the position before it.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/hellaswag.h"
#include "test_util.h"
#include "tiny_llama.h"

namespace quanta {
namespace {

using testing_util::error_of;

const char* kTwoItems =
    "Roof: A man is on a roof. he\n3\nsits.\nfalls off.\nwaves.\nstarts pulling up roofing.\n"
    "Clean and jerk: A lady walks to a barbell. she\n0\nlifts it.\ndrops it.\nsings.\nleaves the gym now.\n";

TEST(Hellaswag, ParsesSixLinesPerItem) {
  const auto items = parse_hellaswag(kTwoItems, "hs.txt");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].context, "Roof: A man is on a roof. he");
  EXPECT_EQ(items[0].gold, 3);
  EXPECT_EQ(items[0].endings[1], "falls off.");
  EXPECT_EQ(items[1].gold, 0);
  EXPECT_EQ(items[1].endings[3], "leaves the gym now.");
  EXPECT_EQ(parse_hellaswag(kTwoItems, "hs.txt", 1).size(), 1u);
}

TEST(Hellaswag, MalformedFilesNameTheProblem) {
  EXPECT_NE(error_of([] { parse_hellaswag("", "hs.txt"); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([] { parse_hellaswag("ctx\n1\na\nb\nc\n", "hs.txt"); }).find("5 lines, not a multiple of 6"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_hellaswag("ctx\n4\na\nb\nc\nd\n", "hs.txt"); })
                .find("hs.txt:2: item 0: gold label '4' is not 0, 1, 2 or 3"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_hellaswag("ctx\nx1\na\nb\nc\nd\n", "hs.txt"); }).find("gold label 'x1'"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_hellaswag("ctx\n1\na\n\nc\nd\n", "hs.txt"); }).find("hs.txt:4: item 0: ending 1 is empty"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_hellaswag("\n1\na\nb\nc\nd\n", "hs.txt"); }).find("empty context"),
            std::string::npos);
  EXPECT_NE(error_of([] { load_hellaswag("/nonexistent/hs.txt"); }).find("/nonexistent/hs.txt"), std::string::npos);
}

// Sum of log p(seq[j] | seq[..j]) for j in [from, n), each full sequence run from an empty cache.
double direct_logprob(LlamaModel& m, const std::vector<int32_t>& seq, int64_t from) {
  const int64_t n = int64_t(seq.size()), vocab = m.config().vocab_size;
  KvCache cache = m.make_cache(n);
  std::vector<float> logits(size_t(n * vocab));
  m.forward(seq.data(), n, cache, logits.data(), n);
  double s = 0;
  for (int64_t j = from; j < n; ++j) {
    const float* l = logits.data() + (j - 1) * vocab;
    double z = 0;
    for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(l[v]));
    s += double(l[seq[size_t(j)]]) - std::log(z);
  }
  return s;
}

TEST(Hellaswag, ScoresMatchADirectComputation) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir() + "/m");
  LlamaModel m = LlamaModel::load(dir);
  const Tokenizer tok = Tokenizer::load(dir);
  const auto items = parse_hellaswag(kTwoItems, "hs.txt");
  const HellaswagResult r = hellaswag_eval(m, tok, items);
  ASSERT_EQ(r.items.size(), 2u);
  int correct = 0, correct_norm = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const HellaswagTokens t = hellaswag_tokens(items[i], tok);
    // Byte-level tokenizer: the common prefix is the context + " " (and any shared ending bytes).
    EXPECT_GE(t.common_prefix, int64_t(items[i].context.size() + 1));
    std::array<double, 4> sum{}, mean{};
    for (size_t s = 0; s < 4; ++s) {
      EXPECT_EQ(t.seqs[s], tok.encode(items[i].context + " " + items[i].endings[s], true));
      sum[s] = direct_logprob(m, t.seqs[s], t.common_prefix);
      const int64_t n = int64_t(t.seqs[s].size()) - t.common_prefix;
      mean[s] = sum[s] / double(n);
      EXPECT_EQ(r.items[i].n_tokens[s], n);
      EXPECT_NEAR(r.items[i].logprob_sum[s], sum[s], 1e-3 * std::abs(sum[s]) + 1e-4) << i << " " << s;
    }
    const int pred = int(std::max_element(sum.begin(), sum.end()) - sum.begin());
    const int pred_norm = int(std::max_element(mean.begin(), mean.end()) - mean.begin());
    EXPECT_EQ(r.items[i].pred, pred);
    EXPECT_EQ(r.items[i].pred_norm, pred_norm);
    correct += pred == items[i].gold;
    correct_norm += pred_norm == items[i].gold;
  }
  EXPECT_EQ(r.n_correct, correct);
  EXPECT_EQ(r.n_correct_norm, correct_norm);
  EXPECT_DOUBLE_EQ(r.acc_norm, correct_norm / 2.0);
}

}  // namespace
}  // namespace quanta
