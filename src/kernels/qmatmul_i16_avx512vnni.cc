// AVX-512 VNNI kernels for int4 / int8 weights (kInt4x16, kInt8x16) against int16 activation
// codes. Contract in kernels/qmatmul.h (qmatmul_i16).
//
// A 16-row block's codes sit as int16 pairs per int32 lane (int4: four shifts and masks of a
// 64-byte line give the pairs of 8 columns; int8: one sign-extension of 32 bytes gives one pair),
// so vpdpwssd adds code * x for two columns of 16 rows into 16 int32 lanes against the token's
// pair of codes broadcast. Per block of 32 columns the int32 sums are exact; they are converted
// and scaled into f32 accumulators in the reference's order. A accumulators per token (pairs
// spread over them) keep independent vpdpwssd chains in flight for small token counts; T tokens
// share every unpacked line. NB row blocks per pass would add chains, but reading NB blocks
// interleaved (block_bytes apart) streams from DRAM far slower than one block in memory order
// (Zen 4, decode: W4A16 g32 +10 %, the in-cache kernel alone -15-25 %), so decode runs NB = 1.
//
// Note: built with -mavx512* -mavx512vnni; no standard-library templates or inline functions of
// shared headers (see matmul_avx512.cc).
#include "kernels/avx512_intrin.h"

#include <cstdint>
#include <cstring>

#include "kernels/qmatmul.h"

namespace quanta::kernels::avx512vnni {
namespace {

constexpr int64_t kRows = 16;  // rows per block
constexpr int64_t kDecodePrefetch = 2048;

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }
int64_t n_groups(const MatrixView& w) { return w.group_size > 0 ? w.cols / w.group_size : 1; }
int64_t group_cols(const MatrixView& w) { return w.group_size > 0 ? w.group_size : w.cols; }
int64_t padded(int64_t k) { return (k + 31) / 32 * 32; }

// Lanes r of a block with lo <= r < hi.
__mmask16 lanes_between(int64_t lo, int64_t hi) {
  lo = max_i64(lo, 0);
  hi = min_i64(hi, kRows);
  if (hi <= lo) return _cvtu32_mask16(0);
  return _cvtu32_mask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// The pair of int16 codes at p, broadcast to every int32 lane.
__m512i pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// The 16 rows' scales (zeros) of one group at index at: f32, or f16 widened (exact).
template <bool kF16>
__m512 block_vec(const float* f32, const uint16_t* f16, int64_t at) {
  if constexpr (kF16)
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(f16 + at)));
  else
    return _mm512_loadu_ps(f32 + at);
}

