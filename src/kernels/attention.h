// Decode attention over a KV cache with a streamed (online) softmax: one pass over K and V, in
// blocks of positions, keeping per query a running max m, a running sum l of exp(score - m) and
// the unnormalised output acc = sum_j exp(score_j - m) v_j (rescaled by exp(m_old - m_new) when
// the max grows). The n_q queries of one call share the K/V rows (the query heads of one GQA
// group, and/or consecutive positions), so K and V are read once for all of them.
// Scalar reference in kernels/ref/, SIMD versions one ISA per translation unit.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/isa.h"

namespace quanta::kernels {

// State of n_q queries: m (n_q,), l (n_q,), acc (n_q, hd) f32.
// Sets m = -inf, l = 0, acc = 0.
void attend_init(int64_t n_q, int64_t hd, float* m, float* l, float* acc);

// Rows of cached keys and values: row j of hd values at k + j * stride elements of type (F32,
// F16, BF16, or I8 codes; stride >= hd, e.g. n_heads_kv * hd for one head of a (positions,
// n_heads_kv, hd) cache). For I8 row j's values are its codes times k_scale[j * scale_stride]
// (V: v_scale[...]); the scales are unused otherwise.
struct KvRows {
  const void* k = nullptr;
  const void* v = nullptr;
  DType type = DType::kF32;
  int64_t stride = 0;
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
  int64_t scale_stride = 0;
};

// Folds n positions into the state:  s_ij = scale * q_i . k_j  for j < n.
//   q (n_q, hd) f32, row stride hd; kv: at least n rows.
// n may be 0 (no change). Single-threaded.
void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv,
                   int64_t n, float* m, float* l, float* acc, Isa isa);

// Merges state b (positions disjoint from a's) into a: the states of a split of positions
// (several threads over one long context) combine exactly as if one had seen them all.
void attend_merge(int64_t n_q, int64_t hd, float* m_a, float* l_a, float* acc_a, const float* m_b,
                  const float* l_b, const float* acc_b);

// out row i (stride out_stride floats) = acc_i / l_i: the softmax-weighted sum of V.
// Note: needs at least one position folded in (l > 0).
void attend_finish(int64_t n_q, int64_t hd, const float* l, const float* acc, float* out,
                   int64_t out_stride);

// ---- Per-ISA implementations: called by the dispatcher (kernels/attention.cc), not by ops. ----
// Same contract as attend_update; arguments already checked (kv.type is F32, F16, BF16 or I8
// with scales, n >= 1).
namespace ref {
void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv,
                   int64_t n, float* m, float* l, float* acc);
}  // namespace ref
namespace avx2 {
void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv,
                   int64_t n, float* m, float* l, float* acc);
}  // namespace avx2
namespace avx512 {
void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv,
                   int64_t n, float* m, float* l, float* acc);
}  // namespace avx512

}  // namespace quanta::kernels
