// AVX-512 (F/BW/VL/DQ) f32-activation kernels for kInt8 and kFp8 weights. Contracts in
// kernels/qmatmul.h.
//
// GEMV (few tokens): kQW rows of W by up to kQX tokens at a time. Codes are widened to f32 in
// registers and multiplied into per-group accumulators *without* their scale; at the end of each
// group one FMA applies the row's scale.
//
// Note: built with -mavx512*; like matmul_avx512.cc it must not instantiate standard-library
// templates or call inline functions from shared headers (see the note there).
#include "kernels/avx512_intrin.h"

#include <cstdint>

#include "kernels/qmatmul.h"

namespace quanta::kernels::avx512 {
namespace {

constexpr int64_t kLanes = 16;
constexpr int kQW = 4;  // W rows per block
constexpr int kQX = 2;  // tokens per block

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
// MatrixView::n_groups / group_cols, redefined here: inline functions of shared headers must not
// be compiled with this file's ISA flags (see the note at the top).
int64_t n_groups(const MatrixView& w) { return w.group_size > 0 ? w.cols / w.group_size : 1; }
int64_t group_cols(const MatrixView& w) { return w.group_size > 0 ? w.group_size : w.cols; }

// The first n lanes (all for n >= 16, none for n <= 0).
__mmask16 lanes(int64_t n) {
  if (n >= kLanes) return _cvtu32_mask16(0xffffu);
  if (n <= 0) return _cvtu32_mask16(0);
  return _cvtu32_mask16((1u << n) - 1u);
}

// One step of a row: kVecs vectors of codes as f32 (no scale, no zero point), columns
// c .. c + kVecs * 16 in order, from kStepBytes bytes; n = valid columns left in the row (byte
// formats must not read past the row; int4 rows are padded to whole steps).
template <WeightFormat F> struct Fmt;
__m128i load_bytes(const uint8_t* p, int64_t n) {
  if (n >= kLanes) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm_maskz_loadu_epi8(lanes(n), p);
}
template <> struct Fmt<WeightFormat::kInt8> {
  static constexpr int kVecs = 1;
  static constexpr int64_t kStepBytes = 16;
  static int64_t row_bytes(int64_t k) { return k; }
  static void codes(const uint8_t* p, int64_t n, __m512* v) {
    v[0] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(load_bytes(p, n)));
  }
};
template <> struct Fmt<WeightFormat::kFp8> {
  static constexpr int kVecs = 1;
  static constexpr int64_t kStepBytes = 16;
  static int64_t row_bytes(int64_t k) { return k; }
  static void codes(const uint8_t* p, int64_t n, __m512* v) {
    // E4M3 s.eeee.mmm -> f32 bits s.000eeee.mmm000...: sign-extending the byte puts the sign in
    // bit 31 after the shift; the mask drops the copies of it in bits 27-30. That is the value
    // times 2^-120 for normals and subnormals alike (an f32 subnormal for E4M3 subnormals).
    const __m512i b = _mm512_cvtepi8_epi32(load_bytes(p, n));
    const __m512i f = _mm512_and_si512(_mm512_slli_epi32(b, 20), _mm512_set1_epi32(int(0x87f00000u)));
    v[0] = _mm512_mul_ps(_mm512_castsi512_ps(f), _mm512_set1_ps(0x1p120f));
  }
};

// y[i][r] = x[i] . W[j + r] for i < RX, r < RW.  x (RX, k) row stride k; y row stride ldy.
template <WeightFormat F, int RX, int RW>
void dot_block(const float* x, const MatrixView& w, int64_t j, float* y, int64_t ldy) {
  using Fm = Fmt<F>;
  constexpr int64_t kStep = Fm::kVecs * kLanes;
  const int64_t k = w.cols, ng = n_groups(w), gc = group_cols(w), rb = Fm::row_bytes(k);
  const uint8_t* wp = static_cast<const uint8_t*>(w.data) + j * rb;
  __m512 acc[RX][RW];
  for (int i = 0; i < RX; ++i)
    for (int r = 0; r < RW; ++r) acc[i][r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m512 gacc[RX][RW];
    for (int i = 0; i < RX; ++i)
      for (int r = 0; r < RW; ++r) gacc[i][r] = _mm512_setzero_ps();
    const int64_t c1 = min_i64(k, (g + 1) * gc);
    for (int64_t c = g * gc; c < c1; c += kStep) {
      const int64_t n = c1 - c;
      __m512 xv[RX][Fm::kVecs];
      for (int i = 0; i < RX; ++i)
        for (int v = 0; v < Fm::kVecs; ++v)
          xv[i][v] = n >= kStep ? _mm512_loadu_ps(x + i * k + c + v * kLanes)
                                : _mm512_maskz_loadu_ps(lanes(n - v * kLanes), x + i * k + c + v * kLanes);
      const int64_t off = c / kStep * Fm::kStepBytes;
      for (int r = 0; r < RW; ++r) {
        __m512 wv[Fm::kVecs];
        Fm::codes(wp + r * rb + off, n, wv);
        for (int v = 0; v < Fm::kVecs; ++v)
          for (int i = 0; i < RX; ++i) gacc[i][r] = _mm512_fmadd_ps(xv[i][v], wv[v], gacc[i][r]);
      }
    }
    for (int r = 0; r < RW; ++r) {
      const float s = w.scales[(j + r) * ng + g];
      const __m512 sv = _mm512_set1_ps(s);
      for (int i = 0; i < RX; ++i) acc[i][r] = _mm512_fmadd_ps(gacc[i][r], sv, acc[i][r]);
    }
  }
  for (int i = 0; i < RX; ++i)
    for (int r = 0; r < RW; ++r) y[i * ldy + r] = _mm512_reduce_add_ps(acc[i][r]);
}

// Rows j .. j + RW - 1 for all m tokens.
template <WeightFormat F, int RW>
void rows_all_tokens(const float* x, int64_t m, const MatrixView& w, int64_t j, float* y,
                     int64_t ldy) {
  const int64_t k = w.cols;
  int64_t i = 0;
  for (; i + kQX <= m; i += kQX) dot_block<F, kQX, RW>(x + i * k, w, j, y + i * ldy + j, ldy);
  if (i < m) dot_block<F, 1, RW>(x + i * k, w, j, y + i * ldy + j, ldy);
}

template <WeightFormat F>
void qgemv_typed(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
                 int64_t ldy) {
  // Rows outer, tokens inner: a block of rows stays in L1 while every token passes over it.
  int64_t j = n0;
  for (; j + kQW <= n1; j += kQW) rows_all_tokens<F, kQW>(x, m, w, j, y, ldy);
  for (; j < n1; ++j) rows_all_tokens<F, 1>(x, m, w, j, y, ldy);
}

template <WeightFormat F>
void dequantize_typed(const MatrixView& w, int64_t r0, int64_t r1, float* out) {
  using Fm = Fmt<F>;
  constexpr int64_t kStep = Fm::kVecs * kLanes;
  const int64_t k = w.cols, ng = n_groups(w), gc = group_cols(w), rb = Fm::row_bytes(k);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* wp = static_cast<const uint8_t*>(w.data) + r * rb;
    float* o = out + (r - r0) * k;
    for (int64_t g = 0; g < ng; ++g) {
      const __m512 sv = _mm512_set1_ps(w.scales[r * ng + g]);
      const int64_t c1 = min_i64(k, (g + 1) * gc);
      for (int64_t c = g * gc; c < c1; c += kStep) {
        __m512 wv[Fm::kVecs];
        Fm::codes(wp + c / kStep * Fm::kStepBytes, c1 - c, wv);
        for (int v = 0; v < Fm::kVecs; ++v) {
          // code * scale, rounded once: the reference's value exactly.
          const __m512 d = wv[v];
          _mm512_mask_storeu_ps(o + c + v * kLanes, lanes(c1 - c - v * kLanes), _mm512_mul_ps(d, sv));
        }
      }
    }
  }
}

}  // namespace

void qgemv(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  switch (w.format) {
    case WeightFormat::kInt8: return qgemv_typed<WeightFormat::kInt8>(x, m, w, n0, n1, y, ldy);
    case WeightFormat::kFp8: return qgemv_typed<WeightFormat::kFp8>(x, m, w, n0, n1, y, ldy);
    default: return;
  }
}

void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out) {
  switch (w.format) {
    case WeightFormat::kInt8: return dequantize_typed<WeightFormat::kInt8>(w, r0, r1, out);
    case WeightFormat::kFp8: return dequantize_typed<WeightFormat::kFp8>(w, r0, r1, out);
    default: return;
  }
}

}  // namespace quanta::kernels::avx512
