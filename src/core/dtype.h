// Element types of tensors on disk and in memory, and scalar conversions to/from f32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace quanta {

enum class DType : uint8_t { kF32, kF16, kBF16, kF8E4M3, kF64, kI8, kU8, kI16, kI32, kI64, kU16, kU32, kU64, kBool };

// Bytes per element.
size_t dtype_size(DType t);
// Safetensors spelling: "F32", "BF16", "F8_E4M3", "I32", ...
std::string_view dtype_name(DType t);
// Parses a safetensors dtype string; returns false if unknown.
bool parse_dtype(std::string_view s, DType* out);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, NaN kept quiet.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);  // round to nearest even

// dst (n values of dtype t: F32, F16 or BF16) <- src (n,) f32, rounded to nearest even
// (KV cache writes). Throws quanta::Error for any other dtype.
void f32_to_dtype(const float* src, DType t, void* dst, int64_t n);

}  // namespace quanta
