// Activation quantization, AVX-512 (F/BW/VL/DQ). Per-token int8: the largest |x| of a token in 16
// lanes, then 16 codes per step (divide, clamp, round to nearest even, narrow); the tail of a row
// with masks. Block int16: the same steps per 32 values. Same results as ref::quantize_act_int8 /
// ref::quantize_act_i16, bit for bit (kernels/act_quant.h).
//
// Note: built with -mavx512f/bw/vl/dq; like matmul_avx512.cc it must not instantiate
// standard-library templates or call inline functions from shared headers.
#include "kernels/avx512_intrin.h"

#include <cstdint>
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

__mmask16 first(int64_t n) {
  if (n >= 16) return _cvtu32_mask16(0xffffu);
  if (n <= 0) return _cvtu32_mask16(0);
  return _cvtu32_mask16((1u << n) - 1u);
}


}  // namespace

// One block of 32 int16 codes from min(n, 32) values; NaN counts as 0 (as ref). Returns the
// sum of the codes; *scale gets absmax / 32767.
int32_t quantize_act_i16_block(const float* x, int64_t n, int16_t* q, float* scale) {
  __m512 v[2];
  for (int h = 0; h < 2; ++h) {
    v[h] = _mm512_maskz_loadu_ps(first(n - 16 * h), x + 16 * h);
    v[h] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v[h], v[h], _CMP_ORD_Q), v[h]);
  }
  const float s = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1]))) / 32767.0f;
  *scale = s;
  if (!(s > 0.0f && s <= 3.40282347e38f)) {  // all zero, or not finite: codes 0
    std::memset(q, 0, 32 * sizeof(int16_t));
    return 0;
  }
  const __m512 vs = _mm512_set1_ps(s);
  __m512i c[2];
  for (int h = 0; h < 2; ++h) {
    __m512 d = _mm512_div_ps(v[h], vs);
    d = _mm512_min_ps(_mm512_max_ps(d, _mm512_set1_ps(-32767.0f)), _mm512_set1_ps(32767.0f));
    c[h] = _mm512_cvt_roundps_epi32(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 16 * h), _mm512_cvtepi32_epi16(c[h]));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(c[0], c[1]));
}


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
