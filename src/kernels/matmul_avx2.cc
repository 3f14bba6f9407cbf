// AVX2 (with FMA and F16C) f32 kernels. Contracts in kernels/matmul.h.
//
// Same two matmul paths as matmul_avx512.cc (see its header comment) with 8 lanes and 16 ymm
// registers, hence smaller blocks: dot products over kDotX x 4 chains per W row for few tokens;
// for many, a (kTileW, kPanel) = (6, 16) block of Y^T in 12 registers (the classic 6x16 FMA
// kernel), W broadcast against packed panels of X^T.
//
// Note: built with -mavx2 -mfma -mf16c; like matmul_avx512.cc it must not instantiate
// standard-library templates or call inline functions from shared headers (their weak copies
// compiled for this ISA could be the ones the linker keeps).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/matmul.h"

namespace quanta::kernels::avx2 {
namespace {

constexpr int64_t kLanes = 8;
constexpr int kDotX = 2;                            // X rows per dot block
constexpr int kTileW = 6;                           // W rows per packed tile
constexpr int kPanelVecs = 2;                       // vectors of tokens per panel
constexpr int64_t kPanel = kPanelVecs * kLanes;     // tokens per panel
constexpr int64_t kPackMinRows = 16;                // m from which the packed path wins
constexpr int64_t kPassBytes = int64_t(256) << 10;  // packed X per pass (L2 >= 256 KiB)
// Software prefetch distance of the few-token path, in bytes of W ahead of the loads.
constexpr int64_t kDotPrefetchBytes = 2048;

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// Storage type of a weight element.
template <DType T> struct Storage { using type = uint16_t; };
template <> struct Storage<DType::kF32> { using type = float; };
template <DType T> using StorageT = typename Storage<T>::type;

// All-ones in the first n lanes (0 < n < kLanes), for maskload/maskstore.
__m256i tail_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// 8 weights from p as f32; the second form loads the first n and zeroes the rest.
template <DType T>
__m256 widen(__m128i h) {
  if constexpr (T == DType::kF16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));  // bf16 = top half
}
template <DType T>
__m256 load_w(const StorageT<T>* p) {
  if constexpr (T == DType::kF32) return _mm256_loadu_ps(p);
  else return widen<T>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
template <DType T>
__m256 load_w(const StorageT<T>* p, int64_t n) {
  if constexpr (T == DType::kF32) {
    return _mm256_maskload_ps(p, tail_mask(n));
  } else {
    // No 16-bit masked load before AVX-512: go through a zeroed copy.
    alignas(16) uint16_t tmp[kLanes] = {};
    std::memcpy(tmp, p, size_t(n) * sizeof(uint16_t));
    return widen<T>(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp)));
  }
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// dst[0, n) = src[0, n) as f32.
template <DType T>
void convert_row(const StorageT<T>* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(dst + i, load_w<T>(src + i));
  if (i < n) _mm256_maskstore_ps(dst + i, tail_mask(n - i), load_w<T>(src + i, n - i));
}

// ---- Few tokens: dot products. ----

// y[i * ldy] = x[i] . w for i < RX.  x (RX, k) row stride k;  w one row of k values.
// The dot product runs as kChains chains of FMAs over alternate vectors of k, so a row that is in
// cache is not bound by the FMA latency.
template <DType T, int RX>
void dot_block(const float* x, int64_t k, const StorageT<T>* w, float* y, int64_t ldy) {
  constexpr int kChains = 4;
  __m256 acc[RX][kChains];
  for (int i = 0; i < RX; ++i)
    for (int ch = 0; ch < kChains; ++ch) acc[i][ch] = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + kChains * kLanes <= k; kk += kChains * kLanes) {
    // Note: rows stream from DRAM in decode (the lm_head); the hardware prefetcher alone left the
    // core waiting (see kDotPrefetchBytes).
    const char* ahead = reinterpret_cast<const char*>(w + kk) + kDotPrefetchBytes;
    for (int64_t b = 0; b < int64_t(kChains * kLanes * sizeof(StorageT<T>)); b += 64)
      _mm_prefetch(ahead + b, _MM_HINT_T0);
    for (int ch = 0; ch < kChains; ++ch) {
      const int64_t c = kk + ch * kLanes;
      const __m256 wv = load_w<T>(w + c);
      for (int i = 0; i < RX; ++i)
        acc[i][ch] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * k + c), wv, acc[i][ch]);
    }
  }
  for (; kk + kLanes <= k; kk += kLanes) {
    const __m256 wv = load_w<T>(w + kk);
    for (int i = 0; i < RX; ++i)
      acc[i][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * k + kk), wv, acc[i][0]);
  }
  if (kk < k) {
    const int64_t n = k - kk;
    const __m256 wv = load_w<T>(w + kk, n);
    for (int i = 0; i < RX; ++i)
      acc[i][kChains - 1] = _mm256_fmadd_ps(_mm256_maskload_ps(x + i * k + kk, tail_mask(n)), wv,
                                            acc[i][kChains - 1]);
  }
  for (int i = 0; i < RX; ++i) {
    __m256 sum = acc[i][0];
    for (int ch = 1; ch < kChains; ++ch) sum = _mm256_add_ps(sum, acc[i][ch]);
    y[i * ldy] = hsum(sum);
  }
}

