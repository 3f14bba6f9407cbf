// f32 -> F16 / BF16 (kernels/convert.h) at every ISA level against core/dtype.h's scalar
// conversions, bit for bit: awkward lengths, every exponent, ties, subnormals, overflow, NaN.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/convert.h"
#include "kernels/isa.h"

namespace quanta::kernels {
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Random bit patterns (every class: NaNs with payloads, infinities, f32 subnormals), then the
// edges: F16's largest finite value and the ties around it and at its subnormal boundary, BF16's
// ties, signed zeros.
std::vector<float> awkward_values() {
  std::mt19937 rng(7);
  std::vector<float> v;
  for (int i = 0; i < 20000; ++i) v.push_back(from_bits(uint32_t(rng())));
  // Values in F16's range, where the rounding matters: exponents -27 .. 16, random mantissas.
  for (int i = 0; i < 20000; ++i) {
    const uint32_t e = 100 + rng() % 44, m = rng() & 0x7fffff, s = (rng() & 1) << 31;
    v.push_back(from_bits(s | e << 23 | m));
  }
  const uint32_t edges[] = {0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, 0x47800000,  // 65504 ..
                            0x38800000, 0x387fffff, 0x33000000, 0x33000001, 0x32ffffff,  // 2^-14, 2^-25
                            0x3f808000, 0x3f818000, 0x3f80ffff, 0x3f817fff,              // BF16 ties
                            0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
                            0xffc00001, 0x7f800001, 0x7fbfffff, 0x00000001, 0x807fffff};
  for (uint32_t u : edges) v.push_back(from_bits(u));
  return v;
}

TEST(Convert, EveryLevelGivesTheScalarBits) {
  const std::vector<float> x = awkward_values();
  for (const DType t : {DType::kF16, DType::kBF16}) {
    std::vector<uint16_t> want(x.size());
    for (size_t i = 0; i < x.size(); ++i)
      want[i] = t == DType::kF16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
    for (Isa isa : supported_isas()) {
      std::vector<uint16_t> got(x.size());
      f32_to_half(x.data(), int64_t(x.size()), t, got.data(), isa);
      for (size_t i = 0; i < x.size(); ++i) {
        uint32_t u;
        std::memcpy(&u, &x[i], 4);
        ASSERT_EQ(got[i], want[i]) << dtype_name(t) << " " << isa_name(isa) << " x bits 0x"
                                   << std::hex << u;
      }
    }
  }
}

// Lengths around the vector width: nothing written past n, every value converted.
TEST(Convert, AwkwardLengthsWriteExactlyN) {
  const std::vector<float> x = awkward_values();
  for (int64_t n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 192}) {
    for (const DType t : {DType::kF16, DType::kBF16})
      for (Isa isa : supported_isas()) {
        std::vector<uint16_t> got(size_t(n) + 4, 0xabcd), want(size_t(n) + 4, 0xabcd);
        for (int64_t i = 0; i < n; ++i)
          want[size_t(i)] = t == DType::kF16 ? f32_to_f16(x[size_t(5 + i)]) : f32_to_bf16(x[size_t(5 + i)]);
        f32_to_half(x.data() + 5, n, t, got.data(), isa);
        ASSERT_EQ(got, want) << dtype_name(t) << " " << isa_name(isa) << " n=" << n;
      }
  }
}

}  // namespace
}  // namespace quanta::kernels
