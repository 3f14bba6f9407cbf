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
// Decode (NH = 2) prefetches the weights this many bytes ahead: the hardware prefetcher alone left
// the core waiting on DRAM (Zen 3, a 60 MB int4 layer stack streamed on one core: 5.8-6.3 ->
// 4.1-4.5 ms; bench_decode_stream).
constexpr int64_t kPrefetch = 2048;

int64_t n_groups(const MatrixView& w) { return w.group_size > 0 ? w.cols / w.group_size : 1; }
int64_t group_cols(const MatrixView& w) { return w.group_size > 0 ? w.group_size : w.cols; }
int64_t padded(int64_t k) { return (k + 31) / 32 * 32; }

// All-ones in lanes r with lo <= r < hi.
__m256i lanes_between(int64_t lo, int64_t hi) {
  const __m256i r = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i ge = _mm256_cmpgt_epi32(r, _mm256_set1_epi32(int(lo < -1  ? -1
                                                                 : lo > 8 ? 8
                                                                          : lo) -
                                                             1));
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

// Rows of halves h0 .. h0 + NH - 1 of block rb (restricted to [n0, n1)) for tokens 0 .. T - 1.
// NH = 2 reads each 64-byte line of the block whole, in memory order, and shares each token's
// activation broadcasts between the halves (decode: few tokens, weights streamed from DRAM).
// kPre: the tokens' code pairs are already broadcast in xb (kp / 2 vectors per token) and read
// from there instead of broadcast here (see the prefill path below on what a broadcast costs).
template <bool kInt4, bool kF16, int T, int NH, bool kPre = false>
void half_tile(const int16_t* xq, const float* xs, const float* xz, const MatrixView& w, int64_t rb,
               int h0, int64_t n0, int64_t n1, float* y, int64_t ldy, const __m256i* xb = nullptr) {
  const int64_t kp = padded(w.cols), nb = kp / 32, ng = n_groups(w), gc = group_cols(w);
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + rb * (kInt4 ? 8 * kp : 16 * kp);
  const __m256i nibbles = _mm256_set1_epi32(0x000f000f);
  const int64_t bpg = gc / 32;  // blocks per group (group sizes are multiples of 32)
  __m256 f[NH][T];
  for (int h = 0; h < NH; ++h)
    for (int t = 0; t < T; ++t) f[h][t] = _mm256_setzero_ps();
  // Note: groups outside, blocks inside, so no division per block (b * 32 / gc as an idiv cost
  // the AVX2 decode GEMV about a third of its time on Zen 3).
  for (int64_t g = 0, b = 0; g < ng; ++g) {
    __m256 sv[NH], zs[NH];
    for (int h = 0; h < NH; ++h) {
      const int64_t at = (rb * ng + g) * kRows + (h0 + h) * kHalf;
      sv[h] = block_vec<kF16>(w.scales, w.scales_f16, at);
      zs[h] = _mm256_setzero_ps();
      if constexpr (kInt4) {
        const bool asym = kF16 ? w.zeros_f16 != nullptr : w.zeros != nullptr;
        zs[h] = _mm256_mul_ps(
            asym ? block_vec<kF16>(w.zeros, w.zeros_f16, at) : _mm256_set1_ps(8.0f), sv[h]);
      }
    }
    for (const int64_t b_end = g + 1 == ng ? nb : b + bpg; b < b_end; ++b) {
      __m256i acc[NH][T];
      for (int h = 0; h < NH; ++h)
        for (int t = 0; t < T; ++t) acc[h][t] = _mm256_setzero_si256();
      if constexpr (kInt4) {
        for (int64_t oct = 4 * b; oct < 4 * b + 4; ++oct) {
          if constexpr (NH == 2)
            _mm_prefetch(reinterpret_cast<const char*>(base + oct * 64 + kPrefetch), _MM_HINT_T0);
          for (int h = 0; h < NH; ++h) {
            const __m256i line = _mm256_loadu_si256(
                reinterpret_cast<const __m256i*>(base + oct * 64 + (h0 + h) * 32));
            const __m256i wv[4] = {_mm256_and_si256(line, nibbles),
                                   _mm256_and_si256(_mm256_srli_epi32(line, 4), nibbles),
                                   _mm256_and_si256(_mm256_srli_epi32(line, 8), nibbles),
                                   _mm256_and_si256(_mm256_srli_epi32(line, 12), nibbles)};
            for (int t = 0; t < T; ++t) {
              const int16_t* xp = xq + t * kp + oct * 8;
              for (int q = 0; q < 4; ++q) {
                __m256i xv;
                if constexpr (kPre)
                  xv = _mm256_load_si256(xb + t * kp / 2 + oct * 4 + q);
                else
                  xv = pair(xp + 2 * q);
                acc[h][t] = _mm256_add_epi32(acc[h][t], _mm256_madd_epi16(wv[q], xv));
              }
            }
          }
        }
      } else {
        for (int64_t pr = 16 * b; pr < 16 * b + 16; ++pr) {
          if constexpr (NH == 2)
            if (pr % 2 == 0)
              _mm_prefetch(reinterpret_cast<const char*>(base + pr * 32 + kPrefetch), _MM_HINT_T0);
          for (int h = 0; h < NH; ++h) {
            const __m256i wv = _mm256_cvtepi8_epi16(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + pr * 32 + (h0 + h) * 16)));
            for (int t = 0; t < T; ++t) {
              __m256i xv;
              if constexpr (kPre)
                xv = _mm256_load_si256(xb + t * kp / 2 + pr);
              else
                xv = pair(xq + t * kp + 2 * pr);
              acc[h][t] = _mm256_add_epi32(acc[h][t], _mm256_madd_epi16(wv, xv));
            }
          }
        }
      }
      for (int h = 0; h < NH; ++h)
        for (int t = 0; t < T; ++t) {
          const __m256 st = _mm256_mul_ps(sv[h], _mm256_set1_ps(xs[t * nb + b]));
          f[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[h][t]), st, f[h][t]);
          if constexpr (kInt4)
            f[h][t] = _mm256_fnmadd_ps(zs[h], _mm256_set1_ps(xz[t * nb + b]), f[h][t]);
        }
    }
  }
  for (int h = 0; h < NH; ++h) {
    const int64_t row0 = rb * kRows + (h0 + h) * kHalf;
    const __m256i mask = lanes_between(n0 - row0, n1 - row0);
    for (int t = 0; t < T; ++t) _mm256_maskstore_ps(y + t * ldy + row0, mask, f[h][t]);
  }
}

