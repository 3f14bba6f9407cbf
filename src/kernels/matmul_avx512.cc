// AVX-512 (F/BW/VL/DQ, with FMA and F16C) f32 kernels. Contracts in kernels/matmul.h.
//
// matmul has two paths, chosen by the number of rows of X (tokens):
//  - m < kPackMinRows (decode): dot products. W's rows one after another (memory order), each
//    loaded vector used against up to kDotX rows of X, with kDotX x 2 chains of accumulators;
//    every W row is streamed once and stays in L1 while the groups of kDotX tokens pass over it.
//    Horizontal sums at the end of each row.
//  - m >= kPackMinRows (prefill): X^T is packed into panels of kPanel tokens, p[kk][t]; a tile of
//    kTileW rows of W (converted to f32 once per tile and pass, not once per token) is broadcast
//    one element at a time against a panel, accumulating the (kTileW, kPanel) block of Y^T in
//    kTileW * kPanelVecs registers: no horizontal sums, one W load per kPanel FMAs. A pass packs
//    as many panels as fit kPassBytes so the panels stay in L2 while every tile streams by.
//
// Note: this file is compiled with -mavx512*. It must not instantiate standard-library templates
// or call inline functions from shared headers: those are emitted as weak symbols in every file
// that uses them, the linker keeps one copy, and if it kept this file's AVX-512 code the whole
// program would die with SIGILL on an AVX2 CPU. Hence the raw loops and own min/max below, and
// scratch memory from matmul_scratch() (defined in the generic matmul.cc).

#include "kernels/avx512_intrin.h"

#include <cstdint>
#include <cstring>

#include "kernels/matmul.h"

namespace quanta::kernels::avx512 {
namespace {

constexpr int64_t kLanes = 16;
constexpr int kDotX = 4;                            // X rows per dot block
constexpr int kTileW = 12;                          // W rows per packed tile
constexpr int kPanelVecs = 2;                       // vectors of tokens per panel
constexpr int64_t kPanel = kPanelVecs * kLanes;     // tokens per panel
constexpr int64_t kPackMinRows = 16;                // m from which the packed path wins
constexpr int64_t kPassBytes = int64_t(1) << 20;    // packed X per pass (L2 is 1-2 MiB)

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// Storage type of a weight element.
template <DType T> struct Storage { using type = uint16_t; };
template <> struct Storage<DType::kF32> { using type = float; };
template <DType T> using StorageT = typename Storage<T>::type;

// First n lanes (0 < n < kLanes).
__mmask16 tail_mask(int64_t n) { return _cvtu32_mask16((1u << n) - 1); }

// 16 weights from p as f32; the second form loads the first n and zeroes the rest.
template <DType T>
__m512 widen(__m256i h) {
  if constexpr (T == DType::kF16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));  // bf16 = top half
}
template <DType T>
__m512 load_w(const StorageT<T>* p) {
  if constexpr (T == DType::kF32) return _mm512_loadu_ps(p);
  else return widen<T>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
template <DType T>
__m512 load_w(const StorageT<T>* p, int64_t n) {
  if constexpr (T == DType::kF32) return _mm512_maskz_loadu_ps(tail_mask(n), p);
  else return widen<T>(_mm256_maskz_loadu_epi16(tail_mask(n), p));
}

// dst[0, n) = src[0, n) as f32.
template <DType T>
void convert_row(const StorageT<T>* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(dst + i, load_w<T>(src + i));
  if (i < n) _mm512_mask_storeu_ps(dst + i, tail_mask(n - i), load_w<T>(src + i, n - i));
}

// ---- Few tokens: dot products. ----

// y[i * ldy] = x[i] . w for i < RX.  x (RX, k) row stride k;  w one row of k values.
// The dot product runs as kChains chains of FMAs over alternate vectors of k, so a row that is in
// cache is not bound by the FMA latency.
template <DType T, int RX>
void dot_block(const float* x, int64_t k, const StorageT<T>* w, float* y, int64_t ldy) {
  constexpr int kChains = 2;
  __m512 acc[RX][kChains];
  for (int i = 0; i < RX; ++i)
    for (int ch = 0; ch < kChains; ++ch) acc[i][ch] = _mm512_setzero_ps();
  int64_t kk = 0;
  for (; kk + kChains * kLanes <= k; kk += kChains * kLanes) {
    for (int ch = 0; ch < kChains; ++ch) {
      const int64_t c = kk + ch * kLanes;
      const __m512 wv = load_w<T>(w + c);
      for (int i = 0; i < RX; ++i)
        acc[i][ch] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i * k + c), wv, acc[i][ch]);
    }
  }
  for (; kk + kLanes <= k; kk += kLanes) {
    const __m512 wv = load_w<T>(w + kk);
    for (int i = 0; i < RX; ++i)
      acc[i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i * k + kk), wv, acc[i][0]);
  }
  if (kk < k) {
    const int64_t n = k - kk;
    const __m512 wv = load_w<T>(w + kk, n);
    for (int i = 0; i < RX; ++i)
      acc[i][kChains - 1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask(n), x + i * k + kk), wv,
                                            acc[i][kChains - 1]);
  }
  for (int i = 0; i < RX; ++i) {
    __m512 sum = acc[i][0];
    for (int ch = 1; ch < kChains; ++ch) sum = _mm512_add_ps(sum, acc[i][ch]);
    y[i * ldy] = _mm512_reduce_add_ps(sum);
  }
}

