// Activation quantization, AVX2 (+FMA, F16C). Per-token int8: the largest |x| of a token in 8
// lanes, then 8 codes per step (divide, clamp, round to nearest even, pack); a row's last k % 8
// values go through the same vector steps from a zero-padded copy. Block int16: the same steps
// per 32 values. Same results as ref::quantize_act_int8 / ref::quantize_act_i16, bit for bit
// (kernels/act_quant.h).
//
// Note: built with -mavx2 -mfma -mf16c; like matmul_avx2.cc it must not instantiate
// standard-library templates or call inline functions from shared headers.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/act_quant.h"

namespace quanta::kernels::avx2 {
namespace {

// The last n < 8 values of a row, zero-padded (0 changes neither the largest |x| nor any code
// kept).
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
  for (; c + 8 <= k; c += 8)
    acc = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + c)), acc);
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
  const __m256i iv =
      _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(iv), _mm256_extracti128_si256(iv, 1));
  return _mm_packs_epi16(w, w);
}

}  // namespace

// One block of 32 int16 codes from min(n, 32) values (a short block from a zero-padded copy);
// NaN counts as 0 (as ref). Returns the sum of the codes; *scale gets absmax / 32767.
int32_t quantize_act_i16_block(const float* x, int64_t n, int16_t* q, float* scale) {
  float buf[32] = {};
  if (n < 32) {
    std::memcpy(buf, x, size_t(n) * sizeof(float));
    x = buf;
  }
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 v[4];
  __m256 mx = _mm256_setzero_ps();
  for (int h = 0; h < 4; ++h) {
    v[h] = _mm256_loadu_ps(x + 8 * h);
    v[h] = _mm256_and_ps(v[h], _mm256_cmp_ps(v[h], v[h], _CMP_ORD_Q));  // NaN -> 0
    mx = _mm256_max_ps(_mm256_andnot_ps(sign, v[h]), mx);
  }
  __m128 r = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
  r = _mm_max_ps(r, _mm_movehl_ps(r, r));
  r = _mm_max_ss(r, _mm_movehdup_ps(r));
  const float s = _mm_cvtss_f32(r) / 32767.0f;
  *scale = s;
  if (!(s > 0.0f && s <= 3.40282347e38f)) {  // all zero, or not finite: codes 0
    std::memset(q, 0, 32 * sizeof(int16_t));
    return 0;
  }
  const __m256 vs = _mm256_set1_ps(s);
  __m256i c[4];
  for (int h = 0; h < 4; ++h) {
    __m256 d = _mm256_div_ps(v[h], vs);
    d = _mm256_min_ps(_mm256_max_ps(d, _mm256_set1_ps(-32767.0f)), _mm256_set1_ps(32767.0f));
    c[h] = _mm256_cvtps_epi32(_mm256_round_ps(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  for (int h = 0; h < 2; ++h) {
    // packs works per 128-bit lane: [a0-3 b0-3 a4-7 b4-7] -> reorder the 64-bit quarters.
    const __m256i p = _mm256_permute4x64_epi64(_mm256_packs_epi32(c[2 * h], c[2 * h + 1]), 0xd8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 16 * h), p);
  }
  __m256i t = _mm256_add_epi32(_mm256_add_epi32(c[0], c[1]), _mm256_add_epi32(c[2], c[3]));
  __m128i u = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
  u = _mm_add_epi32(u, _mm_shuffle_epi32(u, 0x4e));
  u = _mm_add_epi32(u, _mm_shuffle_epi32(u, 0xb1));
  return _mm_cvtsi128_si32(u);
}

namespace {

// 8 values v / s rounded to E4M3 as ref's e4m3_round(clamp(v / s, -448, 448)), times s.
__m256 fp8_values(__m256 v, __m256 s) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  // max/min return their second operand on NaN: v last, so a NaN stays NaN (as std::clamp).
  __m256 d = _mm256_div_ps(v, s);
  d = _mm256_min_ps(_mm256_set1_ps(448.0f), _mm256_max_ps(_mm256_set1_ps(-448.0f), d));
  const __m256 a = _mm256_andnot_ps(sign, d);
  // Subnormal E4M3 (|d| < 2^-6): multiples of 2^-9, rounded to nearest even.
  const __m256 sub = _mm256_mul_ps(_mm256_round_ps(_mm256_mul_ps(a, _mm256_set1_ps(512.0f)),
                                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                                   _mm256_set1_ps(1.0f / 512.0f));
  // Normal: 3 mantissa bits, half to even on the 20 dropped bits (a carry into the exponent is
  // right).
  const __m256i u = _mm256_castps_si256(a);
  const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 20), _mm256_set1_epi32(1));
  const __m256i rn =
      _mm256_and_si256(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7ffff)), odd),
                       _mm256_set1_epi32(int(0xfff00000u)));
  const __m256 small = _mm256_cmp_ps(a, _mm256_set1_ps(0.015625f), _CMP_LT_OQ);
  const __m256 r = _mm256_blendv_ps(_mm256_castsi256_ps(rn), sub, small);
  return _mm256_mul_ps(_mm256_or_ps(r, _mm256_and_ps(d, sign)), s);
}

}  // namespace

void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out, float* scales) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    float* oi = out + i * k;
    const float s = act_fp8_scale(absmax(xi, k));
    if (scales != nullptr) scales[i] = s;
    const __m256 vs = _mm256_set1_ps(s);
    int64_t c = 0;
    for (; c + 8 <= k; c += 8) _mm256_storeu_ps(oi + c, fp8_values(_mm256_loadu_ps(xi + c), vs));
    if (c < k) {
      float buf[8];
      _mm256_storeu_ps(buf, fp8_values(load_tail(xi + c, k - c), vs));
      std::memcpy(oi + c, buf, size_t(k - c) * sizeof(float));
    }
  }
}

void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq,
                       float* scales) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    int8_t* qi = q + i * ldq;
    const float s = act_int8_scale(absmax(xi, k));
    scales[i] = s;
    const __m256 vs = _mm256_set1_ps(s);
    int64_t c = 0;
    for (; c + 8 <= k; c += 8)
      _mm_storel_epi64(reinterpret_cast<__m128i*>(qi + c), codes(_mm256_loadu_ps(xi + c), vs));
    if (c < k) {
      int8_t buf[8];
      _mm_storel_epi64(reinterpret_cast<__m128i*>(buf), codes(load_tail(xi + c, k - c), vs));
      std::memcpy(qi + c, buf, size_t(k - c));
    }
    if (ldq > k) std::memset(qi + k, 0, size_t(ldq - k));
  }
}

}  // namespace quanta::kernels::avx2