// ---- Many tokens (prefill): activations pre-broadcast, columns in chunks. ----
// A broadcast from memory costs a vector ALU slot on Zen 3 (measured: 8 vpbroadcastd beside 16
// vpand take 7.1 instead of 4 cycles), and the tiles above spend one per code pair, token and
// 8 rows. Here each (token, pair) is broadcast once per call into scratch, so the madds take their
// activation operand from L1 instead; the columns go in chunks of kChunkBlocks blocks so that a
// chunk's broadcasts for kGemmTokens tokens (16 KB) stay in L1, and a chunk's W (n x 64 bytes)
// in L2 while the token groups pass over it. Each row's f32 sum is carried across chunks in y,
// block after block in the order of half_tile, so the result has the same bits.
constexpr int kGemmTokens = 8;                 // tokens per pass over a half block
constexpr int64_t kChunkBlocks = 4;            // 32-column blocks per chunk
constexpr int64_t kPairs = 16 * kChunkBlocks;  // code pairs per chunk
constexpr int64_t kGemmFrom = 16;              // m from which run() takes this path

// Keeps v in a register at this point: the int32 sums are otherwise reassociated by the compiler
// into trees of madd results that spill (GCC 12, T = 8), where one running sum per token suffices.
inline void pin(__m256i& v) { asm("" : "+x"(v)); }

