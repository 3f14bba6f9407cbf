#include "quant/quant_args.h"

#include "core/error.h"
#include "quant/rtn.h"

namespace quanta {

Scheme scheme_by_name(const std::string& name, int64_t group_size) {
  Scheme s;
  s.name = name;
  QuantArgs w;
  if (name == "W8A16") {
    w.num_bits = 8;
  } else if (name == "W4A16") {
    w.num_bits = 4;
    w.group_size = 128;
  } else if (name == "W4A16_ASYM") {
    w.num_bits = 4;
    w.symmetric = false;
    w.group_size = 128;
  } else if (name == "W8A8") {
    w.num_bits = 8;
    QuantArgs a;
    a.num_bits = 8;
    a.dynamic = true;
    s.input_activations = a;
  } else if (name == "FP8_DYNAMIC") {
    w.num_bits = 8;
    w.type = QuantType::kFloat;
    QuantArgs a;
    a.num_bits = 8;
    a.type = QuantType::kFloat;
    a.dynamic = true;
    s.input_activations = a;
  } else if (name == "FP8") {
    w.num_bits = 8;
    w.type = QuantType::kFloat;
  } else {
    fail("unknown quantization scheme '{}' (known: W8A16, W4A16, W4A16_ASYM, W8A8, FP8_DYNAMIC, FP8)",
         name);
  }
  if (group_size >= 0) w.group_size = group_size;  // 0: per channel; -1: the default
  s.weights = w;
  return s;
}

int64_t QuantizedWeight::n_groups() const {
  if (args.group_size <= 0) return 1;
  return (cols + args.group_size - 1) / args.group_size;
}

void QuantizedWeight::dequantize(float* out) const {
  const int64_t ng = n_groups();
  const bool fp = args.type == QuantType::kFloat;
  const bool asym = !fp && !args.symmetric;
  QUANTA_ASSERT(int64_t(codes.size()) == rows * cols);
  QUANTA_ASSERT(int64_t(scales.size()) == rows * ng);
  QUANTA_ASSERT(!asym || int64_t(zeros.size()) == rows * ng);
  QUANTA_ASSERT(g_idx.empty() || int64_t(g_idx.size()) == cols);
  // Asymmetric codes are kept as bytes (0..2^b - 1); symmetric ones signed.
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* cr = codes.data() + r * cols;
    float* o = out + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      int64_t g = 0;
      if (!g_idx.empty()) {
        g = g_idx[size_t(c)];
      } else if (args.group_size > 0) {
        g = c / args.group_size;
      }
      QUANTA_ASSERT(g >= 0 && g < ng);
      const float scale = scales[size_t(r * ng + g)];
      if (fp) {
        o[c] = e4m3_to_f32(uint8_t(cr[c])) * scale;
      } else if (asym) {
        o[c] = float(int32_t(uint8_t(cr[c])) - zeros[size_t(r * ng + g)]) * scale;
      } else {
        o[c] = float(cr[c]) * scale;
      }
    }
  }
}

ActOrder act_order_by_name(const std::string& name) {
  if (name.empty() || name == "none") return ActOrder::kNone;
  if (name == "static" || name == "weight") return ActOrder::kStatic;
  if (name == "group") return ActOrder::kGroup;
  fail("actorder '{}' is not one of static, weight, group, none", name);
}

const char* act_order_name(ActOrder a) {
  return a == ActOrder::kStatic ? "static" : a == ActOrder::kGroup ? "group" : "none";
}

ScaleRule scale_rule_by_name(const std::string& name) {
  if (name.empty() || name == "minmax") return ScaleRule::kMinMax;
  if (name == "ggml") return ScaleRule::kGgml;
  fail("scale rule '{}' is not one of minmax, ggml", name);
}

const char* scale_rule_name(ScaleRule r) { return r == ScaleRule::kGgml ? "ggml" : "minmax"; }

}  // namespace quanta
