// ops against plain double-precision references written out from the formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/act_quant.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "test_util.h"

namespace quanta::ops {
namespace {

// Note: f32 accumulation over <= 64-long dots and <= 40 softmax terms stays within 1e-5 relative.
constexpr double kOpsTol = 2e-5;

std::vector<float> random_vec(size_t n, uint32_t seed) { return testing_util::normal_floats(n, seed); }

// K/V (n,) f32 stored as t (I8: rows of hd codes, a scale per row into scales); returns the
// bytes and sets f to the stored values.
std::vector<uint8_t> store_as(DType t, std::vector<float>& f, int64_t hd,
                              std::vector<float>& scales) {
  std::vector<uint8_t> out(f.size() * dtype_size(t));
  if (t == DType::kI8) {
    const int64_t rows = int64_t(f.size()) / hd;
    scales.resize(size_t(rows));
    kernels::quantize_act_int8(f.data(), rows, hd, reinterpret_cast<int8_t*>(out.data()), hd,
                               scales.data());
    for (size_t i = 0; i < f.size(); ++i)
      f[i] = float(reinterpret_cast<const int8_t*>(out.data())[i]) * scales[i / size_t(hd)];
    return out;
  }
  f32_to_dtype(f.data(), t, out.data(), int64_t(f.size()));
  for (size_t i = 0; i < f.size(); ++i) {
    if (t == DType::kF16) f[i] = f16_to_f32(reinterpret_cast<const uint16_t*>(out.data())[i]);
    if (t == DType::kBF16) f[i] = bf16_to_f32(reinterpret_cast<const uint16_t*>(out.data())[i]);
  }
  return out;
}

TEST(Ops, AttentionMatchesNaiveGqa) {
  ThreadPool pool(2);
  struct Case {
    int64_t window, T, pos0;
  };
  // T = 1, 7 take the per-query (streamed) path, T = 20, 33 the blocked (matmul) path, T = 150
  // three blocks of query rows (the last partial; with a window shorter than a block, blocks see
  // different key ranges); T = 1 at pos0 = 300 splits the keys across the threads and merges.
  for (DType t_kv : {DType::kF32, DType::kF16, DType::kBF16, DType::kI8})
    for (auto [window, T, pos0] : {Case{0, 7, 9}, Case{5, 7, 9}, Case{0, 20, 9}, Case{5, 20, 9},
                                   Case{0, 33, 9}, Case{0, 150, 9}, Case{40, 150, 9},
                                   Case{0, 1, 300}, Case{40, 1, 300}}) {
    const AttentionShape s{6, 2, 16, window};
    const int64_t n = pos0 + T;
    const auto q = random_vec(size_t(T * s.n_heads * s.head_dim), 1);
    auto k = random_vec(size_t(n * s.n_heads_kv * s.head_dim), 2);
    auto v = random_vec(size_t(n * s.n_heads_kv * s.head_dim), 3);
    std::vector<float> ks, vs;
    const std::vector<uint8_t> kb = store_as(t_kv, k, s.head_dim, ks),
                               vb = store_as(t_kv, v, s.head_dim, vs);
    std::vector<float> out(size_t(T * s.n_heads * s.head_dim));
    attention(q.data(), T, pos0, KvLayer{kb.data(), vb.data(), t_kv, ks.data(), vs.data()}, s,
              out.data(), pool);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < s.n_heads; ++h) {
        const int64_t kvh = h / (s.n_heads / s.n_heads_kv), last = pos0 + t;
        const int64_t first = window ? std::max<int64_t>(0, last + 1 - window) : 0;
        std::vector<double> w;
        double mx = -1e300, sum = 0;
        for (int64_t j = first; j <= last; ++j) {
          double d = 0;
          for (int64_t i = 0; i < s.head_dim; ++i)
            d += double(q[size_t((t * s.n_heads + h) * s.head_dim + i)]) *
                 k[size_t((j * s.n_heads_kv + kvh) * s.head_dim + i)];
          w.push_back(d / std::sqrt(double(s.head_dim)));
          mx = std::max(mx, w.back());
        }
        for (auto& x : w) sum += (x = std::exp(x - mx));
        for (int64_t i = 0; i < s.head_dim; ++i) {
          double o = 0;
          for (int64_t j = first; j <= last; ++j)
            o += w[size_t(j - first)] / sum * v[size_t((j * s.n_heads_kv + kvh) * s.head_dim + i)];
          EXPECT_NEAR(out[size_t((t * s.n_heads + h) * s.head_dim + i)], o, kOpsTol * 10)
              << "t=" << t << " h=" << h << " i=" << i << " window=" << window << " T=" << T << " kv " << dtype_name(t_kv);
        }
      }
  }
}

TEST(Ops, RopeRotatesHalvesAndIsRelative) {
  const int64_t hd = 8;
  RopeParams p;
  p.theta = 100000.0f;
  const auto inv = rope_inv_freq(hd, p);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_NEAR(inv[1], 1.0 / std::pow(100000.0, 2.0 / 8.0), 1e-7);
  // <rope(q, a), rope(k, b)> depends only on a - b.
  const auto q = random_vec(hd, 4), k = random_vec(hd, 5);
  auto dot_at = [&](int64_t a, int64_t b) {
    auto qa = q, kb = k;
    rope_apply(qa.data(), 1, 1, hd, a, inv);
    rope_apply(kb.data(), 1, 1, hd, b, inv);
    double d = 0;
    for (int64_t i = 0; i < hd; ++i) d += double(qa[size_t(i)]) * kb[size_t(i)];
    return d;
  };
  EXPECT_NEAR(dot_at(10, 3), dot_at(107, 100), 1e-4);
  // Position 1 rotates pair (0, 4) by inv[0] = 1 radian.
  std::vector<float> v = {1, 0, 0, 0, 0, 0, 0, 0};
  rope_apply(v.data(), 1, 1, hd, 1, inv);
  EXPECT_NEAR(v[0], std::cos(1.0), 1e-6);
  EXPECT_NEAR(v[4], std::sin(1.0), 1e-6);
}

TEST(Ops, RopeTableRowsFollowTheirPositions) {
  // One table for rows at scattered positions (a batched step's sequences) rotates each row as
  // rope_apply at that row's position does, bit for bit; 3 heads share a row's cos/sin.
  const int64_t hd = 64, heads = 3;
  const auto inv = rope_inv_freq(hd, RopeParams{});
  const std::vector<int64_t> positions = {7, 0, 513, 514, 2};
  const int64_t T = int64_t(positions.size());
  const auto x = random_vec(T * heads * hd, 6);
  RopeTable table;
  rope_table(positions.data(), T, inv, table);
  auto got = x;
  rope_rotate(got.data(), T, heads, hd, table.cos.data(), table.sin.data());
  for (int64_t t = 0; t < T; ++t) {
    std::vector<float> want(x.begin() + t * heads * hd, x.begin() + (t + 1) * heads * hd);
    rope_apply(want.data(), 1, heads, hd, positions[size_t(t)], inv);
    for (int64_t i = 0; i < heads * hd; ++i)
      ASSERT_EQ(got[size_t(t * heads * hd + i)], want[size_t(i)]) << "row " << t << " at " << i;
  }
}

TEST(Ops, Llama3ScalingKeepsHighAndScalesLowFrequencies) {
  RopeParams p;
  p.theta = 500000.0f;
  p.kind = 1;
  p.factor = 8.0f;
  p.original_max_position = 8192;
  RopeParams plain = p;
  plain.kind = 0;
  const auto s = rope_inv_freq(128, p), u = rope_inv_freq(128, plain);
  EXPECT_FLOAT_EQ(s[0], u[0]);                 // short wavelength: unchanged
  EXPECT_FLOAT_EQ(s[63], u[63] / 8.0f);        // long wavelength: divided by factor
}

TEST(Ops, RmsNorm) {
  const std::vector<float> x = {1, 2, 3, 4}, w = {1, 1, 2, 0.5f};
  std::vector<float> y(4);
  rmsnorm(x.data(), w.data(), 1, 4, 1e-5f, y.data());
  const double r = 1.0 / std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
  EXPECT_NEAR(y[2], 2 * 3 * r, kOpsTol);
  EXPECT_NEAR(y[3], 0.5 * 4 * r, kOpsTol);
}

// Real widths and awkward ones, against a long-double sum: within an f32 rounding or two.
TEST(Ops, RmsNormMatchesLongDoubleAtAwkwardWidths) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  for (int64_t d : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 576, 1536}) {
    std::vector<float> x(static_cast<size_t>(2 * d)), w(static_cast<size_t>(d)), y(x.size());
    for (float& v : x) v = u(rng);
    for (float& v : w) v = u(rng);
    rmsnorm(x.data(), w.data(), 2, d, 1e-5f, y.data());
    for (int64_t i = 0; i < 2; ++i) {
      long double ss = 0;
      for (int64_t j = 0; j < d; ++j) ss += (long double)x[size_t(i * d + j)] * x[size_t(i * d + j)];
      const long double inv = 1.0L / std::sqrt(ss / d + 1e-5L);
      for (int64_t j = 0; j < d; ++j) {
        const long double want = (long double)w[size_t(j)] * x[size_t(i * d + j)] * inv;
        EXPECT_NEAR(double(y[size_t(i * d + j)]), double(want), 4e-7 * std::fabs(double(want)) + 1e-30)
            << "d=" << d << " i=" << i << " j=" << j;
      }
    }
  }
}

}  // namespace
}  // namespace quanta::ops
