// f32 rows to 16-bit floats (F16, BF16), rounded to nearest even: the KV cache's writes.
// Every level gives the bits of quanta::f32_to_f16 / f32_to_bf16 (core/dtype.h) for every input,
// NaN included. Scalar reference in kernels/ref/, SIMD versions one ISA per translation unit.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/isa.h"

namespace quanta::kernels {

// dst[i] = f32_to_f16(src[i]) (t = F16) or f32_to_bf16(src[i]) (t = BF16), i < n.
void f32_to_half(const float* src, int64_t n, DType t, uint16_t* dst, Isa isa);

// ---- Per-ISA implementations (called by the dispatcher in kernels/convert.cc). AVX-512 CPUs
// run the AVX2 code: a KV row is 64-128 values. ----
namespace ref {
void f32_to_half(const float* src, int64_t n, bool bf16, uint16_t* dst);
}  // namespace ref
namespace avx2 {
void f32_to_half(const float* src, int64_t n, bool bf16, uint16_t* dst);
}  // namespace avx2

}  // namespace quanta::kernels
