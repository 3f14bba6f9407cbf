// The SIMD kernels at every ISA level this CPU runs, against the scalar reference (kernels/ref/),
// over awkward sizes; and the QUANTA_ISA parsing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "kernels/isa.h"
#include "kernels/matmul.h"
#include "test_util.h"

namespace quanta::kernels {
namespace {

// Error limits, relative to sum |a_i||b_i| of the dot product concerned.
// The SIMD kernels add in another order than the reference (per lane, then a tree; the
// reference goes in index order) and use FMA (one rounding per step, the reference two). Both
// accumulate in f32, so each differs from the exact sum by about sqrt(k) * 2^-24 * sum|a||b|
// for random signs (k * 2^-24 at worst); at the largest k tested, 1536, that is ~2.4e-6.
// F16/BF16 weights widen to f32 exactly, so the limit holds for every weight dtype.
constexpr double kMatmulRelTol = 1e-5;
constexpr double kDotRelTol = 1e-5;
// axpy: one FMA rounding against the reference's two (product, then sum): within two units of
// 2^-24 relative to |y| + |alpha x|, with a little margin.
constexpr double kAxpyRelTol = 2.5e-7;
// to_f32 is exact: F16 and BF16 values are all representable in f32.

const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64};
const int64_t kDepths[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 576, 1536};
const DType kWeightTypes[] = {DType::kF32, DType::kF16, DType::kBF16};
constexpr int64_t kN = 77;  // rows of W: odd, not a multiple of any block size
struct Range {
  int64_t n0, n1;
};
const Range kRanges[] = {{0, kN}, {5, 40}, {13, 14}, {0, 12}, {24, kN}, {1, 33}};

using testing_util::random_floats;

// Weights stored in dtype t (bytes) and the same values widened to f32.
struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<float> f32;
};
Weights random_weights(DType t, int64_t n, uint32_t seed) {
  Weights w;
  w.f32 = random_floats(n, seed);
  w.bytes.resize(size_t(n) * dtype_size(t));
  for (int64_t i = 0; i < n; ++i) {
    if (t == DType::kF32) {
      std::memcpy(&w.bytes[size_t(i) * 4], &w.f32[size_t(i)], 4);
      continue;
    }
    const uint16_t h = t == DType::kF16 ? f32_to_f16(w.f32[size_t(i)]) : f32_to_bf16(w.f32[size_t(i)]);
    w.f32[size_t(i)] = t == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
    std::memcpy(&w.bytes[size_t(i) * 2], &h, 2);
  }
  return w;
}

std::string describe(Isa isa, DType t, int64_t m, int64_t k, Range r) {
  return std::string(isa_name(isa)) + " " + std::string(dtype_name(t)) + " m=" + std::to_string(m) +
         " k=" + std::to_string(k) + " n=[" + std::to_string(r.n0) + "," + std::to_string(r.n1) + ")";
}

// Reference Y (m, kN) over all rows of W, and the error limit of each element.
struct Expected {
  std::vector<float> y;
  std::vector<double> limit;
};
Expected expected_matmul(DType t, int64_t m, int64_t k, const std::vector<float>& x,
                         const Weights& w) {
  Expected e{std::vector<float>(size_t(m * kN)), std::vector<double>(size_t(m * kN))};
  ref::matmul(x.data(), m, k, w.bytes.data(), t, 0, kN, e.y.data(), kN);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < kN; ++j) {
      double abs_sum = 0;
      for (int64_t kk = 0; kk < k; ++kk)
        abs_sum += std::fabs(double(x[size_t(i * k + kk)]) * w.f32[size_t(j * k + kk)]);
      e.limit[size_t(i * kN + j)] = kMatmulRelTol * abs_sum;
    }
  }
  return e;
}

// Runs matmul at `isa` over every range and compares with the reference; Y has row stride
// kN + 3 and must keep its NaN fill outside [n0, n1).
void check_matmul(Isa isa, DType t, int64_t m, int64_t k, const std::vector<float>& x,
                  const Weights& w, const Expected& want) {
  const int64_t ldy = kN + 3;
  for (Range r : kRanges) {
    SCOPED_TRACE(describe(isa, t, m, k, r));
    std::vector<float> y(size_t(m * ldy), std::numeric_limits<float>::quiet_NaN());
    matmul(x.data(), m, k, w.bytes.data(), t, r.n0, r.n1, y.data(), ldy, isa);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < ldy; ++j) {
        const float got = y[size_t(i * ldy + j)];
        if (j < r.n0 || j >= r.n1) {
          ASSERT_TRUE(std::isnan(got)) << "wrote outside the range at row " << i << " col " << j;
          continue;
        }
        ASSERT_LE(std::fabs(double(got) - want.y[size_t(i * kN + j)]),
                  want.limit[size_t(i * kN + j)])
            << "row " << i << " col " << j;
      }
    }
  }
}

