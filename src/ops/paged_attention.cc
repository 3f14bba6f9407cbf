#include "ops/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernels/attention.h"

namespace quanta::ops {

void paged_attention(const float* q, const PagedSeq* seqs, int64_t n_seqs, const KvLayer& kv,
                     int64_t block_size, const AttentionShape& s, float* out, ThreadPool& pool) {
  check_kv_layer(kv, "paged attention");
  const int64_t hd = s.head_dim;
  const int64_t group = s.n_heads / s.n_heads_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  const kernels::Isa isa = kernels::active_isa();
  // Tasks are (query row, KV head) pairs over all sequences; starts[i] = first task of sequence i.
  // A task runs the group's query heads together, so K/V are read once per KV head.
  std::vector<int64_t> starts(size_t(n_seqs + 1), 0);
  for (int64_t i = 0; i < n_seqs; ++i)
    starts[size_t(i + 1)] = starts[size_t(i)] + seqs[i].n_q * s.n_heads_kv;
  pool.parallel_for(starts.back(), [&](int64_t begin, int64_t end, int) {
    std::vector<float> state(size_t(group * (hd + 2)));
    float* m = state.data();
    float* l = m + group;
    float* acc = l + group;
    int64_t si = std::upper_bound(starts.begin(), starts.end(), begin) - starts.begin() - 1;
    for (int64_t task = begin; task < end; ++task) {
      while (task >= starts[size_t(si + 1)]) ++si;
      const PagedSeq& sq = seqs[si];
      const int64_t local = task - starts[size_t(si)];
      const int64_t t = local / s.n_heads_kv, kvh = local % s.n_heads_kv;
      const int64_t n_keys = sq.pos0 + t + 1;
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, n_keys - s.window) : 0;
      const int64_t row = sq.q_begin + t;
      kernels::attend_init(group, hd, m, l, acc);
      // Rows j of the sequence sit in block block_table[j / block_size], slot j % block_size: one
      // kernel call per run of positions within a block.
      for (int64_t j = first; j < n_keys;) {
        const int64_t slot = j % block_size;
        const int64_t run = std::min(block_size - slot, n_keys - j);
        const int64_t pos = int64_t(sq.block_table[j / block_size]) * block_size + slot;
        kernels::attend_update(q + (row * s.n_heads + kvh * group) * hd, group, hd, scale,
                               kv_rows_at(kv, pos, kvh, s), run, m, l, acc, isa);
        j += run;
      }
      kernels::attend_finish(group, hd, l, acc, out + (row * s.n_heads + kvh * group) * hd, hd);
    }
  });
}

}  // namespace quanta::ops
