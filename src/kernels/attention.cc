// Dispatch of the streamed-softmax attention kernel; the state helpers (init, merge, finish),
// which are O(n_q * hd) per call and not worth a SIMD version.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace quanta::kernels {

void attend_init(int64_t n_q, int64_t hd, float* m, float* l, float* acc) {
  std::fill(m, m + n_q, -INFINITY);
  std::fill(l, l + n_q, 0.0f);
  std::fill(acc, acc + n_q * hd, 0.0f);
}

void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv,
                   int64_t n, float* m, float* l, float* acc, Isa isa) {
  if (kv.type != DType::kF32 && kv.type != DType::kF16 && kv.type != DType::kBF16 &&
      kv.type != DType::kI8)
    fail("attention: KV cache dtype {} not supported (expected F32, F16, BF16 or I8)",
         dtype_name(kv.type));
  QUANTA_ASSERT(n_q >= 0 && hd >= 1 && kv.stride >= hd && n >= 0);
  QUANTA_ASSERT(kv.type != DType::kI8 || (kv.k_scale && kv.v_scale && kv.scale_stride >= 1));
  if (n == 0 || n_q == 0) return;
  QUANTA_ASSERT(static_cast<int>(isa) <= static_cast<int>(detected_isa()));
  switch (isa) {
    case Isa::kScalar:
      return ref::attend_update(q, n_q, hd, scale, kv, n, m, l, acc);
    case Isa::kAvx2:
      return avx2::attend_update(q, n_q, hd, scale, kv, n, m, l, acc);
    case Isa::kAmx:
    case Isa::kAvx512:
      return avx512::attend_update(q, n_q, hd, scale, kv, n, m, l, acc);
  }
}

void attend_merge(int64_t n_q, int64_t hd, float* m_a, float* l_a, float* acc_a, const float* m_b,
                  const float* l_b, const float* acc_b) {
  for (int64_t i = 0; i < n_q; ++i) {
    if (l_b[i] == 0.0f) continue;  // b saw nothing
    const float mx = std::max(m_a[i], m_b[i]);
    const float ea = l_a[i] == 0.0f ? 0.0f : std::exp(m_a[i] - mx);
    const float eb = std::exp(m_b[i] - mx);
    for (int64_t d = 0; d < hd; ++d)
      acc_a[i * hd + d] = acc_a[i * hd + d] * ea + acc_b[i * hd + d] * eb;
    l_a[i] = l_a[i] * ea + l_b[i] * eb;
    m_a[i] = mx;
  }
}

void attend_finish(int64_t n_q, int64_t hd, const float* l, const float* acc, float* out,
                   int64_t out_stride) {
  for (int64_t i = 0; i < n_q; ++i) {
    QUANTA_ASSERT(l[i] > 0.0f);
    const float inv = 1.0f / l[i];
    for (int64_t d = 0; d < hd; ++d) out[i * out_stride + d] = acc[i * hd + d] * inv;
  }
}

}  // namespace quanta::kernels
