// The streamed-softmax attention kernel (kernels/attention.h): the scalar reference against an
// exact softmax in double precision, and every SIMD level this CPU runs against the reference,
// over awkward head dims and position counts, K/V in F32, F16, BF16 and I8 (codes with a scale per
// row), strided rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/attention.h"
#include "kernels/isa.h"

namespace quanta::kernels {
namespace {

// Error limits on outputs, relative to max |v| (an output is a convex combination of V rows).
// The reference computes exact-order f32 sums and std::exp; the SIMD levels add the dot products
// in lanes then a tree, use FMA and a polynomial exp (Cephes, ~2 ulp), and (for many positions)
// carry the max and sum across blocks of 16. A score error d shifts a weight by a factor
// exp(d) ~ 1 + d; with |q|, |k| <= 1 (scores up to ~4 with scale 1/sqrt(hd)) f32 score errors are
// ~1e-6, so outputs agree within a few 1e-6.
constexpr double kSimdVsRefTol = 2e-5;
// The same with queries 16x larger (a peaked softmax: scores up to ~64, max rescaled often):
// score errors grow with the scores' magnitude.
constexpr double kSimdVsRefPeakedTol = 2e-4;
// The f32 reference against the exact softmax computed in double: f32 rounding of sums of up to
// 2048 terms.
constexpr double kRefVsExactTol = 2e-5;
constexpr double kRefVsExactPeakedTol = 2e-4;

const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64};
const int64_t kHeadDims[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 128};
const DType kKvTypes[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kI8};
const int64_t kQueries[] = {1, 3, 5};  // 3: SmolLM2's GQA group; 5: more than one pass of 4
constexpr int64_t kStrideExtra = 5;     // K/V rows hd + 5 apart: not the packed layout
constexpr int64_t kScaleStride = 3;     // I8 rows' scales 3 apart (a cache of 3 KV heads)

// n rows of hd values stored as t, row stride `stride` (I8: codes, row j's scale at
// scales[j * kScaleStride], in [0.5, 1] / 127); and the stored values as f32 (packed).
struct Rows {
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  std::vector<float> f32;
};
Rows random_rows(DType t, int64_t n, int64_t hd, int64_t stride, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Rows r;
  r.bytes.assign(size_t(n * stride) * dtype_size(t), 0);
  r.scales.assign(size_t(n * kScaleStride), 0.0f);
  r.f32.resize(size_t(n * hd));
  for (int64_t j = 0; j < n; ++j) {
    const float row_scale = (0.75f + 0.25f * dist(rng)) / 127.0f;
    r.scales[size_t(j * kScaleStride)] = row_scale;
    for (int64_t d = 0; d < hd; ++d) {
      float f = dist(rng);
      const size_t at = size_t(j * stride + d);
      if (t == DType::kI8) {
        const auto code = int8_t(std::lround(f * 127.0f));
        r.bytes[at] = uint8_t(code);
        f = float(code) * row_scale;
      } else if (t == DType::kF32) {
        std::memcpy(&r.bytes[at * 4], &f, 4);
      } else {
        const uint16_t h = t == DType::kF16 ? f32_to_f16(f) : f32_to_bf16(f);
        f = t == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
        std::memcpy(&r.bytes[at * 2], &h, 2);
      }
      r.f32[size_t(j * hd + d)] = f;
    }
  }
  return r;
}

// Rows j0 .. of k and v as the kernel takes them.
KvRows kv_rows(const Rows& k, const Rows& v, DType t, int64_t stride, int64_t j0 = 0) {
  const size_t at = size_t(j0 * stride) * dtype_size(t);
  return {k.bytes.data() + at,
          v.bytes.data() + at,
          t,
          stride,
          k.scales.data() + j0 * kScaleStride,
          v.scales.data() + j0 * kScaleStride,
          kScaleStride};
}

struct Case {
  int64_t n_q, hd, n;
  DType t;
  float q_scale;  // 1: ordinary scores; 16: peaked softmax
  uint32_t seed;
};

struct Data {
  std::vector<float> q;
  Rows k, v;
  int64_t stride;
};
Data make_data(const Case& c) {
  std::mt19937 rng(c.seed);
  Data d;
  d.stride = c.hd + kStrideExtra;
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  d.q.resize(size_t(c.n_q * c.hd));
  for (float& f : d.q) f = dist(rng) * c.q_scale;
  d.k = random_rows(c.t, c.n, c.hd, d.stride, rng);
  d.v = random_rows(c.t, c.n, c.hd, d.stride, rng);
  return d;
}

// Output (n_q, hd) of one kernel call over all n positions at level isa.
std::vector<float> run(const Case& c, const Data& d, Isa isa) {
  std::vector<float> m(size_t(c.n_q)), l(size_t(c.n_q)), acc(size_t(c.n_q * c.hd)), out(acc.size());
  attend_init(c.n_q, c.hd, m.data(), l.data(), acc.data());
  const float scale = 1.0f / std::sqrt(float(c.hd));
  attend_update(d.q.data(), c.n_q, c.hd, scale, kv_rows(d.k, d.v, c.t, d.stride), c.n, m.data(),
                l.data(), acc.data(), isa);
  attend_finish(c.n_q, c.hd, l.data(), acc.data(), out.data(), c.hd);
  return out;
}

// Exact softmax attention in double over the stored values.
std::vector<double> exact(const Case& c, const Data& d) {
  std::vector<double> out(size_t(c.n_q * c.hd), 0.0), s(size_t(c.n));
  const double scale = 1.0 / std::sqrt(double(c.hd));
  for (int64_t i = 0; i < c.n_q; ++i) {
    double mx = -INFINITY, sum = 0.0;
    for (int64_t j = 0; j < c.n; ++j) {
      double dot = 0.0;
      for (int64_t e = 0; e < c.hd; ++e) dot += double(d.q[size_t(i * c.hd + e)]) * d.k.f32[size_t(j * c.hd + e)];
      s[size_t(j)] = dot * scale;
      mx = std::max(mx, s[size_t(j)]);
    }
    for (int64_t j = 0; j < c.n; ++j) sum += std::exp(s[size_t(j)] - mx);
    for (int64_t j = 0; j < c.n; ++j) {
      const double p = std::exp(s[size_t(j)] - mx) / sum;
      for (int64_t e = 0; e < c.hd; ++e) out[size_t(i * c.hd + e)] += p * d.v.f32[size_t(j * c.hd + e)];
    }
  }
  return out;
}

std::string describe(const Case& c, Isa isa) {
  return std::string(isa_name(isa)) + " " + std::string(dtype_name(c.t)) + " n_q=" +
         std::to_string(c.n_q) + " hd=" + std::to_string(c.hd) + " n=" + std::to_string(c.n) +
         " q_scale=" + std::to_string(c.q_scale);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  uint32_t seed = 1;
  for (DType t : kKvTypes)
    for (int64_t nq : kQueries) {
      for (int64_t hd : kHeadDims)
        for (int64_t n : kSizes) out.push_back({nq, hd, n, t, 1.0f, seed++});
      // The real head dim (64) over long contexts, and peaked softmaxes.
      for (int64_t n : {int64_t(511), int64_t(2048)}) out.push_back({nq, 64, n, t, 1.0f, seed++});
      for (int64_t n : {int64_t(1), int64_t(17), int64_t(64), int64_t(511)})
        out.push_back({nq, 64, n, t, 16.0f, seed++});
    }
  return out;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float f : v) m = std::max(m, double(std::fabs(f)));
  return m;
}

