// Round-to-nearest quantization and the per-group parameter rules shared with GPTQ.
// The rules reproduce llm-compressor 0.14 / compressed-tensors 0.19 exactly (../shared/PEERS.md):
//   int sym:  scale = bf16_round(absmax / ((2^bits - 1) / 2)), e.g. absmax / 7.5 for int4,
//             absmax / 127.5 for int8; code = round_half_even(w / scale) clamped to
//             [-2^(bits-1), 2^(bits-1) - 1]
//   int asym: as compressed-tensors computes min/max scale and zero point (zero included in range)
//   fp8:      scale = bf16_round(absmax / 448); code = e4m3(w / scale)
// With QuantArgs::scale_rule == kGgml, symmetric int4 / int8 follow ggml's quantize_row_q4_0_ref /
// quantize_row_q8_0_ref instead (see ScaleRule), scales rounded to f16.
#pragma once

#include <cstdint>

#include "quant/quant_args.h"

namespace quanta {

struct QParams {
  float scale = 1.0f;
  int32_t zero = 0;  // asymmetric int only
  // ScaleRule::kGgml only: 1 / the f32 scale before its f16 rounding (0 for a zero scale); codes
  // are w * inv_scale as in ggml, while dequantization uses the stored (rounded) scale.
  float inv_scale = 0.0f;
};

// Throws quanta::Error if args.scale_rule cannot apply to args (ggml: symmetric int 4 or 8 bits).
void check_scale_rule(const QuantArgs& args);

// Parameters for one group: w[0..n) are the group's values (one row's columns).
QParams compute_qparams(const float* w, int64_t n, const QuantArgs& args);
// Code of one value under p (int: clamped integer as stored in QuantizedWeight; fp8: E4M3 byte).
int32_t quantize_value(float w, const QParams& p, const QuantArgs& args);
// Dequantized value of a code.
float dequantize_value(int32_t code, const QParams& p, const QuantArgs& args);

// x (rows, cols) f32, in place: each row quantized with its own parameters and dequantized (the
// numerics of dynamic per-token activation quantization).
void quantize_dequantize_rows(float* x, int64_t rows, int64_t cols, const QuantArgs& args);

// W (rows, cols) f32 -> RTN-quantized weight.
QuantizedWeight quantize_rtn(const float* w, int64_t rows, int64_t cols, const QuantArgs& args);

// FP8 E4M3 (OCP "e4m3fn": no infinities, max 448) conversions, round to nearest even, saturating.
uint8_t f32_to_e4m3(float f);
float e4m3_to_f32(uint8_t b);

}  // namespace quanta
