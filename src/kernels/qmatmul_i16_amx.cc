// Intel AMX kernel for int4 / int8 weights (kInt4x16, kInt8x16) against int16 activation codes,
// for many tokens (prefill). Contract in kernels/qmatmul.h (qmatmul_i16): the same bits as every
// other level.
//
// AMX multiplies bytes, so each int16 code x is split as x = 256 * hi + lo with hi = x >> 8
// (signed byte) and lo = x & 255 (unsigned byte), made once per call. Per 32-column block (one
// activation scale) and 16 tokens x 16 weight rows, tdpbssd(hi, W) and tdpbusd(lo, W) give two
// exact int32 sums, and 256 * the first + the second is the block's exact sum (|sum| <= 32 *
// 32767 * 128). Each block's sums then go through the reference's f32 steps in its order (an FMA
// with scale * xs, then for int4 the zero-point FMA), with 16 accumulator vectors (one per token)
// carried across the blocks.
//
// The weights' 16-row blocks are re-laid per call as tdpbssd's B tiles (8 rows of 4-column quads
// per block of 32 columns, 512 bytes): int8 pairs interleave with one vpermt2w; int4 nibbles
// split into bytes (two ANDs and a shift) and gather with two vpermt2b (AVX512-VBMI).
//
// Note: built with -mavx512* -mamx-*; tiles configured at every call, released at its end.
#include "kernels/avx512_intrin.h"

#include <cstdint>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/qmatmul.h"

namespace quanta::kernels::amx {
namespace {

constexpr int64_t kRows = 16;     // weight rows per block (C tile columns)
constexpr int64_t kTok = 16;      // tokens per A tile
constexpr int64_t kBlock = 32;    // columns per activation scale = K of a tile step
constexpr int64_t kBBytes = 512;  // one B tile: 8 rows (quads) x 64 bytes

int64_t n_groups(const MatrixView& w) { return w.group_size > 0 ? w.cols / w.group_size : 1; }

// Tiles: 0, 1 C (hi, lo sums: 16 x 16 int32), 2, 3 A (hi, lo codes: 16 tokens x 32 bytes),
// 4 B (8 quads x 16 rows x 4 bytes).
void configure() {
  TileConfig c;
  c.rows[0] = c.rows[1] = 16;
  c.colsb[0] = c.colsb[1] = 64;
  c.rows[2] = c.rows[3] = 16;
  c.colsb[2] = c.colsb[3] = 32;
  c.rows[4] = 8;
  c.colsb[4] = 64;
  _tile_loadconfig(&c);
}

// The activation codes split into hi (signed) and lo (unsigned) bytes, rows of kp, m_pad rows
// (rows from m on zero).
void split_codes(const int16_t* xq, int64_t m, int64_t m_pad, int64_t kp, int8_t* hi,
                 uint8_t* lo) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < kp; c += 32) {
      const __m512i x = _mm512_loadu_si512(xq + i * kp + c);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + i * kp + c),
                          _mm512_cvtepi16_epi8(_mm512_srai_epi16(x, 8)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + i * kp + c), _mm512_cvtepi16_epi8(x));
    }
  std::memset(hi + m * kp, 0, size_t((m_pad - m) * kp));
  std::memset(lo + m * kp, 0, size_t((m_pad - m) * kp));
}

// Row block rb of W (16 rows), every 32-column block, as B tiles: out (nb, 8, 16, 4) bytes, quad
// q of row r in block b = columns 32 b + 4 q .. + 3.
template <bool kInt4>
void weight_tiles(const MatrixView& w, int64_t rb, int64_t nb, int8_t* out) {
  const int64_t kp = nb * kBlock;
  const uint8_t* base = static_cast<const uint8_t*>(w.data) + rb * (kInt4 ? 8 * kp : 16 * kp);
  if constexpr (kInt4) {
    // A 64-byte line holds 8 columns of the 16 rows: row r's 32-bit lane has column 2s + h in
    // nibble s of 16-bit half h. Bytes: lo = nibbles 0 and 2 of each half (byte 0: s0 h0, 1: s2
    // h0, 2: s0 h1, 3: s2 h1), hi = nibbles 1 and 3. Quad 0 (columns 0-3) = s0h0 s0h1 s1h0 s1h1
    // = lo.0 lo.2 hi.0 hi.2; quad 1 (columns 4-7) = lo.1 lo.3 hi.1 hi.3.
    alignas(64) static const uint8_t kIdx[2][64] = {
        {0,  2,  64, 66, 4,  6,  68, 70, 8,  10, 72, 74, 12, 14, 76, 78, 16, 18, 80, 82, 20, 22,
         84, 86, 24, 26, 88, 90, 28, 30, 92, 94, 32, 34, 96, 98, 36, 38, 100, 102, 40, 42, 104,
         106, 44, 46, 108, 110, 48, 50, 112, 114, 52, 54, 116, 118, 56, 58, 120, 122, 60, 62,
         124, 126},
        {1,  3,  65, 67, 5,  7,  69, 71, 9,  11, 73, 75, 13, 15, 77, 79, 17, 19, 81, 83, 21, 23,
         85, 87, 25, 27, 89, 91, 29, 31, 93, 95, 33, 35, 97, 99, 37, 39, 101, 103, 41, 43, 105,
         107, 45, 47, 109, 111, 49, 51, 113, 115, 53, 55, 117, 119, 57, 59, 121, 123, 61, 63,
         125, 127}};
    const __m512i i0 = _mm512_load_si512(kIdx[0]), i1 = _mm512_load_si512(kIdx[1]);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int64_t oct = 0; oct < kp / 8; ++oct) {
      const __m512i line = _mm512_loadu_si512(base + oct * 64);
      const __m512i lo = _mm512_and_si512(line, m4);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(line, 4), m4);
      // oct covers quads 2 oct and 2 oct + 1 of the row; block b = oct / 4.
      int8_t* q = out + (oct / 4) * kBBytes + (oct % 4) * 2 * 64;
      _mm512_storeu_si512(q, _mm512_permutex2var_epi8(lo, i0, hi));
      _mm512_storeu_si512(q + 64, _mm512_permutex2var_epi8(lo, i1, hi));
    }
  } else {
    // Pair p (columns 2p, 2p + 1) of the 16 rows is 32 bytes: row r's two codes at 2r, 2r + 1.
    // Quad q = pairs 2q and 2q + 1: row r's 16-bit element from each, interleaved.
    alignas(64) static const uint16_t kIdx[32] = {0, 32, 1, 33, 2,  34, 3,  35, 4,  36, 5,
                                                  37, 6, 38, 7, 39, 8,  40, 9,  41, 10, 42,
                                                  11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
    const __m512i idx = _mm512_load_si512(kIdx);
    for (int64_t q = 0; q < kp / 4; ++q) {
      const __m512i a = _mm512_castsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + (2 * q) * 32)));
      const __m512i b = _mm512_castsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + (2 * q + 1) * 32)));
      _mm512_storeu_si512(out + q * 64, _mm512_permutex2var_epi16(a, idx, b));
    }
  }
}