// What chunk_tile needs of W and the chunk, computed once per chunk (not per tile: the integer
// divisions alone cost a fifth of a tile's time).
struct Chunk {
  const uint8_t* w = nullptr;  // W's codes
  int64_t block_bytes = 0;     // bytes per 16-row block
  int64_t nb = 0, ng = 0;      // 32-column blocks per row, weight groups per row
  int64_t b0 = 0, b1 = 0;      // the chunk's blocks
  int64_t g0 = 0, g0_end = 0;  // group of block b0, and the first block of the next group
  int64_t bpg = 0;             // blocks per group
};

// Tokens 0 .. T - 1 against half h of block rb, over the chunk's blocks. xb holds the chunk's
// broadcast pairs, kPairs vectors per token (token t at xb + t * kPairs); f starts at 0 (first
// chunk) or from y, and is stored back to y (rows in [n0, n1) only).
template <bool kInt4, bool kF16, int T>
void chunk_tile(const __m256i* xb, const float* xs, const float* xz, const MatrixView& w,
                const Chunk& c, int64_t rb, int h, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const __m256i nibbles = _mm256_set1_epi32(0x000f000f);
  const uint8_t* base = c.w + rb * c.block_bytes;
  const int64_t row0 = rb * kRows + h * kHalf;
  const bool whole = row0 >= n0 && row0 + kHalf <= n1;
  const __m256i mask = lanes_between(n0 - row0, n1 - row0);
  __m256 f[T];
  for (int t = 0; t < T; ++t) {
    if (c.b0 == 0)
      f[t] = _mm256_setzero_ps();
    else
      f[t] = whole ? _mm256_loadu_ps(y + t * ldy + row0)
                   : _mm256_maskload_ps(y + t * ldy + row0, mask);
  }
  int64_t g = c.g0, g_end = c.g0_end;
  for (int64_t b = c.b0; b < c.b1; ++b) {
    if (b == g_end) {
      ++g;
      g_end += c.bpg;
    }
    const __m256i* xc = xb + (b - c.b0) * 16;  // this block's 16 pairs
    __m256i acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_si256();
    if constexpr (kInt4) {
      for (int o = 0; o < 4; ++o) {
        const __m256i line =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + (4 * b + o) * 64 + h * 32));
        const __m256i wv[4] = {_mm256_and_si256(line, nibbles),
                               _mm256_and_si256(_mm256_srli_epi32(line, 4), nibbles),
                               _mm256_and_si256(_mm256_srli_epi32(line, 8), nibbles),
                               _mm256_and_si256(_mm256_srli_epi32(line, 12), nibbles)};
        for (int q = 0; q < 4; ++q)
          for (int t = 0; t < T; ++t) {
            acc[t] = _mm256_add_epi32(
                acc[t], _mm256_madd_epi16(wv[q], _mm256_load_si256(xc + t * kPairs + 4 * o + q)));
            pin(acc[t]);
          }
      }
    } else {
      for (int j = 0; j < 16; ++j) {
        const __m256i wv = _mm256_cvtepi8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(base + (16 * b + j) * 32 + h * 16)));
        for (int t = 0; t < T; ++t) {
          acc[t] = _mm256_add_epi32(acc[t],
                                    _mm256_madd_epi16(wv, _mm256_load_si256(xc + t * kPairs + j)));
          pin(acc[t]);
        }
      }
    }
    const int64_t at = (rb * c.ng + g) * kRows + h * kHalf;
    const __m256 sv = block_vec<kF16>(w.scales, w.scales_f16, at);
    __m256 zs = _mm256_setzero_ps();
    if constexpr (kInt4) {
      const bool asym = kF16 ? w.zeros_f16 != nullptr : w.zeros != nullptr;
      zs = _mm256_mul_ps(asym ? block_vec<kF16>(w.zeros, w.zeros_f16, at) : _mm256_set1_ps(8.0f),
                         sv);
    }
    for (int t = 0; t < T; ++t) {
      const __m256 st = _mm256_mul_ps(sv, _mm256_set1_ps(xs[t * c.nb + b]));
      f[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[t]), st, f[t]);
      if constexpr (kInt4) f[t] = _mm256_fnmadd_ps(zs, _mm256_set1_ps(xz[t * c.nb + b]), f[t]);
    }
  }
  for (int t = 0; t < T; ++t) {
    if (whole)
      _mm256_storeu_ps(y + t * ldy + row0, f[t]);
    else
      _mm256_maskstore_ps(y + t * ldy + row0, mask, f[t]);
  }
}

