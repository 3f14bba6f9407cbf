// Intel AMX W8A8 kernel (kInt8Vnni weights x int8 activations). Contract in kernels/qmatmul.h.
//
// tdpbssd multiplies a 16 x 64 tile of signed bytes (16 tokens, 64 columns) by a 16 x 64 tile
// holding 64 columns of 16 weight rows as 4-byte quads, and adds into a 16 x 16 tile of int32
// (token x row): 16384 exact products per instruction. kInt8Vnni stores each 16-row block as
// quads of 4 columns, 64 bytes per quad, so one 64-column step of a block is 16 consecutive
// quads: a B tile loaded straight from the weights, stride 64. Tokens go 32 at a time (two A
// tiles) against two blocks (two B tiles) into four int32 accumulator tiles; then each int32 sum
// is scaled as the reference does, float(sum) * sx[token] * scale[row].
//
// Padding: the activation rows are ldq = round_up(k, 4) bytes; a step of 64 columns past ldq would
// read other tokens' codes, and the last 16-token group may be short. Both are copied into
// zero-filled scratch (the zero codes make whatever the B tile holds there count for nothing),
// the weights' last partial step into a zeroed 1 KB tile (it would read past the block).
//
// Note: built with -mavx512* -mamx-tile -mamx-int8; tiles are configured at every call and
// released at its end (the configuration is per thread; a released thread keeps no tile state).
#include "kernels/avx512_intrin.h"

#include <cstdint>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/qmatmul.h"

