// AVX2 (+FMA) exp-based kernels. Contract and the exp scheme in kernels/vexp.h; the same steps
// as vexp_avx512.cc on 8 lanes, the tail of a row through a zero-padded copy.
//
// Note: built with -mavx2 -mfma -mf16c; no standard-library templates or inline functions of
// shared headers (see matmul_avx2.cc).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/exp_avx2.h"
#include "kernels/vexp.h"

namespace quanta::kernels::avx2 {
namespace {


}  // namespace

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  auto step = [&](const float* g8, const float* u8, float* o8) {
    const __m256 g = _mm256_loadu_ps(g8);
    const __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    _mm256_storeu_ps(o8, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(u8)));
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) step(gate + i, up + i, out + i);
  if (i < n) {
    float g[8] = {}, u[8] = {}, o[8];
    std::memcpy(g, gate + i, size_t(n - i) * sizeof(float));
    std::memcpy(u, up + i, size_t(n - i) * sizeof(float));
    step(g, u, o);
    std::memcpy(out + i, o, size_t(n - i) * sizeof(float));
  }
}

float exp_shift_sum(float* x, int64_t n, float shift) {
  const __m256 s = _mm256_set1_ps(shift);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
    _mm256_storeu_ps(x + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float total = 0.0f;
  if (i < n) {
    float t[8];
    std::memcpy(t, x + i, size_t(n - i) * sizeof(float));
    for (int64_t j = n - i; j < 8; ++j) t[j] = -__builtin_inff();  // exp(-inf) = 0
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(t), s));
    _mm256_storeu_ps(t, e);
    std::memcpy(x + i, t, size_t(n - i) * sizeof(float));
    acc = _mm256_add_ps(acc, e);
  }
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  v = _mm_add_ss(v, _mm_movehdup_ps(v));
  total += _mm_cvtss_f32(v);
  return total;
}

// _mm256_max_ps(v, m) is m where v is NaN: NaNs are skipped, as in the reference's fold. Four
// running maxima (a dependent chain of vmaxps would wait on its latency every 8 values); the tail
// through a copy padded with -inf.
float max_value(const float* x, int64_t n) {
  const __m256 lowest = _mm256_set1_ps(-__builtin_inff());
  __m256 m0 = lowest, m1 = lowest, m2 = lowest, m3 = lowest;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
    m2 = _mm256_max_ps(_mm256_loadu_ps(x + i + 16), m2);
    m3 = _mm256_max_ps(_mm256_loadu_ps(x + i + 24), m3);
  }
  for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
  if (i < n) {
    float t[8];
    for (int64_t j = 0; j < 8; ++j) t[j] = i + j < n ? x[i + j] : -__builtin_inff();
    m1 = _mm256_max_ps(_mm256_loadu_ps(t), m1);
  }
  const __m256 m = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
  __m128 v = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  v = _mm_max_ps(v, _mm_movehl_ps(v, v));
  v = _mm_max_ss(v, _mm_movehdup_ps(v));
  return _mm_cvtss_f32(v);
}

}  // namespace quanta::kernels::avx2
