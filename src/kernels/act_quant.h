// Dynamic per-token activation quantization, as compressed-tensors does it for W8A8 and
// FP8_DYNAMIC (symmetric, one scale per token = row of X). The rules are quant/rtn.h's
// compute_qparams / quantize_value for such arguments, reproduced here because ops run them
// inside every Linear (tests/kernels/test_act_quant.cc checks they agree bit for bit):
//   int8: scale = bf16_round(absmax / 127.5) (2^-7 if 0); code = round_half_even(clamp(x / scale,
//         -128, 127))
//   fp8:  scale = bf16_round(absmax / 448) (2^-7 if 0); value = e4m3_round(clamp(x / scale,
//         -448, 448)) * scale
#pragma once

#include <cstdint>

#include "kernels/isa.h"

namespace quanta::kernels {

// x (m, k) -> codes q (m, ldq) (columns [k, ldq) set to 0) and scales (m,). Every level gives the
// same codes and scales, bit for bit (x / scale is one IEEE division either way; rounding is to
// nearest, ties to even; NaN inputs are ignored by the scale). Single-threaded.
void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq, float* scales,
                       Isa isa);
// The same at active_isa().
void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq, float* scales);
// The int8 scale of a token whose largest |x| is absmax (the rule above).
float act_int8_scale(float absmax);
// x (m, k) -> out (m, k): int8 codes times their scale (the fake-quantized activations).
void fake_quant_act_int8(const float* x, int64_t m, int64_t k, float* out);
// x (m, k) -> out (m, k): E4M3-rounded values times their scale (and, if scales is not null, the
// per-token scales (m,)). out may equal x. Every level gives the same bits (the AVX-512 level
// runs the AVX2 code). Single-threaded.
void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out, Isa isa,
                        float* scales = nullptr);
// The same at active_isa().
void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out);
// The fp8 scale of a token whose largest |x| is absmax (the rule above).
float act_fp8_scale(float absmax);
// f rounded to the nearest E4M3 value (ties to even), for |f| <= 448.
float e4m3_round(float f);

// Activations for the int16 kernels (kernels/qmatmul.h qmatmul_i16): x (m, k) -> codes q (m, kp)
// (kp = i16_row_stride(k); columns [k, kp) set to 0), per token and block b of 32 columns a scale
// xs (m, kp / 32) = absmax / 32767 (0 for an all-zero block) and codes round_half_even(x / xs)
// in [-32767, 32767]; xz (m, kp / 32) = xs * (sum of the block's codes). NaN inputs count as 0.
// The error of a value is at most absmax / 65534 of its block: far below bf16's 2^-9 relative.
// Every level gives the same codes and scales, bit for bit. Single-threaded.
void quantize_act_i16(const float* x, int64_t m, int64_t k, int16_t* q, int64_t kp, float* xs,
                      float* xz, Isa isa);
// The same at active_isa().
void quantize_act_i16(const float* x, int64_t m, int64_t k, int16_t* q, int64_t kp, float* xs,
                      float* xz);

// ---- Per-ISA implementations of quantize_act_int8 / _i16 (called by their dispatchers). ----
// quantize_act_i16_block: one block of 32 codes from n >= 1 values (only the first min(n, 32)
// are read; the rest count as 0) -> q (32,), *scale; returns the sum of the codes. The
// dispatcher runs every level's block function over the same loop.
namespace ref {
void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq, float* scales);
int32_t quantize_act_i16_block(const float* x, int64_t n, int16_t* q, float* scale);
void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out, float* scales = nullptr);
}  // namespace ref
namespace avx2 {
void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq, float* scales);
int32_t quantize_act_i16_block(const float* x, int64_t n, int16_t* q, float* scale);
void fake_quant_act_fp8(const float* x, int64_t m, int64_t k, float* out, float* scales);
}  // namespace avx2
namespace avx512 {
void quantize_act_int8(const float* x, int64_t m, int64_t k, int8_t* q, int64_t ldq, float* scales);
int32_t quantize_act_i16_block(const float* x, int64_t n, int16_t* q, float* scale);
}  // namespace avx512

}  // namespace quanta::kernels
