#include "core/dtype.h"

#include <cmath>

#include "core/error.h"

namespace quanta {
namespace {

struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kF32, "F32", 4},   {DType::kF16, "F16", 2},  {DType::kBF16, "BF16", 2},
    {DType::kF8E4M3, "F8_E4M3", 1}, {DType::kF64, "F64", 8},  {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},     {DType::kI16, "I16", 2},  {DType::kI32, "I32", 4},
    {DType::kI64, "I64", 8},   {DType::kU16, "U16", 2},  {DType::kU32, "U32", 4},
    {DType::kU64, "U64", 8},   {DType::kBool, "BOOL", 1},
};

const DTypeInfo& info(DType t) {
  for (const auto& d : kDTypes)
    if (d.type == t) return d;
  return kDTypes[0];
}

}  // namespace

size_t dtype_size(DType t) { return info(t).size; }
std::string_view dtype_name(DType t) { return info(t).name; }

bool parse_dtype(std::string_view s, DType* out) {
  for (const auto& d : kDTypes) {
    if (d.name == s) {
      *out = d.type;
      return true;
    }
  }
  return false;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: value = man * 2^-24
      float f = std::ldexp(float(man), -24);
      std::memcpy(&u, &f, 4);
      u |= sign;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00;        // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00;       // overflow to inf (>= 65520)
  if (abs < 0x38800000u) {                            // subnormal or zero in f16
    float a;
    std::memcpy(&a, &abs, 4);
    return sign | uint16_t(std::nearbyint(a * 16777216.0f));  // a / 2^-24, ties to even
  }
  uint32_t r = abs + 0xfffu + ((abs >> 13) & 1u);  // round mantissa to 10 bits, ties to even
  return sign | uint16_t(((r >> 13) - (112u << 10)) & 0x7fffu);
}

void f32_to_dtype(const float* src, DType t, void* dst, int64_t n) {
  if (t == DType::kF32) {
    std::memcpy(dst, src, size_t(n) * sizeof(float));
  } else if (t == DType::kF16) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
  } else if (t == DType::kBF16) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
  } else {
    fail("conversion from f32 to {} not supported (expected F32, F16 or BF16)", dtype_name(t));
  }
}

}  // namespace quanta
