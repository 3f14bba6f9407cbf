// Per-token int8 activation quantization, AVX-512 (F/BW/VL/DQ): the largest |x| of a token in 16
// lanes, then 16 codes per step (divide, clamp, round to nearest even, narrow); the tail of a row
// with masks. Same results as ref::quantize_act_int8, bit for bit (kernels/act_quant.h).
//
// Note: built with -mavx512f/bw/vl/dq; like matmul_avx512.cc it must not instantiate
// standard-library templates or call inline functions from shared headers.
#include "kernels/avx512_intrin.h"

#include <cstring>

#include "kernels/act_quant.h"

namespace quanta::kernels::avx512 {
namespace {

float absmax(const float* x, int64_t k) {
  __m512 acc = _mm512_setzero_ps();
  int64_t c = 0;
  // max_ps returns its second operand when either is NaN: x first, so a NaN is skipped (as ref).
  for (; c + 16 <= k; c += 16) acc = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + c)), acc);
  if (c < k) {
    const __mmask16 mask = __mmask16((1u << (k - c)) - 1);
    acc = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(mask, x + c)), acc);
  }
  return _mm512_reduce_max_ps(acc);
}

__m128i codes(__m512 x, __m512 s) {
  __m512 v = _mm512_div_ps(x, s);
  v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-128.0f)), _mm512_set1_ps(127.0f));
  return _mm512_cvtepi32_epi8(_mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

}  // namespace

void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq,
                       float* scales) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    int8_t* qi = q + i * ldq;
    const float s = act_int8_scale(absmax(xi, k));
    scales[i] = s;
    const __m512 vs = _mm512_set1_ps(s);
    int64_t c = 0;
    for (; c + 16 <= k; c += 16)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qi + c), codes(_mm512_loadu_ps(xi + c), vs));
    if (c < k) {
      const __mmask16 mask = __mmask16((1u << (k - c)) - 1);
      // Masked-off lanes load 1.0 (not 0): no division by zero flags, and they are not stored.
      const __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), mask, xi + c);
      _mm_mask_storeu_epi8(qi + c, mask, codes(v, vs));
    }
    if (ldq > k) std::memset(qi + k, 0, size_t(ldq - k));
  }
}

}  // namespace quanta::kernels::avx512