TEST(Matmul, MatchesReferenceAtEveryIsa) {
  for (DType t : kWeightTypes) {
    for (int64_t k : kDepths) {
      const Weights w = random_weights(t, kN * k, uint32_t(k) * 7 + 1);
      for (int64_t m : kSizes) {
        const std::vector<float> x = random_floats(m * k, uint32_t(m * 1000 + k));
        const Expected want = expected_matmul(t, m, k, x, w);
        for (Isa isa : supported_isas()) check_matmul(isa, t, m, k, x, w, want);
      }
    }
  }
}

// Prefill-sized shapes: several passes of packed X in the packed path.
TEST(Matmul, LargeShapesMatchReference) {
  struct Shape {
    int64_t m, k;
  };
  for (Shape s : {Shape{100, 576}, Shape{200, 1536}}) {
    for (DType t : kWeightTypes) {
      const Weights w = random_weights(t, kN * s.k, 5);
      const std::vector<float> x = random_floats(s.m * s.k, 6);
      const Expected want = expected_matmul(t, s.m, s.k, x, w);
      for (Isa isa : supported_isas()) check_matmul(isa, t, s.m, s.k, x, w, want);
    }
  }
}

TEST(Matmul, RejectsUnsupportedWeightType) {
  const float x[4] = {};
  const int8_t w[4] = {};
  float y[1];
  EXPECT_THROW(matmul(x, 1, 4, w, DType::kI8, 0, 1, y, 1, Isa::kScalar), Error);
}

// X W with W row-major: awkward m, k, n (column tiles of 16 / 32 / 48 / 64 and masked tails),
// row strides wider than the rows.
TEST(MatmulNn, MatchesReferenceAtEveryIsa) {
  for (int64_t k : {int64_t(1), int64_t(7), int64_t(33), int64_t(160)})
    for (int64_t n : {int64_t(1), int64_t(9), int64_t(16), int64_t(40), int64_t(64), int64_t(100)})
      for (int64_t m : {int64_t(1), int64_t(3), int64_t(4), int64_t(7), int64_t(9), int64_t(14)}) {
        const int64_t ldx = k + 3, ldw = n + 5, ldy = n + 2;
        const std::vector<float> x = random_floats(m * ldx, uint32_t(k * 31 + m)),
                                 w = random_floats(k * ldw, uint32_t(n * 17 + k));
        std::vector<float> want(size_t(m * ldy), -7.0f);
        ref::matmul_nn(x.data(), m, k, ldx, w.data(), n, ldw, want.data(), ldy);
        for (Isa isa : supported_isas()) {
          std::vector<float> y(size_t(m * ldy), -7.0f);
          matmul_nn(x.data(), m, k, ldx, w.data(), n, ldw, y.data(), ldy, isa);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < ldy; ++j) {
              const size_t o = size_t(i * ldy + j);
              if (j >= n) {
                ASSERT_EQ(y[o], -7.0f) << "wrote past n";
                continue;
              }
              double abs_sum = 0;
              for (int64_t c = 0; c < k; ++c) abs_sum += std::fabs(double(x[size_t(i * ldx + c)]) * w[size_t(c * ldw + j)]);
              ASSERT_NEAR(y[o], want[o], kMatmulRelTol * abs_sum + 1e-30)
                  << isa_name(isa) << " m=" << m << " k=" << k << " n=" << n << " i=" << i << " j=" << j;
            }
        }
      }
}

TEST(Dot, MatchesReferenceAtEveryIsa) {
  for (int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 576, 1536}) {
    const std::vector<float> a = random_floats(n, 1), b = random_floats(n, 2);
    const float want = ref::dot(a.data(), b.data(), n);
    double abs_sum = 0;
    for (int64_t i = 0; i < n; ++i) abs_sum += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
    for (Isa isa : supported_isas()) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n=" + std::to_string(n));
      EXPECT_LE(std::fabs(double(dot(a.data(), b.data(), n, isa)) - want), kDotRelTol * abs_sum);
    }
  }
}

