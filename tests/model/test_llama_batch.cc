// Batched steps over the paged KV cache (forward_batch) against LlamaModel::forward run on each
// sequence alone: mixed chunked prefill and decode, block tables that cross block boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "model/llama.h"
#include "test_util.h"
#include "tiny_llama.h"

namespace quanta {
namespace {

// Logits of the last token of tokens[0..n) computed by forward on a fresh contiguous cache.
std::vector<float> reference_logits(LlamaModel& m, const std::vector<int32_t>& tokens, int64_t n) {
  KvCache cache = m.make_cache(n);
  std::vector<float> out(static_cast<size_t>(m.config().vocab_size));
  m.forward(tokens.data(), n, cache, out.data(), 1);
  return out;
}

float max_rel_err(const float* a, const float* b, int64_t n) {
  float num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    num = std::max(num, std::abs(a[i] - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / den;
}

// The same schedule for each KV dtype (the paged and the contiguous cache store the same rows in
// it: F16 rounded, or INT8 codes and scales).
void check_mixed_schedule(LlamaModel& m, DType kv_type) {
  m.set_kv_type(kv_type);
  SCOPED_TRACE(std::string("KV ") + std::string(dtype_name(kv_type)));
  const int64_t vocab = m.config().vocab_size;
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> tok(3, int32_t(vocab - 1));
  // Three sequences of different lengths, each consumed by a chunk schedule (0: idle that step).
  std::vector<std::vector<int32_t>> seq(3);
  const std::vector<std::vector<int64_t>> chunks = {
      {5, 1, 1, 1, 1}, {10, 9, 1, 0, 1}, {7, 20, 13, 1, 1}};
  for (size_t i = 0; i < 3; ++i) {
    int64_t n = 0;
    for (int64_t c : chunks[i]) n += c;
    for (int64_t j = 0; j < n; ++j) seq[i].push_back(tok(rng));
  }
  PagedKvCache cache = m.make_paged_cache(64, 4);  // small blocks: many boundaries
  std::vector<SeqBlocks> kv(3);
  for (size_t step = 0; step < chunks[0].size(); ++step) {
    std::vector<BatchSeq> batch;
    std::vector<size_t> which;
    for (size_t i = 0; i < 3; ++i) {
      const int64_t n = chunks[i][step];
      if (n == 0) continue;
      ASSERT_TRUE(cache.reserve(kv[i], kv[i].n_past + n));
      batch.push_back({seq[i].data() + kv[i].n_past, n, &kv[i], true});
      which.push_back(i);
    }
    std::vector<float> logits(batch.size() * size_t(vocab));
    m.forward_batch(batch, cache, logits.data());
    for (size_t b = 0; b < which.size(); ++b) {
      const size_t i = which[b];
      const std::vector<float> ref = reference_logits(m, seq[i], kv[i].n_past);
      EXPECT_LT(max_rel_err(logits.data() + b * size_t(vocab), ref.data(), vocab), 1e-4f)
          << "step " << step << " sequence " << i;
    }
  }
  const int64_t used = cache.n_used();
  EXPECT_EQ(used, cache.blocks_for(kv[0].n_past) + cache.blocks_for(kv[1].n_past) +
                      cache.blocks_for(kv[2].n_past));
  for (auto& s : kv) cache.release(s);
  EXPECT_EQ(cache.n_used(), 0);
}

TEST(LlamaBatch, MixedPrefillAndDecodeMatchesForward) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir());
  LlamaModel m = LlamaModel::load(dir);
  check_mixed_schedule(m, DType::kF16);
  check_mixed_schedule(m, DType::kI8);
}

TEST(LlamaBatch, OnlyRequestedLogitsAreWritten) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir());
  LlamaModel m = LlamaModel::load(dir);
  const int64_t vocab = m.config().vocab_size;
  PagedKvCache cache = m.make_paged_cache(16, 16);
  std::vector<int32_t> a = {5, 6, 7, 8}, b = {9, 10, 11};
  SeqBlocks ka, kb;
  ASSERT_TRUE(cache.reserve(ka, 4));
  ASSERT_TRUE(cache.reserve(kb, 3));
  std::vector<float> logits(static_cast<size_t>(vocab));
  m.forward_batch({{a.data(), 4, &ka, false}, {b.data(), 3, &kb, true}}, cache, logits.data());
  const std::vector<float> ref = reference_logits(m, b, 3);
  EXPECT_LT(max_rel_err(logits.data(), ref.data(), vocab), 1e-4f);
  EXPECT_EQ(ka.n_past, 4);
  EXPECT_EQ(kb.n_past, 3);
}

TEST(PagedKvCache, ReserveAndReleaseUseTheFreeList) {
  PagedKvCache cache(2, 5, 4, 2, 8);
  SeqBlocks a, b;
  EXPECT_TRUE(cache.reserve(a, 9));  // 3 blocks
  EXPECT_EQ(a.table.size(), 3u);
  EXPECT_EQ(cache.n_used(), 3);
  EXPECT_FALSE(cache.reserve(b, 12));  // 3 more: only 2 free
  EXPECT_TRUE(b.table.empty());
  EXPECT_TRUE(cache.reserve(b, 8));
  EXPECT_EQ(cache.n_free(), 0);
  cache.release(a);
  EXPECT_EQ(cache.n_free(), 3);
  EXPECT_TRUE(cache.reserve(a, 1));
  // Distinct blocks: no position of a aliases one of b.
  for (int32_t x : a.table) EXPECT_EQ(std::count(b.table.begin(), b.table.end(), x), 0);
  EXPECT_NE(testing_util::error_of([] { PagedKvCache(1, 0, 16, 1, 1); }), "");
}

TEST(LlamaBatch, UnreservedSequenceIsAnError) {
  const std::string dir = testing_util::write_tiny_llama(testing_util::temp_dir());
  LlamaModel m = LlamaModel::load(dir);
  PagedKvCache cache = m.make_paged_cache(4, 4);
  std::vector<int32_t> a = {5, 6, 7, 8, 9};
  SeqBlocks ka;
  ASSERT_TRUE(cache.reserve(ka, 4));
  EXPECT_NE(testing_util::error_of([&] { m.forward_batch({{a.data(), 5, &ka, true}}, cache, nullptr); })
                .find("reserved"),
            std::string::npos);
}

}  // namespace
}  // namespace quanta
