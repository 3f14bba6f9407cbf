// KvCache (head-major: each KV head's positions together) read by ops::attention, and
// PagedKvCache (each head's slots of a block together) read by ops::paged_attention, give the same
// bits as the same rows laid out position-major (ops::KvLayer's default strides), at every KV
// dtype; for KvCache on the decode (streamed) and prefill (blocked) paths.
#include <gtest/gtest.h>

#include <vector>

#include "model/kv_cache.h"
#include "model/paged_kv_cache.h"
#include "ops/paged_attention.h"
#include "ops/attention.h"
#include "test_util.h"

namespace quanta {
namespace {

TEST(KvCache, HeadMajorLayoutMatchesPositionMajor) {
  ThreadPool pool(2);
  const ops::AttentionShape s{6, 3, 16, 0};
  const int64_t layers = 2, capacity = 300, row = s.n_heads_kv * s.head_dim;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kI8}) {
    for (int64_t pos0 : {int64_t(0), int64_t(9), int64_t(280)}) {
      // T = 1: the streamed decode path (split over the threads at 280 keys); T = 20: blocked.
      for (int64_t T : {int64_t(1), int64_t(20)}) {
        const int64_t n = pos0 + T;
        if (n > capacity) continue;
        KvCache cache(layers, capacity, s.n_heads_kv, s.head_dim, t);
        const auto k = testing_util::normal_floats(size_t(layers * n * row), 1), v = testing_util::normal_floats(k.size(), 2);
        // Written in two calls (a prompt, then the new tokens), as forward does.
        for (int64_t l = 0; l < layers; ++l) {
          const float* kl = k.data() + l * n * row;
          const float* vl = v.data() + l * n * row;
          cache.write(l, 0, kl, vl, pos0);
          cache.write(l, pos0, kl + pos0 * row, vl + pos0 * row, T);
        }
        const auto q = testing_util::normal_floats(size_t(T * s.n_heads * s.head_dim), 3);
        for (int64_t l = 0; l < layers; ++l) {
          // The same rows position-major: (n, n_heads_kv, hd) and scales (n, n_heads_kv).
          std::vector<uint8_t> kb(size_t(n * row) * dtype_size(t)), vb(kb.size());
          std::vector<float> ks(size_t(n * s.n_heads_kv)), vs(ks.size());
          const bool i8 = t == DType::kI8;
          store_kv_rows(k.data() + l * n * row, n * s.n_heads_kv, s.head_dim, t, kb.data(),
                        i8 ? ks.data() : nullptr);
          store_kv_rows(v.data() + l * n * row, n * s.n_heads_kv, s.head_dim, t, vb.data(),
                        i8 ? vs.data() : nullptr);
          const ops::KvLayer pm{kb.data(), vb.data(), t, ks.data(), vs.data()};
          std::vector<float> want(q.size()), got(q.size());
          ops::attention(q.data(), T, pos0, pm, s, want.data(), pool);
          ops::attention(q.data(), T, pos0, cache.layer(l), s, got.data(), pool);
          ASSERT_EQ(got, want) << dtype_name(t) << " pos0 " << pos0 << " T " << T << " layer " << l;
        }
      }
    }
  }
}

TEST(PagedKvCache, BlockHeadMajorLayoutMatchesPositionMajor) {
  ThreadPool pool(2);
  const ops::AttentionShape s{6, 3, 16, 0};
  const int64_t bs = 4, n_blocks = 9, row = s.n_heads_kv * s.head_dim;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kI8}) {
    PagedKvCache cache(2, n_blocks, bs, s.n_heads_kv, s.head_dim, t);
    SeqBlocks keep, seq;
    ASSERT_TRUE(cache.reserve(keep, 6));  // 2 blocks held by another sequence
    ASSERT_TRUE(cache.reserve(seq, 23));  // 6 blocks, not in position order of the pool
    const int64_t n = 23, T = 3;
    const auto k = testing_util::normal_floats(size_t(n * row), 4), v = testing_util::normal_floats(k.size(), 5);
    for (int64_t p = 0; p < n; ++p) cache.write(1, seq, p, k.data() + p * row, v.data() + p * row);
    // The same rows position-major in a pool of the same blocks: slot (block * bs + p % bs).
    std::vector<uint8_t> kb(size_t(n_blocks * bs * row) * dtype_size(t)), vb(kb.size());
    std::vector<float> ks(size_t(n_blocks * bs * s.n_heads_kv)), vs(ks.size());
    const bool i8 = t == DType::kI8;
    for (int64_t p = 0; p < n; ++p) {
      const int64_t slot = int64_t(seq.table[size_t(p / bs)]) * bs + p % bs;
      const size_t at = size_t(slot * row) * dtype_size(t);
      store_kv_rows(k.data() + p * row, s.n_heads_kv, s.head_dim, t, kb.data() + at,
                    i8 ? ks.data() + slot * s.n_heads_kv : nullptr);
      store_kv_rows(v.data() + p * row, s.n_heads_kv, s.head_dim, t, vb.data() + at,
                    i8 ? vs.data() + slot * s.n_heads_kv : nullptr);
    }
    const ops::KvLayer pm{kb.data(), vb.data(), t, ks.data(), vs.data()};
    const ops::PagedSeq ps{0, T, n - T, seq.table.data()};
    const auto q = testing_util::normal_floats(size_t(T * s.n_heads * s.head_dim), 6);
    std::vector<float> want(q.size()), got(q.size());
    ops::paged_attention(q.data(), &ps, 1, pm, bs, s, want.data(), pool);
    ops::paged_attention(q.data(), &ps, 1, cache.layer(1), bs, s, got.data(), pool);
    ASSERT_EQ(got, want) << dtype_name(t);
  }
}

}  // namespace
}  // namespace quanta
