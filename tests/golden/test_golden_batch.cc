// Golden batched step on SmolLM2-135M-Instruct: three chat prompts of different lengths run
// together through forward_batch (chunked prefill mixed with decode, paged KV cache) give the same
// logits as each run alone through LlamaModel::forward, and the same greedy continuation.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "io/tokenizer.h"
#include "model/llama.h"

namespace quanta {
namespace {

const std::string kModelDir = QUANTA_SOURCE_DIR "/models/smollm2-135m-instruct";

// Max |logit difference| between the batched step and the sequence alone, relative to max |logit|.
// F32 KV: the same math in another order (stacked matmuls, paged vs contiguous attention).
constexpr float kBatchF32KvTol = 1e-4f;
// F16 KV: both sides round K/V to f16, but from f32 values that differ in their last bits, so a
// few elements round to neighbouring f16 values (2^-11 relative) and the logits move by more
// (measured up to 1.7e-3 under SmolLM2).
constexpr float kBatchF16KvTol = 5e-3f;

void check_batched_step_matches_forward_alone(DType kv_type, float tol) {
  LlamaModel m = LlamaModel::load(kModelDir);
  m.set_kv_type(kv_type);
  const Tokenizer tok = Tokenizer::load(kModelDir);
  const int64_t vocab = m.config().vocab_size;
  const std::vector<std::string> questions = {
      "Hi", "What is the capital of France? Answer in one word.",
      "Write one sentence about the sea, then one about mountains, and explain which you prefer."};
  std::vector<std::vector<int32_t>> seqs;
  for (const auto& q : questions)
    seqs.push_back(tok.encode(tok.apply_chat_template({{"user", q}}, true)));
  PagedKvCache cache = m.make_paged_cache(64, 16);
  std::vector<SeqBlocks> kv(3);
  std::vector<size_t> prompt_len;
  for (const auto& s : seqs) prompt_len.push_back(s.size());
  std::vector<float> logits(3 * static_cast<size_t>(vocab)), ref(static_cast<size_t>(vocab));
  // Each step feeds every sequence its unfed tokens (prompt chunks of at most 24, then its one
  // greedy token) until it has 6 generated tokens.
  constexpr size_t kGen = 6;
  for (int step = 0; step < 40; ++step) {
    std::vector<BatchSeq> batch;
    std::vector<size_t> who;
    for (size_t i = 0; i < 3; ++i) {
      const int64_t unfed = int64_t(seqs[i].size()) - kv[i].n_past;
      if (unfed == 0) continue;
      const int64_t n = std::min<int64_t>(24, unfed);
      ASSERT_TRUE(cache.reserve(kv[i], kv[i].n_past + n));
      batch.push_back({seqs[i].data() + kv[i].n_past, n, &kv[i], true});
      who.push_back(i);
    }
    if (batch.empty()) break;
    m.forward_batch(batch, cache, logits.data());
    for (size_t b = 0; b < who.size(); ++b) {
      const size_t i = who[b];
      KvCache alone = m.make_cache(kv[i].n_past);
      m.forward(seqs[i].data(), kv[i].n_past, alone, ref.data(), 1);
      const float* got = logits.data() + b * size_t(vocab);
      float err = 0, scale = 0;
      for (int64_t v = 0; v < vocab; ++v) {
        err = std::max(err, std::abs(got[v] - ref[size_t(v)]));
        scale = std::max(scale, std::abs(ref[size_t(v)]));
      }
      EXPECT_LT(err / scale, tol) << "step " << step << " prompt " << i << " KV " << dtype_name(kv_type);
      if (kv[i].n_past == int64_t(seqs[i].size()) && seqs[i].size() < prompt_len[i] + kGen) {
        int32_t best = 0;
        for (int64_t v = 1; v < vocab; ++v)
          if (got[v] > got[best]) best = int32_t(v);
        seqs[i].push_back(best);
      }
    }
  }
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seqs[i].size(), prompt_len[i] + kGen);
    EXPECT_EQ(kv[i].n_past, int64_t(prompt_len[i] + kGen));
  }
  // The question with a one-word answer: the batch's greedy continuation names Paris.
  const std::vector<int32_t> answer(seqs[1].begin() + int64_t(prompt_len[1]), seqs[1].end());
  EXPECT_NE(tok.decode(answer).find("Paris"), std::string::npos) << tok.decode(answer);
}

TEST(GoldenBatch, BatchedStepMatchesForwardAlone) {
  ASSERT_TRUE(std::filesystem::exists(kModelDir + "/model.safetensors")) << kModelDir << " is missing";
  check_batched_step_matches_forward_alone(DType::kF32, kBatchF32KvTol);
  check_batched_step_matches_forward_alone(DType::kF16, kBatchF16KvTol);
}

}  // namespace
}  // namespace quanta
