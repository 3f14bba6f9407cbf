// AVX-512 (F/BW/VL/DQ) exp-based kernels. Contract and the exp scheme in kernels/vexp.h.
//
// Note: built with -mavx512*; no standard-library templates or inline functions of shared
// headers (see matmul_avx512.cc).
#include "kernels/avx512_intrin.h"

#include <cstdint>

#include "kernels/vexp.h"

namespace quanta::kernels::avx512 {
namespace {

__mmask16 first(int64_t n) { return _cvtu32_mask16(n >= 16 ? 0xffffu : (1u << n) - 1u); }

// exp(x): 2^n * p(r). Inputs above 88.38 give +inf, below -87.33 give 0; NaN stays NaN.
__m512 vexp(__m512 x) {
  const __m512 hi = _mm512_set1_ps(88.3762626647949f), lo = _mm512_set1_ps(-87.3365447504f);
  const __mmask16 big = _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ);
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  const __m512 xc = _mm512_min_ps(hi, x);  // min returns its second operand for a NaN: x
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  // p in [0.7, 1.5), n in [-127, 128): scale by 2^n in two halves so n = 128 does not overflow
  // the exponent field (n - n/2 and n/2 are both in [-64, 64]).
  const __m512i ni = _mm512_cvtps_epi32(n);
  const __m512i h = _mm512_srai_epi32(ni, 1);
  const __m512 s1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(h, _mm512_set1_epi32(127)), 23));
  const __m512 s2 = _mm512_castsi512_ps(
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(ni, h), _mm512_set1_epi32(127)), 23));
  __m512 e = _mm512_mul_ps(_mm512_mul_ps(p, s1), s2);
  e = _mm512_mask_mov_ps(e, big, _mm512_set1_ps(__builtin_inff()));
  return _mm512_mask_mov_ps(e, tiny, _mm512_setzero_ps());
}

}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first(n - i);
    const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
    const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
    const __m512 e = vexp(_mm512_sub_ps(_mm512_setzero_ps(), g));
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), u));
  }
}

float exp_shift_sum(float* x, int64_t n, float shift) {
  const __m512 s = _mm512_set1_ps(shift);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = first(n - i);
    const __m512 e = _mm512_maskz_mov_ps(m, vexp(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), s)));
    _mm512_mask_storeu_ps(x + i, m, e);
    acc = _mm512_add_ps(acc, e);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace quanta::kernels::avx512
