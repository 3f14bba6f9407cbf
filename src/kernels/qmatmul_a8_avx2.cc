// AVX2 W8A8 kernel (kInt8Vnni weights x int8 activations). Contract in kernels/qmatmul.h.
// Also the AVX-512 level's kernel on CPUs without VNNI.
//
// Without vpdpbusd, the exact product of two int8 codes needs 16 bits: codes are widened to
// int16 and multiplied-and-paired with vpmaddwd into int32 (never saturates: |sum of two
// products| <= 2 * 128 * 128). The activation codes of a chunk of kChunk tokens are widened once
// per call into scratch, and each token's 4 codes of a quad broadcast once per column chunk; each
// 16-byte quarter of a 64-byte quad (4 rows x 4 columns) is widened once per kTok tokens, one madd
// against a token's broadcast quad giving pairs per row, summed across pairs at the end (hadd +
// lane permute). Half a block (8 rows) at a time, so kTok tokens x 2 accumulators + 2 weight
// vectors fit in the 16 registers. Below kTok
// tokens (decode) a whole block at a time instead, 1 or 2 tokens, each broadcast feeding 4 madds.
// (vpmaddubsw's 8-bit products would be no faster: their pairs need a vpmaddwd by ones after, on
// the same multiply port, and -128 x -128 breaks its sign trick.)
//
// Note: built with -mavx2 -mfma -mf16c; no standard-library templates (see matmul_avx2.cc).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/qmatmul.h"

namespace quanta::kernels::avx2 {
namespace {

constexpr int64_t kBlock = 16;  // rows per interleaved block
constexpr int kTok = 4;  // tokens per pass over half a block (at 5 or 6 GCC 12 spills the sums)
constexpr int64_t kChunk =
    72;  // tokens whose widened codes are kept in scratch at a time (12 passes)
// Decode prefetches W this many bytes ahead (the weights stream from DRAM; as qmatmul_i16_avx2.cc).
constexpr int64_t kPrefetch = 2048;

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
int64_t max_i64(int64_t a, int64_t b) { return a > b ? a : b; }

// Lanes l of 8 with lo <= l < hi.
__m256i lane_range(int64_t lo, int64_t hi) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), idx),
                          _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(int(lo) - 1)));
}

// 4 int8 codes at p widened to int16, repeated over the vector.
__m256i broadcast_quad(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(v)));
}

// Few tokens (decode): tokens [0, T) of xq against all 16 rows of block `blk`, writing rows in
// [n0, n1); one broadcast of a token's codes feeds four madds.
template <int T>
void block_tokens(const int8_t* xq, const float* sx, int64_t ldq, const MatrixView& w, int64_t blk,
                  int64_t n0, int64_t n1, float* y, int64_t ldy) {
  const int64_t k4 = (w.cols + 3) / 4 * 4;  // a8_row_stride, not called: see the note above
  const int8_t* wb = static_cast<const int8_t*>(w.data) + blk * kBlock * k4;
  __m256i acc[T][4];
  for (int t = 0; t < T; ++t)
    for (int h = 0; h < 4; ++h) acc[t][h] = _mm256_setzero_si256();
  for (int64_t q = 0; q < k4 / 4; ++q) {
    _mm_prefetch(reinterpret_cast<const char*>(wb + q * 64 + kPrefetch), _MM_HINT_T0);
    __m256i wv[4];
    for (int h = 0; h < 4; ++h)
      wv[h] = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + q * 64 + h * 16)));
    for (int t = 0; t < T; ++t) {
      const __m256i xb = broadcast_quad(xq + t * ldq + q * 4);
      for (int h = 0; h < 4; ++h)
        acc[t][h] = _mm256_add_epi32(acc[t][h], _mm256_madd_epi16(wv[h], xb));
    }
  }
  const int64_t r0 = blk * kBlock;
  for (int half = 0; half < 2; ++half) {
    const int64_t base = r0 + half * 8;
    const __m256i mask = lane_range(max_i64(n0 - base, 0), min_i64(n1 - base, 8));
    const __m256 sw = _mm256_maskload_ps(w.scales + base, mask);
    for (int t = 0; t < T; ++t) {
      // [r0 r1 r4 r5 | r2 r3 r6 r7] -> rows in order.
      const __m256i s = _mm256_hadd_epi32(acc[t][2 * half], acc[t][2 * half + 1]);
      const __m256i rows = _mm256_permute4x64_epi64(s, _MM_SHUFFLE(3, 1, 2, 0));
      const __m256 f =
          _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(rows), _mm256_set1_ps(sx[t])), sw);
      _mm256_maskstore_ps(y + t * ldy + base, mask, f);
    }
  }
}

