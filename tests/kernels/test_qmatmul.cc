// The compressed-weight kernels (kernels/qmatmul.h) at every ISA level this CPU runs, against
// the scalar reference, over awkward sizes and the real layer shapes; and the scalar reference
// against plain double arithmetic on the dequantized weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/isa.h"
#include "kernels/qmatmul.h"
#include "quant/packed_weight.h"
#include "quant/rtn.h"
#include "test_util.h"

namespace quanta::kernels {
namespace {

// Error limit, relative to sum_c |x_c| (|w_jc| + 2 |zero_g * scale_g|) for output j. The kernels
// sum x * code per group in f32 in another order than the reference and apply scale (and the
// int4 zero point, as zero * scale * sum(x)) once per group, so each result is within about
// sqrt(k) * 2^-24 of that bound for random signs (k * 2^-24 at worst); at k = 1536 that is
// ~2.4e-6 typical. The prefill path decodes W exactly and runs the f32 GEMM (limit 1e-5 there).
constexpr double kQRelTol = 1e-5;
// W8A8 sums int8 products exactly in int32 and every level scales in the same order: equal.

const int64_t kSizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64};
const int64_t kTokens[] = {1, 2, 3, 7, 16, 17, 23, 40};  // 23 = 8 + 8 + 4 + 2 + 1 (prefill tiles)
constexpr int64_t kN = 37;  // rows of W: odd, not a multiple of any block
struct Range {
  int64_t n0, n1;
};
const Range kRanges[] = {{0, kN}, {5, 21}, {13, 14}, {16, 32}};

// For each of kRanges: run(r, y) on y (m, kN) filled with -7; the rows in [r.n0, r.n1) must have
// want's bits and the others keep -7. what: the case, for the failure message.
template <typename Run>
void expect_ranges_equal(int64_t m, const std::vector<float>& want, const Run& run,
                         const std::string& what) {
  for (Range r : kRanges) {
    std::vector<float> y(size_t(m * kN), -7.0f);
    run(r, y.data());
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < kN; ++j) {
        const float e = (j < r.n0 || j >= r.n1) ? -7.0f : want[size_t(i * kN + j)];
        ASSERT_EQ(y[size_t(i * kN + j)], e)
            << what << " rows " << r.n0 << ".." << r.n1 << " i=" << i << " j=" << j;
      }
  }
}

struct Case {
  const char* name;
  QuantType type;
  int bits;
  bool sym;
  int64_t group;  // 0: per channel
};
const Case kCases[] = {
    {"int4_sym_g32", QuantType::kInt, 4, true, 32},   {"int4_asym_g64", QuantType::kInt, 4, false, 64},
    {"int4_sym_chan", QuantType::kInt, 4, true, 0},   {"int4_asym_chan", QuantType::kInt, 4, false, 0},
    {"int8_chan", QuantType::kInt, 8, true, 0},       {"int8_g32", QuantType::kInt, 8, true, 32},
    {"fp8_chan", QuantType::kFloat, 8, true, 0},      {"fp8_g16", QuantType::kFloat, 8, true, 16},
};

using testing_util::random_floats;

QuantizedWeight quantized(const Case& c, int64_t n, int64_t k, uint32_t seed) {
  QuantArgs a;
  a.type = c.type;
  a.num_bits = c.bits;
  a.symmetric = c.sym;
  a.group_size = c.group;
  // Asymmetric: shifted ranges, so zero points differ from the middle code.
  const std::vector<float> w = random_floats(n * k, seed, c.sym ? -1.0f : -0.3f, 1.0f);
  return quantize_rtn(w.data(), n, k, a);
}

struct Expected {
  std::vector<float> y;
  std::vector<double> limit;
};