// BF16 rows, k a multiple of 16: 16 weights are one 256-bit load whose 32-bit lanes hold an even
// and an odd bf16 each; a shift by 16 gives the even ones as f32 and an AND the odd ones, in place
// (no lane-crossing widen). X comes with each block of 16 split the same way (xeo: the 8 even
// values, then the 8 odd ones), made once per call by split_even_odd.
// One such block at column c: acc[i][a] += its even weights times xeo row i, acc[i][a + 1] += the
// odd ones.
template <int RX>
void fma_even_odd(const float* xeo, int64_t k, const uint16_t* w, int64_t c, __m256 (*acc)[4],
                  int a) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + c));
  const __m256 we = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  const __m256 wo = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(int(0xffff0000u))));
  for (int i = 0; i < RX; ++i) {
    acc[i][a] = _mm256_fmadd_ps(_mm256_loadu_ps(xeo + i * k + c), we, acc[i][a]);
    acc[i][a + 1] = _mm256_fmadd_ps(_mm256_loadu_ps(xeo + i * k + c + kLanes), wo, acc[i][a + 1]);
  }
}

template <int RX>
void dot_block_eo(const float* xeo, int64_t k, const uint16_t* w, float* y, int64_t ldy) {
  __m256 acc[RX][4];  // two chains of (even, odd) per X row
  for (int i = 0; i < RX; ++i)
    for (int ch = 0; ch < 4; ++ch) acc[i][ch] = _mm256_setzero_ps();
  int64_t kk = 0;
  for (; kk + 32 <= k; kk += 32) {
    _mm_prefetch(reinterpret_cast<const char*>(w + kk) + kDotPrefetchBytes, _MM_HINT_T0);
    fma_even_odd<RX>(xeo, k, w, kk, acc, 0);
    fma_even_odd<RX>(xeo, k, w, kk + 16, acc, 2);
  }
  if (kk < k) fma_even_odd<RX>(xeo, k, w, kk, acc, 0);  // k % 32 == 16
  for (int i = 0; i < RX; ++i)
    y[i * ldy] = hsum(_mm256_add_ps(_mm256_add_ps(acc[i][0], acc[i][1]),
                                    _mm256_add_ps(acc[i][2], acc[i][3])));
}

// xeo (m, k) = x with each block of 16 values reordered: the 8 at even offsets, then the 8 odd.
void split_even_odd(const float* x, int64_t m, int64_t k, float* xeo) {
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  for (int64_t i = 0; i < m * k; i += 16) {
    // a = x0..x7 -> (x0 x2 x4 x6 | x1 x3 x5 x7); b likewise for x8..x15.
    const __m256 a = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + i), idx);
    const __m256 b = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + i + kLanes), idx);
    _mm256_storeu_ps(xeo + i, _mm256_permute2f128_ps(a, b, 0x20));
    _mm256_storeu_ps(xeo + i + kLanes, _mm256_permute2f128_ps(a, b, 0x31));
  }
}

