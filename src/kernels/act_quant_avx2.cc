// Per-token int8 activation quantization, AVX2 (+FMA, F16C): the largest |x| of a token in 8
// lanes, then 8 codes per step (divide, clamp, round to nearest even, pack); a row's last k % 8
// values go through the same vector steps from a zero-padded copy. Same results as
// ref::quantize_act_int8, bit for bit (kernels/act_quant.h).
//
// Note: built with -mavx2 -mfma -mf16c; like matmul_avx2.cc it must not instantiate
// standard-library templates or call inline functions from shared headers.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/act_quant.h"

namespace quanta::kernels::avx2 {
namespace {

// The last n < 8 values of a row, zero-padded (0 changes neither the largest |x| nor any code kept).
__m256 load_tail(const float* x, int64_t n) {
  float buf[8] = {};
  std::memcpy(buf, x, size_t(n) * sizeof(float));
  return _mm256_loadu_ps(buf);
}

float absmax(const float* x, int64_t k) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 acc = _mm256_setzero_ps();
  int64_t c = 0;
  // max_ps returns its second operand when either is NaN: x first, so a NaN is skipped (as ref).
  for (; c + 8 <= k; c += 8) acc = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + c)), acc);
  if (c < k) acc = _mm256_max_ps(_mm256_andnot_ps(sign, load_tail(x + c, k - c)), acc);
  __m128 v = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  v = _mm_max_ps(v, _mm_movehl_ps(v, v));
  v = _mm_max_ss(v, _mm_movehdup_ps(v));
  return _mm_cvtss_f32(v);
}

// 8 codes of x / s: clamped, rounded to nearest even, packed into the low 8 bytes.
__m128i codes(__m256 x, __m256 s) {
  __m256 v = _mm256_div_ps(x, s);
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
  const __m256i iv = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
  return _mm_packs_epi16(w, w);
}

}  // namespace

void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq,
                       float* scales) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    int8_t* qi = q + i * ldq;
    const float s = act_int8_scale(absmax(xi, k));
    scales[i] = s;
    const __m256 vs = _mm256_set1_ps(s);
    int64_t c = 0;
    for (; c + 8 <= k; c += 8) _mm_storel_epi64(reinterpret_cast<__m128i*>(qi + c), codes(_mm256_loadu_ps(xi + c), vs));
    if (c < k) {
      int8_t buf[8];
      _mm_storel_epi64(reinterpret_cast<__m128i*>(buf), codes(load_tail(xi + c, k - c), vs));
      std::memcpy(qi + c, buf, size_t(k - c));
    }
    if (ldq > k) std::memset(qi + k, 0, size_t(ldq - k));
  }
}

}  // namespace quanta::kernels::avx2