// Rows of blocks rb .. rb + NB - 1 (restricted to [n0, n1)) for tokens 0 .. T - 1.
template <bool kInt4, bool kF16, int T, int NB, int A>
void tile(const int16_t* xq, const float* xs, const float* xz, const MatrixView& w, int64_t rb,
          int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t kp = padded(w.cols), nb = kp / 32, ng = n_groups(w), gc = group_cols(w);
  const int64_t block_bytes = kInt4 ? 8 * kp : 16 * kp;
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + rb * block_bytes;
  const __m512i nibbles = _mm512_set1_epi32(0x000f000f);
  // With an accumulator per nibble (A = 4), nibbles 1 and 2 are masked in place, not shifted
  // down: their products come out 16x and 256x, still exact (a block's 4 lines add 8 products
  // of |code * 256| <= 3840 times |x| <= 32768 per lane: 1.0e9 < 2^31), and the sums are
  // shifted back once per block; nibble 3 needs only the 16-bit shift. 4 ALU operations per line
  // instead of 7 beside the 4 vpdpwssd, on the two ports that run 512-bit operations.
  constexpr bool kScaledNibbles = kInt4 && A == 4;
  // Decode (one token, one block per pass) prefetches the weights this many bytes ahead.
  constexpr int64_t kPrefetch = T == 1 && NB == 1 ? kDecodePrefetch : 0;
  __m512 f[NB][T];
  for (int q = 0; q < NB; ++q)
    for (int t = 0; t < T; ++t) f[q][t] = _mm512_setzero_ps();
  // The group of block b is b * 32 / gc, advanced here without a division per block (an idiv
  // per block cost the AVX2 twin of this kernel about a third of its decode time on Zen 3).
  // Grouped: gc is a multiple of 32; per channel: one group, never advanced.
  const int64_t bpg = ng == 1 ? nb : gc / 32;
  int64_t g = 0, g_end = bpg;
  for (int64_t b = 0; b < nb; ++b) {
    if (b == g_end) {
      ++g;
      g_end += bpg;
    }
    __m512i acc[NB][T][A];
    for (int q = 0; q < NB; ++q)
      for (int t = 0; t < T; ++t)
        for (int a = 0; a < A; ++a) acc[q][t][a] = _mm512_setzero_si512();
    if constexpr (kInt4) {
      for (int64_t oct = 4 * b; oct < 4 * b + 4; ++oct) {
        if constexpr (kPrefetch > 0)
          _mm_prefetch(reinterpret_cast<const char*>(base + oct * 64 + kPrefetch), _MM_HINT_T0);
        for (int q = 0; q < NB; ++q) {
          const __m512i line = _mm512_loadu_si512(base + q * block_bytes + oct * 64);
          __m512i wv[4];
          if constexpr (kScaledNibbles) {
            wv[0] = _mm512_and_si512(line, nibbles);
            wv[1] = _mm512_and_si512(line, _mm512_set1_epi32(0x00f000f0));
            wv[2] = _mm512_and_si512(line, _mm512_set1_epi32(0x0f000f00));
            wv[3] = _mm512_srli_epi16(line, 12);
          } else {
            for (int s = 0; s < 4; ++s)
              wv[s] = _mm512_and_si512(_mm512_srli_epi32(line, 4 * s), nibbles);
          }
          for (int t = 0; t < T; ++t) {
            const int16_t* xp = xq + t * kp + oct * 8;
            for (int s = 0; s < 4; ++s)
              acc[q][t][s % A] = _mm512_dpwssd_epi32(acc[q][t][s % A], wv[s], pair(xp + 2 * s));
          }
        }
      }
    } else {
      // Pairs in steps of A with the accumulator index a constant: a run-time pr % A kept the
      // accumulators on the stack (GCC 12), a load and store around every vpdpwssd.
      for (int64_t pr0 = 16 * b; pr0 < 16 * b + 16; pr0 += A) {
        if constexpr (kPrefetch > 0)
          _mm_prefetch(reinterpret_cast<const char*>(base + pr0 * 32 + kPrefetch), _MM_HINT_T0);
#pragma GCC unroll 4
        for (int a = 0; a < A; ++a) {
          const int64_t pr = pr0 + a;
          for (int q = 0; q < NB; ++q) {
            const __m512i wv = _mm512_cvtepi8_epi16(_mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(base + q * block_bytes + pr * 32)));
            for (int t = 0; t < T; ++t)
              acc[q][t][a] = _mm512_dpwssd_epi32(acc[q][t][a], wv, pair(xq + t * kp + 2 * pr));
          }
        }
      }
    }
    for (int q = 0; q < NB; ++q) {
      const int64_t at = ((rb + q) * ng + g) * kRows;
      const __m512 sv = block_vec<kF16>(w.scales, w.scales_f16, at);
      __m512 zs = _mm512_setzero_ps();
      if constexpr (kInt4) {
        const bool asym = kF16 ? w.zeros_f16 != nullptr : w.zeros != nullptr;
        zs = _mm512_mul_ps(asym ? block_vec<kF16>(w.zeros, w.zeros_f16, at) : _mm512_set1_ps(8.0f), sv);
      }
      for (int t = 0; t < T; ++t) {
        __m512i sum = acc[q][t][0];
        if constexpr (kScaledNibbles) {  // nibble s was multiplied in at 16^s (s = 1, 2)
          sum = _mm512_add_epi32(sum, _mm512_srai_epi32(acc[q][t][1], 4));
          sum = _mm512_add_epi32(sum, _mm512_srai_epi32(acc[q][t][2], 8));
          sum = _mm512_add_epi32(sum, acc[q][t][3]);
        } else {
          for (int a = 1; a < A; ++a) sum = _mm512_add_epi32(sum, acc[q][t][a]);
        }
        const __m512 st = _mm512_mul_ps(sv, _mm512_set1_ps(xs[t * nb + b]));
        f[q][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), st, f[q][t]);
        if constexpr (kInt4) f[q][t] = _mm512_fnmadd_ps(zs, _mm512_set1_ps(xz[t * nb + b]), f[q][t]);
      }
    }
  }
  for (int q = 0; q < NB; ++q) {
    const int64_t row0 = (rb + q) * kRows;
    const __mmask16 mask = lanes_between(n0 - row0, n1 - row0);
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(y + t * ldy + row0, mask, f[q][t]);
  }
}

template <bool kInt4, bool kF16>
void run(const int16_t* xq, const float* xs, const float* xz, int64_t m, const MatrixView& w,
         int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t kp = padded(w.cols), nb = kp / 32;
  const int64_t rb_end = (n1 + kRows - 1) / kRows;
  int64_t rb = n0 / kRows;
  if (m == 1) {  // decode: one block per pass (memory order), four accumulators
    for (; rb < rb_end; ++rb) tile<kInt4, kF16, 1, 1, 4>(xq, xs, xz, w, rb, n0, n1, y, ldy);
    return;
  }
  // Blocks outer, tokens inner: a block's codes stay in L1 while every token passes over them.
  for (; rb < rb_end; ++rb) {
    int64_t i = 0;
    auto at = [&](int64_t t) { return xq + t * kp; };
    for (; i + 8 <= m; i += 8)
      tile<kInt4, kF16, 8, 1, 1>(at(i), xs + i * nb, xz + i * nb, w, rb, n0, n1, y + i * ldy, ldy);
    if (i + 4 <= m) {
      tile<kInt4, kF16, 4, 1, 2>(at(i), xs + i * nb, xz + i * nb, w, rb, n0, n1, y + i * ldy, ldy);
      i += 4;
    }
    if (i + 2 <= m) {
      tile<kInt4, kF16, 2, 1, 4>(at(i), xs + i * nb, xz + i * nb, w, rb, n0, n1, y + i * ldy, ldy);
      i += 2;
    }
    if (i < m) tile<kInt4, kF16, 1, 1, 4>(at(i), xs + i * nb, xz + i * nb, w, rb, n0, n1, y + i * ldy, ldy);
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

}  // namespace quanta::kernels::avx512vnni
