#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/matmul.h"

namespace quanta::ops {

void attention(const float* q, int64_t T, int64_t pos0, const float* k, const float* v,
               const AttentionShape& s, float* out, ThreadPool& pool) {
  const int64_t hd = s.head_dim;
  const int64_t group = s.n_heads / s.n_heads_kv;
  const int64_t kv_stride = s.n_heads_kv * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  const kernels::Isa isa = kernels::active_isa();
  pool.parallel_for(T * s.n_heads, [&](int64_t begin, int64_t end, int) {
    std::vector<float> scores(static_cast<size_t>(pos0 + T));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / s.n_heads;
      const int64_t h = task % s.n_heads;
      const int64_t kvh = h / group;
      const int64_t n_keys = pos0 + t + 1;
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, n_keys - s.window) : 0;
      const float* qv = q + (t * s.n_heads + h) * hd;
      float mx = -INFINITY;
      for (int64_t j = first; j < n_keys; ++j) {
        const float sc = kernels::dot(qv, k + j * kv_stride + kvh * hd, hd, isa) * scale;
        scores[j] = sc;
        mx = std::max(mx, sc);
      }
      float sum = 0.0f;
      for (int64_t j = first; j < n_keys; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
      }
      float* o = out + t * s.n_heads * hd + h * hd;
      std::memset(o, 0, sizeof(float) * hd);
      const float inv = 1.0f / sum;
      for (int64_t j = first; j < n_keys; ++j)
        kernels::axpy(scores[j] * inv, v + j * kv_stride + kvh * hd, o, hd, isa);
    }
  });
}

}  // namespace quanta::ops
