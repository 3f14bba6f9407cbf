// AVX2 W8A8 kernel (kInt8Vnni weights x int8 activations). Contract in kernels/qmatmul.h.
// Also the AVX-512 level's kernel on CPUs without VNNI.
//
// Without vpdpbusd, the exact product of two int8 codes needs 16 bits: codes are widened to
// int16 and multiplied-and-paired with vpmaddwd into int32 (never saturates: |sum of two
// products| <= 2 * 128 * 128). For a 16-row block, each 64-byte quad (16 rows x 4 columns) is
// four 16-byte loads widened to four vectors of 4 rows x 4 columns; one madd against the token's
// 4 codes broadcast gives pairs per row, summed across pairs at the end (hadd + lane permute).
//
// Note: built with -mavx2 -mfma -mf16c; no standard-library templates (see matmul_avx2.cc).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/qmatmul.h"

namespace quanta::kernels::avx2 {
namespace {

constexpr int64_t kBlock = 16;  // rows per interleaved block
constexpr int kTok = 2;         // tokens per pass over a block

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// Lanes l of 8 with lo <= l < hi.
__m256i lane_range(int64_t lo, int64_t hi) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), idx),
                          _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(int(lo) - 1)));
}

// 4 int8 codes at p widened to int16, repeated over the vector.
__m256i broadcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(v)));
}

// Tokens [0, T) of xq against block `blk` (rows 16 blk ..), writing rows in [n0, n1).
template <int T>
void block_tokens(const int8_t* xq, const float* sx, int64_t ldq, const MatrixView& w,
                  int64_t blk, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t k4 = (w.cols + 3) / 4 * 4;  // a8_row_stride, not called: see the note above
  const int8_t* wb = static_cast<const int8_t*>(w.data) + blk * kBlock * k4;
  __m256i acc[T][4];
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < 4; ++h) acc[t][h] = _mm256_setzero_si256();
  for (int64_t q = 0; q < k4 / 4; ++q) {
    __m256i wv[4];
    for (int h = 0; h < 4; ++h)
      wv[h] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + q * 64 + h * 16)));
    for (int t = 0; t < T; ++t) {
      const __m256i xb = broadcast_quad(xq + t * ldq + q * 4);
      for (int h = 0; h < 4; ++h) acc[t][h] = _mm256_add_epi32(acc[t][h], _mm256_madd_epi16(wv[h], xb));
    }
  }
  const int64_t r0 = blk * kBlock;
  for (int half = 0; half < 2; ++half) {
    const int64_t base = r0 + half * 8;
    const __m256i mask = lane_range(max_i64(n0 - base, 0), min_i64(n1 - base, 8));
    const __m256 sw = _mm256_maskload_ps(w.scales + base, mask);
    for (int t = 0; t < T; ++t) {
      // [r0 r1 r4 r5 | r2 r3 r6 r7] -> rows in order.
      const __m256i s = _mm256_hadd_epi32(acc[t][2 * half], acc[t][2 * half + 1]);
      const __m256i rows = _mm256_permute4x64_epi64(s, _MM_SHUFFLE(3, 1, 2, 0));
      const __m256 f = _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(rows), _mm256_set1_ps(sx[t])), sw);
      _mm256_maskstore_ps(y + t * ldy + base, mask, f);
    }
  }
}

}  // namespace

void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy) {
  for (int64_t blk = n0 / kBlock; blk * kBlock < n1; ++blk) {
    int64_t i = 0;
    for (; i + kTok <= m; i += kTok)
      block_tokens<kTok>(xq + i * ldq, sx + i, ldq, w, blk, n0, n1, y + i * ldy, ldy);
    for (; i < m; ++i) block_tokens<1>(xq + i * ldq, sx + i, ldq, w, blk, n0, n1, y + i * ldy, ldy);
  }
}

}  // namespace quanta::kernels::avx2