// Reference results (ref::qgemv) and limits for x (m, k) against w.
Expected expected(const std::vector<float>& x, int64_t m, const MatrixView& w) {
  const int64_t k = w.cols;
  Expected e;
  e.y.assign(size_t(m * kN), 0.0f);
  e.limit.assign(size_t(m * kN), 0.0);
  ref::qgemv(x.data(), m, w, 0, kN, e.y.data(), kN);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < kN; ++j) {
      double bound = 0, exact = 0;
      for (int64_t c = 0; c < k; ++c) {
        const int64_t g = c / w.group_cols();
        const double zs = double(ref::zero_at(w, j, g)) * ref::scale_at(w, j, g);
        const double wv = ref::weight_at(w, j, c);
        bound += std::fabs(x[size_t(i * k + c)]) * (std::fabs(wv) + 2 * std::fabs(zs));
        exact += double(x[size_t(i * k + c)]) * wv;
      }
      e.limit[size_t(i * kN + j)] = kQRelTol * bound + 1e-30;
      // The reference itself is an f32 sum in index order: within the same kind of limit.
      EXPECT_NEAR(e.y[size_t(i * kN + j)], exact, kQRelTol * bound + 1e-30) << "ref row " << j;
    }
  }
  return e;
}

bool runs_i16(const MatrixView& w) {
  return w.format == WeightFormat::kInt4x16 || w.format == WeightFormat::kInt8x16;
}

// The f32-activation kernels (kInt8 with groups of 16, kFp8).
TEST(QMatmul, EveryLevelMatchesReference) {
  for (const Case& c : kCases) {
    for (int64_t k : kSizes) {
      if (c.group > 0 && k % c.group != 0) continue;
      const QuantizedWeight q = quantized(c, kN, k, uint32_t(k));
      const auto p = pack_weight(q, ActQuant::kNone);
      ASSERT_TRUE(p.has_value()) << c.name;
      if (runs_i16(p->view)) continue;  // QMatmulI16 below
      for (int64_t m : kTokens) {
        const std::vector<float> x = random_floats(m * k, uint32_t(100 + m + k));
        const Expected e = expected(x, m, p->view);
        for (Isa isa : supported_isas()) {
          for (Range r : kRanges) {
            std::vector<float> y(size_t(m * kN), -7.0f);
            qmatmul(x.data(), m, p->view, r.n0, r.n1, y.data(), kN, isa);
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < kN; ++j) {
                const size_t o = size_t(i * kN + j);
                if (j < r.n0 || j >= r.n1) {
                  ASSERT_EQ(y[o], -7.0f) << "wrote outside [n0, n1)";
                  continue;
                }
                ASSERT_NEAR(y[o], e.y[o], e.limit[o])
                    << c.name << " " << isa_name(isa) << " m=" << m << " k=" << k << " i=" << i << " j=" << j;
              }
          }
        }
      }
    }
  }
}

// The decoded weights are exactly compressed-tensors' dequantization, at every level.
TEST(QMatmul, DequantizeRowsIsExact) {
  for (const Case& c : kCases) {
    for (int64_t k : {int64_t(64), int64_t(33), int64_t(576)}) {
      if (c.group > 0 && k % c.group != 0) continue;
      const QuantizedWeight q = quantized(c, kN, k, 5);
      std::vector<float> want(size_t(kN * k));
      q.dequantize(want.data());
      const auto p = pack_weight(q, ActQuant::kNone);
      ASSERT_TRUE(p.has_value());
      for (Isa isa : supported_isas()) {
        std::vector<float> got(size_t(kN * k));
        dequantize_rows(p->view, 0, kN, got.data(), isa);
        ASSERT_EQ(got, want) << c.name << " " << isa_name(isa) << " k=" << k;
      }
    }
  }
}

// Real SmolLM2-135M shapes (W (n, k)) at decode and prefill sizes.
TEST(QMatmul, LayerShapes) {
  const struct { int64_t n, k; } shapes[] = {{576, 576}, {192, 576}, {1536, 576}, {576, 1536}};
  for (const Case& c : {kCases[1], kCases[4], kCases[6]}) {
    for (auto s : shapes) {
      const QuantizedWeight q = quantized(c, s.n, s.k, 3);
      const auto p = pack_weight(q, ActQuant::kNone);
      if (runs_i16(p->view)) continue;  // QMatmulI16.LayerShapes
      for (int64_t m : {int64_t(1), int64_t(20)}) {
        const std::vector<float> x = random_floats(m * s.k, 9);
        std::vector<float> want(size_t(m * s.n));
        ref::qgemv(x.data(), m, p->view, 0, s.n, want.data(), s.n);
        double xabs = 0;
        for (float v : x) xabs += std::fabs(v);
        for (Isa isa : supported_isas()) {
          std::vector<float> y(size_t(m * s.n));
          qmatmul(x.data(), m, p->view, 0, s.n, y.data(), s.n, isa);
          for (size_t o = 0; o < y.size(); ++o) {
            // Bound: sum|x| * (max |w| + 2 |zero * scale|) <= sum|x| * 3 (|w| < 1, codes in range).
            ASSERT_NEAR(y[o], want[o], kQRelTol * 3.0 * xabs / double(m))
                << c.name << " " << isa_name(isa) << " " << s.n << "x" << s.k << " m=" << m;
          }
        }
      }
    }
  }
}

