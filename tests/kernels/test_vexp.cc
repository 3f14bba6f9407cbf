// The exp-based kernels (kernels/vexp.h) at every ISA level against the std::exp reference:
// awkward lengths, the whole range exp is finite on, and the edges (overflow, underflow, NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/isa.h"
#include "kernels/vexp.h"

namespace quanta::kernels {
namespace {

const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 1536};

std::vector<float> uniform(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = d(rng);
  return v;
}

// exp over [-87, 88] in steps of 1/1024, through exp_shift_sum with shift 0: within kExpRelTol
// of std::exp everywhere.
TEST(VExp, ExpWithinToleranceOverItsRange) {
  std::vector<float> x;
  for (int i = -87 * 1024; i <= 88 * 1024; ++i) x.push_back(float(i) / 1024.0f);
  for (Isa isa : supported_isas()) {
    if (isa == Isa::kScalar) continue;
    std::vector<float> e = x;
    exp_shift_sum(e.data(), int64_t(e.size()), 0.0f, isa);  // the sum overflows f32 here
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(double(x[i]));
      ASSERT_NEAR(e[i], want, kExpRelTol * want) << isa_name(isa) << " x=" << x[i];
    }
  }
}

TEST(VExp, Edges) {
  const std::vector<float> x = {100.0f, 89.0f, -87.5f, -1000.0f, -INFINITY, NAN, 0.0f, -0.0f};
  for (Isa isa : supported_isas()) {
    std::vector<float> e = x;
    exp_shift_sum(e.data(), int64_t(e.size()), 0.0f, isa);
    EXPECT_EQ(e[0], INFINITY) << isa_name(isa);
    EXPECT_EQ(e[1], INFINITY) << isa_name(isa);
    EXPECT_LT(e[2], 1e-37f) << isa_name(isa);  // std::exp: a subnormal; SIMD: 0
    EXPECT_EQ(e[3], 0.0f) << isa_name(isa);
    EXPECT_EQ(e[4], 0.0f) << isa_name(isa);
    EXPECT_TRUE(std::isnan(e[5])) << isa_name(isa);
    EXPECT_EQ(e[6], 1.0f) << isa_name(isa);
    EXPECT_EQ(e[7], 1.0f) << isa_name(isa);
  }
}

// Softmax use: every length, values at or below the shift; only the first n values change.
TEST(VExp, ExpShiftSumEveryLevelMatchesReference) {
  for (int64_t n : kSizes) {
    std::vector<float> x = uniform(n + 4, -30.0f, 5.0f, uint32_t(n));
    std::vector<float> want = x;
    const float want_sum = ref::exp_shift_sum(want.data(), n, 5.0f);
    for (Isa isa : supported_isas()) {
      std::vector<float> got = x;
      const float sum = exp_shift_sum(got.data(), n, 5.0f, isa);
      for (int64_t i = 0; i < n; ++i)
        ASSERT_NEAR(got[size_t(i)], want[size_t(i)], kExpRelTol * want[size_t(i)]) << isa_name(isa) << " n=" << n;
      for (int64_t i = n; i < n + 4; ++i) ASSERT_EQ(got[size_t(i)], x[size_t(i)]) << "wrote past n";
      ASSERT_NEAR(sum, want_sum, 1e-6 * want_sum + 1e-30) << isa_name(isa) << " n=" << n;
    }
  }
}

// A softmax row's max: every length, the max at each end and in the middle, NaNs skipped, empty and
// all-NaN rows -inf; the same value at every level (a max is exact).
TEST(VExp, MaxValueEveryLevelMatchesReference) {
  for (int64_t n : kSizes) {
    for (int64_t at : {int64_t(0), n / 2, n - 1}) {
      std::vector<float> x = uniform(n + 4, -30.0f, -1.0f, uint32_t(n + at));
      x[size_t(at)] = -0.5f;
      x[size_t(n)] = 100.0f;  // past n: never read
      if (n > 2) x[size_t((at + 1) % n)] = std::nanf("");
      const float want = ref::max_value(x.data(), n);
      ASSERT_EQ(want, -0.5f) << "n=" << n;
      for (Isa isa : supported_isas())
        ASSERT_EQ(max_value(x.data(), n, isa), want) << isa_name(isa) << " n=" << n << " at=" << at;
    }
  }
  const std::vector<float> nans(17, std::nanf(""));
  for (Isa isa : supported_isas()) {
    ASSERT_EQ(max_value(nans.data(), 0, isa), -INFINITY) << isa_name(isa);
    ASSERT_EQ(max_value(nans.data(), 17, isa), -INFINITY) << isa_name(isa);
  }
}

// SwiGLU: gate over [-40, 40] (both saturations), in place and out of place.
TEST(VExp, SiluMulEveryLevelMatchesReference) {
  for (int64_t n : kSizes) {
    const std::vector<float> g = uniform(n, -40.0f, 40.0f, uint32_t(7 * n)), u = uniform(n, -2.0f, 2.0f, 3);
    std::vector<float> want(static_cast<size_t>(n));
    ref::silu_mul(g.data(), u.data(), want.data(), n);
    for (Isa isa : supported_isas()) {
      std::vector<float> got(size_t(n) + 4, -7.0f), inplace = g;
      silu_mul(g.data(), u.data(), got.data(), n, isa);
      silu_mul(inplace.data(), u.data(), inplace.data(), n, isa);
      for (int64_t i = 0; i < n; ++i) {
        // exp's error reaches the result through g / (1 + e): at most kExpRelTol relative, plus
        // the two roundings of the division and the product.
        const float tol = float(kExpRelTol + 3e-7) * std::fabs(want[size_t(i)]) + 1e-37f;
        ASSERT_NEAR(got[size_t(i)], want[size_t(i)], tol) << isa_name(isa) << " n=" << n << " g=" << g[size_t(i)];
        ASSERT_EQ(inplace[size_t(i)], got[size_t(i)]) << isa_name(isa);
      }
      for (int64_t i = n; i < n + 4; ++i) ASSERT_EQ(got[size_t(i)], -7.0f) << "wrote past n";
    }
  }
}

}  // namespace
}  // namespace quanta::kernels
