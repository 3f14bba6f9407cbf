// exp on 16 lanes (AVX-512 F): Cephes' expf scheme, the contract of kernels/vexp.h (within
// kExpRelTol of std::exp on [-87, 88]; 0 below -87.34, +inf above 88.38, NaN stays NaN).
// Note: include only from translation units built with AVX-512 flags. The function is static
// (one private copy per translation unit), so no copy built for one ISA can stand in for
// another's at link time (the hazard matmul_avx512.cc describes for inline functions).
#pragma once

#include "kernels/avx512_intrin.h"

namespace quanta::kernels {

static inline __m512 exp512(__m512 x) {
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

}  // namespace quanta::kernels
