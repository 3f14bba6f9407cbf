// KvCache (head-major: each KV head's positions together) read by ops::attention gives the same
// bits as the same rows laid out position-major (ops::KvLayer's default strides, the paged
// cache's layout), at every KV dtype, on the decode (streamed) and prefill (blocked) paths.
#include <gtest/gtest.h>

#include <vector>

#include "model/kv_cache.h"
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

}  // namespace
}  // namespace quanta
