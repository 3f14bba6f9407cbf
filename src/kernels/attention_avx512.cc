// AVX-512 streamed-softmax attention update. Contract in kernels/attention.h.
//
// Per block of kBlock = 16 positions (one vector of scores per query): the n_q <= kMaxQ queries'
// dot products with each key (one pass over the block's K rows, kept as n_q accumulators), the
// block max, p = exp(s - m_new) vectorised, then one pass over the block's V rows per 16-wide
// slice of head_dim adding p_ij v_j into the n_q accumulators (rescaled once by exp(m_old -
// m_new)). F16 rows widen with vcvtph2ps, BF16 by a 16-bit shift; head_dim tails use masked
// loads/stores.
// I8 codes sign-extend and convert; a row's K scale multiplies its score, its V scale its p.
//
// Note: built with -mavx512f/bw/vl/dq (and AVX2/FMA/F16C); like matmul_avx512.cc it must not
// instantiate standard-library templates or call inline functions from shared headers.
#include "kernels/avx512_intrin.h"

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/exp_avx512.h"

namespace quanta::kernels::avx512 {
namespace {

constexpr int64_t kLanes = 16;
constexpr int64_t kBlock = 16;  // positions per block: one vector of scores
constexpr int kMaxQ = 4;        // queries sharing one pass over K/V (a GQA group of up to 4)
// Rows of K and V prefetched ahead (W4A16 decode at 1536 positions: 275-288 -> 292-298 tok/s in
// 4 alternating pairs; at 512 no change beyond the noise).
constexpr int64_t kAhead = 32;

template <DType T>
struct Storage {
  using type = uint16_t;
};
template <>
struct Storage<DType::kF32> {
  using type = float;
};
template <>
struct Storage<DType::kI8> {
  using type = int8_t;
};
template <DType T>
using StorageT = typename Storage<T>::type;

int64_t min_i64(int64_t a, int64_t b) { return a < b ? a : b; }
float max_f(float a, float b) { return a > b ? a : b; }

// The first n lanes (n >= kLanes: all).
__mmask16 lanes(int64_t n) { return n >= kLanes ? __mmask16(0xffff) : __mmask16((1u << n) - 1u); }

// 16 values of storage type T from p as f32; lanes outside mk are 0 and not read.
template <DType T>
__m512 load(const StorageT<T>* p, __mmask16 mk) {
  if constexpr (T == DType::kF32) {
    return _mm512_maskz_loadu_ps(mk, p);
  } else if constexpr (T == DType::kI8) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(mk, p)));
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(mk, p);
    if constexpr (T == DType::kF16)
      return _mm512_cvtph_ps(h);
    else
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

// Lane j of the result = the sum of the 16 lanes of the vector in slot sum16_slot(j) of v: a
// transposing tree of 15 adds and 30 shuffles for 16 sums, against about 8 operations for each
// horizontal sum alone (score pass: about 40 -> 25 operations per key for 3 queries of head_dim 64).
int64_t sum16_slot(int64_t j) { return (j % 4) * 4 + j / 4; }
__m512 sum16(const __m512* v) {
  __m512 t[8], u[4], w[2];
  for (int p = 0; p < 8; ++p)  // quarters: [a q0+q2, a q1+q3, b q0+q2, b q1+q3]
    t[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xee));
  for (int p = 0; p < 4; ++p)  // quarter r: 4 partial lanes of slot 4p + r
    u[p] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * p], t[2 * p + 1], 0x88),
                         _mm512_shuffle_f32x4(t[2 * p], t[2 * p + 1], 0xdd));
  for (int p = 0; p < 2; ++p)  // quarter r: 2 partial lanes each of slots 8p + r, 8p + 4 + r
    w[p] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * p], u[2 * p + 1], 0x44),
                         _mm512_shuffle_ps(u[2 * p], u[2 * p + 1], 0xee));
  // Quarter r, lane c: the sum of slot 4c + r.
  return _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], 0x88), _mm512_shuffle_ps(w[0], w[1], 0xdd));
}

