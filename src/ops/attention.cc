#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/vexp.h"

namespace quanta::ops {

namespace {

// out (n,) = codes (n,) times scale: one head's row of an INT8 KV cache.
void dequant_row(const int8_t* codes, float scale, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(codes[i]) * scale;
}

// Positions per split of one query row's keys: a split is one task, so a decode step (1 row x 3
// KV heads for SmolLM2) still has work for every thread at long contexts; below this many keys the
// merge costs more than the balance gains.
constexpr int64_t kMinSplitKeys = 128;

// Decode and short chunks: per (query row, KV head, split of the keys) the streamed-softmax
// kernel over the group's query heads at once, so K and V are read once per KV head; the splits'
// states are merged afterwards.
void attention_rows(const float* q, int64_t T, int64_t pos0, const KvLayer& kv,
                    const AttentionShape& s, float* out, ThreadPool& pool) {
  const int64_t hd = s.head_dim;
  const int64_t group = s.n_heads / s.n_heads_kv;
  const float scale = 1.0f / std::sqrt(float(hd));
  const kernels::Isa isa = kernels::active_isa();
  const int64_t rows = T * s.n_heads_kv;
  const int64_t max_keys = s.window > 0 ? std::min(pos0 + T, s.window) : pos0 + T;
  const int64_t want = (2 * int64_t(pool.size()) + rows - 1) / rows;
  const int64_t n_split = std::max<int64_t>(1, std::min(want, max_keys / kMinSplitKeys));
  // State per task: m (group), l (group), acc (group, hd).
  const int64_t state = group * (hd + 2);
  std::vector<float> states(size_t(rows * n_split * state));
  pool.parallel_for(rows * n_split, [&](int64_t begin, int64_t end, int) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t row = task / n_split, split = task % n_split;
      const int64_t t = row / s.n_heads_kv, kvh = row % s.n_heads_kv;
      const int64_t n_keys = pos0 + t + 1;
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, n_keys - s.window) : 0;
      const int64_t per = (n_keys - first + n_split - 1) / n_split;
      const int64_t j0 = std::min(n_keys, first + split * per), j1 = std::min(n_keys, j0 + per);
      float* m = states.data() + task * state;
      float* l = m + group;
      float* acc = l + group;
      kernels::attend_init(group, hd, m, l, acc);
      kernels::attend_update(q + (t * s.n_heads + kvh * group) * hd, group, hd, scale,
                             kv_rows_at(kv, j0, kvh, s), j1 - j0, m, l, acc, isa);
    }
  });
  for (int64_t row = 0; row < rows; ++row) {
    float* m = states.data() + row * n_split * state;
    float* l = m + group;
    float* acc = l + group;
    for (int64_t split = 1; split < n_split; ++split) {
      const float* mb = m + split * state;
      kernels::attend_merge(group, hd, m, l, acc, mb, mb + group, mb + 2 * group);
    }
    const int64_t t = row / s.n_heads_kv, kvh = row % s.n_heads_kv;
    kernels::attend_finish(group, hd, l, acc, out + (t * s.n_heads + kvh * group) * hd, hd);
  }
}