TEST(Axpy, MatchesReferenceAtEveryIsa) {
  const float alpha = -0.37f;
  for (int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 576}) {
    const std::vector<float> x = random_floats(n + 1, 3), y0 = random_floats(n + 1, 4);
    std::vector<float> want = y0;
    ref::axpy(alpha, x.data(), want.data(), n);
    for (Isa isa : supported_isas()) {
      SCOPED_TRACE(std::string(isa_name(isa)) + " n=" + std::to_string(n));
      std::vector<float> y = y0;
      axpy(alpha, x.data(), y.data(), n, isa);
      for (int64_t i = 0; i < n; ++i) {
        const double bound =
            kAxpyRelTol * (std::fabs(y0[size_t(i)]) + std::fabs(double(alpha) * x[size_t(i)]));
        ASSERT_LE(std::fabs(double(y[size_t(i)]) - want[size_t(i)]), bound) << "i=" << i;
      }
      EXPECT_EQ(y[size_t(n)], y0[size_t(n)]) << "wrote past the end";
    }
  }
}

TEST(ToF32, ExactAtEveryIsa) {
  // Every 16-bit pattern (normals, subnormals, zeros, infinities, NaNs), then awkward lengths.
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = uint16_t(i);
  const std::vector<float> f = random_floats(1536, 9);
  for (DType t : kWeightTypes) {
    const void* src = t == DType::kF32 ? static_cast<const void*>(f.data()) : all.data();
    const int64_t total = t == DType::kF32 ? int64_t(f.size()) : int64_t(all.size());
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(15), int64_t(17), int64_t(33), total}) {
      std::vector<float> want(size_t(n) + 1, 42.0f);
      ref::to_f32(src, t, want.data(), n);
      for (Isa isa : supported_isas()) {
        SCOPED_TRACE(std::string(isa_name(isa)) + " " + std::string(dtype_name(t)) +
                     " n=" + std::to_string(n));
        std::vector<float> got(size_t(n) + 1, 42.0f);
        to_f32(src, t, got.data(), n, isa);
        for (int64_t i = 0; i <= n; ++i) {
          const float g = got[size_t(i)], e = want[size_t(i)];
          if (std::isnan(e)) {
            ASSERT_TRUE(std::isnan(g)) << "i=" << i;
          } else {
            ASSERT_EQ(std::memcmp(&g, &e, 4), 0) << "i=" << i << " got " << g << " want " << e;
          }
        }
      }
    }
  }
}

TEST(Isa, ParsesLevelNames) {
  EXPECT_EQ(parse_isa("scalar"), Isa::kScalar);
  EXPECT_EQ(parse_isa("avx2"), Isa::kAvx2);
  EXPECT_EQ(parse_isa("avx512"), Isa::kAvx512);
  EXPECT_EQ(parse_isa("amx"), Isa::kAmx);
  for (const char* bad : {"", "sse", "AVX2", "avx-512", "avx512 ", "neon", "AMX", "amx-int8"})
    EXPECT_THROW(parse_isa(bad), Error) << "'" << bad << "'";
}

TEST(Isa, OverrideMayOnlyLower) {
  EXPECT_EQ(resolve_isa(nullptr, Isa::kAvx2), Isa::kAvx2);
  EXPECT_EQ(resolve_isa("", Isa::kAvx512), Isa::kAvx512);
  EXPECT_EQ(resolve_isa("scalar", Isa::kAvx512), Isa::kScalar);
  EXPECT_EQ(resolve_isa("avx2", Isa::kAvx2), Isa::kAvx2);
  EXPECT_THROW(resolve_isa("avx512", Isa::kAvx2), Error);
  EXPECT_EQ(resolve_isa("avx512", Isa::kAmx), Isa::kAvx512);
  EXPECT_THROW(resolve_isa("amx", Isa::kAvx512), Error);
  EXPECT_THROW(resolve_isa("avx2", Isa::kScalar), Error);
  EXPECT_THROW(resolve_isa("bogus", Isa::kAvx512), Error);
}

TEST(Isa, SupportedLevelsRunFromScalarToDetected) {
  const std::vector<Isa> isas = supported_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::kScalar);
  EXPECT_EQ(isas.back(), detected_isa());
}

}  // namespace
}  // namespace quanta::kernels