TEST(AttentionKernel, ReferenceMatchesExactSoftmax) {
  for (const Case& c : cases()) {
    const Data d = make_data(c);
    const std::vector<float> got = run(c, d, Isa::kScalar);
    const std::vector<double> want = exact(c, d);
    const double tol = (c.q_scale > 1 ? kRefVsExactPeakedTol : kRefVsExactTol) * max_abs(d.v.f32);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], want[i], tol) << describe(c, Isa::kScalar) << " at " << i;
  }
}

TEST(AttentionKernel, SimdMatchesReference) {
  for (Isa isa : supported_isas()) {
    if (isa == Isa::kScalar) continue;
    for (const Case& c : cases()) {
      const Data d = make_data(c);
      const std::vector<float> got = run(c, d, isa), want = run(c, d, Isa::kScalar);
      const double tol = (c.q_scale > 1 ? kSimdVsRefPeakedTol : kSimdVsRefTol) * max_abs(d.v.f32);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], tol) << describe(c, isa) << " at " << i;
    }
  }
}

// Positions fed in pieces (as the paged cache does, one block at a time), and two halves merged
// (as threads splitting a long context do), give the one-call result.
TEST(AttentionKernel, PiecesAndMergeMatchOneCall) {
  for (Isa isa : supported_isas())
    for (DType t : kKvTypes) {
      const Case c{3, 64, 300, t, 4.0f, 77};
      const Data d = make_data(c);
      const std::vector<float> whole = run(c, d, isa);
      const float scale = 1.0f / 8.0f;
      std::vector<float> m(3), l(3), acc(3 * 64), m2(3), l2(3), acc2(3 * 64), out(3 * 64);
      attend_init(3, 64, m.data(), l.data(), acc.data());
      attend_init(3, 64, m2.data(), l2.data(), acc2.data());
      // [0, 150) in pieces of 1, 7, 16, 126 into the first state; [150, 300) in one call into the
      // second; then merged.
      int64_t at = 0;
      for (int64_t piece : {1, 7, 16, 126}) {
        attend_update(d.q.data(), 3, 64, scale, kv_rows(d.k, d.v, t, d.stride, at), piece, m.data(),
                      l.data(), acc.data(), isa);
        at += piece;
      }
      attend_update(d.q.data(), 3, 64, scale, kv_rows(d.k, d.v, t, d.stride, at), 300 - at,
                    m2.data(), l2.data(), acc2.data(), isa);
      attend_merge(3, 64, m.data(), l.data(), acc.data(), m2.data(), l2.data(), acc2.data());
      attend_finish(3, 64, l.data(), acc.data(), out.data(), 64);
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_NEAR(out[i], whole[i], kSimdVsRefPeakedTol) << isa_name(isa) << " " << dtype_name(t);
    }
}

TEST(AttentionKernel, RejectsUnsupportedKvType) {
  float q = 1, m = 0, l = 0, acc = 0;
  uint8_t kv = 0;
  EXPECT_THROW(
      attend_update(&q, 1, 1, 1.0f, KvRows{&kv, &kv, DType::kU8, 1}, 1, &m, &l, &acc, Isa::kScalar),
      std::exception);
}

}  // namespace
}  // namespace quanta::kernels
