// Intel AMX (BF16) kernel for FP8 E4M3 weights against FP8_DYNAMIC activations. Contract in
// kernels/qmatmul.h (qmatmul_fp8_dynamic).
//
// Both operands are E4M3 values times a scale: the weights' codes with one scale per row, the
// activations' codes with one scale per token (recovered from the fake-quantized f32 values as
// value / scale, which is exact: a code has 4 significant bits, a bf16 scale 8). Every E4M3 value
// is exactly a bf16 value (subnormal ones included: bf16 has E4M3's exponent range and more), and
// the product of two has at most 8 significant bits, exact in f32; tdpbf16ps adds 16 x 16 x 32 of
// them per instruction into f32 accumulators. So
//   y[t][r] = (sum_c code_x[t][c] * code_w[r][c]) * sx[t] * scale[r]
// is the reference's sum of (x value * weight value) up to the order and rounding of the f32
// additions (no bf16 rounding of any operand).
//
// Layout: a weight tile (A) is 16 rows x 32 columns of bf16, row-major, converted from the E4M3
// bytes per call (16 consecutive rows, whole K, kept while every token passes over them); an
// activation tile (B) holds 16 tokens x 32 columns as pairs per row of 16 tokens (tdpbf16ps's
// "VNNI" layout: row k2 = columns 2 k2, 2 k2 + 1 of each token), packed once per call. C tiles
// are (weight row, token); they are transposed on the way out.
//
// Note: built with -mavx512* -mavx512bf16 -mamx-tile -mamx-bf16; tiles are configured at every
// call and released at its end.
#include "kernels/avx512_intrin.h"

#include <cstdint>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/qmatmul.h"

namespace quanta::kernels::amx {
namespace {

constexpr int64_t kRows = 16;  // weight rows per tile
constexpr int64_t kTok = 16;   // tokens per tile
constexpr int64_t kCols = 32;  // columns (bf16) per tile step
constexpr int64_t kTileBytes = 1024;

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }

// 16 E4M3 bytes -> f32 (exact; see qmatmul_avx512.cc's Fmt<kFp8>).
__m512 e4m3_to_f32(__m128i bytes) {
  const __m512i b = _mm512_cvtepi8_epi32(bytes);
  const __m512i f = _mm512_and_si512(_mm512_slli_epi32(b, 20), _mm512_set1_epi32(int(0x87f00000u)));
  return _mm512_mul_ps(_mm512_castsi512_ps(f), _mm512_set1_ps(0x1p120f));
}

// 32 f32 values (exactly bf16 values) -> 32 bf16 in order, as 16 pairs per 32-bit lane.
__m512i to_bf16_pairs(__m512 lo, __m512 hi) { return (__m512i)_mm512_cvtne2ps_pbh(hi, lo); }

// 16 x 16 32-bit elements: r[i] lane e becomes r[e] lane i.
void transpose16(__m512i* r) {
  __m512i t[16], u[16];
  for (int i = 0; i < 16; i += 2) {  // per 128-bit quarter: [a0 b0 a1 b1], [a2 b2 a3 b3]
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int q = 0; q < 4; ++q) {  // u[4q + j], quarter p: element 4p + j of rows 4q .. 4q + 3
    u[4 * q] = _mm512_unpacklo_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 1] = _mm512_unpackhi_epi64(t[4 * q], t[4 * q + 2]);
    u[4 * q + 2] = _mm512_unpacklo_epi64(t[4 * q + 1], t[4 * q + 3]);
    u[4 * q + 3] = _mm512_unpackhi_epi64(t[4 * q + 1], t[4 * q + 3]);
  }
  for (int j = 0; j < 4; ++j) {  // a 4 x 4 transpose of quarters among u[j], u[4 + j], ...
    const __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88);
    const __m512i v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xdd);
    const __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
    const __m512i v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
    r[8 + j] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
    r[4 + j] = _mm512_shuffle_i32x4(v1, v3, 0x88);
    r[12 + j] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
  }
}

// The activation tiles of tokens [t0, t0 + 16) (those below m; the rest 0), every step: codes
// (value / scale) as bf16 pairs, transposed to rows of 16 tokens. out: steps x 1 KB.
void pack_tokens(const float* xf, const float* sx, int64_t m, int64_t k, int64_t t0,
                 int64_t steps, uint8_t* out) {
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t c = s * kCols;
    __m512i e[16];
    for (int64_t t = 0; t < kTok; ++t) {
      if (t0 + t >= m) {
        e[t] = _mm512_setzero_si512();
        continue;
      }
      const float* row = xf + (t0 + t) * k + c;
      const __m512 inv = _mm512_set1_ps(sx[t0 + t]);
      const __m512 lo = _mm512_div_ps(_mm512_maskz_loadu_ps(lanes_between(0, k - c), row), inv);
      const __m512 hi = _mm512_div_ps(_mm512_maskz_loadu_ps(lanes_between(0, k - c - 16), row + 16), inv);
      e[t] = to_bf16_pairs(lo, hi);
    }
    transpose16(e);
    for (int j = 0; j < 16; ++j) _mm512_storeu_si512(out + s * kTileBytes + j * 64, e[j]);
  }
}

