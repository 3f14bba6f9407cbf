#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/matmul.h"
#include "ops/attention_row.h"

namespace quanta::ops {

namespace {

// Decode and short chunks: one query at a time, dot products against each cached key.
void attention_rows(const float* q, int64_t T, int64_t pos0, const float* k, const float* v,
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
      attend_one_query(
          q + (t * s.n_heads + h) * hd, first, n_keys, hd, scale,
          [&](int64_t j) { return k + j * kv_stride + kvh * hd; },
          [&](int64_t j) { return v + j * kv_stride + kvh * hd; }, scores.data(),
          out + t * s.n_heads * hd + h * hd, isa);
    }
  });
}

// Prefill: per query head, S = Q_h K_h^T and O_h = softmax(S) V_h as two matmuls over
// contiguous copies of the head's Q, K and V^T (the masked upper triangle is computed and
// discarded: cheaper than a dot product call per key).
void attention_blocked(const float* q, int64_t T, int64_t pos0, const float* k, const float* v,
                       const AttentionShape& s, float* out, ThreadPool& pool) {
  const int64_t hd = s.head_dim, n_keys = pos0 + T;
  const int64_t group = s.n_heads / s.n_heads_kv;
  const int64_t kv_stride = s.n_heads_kv * hd, q_stride = s.n_heads * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  const kernels::Isa isa = kernels::active_isa();
  pool.parallel_for(s.n_heads, [&](int64_t h0, int64_t h1, int) {
    std::vector<float> qh(static_cast<size_t>(T * hd)), kh(static_cast<size_t>(n_keys * hd));
    std::vector<float> vt(static_cast<size_t>(hd * n_keys)), sc(static_cast<size_t>(T * n_keys));
    int64_t loaded_kv = -1;
    for (int64_t h = h0; h < h1; ++h) {
      const int64_t kvh = h / group;
      if (kvh != loaded_kv) {
        for (int64_t j = 0; j < n_keys; ++j)
          for (int64_t i = 0; i < hd; ++i) {
            kh[size_t(j * hd + i)] = k[j * kv_stride + kvh * hd + i];
            vt[size_t(i * n_keys + j)] = v[j * kv_stride + kvh * hd + i];
          }
        loaded_kv = kvh;
      }
      for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < hd; ++i) qh[size_t(t * hd + i)] = q[t * q_stride + h * hd + i] * scale;
      kernels::matmul(qh.data(), T, hd, kh.data(), DType::kF32, 0, n_keys, sc.data(), n_keys, isa);
      for (int64_t t = 0; t < T; ++t) {
        float* row = sc.data() + t * n_keys;
        const int64_t last = pos0 + t;  // keys 0..last are visible
        const int64_t first = s.window > 0 ? std::max<int64_t>(0, last + 1 - s.window) : 0;
        float mx = -INFINITY;
        for (int64_t j = first; j <= last; ++j) mx = std::max(mx, row[j]);
        float sum = 0.0f;
        for (int64_t j = 0; j < n_keys; ++j) {
          const float e = (j >= first && j <= last) ? std::exp(row[j] - mx) : 0.0f;
          row[j] = e;
          sum += e;
        }
        const float inv = 1.0f / sum;
        for (int64_t j = first; j <= last; ++j) row[j] *= inv;
      }
      kernels::matmul(sc.data(), T, n_keys, vt.data(), DType::kF32, 0, hd, out + h * hd, q_stride, isa);
    }
  });
}

// From this many new tokens on, the blocked (matmul) path is used.
constexpr int64_t kBlockedFrom = 16;

}  // namespace

void attention(const float* q, int64_t T, int64_t pos0, const float* k, const float* v,
               const AttentionShape& s, float* out, ThreadPool& pool) {
  if (T >= kBlockedFrom)
    attention_blocked(q, T, pos0, k, v, s, out, pool);
  else
    attention_rows(q, T, pos0, k, v, s, out, pool);
}

}  // namespace quanta::ops