// Prefill: K and V converted once to f32 rows; then per (query head, block of kQueryBlock query
// rows) S = Q K^T over only the keys some row of the block sees (causal, and the window), the
// softmax of each row over its own keys, and O = S V. Blocks of many keys go first, so the
// threads' last tasks are the short ones.
void attention_blocked(const float* q, int64_t T, int64_t pos0, const KvLayer& kv,
                       const AttentionShape& s, float* out, ThreadPool& pool) {
  constexpr int64_t kQueryBlock = 64;
  const int64_t hd = s.head_dim, n_keys = pos0 + T;
  const int64_t group = s.n_heads / s.n_heads_kv;
  const int64_t q_stride = s.n_heads * hd;
  const float scale = 1.0f / std::sqrt(float(hd));
  const kernels::Isa isa = kernels::active_isa();
  // kf, vf: (n_heads_kv, n_keys, hd) f32.
  std::vector<float> kf(size_t(s.n_heads_kv * n_keys * hd)), vf(kf.size());
  pool.parallel_for(s.n_heads_kv * n_keys, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const kernels::KvRows row = kv_rows_at(kv, r % n_keys, r / n_keys, s);
      if (kv.type == DType::kI8) {
        dequant_row(static_cast<const int8_t*>(row.k), row.k_scale[0], kf.data() + r * hd, hd);
        dequant_row(static_cast<const int8_t*>(row.v), row.v_scale[0], vf.data() + r * hd, hd);
      } else {
        kernels::to_f32(row.k, kv.type, kf.data() + r * hd, hd, isa);
        kernels::to_f32(row.v, kv.type, vf.data() + r * hd, hd, isa);
      }
    }
  }, 64);
  const int64_t n_blocks = (T + kQueryBlock - 1) / kQueryBlock;
  pool.parallel_for(s.n_heads * n_blocks, [&](int64_t i0, int64_t i1, int) {
    std::vector<float> qb(size_t(kQueryBlock * hd)), sc;
    for (int64_t task = i0; task < i1; ++task) {
      const int64_t blk = n_blocks - 1 - task / s.n_heads, h = task % s.n_heads;
      const int64_t kvh = h / group;
      const int64_t t0 = blk * kQueryBlock, t1 = std::min(T, t0 + kQueryBlock), rows = t1 - t0;
      // Keys [first0, last1] cover every row of the block.
      const int64_t last1 = pos0 + t1 - 1;
      const int64_t first0 = s.window > 0 ? std::max<int64_t>(0, pos0 + t0 + 1 - s.window) : 0;
      const int64_t nk = last1 + 1 - first0;
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t i = 0; i < hd; ++i) qb[size_t((t - t0) * hd + i)] = q[t * q_stride + h * hd + i] * scale;
      sc.resize(size_t(rows * nk));
      const float* kh = kf.data() + (kvh * n_keys + first0) * hd;
      kernels::matmul(qb.data(), rows, hd, kh, DType::kF32, 0, nk, sc.data(), nk, isa);
      for (int64_t t = t0; t < t1; ++t) {
        float* row = sc.data() + (t - t0) * nk;
        const int64_t last = pos0 + t - first0;  // keys first0 + [first, last] are visible
        const int64_t first = s.window > 0 ? std::max<int64_t>(0, pos0 + t + 1 - s.window) - first0 : 0;
        const float mx = kernels::max_value(row + first, last + 1 - first, isa);
        std::fill(row, row + first, 0.0f);
        std::fill(row + last + 1, row + nk, 0.0f);
        const float inv = 1.0f / kernels::exp_shift_sum(row + first, last + 1 - first, mx, isa);
        for (int64_t j = first; j <= last; ++j) row[j] *= inv;
      }
      kernels::matmul_nn(sc.data(), rows, nk, nk, vf.data() + (kvh * n_keys + first0) * hd, hd, hd,
                         out + t0 * q_stride + h * hd, q_stride, isa);
    }
  });
}

// From this many new tokens on, the blocked (matmul) path is used.
constexpr int64_t kBlockedFrom = 16;

}  // namespace

void check_kv_layer(const KvLayer& kv, const char* op) {
  const DType t = kv.type;
  if (t != DType::kF32 && t != DType::kF16 && t != DType::kBF16 && t != DType::kI8)
    fail("{}: KV cache dtype {} not supported (expected F32, F16, BF16 or I8)", op, dtype_name(t));
  if (t == DType::kI8 && (!kv.k_scale || !kv.v_scale))
    fail("{}: an I8 KV cache needs its scales", op);
}

kernels::KvRows kv_rows_at(const KvLayer& kv, int64_t pos, int64_t kvh, const AttentionShape& s) {
  const int64_t stride = kv.slot_stride > 0 ? kv.slot_stride : s.n_heads_kv * s.head_dim;
  const int64_t head_stride = kv.head_stride > 0 ? kv.head_stride : s.head_dim;
  const int64_t el = (kv.block_slots > 0 ? (pos / kv.block_slots) * kv.block_stride +
                                               (pos % kv.block_slots) * stride
                                         : pos * stride) +
                     kvh * head_stride;
  const size_t at = size_t(el) * dtype_size(kv.type);
  const int64_t sat = el / s.head_dim;  // one scale per row of head_dim values
  const bool i8 = kv.type == DType::kI8;
  return {static_cast<const uint8_t*>(kv.k) + at,
          static_cast<const uint8_t*>(kv.v) + at,
          kv.type,
          stride,
          i8 ? kv.k_scale + sat : nullptr,
          i8 ? kv.v_scale + sat : nullptr,
          stride / s.head_dim};
}

void attention(const float* q, int64_t T, int64_t pos0, const KvLayer& kv, const AttentionShape& s,
               float* out, ThreadPool& pool) {
  check_kv_layer(kv, "attention");
  if (T >= kBlockedFrom)
    attention_blocked(q, T, pos0, kv, s, out, pool);
  else
    attention_rows(q, T, pos0, kv, s, out, pool);
}

}  // namespace quanta::ops
