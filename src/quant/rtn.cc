#include "quant/rtn.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/dtype.h"
#include "core/error.h"

namespace quanta {
namespace {

// compressed-tensors' integer range: [-2^(b-1), 2^(b-1) - 1] whether symmetric or not.
inline float int_qmin(int bits) { return -std::ldexp(1.0f, bits - 1); }
inline float int_qmax(int bits) { return std::ldexp(1.0f, bits - 1) - 1.0f; }

// Offset between the stored asymmetric code/zero ([0, 2^b - 1]) and compressed-tensors' signed one.
inline int32_t asym_offset(int bits) { return int32_t(1) << (bits - 1); }

inline float bf16_round(float f) { return bf16_to_f32(f32_to_bf16(f)); }

// torch.round on float: round half to even (default FP environment).
inline float round_even(float f) { return std::nearbyint(f); }

// The zero-scale replacement of compressed-tensors' calculate_qparams: finfo(scale dtype).eps,
// with scales stored as bf16 -> 2^-7.
constexpr float kBf16Eps = 0.0078125f;

// ggml's block rules (ggml-quants.c quantize_row_q4_0_ref / quantize_row_q8_0_ref) for one group.
QParams ggml_qparams(const float* w, int64_t n, const QuantArgs& args) {
  check_scale_rule(args);
  float amax = 0.0f, extreme = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    // Note: strict '<' as ggml: the first of equal magnitudes (e.g. -a before +a) sets the sign.
    if (amax < std::fabs(w[i])) {
      amax = std::fabs(w[i]);
      extreme = w[i];
    }
  }
  const float d = args.num_bits == 4 ? extreme / -8.0f : amax / 127.0f;
  QParams p;
  p.inv_scale = d != 0.0f ? 1.0f / d : 0.0f;
  p.scale = f16_to_f32(f32_to_f16(d));
  return p;
}

}  // namespace

void check_scale_rule(const QuantArgs& args) {
  if (args.scale_rule != ScaleRule::kGgml) return;
  if (args.type != QuantType::kInt || !args.symmetric || (args.num_bits != 4 && args.num_bits != 8))
    fail("scale rule ggml applies to symmetric 4-bit (Q4_0) and 8-bit (Q8_0) integers, not {}-bit {} {}",
         args.num_bits, args.symmetric ? "symmetric" : "asymmetric",
         args.type == QuantType::kFloat ? "float" : "int");
}

QParams compute_qparams(const float* w, int64_t n, const QuantArgs& args) {
  // Note: mirrors compressed_tensors.quantization.utils.calculate_qparams (0.19) with f32 inputs
  // and scale_dtype = bfloat16: min/max include 0; scale and zero point from the f32 range; the
  // scale then rounded to bf16 and a zero scale replaced by bf16 eps; the zero point rounded
  // half-to-even (from the unrounded scale, as compressed-tensors does).
  if (args.scale_rule == ScaleRule::kGgml) return ggml_qparams(w, n, args);
  float mn = 0.0f, mx = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    mn = std::min(mn, w[i]);
    mx = std::max(mx, w[i]);
  }
  QParams p;
  float scale;
  float zp = 0.0f;
  if (args.type == QuantType::kFloat) {
    if (args.num_bits != 8) fail("fp quantization supports 8 bits (E4M3), got {}", args.num_bits);
    if (!args.symmetric) fail("asymmetric fp8 quantization is not supported");
    // bit_range = 448 - (-448); scale = absmax / (896 / 2)
    scale = std::max(std::fabs(mn), std::fabs(mx)) / (896.0f / 2.0f);
  } else {
    if (args.num_bits < 2 || args.num_bits > 8)
      fail("int quantization supports 2..8 bits, got {}", args.num_bits);
    const float qmin = int_qmin(args.num_bits), qmax = int_qmax(args.num_bits);
    const float range = qmax - qmin;
    if (args.symmetric) {
      scale = std::max(std::fabs(mn), std::fabs(mx)) / (range / 2.0f);
    } else {
      scale = (mx - mn) / range;
      zp = qmin - mn / scale;  // NaN when mn == mx == 0
      zp = std::clamp(zp, qmin, qmax);
    }
  }
  scale = bf16_round(scale);
  if (scale == 0.0f) scale = kBf16Eps;
  p.scale = scale;
  if (args.type == QuantType::kInt && !args.symmetric) {
    // torch: round(clamp(NaN)) -> NaN -> int8 gives 0.
    const int32_t z = std::isnan(zp) ? 0 : int32_t(round_even(zp));
    p.zero = z + asym_offset(args.num_bits);
  }
  return p;
}