// All m rows of X against one row of W: y (m,) with stride ldy.
template <DType T>
void dot_rows(const float* x, int64_t m, int64_t k, const StorageT<T>* w, float* y, int64_t ldy) {
  static_assert(kDotX == 2);
  int64_t i = 0;
  for (; i + kDotX <= m; i += kDotX) dot_block<T, kDotX>(x + i * k, k, w, y + i * ldy, ldy);
  if (i < m) dot_block<T, 1>(x + i * k, k, w, y + i * ldy, ldy);
}

// W's rows one after another, so W is read in memory order, which the hardware prefetcher
// streams; reading a few rows interleaved (k apart) ran about half as fast from DRAM (Zen 4, a
// 56 MB BF16 lm_head, one thread: 5.8 against 2.4 ms). The m tokens pass over each row while it
// is in L1.
template <DType T>
void matmul_dot(const float* x, int64_t m, int64_t k, const StorageT<T>* w, int64_t n0, int64_t n1,
                float* y, int64_t ldy) {
  if constexpr (T == DType::kBF16) {
    // Note: 15-30 % faster from DRAM than widening with vpmovzxwd (Zen 3, a 113 MB BF16 matrix,
    // medians of 30 alternating runs: one thread 12.4 -> 14.4 GB/s, two 16.1 -> 19.6 GB/s).
    if (k % 16 == 0) {
      float* xeo = matmul_scratch(m * k);
      split_even_odd(x, m, k, xeo);
      for (int64_t j = n0; j < n1; ++j) {
        int64_t i = 0;
        for (; i + kDotX <= m; i += kDotX)
          dot_block_eo<kDotX>(xeo + i * k, k, w + j * k, y + j + i * ldy, ldy);
        if (i < m) dot_block_eo<1>(xeo + i * k, k, w + j * k, y + j + i * ldy, ldy);
      }
      return;
    }
  }
  for (int64_t j = n0; j < n1; ++j) dot_rows<T>(x, m, k, w + j * k, y + j, ldy);
}

// ---- Many tokens: packed panels of X^T, broadcast W. ----

// p (k, width) = x (rows, k)^T, zero-padded to width >= rows tokens.
void pack_panel(const float* x, int64_t rows, int64_t k, int64_t width, float* p) {
  // Writes in order; the reads walk `rows` lines of X side by side (they stay in L1).
  for (int64_t kk = 0; kk < k; ++kk) {
    float* pk = p + kk * width;
    for (int64_t t = 0; t < rows; ++t) pk[t] = x[t * k + kk];
    for (int64_t t = rows; t < width; ++t) pk[t] = 0.0f;
  }
}

// A tile of kTileW rows of W as f32 rows of stride k: W itself when it already is one, else
// converted (and zero-padded to kTileW rows) into buf (kTileW, k).
template <DType T>
const float* weight_tile(const StorageT<T>* w, int64_t rows, int64_t k, float* buf) {
  if constexpr (T == DType::kF32) {
    if (rows == kTileW) return w;
  }
  for (int64_t r = 0; r < rows; ++r) convert_row<T>(w + r * k, buf + r * k, k);
  std::memset(buf + rows * k, 0, size_t((kTileW - rows) * k) * sizeof(float));
  return buf;
}

