// AVX2 (with FMA and F16C) streamed-softmax attention update. Contract in kernels/attention.h.
//
// Same blocking as attention_avx512.cc (see its header comment) with 8 lanes: a block of
// kBlock = 16 positions is two vectors of scores per query. F16 rows widen with vcvtph2ps, BF16 by
// a 16-bit shift; head_dim tails load through masks (f32) or a zeroed copy (16- and 8-bit types,
// which have no masked load before AVX-512).
// I8 codes sign-extend and convert; a row's K scale multiplies its score, its V scale its p.
//
// Note: built with -mavx2 -mfma -mf16c; like matmul_avx2.cc it must not instantiate
// standard-library templates or call inline functions from shared headers.
#include <immintrin.h>

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/exp_avx2.h"

namespace quanta::kernels::avx2 {
namespace {

constexpr int64_t kLanes = 8;
constexpr int64_t kBlock = 16;  // positions per block: two vectors of scores
constexpr int64_t kPrefetchRows = 32;  // positions ahead that update_hd8 prefetches
constexpr int kMaxQ = 4;        // queries sharing one pass over K/V (a GQA group of up to 4)

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

// All-ones in the first n lanes (n >= kLanes: all).
__m256i lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < kLanes ? n : kLanes)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <DType T>
__m256 widen(__m128i h) {
  if constexpr (T == DType::kF16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// 8 values of storage type T from p as f32; only the first n (1..8) are read, the rest are 0.
template <DType T>
__m256 load(const StorageT<T>* p, int64_t n, __m256i mk) {
  if constexpr (T == DType::kF32) {
    if (n >= kLanes) return _mm256_loadu_ps(p);
    return _mm256_maskload_ps(p, mk);
  } else if constexpr (T == DType::kI8) {
    __m128i b;
    if (n >= kLanes) {
      b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    } else {
      alignas(16) int8_t tmp[16] = {};
      for (int64_t i = 0; i < n; ++i) tmp[i] = p[i];
      b = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
    }
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b));
  } else {
    if (n >= kLanes) return widen<T>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    alignas(16) uint16_t tmp[kLanes] = {};
    for (int64_t i = 0; i < n; ++i) tmp[i] = p[i];
    return widen<T>(_mm_load_si128(reinterpret_cast<const __m128i*>(tmp)));
  }
}

float hsum(__m256 x) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 x) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The online softmax step of one block of nb <= kBlock scores s (NQ, kBlock): new running max m,
// the rescale factor corr of the old state, l updated, s replaced by p = exp(s - max) (0 past nb;
// for I8 times the V rows' scales vs[j * ss]).
template <DType T, int NQ>
void softmax_step(float (*s)[kBlock], int64_t nb, const float* vs, int64_t ss, float* m, float* l,
                  float* corr) {
  const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
  const __m256i m0 = lanes(nb), m1 = lanes(nb - kLanes);
  for (int i = 0; i < NQ; ++i) {
    const __m256 s0 = _mm256_blendv_ps(neg_inf, _mm256_load_ps(s[i]), _mm256_castsi256_ps(m0));
    const __m256 s1 =
        _mm256_blendv_ps(neg_inf, _mm256_load_ps(s[i] + kLanes), _mm256_castsi256_ps(m1));
    const float mx = max_f(m[i], hmax(_mm256_max_ps(s0, s1)));
    const __m256 mxv = _mm256_set1_ps(mx);
    const __m256 p0 = _mm256_and_ps(exp256(_mm256_sub_ps(s0, mxv)), _mm256_castsi256_ps(m0));
    const __m256 p1 = _mm256_and_ps(exp256(_mm256_sub_ps(s1, mxv)), _mm256_castsi256_ps(m1));
    // The max rarely grows after the first blocks: exp(0) is 1 (exactly, as exp256 gives it).
    corr[i] = m[i] == -__builtin_inff() ? 0.0f
              : m[i] == mx              ? 1.0f
                                        : _mm256_cvtss_f32(exp256(_mm256_set1_ps(m[i] - mx)));
    l[i] = l[i] * corr[i] + hsum(_mm256_add_ps(p0, p1));
    m[i] = mx;
    _mm256_store_ps(s[i], p0);
    _mm256_store_ps(s[i] + kLanes, p1);
  }
  if constexpr (T == DType::kI8) {  // the V rows' scales, folded into p
    for (int64_t j = 0; j < nb; ++j) {
      const float w = vs[j * ss];
      for (int i = 0; i < NQ; ++i) s[i][j] *= w;
    }
  }
}