// Weight rows [row0, row0 + 16) (those below rows; the rest 0), every step, as bf16 row-major
// tiles. out: steps x 1 KB.
void pack_weights(const uint8_t* w, int64_t rows, int64_t k, int64_t row0, int64_t steps,
                  uint8_t* out) {
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t c = s * kCols, n = min_i64(kCols, k - c);
    const __mmask32 mk = n >= 32 ? _cvtu32_mask32(0xffffffffu) : _cvtu32_mask32((1u << n) - 1u);
    for (int64_t r = 0; r < kRows; ++r) {
      __m512i v = _mm512_setzero_si512();
      if (row0 + r < rows) {
        const __m256i bytes = _mm256_maskz_loadu_epi8(mk, w + (row0 + r) * k + c);
        v = to_bf16_pairs(e4m3_to_f32(_mm256_castsi256_si128(bytes)),
                          e4m3_to_f32(_mm256_extracti128_si256(bytes, 1)));
      }
      _mm512_storeu_si512(out + s * kTileBytes + r * 64, v);
    }
  }
}

// C tile c (16 weight rows from row0 x 16 tokens from t0, f32) scaled into y: rows in [n0, n1),
// tokens below m.
void store_scaled(float* c, const float* sx, const float* sw, int64_t t0, int64_t m, int64_t row0,
                  int64_t n0, int64_t n1, float* y, int64_t ldy) {
  __m512i v[16];
  for (int r = 0; r < 16; ++r) v[r] = _mm512_loadu_si512(c + r * 16);
  transpose16(v);  // v[t] = the 16 rows of token t
  const __mmask16 mask = lanes_between(n0 - row0, n1 - row0);
  const __m512 swv = _mm512_maskz_loadu_ps(mask, sw + row0);
  for (int64_t t = 0; t < kTok && t0 + t < m; ++t) {
    const __m512 f = _mm512_castsi512_ps(v[t]);
    _mm512_mask_storeu_ps(y + (t0 + t) * ldy + row0, mask,
                          _mm512_mul_ps(_mm512_mul_ps(f, _mm512_set1_ps(sx[t0 + t])), swv));
  }
}

}  // namespace

void qmatmul_fp8_dynamic(const float* xf, const float* sx, int64_t m, const MatrixView& w,
                         int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t k = w.cols, steps = (k + kCols - 1) / kCols;
  const int64_t tok_tiles = (m + kTok - 1) / kTok;
  // Scratch: activation tiles (every token tile, every step), one weight block's tiles, 2 C tiles.
  const int64_t a_bytes = tok_tiles * steps * kTileBytes, w_bytes = steps * kTileBytes;
  auto* scratch = reinterpret_cast<uint8_t*>(qmatmul_scratch((a_bytes + w_bytes + 2048) / 4));
  uint8_t* xt = scratch;
  uint8_t* wt = scratch + a_bytes;
  auto* c = reinterpret_cast<float*>(scratch + a_bytes + w_bytes);
  for (int64_t tt = 0; tt < tok_tiles; ++tt)
    pack_tokens(xf, sx, m, k, tt * kTok, steps, xt + tt * steps * kTileBytes);
  configure_tiles();
  const uint8_t* wd = static_cast<const uint8_t*>(w.data);
  for (int64_t row0 = n0 / kRows * kRows; row0 < n1; row0 += kRows) {
    pack_weights(wd, w.rows, k, row0, steps, wt);
    int64_t tt = 0;
    for (; tt + 2 <= tok_tiles; tt += 2) {
      const uint8_t* b0 = xt + tt * steps * kTileBytes;
      const uint8_t* b1 = b0 + steps * kTileBytes;
      _tile_zero(0);
      _tile_zero(1);
      for (int64_t s = 0; s < steps; ++s) {
        _tile_loadd(4, wt + s * kTileBytes, 64);
        _tile_loadd(6, b0 + s * kTileBytes, 64);
        _tile_loadd(7, b1 + s * kTileBytes, 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
      }
      _tile_stored(0, c, 64);
      _tile_stored(1, c + 256, 64);
      store_scaled(c, sx, w.scales, tt * kTok, m, row0, n0, n1, y, ldy);
      store_scaled(c + 256, sx, w.scales, (tt + 1) * kTok, m, row0, n0, n1, y, ldy);
    }
    if (tt < tok_tiles) {
      const uint8_t* b0 = xt + tt * steps * kTileBytes;
      _tile_zero(0);
      for (int64_t s = 0; s < steps; ++s) {
        _tile_loadd(4, wt + s * kTileBytes, 64);
        _tile_loadd(6, b0 + s * kTileBytes, 64);
        _tile_dpbf16ps(0, 4, 6);
      }
      _tile_stored(0, c, 64);
      store_scaled(c, sx, w.scales, tt * kTok, m, row0, n0, n1, y, ldy);
    }
  }
  _tile_release();
}

}  // namespace quanta::kernels::amx