// tile (kTileW, kPanel): tile[r][t] = sum_kk w[r][kk] * p[kk][t] for t < NV * kLanes.
//   p (k, NV * kLanes) packed panel, 32-byte aligned;  w (kTileW, k) f32, row stride k.
template <int NV>
void tile_kernel(const float* p, const float* w, int64_t k, float* tile) {
  __m256 acc[kTileW][NV];
  for (int r = 0; r < kTileW; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    __m256 xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = _mm256_load_ps(p + (kk * NV + v) * kLanes);
    for (int r = 0; r < kTileW; ++r) {
      // Note: set1 of a plain load, not _mm256_broadcast_ss(pointer): GCC 12 treats that
      // builtin's pointer as possibly aliasing acc and then stores acc on every iteration.
      const __m256 wb = _mm256_set1_ps(w[r * k + kk]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(wb, xv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kTileW; ++r)
    for (int v = 0; v < NV; ++v) _mm256_store_ps(tile + r * kPanel + v * kLanes, acc[r][v]);
}

template <DType T>
void matmul_packed(const float* x, int64_t m, int64_t k, const StorageT<T>* w, int64_t n0,
                   int64_t n1, float* y, int64_t ldy) {
  const int64_t panel_floats = kPanel * k;
  const int64_t pass_panels = min_i64(
      max_i64(1, kPassBytes / (panel_floats * int64_t(sizeof(float)))), (m + kPanel - 1) / kPanel);
  float* panels = matmul_scratch(pass_panels * panel_floats + kTileW * k);
  float* wbuf = panels + pass_panels * panel_floats;
  alignas(32) float tile[kTileW * kPanel];

  for (int64_t i0 = 0; i0 < m; i0 += pass_panels * kPanel) {
    const int64_t pass_rows = min_i64(pass_panels * kPanel, m - i0);
    const int64_t n_panels = (pass_rows + kPanel - 1) / kPanel;
    // A last panel of at most kLanes tokens is packed (and computed) half width.
    auto panel_tokens = [&](int64_t p) { return min_i64(kPanel, pass_rows - p * kPanel); };
    for (int64_t p = 0; p < n_panels; ++p) {
      const int64_t tokens = panel_tokens(p);
      pack_panel(x + (i0 + p * kPanel) * k, tokens, k, tokens > kLanes ? kPanel : kLanes,
                 panels + p * panel_floats);
    }
    for (int64_t j = n0; j < n1; j += kTileW) {
      const int64_t cols = min_i64(kTileW, n1 - j);
      const float* wt = weight_tile<T>(w + j * k, cols, k, wbuf);
      for (int64_t p = 0; p < n_panels; ++p) {
        const int64_t tokens = panel_tokens(p);
        if (tokens > kLanes) {
          tile_kernel<kPanelVecs>(panels + p * panel_floats, wt, k, tile);
        } else {
          tile_kernel<1>(panels + p * panel_floats, wt, k, tile);
        }
        float* yp = y + (i0 + p * kPanel) * ldy + j;
        for (int64_t t = 0; t < tokens; ++t)
          for (int64_t r = 0; r < cols; ++r) yp[t * ldy + r] = tile[r * kPanel + t];
      }
    }
  }
}

template <DType T>
void matmul_typed(const float* x, int64_t m, int64_t k, const void* w, int64_t n0, int64_t n1,
                  float* y, int64_t ldy) {
  const auto* wt = static_cast<const StorageT<T>*>(w);
  if (m >= kPackMinRows) {
    matmul_packed<T>(x, m, k, wt, n0, n1, y, ldy);
  } else {
    matmul_dot<T>(x, m, k, wt, n0, n1, y, ldy);
  }
}

}  // namespace

void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0,
            int64_t n1, float* y, int64_t ldy) {
  switch (wtype) {
    case DType::kF16:
      return matmul_typed<DType::kF16>(x, m, k, w, n0, n1, y, ldy);
    case DType::kBF16:
      return matmul_typed<DType::kBF16>(x, m, k, w, n0, n1, y, ldy);
    default:
      return matmul_typed<DType::kF32>(x, m, k, w, n0, n1, y, ldy);
  }
}

// ---- X W with W row-major (k, n): RX rows of X by NV vectors of columns in registers. ----

template <int RX, int NV, bool kFull>
void nn_tile(const float* x, int64_t k, int64_t ldx, const float* w, int64_t ldw, int64_t cols,
             float* y, int64_t ldy) {
  __m256 acc[RX][NV];
  for (int i = 0; i < RX; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  __m256i mask[NV];
  for (int v = 0; v < NV; ++v) mask[v] = tail_mask(cols - v * kLanes);
  for (int64_t c = 0; c < k; ++c) {
    __m256 wv[NV];
    for (int v = 0; v < NV; ++v)
      wv[v] = kFull ? _mm256_loadu_ps(w + c * ldw + v * kLanes)
                    : _mm256_maskload_ps(w + c * ldw + v * kLanes, mask[v]);
    for (int i = 0; i < RX; ++i) {
      // Note: set1 of a plain load (see tile_kernel): with _mm256_broadcast_ss GCC 12 stored all
      // 12 accumulators to the stack on every c (29 instead of 68 GFLOP/s for S V on Zen 3).
      const __m256 xb = _mm256_set1_ps(x[i * ldx + c]);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(xb, wv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < RX; ++i)
    for (int v = 0; v < NV; ++v) {
      if (kFull)
        _mm256_storeu_ps(y + i * ldy + v * kLanes, acc[i][v]);
      else
        _mm256_maskstore_ps(y + i * ldy + v * kLanes, mask[v], acc[i][v]);
    }
}

// Full tiles of 16 columns use plain loads and stores (masked ones are slow on some CPUs, e.g.
// AMD Zen); 6 rows x 2 vectors = 12 accumulators hide the FMA latency.
template <int RX>
void nn_rows(const float* x, int64_t k, int64_t ldx, const float* w, int64_t n, int64_t ldw,
             float* y, int64_t ldy) {
  int64_t j = 0;
  for (; j + 2 * kLanes <= n; j += 2 * kLanes)
    nn_tile<RX, 2, true>(x, k, ldx, w + j, ldw, 2 * kLanes, y + j, ldy);
  if (n - j > kLanes) {
    nn_tile<RX, 2, false>(x, k, ldx, w + j, ldw, n - j, y + j, ldy);
  } else if (j < n) {
    nn_tile<RX, 1, false>(x, k, ldx, w + j, ldw, n - j, y + j, ldy);
  }
}

void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy) {
  int64_t i = 0;
  for (; i + 6 <= m; i += 6) nn_rows<6>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
  switch (m - i) {
    case 5:
      return nn_rows<5>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    case 4:
      return nn_rows<4>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    case 3:
      return nn_rows<3>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    case 2:
      return nn_rows<2>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    case 1:
      return nn_rows<1>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    default:
      return;
  }
}

float dot(const float* a, const float* b, int64_t n) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + u * kLanes),
                               _mm256_loadu_ps(b + i + u * kLanes), acc[u]);
  for (; i + kLanes <= n; i += kLanes)
    acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc[0]);
  if (i < n) {
    const __m256i mask = tail_mask(n - i);
    acc[1] =
        _mm256_fmadd_ps(_mm256_maskload_ps(a + i, mask), _mm256_maskload_ps(b + i, mask), acc[1]);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  const __m256 va = _mm256_set1_ps(alpha);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  if (i < n) {
    const __m256i mask = tail_mask(n - i);
    const __m256 r =
        _mm256_fmadd_ps(va, _mm256_maskload_ps(x + i, mask), _mm256_maskload_ps(y + i, mask));
    _mm256_maskstore_ps(y + i, mask, r);
  }
}

void to_f32(const void* src, DType src_type, float* dst, int64_t n) {
  switch (src_type) {
    case DType::kF16:
      return convert_row<DType::kF16>(static_cast<const uint16_t*>(src), dst, n);
    case DType::kBF16:
      return convert_row<DType::kBF16>(static_cast<const uint16_t*>(src), dst, n);
    default:
      std::memcpy(dst, src, size_t(n) * sizeof(float));
  }
}

}  // namespace quanta::kernels::avx2
