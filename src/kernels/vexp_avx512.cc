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

}  // namespace quanta::kernels::avx512
