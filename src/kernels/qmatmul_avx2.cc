// AVX2 (with FMA) f32-activation kernels for kInt8 and kFp8 weights. Contracts in
// kernels/qmatmul.h.
//
// Same scheme as qmatmul_avx512.cc (kInt8, kFp8) with 8 lanes and 16 registers: codes widened
// to f32 are multiplied into per-group vector accumulators without scale; each group's sum is
// scaled into the row's accumulator once.
//
// Note: built with -mavx2 -mfma -mf16c; like matmul_avx2.cc it must not instantiate
// standard-library templates or call inline functions from shared headers.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/qmatmul.h"

namespace quanta::kernels::avx2 {
namespace {

constexpr int64_t kLanes = 8;
constexpr int kQW = 4;  // W rows per block

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
// MatrixView::n_groups / group_cols, redefined here: inline functions of shared headers must not
// be compiled with this file's ISA flags (see the note at the top).
int64_t n_groups(const MatrixView& w) { return w.group_size > 0 ? w.cols / w.group_size : 1; }
int64_t group_cols(const MatrixView& w) { return w.group_size > 0 ? w.group_size : w.cols; }

// All-ones in the first n lanes (any n).
__m256i tail_mask(int64_t n) {
  const int nn = n < 0 ? 0 : n > kLanes ? int(kLanes) : int(n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(nn), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 8 bytes, or the first n of them and zeros.
__m128i load8(const uint8_t* p, int64_t n) {
  if (n >= kLanes) return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  alignas(16) uint8_t tmp[16] = {};
  std::memcpy(tmp, p, size_t(n > 0 ? n : 0));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
}

// One step of a row as kVecs vectors of codes in f32, columns c + 8v (see qmatmul_avx512.cc).
template <WeightFormat F>
struct Fmt;
template <>
struct Fmt<WeightFormat::kInt8> {
  static constexpr int kVecs = 1;
  static constexpr int64_t kStepBytes = 8;
  static int64_t row_bytes(int64_t k) { return k; }
  static void codes(const uint8_t* p, int64_t n, __m256* v) {
    v[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(load8(p, n)));
  }
};
template <>
struct Fmt<WeightFormat::kFp8> {
  static constexpr int kVecs = 1;
  static constexpr int64_t kStepBytes = 8;
  static int64_t row_bytes(int64_t k) { return k; }
  static void codes(const uint8_t* p, int64_t n, __m256* v) {
    // E4M3 -> f32 bits times 2^-120, then scaled back (see qmatmul_avx512.cc).
    const __m256i b = _mm256_cvtepi8_epi32(load8(p, n));
    const __m256i f =
        _mm256_and_si256(_mm256_slli_epi32(b, 20), _mm256_set1_epi32(int(0x87f00000u)));
    v[0] = _mm256_mul_ps(_mm256_castsi256_ps(f), _mm256_set1_ps(0x1p120f));
  }
};

// y[r] = x . W[j + r] for r < RW.  x (k,).
template <WeightFormat F, int RW>
void dot_block(const float* x, const MatrixView& w, int64_t j, float* y) {
  using Fm = Fmt<F>;
  constexpr int64_t kStep = Fm::kVecs * kLanes;
  const int64_t k = w.cols, ng = n_groups(w), gc = group_cols(w), rb = Fm::row_bytes(k);
  const uint8_t* wp = static_cast<const uint8_t*>(w.data) + j * rb;
  __m256 acc[RW];
  for (int r = 0; r < RW; ++r) acc[r] = _mm256_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m256 gacc[RW];
    for (int r = 0; r < RW; ++r) gacc[r] = _mm256_setzero_ps();
    const int64_t c1 = min_i64(k, (g + 1) * gc);
    for (int64_t c = g * gc; c < c1; c += kStep) {
      const int64_t n = c1 - c;
      __m256 xv[Fm::kVecs];
      for (int v = 0; v < Fm::kVecs; ++v)
        xv[v] = n >= kStep ? _mm256_loadu_ps(x + c + v * kLanes)
                           : _mm256_maskload_ps(x + c + v * kLanes, tail_mask(n - v * kLanes));
      const int64_t off = c / kStep * Fm::kStepBytes;
      for (int r = 0; r < RW; ++r) {
        __m256 wv[Fm::kVecs];
        Fm::codes(wp + r * rb + off, n, wv);
        for (int v = 0; v < Fm::kVecs; ++v) gacc[r] = _mm256_fmadd_ps(xv[v], wv[v], gacc[r]);
      }
    }
    for (int r = 0; r < RW; ++r) {
      const float s = w.scales[(j + r) * ng + g];
      acc[r] = _mm256_fmadd_ps(gacc[r], _mm256_set1_ps(s), acc[r]);
    }
  }
  for (int r = 0; r < RW; ++r) y[r] = hsum(acc[r]);
}

// ---- FP8 (E4M3) rows one after another (decode). ----
// E4M3 -> f16 bits in 16-bit lanes: a byte b sign-extended to 16 bits, shifted left by 7, has the
// sign in bit 15 (and again in bit 14, cleared) and b's exponent and mantissa in bits 13..7,
// i.e. the f16 of value(b) * 2^-8 (E4M3's bias 7 against f16's 15; E4M3 subnormals land on f16
// subnormals); vcvtph2ps widens exactly. The 2^8 goes into the group's scale. 16 codes cost a
// load, a widening, a shift, an and and two conversions (the f32 route above: twice that), and
// W is read in memory order with software prefetch, as the dense GEMV (matmul_avx2.cc).
constexpr int64_t kFp8PrefetchBytes = 2048;

// 16 E4M3 codes at p as 2 x 8 f32 values times 2^-8.
inline void fp8x16(const uint8_t* p, __m256& lo, __m256& hi) {
  const __m256i h = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  const __m256i f = _mm256_and_si256(_mm256_slli_epi16(h, 7), _mm256_set1_epi16(int16_t(0xbf80)));
  lo = _mm256_cvtph_ps(_mm256_castsi256_si128(f));
  hi = _mm256_cvtph_ps(_mm256_extracti128_si256(f, 1));
}

// y = x . row j of W (FP8), x (k,).
float fp8_dot_row(const float* x, const MatrixView& w, int64_t j) {
  const int64_t k = w.cols, ng = n_groups(w), gc = group_cols(w);
  const uint8_t* wp = static_cast<const uint8_t*>(w.data) + j * k;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t g = 0; g < ng; ++g) {
    __m256 ga[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                    _mm256_setzero_ps()};
    const int64_t c1 = min_i64(k, (g + 1) * gc);
    int64_t c = g * gc;
    for (; c + 32 <= c1; c += 32) {
      _mm_prefetch(reinterpret_cast<const char*>(wp + c + kFp8PrefetchBytes), _MM_HINT_T0);
      __m256 v[4];
      fp8x16(wp + c, v[0], v[1]);
      fp8x16(wp + c + 16, v[2], v[3]);
      for (int u = 0; u < 4; ++u)
        ga[u] = _mm256_fmadd_ps(_mm256_loadu_ps(x + c + 8 * u), v[u], ga[u]);
    }
    for (; c + 16 <= c1; c += 16) {
      __m256 lo, hi;
      fp8x16(wp + c, lo, hi);
      ga[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + c), lo, ga[0]);
      ga[1] = _mm256_fmadd_ps(_mm256_loadu_ps(x + c + 8), hi, ga[1]);
    }
    if (c < c1) {  // under 16 codes: through a zeroed copy (no 8-bit masked load on AVX2)
      alignas(16) uint8_t tmp[16] = {};
      std::memcpy(tmp, wp + c, size_t(c1 - c));
      __m256 lo, hi;
      fp8x16(tmp, lo, hi);
      ga[2] = _mm256_fmadd_ps(_mm256_maskload_ps(x + c, tail_mask(c1 - c)), lo, ga[2]);
      ga[3] = _mm256_fmadd_ps(_mm256_maskload_ps(x + c + 8, tail_mask(c1 - c - 8)), hi, ga[3]);
    }
    const __m256 gs = _mm256_add_ps(_mm256_add_ps(ga[0], ga[1]), _mm256_add_ps(ga[2], ga[3]));
    acc = _mm256_fmadd_ps(gs, _mm256_set1_ps(w.scales[j * ng + g] * 256.0f), acc);
  }
  return hsum(acc);
}

template <WeightFormat F>
void qgemv_typed(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
                 int64_t ldy) {
  const int64_t k = w.cols;
  if constexpr (F == WeightFormat::kFp8) {
    // Rows outer, tokens inner: the row stays in L1 while every token passes over it.
    for (int64_t j = n0; j < n1; ++j)
      for (int64_t i = 0; i < m; ++i) y[i * ldy + j] = fp8_dot_row(x + i * k, w, j);
    return;
  }
  // Rows outer, tokens inner: a block of rows stays in L1 while every token passes over it.
  int64_t j = n0;
  for (; j + kQW <= n1; j += kQW)
    for (int64_t i = 0; i < m; ++i) dot_block<F, kQW>(x + i * k, w, j, y + i * ldy + j);
  for (; j < n1; ++j)
    for (int64_t i = 0; i < m; ++i) dot_block<F, 1>(x + i * k, w, j, y + i * ldy + j);
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
      const __m256 sv = _mm256_set1_ps(w.scales[r * ng + g]);
      const int64_t c1 = min_i64(k, (g + 1) * gc);
      for (int64_t c = g * gc; c < c1; c += kStep) {
        __m256 wv[Fm::kVecs];
        Fm::codes(wp + c / kStep * Fm::kStepBytes, c1 - c, wv);
        for (int v = 0; v < Fm::kVecs; ++v) {
          const __m256 d = wv[v];  // code * scale, rounded once, as the reference
          const int64_t n = c1 - c - v * kLanes;
          if (n >= kLanes) {
            _mm256_storeu_ps(o + c + v * kLanes, _mm256_mul_ps(d, sv));
          } else if (n > 0) {
            _mm256_maskstore_ps(o + c + v * kLanes, tail_mask(n), _mm256_mul_ps(d, sv));
          }
        }
      }
    }
  }
}

}  // namespace

void qgemv(const float* x, int64_t m, const MatrixView& w, int64_t n0, int64_t n1, float* y,
           int64_t ldy) {
  switch (w.format) {
    case WeightFormat::kInt8:
      return qgemv_typed<WeightFormat::kInt8>(x, m, w, n0, n1, y, ldy);
    case WeightFormat::kFp8:
      return qgemv_typed<WeightFormat::kFp8>(x, m, w, n0, n1, y, ldy);
    default:
      return;
  }
}

void dequantize_rows(const MatrixView& w, int64_t r0, int64_t r1, float* out) {
  switch (w.format) {
    case WeightFormat::kInt8:
      return dequantize_typed<WeightFormat::kInt8>(w, r0, r1, out);
    case WeightFormat::kFp8:
      return dequantize_typed<WeightFormat::kFp8>(w, r0, r1, out);
    default:
      return;
  }
}

}  // namespace quanta::kernels::avx2
