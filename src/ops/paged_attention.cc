#include "ops/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "ops/attention_row.h"

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
    int64_t si = std::upper_bound(starts.begin(), starts.end(), begin) - starts.begin() - 1;
    for (int64_t task = begin; task < end; ++task) {
      while (task >= starts[size_t(si + 1)]) ++si;
      const PagedSeq& sq = seqs[si];
      const int64_t local = task - starts[size_t(si)];
      const int64_t t = local / s.n_heads, h = local % s.n_heads;
      const int64_t kvh = h / group;
      const int64_t n_keys = sq.pos0 + t + 1;
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, n_keys - s.window) : 0;
      // Row j of the sequence sits in block block_table[j / block_size], slot j % block_size.
      auto offset = [&](int64_t j) {
        return (int64_t(sq.block_table[j / block_size]) * block_size + j % block_size) * kv_stride +
               kvh * hd;
      };
      attend_one_query(
          q + ((sq.q_begin + t) * s.n_heads + h) * hd, first, n_keys, hd, scale,
          [&](int64_t j) { return k_pool + offset(j); }, [&](int64_t j) { return v_pool + offset(j); },
          scores.data(), out + (sq.q_begin + t) * s.n_heads * hd + h * hd, isa);
    }
  });
}

}  // namespace quanta::ops