// The 16 rows' scales (zeros) of one group at index at: f32, or f16 widened (exact).
template <bool kF16>
__m512 block_vec(const float* f32, const uint16_t* f16, int64_t at) {
  if constexpr (kF16)
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(f16 + at)));
  else
    return _mm512_loadu_ps(f32 + at);
}

template <bool kInt4, bool kF16>
void run(const int16_t* xq, const float* xs, const float* xz, int64_t m, const MatrixView& w,
         int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t kp = (w.cols + 31) / 32 * 32, nb = kp / kBlock, ng = n_groups(w);
  const int64_t bpg = ng == 1 ? nb : w.group_size / kBlock;  // blocks per group
  const int64_t m_pad = (m + kTok - 1) / kTok * kTok;
  const int64_t split_bytes = 2 * m_pad * kp, wt_bytes = nb * kBBytes;
  auto* scratch =
      reinterpret_cast<uint8_t*>(qmatmul_scratch((split_bytes + wt_bytes + 2 * 1024) / 4));
  auto* hi = reinterpret_cast<int8_t*>(scratch);
  uint8_t* lo = scratch + m_pad * kp;
  auto* wt = reinterpret_cast<int8_t*>(scratch + split_bytes);
  auto* c = reinterpret_cast<int32_t*>(scratch + split_bytes + wt_bytes);
  split_codes(xq, m, m_pad, kp, hi, lo);
  const bool asym = kF16 ? w.zeros_f16 != nullptr : w.zeros != nullptr;
  configure();
  for (int64_t rb = n0 / kRows; rb * kRows < n1; ++rb) {
    const int64_t row0 = rb * kRows;
    const __mmask16 mask = lanes_between(n0 - row0, n1 - row0);
    weight_tiles<kInt4>(w, rb, nb, wt);
    for (int64_t t0 = 0; t0 < m; t0 += kTok) {
      __m512 f[kTok];
      for (int t = 0; t < kTok; ++t) f[t] = _mm512_setzero_ps();
      __m512 sv = _mm512_setzero_ps(), zs = _mm512_setzero_ps();
      for (int64_t b = 0, g = -1; b < nb; ++b) {
        if (b / bpg != g) {  // a new weight group: its scales (and zero points) for the 16 rows
          g = b / bpg;
          const int64_t at = (rb * ng + g) * kRows;
          sv = block_vec<kF16>(w.scales, w.scales_f16, at);
          if constexpr (kInt4)
            zs = _mm512_mul_ps(asym ? block_vec<kF16>(w.zeros, w.zeros_f16, at) : _mm512_set1_ps(8.0f),
                               sv);
        }
        _tile_zero(0);
        _tile_zero(1);
        _tile_loadd(2, hi + t0 * kp + b * kBlock, kp);
        _tile_loadd(3, lo + t0 * kp + b * kBlock, kp);
        _tile_loadd(4, wt + b * kBBytes, 64);
        _tile_dpbssd(0, 2, 4);
        _tile_dpbusd(1, 3, 4);
        _tile_stored(0, c, 64);
        _tile_stored(1, c + 256, 64);
        const int64_t tn = m - t0 < kTok ? m - t0 : kTok;
        for (int64_t t = 0; t < tn; ++t) {
          const __m512i sum = _mm512_add_epi32(_mm512_slli_epi32(_mm512_loadu_si512(c + t * 16), 8),
                                               _mm512_loadu_si512(c + 256 + t * 16));
          const __m512 st = _mm512_mul_ps(sv, _mm512_set1_ps(xs[(t0 + t) * nb + b]));
          f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), st, f[t]);
          if constexpr (kInt4) f[t] = _mm512_fnmadd_ps(zs, _mm512_set1_ps(xz[(t0 + t) * nb + b]), f[t]);
        }
      }
      for (int64_t t = 0; t < kTok && t0 + t < m; ++t)
        _mm512_mask_storeu_ps(y + (t0 + t) * ldy + row0, mask, f[t]);
    }
  }
  _tile_release();
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

}  // namespace quanta::kernels::amx