// Tokens [0, T) (at xq, xs, xz, y), every row block in [n0, n1), the chunk's blocks.
template <bool kInt4, bool kF16, int T>
void chunk_rows(const int16_t* xq, const float* xs, const float* xz, __m256i* xb,
                const MatrixView& w, const Chunk& c, int64_t n0, int64_t n1, float* y,
                int64_t ldy) {
  const int64_t kp = c.nb * 32;
  for (int t = 0; t < T; ++t)
    for (int64_t p = 0; p < (c.b1 - c.b0) * 16; ++p)
      _mm256_store_si256(xb + t * kPairs + p, pair(xq + t * kp + 2 * (c.b0 * 16 + p)));
  for (int64_t rb = n0 / kRows; rb * kRows < n1; ++rb)
    for (int h = 0; h < 2; ++h) {
      const int64_t row0 = rb * kRows + h * kHalf;
      if (row0 + kHalf <= n0 || row0 >= n1) continue;
      chunk_tile<kInt4, kF16, T>(xb, xs, xz, w, c, rb, h, n0, n1, y, ldy);
    }
}

template <bool kInt4, bool kF16>
void run_chunked(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t kp = padded(w.cols);
  Chunk c;
  c.w = static_cast<const uint8_t*>(w.data);
  c.block_bytes = kInt4 ? 8 * kp : 16 * kp;
  c.nb = kp / 32;
  c.ng = n_groups(w);
  c.bpg = c.ng == 1 ? c.nb : group_cols(w) / 32;
  auto* xb = reinterpret_cast<__m256i*>(qmatmul_scratch(kGemmTokens * kPairs * 8));
  for (c.b0 = 0; c.b0 < c.nb; c.b0 += kChunkBlocks) {
    c.b1 = c.b0 + kChunkBlocks < c.nb ? c.b0 + kChunkBlocks : c.nb;
    c.g0 = c.b0 / c.bpg;
    c.g0_end = (c.g0 + 1) * c.bpg;
    const int64_t nb = c.nb;
    int64_t i = 0;
    auto at = [&](int64_t t) { return xq + t * kp; };
    for (; i + kGemmTokens <= m; i += kGemmTokens)
      chunk_rows<kInt4, kF16, kGemmTokens>(at(i), xs + i * nb, xz + i * nb, xb, w, c, n0, n1,
                                           y + i * ldy, ldy);
    if (i + 4 <= m) {
      chunk_rows<kInt4, kF16, 4>(at(i), xs + i * nb, xz + i * nb, xb, w, c, n0, n1, y + i * ldy,
                                 ldy);
      i += 4;
    }
    if (i + 2 <= m) {
      chunk_rows<kInt4, kF16, 2>(at(i), xs + i * nb, xz + i * nb, xb, w, c, n0, n1, y + i * ldy,
                                 ldy);
      i += 2;
    }
    if (i < m)
      chunk_rows<kInt4, kF16, 1>(at(i), xs + i * nb, xz + i * nb, xb, w, c, n0, n1, y + i * ldy,
                                 ldy);
  }
}

