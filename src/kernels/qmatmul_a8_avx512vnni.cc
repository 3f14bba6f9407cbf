// AVX-512 VNNI W8A8 kernel (kInt8Vnni weights x int8 activations). Contract in
// kernels/qmatmul.h.
//
// vpdpbusd multiplies unsigned by signed bytes, four per int32 lane, and adds into the lane. The
// activation codes are made unsigned by adding 128 (x ^ 0x80), and the extra 128 * sum(row
// codes) is taken off at the end with the row sums stored at load (MatrixView::row_sums): the
// int32 result is then exactly sum(x * w). One 64-byte quad of a 16-row block feeds one
// vpdpbusd per token against the token's 4 codes broadcast; kBlocks blocks x kTok tokens of
// accumulators share every load.
//
// Note: built with -mavx512* -mavx512vnni; no standard-library templates (see matmul_avx512.cc).
#include "kernels/avx512_intrin.h"

#include <cstdint>
#include <cstring>

#include "kernels/qmatmul.h"

namespace quanta::kernels::avx512vnni {
namespace {

constexpr int64_t kBlock = 16;  // rows per interleaved block
constexpr int kBlocks = 2;      // blocks per pass
constexpr int kTok = 8;         // tokens per pass

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// Rows r of a block with lo <= r < hi.
__mmask16 row_range(int64_t lo, int64_t hi) {
  lo = max_i64(lo, 0);
  hi = min_i64(hi, kBlock);
  if (hi <= lo) return _cvtu32_mask16(0);
  return _cvtu32_mask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// Tokens [0, T) of xu (unsigned codes) against blocks blk .. blk + NB - 1, rows in [n0, n1).
template <int NB, int T>
void blocks_tokens(const uint8_t* xu, const float* sx, int64_t ldq, const MatrixView& w,
                   int64_t blk, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t k4 = (w.cols + 3) / 4 * 4;  // a8_row_stride, not called: see the note above
  const int8_t* wb = static_cast<const int8_t*>(w.data) + blk * kBlock * k4;
  __m512i acc[T][NB];
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < NB; ++b) acc[t][b] = _mm512_setzero_si512();
  for (int64_t q = 0; q < k4 / 4; ++q) {
    __m512i wv[NB];
    for (int b = 0; b < NB; ++b) wv[b] = _mm512_loadu_si512(wb + b * kBlock * k4 + q * 64);
    for (int t = 0; t < T; ++t) {
      int32_t quad;
      std::memcpy(&quad, xu + t * ldq + q * 4, 4);
      const __m512i xb = _mm512_set1_epi32(quad);
      for (int b = 0; b < NB; ++b) acc[t][b] = _mm512_dpbusd_epi32(acc[t][b], xb, wv[b]);
    }
  }
  for (int b = 0; b < NB; ++b) {
    const int64_t base = (blk + b) * kBlock;
    const __mmask16 mask = row_range(n0 - base, n1 - base);
    const __m512 sw = _mm512_maskz_loadu_ps(mask, w.scales + base);
    const __m512i off = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(mask, w.row_sums + base), 7);
    for (int t = 0; t < T; ++t) {
      const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[t][b], off));
      _mm512_mask_storeu_ps(y + t * ldy + base, mask,
                            _mm512_mul_ps(_mm512_mul_ps(f, _mm512_set1_ps(sx[t])), sw));
    }
  }
}

template <int NB>
void all_tokens(const uint8_t* xu, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t blk, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  int64_t i = 0;
  for (; i + kTok <= m; i += kTok)
    blocks_tokens<NB, kTok>(xu + i * ldq, sx + i, ldq, w, blk, n0, n1, y + i * ldy, ldy);
  for (; i + 2 <= m; i += 2)
    blocks_tokens<NB, 2>(xu + i * ldq, sx + i, ldq, w, blk, n0, n1, y + i * ldy, ldy);
  if (i < m) blocks_tokens<NB, 1>(xu + i * ldq, sx + i, ldq, w, blk, n0, n1, y + i * ldy, ldy);
}

}  // namespace

void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy) {
  // Unsigned copy of the activation codes (x + 128), made once per call.
  uint8_t* xu = reinterpret_cast<uint8_t*>(qmatmul_scratch((m * ldq + 3) / 4));
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  int64_t e = 0;
  for (; e + 64 <= m * ldq; e += 64)
    _mm512_storeu_si512(xu + e, _mm512_xor_si512(_mm512_loadu_si512(xq + e), flip));
  for (; e < m * ldq; ++e) xu[e] = uint8_t(xq[e]) ^ 0x80u;
  const int64_t b_end = (n1 + kBlock - 1) / kBlock;
  int64_t blk = n0 / kBlock;
  for (; blk + kBlocks <= b_end; blk += kBlocks)
    all_tokens<kBlocks>(xu, sx, m, ldq, w, blk, n0, n1, y, ldy);
  for (; blk < b_end; ++blk) all_tokens<1>(xu, sx, m, ldq, w, blk, n0, n1, y, ldy);
}

}  // namespace quanta::kernels::avx512vnni