template <DType T, int NQ>
void update(const float* q, int64_t hd, float scale, const StorageT<T>* k, const StorageT<T>* v,
            int64_t stride, const float* ks, const float* vs, int64_t ss, int64_t n, float* m,
            float* l, float* acc) {
  alignas(32) float s[NQ][kBlock];
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t nb = min_i64(kBlock, n - j0);
    // Scores of the block: s[i][j] = scale * q_i . k_{j0+j}.
    for (int64_t j = 0; j < nb; ++j) {
      const StorageT<T>* kj = k + (j0 + j) * stride;
      __m256 d[NQ];
      for (int i = 0; i < NQ; ++i) d[i] = _mm256_setzero_ps();
      for (int64_t c = 0; c < hd; c += kLanes) {
        const __m256i mk = lanes(hd - c);
        const __m256 kv = load<T>(kj + c, hd - c, mk);
        for (int i = 0; i < NQ; ++i)
          d[i] = _mm256_fmadd_ps(load<DType::kF32>(q + i * hd + c, hd - c, mk), kv, d[i]);
      }
      const float sj = T == DType::kI8 ? scale * ks[(j0 + j) * ss] : scale;
      for (int i = 0; i < NQ; ++i) s[i][j] = hsum(d[i]) * sj;
    }
    float corr[NQ];
    softmax_step<T, NQ>(s, nb, T == DType::kI8 ? vs + j0 * ss : nullptr, ss, m, l, corr);
    // acc_i = acc_i * corr_i + sum_j p_ij v_{j0+j}, one 8-wide slice of head_dim at a time.
    for (int64_t c = 0; c < hd; c += kLanes) {
      const __m256i mk = lanes(hd - c);
      __m256 a[NQ];
      for (int i = 0; i < NQ; ++i)
        a[i] =
            _mm256_mul_ps(load<DType::kF32>(acc + i * hd + c, hd - c, mk), _mm256_set1_ps(corr[i]));
      for (int64_t j = 0; j < nb; ++j) {
        const __m256 vv = load<T>(v + (j0 + j) * stride + c, hd - c, mk);
        for (int i = 0; i < NQ; ++i) a[i] = _mm256_fmadd_ps(_mm256_set1_ps(s[i][j]), vv, a[i]);
      }
      for (int i = 0; i < NQ; ++i) {
        if (hd - c >= kLanes)
          _mm256_storeu_ps(acc + i * hd + c, a[i]);
        else
          _mm256_maskstore_ps(acc + i * hd + c, mk, a[i]);
      }
    }
  }
}

// 8 values at p as f32 (a full vector).
template <DType T>
__m256 load8(const StorageT<T>* p) {
  if constexpr (T == DType::kF32) return _mm256_loadu_ps(p);
  if constexpr (T == DType::kI8)
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  if constexpr (T == DType::kF16 || T == DType::kBF16)
    return widen<T>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Scores of P positions (rows kr[0 .. P)) for NQ queries, hd a multiple of 8: out[i][p] =
// q_i . k_p (unscaled). Each query's P dot products run in P accumulators whose lanes are then
// reduced together (about 2 shuffles per score instead of a 4-step horizontal sum each).
template <DType T, int NQ, int P>
void scores(const float* q, int64_t hd, const StorageT<T>* const* kr, __m128 out[NQ]) {
  __m256 d[NQ][P];
  for (int i = 0; i < NQ; ++i)
    for (int p = 0; p < P; ++p) d[i][p] = _mm256_setzero_ps();
  for (int64_t c = 0; c < hd; c += kLanes) {
    for (int p = 0; p < P; ++p) {
      const __m256 kv = load8<T>(kr[p] + c);
      for (int i = 0; i < NQ; ++i)
        d[i][p] = _mm256_fmadd_ps(_mm256_loadu_ps(q + i * hd + c), kv, d[i][p]);
    }
  }
  for (int i = 0; i < NQ; ++i) {
    // A 4 x 8 transpose-and-add by unpacks and shuffles (vhaddps is 2 cycles a piece on Zen 3):
    // lanes l and l + 2 of each 128-bit half, then l and l + 1, then the two halves.
    if constexpr (P == 4) {
      const __m256 s01 =
          _mm256_add_ps(_mm256_unpacklo_ps(d[i][0], d[i][1]), _mm256_unpackhi_ps(d[i][0], d[i][1]));
      const __m256 s23 =
          _mm256_add_ps(_mm256_unpacklo_ps(d[i][2], d[i][3]), _mm256_unpackhi_ps(d[i][2], d[i][3]));
      const __m256 h = _mm256_add_ps(_mm256_shuffle_ps(s01, s23, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm256_shuffle_ps(s01, s23, _MM_SHUFFLE(3, 2, 3, 2)));
      out[i] = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    } else {
      const __m256 s01 =
          _mm256_add_ps(_mm256_unpacklo_ps(d[i][0], d[i][1]), _mm256_unpackhi_ps(d[i][0], d[i][1]));
      const __m256 h = _mm256_add_ps(s01, _mm256_shuffle_ps(s01, s01, _MM_SHUFFLE(1, 0, 3, 2)));
      out[i] = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));  // [s0 s1 s0 s1]
    }
  }
}