// The decode broadcast in qmatmul_input_scratch: of which codes (kp columns at xq), where.
struct Broadcast {
  const int16_t* xq;
  int64_t kp;
  const __m256i* xb;
};
thread_local Broadcast t_broadcast = {nullptr, 0, nullptr};

template <bool kInt4, bool kF16>
void run(const int16_t* xq, const float* xs, const float* xz, int64_t m, const MatrixView& w,
         int64_t n0, int64_t n1, float* y, int64_t ldy) {
  if (m >= kGemmFrom) return run_chunked<kInt4, kF16>(xq, xs, xz, m, w, n0, n1, y, ldy);
  const int64_t kp = padded(w.cols), nb = kp / 32;
  const int64_t rb_end = (n1 + kRows - 1) / kRows;
  __m256i* xb = nullptr;
  // One token's kp / 2 pairs broadcast (9 KB for k = 576, 24 KB for 1536), for int4 only: its
  // unpacking leaves the ALU ports busier than int8's sign extension, which measured slower so.
  // Kept for the thread's next call on the same input: a Linear's 8 pieces per thread would
  // otherwise broadcast as many bytes as the down projection's pieces read of W.
  if (kInt4 && m == 1) {
    xb = reinterpret_cast<__m256i*>(qmatmul_input_scratch(kp * 4));
    if (t_broadcast.xq != xq || t_broadcast.kp != kp || t_broadcast.xb != xb) {
      for (int64_t p = 0; p < kp / 2; ++p) _mm256_store_si256(xb + p, pair(xq + 2 * p));
      t_broadcast = {xq, kp, xb};
    }
  }
  for (int64_t rb = n0 / kRows; rb < rb_end; ++rb) {
    if (m <= 2) {  // decode: the whole block in one pass
      if (m == 2)
        half_tile<kInt4, kF16, 2, 2>(xq, xs, xz, w, rb, 0, n0, n1, y, ldy);
      else
        half_tile<kInt4, kF16, 1, 2, kInt4>(xq, xs, xz, w, rb, 0, n0, n1, y, ldy, xb);
      continue;
    }
    for (int h = 0; h < 2; ++h) {
      const int64_t row0 = rb * kRows + h * kHalf;
      if (row0 + kHalf <= n0 || row0 >= n1) continue;
      int64_t i = 0;
      for (; i + 4 <= m; i += 4)
        half_tile<kInt4, kF16, 4, 1>(xq + i * kp, xs + i * nb, xz + i * nb, w, rb, h, n0, n1,
                                     y + i * ldy, ldy);
      if (i + 2 <= m) {
        half_tile<kInt4, kF16, 2, 1>(xq + i * kp, xs + i * nb, xz + i * nb, w, rb, h, n0, n1,
                                     y + i * ldy, ldy);
        i += 2;
      }
      if (i < m)
        half_tile<kInt4, kF16, 1, 1>(xq + i * kp, xs + i * nb, xz + i * nb, w, rb, h, n0, n1,
                                     y + i * ldy, ldy);
    }
  }
}

}  // namespace

void qmatmul_i16(const int16_t* xq, const float* xs, const float* xz, int64_t m,
                 const MatrixView& w, int64_t n0, int64_t n1, float* y, int64_t ldy,
                 bool input_unchanged) {
  if (!input_unchanged) t_broadcast = {};
  const bool half = w.scales_f16 != nullptr;
  if (w.format == WeightFormat::kInt4x16) {
    if (half) return run<true, true>(xq, xs, xz, m, w, n0, n1, y, ldy);
    return run<true, false>(xq, xs, xz, m, w, n0, n1, y, ldy);
  }
  if (half) return run<false, true>(xq, xs, xz, m, w, n0, n1, y, ldy);
  return run<false, false>(xq, xs, xz, m, w, n0, n1, y, ldy);
}

}  // namespace quanta::kernels::avx2