// Prefill with the activations pre-broadcast (as qmatmul_i16_avx2.cc's prefill path: a broadcast
// from memory costs a vector ALU slot on Zen 3): xb holds, for T tokens and the quads [q0, q1) of
// one column chunk, each token's 4 widened codes repeated over a vector (token t's quad q at
// xb[t * kChunkQuads + q - q0]). The int32 sums of rows [n0, n1) are carried from chunk to chunk
// in y itself (as int32 bits; exact, integer addition) and scaled at the last chunk, so the
// result has the same bits as half_tokens.
constexpr int64_t kChunkQuads = 32;  // 128 columns: kTok tokens' broadcasts take 4 KB of L1

template <int T>
void half_chunk(const __m256i* xb, const float* sx, const MatrixView& w, int64_t blk, int half,
                int64_t q0, int64_t q1, bool first, bool last, int64_t n0, int64_t n1, float* y,
                int64_t ldy) {
  const int64_t k4 = (w.cols + 3) / 4 * 4;  // a8_row_stride, not called: see the note above
  const int8_t* wb = static_cast<const int8_t*>(w.data) + blk * kBlock * k4 + half * 32;
  __m256i acc[T][2];
  for (int t = 0; t < T; ++t) acc[t][0] = acc[t][1] = _mm256_setzero_si256();
  for (int64_t q = q0; q < q1; ++q) {
    const __m256i w0 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + q * 64)));
    const __m256i w1 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wb + q * 64 + 16)));
    for (int t = 0; t < T; ++t) {
      const __m256i xv = _mm256_load_si256(xb + t * kChunkQuads + (q - q0));
      acc[t][0] = _mm256_add_epi32(acc[t][0], _mm256_madd_epi16(w0, xv));
      acc[t][1] = _mm256_add_epi32(acc[t][1], _mm256_madd_epi16(w1, xv));
      // Pins each running sum to one register (GCC 12 otherwise adds into the product's register
      // and copies it back, 8 extra moves per quad).
      asm("" : "+x"(acc[t][0]), "+x"(acc[t][1]));
    }
  }
  const int64_t base = blk * kBlock + half * 8;
  // Note: masked loads and stores are slow on AMD Zen (vpmaskmov stores cost tens of cycles):
  // whole halves, the common case, use plain ones.
  const bool whole = base >= n0 && base + 8 <= n1;
  const __m256i mask = lane_range(max_i64(n0 - base, 0), min_i64(n1 - base, 8));
  for (int t = 0; t < T; ++t) {
    // [r0 r1 r4 r5 | r2 r3 r6 r7] -> rows in order.
    const __m256i s = _mm256_hadd_epi32(acc[t][0], acc[t][1]);
    __m256i rows = _mm256_permute4x64_epi64(s, _MM_SHUFFLE(3, 1, 2, 0));
    float* yt = y + t * ldy + base;
    int* yi = reinterpret_cast<int*>(yt);
    if (!first)
      rows = _mm256_add_epi32(rows, whole ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(yi))
                                          : _mm256_maskload_epi32(yi, mask));
    if (last) {
      const __m256 sw =
          whole ? _mm256_loadu_ps(w.scales + base) : _mm256_maskload_ps(w.scales + base, mask);
      const __m256 f =
          _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(rows), _mm256_set1_ps(sx[t])), sw);
      if (whole)
        _mm256_storeu_ps(yt, f);
      else
        _mm256_maskstore_ps(yt, mask, f);
    } else if (whole) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(yi), rows);
    } else {
      _mm256_maskstore_epi32(yi, mask, rows);
    }
  }
}