// ---- int4 / int8 weights against int16 activations (qmatmul_i16). ----

const Case kI16Cases[] = {
    {"int4_sym_g32", QuantType::kInt, 4, true, 32},   {"int4_asym_g64", QuantType::kInt, 4, false, 64},
    {"int4_sym_chan", QuantType::kInt, 4, true, 0},   {"int4_asym_chan", QuantType::kInt, 4, false, 0},
    {"int4_sym_g128", QuantType::kInt, 4, true, 128}, {"int8_chan", QuantType::kInt, 8, true, 0},
    {"int8_g32", QuantType::kInt, 8, true, 32},       {"int8_g64", QuantType::kInt, 8, true, 64},
};

struct I16Input {
  std::vector<int16_t> q;
  std::vector<float> s, z;
};
I16Input quantize_i16(const std::vector<float>& x, int64_t m, int64_t k) {
  const int64_t kp = i16_row_stride(k);
  I16Input in{std::vector<int16_t>(size_t(m * kp), 1), std::vector<float>(size_t(m * kp / 32)),
              std::vector<float>(size_t(m * kp / 32))};
  quantize_act_i16(x.data(), m, k, in.q.data(), kp, in.s.data(), in.z.data());
  return in;
}

// The activation codes: every block's largest |x| maps to +-32767, codes round x / scale to
// nearest, padding is 0, and xz is scale * sum(codes).
TEST(QMatmulI16, ActivationCodes) {
  for (int64_t k : {int64_t(1), int64_t(31), int64_t(32), int64_t(33), int64_t(100)}) {
    std::vector<float> x = random_floats(3 * k, uint32_t(k), -3.0f, 3.0f);
    x[0] = std::nanf("");  // counts as 0
    if (k >= 32) std::fill(x.begin() + k, x.begin() + k + 32, 0.0f);  // an all-zero block
    const int64_t kp = i16_row_stride(k), nb = kp / 32;
    const I16Input in = quantize_i16(x, 3, k);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t b = 0; b < nb; ++b) {
        float absmax = 0.0f;
        int64_t sum = 0;
        for (int64_t c = b * 32; c < std::min(k, b * 32 + 32); ++c)
          if (!std::isnan(x[size_t(i * k + c)])) absmax = std::max(absmax, std::fabs(x[size_t(i * k + c)]));
        const float s = in.s[size_t(i * nb + b)];
        ASSERT_EQ(s, absmax / 32767.0f);
        for (int64_t c = b * 32; c < b * 32 + 32; ++c) {
          const int16_t code = in.q[size_t(i * kp + c)];
          sum += code;
          const float v = c < k ? x[size_t(i * k + c)] : 0.0f;
          if (c >= k || s == 0.0f || std::isnan(v)) {
            ASSERT_EQ(code, 0);
          } else {
            ASSERT_LE(std::fabs(double(code) * s - v), 0.5 * s * (1 + 1e-6)) << "k=" << k << " c=" << c;
          }
        }
        ASSERT_EQ(in.z[size_t(i * nb + b)], s * float(sum));
      }
  }
}