// BF16 rows, k a multiple of 32: 32 weights are one 512-bit load whose 32-bit lanes hold an even
// and an odd bf16 each; a shift by 16 gives the even ones as f32 and an AND the odd ones, in place
// (no widening). X comes with each block of 32 split the same way (xeo: the 16 even values, then
// the 16 odd ones), made once per call by split_even_odd. As the AVX2 twin (matmul_avx2.cc).
template <int RX, int NA>
void fma_even_odd(const float* xeo, int64_t k, const uint16_t* w, int64_t c, __m512 (*acc)[NA],
                  int a) {
  const __m512i v = _mm512_loadu_si512(w + c);
  const __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
  const __m512 wo = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(0xffff0000u))));
  for (int i = 0; i < RX; ++i) {
    acc[i][a] = _mm512_fmadd_ps(_mm512_loadu_ps(xeo + i * k + c), we, acc[i][a]);
    acc[i][a + 1] = _mm512_fmadd_ps(_mm512_loadu_ps(xeo + i * k + c + kLanes), wo, acc[i][a + 1]);
  }
}

// Software prefetch distance of the BF16 rows, in bytes ahead of the loads (decode streams the
// lm_head from DRAM).
constexpr int64_t kDotPrefetchBytes = 2048;

template <int RX>
void dot_block_eo(const float* xeo, int64_t k, const uint16_t* w, float* y, int64_t ldy) {
  // Two blocks of 32 per step, four chains per X row (four blocks, eight chains: 49 against 57
  // GB/s in cache).
  constexpr int kBlocks = 2;
  __m512 acc[RX][2 * kBlocks];
  for (int i = 0; i < RX; ++i)
    for (int ch = 0; ch < 2 * kBlocks; ++ch) acc[i][ch] = _mm512_setzero_ps();
  int64_t kk = 0;
  for (; kk + 32 * kBlocks <= k; kk += 32 * kBlocks) {
    const char* ahead = reinterpret_cast<const char*>(w + kk) + kDotPrefetchBytes;
    for (int b = 0; b < kBlocks; ++b) {
      _mm_prefetch(ahead + 64 * b, _MM_HINT_T0);
      fma_even_odd<RX>(xeo, k, w, kk + 32 * b, acc, 2 * b);
    }
  }
  for (int b = 0; kk < k; kk += 32, ++b) fma_even_odd<RX>(xeo, k, w, kk, acc, 2 * b);
  for (int i = 0; i < RX; ++i) {
    for (int ch = 2; ch < 2 * kBlocks; ch += 2) {
      acc[i][0] = _mm512_add_ps(acc[i][0], acc[i][ch]);
      acc[i][1] = _mm512_add_ps(acc[i][1], acc[i][ch + 1]);
    }
    y[i * ldy] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0], acc[i][1]));
  }
}

