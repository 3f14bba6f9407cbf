// AVX2 kernels for int4 / int8 weights (kInt4x16, kInt8x16) against int16 activation codes.
// Contract in kernels/qmatmul.h (qmatmul_i16).
//
// As qmatmul_i16_avx512vnni.cc with 8 lanes: each 16-row block is run as two halves of 8 rows
// (bytes 0-31 / 32-63 of an int4 line, 0-15 / 16-31 of an int8 pair), and vpmaddwd + vpaddd
// stand for vpdpwssd (the int32 sums are the same, exactly).
//
// Note: built with -mavx2 -mfma -mf16c; no standard-library templates or inline functions of
// shared headers (see matmul_avx2.cc).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/qmatmul.h"

namespace quanta::kernels::avx2 {
namespace {

constexpr int64_t kRows = 16;  // rows per block
constexpr int64_t kHalf = 8;   // rows per vector

int64_t n_groups(const MatrixView& w) { return w.group_size > 0 ? w.cols / w.group_size : 1; }
int64_t group_cols(const MatrixView& w) { return w.group_size > 0 ? w.group_size : w.cols; }
int64_t padded(int64_t k) { return (k + 31) / 32 * 32; }

// All-ones in lanes r with lo <= r < hi.
__m256i lanes_between(int64_t lo, int64_t hi) {
  const __m256i r = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i ge = _mm256_cmpgt_epi32(r, _mm256_set1_epi32(int(lo < -1 ? -1 : lo > 8 ? 8 : lo) - 1));
  const __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi < 0 ? 0 : hi > 8 ? 8 : hi)), r);
  return _mm256_and_si256(ge, lt);
}

__m256i pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// 8 rows' scales (zeros) of one group at index at: f32, or f16 widened (exact).
template <bool kF16>
__m256 block_vec(const float* f32, const uint16_t* f16, int64_t at) {
  if constexpr (kF16)
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(f16 + at)));
  else
    return _mm256_loadu_ps(f32 + at);
}

// Rows of half h of block rb (restricted to [n0, n1)) for tokens 0 .. T - 1.
template <bool kInt4, bool kF16, int T>
void half_tile(const int16_t* xq, const float* xs, const float* xz, const MatrixView& w, int64_t rb,
               int h, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t kp = padded(w.cols), nb = kp / 32, ng = n_groups(w), gc = group_cols(w);
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + rb * (kInt4 ? 8 * kp : 16 * kp);
  const __m256i nibbles = _mm256_set1_epi32(0x000f000f);
  __m256 f[T];
  for (int t = 0; t < T; ++t) f[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
    if constexpr (kInt4) {
      for (int64_t oct = 4 * b; oct < 4 * b + 4; ++oct) {
        const __m256i line =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + oct * 64 + h * 32));
        const __m256i wv[4] = {_mm256_and_si256(line, nibbles),
                               _mm256_and_si256(_mm256_srli_epi32(line, 4), nibbles),
                               _mm256_and_si256(_mm256_srli_epi32(line, 8), nibbles),
                               _mm256_and_si256(_mm256_srli_epi32(line, 12), nibbles)};
        for (int t = 0; t < T; ++t) {
          const int16_t* xp = xq + t * kp + oct * 8;
          for (int s = 0; s < 4; ++s)
            acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(wv[s], pair(xp + 2 * s)));
        }
      }
    } else {
      for (int64_t pr = 16 * b; pr < 16 * b + 16; ++pr) {
        const __m256i wv = _mm256_cvtepi8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + pr * 32 + h * 16)));
        for (int t = 0; t < T; ++t)
          acc[t] = _mm256_add_epi32(acc[t], _mm256_madd_epi16(wv, pair(xq + t * kp + 2 * pr)));
      }
    }
    const int64_t at = (rb * ng + b * 32 / gc) * kRows + h * kHalf;
    const __m256 sv = block_vec<kF16>(w.scales, w.scales_f16, at);
    __m256 zs = _mm256_setzero_ps();
    if constexpr (kInt4) {
      const bool asym = kF16 ? w.zeros_f16 != nullptr : w.zeros != nullptr;
      zs = _mm256_mul_ps(asym ? block_vec<kF16>(w.zeros, w.zeros_f16, at) : _mm256_set1_ps(8.0f), sv);
    }
    for (int t = 0; t < T; ++t) {
      const __m256 st = _mm256_mul_ps(sv, _mm256_set1_ps(xs[t * nb + b]));
      f[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t]), st, f[t]);
      if constexpr (kInt4) f[t] = _mm256_fnmadd_ps(zs, _mm256_set1_ps(xz[t * nb + b]), f[t]);
    }
  }
  const int64_t row0 = rb * kRows + h * kHalf;
  const __m256i mask = lanes_between(n0 - row0, n1 - row0);
  for (int t = 0; t < T; ++t) _mm256_maskstore_ps(y + t * ldy + row0, mask, f[t]);
}

template <bool kInt4, bool kF16>
void run(const int16_t* xq, const float* xs, const float* xz, int64_t m, const MatrixView& w,
         int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t kp = padded(w.cols), nb = kp / 32;
  const int64_t rb_end = (n1 + kRows - 1) / kRows;
  for (int64_t rb = n0 / kRows; rb < rb_end; ++rb) {
    for (int h = 0; h < 2; ++h) {
      const int64_t row0 = rb * kRows + h * kHalf;
      if (row0 + kHalf <= n0 || row0 >= n1) continue;
      int64_t i = 0;
      for (; i + 4 <= m; i += 4)
        half_tile<kInt4, kF16, 4>(xq + i * kp, xs + i * nb, xz + i * nb, w, rb, h, n0, n1, y + i * ldy, ldy);
      if (i + 2 <= m) {
        half_tile<kInt4, kF16, 2>(xq + i * kp, xs + i * nb, xz + i * nb, w, rb, h, n0, n1, y + i * ldy, ldy);
        i += 2;
      }
      if (i < m)
        half_tile<kInt4, kF16, 1>(xq + i * kp, xs + i * nb, xz + i * nb, w, rb, h, n0, n1, y + i * ldy, ldy);
    }
  }
}

}  // namespace

void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const bool half = w.scales_f16 != nullptr;
  if (w.format == WeightFormat::kInt4x16) {
    if (half) return run<true, true>(xq, xs, xz, m, w, n0, n1, y, ldy);
    return run<true, false>(xq, xs, xz, m, w, n0, n1, y, ldy);
  }
  if (half) return run<false, true>(xq, xs, xz, m, w, n0, n1, y, ldy);
  return run<false, false>(xq, xs, xz, m, w, n0, n1, y, ldy);
}

}  // namespace quanta::kernels::avx2