// Every level gives the reference's bits; the reference is within the int16 rounding of x (at
// most half a step, scale / 2, per value) plus f32 rounding of exact double arithmetic. Both
// scale layouts: f16 (RTN's bf16 scales are exact f16 values) and f32 (one scale made inexact).
TEST(QMatmulI16, EveryLevelEqualsReference) {
  const int64_t sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 128, 576};
  for (const bool f32_scales : {false, true})
  for (const Case& c : kI16Cases) {
    for (int64_t k : sizes) {
      if (c.group > 0 && k % c.group != 0) continue;
      QuantizedWeight q = quantized(c, kN, k, uint32_t(k));
      if (f32_scales) q.scales[3] *= 1.0f + 0x1p-20f;  // no f16 holds it
      const auto p = pack_weight(q, ActQuant::kNone);
      ASSERT_TRUE(p.has_value()) << c.name;
      const MatrixView& w = p->view;
      ASSERT_TRUE(runs_i16(w)) << c.name;
      ASSERT_EQ(w.scales_f16 == nullptr, f32_scales) << c.name;
      ASSERT_EQ(w.scales == nullptr, !f32_scales) << c.name;
      const int64_t kp = i16_row_stride(k), nb = kp / 32;
      for (int64_t m : kTokens) {
        const std::vector<float> x = random_floats(m * k, uint32_t(100 + m + k));
        const I16Input in = quantize_i16(x, m, k);
        std::vector<float> want(size_t(m * kN));
        ref::qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, w, 0, kN, want.data(), kN);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < kN; ++j) {
            double exact = 0, bound = 0, xerr = 0;
            for (int64_t cc = 0; cc < k; ++cc) {
              const int64_t g = cc / w.group_cols();
              const double wv = ref::weight_at(w, j, cc);
              const double zs = double(ref::zero_at(w, j, g)) * ref::scale_at(w, j, g);
              exact += double(x[size_t(i * k + cc)]) * wv;
              bound += std::fabs(x[size_t(i * k + cc)]) * (std::fabs(wv) + 2 * std::fabs(zs));
              xerr += 0.5 * in.s[size_t(i * nb + cc / 32)] * (std::fabs(wv) + 2 * std::fabs(zs));
            }
            ASSERT_NEAR(want[size_t(i * kN + j)], exact, xerr + kQRelTol * bound + 1e-30)
                << c.name << " m=" << m << " k=" << k << " j=" << j;
          }
        for (Isa isa : supported_isas()) {
          ASSERT_NO_FATAL_FAILURE(expect_ranges_equal(
              m, want,
              [&](Range r, float* y) {
                qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, w, r.n0, r.n1, y, kN, isa);
              },
              std::string(c.name) + " " + std::string(isa_name(isa)) + " m=" + std::to_string(m) +
                  " k=" + std::to_string(k)));
          // The f32 entry point quantizes x itself: the same bits.
          std::vector<float> y(size_t(m * kN));
          qmatmul(x.data(), m, w, 0, kN, y.data(), kN, isa);
          ASSERT_EQ(y, want) << c.name << " " << isa_name(isa) << " qmatmul m=" << m << " k=" << k;
        }
      }
    }
  }
}

// The AMX tile kernel directly at token counts the dispatcher gives the VNNI code (below
// kAmxI16MinRows), and around its 16-token tiles: the reference's bits.
TEST(QMatmulI16, AmxKernelAtTileEdges) {
  if (detected_isa() < Isa::kAmx) GTEST_SKIP() << "no AMX";
  for (const Case& c : kI16Cases) {
    for (int64_t k : {int64_t(32), int64_t(64), int64_t(100), int64_t(576)}) {
      if (c.group > 0 && k % c.group != 0) continue;
      const QuantizedWeight q = quantized(c, kN, k, uint32_t(k + 3));
      const auto p = pack_weight(q, ActQuant::kNone);
      for (int64_t m : {int64_t(1), int64_t(2), int64_t(15), int64_t(16), int64_t(31), int64_t(33)}) {
        const I16Input in = quantize_i16(random_floats(m * k, uint32_t(m + 5 * k)), m, k);
        std::vector<float> want(size_t(m * kN));
        ref::qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, p->view, 0, kN, want.data(), kN);
        ASSERT_NO_FATAL_FAILURE(expect_ranges_equal(
            m, want,
            [&](Range r, float* y) {
              amx::qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, p->view, r.n0, r.n1, y, kN);
            },
            std::string(c.name) + " m=" + std::to_string(m) + " k=" + std::to_string(k)));
      }
    }
  }
}