// xeo (m, k) = x with each block of 32 values reordered: the 16 at even offsets, then the 16 odd.
void split_even_odd(const float* x, int64_t m, int64_t k, float* xeo) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t i = 0; i < m * k; i += 32) {
    const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + kLanes);
    _mm512_storeu_ps(xeo + i, _mm512_permutex2var_ps(a, even, b));
    _mm512_storeu_ps(xeo + i + kLanes, _mm512_permutex2var_ps(a, odd, b));
  }
}

// All m rows of X against one row of W: y (m,) with stride ldy.
template <DType T>
void dot_rows(const float* x, int64_t m, int64_t k, const StorageT<T>* w, float* y, int64_t ldy) {
  static_assert(kDotX == 4);
  int64_t i = 0;
  for (; i + kDotX <= m; i += kDotX) dot_block<T, kDotX>(x + i * k, k, w, y + i * ldy, ldy);
  const float* xi = x + i * k;
  float* yi = y + i * ldy;
  switch (m - i) {
    case 1:
      return dot_block<T, 1>(xi, k, w, yi, ldy);
    case 2:
      return dot_block<T, 2>(xi, k, w, yi, ldy);
    case 3:
      return dot_block<T, 3>(xi, k, w, yi, ldy);
    default: return;
  }
}

