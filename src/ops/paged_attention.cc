#include "ops/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"

namespace quanta::ops {

void paged_attention(const float* q, const PagedSeq* seqs, int64_t n_seqs, const float* k_pool,
                     const float* v_pool, int64_t block_size, const AttentionShape& s, float* out,
                     ThreadPool& pool) {
  const int64_t hd = s.head_dim;
  const int64_t group = s.n_heads / s.n_heads_kv;
  const int64_t kv_stride = s.n_heads_kv * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  const kernels::Isa isa = kernels::active_isa();
  // Tasks are (query row, head) pairs over all sequences; starts[i] = first task of sequence i.
  std::vector<int64_t> starts(size_t(n_seqs + 1), 0);
  int64_t max_keys = 0;
  for (int64_t i = 0; i < n_seqs; ++i) {
    starts[size_t(i + 1)] = starts[size_t(i)] + seqs[i].n_q * s.n_heads;
    max_keys = std::max(max_keys, seqs[i].pos0 + seqs[i].n_q);
  }
  pool.parallel_for(starts.back(), [&](int64_t begin, int64_t end, int) {
    std::vector<float> scores(static_cast<size_t>(max_keys));
    std::vector<const float*> krow(static_cast<size_t>(max_keys)), vrow(krow.size());
    int64_t si = std::upper_bound(starts.begin(), starts.end(), begin) - starts.begin() - 1;
    for (int64_t task = begin; task < end; ++task) {
      while (task >= starts[size_t(si + 1)]) ++si;
      const PagedSeq& sq = seqs[si];
      const int64_t local = task - starts[size_t(si)];
      const int64_t t = local / s.n_heads, h = local % s.n_heads;
      const int64_t kvh = h / group;
      const int64_t n_keys = sq.pos0 + t + 1;
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, n_keys - s.window) : 0;
      const float* qv = q + ((sq.q_begin + t) * s.n_heads + h) * hd;
      float mx = -INFINITY;
      for (int64_t j = first; j < n_keys; ++j) {
        const int64_t off = (int64_t(sq.block_table[j / block_size]) * block_size + j % block_size) *
                                kv_stride + kvh * hd;
        krow[size_t(j)] = k_pool + off;
        vrow[size_t(j)] = v_pool + off;
        const float sc = kernels::dot(qv, krow[size_t(j)], hd, isa) * scale;
        scores[size_t(j)] = sc;
        mx = std::max(mx, sc);
      }
      float sum = 0.0f;
      for (int64_t j = first; j < n_keys; ++j) {
        scores[size_t(j)] = std::exp(scores[size_t(j)] - mx);
        sum += scores[size_t(j)];
      }
      float* o = out + (sq.q_begin + t) * s.n_heads * hd + h * hd;
      std::memset(o, 0, sizeof(float) * size_t(hd));
      const float inv = 1.0f / sum;
      for (int64_t j = first; j < n_keys; ++j)
        kernels::axpy(scores[size_t(j)] * inv, vrow[size_t(j)], o, hd, isa);
    }
  });
}

}  // namespace quanta::ops