// The AVX2 kernel also serves AVX-512 CPUs without VNNI: test it directly there too.
TEST(QMatmulI16, Avx2KernelOnAvx512Cpu) {
  if (detected_isa() < Isa::kAvx2) GTEST_SKIP();
  for (const bool f32_scales : {false, true})
  for (const Case& c : kI16Cases) {
    const int64_t k = 128, m = 5;
    if (k % std::max<int64_t>(c.group, 1) != 0) continue;
    QuantizedWeight q = quantized(c, kN, k, 2);
    if (f32_scales) q.scales[3] *= 1.0f + 0x1p-20f;
    const auto p = pack_weight(q, ActQuant::kNone);
    const I16Input in = quantize_i16(random_floats(m * k, 8), m, k);
    std::vector<float> want(size_t(m * kN)), got(size_t(m * kN));
    ref::qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, p->view, 0, kN, want.data(), kN);
    avx2::qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, p->view, 0, kN, got.data(), kN);
    EXPECT_EQ(got, want) << c.name;
  }
}

// input_unchanged: a thread's later calls on the same codes (a Linear's pieces, a fused Linear's
// parts) give the reference's bits, and a call without it sees codes rewritten in place.
TEST(QMatmulI16, InputUnchangedReusesOnlyTheSameCodes) {
  const int64_t k = 576, n0 = 0, n1 = 16;
  for (const Case& c : {kI16Cases[0], kI16Cases[1], kI16Cases[5]}) {
    const auto p1 = pack_weight(quantized(c, kN, k, 4), ActQuant::kNone);
    const auto p2 = pack_weight(quantized(c, kN, k, 5), ActQuant::kNone);
    for (Isa isa : supported_isas()) {
      I16Input in = quantize_i16(random_floats(k, 10), 1, k);
      auto ref_of = [&](const MatrixView& w, int64_t r0, int64_t r1) {
        std::vector<float> y(static_cast<size_t>(kN));
        ref::qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), 1, w, r0, r1, y.data(), kN);
        return y;
      };
      auto run = [&](const MatrixView& w, int64_t r0, int64_t r1, bool unchanged) {
        std::vector<float> y(static_cast<size_t>(kN));
        qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), 1, w, r0, r1, y.data(), kN, isa,
                    unchanged);
        return y;
      };
      ASSERT_EQ(run(p1->view, n0, n1, false), ref_of(p1->view, n0, n1)) << c.name;
      ASSERT_EQ(run(p1->view, n1, kN, true), ref_of(p1->view, n1, kN)) << c.name << " next piece";
      ASSERT_EQ(run(p2->view, n0, kN, true), ref_of(p2->view, n0, kN)) << c.name << " next part";
      // New codes in the same buffer (the next Linear's input): the caller says so.
      const I16Input other = quantize_i16(random_floats(k, 11), 1, k);
      std::copy(other.q.begin(), other.q.end(), in.q.begin());
      std::copy(other.s.begin(), other.s.end(), in.s.begin());
      std::copy(other.z.begin(), other.z.end(), in.z.begin());
      ASSERT_EQ(run(p1->view, n0, kN, false), ref_of(p1->view, n0, kN)) << c.name << " new codes";
    }
  }
}

// Real SmolLM2-135M shapes at decode, batched-decode and prefill token counts.
TEST(QMatmulI16, LayerShapes) {
  const struct { int64_t n, k; } shapes[] = {{576, 576}, {192, 576}, {1536, 576}, {576, 1536}};
  for (const Case& c : {kI16Cases[0], kI16Cases[1], kI16Cases[5]}) {
    for (auto s : shapes) {
      const QuantizedWeight q = quantized(c, s.n, s.k, 3);
      const auto p = pack_weight(q, ActQuant::kNone);
      for (int64_t m : {int64_t(1), int64_t(2), int64_t(9), int64_t(20)}) {
        const I16Input in = quantize_i16(random_floats(m * s.k, 9), m, s.k);
        std::vector<float> want(size_t(m * s.n));
        ref::qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, p->view, 0, s.n, want.data(), s.n);
        for (Isa isa : supported_isas()) {
          std::vector<float> y(size_t(m * s.n));
          qmatmul_i16(in.q.data(), in.s.data(), in.z.data(), m, p->view, 0, s.n, y.data(), s.n, isa);
          ASSERT_EQ(y, want) << c.name << " " << isa_name(isa) << " " << s.n << "x" << s.k << " m=" << m;
        }
      }
    }
  }
}

// m rows of k int8 codes, uniform over [-128, 127], in rows of ldq (the padding 0).
std::vector<int8_t> random_codes(int64_t m, int64_t k, int64_t ldq, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int8_t> xq(size_t(m * ldq), 0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < k; ++c) xq[size_t(i * ldq + c)] = int8_t(int(rng() % 256) - 128);
  return xq;
}