// W's rows one after another, so W is read in memory order, which the hardware prefetcher
// streams; reading a few rows interleaved (k apart) ran about half as fast from DRAM (Zen 4, a
// 56 MB BF16 lm_head, one thread: 5.8 against 2.4 ms). The m tokens pass over each row while it
// is in L1.
template <DType T>
void matmul_dot(const float* x, int64_t m, int64_t k, const StorageT<T>* w, int64_t n0,
                int64_t n1, float* y, int64_t ldy) {
  if constexpr (T == DType::kBF16) {
    // Note: vpmovzxwd + shift per 16 weights took three 512-bit operations, on the two ports
    // that run them, per FMA. Measured (Xeon with AMX, one thread): SmolLM2's gate in cache 40 ->
    // 57 GB/s, the 56 MB lm_head from DRAM 31 -> 34 GB/s; BF16 model decode, 2 threads, 90-113 ->
    // 161-196 tok/s.
    if (k % 32 == 0) {
      float* xeo = matmul_scratch(m * k);
      split_even_odd(x, m, k, xeo);
      for (int64_t j = n0; j < n1; ++j) {
        int64_t i = 0;
        for (; i + 2 <= m; i += 2) dot_block_eo<2>(xeo + i * k, k, w + j * k, y + j + i * ldy, ldy);
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
//   p (k, NV * kLanes) packed panel, 64-byte aligned;  w (kTileW, k) f32, row stride k.
template <int NV>
void tile_kernel(const float* p, const float* w, int64_t k, float* tile) {
  __m512 acc[kTileW][NV];
  for (int r = 0; r < kTileW; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    __m512 xv[NV];
    for (int v = 0; v < NV; ++v) xv[v] = _mm512_load_ps(p + (kk * NV + v) * kLanes);
    for (int r = 0; r < kTileW; ++r) {
      const __m512 wb = _mm512_set1_ps(w[r * k + kk]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(wb, xv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < kTileW; ++r)
    for (int v = 0; v < NV; ++v) _mm512_store_ps(tile + r * kPanel + v * kLanes, acc[r][v]);
}

template <DType T>
void matmul_packed(const float* x, int64_t m, int64_t k, const StorageT<T>* w, int64_t n0,
                   int64_t n1, float* y, int64_t ldy) {
  const int64_t panel_floats = kPanel * k;
  const int64_t pass_panels =
      min_i64(max_i64(1, kPassBytes / (panel_floats * int64_t(sizeof(float)))),
              (m + kPanel - 1) / kPanel);
  float* panels = matmul_scratch(pass_panels * panel_floats + kTileW * k);
  float* wbuf = panels + pass_panels * panel_floats;
  alignas(64) float tile[kTileW * kPanel];

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

void matmul(const float* x, int64_t m, int64_t k, const void* w, DType wtype, int64_t n0, int64_t n1,
            float* y, int64_t ldy) {
  switch (wtype) {
    case DType::kF16: return matmul_typed<DType::kF16>(x, m, k, w, n0, n1, y, ldy);
    case DType::kBF16: return matmul_typed<DType::kBF16>(x, m, k, w, n0, n1, y, ldy);
    default: return matmul_typed<DType::kF32>(x, m, k, w, n0, n1, y, ldy);
  }
}

// ---- X W with W row-major (k, n): RX rows of X by NV vectors of columns in registers. ----

template <int RX, int NV>
void nn_tile(const float* x, int64_t k, int64_t ldx, const float* w, int64_t ldw, int64_t cols,
             float* y, int64_t ldy) {
  __m512 acc[RX][NV];
  for (int i = 0; i < RX; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  __mmask16 mask[NV];
  for (int v = 0; v < NV; ++v) {
    const int64_t left = cols - v * kLanes;
    mask[v] = left >= kLanes ? _cvtu32_mask16(0xffffu) : tail_mask(left);
  }
  for (int64_t c = 0; c < k; ++c) {
    __m512 wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = _mm512_maskz_loadu_ps(mask[v], w + c * ldw + v * kLanes);
    for (int i = 0; i < RX; ++i) {
      const __m512 xb = _mm512_set1_ps(x[i * ldx + c]);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(xb, wv[v], acc[i][v]);
    }
  }
  for (int i = 0; i < RX; ++i)
    for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(y + i * ldy + v * kLanes, mask[v], acc[i][v]);
}

template <int RX>
void nn_rows(const float* x, int64_t k, int64_t ldx, const float* w, int64_t n, int64_t ldw,
             float* y, int64_t ldy) {
  int64_t j = 0;
  for (; j + 4 * kLanes <= n; j += 4 * kLanes) nn_tile<RX, 4>(x, k, ldx, w + j, ldw, 4 * kLanes, y + j, ldy);
  const int64_t left = n - j;
  if (left > 2 * kLanes) {
    nn_tile<RX, 3>(x, k, ldx, w + j, ldw, left, y + j, ldy);
  } else if (left > kLanes) {
    nn_tile<RX, 2>(x, k, ldx, w + j, ldw, left, y + j, ldy);
  } else if (left > 0) {
    nn_tile<RX, 1>(x, k, ldx, w + j, ldw, left, y + j, ldy);
  }
}

void matmul_nn(const float* x, int64_t m, int64_t k, int64_t ldx, const float* w, int64_t n,
               int64_t ldw, float* y, int64_t ldy) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4) nn_rows<4>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
  switch (m - i) {
    case 3: return nn_rows<3>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    case 2: return nn_rows<2>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    case 1: return nn_rows<1>(x + i * ldx, k, ldx, w, n, ldw, y + i * ldy, ldy);
    default: return;
  }
}

float dot(const float* a, const float* b, int64_t n) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  int64_t i = 0;
  for (; i + 4 * kLanes <= n; i += 4 * kLanes)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + u * kLanes),
                               _mm512_loadu_ps(b + i + u * kLanes), acc[u]);
  for (; i + kLanes <= n; i += kLanes)
    acc[0] = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc[0]);
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    acc[1] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i),
                             acc[1]);
  }
  return _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  const __m512 va = _mm512_set1_ps(alpha);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    const __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(mask, x + i),
                                     _mm512_maskz_loadu_ps(mask, y + i));
    _mm512_mask_storeu_ps(y + i, mask, r);
  }
}

void to_f32(const void* src, DType src_type, float* dst, int64_t n) {
  switch (src_type) {
    case DType::kF16: return convert_row<DType::kF16>(static_cast<const uint16_t*>(src), dst, n);
    case DType::kBF16: return convert_row<DType::kBF16>(static_cast<const uint16_t*>(src), dst, n);
    default: std::memcpy(dst, src, size_t(n) * sizeof(float));
  }
}

}  // namespace quanta::kernels::avx512
