// Per-token activation quantization inside ops::linear (kernels/act_quant.h) against the rules of
// quant/rtn.h that the reference path (LlamaModel's activation hook) uses: bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/act_quant.h"
#include "kernels/isa.h"
#include "quant/rtn.h"

namespace quanta::kernels {
namespace {

// Rows of assorted magnitudes, with exact ties, zeros, a zero row and tiny values (fp8
// subnormals) mixed in.
std::vector<float> activations(int64_t m, int64_t k) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(size_t(m * k));
  for (int64_t i = 0; i < m; ++i) {
    const float mag = std::ldexp(1.0f, int(i % 9) - 4);
    for (int64_t c = 0; c < k; ++c) {
      float v = dist(rng) * mag;
      if (c % 11 == 3) v = 0.0f;
      if (c % 13 == 5) v *= 1e-4f;
      if (c % 17 == 2) v = float(int(v * 8)) / 8.0f;  // values on coarse grids: ties
      x[size_t(i * k + c)] = i == 2 ? 0.0f : v;
    }
  }
  return x;
}

QuantArgs act_args(QuantType t) {
  QuantArgs a;
  a.num_bits = 8;
  a.type = t;
  a.dynamic = true;
  return a;
}

TEST(ActQuant, Int8MatchesRtnRules) {
  const int64_t m = 12, k = 77, ldq = 80;
  const std::vector<float> x = activations(m, k);
  std::vector<int8_t> q(size_t(m * ldq), 99);
  std::vector<float> s(static_cast<size_t>(m)), fq(static_cast<size_t>(m * k));
  quantize_act_int8(x.data(), m, k, q.data(), ldq, s.data());
  fake_quant_act_int8(x.data(), m, k, fq.data());
  const QuantArgs a = act_args(QuantType::kInt);
  for (int64_t i = 0; i < m; ++i) {
    const QParams p = compute_qparams(x.data() + i * k, k, a);
    ASSERT_EQ(s[size_t(i)], p.scale) << "token " << i;
    for (int64_t c = 0; c < k; ++c) {
      const int32_t code = quantize_value(x[size_t(i * k + c)], p, a);
      ASSERT_EQ(q[size_t(i * ldq + c)], code) << "token " << i << " col " << c;
      ASSERT_EQ(fq[size_t(i * k + c)], dequantize_value(code, p, a))
          << "token " << i << " col " << c;
    }
    for (int64_t c = k; c < ldq; ++c) ASSERT_EQ(q[size_t(i * ldq + c)], 0);
  }
}

// Every SIMD level gives the scalar reference's codes and scales bit for bit, over awkward widths
// and SmolLM2's (576, 1536), row strides with padding, exact ties (x / s = n + 0.5), values past
// the clamp and a NaN (ignored by the scale).
TEST(ActQuant, Int8SimdLevelsMatchReference) {
  for (const int64_t k : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 576, 1536}) {
    const int64_t m = 5, ldq = k + 5;
    std::vector<float> x = activations(m, k);
    // Row 3: largest |x| 127.5, so the scale is 1 and x / s = x: ties at n + 0.5 round to even.
    for (int64_t c = 0; c < k; ++c) x[size_t(3 * k + c)] = float(c % 256) - 127.5f;
    x[size_t(3 * k)] = -127.5f;
    // Row 4: a NaN among ordinary values.
    x[size_t(4 * k + k / 2)] = NAN;
    std::vector<int8_t> want(size_t(m * ldq), 99);
    std::vector<float> want_s(static_cast<size_t>(m));
    ref::quantize_act_int8(x.data(), m, k, want.data(), ldq, want_s.data());
    ASSERT_EQ(want_s[3], 1.0f);
    for (const Isa isa : supported_isas()) {
      std::vector<int8_t> got(size_t(m * ldq), 99);
      std::vector<float> got_s(static_cast<size_t>(m));
      quantize_act_int8(x.data(), m, k, got.data(), ldq, got_s.data(), isa);
      for (int64_t i = 0; i < m; ++i) {
        ASSERT_EQ(got_s[size_t(i)], want_s[size_t(i)])
            << isa_name(isa) << " k " << k << " token " << i;
        for (int64_t c = 0; c < ldq; ++c) {
          if (i == 4 && c == k / 2) continue;  // the NaN's own code is unspecified
          ASSERT_EQ(got[size_t(i * ldq + c)], want[size_t(i * ldq + c)])
              << isa_name(isa) << " k " << k << " token " << i << " col " << c;
        }
      }
    }
  }
}

