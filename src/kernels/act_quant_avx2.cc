// Per-token int8 activation quantization, AVX2 (+FMA, F16C): the largest |x| of a token in 8
// lanes, then 8 codes per step (divide, clamp, round to nearest even, pack). Same results as
// ref::quantize_act_int8, bit for bit (kernels/act_quant.h).
#include <immintrin.h>

#include <cstring>

#include "kernels/act_quant.h"

namespace quanta::kernels::avx2 {
namespace {

float absmax(const float* x, int64_t k) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 acc = _mm256_setzero_ps();
  int64_t c = 0;
  // max_ps returns its second operand when either is NaN: x first, so a NaN is skipped (as ref).
  for (; c + 8 <= k; c += 8) acc = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + c)), acc);
  __m128 v = _mm_max_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  v = _mm_max_ps(v, _mm_movehl_ps(v, v));
  v = _mm_max_ss(v, _mm_movehdup_ps(v));
  float r = _mm_cvtss_f32(v);
  for (; c < k; ++c) r = std::max(r, std::fabs(x[c]));  // r first: a NaN is skipped
  return r;
}

}  // namespace

void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq,
                       float* scales) {
  const __m256 lo = _mm256_set1_ps(-128.0f), hi = _mm256_set1_ps(127.0f);
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    int8_t* qi = q + i * ldq;
    const float s = act_int8_scale(absmax(xi, k));
    scales[i] = s;
    const __m256 vs = _mm256_set1_ps(s);
    int64_t c = 0;
    for (; c + 8 <= k; c += 8) {
      __m256 v = _mm256_div_ps(_mm256_loadu_ps(xi + c), vs);
      v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
      const __m256i iv = _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(qi + c), _mm_packs_epi16(w, w));
    }
    for (; c < k; ++c) qi[c] = act_int8_code(xi[c], s);
    if (ldq > k) std::memset(qi + k, 0, size_t(ldq - k));
  }
}

}  // namespace quanta::kernels::avx2