TEST(QMatmulA8, EveryLevelEqualsReference) {
  Case c{"int8_chan", QuantType::kInt, 8, true, 0};
  for (int64_t k : {int64_t(1), int64_t(3), int64_t(7), int64_t(8), int64_t(9), int64_t(17),
                    int64_t(33), int64_t(64), int64_t(576), int64_t(1536)}) {
    const QuantizedWeight q = quantized(c, kN, k, uint32_t(k));
    const auto p = pack_weight(q, ActQuant::kInt8PerToken);
    ASSERT_TRUE(p.has_value());
    ASSERT_EQ(p->view.format, WeightFormat::kInt8Vnni);
    const int64_t ldq = a8_row_stride(k);
    for (int64_t m : {int64_t(1), int64_t(2), int64_t(3), int64_t(9), int64_t(17), int64_t(40), int64_t(71), int64_t(150)}) {
      // Codes over the full range, -128 and 127 included.
      const std::vector<int8_t> xq = random_codes(m, k, ldq, uint32_t(m * 1000 + k));
      const std::vector<float> sx = random_floats(m, 4, 0.001f, 0.1f);
      std::vector<float> want(size_t(m * kN));
      ref::qmatmul_a8(xq.data(), sx.data(), m, ldq, p->view, 0, kN, want.data(), kN);
      // The reference against exact integer sums.
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < kN; ++j) {
          int64_t dot = 0;
          for (int64_t cc = 0; cc < k; ++cc)
            dot += int64_t(xq[size_t(i * ldq + cc)]) * q.codes[size_t(j * k + cc)];
          ASSERT_EQ(want[size_t(i * kN + j)], float(dot) * sx[size_t(i)] * q.scales[size_t(j)]);
        }
      for (Isa isa : supported_isas()) {
        ASSERT_NO_FATAL_FAILURE(expect_ranges_equal(
            m, want,
            [&](Range r, float* y) {
              qmatmul_a8(xq.data(), sx.data(), m, ldq, p->view, r.n0, r.n1, y, kN, isa);
            },
            std::string(isa_name(isa)) + " vnni=" + std::to_string(has_avx512_vnni()) +
                " m=" + std::to_string(m) + " k=" + std::to_string(k)));
      }
    }
  }
}

// The AVX2 W8A8 kernel also serves AVX-512 CPUs without VNNI: test it directly there too.
TEST(QMatmulA8, Avx2KernelOnAvx512Cpu) {
  if (detected_isa() < Isa::kAvx2) GTEST_SKIP();
  Case c{"int8_chan", QuantType::kInt, 8, true, 0};
  const int64_t k = 100, m = 5, ldq = a8_row_stride(k);
  const QuantizedWeight q = quantized(c, kN, k, 1);
  const auto p = pack_weight(q, ActQuant::kInt8PerToken);
  std::vector<int8_t> xq(size_t(m * ldq), 0);
  for (size_t i = 0; i < xq.size(); ++i) xq[i] = int8_t((i * 37) % 256 - 128);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t cc = k; cc < ldq; ++cc) xq[size_t(i * ldq + cc)] = 0;
  const std::vector<float> sx = random_floats(m, 4, 0.001f, 0.1f);
  std::vector<float> want(size_t(m * kN)), got(size_t(m * kN));
  ref::qmatmul_a8(xq.data(), sx.data(), m, ldq, p->view, 0, kN, want.data(), kN);
  avx2::qmatmul_a8(xq.data(), sx.data(), m, ldq, p->view, 0, kN, got.data(), kN);
  EXPECT_EQ(got, want);
}