// acc slice [c0, c0 + 8 NC) of NQ queries: acc_i = acc_i * corr_i + sum_j p_ij v_j over the nb
// rows of the block; p (NQ, kBlock). Each p_ij is broadcast once per slice; NC x NQ accumulators.
template <DType T, int NQ, int NC>
void v_slice(const StorageT<T>* v, int64_t stride, int64_t nb, const float (*p)[kBlock],
             const float* corr, int64_t hd, int64_t c0, float* acc) {
  __m256 a[NQ][NC];
  for (int i = 0; i < NQ; ++i)
    for (int c = 0; c < NC; ++c)
      a[i][c] =
          _mm256_mul_ps(_mm256_loadu_ps(acc + i * hd + c0 + c * kLanes), _mm256_set1_ps(corr[i]));
  for (int64_t j = 0; j < nb; ++j) {
    const StorageT<T>* vr = v + j * stride + c0;
    __m256 pj[NQ];
    for (int i = 0; i < NQ; ++i) pj[i] = _mm256_set1_ps(p[i][j]);
    for (int c = 0; c < NC; ++c) {
      const __m256 vv = load8<T>(vr + c * kLanes);
      for (int i = 0; i < NQ; ++i) a[i][c] = _mm256_fmadd_ps(pj[i], vv, a[i][c]);
    }
  }
  for (int i = 0; i < NQ; ++i)
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(acc + i * hd + c0 + c * kLanes, a[i][c]);
}

// update() for hd a multiple of 8 (every head dim of the model families here): the same
// streamed softmax, with the scores 4 (NQ = 4: 2) positions at a time and V in slices of 32
// (16) values of head_dim, so neither horizontal sums nor reloaded p values dominate.
template <DType T, int NQ>
void update_hd8(const float* q, int64_t hd, float scale, const StorageT<T>* k, const StorageT<T>* v,
                int64_t stride, const float* ks, const float* vs, int64_t ss, int64_t n, float* m,
                float* l, float* acc) {
  constexpr int P = NQ <= 3 ? 4 : 2;   // positions per score pass: NQ x P accumulators
  constexpr int NC = NQ <= 3 ? 4 : 2;  // vectors per V slice: NQ x NC accumulators
  alignas(32) float s[NQ][kBlock];
  for (int64_t j0 = 0; j0 < n; j0 += kBlock) {
    const int64_t nb = min_i64(kBlock, n - j0);
    // Scores; a pass past the block's end repeats its last row (those lanes are masked below).
    for (int64_t j = 0; j < nb; j += P) {
      const StorageT<T>* kr[P];
      int64_t row[P];
      for (int p = 0; p < P; ++p) {
        row[p] = j0 + min_i64(j + p, nb - 1);
        kr[p] = k + row[p] * stride;
      }
      // Decode reads each layer's K and V once per step, after the whole model's weights went
      // through the caches: the rows come from DRAM, so fetch ahead (measured faster with the
      // head-major cache too: bench attention_cold).
      for (int p = 0; p < P; ++p) {
        const int64_t ahead = j0 + j + p + kPrefetchRows;
        if (ahead < n) {
          const char* kp = reinterpret_cast<const char*>(k + ahead * stride);
          const char* vp = reinterpret_cast<const char*>(v + ahead * stride);
          for (int64_t b = 0; b < hd * int64_t(sizeof(StorageT<T>)); b += 64) {
            _mm_prefetch(kp + b, _MM_HINT_T0);
            _mm_prefetch(vp + b, _MM_HINT_T0);
          }
        }
      }
      __m128 sc[NQ];
      scores<T, NQ, P>(q, hd, kr, sc);
      __m128 sv = _mm_set1_ps(scale);
      if constexpr (T == DType::kI8) {
        alignas(16) float f[4] = {};
        for (int p = 0; p < P; ++p) f[p] = scale * ks[row[p] * ss];
        sv = _mm_load_ps(f);
      }
      for (int i = 0; i < NQ; ++i) {
        const __m128 r = _mm_mul_ps(sc[i], sv);
        if constexpr (P == 4) {
          _mm_storeu_ps(s[i] + j, r);
        } else {
          _mm_storel_pi(reinterpret_cast<__m64*>(s[i] + j), r);
        }
      }
    }
    float corr[NQ];
    softmax_step<T, NQ>(s, nb, T == DType::kI8 ? vs + j0 * ss : nullptr, ss, m, l, corr);
    const StorageT<T>* vb = v + j0 * stride;
    int64_t c0 = 0;
    for (; c0 + NC * kLanes <= hd; c0 += NC * kLanes)
      v_slice<T, NQ, NC>(vb, stride, nb, s, corr, hd, c0, acc);
    for (; c0 < hd; c0 += kLanes) v_slice<T, NQ, 1>(vb, stride, nb, s, corr, hd, c0, acc);
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
    const bool hd8 = hd % kLanes == 0;
    switch (min_i64(kMaxQ, n_q - i0)) {
      case 1:
        if (hd8)
          update_hd8<T, 1>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        else
          update<T, 1>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        break;
      case 2:
        if (hd8)
          update_hd8<T, 2>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        else
          update<T, 2>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        break;
      case 3:
        if (hd8)
          update_hd8<T, 3>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        else
          update<T, 3>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        break;
      default:
        if (hd8)
          update_hd8<T, 4>(qi, hd, scale, kt, vt, st, ks, vs, ss, n, m + i0, l + i0, ai);
        else
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

}  // namespace quanta::kernels::avx2