namespace quanta::kernels::amx {
namespace {

constexpr int64_t kRows = 16;   // weight rows per block = int32 columns of a C tile
constexpr int64_t kTok = 16;    // tokens per A tile
constexpr int64_t kStep = 64;   // columns (bytes) per A tile row
constexpr int64_t kQuads = 16;  // weight quads per B tile (kStep / 4)

// What the tiles read: activations (row stride lda, a whole number of kStep columns) and the
// weight blocks, with the zero-padded last step of every block when k4 is no multiple of kStep.
struct Operands {
  const int8_t* a = nullptr;
  int64_t lda = 0;
  const int8_t* w = nullptr;
  int64_t block_bytes = 0;   // 16 * k4
  int64_t steps = 0;         // kStep-column steps
  int64_t full_steps = 0;    // steps read straight from the weights
  int64_t tail_quads = 0;    // quads of the last step when it is partial
};

// The weight tile of block blk, step s: from the weights, or copied with zeros after its quads.
const int8_t* b_tile(const Operands& o, int64_t blk, int64_t s, int8_t* tail) {
  const int8_t* p = o.w + blk * o.block_bytes + s * kQuads * 64;
  if (s < o.full_steps) return p;
  std::memcpy(tail, p, size_t(o.tail_quads * 64));
  return tail;
}

// int32 tile c (16 tokens from t0, 16 rows of block blk) scaled into y: rows in [n0, n1), tokens
// below m.
void store_scaled(const int32_t* c, const float* sx, const MatrixView& w, int64_t t0, int64_t m,
                  int64_t blk, int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t row0 = blk * kRows;
  const __mmask16 mask = lanes_between(n0 - row0, n1 - row0);
  const __m512 sw = _mm512_maskz_loadu_ps(mask, w.scales + row0);
  for (int64_t t = 0; t < kTok && t0 + t < m; ++t) {
    const __m512 f = _mm512_cvtepi32_ps(_mm512_loadu_si512(c + t * kRows));
    _mm512_mask_storeu_ps(y + (t0 + t) * ldy + row0, mask,
                          _mm512_mul_ps(_mm512_mul_ps(f, _mm512_set1_ps(sx[t0 + t])), sw));
  }
}

// Tokens [t0, t0 + 16 * TA) against blocks blk .. blk + TB - 1 (TA, TB: 1 or 2 tiles).
template <int TA, int TB>
void tiles(const Operands& o, const float* sx, const MatrixView& w, int64_t t0, int64_t m,
           int64_t blk, int64_t n0, int64_t n1, float* y, int64_t ldy, int8_t* tail0,
           int8_t* tail1, int32_t* c) {
  _tile_zero(0);
  if (TB == 2) _tile_zero(1);
  if (TA == 2) _tile_zero(2);
  if (TA == 2 && TB == 2) _tile_zero(3);
  const int8_t* a0 = o.a + t0 * o.lda;
  const int8_t* a1 = a0 + kTok * o.lda;
  for (int64_t s = 0; s < o.steps; ++s) {
    _tile_loadd(4, a0 + s * kStep, o.lda);
    _tile_loadd(6, b_tile(o, blk, s, tail0), 64);
    _tile_dpbssd(0, 4, 6);
    if (TB == 2) {
      _tile_loadd(7, b_tile(o, blk + 1, s, tail1), 64);
      _tile_dpbssd(1, 4, 7);
    }
    if (TA == 2) {
      _tile_loadd(5, a1 + s * kStep, o.lda);
      _tile_dpbssd(2, 5, 6);
      if (TB == 2) _tile_dpbssd(3, 5, 7);
    }
  }
  constexpr int64_t kTileInts = kTok * kRows;
  _tile_stored(0, c, 64);
  if (TB == 2) _tile_stored(1, c + kTileInts, 64);
  if (TA == 2) _tile_stored(2, c + 2 * kTileInts, 64);
  if (TA == 2 && TB == 2) _tile_stored(3, c + 3 * kTileInts, 64);
  store_scaled(c, sx, w, t0, m, blk, n0, n1, y, ldy);
  if (TB == 2) store_scaled(c + kTileInts, sx, w, t0, m, blk + 1, n0, n1, y, ldy);
  if (TA == 2) store_scaled(c + 2 * kTileInts, sx, w, t0 + kTok, m, blk, n0, n1, y, ldy);
  if (TA == 2 && TB == 2)
    store_scaled(c + 3 * kTileInts, sx, w, t0 + kTok, m, blk + 1, n0, n1, y, ldy);
}

template <int TB>
void all_tokens(const Operands& o, const float* sx, const MatrixView& w, int64_t m, int64_t blk,
                int64_t n0, int64_t n1, float* y, int64_t ldy, int8_t* tail0, int8_t* tail1,
                int32_t* c) {
  int64_t t0 = 0;
  for (; t0 + kTok < m; t0 += 2 * kTok)  // two A tiles while a second one has tokens
    tiles<2, TB>(o, sx, w, t0, m, blk, n0, n1, y, ldy, tail0, tail1, c);
  if (t0 < m) tiles<1, TB>(o, sx, w, t0, m, blk, n0, n1, y, ldy, tail0, tail1, c);
}

}  // namespace

void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t k4 = ldq;
  Operands o;
  o.w = static_cast<const int8_t*>(w.data);
  o.block_bytes = kRows * k4;
  o.steps = (k4 + kStep - 1) / kStep;
  o.full_steps = k4 / kStep;
  o.tail_quads = (k4 % kStep) / 4;
  // Scratch: 2 weight tail tiles, 4 int32 C tiles, and the activations when they need padding.
  const int64_t lda = o.steps * kStep, m_pad = (m + 2 * kTok - 1) / (2 * kTok) * (2 * kTok);
  const bool copy_a = lda != ldq || m % (2 * kTok) != 0;
  const int64_t scratch_bytes = 2 * 1024 + 4 * 1024 + (copy_a ? m_pad * lda : 0);
  auto* scratch = reinterpret_cast<int8_t*>(qmatmul_scratch((scratch_bytes + 3) / 4));
  int8_t* tail0 = scratch;
  int8_t* tail1 = scratch + 1024;
  auto* c = reinterpret_cast<int32_t*>(scratch + 2048);
  std::memset(tail0, 0, 2048);
  if (copy_a) {
    int8_t* a = scratch + 2048 + 4096;
    std::memset(a, 0, size_t(m_pad * lda));
    for (int64_t i = 0; i < m; ++i) std::memcpy(a + i * lda, xq + i * ldq, size_t(k4));
    o.a = a;
    o.lda = lda;
  } else {
    o.a = xq;
    o.lda = ldq;
  }
  configure_tiles();
  const int64_t b_end = (n1 + kRows - 1) / kRows;
  int64_t blk = n0 / kRows;
  for (; blk + 2 <= b_end; blk += 2) all_tokens<2>(o, sx, w, m, blk, n0, n1, y, ldy, tail0, tail1, c);
  if (blk < b_end) all_tokens<1>(o, sx, w, m, blk, n0, n1, y, ldy, tail0, tail1, c);
  _tile_release();
}

}  // namespace quanta::kernels::amx