template <DType T, int NQ>
void update(const float* q, int64_t hd, float scale, const StorageT<T>* k, const StorageT<T>* v,
            int64_t stride, const float* ks, const float* vs, int64_t ss, int64_t n, float* m,
            float* l, float* acc) {
  alignas(64) float s[NQ][kBlock];
  __m512 dv[NQ][kBlock];  // per query, the block's keys' 16-lane partial dot products
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t nb = min_i64(kBlock, n - j0);
    // Scores of the block: s[i][j] = scale * q_i . k_{j0+j}. The 16 partial sums of a query
    // are reduced together (sum16), not one horizontal sum per key and query.
    for (int64_t j = 0; j < nb; ++j) {
      const StorageT<T>* kj = k + (j0 + j) * stride;
      if (j0 + j + kAhead < n) {
        _mm_prefetch(reinterpret_cast<const char*>(kj + kAhead * stride), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(v + (j0 + j + kAhead) * stride), _MM_HINT_T0);
      }
      __m512 d[NQ];
      for (int i = 0; i < NQ; ++i) d[i] = _mm512_setzero_ps();
      for (int64_t c = 0; c < hd; c += kLanes) {
        const __mmask16 mk = lanes(hd - c);
        const __m512 kv = load<T>(kj + c, mk);
        for (int i = 0; i < NQ; ++i)
          d[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, q + i * hd + c), kv, d[i]);
      }
      for (int i = 0; i < NQ; ++i) dv[i][sum16_slot(j)] = d[i];
    }
    for (int64_t j = nb; j < kBlock; ++j)
      for (int i = 0; i < NQ; ++i) dv[i][sum16_slot(j)] = _mm512_setzero_ps();
    for (int i = 0; i < NQ; ++i) {
      _mm512_store_ps(s[i], _mm512_mul_ps(sum16(dv[i]), _mm512_set1_ps(scale)));
      if constexpr (T == DType::kI8)
        for (int64_t j = 0; j < nb; ++j) s[i][j] *= ks[(j0 + j) * ss];
    }
    // Online softmax step: new max, rescale factor of the old state, p = exp(s - max).
    const __mmask16 mb = lanes(nb);
    float corr[NQ];
    for (int i = 0; i < NQ; ++i) {
      const __m512 sv = _mm512_mask_load_ps(_mm512_set1_ps(-__builtin_inff()), mb, s[i]);
      const float mx = max_f(m[i], _mm512_reduce_max_ps(sv));
      const __m512 p = _mm512_maskz_mov_ps(mb, exp512(_mm512_sub_ps(sv, _mm512_set1_ps(mx))));
      corr[i] =
          m[i] == -__builtin_inff() ? 0.0f : _mm512_cvtss_f32(exp512(_mm512_set1_ps(m[i] - mx)));
      l[i] = l[i] * corr[i] + _mm512_reduce_add_ps(p);
      m[i] = mx;
      _mm512_store_ps(s[i], p);
    }
    if constexpr (T == DType::kI8) {  // the V rows' scales, folded into p
      for (int64_t j = 0; j < nb; ++j) {
        const float w = vs[(j0 + j) * ss];
        for (int i = 0; i < NQ; ++i) s[i][j] *= w;
      }
    }
    // acc_i = acc_i * corr_i + sum_j p_ij v_{j0+j}, one 16-wide slice of head_dim at a time.
    for (int64_t c = 0; c < hd; c += kLanes) {
      const __mmask16 mk = lanes(hd - c);
      __m512 a[NQ];
      for (int i = 0; i < NQ; ++i)
        a[i] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, acc + i * hd + c), _mm512_set1_ps(corr[i]));
      for (int64_t j = 0; j < nb; ++j) {
        const __m512 vv = load<T>(v + (j0 + j) * stride + c, mk);
        for (int i = 0; i < NQ; ++i) a[i] = _mm512_fmadd_ps(_mm512_set1_ps(s[i][j]), vv, a[i]);
      }
      for (int i = 0; i < NQ; ++i) _mm512_mask_storeu_ps(acc + i * hd + c, mk, a[i]);
    }
  }
}

template <DType T>
void update_all(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv, int64_t n,
                float* m, float* l, float* acc) {
  const auto* kt = static_cast<const StorageT<T>*>(kv.k);
  const auto* vt = static_cast<const StorageT<T>*>(kv.v);
  const int64_t st = kv.stride, ss = kv.scale_stride;
  const float *ks = kv.k_scale, *vs = kv.v_scale;
  for (int64_t i0 = 0; i0 < n_q; i0 += kMaxQ) {
    const float* qi = q + i0 * hd;
    float* ai = acc + i0 * hd;
    switch (min_i64(kMaxQ, n_q - i0)) {
      case 1:
        update<T, 1>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        break;
      case 2:
        update<T, 2>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        break;
      case 3:
        update<T, 3>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        break;
      default:
        update<T, 4>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        break;
    }
  }
}

}  // namespace

void attend_update(const float* q, int64_t n_q, int64_t hd, float scale, const KvRows& kv,
                   int64_t n, float* m, float* l, float* acc) {
  switch (kv.type) {
    case DType::kF16:
      return update_all<DType::kF16>(q, n_q, hd, scale, kv, n, m, l, acc);
    case DType::kBF16:
      return update_all<DType::kBF16>(q, n_q, hd, scale, kv, n, m, l, acc);
    case DType::kI8:
      return update_all<DType::kI8>(q, n_q, hd, scale, kv, n, m, l, acc);
    default:
      return update_all<DType::kF32>(q, n_q, hd, scale, kv, n, m, l, acc);
  }
}

}  // namespace quanta::kernels::avx512