// FP8_DYNAMIC: fake-quantized activations (E4M3 values times a bf16 token scale) against E4M3
// weights, at every level (AMX: the BF16 tile kernel from kAmxFp8MinRows tokens) and the AMX
// kernel directly at small token counts; within the f32 limit of the reference.
TEST(QMatmulFp8Dynamic, EveryLevelMatchesReference) {
  const Case c{"fp8_chan", QuantType::kFloat, 8, true, 0};
  for (int64_t k : {int64_t(1), int64_t(7), int64_t(16), int64_t(31), int64_t(32), int64_t(33), int64_t(64), int64_t(100), int64_t(576)}) {
    const QuantizedWeight q = quantized(c, kN, k, uint32_t(k + 11));
    const auto p = pack_weight(q, ActQuant::kFp8PerToken);
    ASSERT_TRUE(p.has_value());
    ASSERT_EQ(p->view.format, WeightFormat::kFp8);
    for (int64_t m : {int64_t(1), int64_t(15), int64_t(16), int64_t(17), int64_t(33), int64_t(64)}) {
      // Token rows of different magnitudes (scales), one all zero.
      std::vector<float> x = random_floats(m * k, uint32_t(7 * m + k), -1.0f, 1.0f);
      for (int64_t i = 0; i < m; ++i)
        for (int64_t cc = 0; cc < k; ++cc) x[size_t(i * k + cc)] *= i == 3 ? 0.0f : float(1 + i % 5) * 0.37f;
      std::vector<float> xf(x.size());
      std::vector<float> sx(static_cast<size_t>(m));
      fake_quant_act_fp8(x.data(), m, k, xf.data(), Isa::kScalar, sx.data());
      const Expected e = expected(xf, m, p->view);
      for (Isa isa : supported_isas()) {
        for (Range r : kRanges) {
          std::vector<float> y(size_t(m * kN), -7.0f), ya(size_t(m * kN), -7.0f);
          qmatmul_fp8_dynamic(xf.data(), sx.data(), m, p->view, r.n0, r.n1, y.data(), kN, isa);
          if (isa == Isa::kAmx) amx::qmatmul_fp8_dynamic(xf.data(), sx.data(), m, p->view, r.n0, r.n1, ya.data(), kN);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < kN; ++j) {
              const size_t o = size_t(i * kN + j);
              if (j < r.n0 || j >= r.n1) {
                ASSERT_EQ(y[o], -7.0f) << "wrote outside [n0, n1)";
                if (isa == Isa::kAmx) ASSERT_EQ(ya[o], -7.0f) << "amx wrote outside [n0, n1)";
                continue;
              }
              ASSERT_NEAR(y[o], e.y[o], e.limit[o]) << isa_name(isa) << " m=" << m << " k=" << k << " i=" << i << " j=" << j;
              if (isa == Isa::kAmx) ASSERT_NEAR(ya[o], e.y[o], e.limit[o]) << "amx m=" << m << " k=" << k << " i=" << i << " j=" << j;
            }
        }
      }
    }
  }
}

// The AMX tile kernel directly, at the token counts the dispatcher gives the VNNI code too (1, 2)
// and around its tiles' 16 and 32 tokens, columns around its 64-byte steps (a partial last step
// read from a zero-padded copy), with activations already a whole number of steps wide (read in
// place) and not.
TEST(QMatmulA8, AmxKernelAtTileEdges) {
  if (detected_isa() < Isa::kAmx) GTEST_SKIP() << "no AMX";
  Case c{"int8_chan", QuantType::kInt, 8, true, 0};
  for (int64_t k : {int64_t(4), int64_t(60), int64_t(64), int64_t(65), int64_t(128), int64_t(130), int64_t(576)}) {
    const QuantizedWeight q = quantized(c, kN, k, uint32_t(k + 7));
    const auto p = pack_weight(q, ActQuant::kInt8PerToken);
    const int64_t ldq = a8_row_stride(k);
    for (int64_t m : {int64_t(1), int64_t(2), int64_t(15), int64_t(16), int64_t(17), int64_t(31), int64_t(32), int64_t(33), int64_t(64)}) {
      const std::vector<int8_t> xq = random_codes(m, k, ldq, uint32_t(m * 31 + k));
      const std::vector<float> sx = random_floats(m, 5, 0.001f, 0.1f);
      std::vector<float> want(size_t(m * kN));
      ref::qmatmul_a8(xq.data(), sx.data(), m, ldq, p->view, 0, kN, want.data(), kN);
      ASSERT_NO_FATAL_FAILURE(expect_ranges_equal(
          m, want,
          [&](Range r, float* y) {
            amx::qmatmul_a8(xq.data(), sx.data(), m, ldq, p->view, r.n0, r.n1, y, kN);
          },
          "m=" + std::to_string(m) + " k=" + std::to_string(k)));
    }
  }
}

}  // namespace
}  // namespace quanta::kernels