int32_t quantize_value(float w, const QParams& p, const QuantArgs& args) {
  if (args.type == QuantType::kFloat) {
    const float s = std::clamp(w / p.scale, -448.0f, 448.0f);
    return int32_t(f32_to_e4m3(s));
  }
  const float qmin = int_qmin(args.num_bits), qmax = int_qmax(args.num_bits);
  if (args.scale_rule == ScaleRule::kGgml) {
    const float x = w * p.inv_scale;
    if (args.num_bits == 8) return int32_t(std::clamp(std::round(x), qmin, qmax));  // roundf
    // ggml: MIN(15, (int8_t)(x + 8.5f)) - 8, i.e. round half up. Its truncating cast equals floor
    // for the x >= -8 that its own blocks produce; GPTQ's updated weights can leave the group's
    // range, so the clamp is made explicit at both ends.
    return int32_t(std::clamp(std::floor(x + 8.5f), 0.0f, 15.0f)) - 8;
  }
  if (args.symmetric) {
    const float s = std::clamp(w / p.scale, qmin, qmax);
    return int32_t(round_even(s));
  }
  // compressed-tensors _quantize: x / scale + zp (signed), clamp, round; stored with offset.
  const int32_t off = asym_offset(args.num_bits);
  const float s = std::clamp(w / p.scale + float(p.zero - off), qmin, qmax);
  return int32_t(round_even(s)) + off;
}

float dequantize_value(int32_t code, const QParams& p, const QuantArgs& args) {
  if (args.type == QuantType::kFloat) return e4m3_to_f32(uint8_t(code)) * p.scale;
  if (args.symmetric) return float(code) * p.scale;
  return float(code - p.zero) * p.scale;
}

void quantize_dequantize_rows(float* x, int64_t rows, int64_t cols, const QuantArgs& args) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    const QParams p = compute_qparams(row, cols, args);
    for (int64_t i = 0; i < cols; ++i) row[i] = dequantize_value(quantize_value(row[i], p, args), p, args);
  }
}

QuantizedWeight quantize_rtn(const float* w, int64_t rows, int64_t cols, const QuantArgs& args) {
  if (rows <= 0 || cols <= 0) fail("quantize_rtn: empty matrix ({} x {})", rows, cols);
  if (args.group_size < 0) fail("quantize_rtn: negative group_size {}", args.group_size);
  if (args.group_size > 0 && cols % args.group_size != 0)
    fail("quantize_rtn: group_size {} does not divide the {} input columns", args.group_size,
         cols);
  QuantizedWeight q;
  q.args = args;
  q.args.actorder = ActOrder::kNone;  // RTN has no activation order
  q.rows = rows;
  q.cols = cols;
  const int64_t gs = args.group_size > 0 ? args.group_size : cols;
  const int64_t ng = cols / gs;
  q.codes.resize(size_t(rows * cols));
  q.scales.resize(size_t(rows * ng));
  const bool asym = args.type == QuantType::kInt && !args.symmetric;
  if (asym) q.zeros.resize(size_t(rows * ng));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < ng; ++g) {
      const float* src = w + r * cols + g * gs;
      const QParams p = compute_qparams(src, gs, args);
      q.scales[size_t(r * ng + g)] = p.scale;
      if (asym) q.zeros[size_t(r * ng + g)] = p.zero;
      int8_t* dst = q.codes.data() + r * cols + g * gs;
      for (int64_t c = 0; c < gs; ++c) {
        // Asymmetric codes up to 255 for 8 bits: stored as the byte (QuantizedWeight keeps int8).
        dst[c] = static_cast<int8_t>(static_cast<uint8_t>(quantize_value(src[c], p, args) & 0xff));
      }
    }
  }
  return q;
}

uint8_t f32_to_e4m3(float f) {
  if (std::isnan(f)) return 0x7f;
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  const float a = std::fabs(f);
  uint8_t bits;
  if (a >= 464.0f) {
    bits = 0x7e;  // saturate (448 is the largest finite; 464 is the tie point to "480")
  } else if (a < 0.015625f) {  // below 2^-6: subnormal, step 2^-9
    bits = uint8_t(round_even(a * 512.0f));  // 8 -> 0x08, the smallest normal: still right
  } else {
    int e;
    const float m = std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1)
    int exp = e - 1;                    // a = (2m) * 2^exp, 2m in [1, 2)
    int mant = int(round_even((2.0f * m - 1.0f) * 8.0f));
    if (mant == 8) {
      mant = 0;
      ++exp;
    }
    int v = ((exp + 7) << 3) | mant;
    if (v > 0x7e) v = 0x7e;
    bits = uint8_t(v);
  }
  return uint8_t(sign | bits);
}

float e4m3_to_f32(uint8_t b) {
  const bool neg = b & 0x80;
  const int e = (b >> 3) & 0xf;
  const int m = b & 0x7;
  float v;
  if (e == 0xf && m == 0x7) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (e == 0) {
    v = std::ldexp(float(m), -9);
  } else {
    v = std::ldexp(1.0f + float(m) / 8.0f, e - 7);
  }
  return neg ? -v : v;
}

}  // namespace quanta
