// Quantization arguments and schemes, named as compressed-tensors / llm-compressor name them, and
// a quantized weight matrix in unpacked form (one code per element).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quanta {

enum class QuantType { kInt, kFloat };  // kFloat: FP8 E4M3

// One tensor's quantization (compressed-tensors QuantizationArgs).
// GPTQ activation ordering, as compressed-tensors names it: kStatic ("static" / "weight") sweeps
// columns by descending diag(H) but keeps contiguous groups (no g_idx); kGroup ("group") also forms
// the groups in that order, so a group's columns are scattered and weight_g_idx records them.
enum class ActOrder { kNone, kStatic, kGroup };

// "static" | "weight" | "group" | "" / "none" -> ActOrder; throws quanta::Error otherwise.
ActOrder act_order_by_name(const std::string& name);
const char* act_order_name(ActOrder a);  // "static", "group", or "none"

// How a symmetric int group's scale and codes are chosen.
//   kMinMax (compressed-tensors / llm-compressor): scale = absmax / ((2^b - 1) / 2), stored as bf16.
//   kGgml: ggml's own block quantizers, so that a group-32 result is what llama-quantize writes:
//     4 bits (quantize_row_q4_0_ref): scale = (the value of largest magnitude, sign kept) / -8, so
//     that value lands exactly on code -8 and the scale is negative when it is positive; code =
//     clamp(floor(w / scale + 8.5), 0, 15) - 8 (w / scale computed as w * (1 / scale) from the
//     f32 scale); the scale then rounded to f16 and stored as f16.
//     8 bits (quantize_row_q8_0_ref): scale = absmax / 127; code = round half away from zero.
enum class ScaleRule { kMinMax, kGgml };

// "minmax" | "ggml" -> ScaleRule; throws quanta::Error otherwise.
ScaleRule scale_rule_by_name(const std::string& name);
const char* scale_rule_name(ScaleRule r);

struct QuantArgs {
  int num_bits = 8;
  QuantType type = QuantType::kInt;
  bool symmetric = true;
  int64_t group_size = 0;  // 0: per output channel ("channel" strategy); > 0: "group"
  bool dynamic = false;    // activations: quantized per token at run time
  ActOrder actorder = ActOrder::kNone;  // GPTQ activation order (weights)
  ScaleRule scale_rule = ScaleRule::kMinMax;  // symmetric int weights only
};

// A named scheme: W8A16, W4A16, W4A16_ASYM, W8A8, FP8_DYNAMIC, FP8 (weight-only).
struct Scheme {
  std::string name;
  QuantArgs weights;
  std::optional<QuantArgs> input_activations;  // W8A8 / FP8_DYNAMIC: dynamic per token
};

// Throws quanta::Error listing the known names for an unknown one. group_size >= 0 overrides the
// scheme's default (W4A16: 128); 0 means per channel.
Scheme scheme_by_name(const std::string& name, int64_t group_size = -1);

// W (rows, cols) quantized. Integer codes are stored signed: symmetric int4 in [-8, 7], int8 in
// [-128, 127]; asymmetric codes in [0, 2^bits - 1] (zero point in `zeros`). FP8 codes are E4M3
// bytes (`codes` reinterpreted as uint8). Dequantized value of element (r, c), with
// g = group of column c (g_idx[c] if g_idx is non-empty, else c / group_size; 0 per channel):
//   int:  (code - zero[r][g]) * scale[r][g]      (zero = 0 when symmetric)
//   fp8:  e4m3_to_f32(code) * scale[r][g]
struct QuantizedWeight {
  QuantArgs args;
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> codes;    // rows * cols
  std::vector<float> scales;    // rows * n_groups
  std::vector<int32_t> zeros;   // rows * n_groups, asymmetric only
  std::vector<int32_t> g_idx;   // cols, act-order only

  int64_t n_groups() const;
  // Writes the dequantized matrix (rows, cols) f32.
  void dequantize(float* out) const;
};

}  // namespace quanta