// Tokens [0, T) of the widened codes xw (row stride ldw), quads [q0, q1), rows [n0, n1).
template <int T>
void chunk_rows(const int16_t* xw, const float* sx, int64_t ldw, __m256i* xb, const MatrixView& w,
                int64_t q0, int64_t q1, bool first, bool last, int64_t n0, int64_t n1, float* y,
                int64_t ldy) {
  for (int t = 0; t < T; ++t)
    for (int64_t q = q0; q < q1; ++q) {
      int64_t v;
      std::memcpy(&v, xw + t * ldw + q * 4, 8);
      _mm256_store_si256(xb + t * kChunkQuads + (q - q0), _mm256_set1_epi64x(v));
    }
  for (int64_t blk = n0 / kBlock; blk * kBlock < n1; ++blk)
    for (int half = 0; half < 2; ++half) {
      if (blk * kBlock + half * 8 >= n1 || blk * kBlock + half * 8 + 8 <= n0) continue;
      half_chunk<T>(xb, sx, w, blk, half, q0, q1, first, last, n0, n1, y, ldy);
    }
}

void chunk_tail(int T, const int16_t* xw, const float* sx, int64_t ldw, __m256i* xb,
                const MatrixView& w, int64_t q0, int64_t q1, bool first, bool last, int64_t n0,
                int64_t n1, float* y, int64_t ldy) {
  switch (T) {
    case 1:
      return chunk_rows<1>(xw, sx, ldw, xb, w, q0, q1, first, last, n0, n1, y, ldy);
    case 2:
      return chunk_rows<2>(xw, sx, ldw, xb, w, q0, q1, first, last, n0, n1, y, ldy);
    case 3:
      return chunk_rows<3>(xw, sx, ldw, xb, w, q0, q1, first, last, n0, n1, y, ldy);
    case 4:
      return chunk_rows<4>(xw, sx, ldw, xb, w, q0, q1, first, last, n0, n1, y, ldy);
    default:
      return chunk_rows<5>(xw, sx, ldw, xb, w, q0, q1, first, last, n0, n1, y, ldy);
  }
}

}  // namespace

void qmatmul_a8(const int8_t* xq, const float* sx, int64_t m, int64_t ldq, const MatrixView& w,
                int64_t n0, int64_t n1, float* y, int64_t ldy) {
  if (m < kTok) {
    for (int64_t blk = n0 / kBlock; blk * kBlock < n1; ++blk) {
      int64_t i = 0;
      for (; i + 2 <= m; i += 2)
        block_tokens<2>(xq + i * ldq, sx + i, ldq, w, blk, n0, n1, y + i * ldy, ldy);
      if (i < m) block_tokens<1>(xq + i * ldq, sx + i, ldq, w, blk, n0, n1, y + i * ldy, ldy);
    }
    return;
  }
  // ldq == a8_row_stride(w.cols), a multiple of 4 (and so of the 8 bytes one broadcast reads).
  // Scratch: the chunk's widened codes, then (32-byte aligned) kTok tokens' broadcast quads.
  const int64_t xw_floats = (min_i64(m, kChunk) * ldq + 1) / 2;
  const int64_t xb_at = (xw_floats + 7) / 8 * 8;
  float* scratch = qmatmul_scratch(xb_at + kTok * kChunkQuads * 8);
  int16_t* xw = reinterpret_cast<int16_t*>(scratch);
  auto* xb = reinterpret_cast<__m256i*>(scratch + xb_at);
  const int64_t nq = ldq / 4;
  for (int64_t c0 = 0; c0 < m; c0 += kChunk) {
    const int64_t nt = min_i64(kChunk, m - c0);
    for (int64_t i = 0; i < nt * ldq; i += 16) {  // ldq * nt is a multiple of 4; widen 16 at a time
      if (i + 16 <= nt * ldq) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(xw + i),
                            _mm256_cvtepi8_epi16(_mm_loadu_si128(
                                reinterpret_cast<const __m128i*>(xq + c0 * ldq + i))));
      } else {
        for (int64_t j = i; j < nt * ldq; ++j) xw[j] = xq[c0 * ldq + j];
      }
    }
    for (int64_t q0 = 0; q0 < nq; q0 += kChunkQuads) {
      const int64_t q1 = min_i64(nq, q0 + kChunkQuads);
      const bool first = q0 == 0, last = q1 == nq;
      int64_t i = 0;
      for (; i + kTok <= nt; i += kTok)
        chunk_rows<kTok>(xw + i * ldq, sx + c0 + i, ldq, xb, w, q0, q1, first, last, n0, n1,
                         y + (c0 + i) * ldy, ldy);
      if (i < nt)
        chunk_tail(int(nt - i), xw + i * ldq, sx + c0 + i, ldq, xb, w, q0, q1, first, last, n0, n1,
                   y + (c0 + i) * ldy, ldy);
    }
  }
}

}  // namespace quanta::kernels::avx2