// Block int16 codes (qmatmul_i16's input): every level gives the reference's codes, scales and
// code sums bit for bit, over awkward widths and SmolLM2's, with exact ties (x / s = n + 0.5),
// a NaN (code 0), an all-zero block (scale 0) and an infinite value (codes 0, scale inf).
TEST(ActQuant, Int16SimdLevelsMatchReference) {
  for (const int64_t k : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 576, 1536}) {
    const int64_t m = 6, kp = (k + 31) / 32 * 32 + 32, nb = kp / 32;  // one extra padding block
    std::vector<float> x = activations(m, k);
    // Row 3: each block's largest |x| is 32767 (scale 1), so x / s = x: ties at n + 0.5.
    for (int64_t c = 0; c < k; ++c)
      x[size_t(3 * k + c)] = c % 32 == 0 ? 32767.0f : float(c % 64) - 20.5f;
    x[size_t(4 * k + k / 2)] = NAN;
    for (int64_t c = 0; c < std::min<int64_t>(k, 32); ++c) x[size_t(5 * k + c)] = 0.0f;
    if (k > 40) x[size_t(5 * k + 40)] = INFINITY;
    std::vector<int16_t> want(size_t(m * kp), 99);
    std::vector<float> want_s(size_t(m * nb)), want_z(size_t(m * nb));
    quantize_act_i16(x.data(), m, k, want.data(), kp, want_s.data(), want_z.data(), Isa::kScalar);
    ASSERT_EQ(want_s[3 * size_t(nb)], 1.0f);
    ASSERT_EQ(want[size_t(4 * kp + k / 2)], 0);  // the NaN
    ASSERT_EQ(want_s[5 * size_t(nb)], 0.0f);     // the zero block
    for (const Isa isa : supported_isas()) {
      std::vector<int16_t> got(size_t(m * kp), 99);
      std::vector<float> got_s(size_t(m * nb)), got_z(size_t(m * nb));
      quantize_act_i16(x.data(), m, k, got.data(), kp, got_s.data(), got_z.data(), isa);
      ASSERT_EQ(got, want) << isa_name(isa) << " k " << k;
      for (size_t b = 0; b < got_s.size(); ++b) {
        ASSERT_EQ(std::memcmp(&got_s[b], &want_s[b], 4), 0)
            << isa_name(isa) << " k " << k << " block " << b;
        ASSERT_EQ(std::memcmp(&got_z[b], &want_z[b], 4), 0)
            << isa_name(isa) << " k " << k << " block " << b;
      }
    }
  }
}

TEST(ActQuant, Fp8MatchesRtnRules) {
  const int64_t m = 12, k = 77;
  const std::vector<float> x = activations(m, k);
  std::vector<float> fq(size_t(m * k));
  fake_quant_act_fp8(x.data(), m, k, fq.data());
  const QuantArgs a = act_args(QuantType::kFloat);
  for (int64_t i = 0; i < m; ++i) {
    const QParams p = compute_qparams(x.data() + i * k, k, a);
    for (int64_t c = 0; c < k; ++c) {
      const float want = dequantize_value(quantize_value(x[size_t(i * k + c)], p, a), p, a);
      ASSERT_EQ(fq[size_t(i * k + c)], want) << "token " << i << " col " << c;
    }
  }
}

// FP8_DYNAMIC's fake quantization: every SIMD level gives the scalar reference's values bit for
// bit, over awkward widths and SmolLM2's, with every E4M3 tie (x / s on a midpoint, normal and
// subnormal), values that clamp to +-448 and a NaN (which stays NaN).
TEST(ActQuant, Fp8SimdLevelsMatchReference) {
  for (const int64_t k : {1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 576, 1536}) {
    const int64_t m = 6;
    std::vector<float> x = activations(m, k);
    // Row 3: largest |x| 448, so the scale is 1: x / s = x, on E4M3 midpoints (normal ones:
    // between 1 + j/8 and 1 + (j+1)/8 times 2^e; subnormal: odd multiples of 2^-10).
    for (int64_t c = 0; c < k; ++c) {
      const float mid = c % 2 ? std::ldexp(1.0f + (float(c % 8) + 0.5f) / 8.0f, int(c % 14) - 6)
                              : std::ldexp(float(2 * (c % 8) + 1), -10);
      x[size_t(3 * k + c)] = c % 3 ? mid : -mid;
    }
    x[size_t(3 * k)] = 448.0f;
    // Row 4: a NaN among ordinary values. Row 5: scale bf16-rounded down, so x / s passes 448.
    x[size_t(4 * k + k / 2)] = NAN;
    x[size_t(5 * k)] = 448.0f * 1.00390625f * 1.001f;
    std::vector<float> want(size_t(m * k));
    ref::fake_quant_act_fp8(x.data(), m, k, want.data());
    // Row 3's scale is 1 (largest |x| 448), so its values land on E4M3 midpoints: ties.
    for (int64_t c = 1; c < k; ++c) ASSERT_NE(want[size_t(3 * k + c)], x[size_t(3 * k + c)]) << c;
    for (const Isa isa : supported_isas()) {
      std::vector<float> got(size_t(m * k), 99.0f);
      fake_quant_act_fp8(x.data(), m, k, got.data(), isa);
      for (int64_t i = 0; i < m * k; ++i) {
        if (std::isnan(want[size_t(i)])) {
          ASSERT_TRUE(std::isnan(got[size_t(i)])) << isa_name(isa) << " k " << k << " at " << i;
          continue;
        }
        ASSERT_EQ(std::memcmp(&got[size_t(i)], &want[size_t(i)], 4), 0)
            << isa_name(isa) << " k " << k << " at " << i << ": " << got[size_t(i)] << " vs "
            << want[size_t(i)];
      }
    }
  }
}

TEST(ActQuant, E4m3RoundMatchesCodec) {
  // Every float on a fine grid up to 448, including all midpoints between E4M3 values.
  for (int e = -12; e <= 8; ++e) {
    for (int i = 0; i < 256; ++i) {
      const float f = std::ldexp(1.0f + float(i) / 256.0f, e);
      if (f > 448.0f) continue;
      for (float v : {f, -f}) ASSERT_EQ(e4m3_round(v), e4m3_to_f32(f32_to_e4m3(v))) << v;
    }
  }
}

}  // namespace
}  // namespace quanta::kernels
