// Compressed weights repacked at load into the layouts the kernels run directly
// (core/tensor.h WeightFormat, kernels/qmatmul.h): what LlamaModel keeps in memory for a
// compressed-tensors folder instead of dequantized f32.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "quant/quant_args.h"

namespace quanta {

// Owns the repacked bytes; `view` points into them (valid while this object lives; moving it
// keeps the pointers, as vectors move their buffers).
struct PackedWeight {
  std::vector<uint8_t> data;
  std::vector<float> scales, zeros;
  std::vector<uint16_t> scales_f16, zeros_f16;  // kInt4x16 / kInt8x16 when exact in f16
  std::vector<int32_t> row_sums, col_perm;
  MatrixView view;
};

// The activation quantization ops::linear runs for these input_activations arguments (dynamic,
// symmetric, per token, int8 or fp8); nullopt for any other kind (the caller then keeps the
// reference path: dequantized weights and the model's own activation hook).
std::optional<ActQuant> act_quant_kind(const std::optional<QuantArgs>& act);

// Repacks q for the kernels, with activation quantization `act`:
//   int8 activations + symmetric int8 per-channel weights -> kInt8Vnni (int8 x int8 kernels);
//   4-bit int weights, sym or asym, per channel or groups of a multiple of 32 -> kInt4x16;
//   8-bit symmetric int weights, per channel or groups of a multiple of 32 -> kInt8x16, other
//   groups of a multiple of 16 -> kInt8;
//   fp8 weights, per channel or groups of a multiple of 16 -> kFp8.
// Act-order (g_idx) weights whose groups each hold exactly group_size columns are permuted so
// that groups are contiguous (view.col_perm says how to gather the input). Returns nullopt for
// anything else (e.g. other bit widths, irregular g_idx); the caller dequantizes those.
std::optional<PackedWeight> pack_weight(const QuantizedWeight& q, ActQuant act);

}  // namespace quanta
