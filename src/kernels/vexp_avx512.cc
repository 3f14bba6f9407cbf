// AVX-512 (F/BW/VL/DQ) exp-based kernels. Contract and the exp scheme in kernels/vexp.h.
//
// Note: built with -mavx512*; no standard-library templates or inline functions of shared
// headers (see matmul_avx512.cc).
#include "kernels/avx512_intrin.h"

#include <cstdint>

#include "kernels/exp_avx512.h"
#include "kernels/vexp.h"

namespace quanta::kernels::avx512 {
namespace {

__mmask16 first(int64_t n) { return _cvtu32_mask16(n >= 16 ? 0xffffu : (1u << n) - 1u); }


}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), u));
  }
}

float exp_shift_sum(float* x, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first(n - i);
    const __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s)));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc = _mm512_add_ps(acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

// As the AVX2 version: _mm512_max_ps(v, m) skips NaNs in v; lanes past n read as -inf.
float max_value(const float* x, int64_t n) {
  const __m512 lowest = _mm512_set1_ps(-__builtin_inff());
  __m512 m0 = lowest, m1 = lowest;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + i), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + i + 16), m1);
  }
  for (; i < n; i += 16) m0 = _mm512_max_ps(_mm512_mask_loadu_ps(lowest, first(n - i), x + i), m0);
  return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

}  // namespace quanta::kernels::avx512
