// AVX2 + F16C f32 -> F16 / BF16 (kernels/convert.h): 8 values per step, the tail through a
// zero-padded buffer.
//
// Note: built with -mavx2 -mfma -mf16c; no standard-library templates or inline functions of
// shared headers (see matmul_avx2.cc).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/convert.h"

namespace quanta::kernels::avx2 {
namespace {

// 8 values to F16, round to nearest even (vcvtps2ph); a NaN becomes sign | 0x7e00 as in
// f32_to_f16 (vcvtps2ph would keep the top of its payload).
__m128i to_f16(__m256 v) {
  const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i nan32 = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  const __m128i nan = _mm_packs_epi32(_mm256_castsi256_si128(nan32),
                                      _mm256_extracti128_si256(nan32, 1));
  const __m128i quiet = _mm_or_si128(_mm_and_si128(h, _mm_set1_epi16(int16_t(0x8000))),
                                     _mm_set1_epi16(0x7e00));
  return _mm_blendv_epi8(h, quiet, nan);
}

// 8 values to BF16: u + 0x7fff + (bit 16 of u), top half; a NaN keeps its top half, made quiet.
__m128i to_bf16(__m256 v) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet, nan);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

}  // namespace

void f32_to_half(const float* src, int64_t n, bool bf16, uint16_t* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(src + i);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), bf16 ? to_bf16(v) : to_f16(v));
  }
  if (i < n) {
    float in[8] = {};
    uint16_t out[8];
    std::memcpy(in, src + i, size_t(n - i) * sizeof(float));
    const __m256 v = _mm256_loadu_ps(in);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bf16 ? to_bf16(v) : to_f16(v));
    std::memcpy(dst + i, out, size_t(n - i) * sizeof(uint16_t));
  }
}

}  // namespace quanta::kernels::avx2
